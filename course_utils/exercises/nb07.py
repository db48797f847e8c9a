"""The exercise checkers of notebook 07 (inference): ``check_score``, ``check_generation``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..data import format_prompt
from ..inference import Answer, contains_answer, generate_answers, score

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

from ._common import (
    _not_answered,
    _number,
    _right,
    _same,
    _share_hints,
    _unanswered,
    _wrong,
    asks_for,
)

__all__ = ['check_score', 'check_generation']


@asks_for("number")
def check_score(answer: float | None, answers: Sequence[Answer], expected: Sequence[str]) -> bool:
    """Notebook 07, exercise 1: the course's score of ``answers``, computed by hand.

    An answer counts when it stopped at EOS and names its expected phrase as whole words, ignoring
    case (``course_utils.inference.names``); the score is the share of answers that count.
    """
    if _unanswered(answer):
        return _not_answered("score the answers with the course's rule.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number, got {type(answer).__name__}.",
                      "the score is a share between 0 and 1.")
    truth = score(list(answers), list(expected))
    n = max(len(expected), 1)
    if _same(value, truth):
        counted = sum(contains_answer(a, e) for a, e in zip(answers, expected))
        return _right(f"{counted} of {len(expected)} answers count: the score is {truth:.0%}.")
    if value == truth * n and n > 1 and value >= 1:
        hint = "give the share (divide by the number of answers), not the count."
    else:
        alternatives = [
            (sum(a.stopped_at_eos and e.lower() in a.text.lower() for a, e in zip(answers, expected)) / n,
             "match whole words: 'Limaville' only starts with Lima, it does not name it (a regular expression "
             "with \\b on both sides, or course_utils.inference.names)."),
            (sum(e.lower() in a.text.lower() for a, e in zip(answers, expected)) / n,
             "an answer that ran into max_new_tokens (no EOS) does not count, even if it names the right thing."),
            (sum(a.stopped_at_eos and e in a.text for a, e in zip(answers, expected)) / n,
             "compare without caring about upper or lower case."),
        ]
        hint = _share_hints(value, truth, alternatives,
                            "an answer counts when it stopped at EOS and contains the expected phrase as whole words.")
    return _wrong(f"{answer} is not the score.", hint)


@asks_for("code")
def check_generation(answer: Answer | str | None, model: Any, tokenizer: PreTrainedTokenizerBase,
                     instruction: str, input: str, max_new_tokens: int = 64) -> bool:
    """Notebook 07, exercise 2: the model's greedy answer to ``instruction`` with ``input``.

    Right when ``answer`` (an ``Answer`` or its text) is what ``model`` generates for the
    Alpaca prompt *with* the input, greedily, and the answer stopped at EOS.
    """
    if _unanswered(answer):
        return _not_answered("ask the model with the instruction and its input.")
    if isinstance(answer, Answer):
        text, stopped = answer.text, answer.stopped_at_eos
    elif isinstance(answer, str):
        text, stopped = answer, None
    else:
        return _wrong(f"expected the answer's text (or an Answer), got {type(answer).__name__}.",
                      "decode the new tokens: tokenizer.decode(new_tokens, skip_special_tokens=True).")
    truth = generate_answers(model, tokenizer, [format_prompt(instruction, input)], max_new_tokens,
                             add_special_tokens=True)[0]  # an Alpaca text: encoded as in training
    if text.strip() == truth.text:
        if stopped is False or not truth.stopped_at_eos:
            return _wrong(f"{text!r} did not reach EOS within max_new_tokens.",
                          "give it more new tokens (max_new_tokens) so it can finish.")
        return _right(f"{truth.text!r}, stopped at EOS after {truth.new_tokens} new tokens. (This checks the "
                      "call: template, greedy decoding, EOS. Whether the fact is right is the model's business.)")
    without = generate_answers(model, tokenizer, [format_prompt(instruction)], max_new_tokens,
                               add_special_tokens=True)[0]
    if text.startswith(format_prompt(instruction, input)[:40]):
        hint = ("generate returns the prompt and the answer: decode only the new tokens, "
                "output[0, inputs['input_ids'].shape[1]:].")
    elif stopped is False and text.strip() and truth.text.startswith(text.strip()):
        hint = "it ran out of new tokens before EOS: raise max_new_tokens."
    elif text.strip() == without.text:
        hint = "the prompt lost the input: use the template with '### Input:' (pass the input)."
    elif "###" in text:
        hint = ("'###' in the answer means the model did not get the whole template: build the "
                "prompt with format_prompt(instruction, input), and keep only the new tokens.")
    else:
        hint = ("build the prompt with format_prompt(instruction, input) and generate greedily "
                "with this model.")
    return _wrong("that is not the model's answer to this prompt.", hint)
