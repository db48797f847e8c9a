"""What a notebook shows while the libraries work (notebooks 02-09).

- :func:`quiet_library_bars` (every notebook's first cell): the progress bars of ``datasets``
  ("Map: 0%") and of transformers' weight loading and saving ("Loading weights", "Writing model
  shards") are off. They are widgets: in a saved notebook or on the course site their last state is
  lost and a reader sees them frozen at 0 %, and they ask nothing of the learner (the cells print
  what was done). The Trainer's own training bar stays, and so do the Hub's download bars (a 14 GB
  download should show its progress).
- :func:`tidy_progress` (notebooks 06 and 08, one line after ``SFTTrainer(...)``): the Trainer's
  notebook display shows trl's token count as an integer (it logs a float, ``101868.000000``), and
  an ``evaluate()`` outside ``train()`` no longer prints a one-row table of "No log" cells; the cell
  prints the eval loss itself.

Importing this module is cheap: transformers is imported by the functions that need it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any


def quiet_library_bars() -> None:
    """Turn off the data-processing and weight-loading progress bars; keep the training bar.

    A value you set yourself for ``HF_DATASETS_DISABLE_PROGRESS_BARS`` wins.
    """
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # read when datasets is imported
    if "datasets" in sys.modules and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1":
        import datasets  # already imported in this kernel: tell it directly

        datasets.disable_progress_bars()
    if importlib.util.find_spec("transformers") is None:
        return
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    hub_bars_were_off = are_progress_bars_disabled()
    transformers_logging.disable_progress_bar()  # "Loading weights", "Writing model shards"
    if not hub_bars_were_off and "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ:
        enable_progress_bars()  # transformers turned the Hub's bars off too: downloads keep theirs


_CALLBACK: type | None = None


def _course_notebook_callback() -> type:
    """transformers' notebook display, with integer token counts and no table outside training."""
    global _CALLBACK
    if _CALLBACK is None:
        from transformers.utils.notebook import NotebookProgressCallback

        class CourseNotebookProgress(NotebookProgressCallback):
            def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                            **kwargs: Any) -> None:
                for key, value in (metrics or {}).items():  # trl logs the token count as a float
                    if key.endswith("num_tokens") and isinstance(value, float) and value.is_integer():
                        metrics[key] = int(value)
                if self.training_tracker is None:  # evaluate() outside train(): no "No log" table
                    if self.prediction_bar is not None:
                        self.prediction_bar.close()
                    self.prediction_bar = None
                    return
                super().on_evaluate(args, state, control, metrics=metrics, **kwargs)

        _CALLBACK = CourseNotebookProgress
    return _CALLBACK


def tidy_progress(trainer: Any) -> Any:
    """Swap the Trainer's notebook display for the course's (see the module's docstring). Outside a
    notebook (a script, ``disable_tqdm=True``) the trainer has no notebook display: nothing changes.
    Returns the trainer."""
    from transformers.utils.notebook import NotebookProgressCallback

    if any(type(c) is NotebookProgressCallback for c in trainer.callback_handler.callbacks):
        trainer.remove_callback(NotebookProgressCallback)
        trainer.add_callback(_course_notebook_callback())
    return trainer
