"""The exercise checkers of notebook 03 (lengths): ``check_share_over``, ``check_smallest_max_length``, ``check_fits_filter``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..data import char_lengths, share_over, token_lengths

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

from ._common import (
    _not_answered,
    _number,
    _right,
    _same,
    _share_hints,
    _unanswered,
    _whole,
    _wrong,
)

__all__ = ['check_share_over', 'check_smallest_max_length', 'check_fits_filter']


def check_share_over(answer: float | None, texts: Sequence[str], tokenizer: PreTrainedTokenizerBase,
                     limit: int) -> bool:
    """Notebook 03, exercise 1: the share of ``texts`` longer than ``limit`` tokens.

    Lengths count the tokenizer's ids plus the EOS the trainer appends (``token_lengths``);
    "longer than" means strictly more tokens. The answer is a fraction between 0 and 1.
    """
    if _unanswered(answer):
        return _not_answered(f"compute the share of rows longer than {limit} tokens.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number, got {type(answer).__name__}.",
                      "divide a count of rows by the number of rows.")
    tokens = token_lengths(texts, tokenizer)
    truth = share_over(tokens, limit)
    if _same(value, truth):
        return _right(f"{truth:.1%} of rows are longer than {limit} tokens: with max_length={limit} "
                      "their end would be cut.")
    alternatives = [
        (sum(n >= limit for n in tokens) / len(tokens),
         "'longer than' means strictly more tokens: a row of exactly the limit fits."),
        (share_over(token_lengths(texts, tokenizer, add_eos=False), limit),
         "count the EOS token the trainer appends too: one more token per row."),
        (share_over(char_lengths(texts), limit),
         "that is the share in characters; max_length counts tokens."),
        (1 - truth, "that is the share of rows that fit; the question asks for the rows that are cut."),
    ]
    hint = _share_hints(value, truth, alternatives,
                        "count the rows of `tokens` above the limit and divide by the number of rows.")
    return _wrong(f"{answer} is not the share of rows over {limit} tokens.", hint)


def check_smallest_max_length(answer: int | None, texts: Sequence[str],
                              tokenizer: PreTrainedTokenizerBase, keep: float = 0.99) -> bool:
    """Notebook 03, exercise 2: the smallest ``max_length`` that keeps ``keep`` of the rows whole.

    A row stays whole when its token length (EOS included) is at most ``max_length``; the
    answer is the smallest whole number of tokens that cuts at most ``1 - keep`` of the rows.
    """
    if _unanswered(answer):
        return _not_answered(f"find the smallest max_length that keeps {keep:.0%} of rows whole.")
    value = _whole(answer)
    if value is None:
        return _wrong(f"expected a whole number of tokens, got {answer!r}.",
                      "max_length is a count of tokens, such as 128.")
    tokens = token_lengths(texts, tokenizer)
    allowed = (1 - keep) + 1e-9
    truth = next(n for n in sorted(set(tokens)) if share_over(tokens, n) <= allowed)
    cut = share_over(tokens, value)
    if value == truth:
        return _right(f"max_length={truth} keeps {1 - cut:.1%} of rows whole; one token less cuts "
                      f"more than {1 - keep:.0%}.")
    if cut <= allowed:
        return _wrong(f"max_length={value} keeps enough rows whole, but it is not the smallest.",
                      "try smaller limits, and keep the smallest one that still cuts at most "
                      f"{1 - keep:.0%} of the rows.")
    return _wrong(f"with max_length={value}, {cut:.1%} of rows would be cut: more than {1 - keep:.0%}.",
                  "raise it: sort the token lengths and look at their long end.")


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
