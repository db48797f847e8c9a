"""The exercise checkers of notebook 06 (training): ``check_steps_per_epoch``, ``check_loss_share``, ``check_warmup_steps``, ``check_unpacked_rows``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._common import (
    _not_answered,
    _number,
    _right,
    _same,
    _share_hints,
    _unanswered,
    _whole,
    _wrong,
)

__all__ = ['check_steps_per_epoch', 'check_loss_share', 'check_warmup_steps', 'check_unpacked_rows']


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
    from ..recipe import tokens_with_loss

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
