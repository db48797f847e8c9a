"""The exercise checkers of notebook 06 (training): ``check_steps_per_epoch``, ``check_completion_mask``,
``check_lr_schedule``, ``check_unpacked_rows``.

How a checker answers: see :mod:`course_utils.exercises`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._common import (
    _call,
    _not_answered,
    _number,
    _right,
    _same,
    _share_hints,
    _unanswered,
    _whole,
    _wrong,
    asks_for,
)

__all__ = ['check_steps_per_epoch', 'check_completion_mask', 'check_lr_schedule', 'check_unpacked_rows']


def _steps_per_epoch(trainer: Any, batch_size: int | None = None, grad_accum: int | None = None) -> int:
    """Optimizer steps in one pass over the trainer's (packed) rows, the way Trainer counts them, at the
    trainer's own batch size and accumulation or at the ones given."""
    args = trainer.args
    rows = len(trainer.train_dataset)
    batch = batch_size or args.per_device_train_batch_size
    accum = grad_accum or args.gradient_accumulation_steps
    per_batch = batch * max(int(getattr(args, "world_size", 1)), 1)
    batches = rows // per_batch if getattr(args, "dataloader_drop_last", False) else math.ceil(rows / per_batch)
    return max(math.ceil(batches / accum), 1)


@asks_for("number")
def check_steps_per_epoch(answer: int | None, trainer: Any, batch_size: int | None = None,
                          grad_accum: int | None = None) -> bool:
    """Notebook 06, exercise 1: optimizer steps in one epoch over ``trainer.train_dataset``.

    One step takes ``batch_size x grad_accum`` rows (per process) of the *packed* dataset; a partial
    last batch is a step too. Both default to the trainer's own ``per_device_train_batch_size`` and
    ``gradient_accumulation_steps``; notebook 06 asks for other values than the run's.
    """
    if _unanswered(answer):
        return _not_answered("work out the optimizer steps in one epoch.")
    value = _number(answer)
    if value is None:
        return _wrong(f"expected a number of steps, got {type(answer).__name__}.",
                      "divide rows by the rows one step takes, and round.")
    args = trainer.args
    rows = len(trainer.train_dataset)
    batch = batch_size or args.per_device_train_batch_size
    accum = grad_accum or args.gradient_accumulation_steps
    truth = _steps_per_epoch(trainer, batch, accum)
    if value == truth:
        extra = ""
        if args.max_steps > 0 and batch_size is None and grad_accum is None:
            extra = f"; this run's max_steps={args.max_steps} is {args.max_steps / truth:.1f} epochs"
        return _right(f"{rows} packed rows / ({batch} x {accum} rows per step) -> {truth} steps{extra}.")
    own = _steps_per_epoch(trainer)
    if value != int(value) or value == rows // (batch * accum):
        hint = "a partial last batch is still a step: round up."
    elif accum > 1 and value == math.ceil(rows / batch):
        hint = "with gradient accumulation, one optimizer step uses several batches: divide by it too."
    elif value == rows:
        hint = "count steps, not rows: one step takes a whole batch."
    elif value == own and (batch, accum) != (args.per_device_train_batch_size, args.gradient_accumulation_steps):
        hint = (f"that is the run's own count; use the settings asked for: {batch} rows per batch, "
                f"{accum} batches per step.")
    else:
        hint = ("count the packed rows (len(trainer.train_dataset)), not the examples, and divide "
                "by batch size x gradient accumulation.")
    return _wrong(f"{answer} is not the number of steps in one epoch.", hint)


