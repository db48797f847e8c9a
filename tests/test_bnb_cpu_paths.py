"""The 4-bit (colab) recipe through BOTH of bitsandbytes' CPU code paths, on any CPU.

bitsandbytes 0.50.2 picks a 4-bit CPU path from the CPU it runs on:

- ``bitsandbytes.nn.modules.has_avx512bf16()`` is read when a ``Linear4bit`` is built (when the
  model loads) into ``Linear4bit.support_avx512bf16_for_cpu``. If true, the first forward pass in
  eval mode without gradients (``trainer.evaluate``, ``generate``) *repacks* the layer's 4-bit
  weight (``functional._convert_weight_packed_for_cpu``) and from then on multiplies with the
  ``gemv_4bit`` CPU kernel. That kernel is registered at import time of
  ``bitsandbytes/backends/cpu/ops.py`` only when the CPU has AVX512-BF16, and it is made of
  AVX512-BF16 instructions (``vdpbf16ps``): it cannot run on a CPU without them.
- Otherwise the weight stays as it is and is dequantised for each matrix multiply: the plain path.
- ``backends/cpu/ops._has_avx512`` (torch's CPU capability, read at import time) only chooses
  which kernels get registered; at call time it is read for 4-bit blocks of 2048 or more, which
  the course does not use.

So a machine with AVX512-BF16 takes the packed path and every other machine the plain one: a test
that runs "whatever this CPU does" checks only one of them. Here both are forced in turn by
patching the check where it is read. The packed kernel itself runs only where the CPU has the
instructions; everywhere else the repacking (pure torch, the step that used to fail on a 352-wide
layer) still runs on every 4-bit layer, so a shape it cannot take fails on every machine.
"""

from __future__ import annotations

import copy

import pytest
import torch

bnb = pytest.importorskip("bitsandbytes")
import bitsandbytes.backends.cpu.ops as bnb_cpu_ops  # noqa: E402
import bitsandbytes.nn.modules as bnb_modules  # noqa: E402
from bitsandbytes.functional import (  # noqa: E402
    _convert_weight_packed_for_cpu,
    _convert_weight_packed_for_cpu_inverse,
    has_avx512bf16,
)

from course_utils.data import train_eval_split  # noqa: E402
from course_utils.inference import ask  # noqa: E402
from course_utils.models import load_model, load_tokenizer  # noqa: E402
from course_utils.profile import Hardware, get_profile  # noqa: E402
from course_utils.recipe import loss_history, make_trainer, train  # noqa: E402

CPU = Hardware(cuda=False)
A_GPU = Hardware(True, "NVIDIA H100", 80.0, (9, 0))
CPU_HAS_AVX512_BF16 = bool(has_avx512bf16())  # the native library's own answer for this CPU
PACK_BLOCK_N = 32  # _convert_weight_packed_for_cpu's default block of output rows
NO_PACKED_KERNEL = (
    "this CPU has no AVX512-BF16: bitsandbytes registers no packed 4-bit CPU kernel here and its "
    "kernel is made of AVX512-BF16 instructions, so the packed path cannot run on this machine. "
    "test_every_4bit_layer_can_be_packed still repacks every layer and checks the shapes it needs.")


def colab_profile(tmp_path, steps: int = 3):
    return get_profile("colab", hardware=A_GPU, env={"COURSE_OUTPUT_DIR": str(tmp_path)}).scaled_down(steps)


def four_bit_layers(model) -> list[tuple[str, torch.nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)]


def force_path(monkeypatch, packed: bool) -> None:
    """Make models loaded from now on take the packed (AVX512-BF16) or the plain 4-bit CPU path."""
    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: packed)  # read in Linear4bit.__init__
    if not packed:
        monkeypatch.setattr(bnb_cpu_ops, "_has_avx512", False)  # read at call time (dequantize_4bit)


