"""The exercise checkers of notebook 03 (lengths): ``check_short_template``, ``check_smallest_max_length``, ``check_fits_filter``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..data import RESPONSE_MARKER, format_prompt, share_over, token_lengths

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

from ._common import (
    _call,
    _not_answered,
    _number,
    _right,
    _same,
    _unanswered,
    _whole,
    _wrong,
    asks_for,
)

__all__ = ['check_short_template', 'check_smallest_max_length', 'check_fits_filter']


@asks_for("code")
def check_short_template(answer: Any, dataset: Any, tokenizer: PreTrainedTokenizerBase, max_length: int) -> bool:
    """Notebook 03, exercise 1: a shorter prompt template, ``short_prompt(instruction, input)``.

    Right when, on every row of ``dataset``, the prompt is text that holds the row's instruction
    (and its input, when it has one), ends with ``### Response:`` and a newline (where the answer
    starts), and takes fewer tokens than Alpaca's prompt (``format_prompt``). The message then
    says what the shorter template saves on this data: tokens per row, the share of a pass, and
    the rows longer than ``max_length`` before and after.
    """
    if _unanswered(answer):
        return _not_answered("write short_prompt(instruction, input), then answer = short_prompt.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define short_prompt(instruction, input) with def and pass the function itself.")
    rows = list(zip(dataset["instruction"], dataset["input"], dataset["output"]))
    end = RESPONSE_MARKER + "\n"
    mine = []
    for index, (instruction, given, _) in enumerate(rows):
        prompt, error = _call(answer, instruction, given)
        if error:
            return _wrong(f"short_prompt raised {error} on row {index}.",
                          "it is called as short_prompt(instruction, input), with input '' when the row has none.")
        if prompt is None and index == 0:
            return _not_answered("your short_prompt returns None: write its body.")
        if not isinstance(prompt, str):
            return _wrong(f"short_prompt returned {type(prompt).__name__} on row {index}.", "return the prompt as a string.")
        if instruction not in prompt:
            return _wrong(f"row {index}'s prompt does not contain its instruction.",
                          "put the row's instruction into the prompt, as it is.")
        if given.strip() and given not in prompt:
            return _wrong(f"row {index} has an input, and its prompt leaves it out.",
                          "when input is not empty, put it into the prompt too (Alpaca's second template does).")
        if not prompt.endswith(end):
            return _wrong(f"row {index}'s prompt does not end with '### Response:' and a newline.",
                          "keep that line last: it marks where the answer starts, in training and at inference.")
        mine.append(prompt)
    alpaca = [format_prompt(instruction, given) for instruction, given, _ in rows]
    mine_n, alpaca_n = (token_lengths(texts, tokenizer, add_eos=False) for texts in (mine, alpaca))
    longer = [i for i, (a, b) in enumerate(zip(mine_n, alpaca_n)) if a >= b]
    if longer:
        i = longer[0]
        return _wrong(f"on row {i} your prompt takes {mine_n[i]} tokens, Alpaca's {alpaca_n[i]}.",
                      "drop fixed words from the template (the opening sentence is the longest part).")
    outputs = [output for _, _, output in rows]
    before = token_lengths([p + o for p, o in zip(alpaca, outputs)], tokenizer)
    after = token_lengths([p + o for p, o in zip(mine, outputs)], tokenizer)
    saved = sum(before) - sum(after)
    return _right(f"your prompts take {sum(mine_n) / len(rows):.0f} tokens on average, Alpaca's "
                  f"{sum(alpaca_n) / len(rows):.0f}: {saved:,} tokens fewer over the {len(rows)} rows, "
                  f"{saved / sum(before):.0%} of a pass. Rows longer than max_length={max_length}: "
                  f"{sum(n > max_length for n in before)} with Alpaca's template, {sum(n > max_length for n in after)} with yours.")


def _smallest(lengths: Sequence[int], keep: float, slack: float = 1e-9) -> int:
    """The smallest length n that cuts at most ``1 - keep`` of ``lengths`` (rows longer than n).
    ``slack`` absorbs float noise (``1 - 0.9`` is 0.09999999999999998 in Python)."""
    import numpy as np

    ordered = np.sort(np.asarray(lengths))
    candidates = np.unique(ordered)
    shares = (len(ordered) - np.searchsorted(ordered, candidates, side="right")) / len(ordered)  # share above each
    return int(candidates[np.argmax(shares <= (1 - keep) + slack)])  # the first that cuts few enough


# made-up length lists where np.percentile interpolates to a length that occurs in neither
MADE_UP_LENGTHS = [([10] * 99 + [500], 0.99), ([3, 7, 7, 9], 0.75), ([5, 1, 4, 2, 3], 0.6)]


@asks_for("code")
def check_smallest_max_length(answer: Any, texts: Sequence[str], tokenizer: PreTrainedTokenizerBase) -> bool:
    """Notebook 03, exercise 2: a function ``smallest_max_length(lengths, keep)`` that returns the
    smallest ``max_length`` keeping at least the share ``keep`` of the rows whole (at most
    ``1 - keep`` of ``lengths`` longer than it).

    Tried on the token lengths of ``texts`` (EOS included, as notebook 03's ``tokens``) for
    ``keep`` = 0.99, 0.95, 0.5 and 1.0, then on made-up lists (``MADE_UP_LENGTHS``) where
    ``np.percentile`` interpolates between rows. Exact shares at the boundary are accepted with or
    without float noise.
    """
    if _unanswered(answer):
        return _not_answered("write smallest_max_length(lengths, keep), then answer = smallest_max_length.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define smallest_max_length(lengths, keep) with def and pass the function itself.")
    import numpy as np

    tokens = np.array(token_lengths(texts, tokenizer))
    cases = [(tokens, keep, "your tokens") for keep in (0.99, 0.95, 0.5, 1.0)]
    cases += [(np.array(lengths), keep, f"lengths={lengths if len(lengths) < 10 else '[10] * 99 + [500]'}")
              for lengths, keep in MADE_UP_LENGTHS]
    mine = {}
    for lengths, keep, name in cases:
        got, error = _call(answer, lengths.copy(), keep)
        if error:
            return _wrong(f"smallest_max_length({name}, keep={keep}) raised {error}.",
                          "lengths is a numpy array of token counts and keep a share such as 0.99.")
        if got is None and not mine:
            return _not_answered("your smallest_max_length returns None: write its body.")
        truth, strict = _smallest(lengths, keep), _smallest(lengths, keep, slack=0.0)
        value = _whole(got)
        if value in (truth, strict):
            mine[(name, keep)] = value
            continue
        cut = share_over(lengths, value) if value is not None else None
        if _number(got) is not None and _same(_number(got), float(np.percentile(lengths, 100 * keep))):
            hint = ("that is np.percentile, which interpolates between rows: count the rows above a limit "
                    "instead, as (lengths > n).mean() does, and keep the smallest n that cuts few enough.")
        elif value is None:
            hint = (f"{got!r} is not a whole number of tokens: np.percentile interpolates between rows; "
                    "sort the lengths and return one of them.")
        elif cut <= (1 - keep) + 1e-9:
            hint = f"{value} cuts few enough rows, but a smaller limit does too: return the smallest one."
        elif value < truth:
            hint = (f"with max_length={value}, {cut:.1%} of the rows would be longer: more than 1 - keep = "
                    f"{1 - keep:.0%}. A row of exactly max_length tokens fits; the ones above it are cut.")
        else:
            hint = ("sort the lengths; the rows allowed above the limit are len(lengths) * (1 - keep), rounded "
                    "down; the limit is the length just below them.")
        return _wrong(f"smallest_max_length({name}, keep={keep}) gave {got!r}; the smallest limit is {truth}.", hint)
    keep_99, whole = mine[("your tokens", 0.99)], mine[("your tokens", 1.0)]
    return _right(f"your function agrees on all {len(cases)} cases. On your data max_length={keep_99} keeps 99 % of the rows whole, "
                  f"{mine[('your tokens', 0.95)]} keeps 95 %, and only {whole} (the longest row) keeps them all.")


@asks_for("code")
def check_fits_filter(answer: Any, dataset: Any, tokenizer: PreTrainedTokenizerBase, limit: int) -> bool:
    """Notebook 03, exercise 3: ``dataset`` filtered to the rows whose ``text`` fits ``limit`` tokens
    with the EOS the trainer appends (``len(ids) + 1 <= limit``), in the original order."""
    if _unanswered(answer):
        return _not_answered(f"filter the dataset to the rows whose text + EOS fits {limit} tokens.")
    if not hasattr(answer, "column_names") or "text" not in getattr(answer, "column_names", []):
        return _wrong(f"expected a datasets.Dataset with a 'text' column, got {type(answer).__name__}.",
                      "use dataset.filter(lambda row: ...) with a test on the row's token count.")
    lengths = token_lengths(dataset["text"], tokenizer)
    keep = [text for text, n in zip(dataset["text"], lengths) if n <= limit]
    mine = list(answer["text"])
    if mine == keep:
        return _right(f"{len(keep)} of {len(dataset)} rows fit {limit} tokens; {len(dataset) - len(keep)} "
                      "would be cut in training.")
    without_eos = [text for text, n in zip(dataset["text"], lengths) if n - 1 <= limit]
    if mine == without_eos:
        hint = "count the EOS the trainer appends: len(ids) + 1 must fit."
    elif mine == [text for text, n in zip(dataset["text"], lengths) if n < limit]:
        hint = "a row of exactly limit tokens fits: use <=, not <."
    elif mine == [text for text, n in zip(dataset["text"], lengths) if n > limit]:
        hint = "that keeps the rows that are too long: keep the others."
    elif mine == [text for text in dataset["text"] if len(text) + 1 <= limit]:
        hint = "that counts characters; count tokens: len(tokenizer(text, add_special_tokens=False)['input_ids'])."
    else:
        hint = (f"you kept {len(mine)} rows, {len(keep)} fit: tokenize each text without special tokens "
                "and keep it when len(ids) + 1 <= limit.")
    return _wrong("these are not the rows that fit.", hint)
