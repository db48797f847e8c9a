"""Build the tiny offline base model used by the ``smoke`` profile.

``python -m course_utils.tiny_model [OUT_DIR]`` trains a byte-level BPE tokenizer and a ~0.56M
parameter LLaMA-architecture model from scratch on :func:`course_utils.sample_data.pretraining_texts`
(plain text only: the base model knows facts and language, not the instruction template),
then saves both with ``save_pretrained``. The result ships in ``course_utils/assets/tiny-llama``
so CI never has to rebuild it; notebook 04 loads it through the same ``from_pretrained`` call
that loads XGen-7B from the Hub.

Like XGen's tokenizer, the tiny one has an EOS token, no pad token and adds no special tokens by
itself, and the model's embedding has more rows than the tokenizer has ids, so the same lessons
hold for both.

Every linear width (hidden size, MLP width, heads x head size, embedding rows) is a multiple of
:data:`WIDTH_MULTIPLE` = 128, as in every real LLM. Quantised kernels rely on it: bitsandbytes'
packed 4-bit CPU kernel (used on CPUs with AVX512-BF16) needs each layer's input width to be a
multiple of its block size, 64. ``tests/test_model_shapes.py`` checks every test model.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

TINY_MODEL_DIR = Path(__file__).parent / "assets" / "tiny-llama"
EOS = "</s>"
WIDTH_MULTIPLE = 128
SHAPE = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=4)
VOCAB = 1000  # tokenizer ids; the embedding is rounded up to a multiple of WIDTH_MULTIPLE


def _train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, model_max_length=2048)


def build(out_dir: Path = TINY_MODEL_DIR, steps: int = 800, seed: int = 0) -> Path:
    """Train the tokenizer and the model, then save both into ``out_dir`` (atomically)."""
    import torch

    # One thread: the result does not depend on the number of cores, and no threads spin against
    # each other on a busy machine (2 threads on 2 shared cores were ~6x slower than 1).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _build(Path(out_dir), steps, seed)
    finally:
        torch.set_num_threads(threads)


def _build(out_dir: Path, steps: int, seed: int) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from .files import atomic_dir
    from .sample_data import pretraining_texts

    random.seed(seed)
    torch.manual_seed(seed)
    docs = pretraining_texts()
    tokenizer = _train_tokenizer(docs, vocab_size=VOCAB)

    config = LlamaConfig(
        vocab_size=-(-len(tokenizer) // WIDTH_MULTIPLE) * WIDTH_MULTIPLE, **SHAPE,
        max_position_embeddings=2048, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None, pad_token_id=None,
    )
    model = LlamaForCausalLM(config)

    eos_id = tokenizer.eos_token_id
    encoded = [ids + [eos_id] for ids in tokenizer(docs, add_special_tokens=False)["input_ids"]]
    block, batch = 128, 16
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.05)
    rng = random.Random(seed)
    model.train()
    start = time.time()
    for step in range(steps):
        # a fresh random concatenation of documents each step, cut into blocks
        order = rng.sample(encoded, len(encoded))
        stream = [t for doc in order[: batch * 4] for t in doc]
        blocks = [stream[i: i + block] for i in range(0, len(stream) - block, block)][:batch]
        x = torch.tensor(blocks)
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.3f}  {time.time() - start:.0f}s", flush=True)

    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = eos_id
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out_dir


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TINY_MODEL_DIR
    print(f"saved to {build(target)}")
