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


def test_tiny_bench_prints_the_table(tmp_path):
    done = subprocess.run([sys.executable, "bench/train_throughput.py", "--tiny", "--workdir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| profile | batch | tokens/s | model TFLOP/s | share of peak | peak GiB | x seed")
    assert [line.split(" | ")[0] for line in table[1:]] == ["| seed", "| colab", "| gpu"]
    assert "| 1.0 |" in table[1]
