"""Checkers for the exercises at the end of notebooks 02-07.

Call a checker with your answer and the course objects it names. It prints one line and
returns a bool:

- ``✓ right: ...`` and ``True`` when the answer is right;
- ``✗ not yet: ... Hint: ...`` and ``False`` when it is not (the hint points at the likely mistake);
- ``not answered yet — ...`` and ``False`` while the answer is still ``None`` (or ``...``),
  so a notebook runs top to bottom with its exercises left open.

A checker never raises on a wrong answer, whatever its type. It works the right answer out
itself from the data, tokenizer, model or trainer you pass, so it holds for every profile, not
just for the numbers of the ``smoke`` run. Worked solutions: ``solutions/NN_solutions.ipynb``.

The checkers, in sections per notebook below:

- 02 · data: ``check_prompt``, ``check_most_common_instruction``
- 03 · lengths: ``check_share_over``, ``check_smallest_max_length``
- 04 · model: ``check_weight_bytes``, ``check_completion_ids``, ``check_bnb_4bit_config``
- 05 · LoRA: ``check_lora_trainable``, ``check_lora_scale``, ``check_alpha_for_rank``, ``check_lora_all_linear``
- 06 · training: ``check_steps_per_epoch``, ``check_loss_share``, ``check_warmup_steps``, ``check_unpacked_rows``
- 07 · inference: ``check_score``, ``check_generation``
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .data import char_lengths, format_prompt, share_over, token_lengths
from .inference import Answer, contains_answer, generate, score
from .models import parameter_count

if TYPE_CHECKING:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "check_alpha_for_rank", "check_bnb_4bit_config", "check_lora_all_linear", "check_completion_ids", "check_generation", "check_lora_scale",
    "check_lora_trainable", "check_loss_share", "check_most_common_instruction", "check_prompt",
    "check_score", "check_share_over", "check_smallest_max_length", "check_steps_per_epoch", "check_unpacked_rows",
    "check_warmup_steps", "check_weight_bytes",
]


# --- verdicts ---------------------------------------------------------------------------------

def _unanswered(answer: Any) -> bool:
    """``None`` or ``...``, alone or inside a tuple/list answer."""
    if answer is None or answer is Ellipsis:
        return True
    return isinstance(answer, (tuple, list)) and any(a is None or a is Ellipsis for a in answer)


def _not_answered(task: str) -> bool:
    print(f"not answered yet — {task}")
    return False


def _right(message: str) -> bool:
    print(f"✓ right: {message}")
    return True


def _wrong(message: str, hint: str) -> bool:
    print(f"✗ not yet: {message} Hint: {hint}")
    return False


def _number(answer: Any) -> float | None:
    """The answer as a float (ints, floats, numpy and torch scalars), or None."""
    if isinstance(answer, bool):
        return None
    if hasattr(answer, "item") and callable(answer.item):
        try:
            answer = answer.item()
        except (TypeError, ValueError, RuntimeError):
            return None
    if isinstance(answer, numbers.Real) and not isinstance(answer, bool):
        value = float(answer)
        return value if math.isfinite(value) else None
    return None


def _whole(answer: Any) -> int | None:
    """The answer as an int when it is a whole number, else None."""
    value = _number(answer)
    return int(value) if value is not None and value == int(value) else None


def _size(n_bytes: float) -> str:
    """Bytes as MiB or GiB, whichever reads better."""
    return f"{n_bytes / 2**30:,.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:,.2f} MiB"


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _share_hints(value: float, truth: float, alternatives: Sequence[tuple[float, str]], how: str) -> str:
    """The hint for a share (a number between 0 and 1) that is not the right one."""
    if truth > 0 and _same(value / 100, truth):
        return "give a fraction between 0 and 1, not a percentage."
    for alternative, hint in alternatives:
        if _same(value, alternative):
            return hint
    if abs(value - truth) < 0.01:
        return "close, but not exact: compute it in code rather than typing a rounded number."
    return how


# --- notebook 02 · data ------------------------------------------------------------------------

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


# --- notebook 03 · lengths ---------------------------------------------------------------------

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


# --- notebook 04 · model -----------------------------------------------------------------------

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


# --- notebook 05 · LoRA ------------------------------------------------------------------------

def _linear_shape(module: Any) -> tuple[int, int] | None:
    """(in_features, out_features) of a linear layer (also GPT-2's Conv1D and quantised ones)."""
    if type(module).__name__ == "Conv1D":
        rows, cols = module.weight.shape
        return int(rows), int(cols)
    fan_in, fan_out = getattr(module, "in_features", None), getattr(module, "out_features", None)
    if isinstance(fan_in, int) and isinstance(fan_out, int):
        return fan_in, fan_out
    return None


def _adapted_layers(model: Any, targets: str | Sequence[str]) -> list[tuple[int, int]]:
    """Shapes of the layers peft adapts for ``targets`` (a list of names, or "all-linear"),
    found by walking the model; layers peft already wrapped are counted once."""
    output = model.get_output_embeddings()
    shapes = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if any(p.startswith("lora_") or p == "base_layer" for p in parts):
            continue  # the pieces inside a layer peft already wrapped
        shape = _linear_shape(module)
        if shape is None:
            continue
        if targets == "all-linear":
            if module is output or getattr(module, "base_layer", None) is output:
                continue
        elif parts[-1] not in targets:
            continue
        shapes.append(shape)
    return shapes


def _lora_count(shapes: Sequence[tuple[int, int]], r: int) -> int:
    return sum(r * (fan_in + fan_out) for fan_in, fan_out in shapes)


def check_lora_trainable(answer: int | None, model: PreTrainedModel, r: int = 8,
                         targets: str | Sequence[str] = "attention") -> bool:
    """Notebook 05, exercise 1: trainable parameters of a LoRA adapter of rank ``r``, by hand.

    ``targets`` is ``"attention"`` or ``"all-linear"`` (as in ``lora_target_modules``) or a
    list of layer names. Each adapted layer adds ``r * (in_features + out_features)``.
    """
    if _unanswered(answer):
        return _not_answered(f"count the trainable parameters for r={r} by hand.")
    value = _whole(answer)
    if value is None:
        return _wrong(f"expected a whole number of parameters, got {answer!r}.",
                      "sum r * (in_features + out_features) over the adapted layers.")
    from .recipe import lora_target_modules

    names = lora_target_modules(model, targets) if isinstance(targets, str) else list(targets)
    shapes = _adapted_layers(model, names)
    truth = _lora_count(shapes, r)
    if value == truth:
        base = parameter_count(model) - sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
        return _right(f"{truth:,} trainable parameters in {len(shapes)} layers ({names}), "
                      f"{truth / base:.2%} of the base model's {base:,}.")
    single = {r * (fan_in + fan_out) for fan_in, fan_out in shapes}
    if r != 16 and value == _lora_count(shapes, 16):
        hint = f"that is the count for r=16; this exercise asks for r={r}."
    elif names != "all-linear" and value == _lora_count(_adapted_layers(model, "all-linear"), r):
        hint = f"that counts every linear layer; here only the layers named {names} get an adapter."
    elif value in single:
        hint = "that is one layer: add up every adapted layer."
    elif value == sum(fan_in * fan_out for fan_in, fan_out in shapes):
        hint = "that is the size of the frozen weight matrices; LoRA's A and B add r * (in + out)."
    elif value == 0:
        hint = ("no layer counted? Once a model has adapters, q_proj is a peft LoRA layer, not a "
                "torch.nn.Linear; match the layers by name, and read in_features and out_features from them.")
    else:
        hint = (f"find the layers whose name ends in one of {names}, and add "
                "r * (in_features + out_features) for each.")
    return _wrong(f"{answer} is not the number of trainable parameters.", hint)


def _scale(alpha: float, r: float, rslora: bool) -> float:
    return alpha / math.sqrt(r) if rslora else alpha / r


def check_lora_scale(answer: float | None, config: LoraConfig) -> bool:
    """Notebook 05, exercise 2: the factor that multiplies the adapter's output ``B A x``.

    ``lora_alpha / r`` (``lora_alpha / sqrt(r)`` when the config uses rank-stabilised LoRA).
    """
    if _unanswered(answer):
        return _not_answered("compute the scale of the adapter from `config`.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number, got {type(answer).__name__}.",
                      "the scale is one number computed from config.lora_alpha and config.r.")
    rslora = bool(getattr(config, "use_rslora", False))
    truth = _scale(config.lora_alpha, config.r, rslora)
    rule = "lora_alpha / sqrt(r)" if rslora else "lora_alpha / r"
    if _same(value, truth):
        return _right(f"{rule} = {config.lora_alpha} / {config.r}{' ** 0.5' if rslora else ''} "
                      f"= {truth:g}: the adapter's output is multiplied by {truth:g}.")
    if _same(value, 1 / truth):
        hint = "that is the inverse: divide alpha by r, not r by alpha."
    elif _same(value, config.lora_alpha) or _same(value, config.r):
        hint = "the scale combines both numbers, alpha and r."
    else:
        hint = "the formula in the notebook: h = W x + (alpha / r) B A x; use config's values."
    return _wrong(f"{answer} is not the adapter's scale.", hint)


def check_alpha_for_rank(answer: float | None, config: LoraConfig, new_r: int) -> bool:
    """Notebook 05, exercise 3: the ``lora_alpha`` that keeps ``config``'s scale at rank ``new_r``.

    Keeping ``alpha / r`` fixed lets you change ``r`` without re-tuning the learning rate.
    """
    if _unanswered(answer):
        return _not_answered(f"find the lora_alpha for r={new_r} that keeps the same scale.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number, got {type(answer).__name__}.",
                      "lora_alpha is one number.")
    rslora = bool(getattr(config, "use_rslora", False))
    scale = _scale(config.lora_alpha, config.r, rslora)
    truth = scale * (math.sqrt(new_r) if rslora else new_r)
    if _same(value, truth):
        return _right(f"r={new_r} with lora_alpha={truth:g} keeps the scale at {scale:g}.")
    if _same(value, config.lora_alpha):
        hint = (f"keeping alpha={config.lora_alpha} changes the scale from {scale:g} to "
                f"{_scale(value, new_r, rslora):g}.")
    else:
        hint = f"solve alpha / {new_r} = {scale:g} for alpha."
    return _wrong(f"with lora_alpha={answer} the scale at r={new_r} is "
                  f"{_scale(value, new_r, rslora):g}, not {scale:g}.", hint)


def check_lora_all_linear(answer: tuple[Any, int] | None, model: PreTrainedModel, r: int = 8) -> bool:
    """Notebook 05, exercise 4: a ``LoraConfig`` of rank ``r`` on every linear layer, and the
    trainable parameters of ``get_peft_model`` with it.

    ``answer`` is the pair ``(config, count)``. The config is checked field by field; the count is
    worked out from ``model`` (the learner's base model): ``r * (in + out)`` over every linear
    layer but the output head.
    """
    if _unanswered(answer):
        return _not_answered("give the pair (LoraConfig(...), trainable parameters).")
    pair = list(answer) if isinstance(answer, (tuple, list)) else []
    if len(pair) != 2 or type(pair[0]).__name__ != "LoraConfig":
        return _wrong(f"expected a pair (LoraConfig, count), got {str(answer)[:80]!r}.",
                      "answer = (config, count), with config = LoraConfig(r=..., ...).")
    config, count = pair
    shapes = _adapted_layers(model, "all-linear")
    output = model.get_output_embeddings()
    needed = {name.rsplit(".", 1)[-1] for name, m in model.named_modules()
              if _linear_shape(m) is not None and m is not output
              and not any(p.startswith("lora_") or p == "base_layer" for p in name.split("."))}
    targets = config.target_modules  # get_peft_model turns "all-linear" into the full layer names
    every_linear = targets == "all-linear" or (
        targets is not None and not isinstance(targets, str)
        and {t.rsplit(".", 1)[-1] for t in targets} >= needed)
    if config.r != r:
        return _wrong(f"the config has r={config.r}.", f"this exercise asks for r={r}.")
    if not every_linear:
        return _wrong(f"target_modules={targets!r} leaves some linear layers without an adapter.",
                      'target_modules="all-linear" lets peft find every linear layer but the output head.')
    if str(getattr(config.task_type, "value", config.task_type)) != "CAUSAL_LM":
        return _wrong(f"task_type={config.task_type!r}.",
                      'the model predicts the next token: task_type="CAUSAL_LM".')
    truth = _lora_count(shapes, r)
    value = _whole(count)
    if value == truth:
        total = parameter_count(model)
        return _right(f"r={r} on {len(shapes)} linear layers: {truth:,} trainable parameters, "
                      f"{truth / (total + truth):.2%} of the wrapped model.")
    if value is None:
        hint = "the count is a whole number: parameter_count(peft_model, trainable_only=True)."
    elif value == _lora_count(shapes, 16):
        hint = "that is the count for r=16: did you wrap with the course's config instead of yours?"
    elif value > truth * 10:
        hint = "count only the trainable parameters (trainable_only=True), not the whole model."
    else:
        hint = "wrap `base` with your config (get_peft_model) and count what requires a gradient."
    return _wrong(f"{count} is not the trainable count of this adapter.", hint)


# --- notebook 06 · training --------------------------------------------------------------------

def _steps_per_epoch(trainer: Any) -> int:
    """Optimizer steps in one pass over the trainer's (packed) rows, the way Trainer counts them."""
    args = trainer.args
    rows = len(trainer.train_dataset)
    per_batch = args.per_device_train_batch_size * max(int(getattr(args, "world_size", 1)), 1)
    batches = rows // per_batch if getattr(args, "dataloader_drop_last", False) else math.ceil(rows / per_batch)
    return max(math.ceil(batches / args.gradient_accumulation_steps), 1)


def check_steps_per_epoch(answer: int | None, trainer: Any) -> bool:
    """Notebook 06, exercise 1: optimizer steps in one epoch of ``trainer``.

    One step takes ``per_device_train_batch_size x gradient_accumulation_steps`` rows (per
    process) of the *packed* dataset ``trainer.train_dataset``; a partial last batch is a step too.
    """
    if _unanswered(answer):
        return _not_answered("work out the optimizer steps in one epoch.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number of steps, got {type(answer).__name__}.",
                      "divide rows by the rows one step takes, and round.")
    args = trainer.args
    rows = len(trainer.train_dataset)
    batch, accum = args.per_device_train_batch_size, args.gradient_accumulation_steps
    truth = _steps_per_epoch(trainer)
    if value == truth:
        extra = ""
        if args.max_steps > 0:
            extra = f"; this run's max_steps={args.max_steps} is {args.max_steps / truth:.1f} epochs"
        return _right(f"{rows} packed rows / ({batch} x {accum} rows per step) -> {truth} steps{extra}.")
    if value != int(value) or value == rows // (batch * accum):
        hint = "a partial last batch is still a step: round up."
    elif accum > 1 and value == math.ceil(rows / batch):
        hint = "with gradient accumulation, one optimizer step uses several batches."
    elif value == rows:
        hint = "count steps, not rows: one step takes a whole batch."
    else:
        hint = ("count the packed rows (len(trainer.train_dataset)), not the examples, and divide "
                "by batch size x gradient accumulation.")
    return _wrong(f"{answer} is not the number of steps in one epoch.", hint)


def _loss_tokens(row: dict[str, Any]) -> tuple[int, int]:
    """(tokens carrying loss, all tokens) of one training row (the recipe's definition)."""
    from .recipe import tokens_with_loss

    return tokens_with_loss(row), len(row["input_ids"])


def check_loss_share(answer: float | None, trainer: Any) -> bool:
    """Notebook 06, exercise 2: the share of all training tokens that carry loss.

    Counted over every row of ``trainer.train_dataset``: a token carries loss when its label is
    not -100 (the completion and its EOS), the prompt tokens do not.
    """
    if _unanswered(answer):
        return _not_answered("compute the share of training tokens that carry loss.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number, got {type(answer).__name__}.",
                      "divide the tokens with loss by all tokens.")
    counts = [_loss_tokens(row) for row in trainer.train_dataset]
    trained = sum(c[0] for c in counts)
    total = sum(c[1] for c in counts)
    truth = trained / total
    if _same(value, truth):
        return _right(f"{truth:.1%} of the {total:,} tokens carry loss; the other {1 - truth:.0%} "
                      "(the prompts) are read but not trained on.")
    rows = {t / n for t, n in counts if n}
    if any(_same(value, s) for s in rows):
        hint = "that is one row; count over every packed row of trainer.train_dataset."
    else:
        hint = _share_hints(value, truth, [(1 - truth, "that is the share *without* loss (label -100).")],
                            "count labels that are not -100 in every row, and divide by all tokens.")
    return _wrong(f"{answer} is not the share of tokens with loss.", hint)


def check_warmup_steps(answer: int | None, trainer: Any) -> bool:
    """Notebook 06, exercise 3: how many optimizer steps of ``trainer``'s run are warm-up.

    ``warmup_steps`` below 1 is a ratio of the run's steps (``max_steps`` when set, else the
    epochs' steps), rounded up; 1 or more is a number of steps.
    """
    if _unanswered(answer):
        return _not_answered("work out the number of warm-up steps.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number of steps, got {type(answer).__name__}.",
                      "a number of optimizer steps, such as 10.")
    args = trainer.args
    epoch_steps = math.ceil(args.num_train_epochs * _steps_per_epoch(trainer))
    total = args.max_steps if args.max_steps > 0 else epoch_steps
    ratio = args.warmup_steps

    def warmup(steps: int) -> int:
        return int(ratio) if ratio >= 1 else math.ceil(steps * ratio)

    truth = warmup(total)
    if value == truth:
        return _right(f"the learning rate climbs from 0 to {args.learning_rate:g} over the first "
                      f"{truth} of {total} steps, then decays.")
    if ratio < 1 and _same(value, ratio):
        hint = f"{ratio:g} is the ratio; give the number of steps it means for this run."
    elif ratio < 1 and (_same(value, total * ratio) or value == math.floor(total * ratio)):
        hint = "the trainer rounds the warm-up up to a whole step."
    elif args.max_steps > 0 and value == warmup(epoch_steps):
        hint = f"this run stops after max_steps={args.max_steps}: take the ratio of that."
    else:
        hint = "multiply the run's total optimizer steps by the warm-up ratio, and round up."
    return _wrong(f"{answer} is not the number of warm-up steps.", hint)


def _padding_in_order(lengths: Sequence[int], batch: int) -> float:
    """Share of padding when rows are batched in order and each batch is padded to its longest row."""
    padded = pad = 0
    for start in range(0, len(lengths), batch):
        chunk = lengths[start:start + batch]
        padded += max(chunk) * len(chunk)
        pad += max(chunk) * len(chunk) - sum(chunk)
    return pad / padded if padded else 0.0


def check_unpacked_rows(answer: tuple[Any, int, float] | None, trainer: Any) -> bool:
    """Notebook 06, exercise 4: a trainer built without packing, its rows and its padding.

    ``answer`` is ``(unpacked_trainer, rows, padding_share)``. The learner's trainer must have
    ``packing=False`` and the packed ``trainer``'s ``max_length`` and batch size; rows and padding
    are worked out from its own ``train_dataset`` (batches in order, padded to their longest row).
    """
    if _unanswered(answer):
        return _not_answered("give (your SFTTrainer without packing, its rows, the padding share).")
    triple = list(answer) if isinstance(answer, (tuple, list)) else []
    if len(triple) != 3 or not hasattr(triple[0], "args") or not hasattr(triple[0], "train_dataset"):
        return _wrong(f"expected (trainer, rows, padding share), got {str(answer)[:80]!r}.",
                      "answer = (unpacked, len(unpacked.train_dataset), share), with unpacked = SFTTrainer(...).")
    mine, rows, share = triple
    args, packed = mine.args, trainer.args
    if getattr(args, "packing", None) is not False:
        return _wrong("your trainer still packs.", "pass packing=False to SFTConfig.")
    for name in ("max_length", "per_device_train_batch_size"):
        if getattr(args, name, None) != getattr(packed, name, None):
            return _wrong(f"{name}={getattr(args, name, None)}, but the packed run uses {getattr(packed, name, None)}.",
                          f"pass {name}=args.{name}, so only the packing differs.")
    lengths = [len(r["input_ids"]) for r in mine.train_dataset]
    truth_rows = len(lengths)
    truth_share = _padding_in_order(lengths, args.per_device_train_batch_size)
    # the packed rows keep every example (seq_lengths: one length per example in the row)
    packed_data = trainer.train_dataset
    examples = (sum(len(s) for s in packed_data["seq_lengths"])
                if "seq_lengths" in getattr(packed_data, "column_names", ()) else None)
    dropped = examples - truth_rows if examples is not None else 0
    why_dropped = (f"trl drops an example whose prompt alone fills max_length={args.max_length}: no answer "
                   "token is left to learn from")
    if _whole(rows) != truth_rows:
        if _whole(rows) == len(packed_data):
            hint = "that is the packed trainer's row count; count the rows of *your* trainer."
        elif dropped > 0 and _whole(rows) == examples:
            hint = (f"that is the number of examples, but {why_dropped} ({dropped} here). "
                    "Count len(your_trainer.train_dataset).")
        else:
            hint = ("without packing, each example is one row, except the ones whose prompt alone fills "
                    "max_length (trl drops those): count len(your_trainer.train_dataset).")
        return _wrong(f"{rows} is not the number of rows.", hint)
    value = _number(share)
    if value is None or not _same(value, truth_share):
        hint = _share_hints(value if value is not None else -1.0, truth_share,
                            [(1 - truth_share, "that is the share of real tokens; padding is the rest.")],
                            "for each batch of rows in order: pad = longest x rows - sum of lengths; "
                            "add up the pads and divide by the padded tokens.")
        return _wrong(f"{share} is not the padding share.", hint)
    kept = (f"one per example, less {dropped}: {why_dropped}" if dropped > 0 else "one per example")
    return _right(f"{truth_rows} rows ({kept}) against {len(packed_data)} packed rows; "
                  f"{truth_share:.1%} of each padded batch would be padding, which packing avoids.")


# --- notebook 07 · inference -------------------------------------------------------------------

def check_score(answer: float | None, answers: Sequence[Answer], expected: Sequence[str]) -> bool:
    """Notebook 07, exercise 1: the course's score of ``answers``, computed by hand.

    An answer counts when it stopped at EOS and contains its expected phrase, ignoring case;
    the score is the share of answers that count.
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
            (sum(e.lower() in a.text.lower() for a, e in zip(answers, expected)) / n,
             "an answer that ran into max_new_tokens (no EOS) does not count, even if it names the right thing."),
            (sum(a.stopped_at_eos and e in a.text for a, e in zip(answers, expected)) / n,
             "compare without caring about upper or lower case."),
        ]
        hint = _share_hints(value, truth, alternatives,
                            "an answer counts when it stopped at EOS and contains the expected phrase.")
    return _wrong(f"{answer} is not the score.", hint)


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
    truth = generate(model, tokenizer, [format_prompt(instruction, input)], max_new_tokens)[0]
    if text.strip() == truth.text:
        if stopped is False or not truth.stopped_at_eos:
            return _wrong(f"{text!r} did not reach EOS within max_new_tokens.",
                          "give it more new tokens (max_new_tokens) so it can finish.")
        return _right(f"{truth.text!r}, stopped at EOS after {truth.new_tokens} new tokens. (This checks the "
                      "call: template, greedy decoding, EOS. Whether the fact is right is the model's business.)")
    without = generate(model, tokenizer, [format_prompt(instruction)], max_new_tokens)[0]
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
