"""The exercise checkers of notebook 05 (LoRA): ``check_lora_trainable``, ``check_lora_scale``, ``check_lora_forward``, ``check_lora_all_linear``, ``check_lora_linear``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..models import parameter_count

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import PreTrainedModel

from ._common import _call, _not_answered, _number, _right, _same, _unanswered, _whole, _wrong, asks_for

__all__ = ['check_lora_trainable', 'check_lora_scale', 'check_lora_forward', 'check_lora_all_linear', 'check_lora_linear']


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


@asks_for("number")
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


def _one_layer(n_in: int, n_out: int) -> Any:
    """A model of one ``nn.Linear`` named ``proj``: what the checkers hand to peft (``target_modules=["proj"]``)."""
    import torch

    class OneLayer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(n_in, n_out)

        def forward(self, x: Any) -> Any:
            return self.proj(x)

    return OneLayer()


def _peft_scaling(r: int, alpha: float, rslora: bool) -> float:
    """The ``scaling`` peft itself gives a layer with this config (a one-layer model, wrapped)."""
    from peft import LoraConfig, get_peft_model

    wrapped = get_peft_model(_one_layer(8, 8), LoraConfig(r=r, lora_alpha=alpha, use_rslora=rslora, target_modules=["proj"]))
    return float(wrapped.base_model.model.proj.scaling["default"])


@asks_for("code")
def check_lora_scale(answer: Any, config: LoraConfig) -> bool:
    """Notebook 05, exercise 2: a function ``lora_scale(config)`` that returns the factor multiplying
    the adapter's output ``B A x``: ``lora_alpha / r``, or ``lora_alpha / sqrt(r)`` when the config
    uses rank-stabilised LoRA (``use_rslora=True``).

    Called on ``config`` and on configs with other ``r``, ``lora_alpha`` and ``use_rslora``; each
    answer is compared with the ``scaling`` peft gives a layer wrapped with that config.
    """
    if _unanswered(answer):
        return _not_answered("write lora_scale(config), then answer = lora_scale.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define lora_scale(config) with def and pass the function itself (answer = lora_scale).")
    from peft import LoraConfig

    variants = [(config.r, config.lora_alpha, bool(getattr(config, "use_rslora", False))),
                (4, 8, False), (64, 16, False), (16, 32, True), (64, 16, True)]
    mine = None
    for r, alpha, rslora in variants:
        other = LoraConfig(r=r, lora_alpha=alpha, use_rslora=rslora, target_modules=["proj"])
        which = "config" if mine is None else f"LoraConfig(r={r}, lora_alpha={alpha}, use_rslora={rslora})"
        got, error = _call(answer, config if mine is None else other)
        if error:
            return _wrong(f"lora_scale({which}) raised {error}.",
                          "read config.r, config.lora_alpha and config.use_rslora, and return one number.")
        value = _number(got)
        if value is None:
            if got is None and mine is None:
                return _not_answered("your lora_scale returns None: write its body.")
            return _wrong(f"lora_scale({which}) gave {got!r}, not a number.", "return the factor, one number.")
        truth = _peft_scaling(r, alpha, rslora)
        if _same(value, truth):
            mine = mine if mine is not None else value
            continue
        if _same(value, 1 / truth):
            hint = "that is the inverse: divide alpha by r, not r by alpha."
        elif rslora and _same(value, alpha / r):
            hint = "with use_rslora=True, peft divides alpha by the square root of r: alpha / sqrt(r)."
        elif mine is not None and _same(value, mine):
            hint = "the same number for another config: compute it from the config's fields, not a typed-in number."
        elif not rslora and _same(value, alpha / math.sqrt(r)):
            hint = "sqrt(r) is only for use_rslora=True; a plain LoRA config divides alpha by r."
        elif _same(value, alpha) or _same(value, r):
            hint = "the scale combines both numbers, alpha and r."
        else:
            hint = "the formula in the notebook: h = W x + (alpha / r) B A x; use the config's values."
        return _wrong(f"lora_scale({which}) gave {value:g}; peft scales by {truth:g}.", hint)
    return _right(f"your function agrees with peft on all {len(variants)} configs; this profile's adapter output "
                  f"is multiplied by {mine:g}. Doubling r halves alpha / r, but divides alpha / sqrt(r) by only 1.41.")


@asks_for("code")
def check_lora_forward(answer: Any, layer: Any, x: Any) -> bool:
    """Notebook 05, exercise 3: a LoRA layer's output written by hand, ``W x + b + (alpha / r) B (A x)``.

    ``layer`` is a peft LoRA layer (``lora_A``, ``lora_B``, ``base_layer``, ``scaling``), ``x`` an
    input of shape (tokens, in_features). The answer is compared with ``layer(x)``, computed here
    with dropout off; the hints recognise the usual slips (no adapter, no scale, the inverse scale).
    """
    if _unanswered(answer):
        return _not_answered("compute W x + (alpha / r) B (A x) for x, without calling the layer.")
    import torch

    if not torch.is_tensor(answer):
        return _wrong(f"expected a tensor, got {type(answer).__name__}.",
                      "use tensor operations: x @ W.T, then the adapter path x @ A.T @ B.T.")
    name = next(iter(layer.lora_A))
    was_training = layer.training
    layer.eval()  # dropout off, as in inference
    try:
        with torch.no_grad():
            truth = layer(x).float()
            base = layer.base_layer(x).float()
            a, b = layer.lora_A[name].weight.float(), layer.lora_B[name].weight.float()
            adapter = x.float() @ a.T @ b.T
    finally:
        layer.train(was_training)
    value = answer.detach().float().to(truth.device)
    if tuple(value.shape) != tuple(truth.shape):
        return _wrong(f"the shape is {tuple(value.shape)}, the layer gives {tuple(truth.shape)}.",
                      "x has shape (tokens, in); W is (out, in), A (r, in), B (out, r): use their transposes.")
    scale = layer.scaling[name]

    def close(other: Any) -> bool:
        return bool(torch.allclose(value, other, rtol=1e-4, atol=1e-5 * max(1.0, other.abs().max().item())))

    if close(truth):
        return _right(f"W x + {scale:g} · B (A x) equals peft's output for all {value.numel():,} numbers "
                      f"(largest difference {(value - truth).abs().max().item():.1e}).")
    if close(base):
        hint = "that is W x alone: add the adapter's path, (alpha / r) · B (A x)."
    elif close(base + adapter):
        hint = f"the adapter's path is multiplied by alpha / r = {scale:g}."
    elif scale and close(base + adapter / scale):
        hint = "that is the inverse scale: multiply by lora_alpha / r, not r / lora_alpha."
    elif close(adapter * scale):
        hint = "that is the adapter alone: add the frozen layer's W x (and its bias, if it has one)."
    else:
        hint = ("W = layer.base_layer.weight, A = layer.lora_A['default'].weight, B = layer.lora_B['default'].weight; "
                "the output is x @ W.T (+ bias) + (alpha / r) * (x @ A.T @ B.T).")
    return _wrong("this is not the layer's output.", hint)


@asks_for("code")
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


def _weight(part: Any) -> Any:
    """The matrix of a learner's ``A`` or ``B``: an ``nn.Linear``'s weight, or a parameter itself."""
    import torch

    if isinstance(part, torch.nn.Linear):
        return part.weight
    return part if torch.is_tensor(part) else None


def _compare_with_peft(answer: Any, r: int, alpha: float) -> tuple[bool, str, str]:
    """Build the learner's ``LoRALinear`` and peft's LoRA layer on the same small ``nn.Linear``
    (fan-in 24, fan-out 20, with a bias), copy peft's ``lora_A`` / ``lora_B`` into the learner's
    ``A`` / ``B`` and compare outputs. Returns (right, message, hint); on success the message
    describes the match."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = _one_layer(24, 20)
    base = copy.deepcopy(model.proj)
    mine, error = _call(answer, base, r=r, alpha=alpha, dropout=0.25)
    if error:
        return False, f"LoRALinear(base, r={r}, alpha={alpha}, dropout=0.25) raised {error}.", \
            "__init__(self, base, r, alpha, dropout=0.0): call super().__init__() first, then build A, B and the dropout."
    if not isinstance(mine, torch.nn.Module):
        return False, f"LoRALinear(...) gave a {type(mine).__name__}, not an nn.Module.", \
            "write class LoRALinear(torch.nn.Module) and set answer = LoRALinear (the class itself)."
    a, b = _weight(getattr(mine, "A", None)), _weight(getattr(mine, "B", None))
    if a is None or b is None:
        return False, "the module has no self.A and self.B.", \
            "self.A = torch.nn.Linear(in_features, r, bias=False); self.B = torch.nn.Linear(r, out_features, bias=False)."
    if tuple(a.shape) != (r, 24) or tuple(b.shape) != (20, r):
        return False, f"on a 24 -> 20 layer with r={r}, A is {tuple(a.shape)} and B {tuple(b.shape)}.", \
            f"A is r x in_features = ({r}, 24) and B is out_features x r = (20, {r}); nn.Linear(n_in, n_out) stores (n_out, n_in)."
    if bool((b != 0).any()):
        return False, "B does not start at zero.", \
            "set B's weight to zeros (torch.nn.init.zeros_): then B A = 0 and the wrapped layer starts as the base layer."
    if not bool((a != 0).any()):
        return False, "A is all zero too.", \
            "A starts random (nn.Linear's own initialisation does it): with A and B both zero, neither gets a gradient."
    others = [p for p in mine.parameters() if p is not a and p is not b]  # the base layer's weight and bias
    if any(p.requires_grad for p in [*others, *base.parameters()]):
        return False, "the base layer's weight still has requires_grad=True.", \
            "freeze it: base.weight.requires_grad_(False) (and its bias): only A and B train."
    if not (a.requires_grad and b.requires_grad):
        return False, "A or B does not require a gradient.", "A and B are what trains: leave their requires_grad True."
    wrapped = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.25, target_modules=["proj"]))
    layer = wrapped.base_model.model.proj
    with torch.no_grad():
        torch.nn.init.normal_(layer.lora_B["default"].weight, std=0.1)  # as if trained a little
        a.copy_(layer.lora_A["default"].weight)
        b.copy_(layer.lora_B["default"].weight)
    x = torch.randn(5, 24)
    outputs = {}
    for mode in ("eval", "train"):
        for module in (mine, layer):
            module.train(mode == "train")
        with torch.no_grad():
            torch.manual_seed(1)
            got, error = _call(mine, x)
            torch.manual_seed(1)  # the same dropout mask, if the learner draws it once, on x, as peft does
            truth = layer(x)
        if error:
            return False, f"forward raised {error}.", "forward(x) returns self.base(x) + self.scaling * self.B(self.A(self.dropout(x)))."
        if not torch.is_tensor(got) or tuple(got.shape) != tuple(truth.shape):
            return False, f"forward gave {type(got).__name__} {tuple(getattr(got, 'shape', ()))}, peft {tuple(truth.shape)}.", \
                "return one tensor of shape (tokens, out_features)."
        outputs[mode] = (got, truth)
    got, truth = outputs["eval"]
    largest = (got - truth).abs().max().item()
    if not torch.allclose(got, truth, rtol=1e-6, atol=1e-6):
        with torch.no_grad():
            plain = base(x)
            path = layer.lora_B["default"](layer.lora_A["default"](x))
        scale = alpha / r

        def close(other: Any) -> bool:
            return bool(torch.allclose(got, other, rtol=1e-5, atol=1e-5))

        if close(plain):
            hint = "that is base(x) alone: add the adapter's path, (alpha / r) * B(A(x))."
        elif close(plain + path):
            hint = f"the adapter's path is multiplied by alpha / r = {scale:g}: self.scaling = alpha / r."
        elif close(plain + path / scale):
            hint = "that is the inverse scale: alpha / r, not r / alpha."
        elif close(plain + path * alpha):
            hint = "the scale is alpha / r, not alpha alone."
        elif close(path * scale):
            hint = "that is the adapter alone: add the frozen layer's output, self.base(x)."
        else:
            hint = "forward(x) = self.base(x) + (alpha / r) * self.B(self.A(self.dropout(x)))."
        return False, f"with dropout off, your output differs from peft's by up to {largest:.3g}.", hint
    got, truth = outputs["train"]
    if not torch.allclose(got, truth, rtol=1e-6, atol=1e-6):
        return False, "with dropout off it matches peft; in training mode it does not.", \
            ("apply dropout once, to the adapter's input only: self.B(self.A(self.dropout(x))); "
             "the base layer gets x itself.")
    return True, f"{largest:.1g}", ""


