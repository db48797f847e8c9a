"""Every model the suite builds has the widths real LLMs have: multiples of 128.

Quantised kernels rely on that. bitsandbytes' packed 4-bit CPU kernel (taken on CPUs with
AVX512-BF16) reshapes each layer's scales into (out, in / 64) blocks, so a layer whose input
width is not a multiple of 64 works on one CPU and fails on another (a tiny model with an MLP
width of 352 did exactly that). A test model shaped like a real one cannot hit such a path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WIDTH_MULTIPLE = 128


def odd_widths(model) -> list[str]:
    """``name: shape`` of every 2-D weight (linear, Conv1D, embedding) with a side that is not a
    multiple of WIDTH_MULTIPLE."""
    return [f"{name}: {tuple(p.shape)}" for name, p in model.named_parameters()
            if p.dim() == 2 and any(side % WIDTH_MULTIPLE for side in p.shape)]


def config_widths(config) -> dict[str, int]:
    """The widths a config declares (attention: heads x head size), by name."""
    text = config.get_text_config()
    hidden = getattr(text, "hidden_size", None) or text.n_embd
    heads = getattr(text, "num_attention_heads", None) or text.n_head
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    widths = {"hidden size": hidden, "heads x head size": heads * head_dim, "embedding rows": text.vocab_size,
              "MLP width": getattr(text, "intermediate_size", None) or getattr(text, "n_inner", None) or 4 * hidden}
    kv = getattr(text, "num_key_value_heads", None)
    if kv:
        widths["kv heads x head size"] = kv * head_dim
    return widths


def assert_widths(what: str, config, model=None) -> None:
    bad = {k: v for k, v in config_widths(config).items() if v % WIDTH_MULTIPLE}
    assert not bad, (
        f"{what}: widths {bad} are not multiples of {WIDTH_MULTIPLE}. Real LLMs use such widths and "
        "quantised kernels rely on them (bitsandbytes' packed 4-bit CPU path needs input widths that "
        "are multiples of 64): give the test model real-looking widths.")
    if model is not None:
        odd = odd_widths(model)
        assert not odd, f"{what}: weights with a side that is not a multiple of {WIDTH_MULTIPLE}: {odd}"


def _meta_model(config):
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def test_the_checker_catches_the_old_tiny_shape():
    from transformers import LlamaConfig

    old = LlamaConfig(vocab_size=1024, hidden_size=128, intermediate_size=352, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=4)
    with pytest.raises(AssertionError, match="MLP width.*352"):
        assert_widths("old tiny model", old)
    assert any("down_proj" in w for w in odd_widths(_meta_model(old)))


def test_shipped_tiny_model():
    from transformers import AutoConfig, AutoTokenizer

    from course_utils.profile import TINY_MODEL_DIR
    from course_utils.tiny_model import SHAPE

    config = AutoConfig.from_pretrained(TINY_MODEL_DIR)
    assert_widths(f"the shipped tiny model ({TINY_MODEL_DIR})", config, _meta_model(config))
    assert {k: getattr(config, k) for k in SHAPE} == SHAPE, (
        "the shipped tiny model is not what course_utils/tiny_model.py builds: "
        "rebuild it with `python -m course_utils.tiny_model`")
    assert config.vocab_size >= len(AutoTokenizer.from_pretrained(TINY_MODEL_DIR))


@pytest.mark.parametrize("arch", ["gpt2", "gpt_neox"])
def test_other_architecture_stand_ins(arch, request):
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = request.getfixturevalue({"gpt2": "gpt2_dir", "gpt_neox": "neox_dir"}[arch])
    assert_widths(f"tests/conftest.py's {arch} stand-in", AutoConfig.from_pretrained(folder),
                  AutoModelForCausalLM.from_pretrained(folder))


def test_bench_tiny_shape():
    from transformers import LlamaConfig

    sys.path.insert(0, str(REPO))
    from bench.train_throughput import TINY_SHAPE

    config = LlamaConfig(**TINY_SHAPE)
    assert_widths("bench/train_throughput.py's TINY_SHAPE", config, _meta_model(config))
