"""The exercise checkers of notebook 08 (chat format): ``check_own_template``, ``check_fixed_template``
(and ``suspect_template``, the broken template of exercise 2).

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

from typing import Any

from ..chat import CHAT_TEMPLATE, SYSTEM_PROMPT
from ._common import _not_answered, _right, _unanswered, _wrong, asks_for

__all__ = ["check_own_template", "check_fixed_template", "suspect_template"]

TWO_TURNS = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {"role": "user", "content": "What is the capital of Peru?"},
    {"role": "assistant", "content": "The capital of Peru is Lima."},
    {"role": "user", "content": "And of Chile?"},
    {"role": "assistant", "content": "The capital of Chile is Santiago."},
]


def suspect_template() -> str:
    """Exercise 2's template: the course's, with the EOS moved out of the generation block."""
    return CHAT_TEMPLATE.replace("{{ message['content'] + eos_token }}{%- endgeneration %}",
                                 "{{ message['content'] }}{%- endgeneration %}{{ eos_token }}")


def _trained_spans(template: str, tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, list[str]]:
    """The rendered text and the text of each run of tokens that carries loss."""
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True, chat_template=template)
    spans, current = [], []
    for token, bit in zip(out["input_ids"], out["assistant_masks"]):
        if bit:
            current.append(token)
        elif current:
            spans.append(current)
            current = []
    if current:
        spans.append(current)
    text = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template)
    return text, [tokenizer.decode(span) for span in spans]


def _template_problem(template: Any, tokenizer: Any) -> tuple[str, str] | None:
    """(what is wrong, hint), or None when the template renders, masks and prompts as a chat template must."""
    if not isinstance(template, str):
        return (f"expected a template string, got {type(template).__name__}.", "write the Jinja as a Python string.")
    if "generation" not in template:
        return ("the template has no {% generation %} block: nothing would carry loss.",
                "wrap the assistant's text and the EOS in {% generation %} ... {% endgeneration %}.")
    try:
        text, spans = _trained_spans(template, tokenizer, TWO_TURNS)
        prompt = tokenizer.apply_chat_template(TWO_TURNS[:-1], tokenize=False, add_generation_prompt=True,
                                               chat_template=template)
    except Exception as err:  # a Jinja syntax error, a missing variable: show it as a hint
        return (f"the template does not render ({type(err).__name__}: {err}).",
                "check each {% ... %} has its {% end... %} and the strings are quoted.")
    for message in TWO_TURNS:
        if message["content"] not in text:
            return (f"the {message['role']} turn's text is missing from the rendered conversation.",
                    "render every message's content, whatever its role.")
    eos = tokenizer.eos_token
    answers = [m["content"] + eos for m in TWO_TURNS if m["role"] == "assistant"]
    got = [s.strip() for s in spans]
    if any(m["content"] in s for m in TWO_TURNS if m["role"] in ("system", "user") for s in got):
        return ("a system or user text carries loss: the model would be trained on the prompt.",
                "put {% generation %} around the assistant's turn only.")
    if [s.replace(eos, "") for s in got] == [a.replace(eos, "") for a in answers] and got != answers:
        return ("the answers carry loss but their EOS does not: the model never learns to stop.",
                "put eos_token inside the generation block, right after the assistant's text.")
    if got != answers:
        return (f"the tokens with loss read {got}, not the two answers each followed by EOS.",
                "inside {% generation %} write exactly message['content'] + eos_token; headers stay outside.")
    if not text.startswith(prompt) or prompt == tokenizer.apply_chat_template(
            TWO_TURNS[:-1], tokenize=False, chat_template=template):
        return ("add_generation_prompt=True must end the prompt with the assistant's header, so that the "
                "full conversation continues it.",
                "end the template with {% if add_generation_prompt %}<your assistant header>{% endif %}.")
    return None


@asks_for("code")
def check_own_template(answer: Any, tokenizer: Any) -> bool:
    """Notebook 08, exercise 1: a chat template of your own that masks and prompts correctly."""
    if _unanswered(answer):
        return _not_answered("write a chat template of your own (a string).")
    problem = _template_problem(answer, tokenizer)
    if problem:
        return _wrong(*problem)
    if answer.replace(" ", "") == CHAT_TEMPLATE.replace(" ", ""):
        return _wrong("this is the course's template.", "change the headers: write a design of your own.")
    return _right("both answers and their EOS carry loss, nothing else does, and the generation prompt "
                  "ends where the assistant's turn begins.")


@asks_for("code")
def check_fixed_template(answer: Any, tokenizer: Any) -> bool:
    """Notebook 08, exercise 2: ``suspect_template()`` repaired."""
    if _unanswered(answer):
        return _not_answered("print the suspect template's mask, then fix the template.")
    if isinstance(answer, str) and answer == suspect_template():
        return _wrong("this is the suspect template unchanged.",
                      "look at the last token of each answer in the mask: is the EOS green (inside the ⟦ ⟧)?")
    problem = _template_problem(answer, tokenizer)
    if problem:
        return _wrong(*problem)
    return _right("the EOS is inside the generation block now: the model is trained to end its turn.")