@asks_for("code")
def check_lora_linear(answer: Any, config: LoraConfig) -> bool:
    """Notebook 05, exercise 5: a class ``LoRALinear(base, r, alpha, dropout=0.0)`` wrapping an
    ``nn.Linear``: frozen base, ``A`` (``r x in``) random, ``B`` (``out x r``) zero, and
    ``forward(x) = base(x) + (alpha / r) * B(A(dropout(x)))``.

    Built at this profile's ``r`` and ``lora_alpha`` (from ``config``) and at ``r=4, alpha=8``, on a
    small ``nn.Linear``; peft wraps the same layer with a ``LoraConfig`` of the same values, its
    ``lora_A`` / ``lora_B`` weights (``B`` made non-zero) are copied into the learner's ``A`` / ``B``,
    and the outputs must agree, in eval mode and in training mode with the same dropout mask.
    """
    if _unanswered(answer):
        return _not_answered("write the class LoRALinear, then answer = LoRALinear.")
    if not isinstance(answer, type) and not callable(answer):
        return _wrong(f"expected the class LoRALinear, got {type(answer).__name__}.",
                      "answer = LoRALinear: the class itself, not an instance or a call.")
    import torch

    largest = []
    for r, alpha in ((int(config.r), config.lora_alpha), (4, 8)):
        with torch.random.fork_rng(devices=[]):  # the checker's seeds leave the learner's random state alone
            ok, message, hint = _compare_with_peft(answer, r, alpha)
        if not ok:
            return _wrong(f"r={r}, lora_alpha={alpha}: {message}", hint)
        largest.append(message)
    return _right(f"at r={config.r}, lora_alpha={config.lora_alpha} and at r=4, lora_alpha=8, with peft's A and B copied "
                  f"in, your layer gives peft's output (largest difference {max(map(float, largest)):.1g}), dropout "
                  f"off and on; B starts at zero and the base weight is frozen.")
