"""The exercise checkers of notebook 09 (evaluate and ship): ``check_read_score``, ``check_spearman``,
``check_word_perplexity``, ``check_last_word_match``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..evaluate import normalise, parse_score
from ._common import _not_answered, _number, _right, _unanswered, _wrong, asks_for

__all__ = ["check_read_score", "check_spearman", "check_word_perplexity", "check_last_word_match"]

# (judge reply, the score in it): the cases check_read_score tries
SCORE_REPLIES = [
    ("Score: 4", 4),
    ("4", 4),
    (" 5", 5),
    ("4/5", 4),
    ("I would give it a **3**.", 3),
    ("Score: 2. The answer names the wrong city.", 2),
    ("The answer is wrong. Score: 1", 1),
    ("Score: 7", None),
    ("5.5", None),
    ("no score, sorry", None),
    ("", None),
    ("Score: 3 out of 5", 3),
]


@asks_for("code")
def check_read_score(read_score: Callable[[str], Any] | None) -> bool:
    """Notebook 09, exercise 1: a function that reads a 1-5 score from a judge's reply, or None."""
    if _unanswered(read_score):
        return _not_answered("write read_score(reply).")
    if not callable(read_score):
        return _wrong(f"expected a function, got {type(read_score).__name__}.",
                      "define read_score(reply) with def and pass the function itself.")
    try:
        if all(read_score(reply) is None for reply, _ in SCORE_REPLIES):
            return _not_answered("write read_score(reply): it returns None for every reply so far.")
    except Exception as err:  # noqa: BLE001 - a learner's function may raise anything
        return _wrong(f"read_score raised {type(err).__name__}: {err}.",
                      "return None when the reply holds no score, instead of failing.")
    for reply, truth in SCORE_REPLIES:
        assert parse_score(reply) == truth, reply  # the course's own parser agrees with the cases
        try:
            got = read_score(reply)
        except Exception as err:  # noqa: BLE001
            return _wrong(f"read_score({reply!r}) raised {type(err).__name__}: {err}.",
                          "return None when the reply holds no score, instead of failing.")
        if got != truth or (truth is not None and not isinstance(got, int)):
            if truth is None:
                hint = ("a number outside 1-5, or a decimal such as 5.5, is not a score on this scale: return None."
                        if reply.strip() else "an empty reply has no score: return None.")
            elif isinstance(got, str):
                hint = "return the score as an int, not as text."
            elif "/" in reply or "10" in reply:
                hint = "take the first whole number from 1 to 5, as a word on its own (a regular expression helps)."
            else:
                hint = "look for a whole number from 1 to 5 anywhere in the reply (re.finditer(r'\\d+', reply))."
            return _wrong(f"read_score({reply!r}) gave {got!r}, expected {truth!r}.", hint)
    return _right(f"your function reads all {len(SCORE_REPLIES)} replies as the course's parse_score does.")


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    import warnings

    from scipy.stats import spearmanr

    with warnings.catch_warnings():  # a constant list: nan, which the checker explains itself
        warnings.simplefilter("ignore")
        return float(spearmanr(a, b).statistic)


@asks_for("number")
def check_spearman(answer: Any, a: Sequence[float], b: Sequence[float]) -> bool:
    """Notebook 09, exercise 2: Spearman's correlation of ``a`` and ``b``, computed by hand."""
    if _unanswered(answer):
        return _not_answered("compute Spearman's correlation of a and b.")
    value = _number(answer)
    if value is None and isinstance(answer, float) and math.isnan(answer):
        value = math.nan
    if value is None:
        return _wrong(f"expected a number, got {type(answer).__name__}.", "Series.corr returns a float.")
    truth = _spearman(a, b)
    if math.isnan(truth) or math.isnan(value):
        if math.isnan(truth) and math.isnan(value):
            return _right("nan: one list has a single value, so there is no ranking to correlate "
                          "(the tiny judge does that; a real judge would not).")
        return _wrong(f"{value} is not it.", "one of the lists is constant: its ranks have no spread, the "
                      "correlation is nan." if math.isnan(truth) else "rank both lists, then correlate the ranks.")
    if math.isclose(value, truth, abs_tol=1e-9):
        return _right(f"{truth:.3f}, as scipy.stats.spearmanr computes it.")
    import pandas as pd

    pearson = float(pd.Series(list(a), dtype=float).corr(pd.Series(list(b), dtype=float)))
    hint = ("that is Pearson's correlation of the scores themselves: rank them first (.rank())."
            if math.isclose(value, pearson, abs_tol=1e-9) else
            "rank each list with pd.Series(x).rank() (ties share their mean rank), then .corr() of the two.")
    return _wrong(f"{value} is not Spearman's correlation of a and b.", hint)


def _words(text: str) -> int:
    """Words as lm-eval counts them for word perplexity: the pieces between runs of whitespace."""
    return len(re.split(r"\s+", text))


