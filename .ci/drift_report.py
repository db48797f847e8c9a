"""After `make test-latest`: which libraries differ from the course's pins, pinned -> newest.

Run with the interpreter of the venv under test (the weekly drift workflow runs it with
.venv-latest/bin/python after a failure): it prints one line per pinned library of
requirements.txt whose installed version differs, and writes the same as a Markdown table to
$GITHUB_STEP_SUMMARY when that is set, so a failed run names the library and its new version
next to the failing notebook cell that pytest reports.
"""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def pins(path: Path = REPO / "requirements.txt") -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#;]+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def drift() -> list[tuple[str, str, str]]:
    """(library, pinned, installed) for every pin whose installed version differs."""
    rows = []
    for name, pinned in pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            rows.append((name, pinned, installed))
    return rows


def main() -> int:
    rows = drift()
    lines = [f"{name}: pinned {pinned}, tested {installed}" for name, pinned, installed in rows]
    print("\n".join(lines) if lines else "every library is at the course's pin")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as f:
            f.write("### Libraries newer than the course's pins\n\n| library | pinned | tested |\n|---|---|---|\n")
            f.writelines(f"| {n} | {p} | {i} |\n" for n, p, i in rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
