"""What every checker shares: the three verdicts (right, not yet, not answered) and number parsing."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any


def _unanswered(answer: Any) -> bool:
    """``None`` or ``...``, alone or inside a tuple/list answer."""
    if answer is None or answer is Ellipsis:
        return True
    return isinstance(answer, (tuple, list)) and any(a is None or a is Ellipsis for a in answer)


def _say(line: str) -> None:
    """One write with its newline, flushed: a notebook kernel can otherwise send the newline as a
    separate, empty-looking output of its own."""
    print(line + "\n", end="", flush=True)


def _not_answered(task: str) -> bool:
    _say(f"not answered yet — {task}")
    return False


def _right(message: str) -> bool:
    _say(f"✓ right: {message}")
    return True


def _wrong(message: str, hint: str) -> bool:
    _say(f"✗ not yet: {message} Hint: {hint}")
    return False


def _number(answer: Any) -> float | None:
    """The answer as a float (ints, floats, numpy and torch scalars), or None."""
    if isinstance(answer, bool):
        return None
    if hasattr(answer, "item") and callable(answer.item):
        try:
            answer = answer.item()
        except (TypeError, ValueError, RuntimeError):
            return None
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool):
        value = float(answer)
        return value if math.isfinite(value) else None
    return None


def _whole(answer: Any) -> int | None:
    """The answer as an int when it is a whole number, else None."""
    value = _number(answer)
    return int(value) if value is not None and value == int(value) else None


def _size(n_bytes: float) -> str:
    """Bytes as MiB or GiB, whichever reads better."""
    return f"{n_bytes / 2**30:,.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:,.2f} MiB"


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _share_hints(value: float, truth: float, alternatives: Sequence[tuple[float, str]], how: str) -> str:
    """The hint for a share (a number between 0 and 1) that is not the right one."""
    if truth > 0 and _same(value / 100, truth):
        return "give a fraction between 0 and 1, not a percentage."
    for alternative, hint in alternatives:
        if _same(value, alternative):
            return hint
    if abs(value - truth) < 0.01:
        return "close, but not exact: compute it in code rather than typing a rounded number."
    return how


def asks_for(kind: str) -> Any:
    """Mark a checker with what its exercise asks the learner to write: ``"code"`` (a function, a
    filter, a configuration, a tensor, a prompt...) or ``"number"`` (a value worked out and given as
    a number). The course keeps at most one number-only exercise per notebook (tests/test_teaching.py)."""
    if kind not in ("code", "number"):
        raise ValueError(f"asks_for: 'code' or 'number', not {kind!r}")

    def mark(checker: Any) -> Any:
        checker.asks_for = kind
        return checker

    return mark


def _call(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """``(result, None)`` of a learner's function, or ``(None, "ErrorName: message")`` if it raised."""
    try:
        return function(*args, **kwargs), None
    except Exception as err:  # noqa: BLE001 - a learner's function may raise anything
        return None, f"{type(err).__name__}: {err}"