def test_every_4bit_layer_can_be_packed(tmp_path):
    """Runs on any CPU: the conditions of the packed path, and the repacking itself, per layer."""
    model = load_model(colab_profile(tmp_path), CPU)
    layers = four_bit_layers(model)
    assert layers, "the colab profile should load 4-bit layers"
    for name, layer in layers:
        state = layer.weight.quant_state
        n, k = state.shape
        assert n % PACK_BLOCK_N == 0 and k % state.blocksize == 0 and k % 2 == 0, (
            f"{name}: a 4-bit weight of shape {tuple(state.shape)} cannot be repacked for bitsandbytes' "
            f"AVX512-BF16 CPU kernel (needs out % {PACK_BLOCK_N} == 0 and in % {state.blocksize} == 0): "
            "give the model real-looking widths (multiples of 128)")
        weight = layer.weight.data.clone()
        packed, packed_state = _convert_weight_packed_for_cpu(weight.clone(), copy.deepcopy(state))
        assert packed.shape == (n, k // 2) and packed_state.absmax.shape == (k // state.blocksize, n)
        restored, _ = _convert_weight_packed_for_cpu_inverse(packed, packed_state)
        assert torch.equal(restored.view(torch.uint8).reshape(-1), weight.view(torch.uint8).reshape(-1)), name


def _train_eval_generate(profile):
    model = load_model(profile, CPU)
    tokenizer = load_tokenizer(profile.model)
    train_data, eval_data = train_eval_split(profile)
    trainer = make_trainer(profile, model, tokenizer, train_data, eval_data, hw=CPU)
    train(trainer)  # 3 steps; the evaluation at step 3 runs in eval mode without gradients
    losses = [r["loss"] for r in loss_history(trainer) if "loss" in r]
    assert trainer.state.global_step == 3 and len(losses) == 3
    assert all(loss == loss and loss < 20 for loss in losses)  # finite
    eval_loss = trainer.evaluate()["eval_loss"]
    assert eval_loss == eval_loss and eval_loss < 20
    answer = ask(trainer.model, tokenizer, ["What is the capital of Peru?"], max_new_tokens=8)[0]
    assert answer.new_tokens > 0
    return trainer.model


@pytest.mark.slow
def test_4bit_recipe_on_the_plain_path(tmp_path, monkeypatch):
    force_path(monkeypatch, packed=False)
    model = _train_eval_generate(colab_profile(tmp_path))
    layers = four_bit_layers(model)
    assert layers and not any(layer.support_avx512bf16_for_cpu for _, layer in layers)
    assert not any(getattr(layer.weight.quant_state, "packing_format_for_cpu", False) for _, layer in layers)


def test_4bit_recipe_on_the_packed_path(tmp_path, monkeypatch):
    if not CPU_HAS_AVX512_BF16:
        pytest.skip(NO_PACKED_KERNEL)
    force_path(monkeypatch, packed=True)
    profile = colab_profile(tmp_path)

    # one layer first: the packed kernel agrees with the plain dequantise-and-multiply
    layer = four_bit_layers(load_model(profile, CPU))[-1][1].eval()
    x = torch.randn(3, layer.in_features)
    with torch.no_grad():
        layer.support_avx512bf16_for_cpu = False
        plain = layer(x)
        layer.support_avx512bf16_for_cpu = True
        packed = layer(x)
    assert layer.weight.quant_state.packing_format_for_cpu
    assert torch.allclose(packed, plain, rtol=5e-2, atol=5e-2 * plain.abs().max().item())

    model = _train_eval_generate(profile)
    layers = four_bit_layers(model)
    assert layers and all(layer.support_avx512bf16_for_cpu for _, layer in layers)
    assert all(getattr(layer.weight.quant_state, "packing_format_for_cpu", False) for _, layer in layers), (
        "evaluation and generation should have repacked every 4-bit layer for the AVX512-BF16 kernel")


def test_8bit_recipe_without_avx512_kernels(tmp_path):
    """The 8-bit (seed) profile on the path a CPU without AVX512 takes.

    ``backends/cpu/ops._has_avx512`` is read once, at import, to register the ``torch._int_mm``
    int8 kernel, so it cannot be patched afterwards: a fresh interpreter with
    ``ATEN_CPU_CAPABILITY=avx2`` makes torch (and so bitsandbytes) see a CPU without AVX512.
    Where the CPU has no AVX512, the suite's own 8-bit test already takes that path.
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        pytest.skip("this CPU has no AVX512: test_gpu_profiles_on_cpu's 8-bit test already runs the plain path")
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"),
         "tests/test_gpu_profiles_on_cpu.py", "-k", "seed"],
        cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
