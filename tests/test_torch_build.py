"""`make setup` picks the torch build by itself (course_utils/torch_build.py): on Linux without
nvidia-smi the CPU build, with one the CUDA build from PyPI, and TORCH_INDEX always wins.
A stand-in nvidia-smi (a script on PATH) plays the NVIDIA driver; nothing is installed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import torch_build

REPO = Path(__file__).resolve().parent.parent
CPU = "https://download.pytorch.org/whl/cpu"


def _bin(tmp_path: Path, with_nvidia_smi: bool) -> str:
    folder = tmp_path / ("gpu-bin" if with_nvidia_smi else "cpu-bin")
    folder.mkdir()
    if with_nvidia_smi:
        tool = folder / "nvidia-smi"
        tool.write_text("#!/bin/sh\necho 'NVIDIA-SMI stand-in'\n")
        tool.chmod(0o755)
    return str(folder)


def test_choice_by_platform_and_driver(tmp_path):
    no_gpu = {"PATH": _bin(tmp_path, False)}
    gpu = {"PATH": _bin(tmp_path, True)}
    assert torch_build.choose(no_gpu, "Linux", reach=lambda url: True)[0] == CPU
    index, why = torch_build.choose(no_gpu, "Linux", reach=lambda url: False)
    assert index == "" and "does not answer" in why  # no minutes of pip retries on an offline mirror
    assert torch_build.choose(gpu, "Linux")[0] == ""  # PyPI's CUDA build
    assert torch_build.choose({**gpu, "TORCH_INDEX": " https://example.org/cu130 "}, "Linux")[0] \
        == "https://example.org/cu130"
    assert torch_build.choose({**no_gpu, "TORCH_INDEX": "https://example.org/cu130"}, "Linux")[0] \
        == "https://example.org/cu130"
    index, why = torch_build.choose(no_gpu, "Darwin")
    assert index == "" and "mps" in why  # PyPI's macOS wheel is the one with Apple silicon's mps


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux rule")
@pytest.mark.parametrize("with_nvidia_smi", [False, True])
def test_make_setup_takes_the_right_build(tmp_path, with_nvidia_smi):
    """The Makefile's own torch line, with pip replaced by echo, run with and without a stand-in
    nvidia-smi on PATH (make -n prints the recipe; nothing is installed)."""
    env = {k: v for k, v in os.environ.items() if k != "TORCH_INDEX"}
    recipe = subprocess.run(["make", "-n", "-B", "setup", f"PYTHON={sys.executable}", "PIP=echo pip"],
                            cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout
    start = recipe.index('index="$(')
    torch_line = recipe[start:recipe.index("\n", recipe.index("torch ${index", start))]
    path = _bin(tmp_path, with_nvidia_smi)
    run = subprocess.run(["/bin/bash", "-c", torch_line], cwd=REPO, capture_output=True, text=True,
                         env={"PATH": path, "HOME": str(tmp_path), "COURSE_INDEX_REACHABLE": "1"}, check=True)
    said = run.stderr.strip()
    if with_nvidia_smi:
        assert "--index-url" not in run.stdout and "CUDA build" in said
    else:
        assert f"--index-url {CPU}" in run.stdout and "CPU build" in said
    assert run.stdout.startswith("pip -c constraints.txt torch")
