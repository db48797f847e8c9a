"""Expected training time and memory before a run, measured figures after it (notebook 06).

This module is the one source of the course's time and memory figures: the README's tables quote
these numbers (a test checks they agree). Each reference is a measurement with where it was taken;
rows marked "scaled" are not measured on that card but scale a measured row by the cards'
matrix-multiply peaks, a rough guide (memory bandwidth and kernel support differ). ``make gpu-check``
measures them again on your GPU (bench/results/ holds the runs quoted here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .profile import GPU_BATCH_8_GIB, Hardware, Profile

# One epoch of Stanford Alpaca with XGen-7B's tokenizer: 52,002 rows x ~106 tokens (prompt +
# response + EOS, measured on real rows: ~4.7 characters per token). Notebook 03 measures your data.
ALPACA_EPOCH_TOKENS = 5_600_000
# the colab profile's subsample: 5,000 rows
COLAB_TOKENS = 530_000


@dataclass(frozen=True)
class Reference:
    tokens_per_second: float
    peak_gib: float
    where: str


# `make gpu-check` on one H200 (bench/results/2026-11-27-h200.md): random weights of XGen-7B's
# shape, packed 1,024-token rows through the course's recipe, LoRA r=16. The runs are read from
# assets/h200_runs.json, the same record notebook 04 prints, so the figures are written once.
H200_RUNS = Path(__file__).parent / "assets" / "h200_runs.json"
_RUNS = {run["run"]: run for run in json.loads(H200_RUNS.read_text(encoding="utf-8"))["runs"]}
_H200 = {
    key: Reference(_RUNS[name]["tokens/s"], _RUNS[name]["peak GiB"], f"measured: H200, {what}")
    for key, name, what in [
        (("gpu", 8), "varlen 8", "bf16 LoRA q,v, varlen attention, batch 8"),
        (("gpu", 4), "varlen 4", "bf16 LoRA q,v, varlen attention, batch 4"),
        (("seed", 4), "seed 4", "int8 + k-bit preparation, batch 4"),
        (("colab", 4), "colab 4x4", "NF4 + checkpointing, batch 4 x 4"),
    ]
}
_PEAK_TFLOPS = {"H200": 814.0, "H100": 790.0, "A100": 312.0, "L4": 121.0, "A10": 125.0, "T4": 65.0}
# the smoke profile on a 2-core CPU, tiny model (notebook 06 in this repository, `make course`,
# 2026-11-28: 5,322 tokens/s, 60 steps in 19 s on an idle machine; a busy one is slower.
# 2026-11-30: four passes, 56 steps, 25-30 s on a quiet machine)
_SMOKE = Reference(5_300, 0.1, "measured: 2 CPU cores, tiny model")


def reference(profile: Profile, hw: Hardware) -> Reference | None:
    """The reference figure for this profile on this hardware, or None when there is none."""
    if profile.name == "smoke":
        return _SMOKE if profile.uses_tiny_model else None
    base = _H200.get((profile.name, profile.batch_size))
    if base is None or profile.model.split("/")[-1] != "xgen-7b-8k-base":
        return None
    card = next((k for k in _PEAK_TFLOPS if k in hw.name.upper()), None)
    if card == "H200":
        return base
    if card is None:
        return None
    scale = _PEAK_TFLOPS[card] / _PEAK_TFLOPS["H200"]
    return Reference(base.tokens_per_second * scale, base.peak_gib,
                     f"scaled from the H200 to {card} by peak TFLOP/s, not measured")


def readme_rows() -> list[tuple[str, str, Reference, int]]:
    """(profile, card, reference, tokens of one run) for the README's time table."""
    return [
        ("gpu", "H200", _H200[("gpu", 8)], ALPACA_EPOCH_TOKENS),
        ("gpu", f"40 GiB card (batch 4; under {GPU_BATCH_8_GIB} GiB)", _H200[("gpu", 4)], ALPACA_EPOCH_TOKENS),
        ("seed", "H200", _H200[("seed", 4)], ALPACA_EPOCH_TOKENS),
        ("colab", "H200", _H200[("colab", 4)], COLAB_TOKENS),
    ]


def minutes(tokens: int, ref: Reference) -> float:
    return tokens / ref.tokens_per_second / 60


def training_tokens(train_dataset: Any) -> int:
    """Tokens one epoch trains on: the packed rows' lengths (padding-free, so no pad tokens)."""
    return sum(len(ids) for ids in train_dataset["input_ids"])


def planned_tokens(profile: Profile, train_dataset: Any) -> int:
    """Tokens the whole run trains on: ``epochs`` passes, or ``max_steps`` steps when set.

    With ``max_steps``, each pass over the data ends with a partial step (its last rows), as the
    trainer's data loader does: 60 steps of 8 over 114 packed rows read 4 x 114 rows, not 480."""
    import math

    tokens = training_tokens(train_dataset)
    if profile.max_steps > 0:
        rows, per_step = max(len(train_dataset), 1), profile.batch_size * profile.grad_accum
        steps_per_epoch = math.ceil(rows / per_step)
        passes, rest = divmod(profile.max_steps, steps_per_epoch)
        read = passes * rows + min(rows, rest * per_step)
        return round(read * tokens / rows)
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
