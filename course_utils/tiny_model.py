"""Build the tiny offline base model used by the ``smoke`` profile.

``python -m course_utils.tiny_model [OUT_DIR]`` trains a byte-level BPE tokenizer and a ~0.7M
parameter LLaMA-architecture model from scratch on :func:`course_utils.sample_data.pretraining_texts`,
then saves both with ``save_pretrained``. The result ships in ``course_utils/assets/tiny-llama``
so CI never has to rebuild it; notebook 04 loads it through the same ``from_pretrained`` call
that loads XGen-7B from the Hub.

Like XGen's tokenizer, the tiny one has an EOS token, no pad token and adds no special tokens by
itself, and the model's embedding has more rows than the tokenizer has ids (rounded up to a
multiple of 64), so the same lessons hold for both.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

TINY_MODEL_DIR = Path(__file__).parent / "assets" / "tiny-llama"
EOS = "</s>"


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


def build(out_dir: Path = TINY_MODEL_DIR, steps: int = 1500, seed: int = 0) -> Path:
    """Train the tokenizer and the model, then save both into ``out_dir`` (atomically)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from .data import format_example
    from .sample_data import pretraining_texts

    random.seed(seed)
    torch.manual_seed(seed)
    sentences, rows = pretraining_texts()
    docs = sentences + [format_example(r) for r in rows]
    tokenizer = _train_tokenizer(docs, vocab_size=1000)

    config = LlamaConfig(
        vocab_size=(len(tokenizer) + 63) // 64 * 64, hidden_size=128, intermediate_size=352,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
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
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=out_dir.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else TINY_MODEL_DIR
    print(f"saved to {build(target)}")
