"""Execute a notebook's code cells in one namespace, without Jupyter (for machines that have no
jupyter packages, such as the lent GPU machine). Every cell runs even when an earlier one failed,
so that one failing check does not hide the CUDA paths after it; failures are returned.

    python bench/run_cells.py notebooks/06_training.ipynb
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path


def run_notebook(path: Path, env: dict[str, str] | None = None) -> list[str]:
    """Run the code cells of ``path`` with ``env`` added to the environment; return the failures."""
    path = Path(path).resolve()  # before the chdir below, so that relative paths keep working
    import gc

    old = dict(os.environ)
    os.environ.update(env or {})
    cwd = os.getcwd()
    os.chdir(Path(path).parent)
    namespace: dict = {"__name__": "__main__", "display": print}
    failures = []
    try:
        cells = [c for c in json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
                 if c["cell_type"] == "code"]
        for index, cell in enumerate(cells):
            source = "".join(cell["source"])
            if source.lstrip().startswith(("%", "!")):
                continue
            if "\"pip\", \"install\"" in source and os.environ.get("HF_HUB_OFFLINE") == "1":
                # the Colab install cell: with no network it could only fail (or hang on retries);
                # a package it would install and this machine lacks shows up as the later cell's ImportError
                print(f"{Path(path).name}[code cell {index}]: install cell skipped (offline)")
                continue
            try:
                exec(compile(source, f"{Path(path).name}[code cell {index}]", "exec"), namespace)
            except Exception as exc:
                first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                failures.append(f"cell {index}: {type(exc).__name__}: {first}")
                traceback.print_exc()
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(old)
        namespace.clear()
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
    return failures


if __name__ == "__main__":
    failed = False
    for arg in sys.argv[1:]:
        result = run_notebook(Path(arg))
        print(arg, "ok" if not result else result)
        failed = failed or bool(result)
    sys.exit(1 if failed else 0)