@asks_for("code")
def check_word_perplexity(word_perplexity: Callable[[float, Sequence[str]], Any] | None,
                          plain: dict[str, float], passages: Sequence[str], tokenizer: Any) -> bool:
    """Notebook 09, exercise 3: ``word_perplexity(mean_loss, texts)``, the perplexity per word of texts whose
    loss per scored token is ``mean_loss`` (rung 3a's ``text_loss``), tried on every model of ``plain``."""
    if _unanswered(word_perplexity):
        return _not_answered("write word_perplexity(mean_loss, texts).")
    if not callable(word_perplexity):
        return _wrong(f"expected a function, got {type(word_perplexity).__name__}.",
                      "define word_perplexity(mean_loss, texts) with def and pass the function itself.")
    texts = list(passages)
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    scored = sum(lengths) - len(texts)  # text_loss scores every token but each text's first
    words = sum(_words(text) for text in texts)
    got = {}
    for name, mean_loss in plain.items():
        try:
            result = word_perplexity(mean_loss, texts)
        except Exception as err:  # noqa: BLE001 - a learner's function may raise anything
            return _wrong(f"word_perplexity raised {type(err).__name__}: {err}.",
                          "use the tokenizer for the token count and re.split(r'\\s+', text) for the words.")
        got[name] = _number(result)
        if got[name] is None:
            return _wrong(f"word_perplexity returned {type(result).__name__}, not a number.",
                          "return math.exp(total loss / number of words).")
        truth = math.exp(mean_loss * scored / words)
        if math.isclose(got[name], truth, rel_tol=1e-6):
            continue
        if math.isclose(got[name], math.exp(mean_loss), rel_tol=1e-6):
            hint = ("that is the perplexity per token. Undo the mean first: total loss = mean_loss x the number "
                    "of scored tokens; then divide by the number of words.")
        elif math.isclose(got[name], math.exp(mean_loss * sum(lengths) / words), rel_tol=1e-6):
            hint = ("the first token of each text has no token before it, so text_loss does not score it: "
                    "count len(ids) - 1 tokens per text.")
        else:
            hint = ("total loss = mean_loss x scored tokens (len(ids) - 1 per text); words = "
                    "len(re.split(r'\\s+', text)) per text; the answer is math.exp(total loss / words).")
        return _wrong(f"for {name!r} (mean loss {mean_loss:.3f}) you gave {got[name]:.4f}, expected {truth:.4f}.", hint)
    shown = ", ".join(f"{name} {value:.3f}" for name, value in got.items())
    return _right(f"{shown}: {scored} scored tokens spread over {words} words.")


# (answer, reference, matches by the last word): the cases check_last_word_match tries first
LAST_WORD_CASES = [
    ("A snake is a reptile.", "A lizard is a reptile.", True),  # the right class, about the wrong animal
    ("The capital of Peru is Lima", "The capital of Peru is Lima.", True),
    ("REPTILE!", "A lizard is a reptile.", True),
    ("An eagle is a bird.", "A lizard is a reptile.", False),
    ("candle, garden, island, ladder.", "jacket, ladder, river, tunnel.", False),
    ("", "A lizard is a reptile.", False),  # no word at all: no match
    ("...", "...", False),
]


def _last_word(text: str) -> str | None:
    words = normalise(text).split()
    return words[-1] if words else None


def _last_word_match(answer: str, reference: str) -> bool:
    last = _last_word(answer)
    return last is not None and last == _last_word(reference)


def _text(answer: Any) -> str:
    return getattr(answer, "text", answer)  # a generate_answers Answer, or a plain string


@asks_for("code")
def check_last_word_match(rule: Callable[[str, str], Any] | None, answers: dict[str, Sequence[Any]],
                          references: Sequence[str]) -> bool:
    """Notebook 09, exercise 4: a looser rung-2 rule, ``last_word_match(answer, reference)``: the last words agree
    after ``normalise``. Tried on fixed cases, then on every model's ``answers``; right, it prints how the count
    changes from the normalised match, and an answer the looser rule lets through."""
    if _unanswered(rule):
        return _not_answered("write last_word_match(answer, reference).")
    if not callable(rule):
        return _wrong(f"expected a function, got {type(rule).__name__}.",
                      "define last_word_match(answer, reference) with def and pass the function itself.")
    rows = [(a, r, truth) for a, r, truth in LAST_WORD_CASES]
    rows += [(_text(a), r, _last_word_match(_text(a), r)) for given in answers.values() for a, r in zip(given, references)]
    for answer, reference, truth in rows:
        try:
            got = rule(answer, reference)
        except Exception as err:  # noqa: BLE001 - a learner's function may raise anything
            return _wrong(f"last_word_match({answer!r}, {reference!r}) raised {type(err).__name__}: {err}.",
                          "an answer with no word (empty, or only punctuation) matches nothing: return False.")
        if got is not truth and got != truth:
            if not answer.strip(" .!?,"):
                hint = "an answer with no word (empty, or only punctuation) matches nothing: return False."
            elif normalise(answer) != answer.lower().strip() and _last_word_match(answer, reference):
                hint = "compare the words after normalise(...): case and punctuation do not count."
            else:
                hint = "take normalise(text).split()[-1] of both texts and compare the two words."
            return _wrong(f"last_word_match({answer!r}, {reference!r}) gave {got!r}, expected {truth}.", hint)
    lines = []
    for name, given in answers.items():
        texts = [_text(a) for a in given]
        strict = sum(normalise(t) == normalise(r) for t, r in zip(texts, references))
        loose = sum(_last_word_match(t, r) for t, r in zip(texts, references))
        lines.append(f"{name}: normalised match {strict}/{len(texts)}, last word {loose}/{len(texts)}")
    new = [(t, r) for given in answers.values() for t, r in zip(map(_text, given), references)
           if _last_word_match(t, r) and normalise(t) != normalise(r)]
    example = f" An answer only the looser rule lets through: {new[0][0]!r} for {new[0][1]!r}." if new else ""
    return _right("; ".join(lines) + "." + example)
