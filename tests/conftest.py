"""Shared fixtures: tiny random models of other architectures, built locally (no download)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(Path(__file__).parent))


def build_tiny_model(arch: str, out: Path) -> Path:
    """A random ~0.5M-parameter model of another architecture, with the course's tiny tokenizer.

    Widths are multiples of 128 like a real model's (tests/test_model_shapes.py checks it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPTNeoXConfig

    from course_utils.profile import TINY_MODEL_DIR

    tokenizer = AutoTokenizer.from_pretrained(TINY_MODEL_DIR)
    vocab = 1024
    if arch == "gpt2":
        config = GPT2Config(vocab_size=vocab, n_positions=512, n_embd=128, n_layer=2, n_head=4,
                            eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    elif arch == "gpt_neox":
        config = GPTNeoXConfig(vocab_size=vocab, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=256, max_position_embeddings=512,
                               eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    else:
        raise ValueError(arch)
    import torch

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory) -> Path:
    return build_tiny_model("gpt2", tmp_path_factory.mktemp("gpt2"))


@pytest.fixture(scope="session")
def neox_dir(tmp_path_factory) -> Path:
    return build_tiny_model("gpt_neox", tmp_path_factory.mktemp("neox"))


@pytest.fixture
def smoke_env(tmp_path, monkeypatch):
    """A clean smoke profile writing into a temporary output folder."""
    for key in ("COURSE_MODEL", "COURSE_DATA"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "outputs"))
    return tmp_path


def run_notebook(path: Path, env: dict[str, str], timeout: int = 600):
    """Execute a notebook in a fresh kernel with extra environment variables; return it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb
