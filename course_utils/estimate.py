"""Expected training time and memory before a run, measured figures after it (notebook 06).

The reference throughputs are measurements, each with where it was taken. Rows marked
``scaled`` are not measured on that card: they scale a measured row by the cards' matrix-multiply
peaks, which is a rough guide (memory bandwidth and kernel support differ). Replace them with
your own figures from ``python -m bench.train_throughput`` (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .profile import Hardware, Profile


@dataclass(frozen=True)
class Reference:
    tokens_per_second: float
    peak_gib: float
    where: str


# XGen-7B-shaped model, packed 1,024-token rows, LoRA r=16 on q/v, batch 4 (design doc anchor:
# one H200, plain transformers Trainer + peft, random weights of XGen's shape).
_H200 = {
    "gpu": Reference(13_449, 34.4, "measured: H200, bf16 LoRA, batch 4"),
    "seed": Reference(1_740, 12.2, "measured: H200, int8 + k-bit preparation, batch 4"),
    "colab": Reference(7_453, 9.6, "measured: H200, QLoRA NF4 + checkpointing, batch 4"),
}
_PEAK_TFLOPS = {"H200": 792.0, "H100": 792.0, "A100": 312.0, "L4": 121.0, "A10": 125.0, "T4": 65.0}
# the smoke profile on the CI machine: 2 CPU cores, tiny model (notebook 06, this repository)
_SMOKE = Reference(3_700, 0.1, "measured: 2 CPU cores, tiny model")


def reference(profile: Profile, hw: Hardware) -> Reference | None:
    """The reference figure for this profile on this hardware, or None when there is none."""
    if profile.name == "smoke":
        return _SMOKE if profile.uses_tiny_model else None
    base = _H200.get(profile.name)
    if base is None or profile.model.split("/")[-1] != "xgen-7b-8k-base":
        return None
    card = next((k for k in _PEAK_TFLOPS if k in hw.name.upper()), None)
    if card in ("H200", "H100"):
        return base
    if card is None:
        return None
    scale = _PEAK_TFLOPS[card] / _PEAK_TFLOPS["H200"]
    return Reference(base.tokens_per_second * scale, base.peak_gib, f"scaled from the H200 row to {card} by peak TFLOP/s")


def training_tokens(train_dataset: Any) -> int:
    """Tokens one epoch trains on: the packed rows' lengths (padding-free, so no pad tokens)."""
    return sum(len(ids) for ids in train_dataset["input_ids"])


def planned_tokens(profile: Profile, train_dataset: Any) -> int:
    """Tokens the whole run trains on: ``epochs`` passes, or ``max_steps`` steps when set."""
    tokens = training_tokens(train_dataset)
    if profile.max_steps > 0:
        rows = profile.max_steps * profile.batch_size * profile.grad_accum
        return round(rows * tokens / max(len(train_dataset), 1))
    return round(tokens * profile.epochs)


def expected_run(profile: Profile, hw: Hardware, train_dataset: Any) -> str:
    """A one-line estimate of the run's duration and peak memory, or why there is none."""
    tokens = planned_tokens(profile, train_dataset)
    ref = reference(profile, hw)
    if ref is None:
        return f"{tokens:,} tokens; no reference figure for {profile.model} on {hw.name}: the run will tell"
    minutes = tokens / ref.tokens_per_second / 60
    return (f"{tokens:,} tokens at ~{ref.tokens_per_second:,.0f} tokens/s: ~{minutes:,.1f} min, "
            f"peak memory ~{ref.peak_gib:.1f} GiB ({ref.where})")


def peak_memory_gib() -> float | None:
    """Peak GPU memory of this process so far, or None on a CPU."""
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
