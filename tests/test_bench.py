"""The throughput benchmark in --tiny mode (CPU, seconds), so it cannot rot between GPU runs."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.train_throughput import XGEN_SHAPE, flops_per_token, matmul_params  # noqa: E402


def test_flops_per_token_matches_the_design_figure():
    assert abs(matmul_params(XGEN_SHAPE) / 1e9 - 6.687) < 0.01
    assert abs(flops_per_token(XGEN_SHAPE, 1024) / 1e9 - 27.55) < 0.05


TABLE_HEADER = "| run | batch | tokens/s | model TFLOP/s | share of peak | peak GiB | x seed | first loss"


def test_tiny_bench_prints_the_table(tmp_path):
    done = subprocess.run([sys.executable, "bench/train_throughput.py", "--tiny", "--workdir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith(TABLE_HEADER)
    assert [line.split(" | ")[0] for line in table[1:]] == ["| seed", "| colab", "| gpu"]
    assert "| 1.0 |" in table[1]


def test_gpu_check_dry_run_walks_the_same_steps(tmp_path):
    """make gpu-check's --tiny mode: model build, peak, a lever run, the seed run and the loss check."""
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--tiny", "--no-notebooks", "--workdir",
                           str(tmp_path), "--only", "gpu, varlen, batch 4|seed"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith(TABLE_HEADER)
    assert sorted(line.split(" | ")[0] for line in table[1:]) == ["| gpu, varlen, batch 4", "| seed (2024 recipe: int8 + k-bit prep)"]
    assert "loss check: ok" in done.stdout
