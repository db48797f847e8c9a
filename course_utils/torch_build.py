"""Which torch build ``make setup`` installs, decided before the virtualenv exists.

PyPI's Linux torch is the CUDA build: several GB of NVIDIA libraries that a laptop without an
NVIDIA GPU never uses. So on Linux, ``make setup`` looks for ``nvidia-smi`` (the NVIDIA driver's
tool) on ``PATH``:

- ``TORCH_INDEX`` set: that index, whatever the machine (the learner decides);
- Linux without ``nvidia-smi``: PyTorch's CPU index (``CPU_INDEX``), about 200 MB, when it answers
  within a few seconds; when it does not (a machine that reaches only PyPI or a local mirror),
  pip's own configured index, said so, rather than minutes of pip retrying an unreachable index;
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


def reachable(url: str, timeout: float = 5.0) -> bool:
    """Does ``url`` answer at all within ``timeout`` seconds? ``COURSE_INDEX_REACHABLE=1`` or ``0``
    answers for it (the tests' stand-in for the network)."""
    said = os.environ.get("COURSE_INDEX_REACHABLE", "").strip()
    if said in ("0", "1"):
        return said == "1"
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/torch/", timeout=timeout):
            return True
    except Exception:  # DNS failure, refused, timed out, HTTP error: pip could not use it either
        return False


def choose(env: dict[str, str] | None = None, system: str | None = None,
           which: Callable[..., str | None] = shutil.which,
           reach: Callable[[str], bool] = reachable) -> tuple[str, str]:
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
        if not reach(CPU_INDEX):
            return "", (f"no nvidia-smi on PATH, but {CPU_INDEX} does not answer from here: torch "
                        "from pip's configured index (on Linux PyPI's is the CUDA build; set "
                        "TORCH_INDEX to a CPU index you can reach)")
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
