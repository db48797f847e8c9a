"""What a notebook shows while the libraries work (notebooks 02-09).

- :func:`quiet_library_bars` (every notebook's first cell): the progress bars of ``datasets``
  ("Map: 0%") and of transformers' weight loading and saving ("Loading weights", "Writing model
  shards") are off. They are widgets: in a saved notebook or on the course site their last state is
  lost and a reader sees them frozen at 0 %, and they ask nothing of the learner (the cells print
  what was done). The Trainer's own training bar stays, and so do the Hub's download bars (a 13.8 GB
  download should show its progress).
- :func:`quiet_harness` (notebook 09, around ``lm_eval.simple_evaluate``): lm-eval's own progress bars
  (three per model and task, plain ``tqdm`` on stderr, so a saved notebook keeps every redraw as a
  fragment) are off inside the block, and two of its log messages are dropped everywhere: the hint that
  custom kwargs "can be passed to ``--metadata``" (the course's task takes none) and the guess that a
  model "appears to be an instruct or chat variant" (a guess from words such as "chat" or "inst" in
  the model's folder names; notebook 09 already passes ``apply_chat_template=True`` for the one model
  that learned a chat template, 08's, and a folder name must not ask it for any other). Any other
  lm-eval warning, and every error, still shows.
- :func:`tidy_progress` (notebooks 06 and 08, one line after ``SFTTrainer(...)``; later trainers of the
  kernel get the same display): the Trainer's
  notebook display shows trl's token count as an integer (it logs a float, ``101868.000000``), and
  an ``evaluate()`` outside ``train()`` no longer prints a one-row table of "No log" cells; the cell
  prints the eval loss itself. Every display it shows carries a text form beside its HTML (the bar's
  label and the metrics table as aligned text), and a finished evaluation bar keeps a one-line summary
  instead of an empty HTML output: read outside Jupyter (nbconvert to markdown, a text viewer), the
  trainer's outputs are no longer ``<IPython.core.display.HTML object>``.

Importing this module is cheap: transformers is imported by the functions that need it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    if "transformers.utils.logging" in sys.modules:
        _quiet_transformers_bars(sys.modules["transformers.utils.logging"])
    elif not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        # not imported yet: quiet it when something imports it, rather than spend the seconds its
        # import takes in a kernel that never needs it (notebook 02)
        sys.meta_path.insert(0, _AfterImport("transformers.utils.logging", _quiet_transformers_bars))


def _quiet_transformers_bars(transformers_logging: Any) -> None:
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars

    hub_bars_were_off = are_progress_bars_disabled()
    transformers_logging.disable_progress_bar()  # "Loading weights", "Writing model shards"
    if not hub_bars_were_off and "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ:
        enable_progress_bars()  # transformers turned the Hub's bars off too: downloads keep theirs


class _AfterImport:
    """A one-shot import hook: the module ``name`` is found by the other finders as usual, and
    ``callback(module)`` runs once it has been executed. The hook then leaves ``sys.meta_path``."""

    def __init__(self, name: str, callback: Any) -> None:
        self.name, self.callback = name, callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = next((found for finder in sys.meta_path if hasattr(finder, "find_spec")
                     for found in [finder.find_spec(fullname, path, target)] if found is not None), None)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module, callback = spec.loader.exec_module, self.callback

        def exec_then_call(module: Any) -> None:
            exec_module(module)
            callback(module)

        spec.loader.exec_module = exec_then_call  # this module's own loader instance
        return spec


# lm-eval's log messages that ask nothing of the learner: (logger, a piece of the message)
HARNESS_HINTS = (
    ("lm_eval.api.task", "Custom kwargs can be passed to `--metadata`"),
    ("lm_eval.evaluator", "or chat variant but chat template is not applied"),
)


class _DropHint(logging.Filter):
    """Drops the log records whose message contains ``text`` (spaces and line breaks compared as one
    space); lets every other record through."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in " ".join(str(record.msg).split())  # lm-eval wraps long messages


def _drop_harness_hints() -> None:
    for name, text in HARNESS_HINTS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropHint) and f.text == text for f in logger.filters):
            logger.addFilter(_DropHint(text))


@contextmanager
def quiet_harness() -> Iterator[None]:
    """Inside the block, every ``tqdm`` bar is created disabled (lm-eval's: building the requests,
    "Tokenizing inputs", "Running loglikelihood requests"); lm-eval's two hints are dropped (see the
    module's docstring). On the GPU profiles that includes the bars of the harness's small dataset
    downloads. And the harness records the git commit of the current directory by running ``git``,
    whose "fatal: not a git repository" reaches the notebook in any folder outside a checkout (Colab's
    /content): that one call's stderr is discarded. Errors are untouched: they raise as usual. The bars
    come back on leaving the block."""
    import lm_eval.evaluator
    from tqdm import std

    _drop_harness_hints()
    original = std.tqdm.__dict__["__init__"]
    git_hash = lm_eval.evaluator.get_git_commit_hash

    def silent_init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        original.__get__(self, type(self))(*args, **kwargs)

    def git_hash_quietly() -> Any:
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)  # git, a child process, writes to file descriptor 2 itself
        try:
            return git_hash()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)

    std.tqdm.__init__ = silent_init
    lm_eval.evaluator.get_git_commit_hash = git_hash_quietly
    try:
        yield
    finally:
        std.tqdm.__init__ = original
        lm_eval.evaluator.get_git_commit_hash = git_hash


