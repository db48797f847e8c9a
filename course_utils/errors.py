"""Errors a learner can act on: one line of cause, one line of fix.

Every error the course raises on purpose is a :class:`CourseError`. Inside Jupyter, importing
``course_utils`` registers a handler that prints these as two short lines instead of a long
traceback (set ``COURSE_FULL_TRACEBACKS=1`` to see the whole stack).
"""

from __future__ import annotations

import os


class CourseError(Exception):
    """Base class: ``cause`` says what went wrong, ``fix`` what to do about it."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(cause, fix)
        self.cause = cause
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.cause}\n  Fix: {self.fix}"


class ProfileError(CourseError, ValueError):
    """An unknown profile, or a profile this hardware cannot run."""


class DataError(CourseError, ValueError):
    """A data source that is missing, unreadable, empty or not in Alpaca's schema."""


class ModelLoadError(CourseError, OSError):
    """A model or tokenizer that cannot be found or loaded."""


class MissingArtifactError(CourseError, FileNotFoundError):
    """The output of an earlier notebook (say, the adapter of notebook 06) is missing."""


class ConfigError(CourseError, ValueError):
    """A setting that cannot work, such as a ``max_length`` shorter than the prompt template."""


class TrainingError(CourseError, RuntimeError):
    """Training stopped for a reason with a known fix (out of memory, say)."""


def _short_handler(shell, etype, evalue, tb, tb_offset=None) -> list[str]:
    # Returning the lines (not printing them) keeps it an error: the cell still fails, and
    # "Run all" stops there, but the learner reads two lines instead of a whole stack.
    return [f"{etype.__name__}: {evalue}"]


def install_notebook_handler() -> None:
    """Show :class:`CourseError` as two lines in IPython (no-op elsewhere)."""
    if os.environ.get("COURSE_FULL_TRACEBACKS"):
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CourseError,), _short_handler)