def _as_list(value: Any) -> list[int] | None:
    """A list of whole numbers from a list, tuple, tensor or array, else None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and all(_whole(x) is not None for x in value):
        return [int(x) for x in value]
    return None


def _segments(packed: Any) -> dict[tuple[int, ...], tuple[int, int, int]]:
    """Every example inside the packed rows: its input ids -> (row, start, length)."""
    index: dict[tuple[int, ...], tuple[int, int, int]] = {}
    for i, row in enumerate(packed):
        ids = list(row["input_ids"])
        start = 0
        for length in row.get("seq_lengths") or [len(ids)]:
            index.setdefault(tuple(ids[start:start + length]), (i, start, length))
            start += length
    return index


def _collated_labels(trainer: Any, row: int, start: int, length: int) -> list[int]:
    """The labels of one example as the trainer's collator hands them to the model (the dataset's
    ``labels`` when there is no collator)."""
    packed_row = trainer.train_dataset[row]
    collator = getattr(trainer, "data_collator", None)
    labels = collator([packed_row])["labels"][0].tolist() if collator is not None else list(packed_row["labels"])
    return labels[start:start + length]


@asks_for("code")
def check_completion_mask(answer: Any, trainer: Any, examples: Any, tries: int = 8) -> bool:
    """Notebook 06, exercise 2: a function ``mask_example(example)`` that turns a prompt/completion row
    into ``(input_ids, labels)`` as trl does: the ids of prompt + completion + EOS; the label -100 on the
    prompt's tokens, the id itself on the completion's and the EOS.

    Called on the first rows of ``examples`` (notebook 06's ``train_data``) until ``tries`` of them are
    compared: each one's ids are looked up among the examples packed in ``trainer.train_dataset``
    (``seq_lengths``), and its labels compared with those the trainer's collator gives that row. An
    example longer than ``max_length`` (cut in the packed data) is skipped.
    """
    if _unanswered(answer):
        return _not_answered("write mask_example(example) -> (input_ids, labels), then answer = mask_example.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define mask_example(example) with def and pass the function itself (answer = mask_example).")
    index = _segments(trainer.train_dataset)
    max_length = getattr(trainer.args, "max_length", None)
    compared = prompt_tokens = loss_tokens = 0
    for k in range(len(examples)):
        if compared == tries:
            break
        got, error = _call(answer, examples[k])
        if error:
            return _wrong(f"mask_example(train_data[{k}]) raised {error}.",
                          "example is one row of train_data: a dict with 'prompt' and 'completion'.")
        if got is None and compared == 0:
            return _not_answered("your mask_example returns None: write its body.")
        if isinstance(got, dict) and {"input_ids", "labels"} <= set(got):
            got = (got["input_ids"], got["labels"])
        pair = list(got) if isinstance(got, (tuple, list)) and len(got) == 2 else []
        ids, labels = (_as_list(x) for x in pair) if pair else (None, None)
        if ids is None or labels is None:
            return _wrong(f"mask_example(train_data[{k}]) gave {str(got)[:60]!r}.",
                          "return a pair of lists: (input_ids, labels).")
        if len(ids) != len(labels):
            return _wrong(f"train_data[{k}]: {len(ids)} input ids but {len(labels)} labels.",
                          "one label per input id: -100 on the prompt's tokens, the id itself elsewhere.")
        hit = index.get(tuple(ids))
        if hit is None:
            if max_length is not None and len(ids) > max_length:
                continue  # cut to max_length in the packed data: nothing whole to compare with
            longer = [key for key in index if len(key) == len(ids) + 1 and list(key[:-1]) == ids]
            if longer:
                hint = "one id is missing at the end: trl appends the EOS token to every completion."
            elif tuple(ids[1:]) in index:
                hint = "one id too many in front: tokenize with add_special_tokens=False (no BOS here)."
            elif tuple(ids[:-1]) in index:
                hint = "one id too many at the end: append the EOS once."
            else:
                hint = ("tokenize example['prompt'] + example['completion'] without special tokens and append "
                        "tokenizer.eos_token_id.")
            return _wrong(f"the input ids of train_data[{k}] are not those of any example the trainer packed.", hint)
        truth = _collated_labels(trainer, *hit)
        if labels != truth:
            first_mine = next((i for i, x in enumerate(labels) if x != -100), len(labels))
            first_truth = next((i for i, x in enumerate(truth) if x != -100), len(truth))
            if labels == ids:
                hint = "every token carries loss in yours: give the prompt's tokens the label -100."
            elif all(x == -100 for x in labels):
                hint = "no token carries loss in yours: the completion and the EOS keep their ids as labels."
            elif labels[:-1] == truth[:-1] and labels[-1] == -100:
                hint = "the EOS carries loss too: that is how the model learns to stop. Keep its id."
            elif first_mine != first_truth:
                hint = (f"your loss starts at token {first_mine}, the trainer's at token {first_truth}: the prompt "
                        "has as many tokens as tokenizer(example['prompt'], add_special_tokens=False) gives.")
            else:
                hint = "labels are -100 on the prompt, then the same ids as input_ids."
            return _wrong(f"the labels of train_data[{k}] differ from the collator's.", hint)
        compared += 1
        prompt_tokens += sum(x == -100 for x in truth)
        loss_tokens += sum(x != -100 for x in truth)
    if compared == 0:
        return _wrong("no row of train_data could be compared: all are longer than max_length.",
                      "call the checker with rows that fit max_length.")
    return _right(f"{compared} examples of train_data: your ids are the packed ones and your labels the "
                  f"collator's; {loss_tokens} of their {prompt_tokens + loss_tokens} tokens carry loss "
                  f"({loss_tokens / (prompt_tokens + loss_tokens):.0%}), answers and EOS.")


def _total_steps(trainer: Any) -> int:
    """Optimizer steps of the run, as the trainer counts them (``max_steps`` when positive)."""
    state = getattr(trainer, "state", None)
    if state is not None and getattr(state, "max_steps", 0) > 0:
        return int(state.max_steps)
    args = trainer.args
    return args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * _steps_per_epoch(trainer))


def _scheduler_rates(args: Any, total: int) -> list[float]:
    """The rate of each step 1..total, from transformers' own scheduler for ``args``."""
    import torch
    from transformers import get_scheduler

    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=args.learning_rate)
    scheduler = get_scheduler(args.lr_scheduler_type, optimizer, num_warmup_steps=args.get_warmup_steps(total),
                              num_training_steps=total, scheduler_specific_kwargs=args.lr_scheduler_kwargs or {})
    rates = []
    for _ in range(total):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def _linear(step: int, warmup: int, total: int) -> float:
    """The linear schedule's factor for scheduler step ``step`` (0-based)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


@asks_for("code")
def check_lr_schedule(answer: Any, trainer: Any) -> bool:
    """Notebook 06, exercise 3: a function ``rate_at(step)`` that gives the learning rate of optimizer
    step ``step`` (1, 2, ..., the run's last) from ``trainer.args`` alone.

    Compared, step by step, with transformers' own scheduler built for the run (``get_scheduler`` with
    ``lr_scheduler_type``, ``args.get_warmup_steps(total)`` and the run's total steps: ``max_steps`` when
    positive, else the epochs'). The first step runs at the scheduler's factor for step 0.
    """
    if _unanswered(answer):
        return _not_answered("write rate_at(step), then answer = rate_at.")
    if not callable(answer):
        return _wrong(f"expected a function, got {type(answer).__name__}.",
                      "define rate_at(step) with def and pass the function itself (answer = rate_at).")
    args = trainer.args
    total = _total_steps(trainer)
    truth = _scheduler_rates(args, total)
    mine = []
    for step in range(1, total + 1):
        got, error = _call(answer, step)
        if error:
            return _wrong(f"rate_at({step}) raised {error}.", "step runs from 1 to the run's last step.")
        value = _number(got)
        if value is None:
            if got is None and step == 1:
                return _not_answered("your rate_at returns None: write its body.")
            return _wrong(f"rate_at({step}) gave {got!r}, not a number.", "return the learning rate, one number.")
        mine.append(value)
    wrong = [s for s, (a, b) in enumerate(zip(mine, truth), start=1) if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)]
    warmup = args.get_warmup_steps(total)
    if not wrong:
        peak = truth.index(max(truth)) + 1
        return _right(f"all {total} steps match the trainer's scheduler: {warmup} warm-up steps from 0, the peak "
                      f"{max(truth):g} at step {peak}, then down to {truth[-1]:.2g} at the last step.")
    lr = args.learning_rate

    def same(rates: Sequence[float]) -> bool:
        return all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12) for a, b in zip(mine, rates))

    ratio = args.warmup_steps
    epoch_total = math.ceil(args.num_train_epochs * _steps_per_epoch(trainer))
    if args.lr_scheduler_type != "linear":
        hint = f"this run's schedule is {args.lr_scheduler_type!r}: see transformers' get_scheduler."
    elif same([r / lr for r in truth]):
        hint = "that is the scheduler's factor: multiply it by args.learning_rate."
    elif same([lr * _linear(s, warmup, total) for s in range(1, total + 1)]):
        hint = "yours run one step ahead: step s runs at the factor of s - 1, so the first step has a rate of 0."
    elif ratio < 1 and same([lr * _linear(s - 1, math.floor(total * ratio), total) for s in range(1, total + 1)]):
        hint = "the trainer rounds the warm-up up to a whole step: math.ceil(total * warmup_steps)."
    elif args.max_steps > 0 and epoch_total != total and same(
            [lr * _linear(s - 1, args.get_warmup_steps(epoch_total), epoch_total) for s in range(1, total + 1)]):
        hint = f"this run stops after max_steps={args.max_steps}: the schedule is built for those steps, not the epochs'."
    elif all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(mine[:warmup], truth[:warmup])):
        hint = (f"the warm-up is right; after it the rate falls in a straight line from {lr:g} to 0 at step "
                f"{total + 1}: lr * (total - (s - 1)) / (total - warmup).")
    else:
        hint = (f"{warmup} warm-up steps (warmup_steps={ratio:g} of {total}, rounded up): step s runs at "
                "lr * (s - 1) / warmup while s - 1 < warmup, then at lr * (total - (s - 1)) / (total - warmup).")
    step = wrong[0]
    return _wrong(f"rate_at({step}) gave {mine[step - 1]:.4g}; the trainer's scheduler runs step {step} at "
                  f"{truth[step - 1]:.4g} ({len(wrong)} of {total} steps differ).", hint)


def _padding_in_order(lengths: Sequence[int], batch: int) -> float:
    """Share of padding when rows are batched in order and each batch is padded to its longest row."""
    padded = pad = 0
    for start in range(0, len(lengths), batch):
        chunk = lengths[start:start + batch]
        padded += max(chunk) * len(chunk)
        pad += max(chunk) * len(chunk) - sum(chunk)
    return pad / padded if padded else 0.0


@asks_for("code")
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
