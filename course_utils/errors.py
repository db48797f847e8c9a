"""Errors and warnings a learner can act on: the cause, where it is, and the fix.

Every error the course raises on purpose is a :class:`CourseError`. It carries a ``cause`` (one
line), an optional ``where`` (column, row, line of a file, checkpoint...) and a ``fix``.

In Jupyter, IPython asks an exception for ``_render_traceback_()`` before formatting a traceback
(``InteractiveShell.showtraceback`` and ``_get_exception_info`` in IPython 9): a course error
answers with its short lines, so the cell fails ("Run all" stops there) and the learner reads
the cause and the fix instead of a long stack. Set ``COURSE_FULL_TRACEBACKS=1`` to see the whole
stack instead. In a terminal, ``python -m course_utils.finetune`` prints the same lines on stderr
and exits with status 2.

Checks about the learner's *own* data or model that need not stop the run (a text column that
was rebuilt, an adapter saved from another base model...) are :class:`CourseWarning` s, issued
with :func:`warn`: shown once, with the same cause/fix shape, never an ``assert``.
"""

from __future__ import annotations

import os
import sys
import warnings


class CourseError(Exception):
    """Base class: ``cause`` says what went wrong, ``where`` where it is, ``fix`` what to do."""

    def __init__(self, cause: str, fix: str, where: str | None = None) -> None:
        super().__init__(cause, fix, where)
        self.cause = cause
        self.fix = fix
        self.where = where

    def __str__(self) -> str:
        where = f"\n  Where: {self.where}" if self.where else ""
        return f"{self.cause}{where}\n  Fix: {self.fix}"

    def lines(self) -> list[str]:
        """What a learner sees: the type and cause, where, the fix."""
        return [f"{type(self).__name__}: {self.cause}"] + (
            [f"  Where: {self.where}"] if self.where else []) + [f"  Fix: {self.fix}"]

    @property
    def _render_traceback_(self):
        """IPython's hook for a custom traceback. A property so that ``hasattr`` is False (and
        IPython prints the usual full traceback) when ``COURSE_FULL_TRACEBACKS`` is set."""
        if os.environ.get("COURSE_FULL_TRACEBACKS"):
            raise AttributeError("_render_traceback_")
        return self.lines


class ProfileError(CourseError, ValueError):
    """An unknown profile, a bad ``COURSE_*`` setting, or a profile this hardware cannot run."""


class DataError(CourseError, ValueError):
    """A data source that is missing, unreadable, empty or not in Alpaca's schema."""


class ModelLoadError(CourseError, OSError):
    """A model, tokenizer or adapter that cannot be found, loaded, or used for this course."""


class MissingArtifactError(CourseError, FileNotFoundError):
    """The output of an earlier notebook (say, the adapter of notebook 06) is missing."""


class ConfigError(CourseError, ValueError):
    """A setting that cannot work, such as a ``max_length`` shorter than the prompt template."""


class TrainingError(CourseError, RuntimeError):
    """Training stopped for a reason with a known fix (out of memory, say)."""


class RunConflictError(CourseError, RuntimeError):
    """Two runs would mix: another process is writing the same output folder, or the checkpoints
    there belong to a run with other settings or other data."""


class OutputError(CourseError, OSError):
    """The output folder cannot be written (it is a file, or read-only)."""


class CourseWarning(UserWarning):
    """A check on the learner's own data or model that does not stop the run: cause and advice."""

    def __init__(self, cause: str, fix: str, where: str | None = None) -> None:
        text = cause + (f"\n  Where: {where}" if where else "") + f"\n  Advice: {fix}"
        super().__init__(text)
        self.cause, self.fix, self.where = cause, fix, where


def warn(cause: str, fix: str, where: str | None = None, stacklevel: int | None = None) -> CourseWarning:
    """Issue a :class:`CourseWarning` (Jupyter shows it under the cell) and return it.

    By default it is reported at the learner's line: the first caller outside ``course_utils``
    (a notebook cell, a script), not at a line of the course's own code."""
    warning = CourseWarning(cause, fix, where)
    if stacklevel is None:
        stacklevel, frame = 1, sys._getframe(0)
        while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "course_utils":
            frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(warning, stacklevel=stacklevel)
    return warning


def install_notebook_handler() -> None:
    """Kept for compatibility; nothing to install any more.

    Earlier versions registered ``set_custom_exc``, whose return value IPython 9 discards: the
    cell failed with no message at all. :class:`CourseError` now renders itself through
    ``_render_traceback_``; this removes such a handler if an old import left one behind.
    """
    if "IPython" not in sys.modules:  # no shell without it (a script, make clean): skip its import
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and CourseError in tuple(getattr(shell, "custom_exceptions", ()) or ()):
        shell.set_custom_exc((), None)
