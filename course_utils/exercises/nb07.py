"""The exercise checkers of notebook 07 (inference): ``check_score``, ``check_generation``, ``check_top_p``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..data import format_prompt
from ..inference import Answer, contains_answer, generate_answers, score

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

from ._common import (
    _call,
    _not_answered,
    _number,
    _right,
    _same,
    _share_hints,
    _unanswered,
    _wrong,
    asks_for,
)

__all__ = ['check_score', 'check_generation', 'check_top_p']


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


def _top_p_truth(scores: Any, p: float, reach: bool = True) -> Any:
    """The tokens ``top_p=p`` keeps: the most likely ones until their probabilities add up to ``p``
    (``reach=False``: without the token that reaches ``p``, the usual slip)."""
    import torch

    p_sorted, order = torch.softmax(scores.float(), dim=-1).sort(descending=True)
    mask = torch.zeros(scores.shape, dtype=torch.bool)
    mask[order[:int((p_sorted.cumsum(0) < p).sum()) + int(reach)]] = True
    return mask


@asks_for("code")
def check_top_p(answer: Any, scores: Any) -> bool:
    """Notebook 07, exercise 3: a function ``top_p_mask(scores, p)`` that returns a boolean tensor shaped
    like the 1-D ``scores``, True for the tokens ``top_p=p`` keeps: the most likely tokens, until their
    probabilities (``softmax(scores)``) add up to ``p``, the token that reaches ``p`` included.

    Tried on ``scores`` (the learner's next-token scores) with p = 0.5, 0.9 and 0.99, and on a small
    made-up score vector; the expected mask is the one generate's ``TopPLogitsWarper`` keeps.
    """
    import torch
    from transformers.generation.logits_process import TopPLogitsWarper

    if _unanswered(answer):
        return _not_answered("write top_p_mask(scores, p), then answer = top_p_mask.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define top_p_mask(scores, p) with def and pass the function itself.")
    made_up = torch.tensor([0.5, 2.0, -1.0, 1.0, 0.0, -3.0])  # probabilities .11 .50 .02 .18 .07 .003
    cases = [(scores.detach().float().cpu(), p) for p in (0.5, 0.9, 0.99)] + [(made_up, 0.75), (made_up, 0.5)]
    for case_scores, p in cases:
        kept = TopPLogitsWarper(top_p=p)(None, case_scores[None].clone())[0]
        library, truth = torch.isfinite(kept), _top_p_truth(case_scores, p)
        got, error = _call(answer, case_scores.clone(), p)
        if error:
            return _wrong(f"top_p_mask(scores, {p}) raised {error}.", "scores is a 1-D float tensor, p a float.")
        if got is None:
            return _not_answered("your top_p_mask returns None: write its body.")
        if not isinstance(got, torch.Tensor) or got.shape != case_scores.shape:
            return _wrong(f"top_p_mask(scores, {p}) gave {type(got).__name__} "
                          f"{tuple(getattr(got, 'shape', ()))}, not a mask shaped like scores {tuple(case_scores.shape)}.",
                          "return a boolean tensor: mask = torch.zeros_like(scores, dtype=torch.bool), "
                          "then mask[kept_ids] = True.")
        got = got.bool()
        if torch.equal(got, truth) or torch.equal(got, library):
            continue
        probs = torch.softmax(case_scores, dim=-1)
        if torch.equal(got, _top_p_truth(case_scores, p, reach=False)):
            hint = "keep the token that brings the sum to p too: the smallest set whose probabilities reach p."
        elif torch.equal(got, ~truth):
            hint = "that is the cut tail: keep the most likely tokens, not the others."
        elif got.sum() > truth.sum() and probs[got].min() < probs[truth].min():
            hint = "sort the probabilities from most to least likely (sort(descending=True)) before the running sum."
        else:
            hint = ("turn the scores into probabilities with softmax, sort them most likely first, and keep "
                    "tokens while the running sum (cumsum) is below p, plus the one that reaches it.")
        return _wrong(f"with p = {p}, your mask keeps {int(got.sum())} token(s); top_p keeps {int(truth.sum())}.",
                      hint)
    return _right(f"your mask matches generate's top_p on {len(cases)} cases; on your scores p = 0.9 keeps "
                  f"{int(_top_p_truth(cases[1][0], 0.9).sum())} token(s).")
