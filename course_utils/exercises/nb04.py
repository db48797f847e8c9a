"""The exercise checkers of notebook 04 (model): ``check_weight_bytes``, ``check_completion_ids``, ``check_bnb_4bit_config``, ``check_memory_row``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..models import parameter_count

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ._common import (
    _call,
    _not_answered,
    _number,
    _right,
    _same,
    _size,
    _unanswered,
    _whole,
    _wrong,
    asks_for,
)

__all__ = ['check_weight_bytes', 'check_completion_ids', 'check_bnb_4bit_config', 'check_memory_row']


@asks_for("number")
def check_weight_bytes(answer: tuple[float, float] | None, model: PreTrainedModel) -> bool:
    """Notebook 04, exercise 1: bytes the model's weights take in bf16 and in 4-bit.

    ``answer`` is the pair ``(bf16_bytes, four_bit_bytes)``, counting every parameter of
    ``parameter_count(model)`` at 2 bytes (16 bits) and at half a byte (4 bits).
    """
    if _unanswered(answer):
        return _not_answered("give the pair (bytes in bf16, bytes in 4-bit).")
    pair = list(answer) if isinstance(answer, (tuple, list)) else []
    values = [_number(x) for x in pair]
    if len(values) != 2 or None in values:
        return _wrong(f"expected two numbers, got {answer!r}.",
                      "answer with a pair: (bytes in bf16, bytes in 4-bit).")
    bf16, four = values
    n = parameter_count(model)
    truth = (2 * n, n / 2)

    def near(a: float, b: float) -> bool:
        return abs(a - b) <= 1

    if near(bf16, truth[0]) and near(four, truth[1]):
        return _right(f"{n:,} parameters take {_size(truth[0])} in bf16 and {_size(truth[1])} in 4-bit "
                      "(weights only).")
    if near(bf16, truth[1]) and near(four, truth[0]):
        hint = "the order is (bf16, 4-bit), and bf16 is the larger one."
    elif any(_same(v, t / 2**30) or _same(v, t / 1e9) for v, t in zip(values, truth)):
        hint = "give bytes, not GiB or GB."
    elif near(bf16, 4 * n):
        hint = "4 bytes per parameter is float32; bf16 has 16 bits, so 2 bytes."
    elif near(four, 4 * n) or near(four, n):
        hint = "4 bits is half a byte, so 4-bit weights take half a byte per parameter."
    elif not near(bf16, truth[0]):
        hint = "multiply parameter_count(model) by the bytes one bf16 number takes."
    else:
        hint = "the bf16 part is right; now the 4-bit part: how many bytes are 4 bits?"
    return _wrong(f"{answer!r} is not right.", hint)


@asks_for("code")
def check_completion_ids(answer: Sequence[int] | None, tokenizer: PreTrainedTokenizerBase,
                         text: str) -> bool:
    """Notebook 04, exercise 2: the token ids the trainer learns for the completion ``text``.

    That is the ids of ``text`` (no special tokens added in front) followed by the EOS id,
    which trl appends to every completion so the model learns to stop.
    """
    if _unanswered(answer):
        return _not_answered("give the list of ids of the text, followed by EOS.")
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)) or not all(_whole(x) is not None for x in answer):
        return _wrong(f"expected a list of token ids, got {type(answer).__name__}.",
                      "tokenizer(text, add_special_tokens=False)['input_ids'] is a list of ids.")
    ids = [int(x) for x in answer]
    body = tokenizer(text, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    truth = body + [eos]
    if ids == truth:
        same = ", which padding reuses too" if tokenizer.pad_token_id == eos else ""
        return _right(f"{len(body)} ids of text, then EOS (id {eos}{same}): the model learns to emit "
                      f"{eos} when its answer is done.")
    if ids == body:
        hint = "the trainer appends the EOS token to every completion: add its id at the end."
    elif ids[:-1] == body:
        hint = "the ids of the text are right; the last one must be the EOS id."
    elif ids[-len(truth):] == truth:
        hint = "no special token goes in front here: tokenize with add_special_tokens=False."
    else:
        hint = "tokenize `text` with add_special_tokens=False, then append tokenizer.eos_token_id."
    return _wrong("these are not the ids the trainer learns.", hint)


@asks_for("code")
def check_bnb_4bit_config(answer: Any, compute_dtype: Any) -> bool:
    """Notebook 04, exercise 3: a ``BitsAndBytesConfig`` for QLoRA: 4-bit NF4 weights, double
    quantization, matrix multiplies in ``compute_dtype``.

    Checked on the learner's own config object, field by field.
    """
    if _unanswered(answer):
        return _not_answered("write BitsAndBytesConfig(...) with the four settings.")
    if type(answer).__name__ != "BitsAndBytesConfig":
        return _wrong(f"expected a BitsAndBytesConfig, got {type(answer).__name__}.",
                      "from transformers import BitsAndBytesConfig, then call it with keywords.")
    checks = [
        (bool(getattr(answer, "load_in_4bit", False)) and not getattr(answer, "load_in_8bit", False),
         "store the weights in 4 bits: load_in_4bit=True (and not load_in_8bit)."),
        (getattr(answer, "bnb_4bit_quant_type", None) == "nf4",
         "the levels are NF4: bnb_4bit_quant_type=\"nf4\" (the default is \"fp4\")."),
        (getattr(answer, "bnb_4bit_use_double_quant", False) is True,
         "double quantization is off by default: bnb_4bit_use_double_quant=True."),
        (getattr(answer, "bnb_4bit_compute_dtype", None) == compute_dtype,
         f"matrix multiplies run in the compute dtype: bnb_4bit_compute_dtype={compute_dtype}."),
    ]
    for ok, hint in checks:
        if not ok:
            return _wrong("this configuration differs from QLoRA's.", hint)
    return _right(f"4-bit NF4 weights with double quantization, computing in {compute_dtype}: "
                  "about 0.5 byte per weight instead of 2.")


def _lora_gib(n_params: float, trainable: float, per_token: float, tokens: float, weight_bytes: float = 2) -> float:
    """LoRA training memory, GiB: frozen weights, 16 bytes per trained (float32) adapter parameter
    (weight 4, gradient 4, two AdamW moments 8), activations."""
    return (weight_bytes * n_params + 16 * trainable + tokens * per_token) / 2**30


@asks_for("code")
def check_memory_row(answer: Any, n_params: int, trainable: int, act_bytes_per_token: float, tokens: int) -> bool:
    """Notebook 04, exercise 4: a function ``lora_gib(n_params, trainable, per_token, tokens, weight_bytes=2)``
    that estimates LoRA's training memory in GiB: ``weight_bytes`` per frozen weight (2 in bf16),
    16 bytes per ``trainable`` adapter parameter (peft keeps adapters in float32: weight 4, gradient 4,
    two AdamW moments 8), ``per_token`` bytes of activations for each of ``tokens``.

    Called first on the notebook's row (the arguments given: bf16 LoRA on every linear layer), then
    with twice the tokens, in 4-bit (``weight_bytes=0.5``) and on a small made-up model, so a
    function that only returns one typed-in number does not pass."""
    if _unanswered(answer):
        return _not_answered("write lora_gib(n_params, trainable, per_token, tokens, weight_bytes=2), "
                             "then answer = lora_gib.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define lora_gib(...) with def and pass the function itself (answer = lora_gib).")
    n, t, act = n_params, trainable, act_bytes_per_token
    cases = [((n, t, act, tokens), {}), ((n, t, act, 2 * tokens), {}), ((n, t, act, tokens), {"weight_bytes": 0.5}),
             ((1_000_000, 10_000, 1_000.0, 512), {})]
    for args, kwargs in cases:
        got, error = _call(answer, *args, **kwargs)
        call = f"lora_gib({', '.join(f'{a:,.0f}' if a >= 1000 else f'{a:g}' for a in args)}" + \
            "".join(f", {k}={v}" for k, v in kwargs.items()) + ")"
        if error:
            return _wrong(f"{call} raised {error}.", "take the five arguments (weight_bytes with a default of 2) "
                          "and return one number of GiB.")
        value = _number(got)
        if value is None:
            if got is None and args == cases[0][0] and not kwargs:
                return _not_answered("your lora_gib returns None: write its body.")
            return _wrong(f"{call} gave {got!r}, not a number.", "return the total in GiB, one number.")
        truth = _lora_gib(*args, **kwargs)
        if math.isclose(value, truth, rel_tol=1e-3):
            continue
        gib, (n_, t_, act_, tokens_) = 2**30, args
        weights, acts = kwargs.get("weight_bytes", 2) * n_, tokens_ * act_
        if math.isclose(value, truth * gib, rel_tol=1e-3):
            hint = "that is in bytes: divide by 2**30 for GiB."
        elif math.isclose(value, (weights + 16 * t_) / gib, rel_tol=1e-3):
            hint = "the activations are missing: tokens x bytes per token."
        elif math.isclose(value, (16 * n_ + acts) / gib, rel_tol=1e-3):
            hint = "16 bytes for every parameter is full fine-tuning; with LoRA only the adapters train."
        elif math.isclose(value, (weights + 12 * t_ + acts) / gib, rel_tol=1e-3):
            hint = ("the adapters' own float32 weights count too: 4 (weight) + 4 (gradient) + 8 (two AdamW "
                    "moments) = 16 bytes per trained parameter.")
        elif math.isclose(value, (weights + 8 * t_ + acts) / gib, rel_tol=1e-3):
            hint = "AdamW keeps two float32 moments per trained parameter (8 bytes) besides its weight and gradient."
        elif math.isclose(value, (weights + 16 * t_ + acts) / 1e9, rel_tol=1e-3):
            hint = "that is in GB (10**9 bytes); the table is in GiB (2**30)."
        elif kwargs and math.isclose(value, _lora_gib(*args), rel_tol=1e-3):
            hint = "weight_bytes is ignored: the frozen weights take weight_bytes each (2 in bf16, 0.5 in 4-bit)."
        elif args != cases[0][0] or kwargs:
            hint = "the first row was right, this one is not: compute from the arguments, not from typed-in numbers."
        else:
            hint = "weight_bytes * n_params + 16 * trainable + tokens * per_token, in bytes, then / 2**30."
        return _wrong(f"{call} gave {value:g} GiB, expected {truth:.3f}.", hint)
    (n_, t_, act_, tokens_), _ = cases[0]
    return _right(f"{2 * n_ / 2**30:.1f} GiB of weights + {16 * t_ / 2**30:.2f} GiB for the adapters (weight, gradient, "
                  f"AdamW) + {tokens_ * act_ / 2**30:.1f} GiB of activations = {_lora_gib(n_, t_, act_, tokens_):.1f} GiB "
                  f"in bf16; {_lora_gib(n_, t_, act_, tokens_, 0.5):.1f} GiB with 4-bit weights (a floor: no scales, "
                  "no de-quantized copies).")
