"""The exercise checkers of notebook 05 (LoRA): ``check_lora_trainable``, ``check_lora_scale``, ``check_alpha_for_rank``, ``check_lora_all_linear``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..models import parameter_count

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import PreTrainedModel

from ._common import _not_answered, _number, _right, _same, _unanswered, _whole, _wrong

__all__ = ['check_lora_trainable', 'check_lora_scale', 'check_alpha_for_rank', 'check_lora_all_linear']


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
    from ..recipe import lora_target_modules

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
