"""Notebook 06 as a script: the same recipe, run from a terminal or on several GPUs.

    python -m course_utils.finetune --profile smoke
    python -m course_utils.finetune --profile smoke --format chat   # notebook 08: conversations
    accelerate launch --multi_gpu --num_processes 4 -m course_utils.finetune --profile gpu  # data parallel

``make test`` runs the last form with two CPU processes (``--multi_gpu`` selects accelerate's
torchrun launcher; with no GPU it falls back to CPU processes talking over gloo; accelerate 1.15's
``--cpu --num_processes 2`` would need MPI instead).

It trains through :func:`course_utils.runs.run`, which builds the trainer with
:func:`course_utils.recipe.make_trainer`, exactly the configuration notebook 06 writes out (a test
checks the two are equal). An interrupted run resumes from its last checkpoint when started again
(``--fresh`` discards the old checkpoints and starts over); resuming with other settings or
other data stops with a message, as does a second run into the same output folder. A course
error is printed as its cause, where and fix on stderr, with exit status 2; a course warning as its
cause and advice, without the source line Python's warnings add. Ctrl-C stops with one line that
says at which step and which checkpoint a rerun resumes from, with exit status 130. Notebooks
never import this module.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import CourseError, CourseWarning
from .profile import Profile, get_profile, output_path
from .runs import _is_main_process, latest_checkpoint, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.finetune", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", help="smoke, colab, gpu or seed (default: COURSE_PROFILE or the hardware)")
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    parser.add_argument("--output-dir", type=Path, help="where checkpoints and the adapter go")
    parser.add_argument("--format", choices=("alpaca", "chat"), default="alpaca",
                        help="alpaca: notebook 06's prompt/completion rows (adapter/); chat: notebook 08's "
                        "conversations with the course's chat template and assistant-only loss (adapter-chat/)")
    parser.add_argument("--fresh", action="store_true",
                        help="discard the checkpoints of an earlier run in the output folder and start over")
    args = parser.parse_args(argv)
    profile, watch = None, StepWatch()
    try:
        with short_course_warnings():
            profile = get_profile(args.profile)
            profile = profile.replace(format=args.format)
            if args.max_steps is not None:
                profile = profile.replace(max_steps=args.max_steps)
            if args.output_dir is not None:
                profile = profile.replace(output_dir=output_path(args.output_dir, "--output-dir"))
            trainer = run(profile, resume=not args.fresh, callbacks=[watch])
    except CourseError as err:  # the cause, where, and the fix; no traceback
        print("error: " + "\n".join(err.lines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: where it stopped and what a rerun does, no traceback
        _close_progress_bars()  # else tqdm redraws its bar after the message, at exit
        if _is_main_process():  # (accelerate launch: every process gets the signal; one speaks)
            print(interrupted_message(profile, watch.step, fresh=args.fresh), file=sys.stderr)
        return 130
    _leave_process_group()
    if trainer.is_world_process_zero():
        from .recipe import describe_drop, loss_drop, loss_history, tokens_per_second

        history = loss_history(trainer)
        trained = [r for r in history if "loss" in r]
        fell = describe_drop(loss_drop(history)) if len(trained) > 1 else "too few steps for a loss trend"
        speed = tokens_per_second(trainer)
        print(f"profile {profile.name}: {trainer.state.global_step} steps on "
              f"{trainer.args.world_size} process(es)" + (f", {speed:,.0f} tokens/s" if speed else "")
              + f", {fell}; adapter in {profile.adapter_dir}")
    return 0


def _close_progress_bars() -> None:
    """Close every open tqdm bar now (the trainer's), so that the message after it is the last line."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return
    for bar in list(getattr(tqdm, "_instances", ())):
        try:
            bar.close()
        except Exception:  # pragma: no cover - a bar half torn down already
            pass
    sys.stdout.flush()
    sys.stderr.flush()


class StepWatch:
    """A trainer callback that remembers the last step reached (for the Ctrl-C message)."""

    def __init__(self) -> None:
        self.step: int | None = None  # None: training had not started

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step = state.global_step  # 0, or the step a resumed run continues from

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step = state.global_step

    def __getattr__(self, name: str) -> Any:  # every other event of TrainerCallback: nothing to do
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def interrupted_message(profile: Profile | None, step: int | None, fresh: bool = False) -> str:
    """One line for Ctrl-C: the step reached and the checkpoint a rerun of the command resumes from."""
    stopped = "interrupted" if step is None else f"interrupted at step {step}"
    if profile is None:
        return stopped + ": nothing was trained yet; run the same command again"
    with warnings.catch_warnings():  # an incomplete checkpoint (Ctrl-C while saving) is skipped quietly:
        warnings.simplefilter("ignore")  # the line below names the one that counts
        path, finished = latest_checkpoint(profile.checkpoint_dir) if profile.checkpoint_dir.is_dir() else (None, False)
    if path is None:
        return (f"{stopped}; no complete checkpoint was saved yet (one every {profile.save_steps} steps): "
                "running the same command again starts at step 0")
    where = f"{path.name} in {profile.checkpoint_dir}"
    if fresh:
        return (f"{stopped}; the last complete checkpoint is {where}: run the command again without "
                "--fresh to resume from it (with --fresh it starts over at step 0)")
    if finished:
        return (f"{stopped} after training had finished ({where}): running the same command again "
                "saves its adapter without training again")
    return f"{stopped}; running the same command again resumes from the last complete checkpoint, {where}"


@contextmanager
def short_course_warnings() -> Iterator[None]:
    """Show a :class:`CourseWarning` on stderr as ``warning: cause / Where / Advice``; Python's
    default also prints the file, line and source line it is reported at (this script's)."""
    default = warnings.showwarning

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if isinstance(category, type) and issubclass(category, CourseWarning):
            print(f"warning: {message}", file=sys.stderr if file is None else file)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = default


def _leave_process_group() -> None:
    """Several processes (accelerate launch): wait until rank 0 has saved the adapter, then close
    the process group. A process that exits with the group still open can abort at exit
    ("terminate called without an active exception") and fail the whole launch."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
