"""The exercise checkers of notebook 09 (evaluate and ship): ``check_read_score``, ``check_spearman``,
``check_model_args``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..evaluate import parse_score
from ._common import _not_answered, _number, _right, _unanswered, _wrong, asks_for

__all__ = ["check_read_score", "check_spearman", "check_model_args"]

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


@asks_for("code")
def check_model_args(answer: Any, profile: Any, adapter_dir: Path | str) -> bool:
    """Notebook 09, exercise 3: lm-eval's ``model_args`` for base + notebook 06's adapter, float32."""
    if _unanswered(answer):
        return _not_answered("write the model_args dict.")
    if not isinstance(answer, dict):
        return _wrong(f"expected a dict, got {type(answer).__name__}.",
                      "model_args = {'pretrained': ..., 'peft': ..., 'dtype': ...}.")
    if "device" in answer:
        return _wrong("device= inside model_args is a TypeError in lm-eval.",
                      "pass the device to simple_evaluate(device=...), not in model_args.")
    if str(answer.get("pretrained")) != str(profile.model):
        return _wrong(f"pretrained is {answer.get('pretrained')!r}.",
                      "pretrained names the base model: profile.model.")
    if "peft" not in answer or Path(str(answer["peft"])).resolve() != Path(adapter_dir).resolve():
        return _wrong("the adapter is missing or not notebook 06's.", "peft=str(adapter_dir) attaches the adapter.")
    if str(answer.get("dtype", "")).removeprefix("torch.") != "float32":
        return _wrong(f"dtype is {answer.get('dtype')!r}.", "ask for 'float32' (the harness also takes torch.float32).")
    return _right("the harness loads profile.model in float32 and attaches the adapter with peft.")
