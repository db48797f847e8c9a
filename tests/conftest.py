"""Shared test stand-ins: hardware (CPU, T4, A10, H100), tiny random models of other architectures
built locally (no download), the smoke environment, and running a notebook in a real kernel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from course_utils.profile import Hardware

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
sys.path.insert(0, str(Path(__file__).parent))

# What detect_hardware() would report on each machine the course targets (import them from conftest).
CPU = Hardware(cuda=False)
T4 = Hardware(True, "Tesla T4", 15.0, (7, 5))  # free Colab: no bf16
A10 = Hardware(True, "NVIDIA A10G", 22.0, (8, 6))  # bf16, but under 40 GiB
H100 = Hardware(True, "NVIDIA H100", 80.0, (9, 0))
MPS = Hardware(False, "Apple M3 (mps stand-in)", mps=True)  # Apple silicon: no CUDA, Metal


def make_checkpoint(folder: Path, step: int, max_steps: int = 10) -> Path:
    """A complete ``checkpoint-<step>`` as the Trainer writes it (adapter, optimizer, scheduler,
    trainer state), tiny: for the tests of resuming and of the script's messages."""
    import json

    import torch
    from safetensors.torch import save_file

    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    save_file({"w": torch.zeros(2)}, str(path / "adapter_model.safetensors"))
    torch.save({"state": {}}, path / "optimizer.pt")
    torch.save({"last_epoch": step}, path / "scheduler.pt")
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": max_steps}))
    return path


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


def run_cells_then(path: Path, env: dict[str, str], check: str, upto: str | None = None,
                   skip: str | tuple[str, ...] | None = None, before: tuple[Path, ...] = ()) -> dict:
    """Execute a notebook in a fresh kernel, up to and including the first code cell containing
    ``upto`` (all cells when None), leaving out the code cells containing ``skip`` (or any of a tuple
    of strings; none when None),
    then the code ``check``, which must print one line ``RESULT <json>``; return that JSON. Lets a
    test inspect the notebook's own objects. The notebooks in ``before`` run first, whole, in the
    same kernel (one kernel start instead of several)."""
    import json

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    if upto is not None:
        last = next(i for i, c in enumerate(cells) if c.cell_type == "code" and upto in c.source)
        cells = cells[:last + 1]
    if skip is not None:
        marks = (skip,) if isinstance(skip, str) else skip
        for mark in marks:
            assert any(c.cell_type == "code" and mark in c.source for c in cells), f"no code cell of {path.name} contains {mark!r}"
        left_out = [c for c in cells if c.cell_type == "code" and any(mark in c.source for mark in marks)]
        cells = [c for c in cells if c not in left_out]
    earlier = [c for other in before for c in nbformat.read(other, as_version=4).cells]
    nb.cells = earlier + cells + [nbformat.v4.new_code_cell(check)]
    old = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    line = next(l for l in text.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


# Code run after notebook 06's trainer cell: build the recipe's trainer from the same objects and list
# every SFTConfig argument and LoRA field where the two differ.
COMPARE_TRAINER_WITH_RECIPE = """
import json as _json
from course_utils.models import load_model as _load_model
from course_utils.recipe import make_trainer as _make_trainer

_recipe = _make_trainer(profile, _load_model(profile), tokenizer, train_data, eval_data)
def _diff(a, b):
    return {k: [repr(a.get(k)), repr(b.get(k))] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
_mine, _theirs = trainer.args.to_dict(), _recipe.args.to_dict()
print("RESULT " + _json.dumps({
    "type": type(trainer.args).__name__, "fields": len(_mine), "args": _diff(_mine, _theirs),
    "lora": _diff(trainer.model.peft_config["default"].to_dict(), _recipe.model.peft_config["default"].to_dict()),
    "trainable": [trainer.model.get_nb_trainable_parameters()[0], _recipe.model.get_nb_trainable_parameters()[0]],
}))
"""


def kernel_execute(client, code, timeout=120):
    """Run one cell in a ``jupyter_client`` kernel; return its reply status and the iopub messages it produced."""
    msg_id = client.execute(code)
    reply = client.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=timeout)
    messages = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return reply["content"]["status"], messages


# The shared kernel's first cell, before anything in it imported datasets or transformers (as a
# notebook's first cell): which progress bars course_utils.quiet_library_bars() leaves on.
# tests/test_progress.py reads what it printed from KERNEL_START (no interpreter of its own to start).
QUIET_BARS = """
import course_utils
course_utils.quiet_library_bars()
import datasets
from huggingface_hub.utils import are_progress_bars_disabled
from transformers.utils import logging
print(datasets.is_progress_bar_enabled(), logging.is_progress_bar_enabled(), not are_progress_bars_disabled())
"""
KERNEL_START: dict[str, tuple[str, str]] = {}


@pytest.fixture(scope="session")
def course_kernel(tmp_path_factory):
    """One smoke kernel, as a learner's (cwd notebooks/, progress bars and warnings on), shared by
    tests/test_kernel_errors.py, tests/test_ui_outputs.py and tests/test_progress.py: one kernel
    start for the whole run. Its first cell is QUIET_BARS."""
    from jupyter_client import KernelManager

    out = tmp_path_factory.mktemp("kernel")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests" / "netguard")]),
           "COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(out / "out"), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COURSE_BLOCK_NETWORK": "1",
           "MPLBACKEND": "Agg"}
    for key in ("COURSE_FULL_TRACEBACKS", "COURSE_DATA", "COURSE_MODEL", "COURSE_MAX_STEPS", "TQDM_DISABLE",
                "PYTHONWARNINGS", "HF_DATASETS_DISABLE_PROGRESS_BARS",
                "HF_HUB_DISABLE_PROGRESS_BARS"):  # a learner's kernel shows warnings and bars
        env.pop(key, None)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(NOTEBOOKS))
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    status, messages = kernel_execute(client, QUIET_BARS, timeout=300)
    KERNEL_START["bars"] = (status, "".join(m["content"].get("text", "") + "".join(m["content"].get("traceback", []))
                                            for m in messages if m["msg_type"] in ("stream", "error")))
    yield client, out
    client.stop_channels()
    km.shutdown_kernel(now=True)
