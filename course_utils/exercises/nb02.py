"""The exercise checkers of notebook 02 (data): ``check_prompt``, ``check_most_common_instruction``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..data import format_prompt

if TYPE_CHECKING:
    from datasets import Dataset

from ._common import _not_answered, _right, _unanswered, _whole, _wrong, asks_for

__all__ = ['check_prompt', 'check_most_common_instruction']


@asks_for("code")
def check_prompt(answer: str | None, row: dict[str, Any]) -> bool:
    """Notebook 02, exercise 1: the Alpaca prompt of ``row``, built by hand from the templates.

    Right when ``answer`` is exactly the prompt the model sees before its answer: the template
    that fits the row (with or without ``### Input:``), up to and including ``### Response:\\n``.
    """
    if _unanswered(answer):
        return _not_answered("build the prompt of `row` with PROMPT_WITH_INPUT or PROMPT_NO_INPUT.")
    if not isinstance(answer, str):
        return _wrong(f"expected a string, got {type(answer).__name__}.",
                      "fill a template with TEMPLATE.format(instruction=..., input=...).")
    instruction, given = row["instruction"], row.get("input") or ""
    truth = format_prompt(instruction, given)
    if answer == truth:
        kind = "with an input" if given.strip() else "without an input"
        return _right(f"that is the prompt of a row {kind}, ending where the answer starts.")
    has_input = bool(given.strip())
    if answer.startswith(truth):
        hint = "the prompt stops right after '### Response:\\n'; the row's output is not part of it."
    elif has_input and "### Input:" not in answer:
        hint = "this row has an input, so it needs the template with '### Input:'."
    elif not has_input and "### Input:" in answer:
        hint = "this row has no input: use the shorter template, without '### Input:'."
    elif answer.strip() == truth.strip():
        hint = "look at the very end: the prompt ends with '### Response:' and one newline."
    else:
        hint = "fill the template with the row's own instruction (and input), nothing else."
    return _wrong("this is not the prompt of `row`.", hint)


@asks_for("number")
def check_most_common_instruction(answer: tuple[str, int] | None,
                                  dataset: Dataset | dict[str, Sequence[str]]) -> bool:
    """Notebook 02, exercise 2: the instruction that appears in most rows, and in how many.

    ``answer`` is the pair ``(instruction, rows)``. When several instructions tie, any of them
    is right.
    """
    if _unanswered(answer):
        return _not_answered("give the pair (instruction, number of rows).")
    pair = list(answer) if isinstance(answer, (tuple, list)) else []
    if len(pair) != 2 or not isinstance(pair[0], str) or _whole(pair[1]) is None:
        return _wrong(f"expected a pair (instruction, count), got {str(answer)[:80]!r}.",
                      "answer with a tuple such as ('Name a colour.', 12).")
    instruction, count = pair[0], _whole(pair[1])
    counts = Counter(dataset["instruction"])
    top = max(counts.values())
    if counts.get(instruction) == top and count == top:
        return _right(f"{instruction!r} is the most common instruction: {top} of "
                      f"{sum(counts.values())} rows.")
    if instruction not in counts:
        hint = "this exact instruction is not in the data: copy it from the data (spaces and full stops count)."
    elif counts[instruction] != top:
        hint = "another instruction appears more often: count them all (pandas' value_counts, or collections.Counter)."
    else:
        hint = "right instruction, but it appears in a different number of rows: count again."
    return _wrong(f"{str(answer)[:80]!r} is not right.", hint)
