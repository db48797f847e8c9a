"""The exercise checkers of notebook 02 (data): ``check_prompt``, ``check_most_common_instruction``,
``check_unique_prompts``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..data import format_prompt

if TYPE_CHECKING:
    from datasets import Dataset

from ._common import _not_answered, _right, _unanswered, _whole, _wrong, asks_for

__all__ = ['check_prompt', 'check_most_common_instruction', 'check_unique_prompts']


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


def _prompt_rows(data: Any) -> list[tuple[str, str, str]]:
    """(instruction, input, output) of every row of a Dataset, a pandas DataFrame or a dict of columns."""
    names = ["instruction", "input", "output"]
    if hasattr(data, "select_columns"):  # a datasets.Dataset: whole columns in one step
        columns = data.select_columns(names)[:]
    else:  # a DataFrame or a dict of lists
        columns = {name: list(data[name]) for name in names}
    return [(str(i), str(x or ""), str(o)) for i, x, o in
            zip(columns["instruction"], columns["input"], columns["output"], strict=True)]


def _first_of_each(rows: list[tuple[str, str, str]], key: Any) -> list[tuple[str, str, str]]:
    seen: set[Any] = set()
    kept = []
    for row in rows:
        if key(row) not in seen:
            seen.add(key(row))
            kept.append(row)
    return kept


@asks_for("code")
def check_unique_prompts(answer: Any, dataset: Dataset | Any) -> bool:
    """Notebook 02, exercise 3: ``dataset`` without its repeated prompts.

    Right when ``answer`` (a ``Dataset``, from ``dataset.filter`` or ``dataset.select``; a pandas
    DataFrame works too) holds the first row of each (instruction, input) pair, in the dataset's
    order: a later row with the same prompt, whatever its output, is dropped.
    """
    if _unanswered(answer):
        return _not_answered("keep the first row of each (instruction, input) pair: answer = dataset.filter(...).")
    try:
        got = _prompt_rows(answer)
    except Exception:  # noqa: BLE001 - any odd answer gets a hint, never an error
        return _wrong(f"expected the filtered Dataset, got {type(answer).__name__}.",
                      "dataset.filter(...) or dataset.select(indices) returns a Dataset with the same columns.")
    rows = _prompt_rows(dataset)
    truth = _first_of_each(rows, lambda r: r[:2])
    if got == truth:
        return _right(f"{len(rows) - len(truth)} row(s) repeated a prompt and are gone; "
                      f"{len(truth)} rows left, each prompt once.")
    counts = Counter(r[:2] for r in rows)
    if sorted(got) == sorted(truth):
        hint = "the right rows in another order: keep the dataset's order (filter and select keep it)."
    elif got == rows:
        hint = ("nothing was dropped: the repeats have different outputs, so compare the prompt "
                "(instruction and input), not the whole row.")
    elif got == _first_of_each(rows, lambda r: r[0]):
        hint = "a row with the same instruction but another input is a different prompt: compare (instruction, input)."
    elif got == [r for r in rows if counts[r[:2]] == 1]:
        hint = "keep the first row of a repeated prompt; drop only the later copies."
    elif len(got) == len(truth):
        hint = "as many rows as expected, but not the same ones: keep the *first* row of each prompt."
    else:
        hint = ("remember which (instruction, input) pairs you have seen, and keep a row only the first time "
                "(a set; or pandas' duplicated).")
    return _wrong(f"{len(got)} rows; {len(truth)} expected (of {len(rows)}).", hint)
