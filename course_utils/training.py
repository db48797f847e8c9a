"""The per-token eval loss, and a callback that measures it during a run (notebook 06).

The **per-token eval loss** is the course's measure of a model on held-out rows: the mean cross-entropy
over every answer token of those rows, every token weighted equally. Notebook 06's section 2 computes
it in a few visible lines and checks them against :func:`loss_per_token`; its Appendix B shows why
``trainer.evaluate()``'s eval loss differs (it weights each batch by its rows, not its tokens).

This module imports transformers (``PerTokenEval`` is a ``TrainerCallback``).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback


def loss_per_token(trainer: Any, packed: Any) -> float:
    """The mean loss over every answer token of these packed rows (the labels that are not -100).

    The rows go through ``trainer.data_collator`` in batches of ``per_device_eval_batch_size``, as the
    trainer's own evaluation reads them. ``prediction_step`` returns a batch's *mean* over its answer
    tokens; times the batch's answer tokens, that is the batch's sum. The sum over all batches, divided
    by all answer tokens, is the result. Dropout stays as the model has it: call ``model.eval()`` first.
    """
    size = trainer.args.per_device_eval_batch_size
    total, tokens = 0.0, 0
    for start in range(0, len(packed), size):
        inputs = trainer.data_collator([packed[i] for i in range(start, min(start + size, len(packed)))])
        loss, _, _ = trainer.prediction_step(trainer.model, inputs, prediction_loss_only=True)  # the batch's mean
        count = int((inputs["labels"] != -100).sum())
        total, tokens = total + loss.item() * count, tokens + count
    return total / tokens


class PerTokenEval(TrainerCallback):
    """:func:`loss_per_token` on ``trainer.eval_dataset`` every ``every`` optimizer steps, during
    ``trainer.train()``. ``points`` maps each measured optimizer step to its loss."""

    def __init__(self, trainer: Any, every: int) -> None:
        self.trainer, self.every, self.points = trainer, every, {}

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step % self.every == 0:
            self.trainer.model.eval()  # no dropout; the next training step switches it back on
            self.points[state.global_step] = loss_per_token(self.trainer, self.trainer.eval_dataset)