_CALLBACK: type | None = None


class _Shown:
    """One display: the same content as HTML (Jupyter, the course site) and as text (nbconvert to
    markdown or text, a terminal viewer), instead of an ``IPython.display.HTML`` whose text form is
    ``<IPython.core.display.HTML object>``."""

    def __init__(self, html: str, text: str) -> None:
        self.html, self.text = html, text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def _text_table(rows: list[list[Any]]) -> str:
    """transformers' metrics table (header row, then value rows) as right-aligned text columns."""
    cells = [[f"{x:.6f}" if isinstance(x, float) else str(x) for x in row] for row in rows]
    columns = max(len(row) for row in cells)
    cells = [row + [""] * (columns - len(row)) for row in cells]  # a column added later: earlier rows lack it
    widths = [max(len(row[i]) for row in cells) for i in range(columns)]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)


def _show(bar: Any, shown: _Shown) -> None:
    from transformers.utils import notebook

    if bar.output is None:
        bar.output = notebook.disp.display(shown, display_id=True)
    else:
        bar.output.update(shown)


def _course_notebook_callback() -> type:
    """transformers' notebook display, with integer token counts, no table outside training and a
    text form for every output."""
    global _CALLBACK
    if _CALLBACK is None:
        import time

        from transformers.trainer_utils import has_length
        from transformers.utils.notebook import (
            NotebookProgressBar,
            NotebookProgressCallback,
            NotebookTrainingTracker,
            format_time,
            html_progress_bar,
            text_to_html_table,
        )

        class EvaluationBar(NotebookProgressBar):
            """The bar of an ``evaluate()`` outside training; once closed, a line that says what ran."""

            def display(self) -> None:
                self.html_code = html_progress_bar(self.value, self.total, self.prefix, self.label, self.width)
                _show(self, _Shown(self.html_code, f"{self.prefix} {self.label}"))

            def close(self) -> None:
                if self.output is not None:
                    took = format_time(time.time() - self.start_time)
                    line = f"{self.prefix}: {self.value}/{self.total} batches in {took}"
                    self.output.update(_Shown(f"<div>{line}</div>", line))

        class TrainingTracker(NotebookTrainingTracker):
            """The training bar and its metrics table, in HTML and as text."""

            def display(self) -> None:
                self.html_code = html_progress_bar(self.value, self.total, self.prefix, self.label, self.width)
                text = f"Training {self.label}"
                if self.inner_table is not None:
                    self.html_code += text_to_html_table(self.inner_table)
                    text += "\n" + _text_table(self.inner_table)
                if self.child_bar is not None:
                    self.html_code += self.child_bar.html_code
                    text += f"\nEvaluating {self.child_bar.label}"
                _show(self, _Shown(self.html_code, text))

        class CourseNotebookProgress(NotebookProgressCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                super().on_train_begin(args, state, control, **kwargs)
                self.training_tracker = TrainingTracker(state.max_steps, self.training_tracker.inner_table[0])

            def on_prediction_step(self, args: Any, state: Any, control: Any, eval_dataloader: Any = None,
                                   **kwargs: Any) -> None:
                if self.prediction_bar is None and self.training_tracker is None and has_length(eval_dataloader):
                    self.prediction_bar = EvaluationBar(len(eval_dataloader), prefix="Evaluation")
                    self.prediction_bar.update(1)
                    return
                super().on_prediction_step(args, state, control, eval_dataloader=eval_dataloader, **kwargs)

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
    """Swap the Trainer's notebook display for the course's (see the module's docstring). Trainers
    built later in the same kernel get the course's display too (transformers picks it from
    ``transformers.trainer.DEFAULT_PROGRESS_CALLBACK``), so a second trainer in the notebook shows the
    same. Outside a notebook (a script, ``disable_tqdm=True``) the trainer has no notebook display:
    nothing changes. Returns the trainer."""
    from transformers.utils.notebook import NotebookProgressCallback

    if any(type(c) is NotebookProgressCallback for c in trainer.callback_handler.callbacks):
        trainer.remove_callback(NotebookProgressCallback)
        trainer.add_callback(_course_notebook_callback())
        module = sys.modules.get("transformers.trainer")
        if module is not None and getattr(module, "DEFAULT_PROGRESS_CALLBACK", None) is NotebookProgressCallback:
            module.DEFAULT_PROGRESS_CALLBACK = _course_notebook_callback()
    return trainer
