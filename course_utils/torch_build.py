"""Which torch build ``make setup`` installs, decided before the virtualenv exists.

PyPI's Linux torch is the CUDA build: several GB of NVIDIA libraries that a laptop without an
NVIDIA GPU never uses. So on Linux, ``make setup`` looks for ``nvidia-smi`` (the NVIDIA driver's
tool) on ``PATH``:

- ``TORCH_INDEX`` set: that index, whatever the machine (the learner decides);
- Linux without ``nvidia-smi``: PyTorch's CPU index (``CPU_INDEX``), about 200 MB;
- Linux with ``nvidia-smi``: PyPI's default, the CUDA build;
- macOS and Windows: PyPI's default (on a Mac that build has the ``mps`` device for Apple silicon).

``python -m course_utils.torch_build`` prints the index to pass to ``pip --index-url`` (an empty
line for PyPI's default) on stdout and one sentence saying which build and why on stderr.
Standard library only: it runs with the system Python, before torch or the venv exist.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from typing import Callable

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def choose(env: dict[str, str] | None = None, system: str | None = None,
           which: Callable[..., str | None] = shutil.which) -> tuple[str, str]:
    """``(index, why)``: the index for ``pip install torch --index-url`` ('' = PyPI's default)."""
    env = dict(os.environ) if env is None else env
    system = platform.system() if system is None else system
    asked = (env.get("TORCH_INDEX") or "").strip()
    if asked:
        return asked, f"torch from TORCH_INDEX={asked}"
    if system != "Linux":
        extra = " (it has the mps device for Apple silicon)" if system == "Darwin" else ""
        return "", f"torch from PyPI, the default build for {system}{extra}"
    if which("nvidia-smi", path=env.get("PATH")) is None:
        return CPU_INDEX, ("no nvidia-smi on PATH (no NVIDIA GPU): the CPU build of torch from "
                           f"{CPU_INDEX} (TORCH_INDEX=... picks another build)")
    return "", ("nvidia-smi found: the CUDA build of torch from PyPI (several GB; "
                f"TORCH_INDEX={CPU_INDEX} takes the CPU build instead)")


def main() -> None:
    index, why = choose()
    print(f"make setup: {why}", file=sys.stderr)
    print(index)


if __name__ == "__main__":
    main()
