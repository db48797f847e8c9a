"""Generation and scoring helpers (notebook 07).

Notebook 07 writes the calls out once (``PeftModel.from_pretrained``, ``tokenizer(...)``,
``model.generate(...)``, ``disable_adapter()``, ``merge_and_unload()``); :func:`generate_answers` and
:func:`ask` repeat its generate call for a list of prompts, with left padding.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import RESPONSE_MARKER, format_prompt
from .errors import MissingArtifactError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class Answer:
    text: str
    stopped_at_eos: bool  # False: it ran into max_new_tokens instead
    new_tokens: int

    @property
    def follows_format(self) -> bool:
        """A non-empty answer that ended with EOS and did not start a new Alpaca section."""
        return self.stopped_at_eos and bool(self.text.strip()) and "###" not in self.text


def generate_answers(model: Any, tokenizer: PreTrainedTokenizerBase, prompts: list[str],
                     max_new_tokens: int = 64, batch_size: int = 16,
                     add_special_tokens: bool = False) -> list[Answer]:
    """Greedy answers to already formatted prompts; each stops at EOS or ``max_new_tokens``.

    Encode a prompt as its training rows were: a rendered chat template with
    ``add_special_tokens=False`` (the default; the template writes every special token), an Alpaca
    text with ``add_special_tokens=True`` (trl encodes a prompt/completion text row with the
    tokenizer's defaults, so a tokenizer that adds BOS put one in front of every training row)."""
    import torch

    from .checks import check_prompts  # no empty prompt, prompt + answer fit the model

    check_prompts(tokenizer, prompts, max_new_tokens, model)
    eos = tokenizer.eos_token_id
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # a decoder-only model continues from the right end
    answers: list[Answer] = []
    model.eval()
    try:
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[start:start + batch_size], return_tensors="pt", padding=True,
                              add_special_tokens=add_special_tokens).to(model.device)
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                     eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
            for row in out[:, batch["input_ids"].shape[1]:].tolist():
                stopped = eos in row
                kept = row[: row.index(eos)] if stopped else row
                answers.append(Answer(tokenizer.decode(kept, skip_special_tokens=True).strip(),
                                      stopped, len(kept) + int(stopped)))
    finally:
        tokenizer.padding_side = side
    return answers


def short_answer_rows(eval_rows: Any, tokenizer: PreTrainedTokenizerBase, max_new_tokens: int,
                      limit: int = 16) -> tuple[list[str], list[str], list[str]]:
    """Notebook 07's before/after questions for a model larger than the tiny one: (questions, prompts,
    reference answers) of up to ``limit`` held-out Alpaca rows whose reference takes under half of
    ``max_new_tokens`` tokens, so that a right answer has room to end at EOS. A question is the row's
    instruction, with its input after a blank line and ``### Input:``."""
    def short(completion: str) -> bool:
        return len(tokenizer(completion, add_special_tokens=False)["input_ids"]) < max_new_tokens // 2

    rows = [r for r in eval_rows if short(r["completion"])][:limit]
    prompts, expected = [r["prompt"] for r in rows], [r["completion"] for r in rows]
    questions = [p.split("### Instruction:\n", 1)[-1].removesuffix("\n\n### Response:\n") for p in prompts]
    return questions, prompts, expected


def ask(model: Any, tokenizer: PreTrainedTokenizerBase, instructions: list[str],
        inputs: list[str] | None = None, max_new_tokens: int = 64) -> list[Answer]:
    """Wrap each instruction in the Alpaca template, then :func:`generate_answers`."""
    from .checks import check_instructions  # one input per instruction

    check_instructions(instructions, inputs)
    inputs = inputs or [""] * len(instructions)
    prompts = [format_prompt(i, x) for i, x in zip(instructions, inputs)]
    return generate_answers(model, tokenizer, prompts, max_new_tokens, add_special_tokens=True)  # Alpaca text


def load_with_adapter(base: PreTrainedModel, adapter_dir: Path) -> Any:
    """The base model with notebook 06's LoRA adapter attached (``PeftModel``)."""
    from peft import PeftModel

    from .checks import check_adapter  # complete, and made for this base model

    adapter_dir = Path(adapter_dir)
    check_adapter(adapter_dir, base)
    return PeftModel.from_pretrained(base, str(adapter_dir))


def names(text: str, phrase: str) -> bool:
    """``phrase`` appears in ``text`` as whole words, in any case: "Sucrebon" does not name Sucre,
    nor "Abbuja" Abuja, although a plain ``in`` finds "sucre" inside "sucrebon"."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, flags=re.IGNORECASE) is not None


def contains_answer(answer: Answer, expected: str) -> bool:
    """The expected phrase appears in the answer as whole words (any case) and the answer stopped."""
    return answer.stopped_at_eos and names(answer.text, expected)


def score(answers: list[Answer], expected: list[str]) -> float:
    """Share of answers that contain the expected phrase and stop at EOS."""
    return sum(contains_answer(a, e) for a, e in zip(answers, expected)) / max(len(expected), 1)


__all__ = ["Answer", "RESPONSE_MARKER", "ask", "contains_answer", "generate_answers", "names", "load_with_adapter",
           "score", "short_answer_rows"]
