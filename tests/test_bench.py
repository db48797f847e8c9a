"""The throughput benchmark in --tiny mode (CPU, seconds), so it cannot rot between GPU runs."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.train_throughput import XGEN_SHAPE, flops_per_token, matmul_params  # noqa: E402


def test_flops_per_token_matches_the_design_figure():
    assert abs(matmul_params(XGEN_SHAPE) / 1e9 - 6.687) < 0.01
    assert abs(flops_per_token(XGEN_SHAPE, 1024) / 1e9 - 27.55) < 0.05


TABLE_HEADER = "| run | batch | tokens/s | model TFLOP/s | share of peak | peak GiB | x seed | first loss"


@pytest.mark.slow
def test_tiny_bench_prints_the_table(tmp_path):
    """One timed step per profile, from the first (--warmup 0): the table's code paths, not a speed."""
    done = subprocess.run([sys.executable, "bench/train_throughput.py", "--tiny", "--steps", "1", "--warmup", "0",
                           "--workdir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith(TABLE_HEADER)
    assert [line.split(" | ")[0] for line in table[1:]] == ["| seed", "| colab", "| gpu"]
    assert "| 1.0 |" in table[1]


@pytest.mark.slow
def test_gpu_check_dry_run_walks_the_same_steps(tmp_path):
    """make gpu-check's --tiny mode: model build, peak, lever runs (one with the bench's own switches),
    the seed run and the loss check; one step each, timed from the first."""
    lever = "gpu, batch 8, lora_dropout 0, no fp32 input cast"
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--tiny", "--no-notebooks", "--steps", "1",
                           "--warmup", "0", "--workdir", str(tmp_path), "--only", f"gpu, varlen, batch 4|seed|{lever}"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith(TABLE_HEADER)
    assert sorted(line.split(" | ")[0] for line in table[1:]) == [
        f"| {lever}", "| gpu, varlen, batch 4", "| seed (2024 recipe: int8 + k-bit prep)"]
    assert "failed" not in "\n".join(table)
    assert "loss check: ok" in done.stdout


def test_lora_input_cast_off_changes_nothing_under_bf16_autocast():
    """The bench's ``_lora_input_cast=False`` lever: peft's fp32 adapters cast a bf16 input to fp32,
    and autocast casts it back to bf16 for the matmul, so skipping the cast gives the same numbers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from peft.tuners.tuners_utils import BaseTunerLayer

    torch.manual_seed(0)
    base = torch.nn.Sequential(torch.nn.Linear(64, 64)).to(torch.bfloat16)
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["0"], lora_dropout=0.0, init_lora_weights=False))
    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    assert layers and all(p.dtype == torch.float32 for n, p in model.named_parameters() if "lora_" in n)
    x = torch.randn(3, 64, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cast = model(x)
        for layer in layers:
            layer.cast_input_dtype_enabled = False
        uncast = model(x)
    assert cast.dtype == uncast.dtype == torch.bfloat16
    assert torch.equal(cast, uncast)
