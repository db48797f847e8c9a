"""Installed versions against the course's pins (notebook 01).

The pins live in ``pyproject.toml`` (installed as this package's metadata); requirements.txt,
environment.yml and the install notebook repeat them, and a test checks they agree.
"""

from __future__ import annotations

import re
from importlib import metadata

_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^;\s]+)")

# torch is not a pin of the package (Colab keeps its own); the version the course was tested with,
# as constraints.txt and environment.yml give it (tests/test_repo.py checks they agree)
TESTED_TORCH = "2.13.0"


def pins() -> dict[str, str]:
    """``{package: version}`` for every ``==`` requirement of ``course_utils``."""
    out = {}
    for req in metadata.requires("course_utils") or []:
        m = _PIN.match(req)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def installed(names: list[str]) -> dict[str, str | None]:
    """Installed version of each package, or None when it is missing."""
    result: dict[str, str | None] = {}
    for name in names:
        try:
            result[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            result[name] = None
    return result


def pin_mismatches() -> dict[str, tuple[str, str | None]]:
    """``{package: (pinned, installed)}`` for each pinned package whose version differs."""
    wanted = pins()
    have = installed(list(wanted))
    return {n: (v, have[n]) for n, v in wanted.items() if have[n] != v}
