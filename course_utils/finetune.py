"""Notebook 06 as a script: the same recipe, run from a terminal or on several GPUs.

    python -m course_utils.finetune --profile smoke
    accelerate launch --multi_gpu --num_processes 4 -m course_utils.finetune --profile gpu  # data parallel

``make test`` runs the last form with two CPU processes (``--multi_gpu`` selects accelerate's
torchrun launcher; with no GPU it falls back to CPU processes talking over gloo; accelerate 1.15's
``--cpu --num_processes 2`` would need MPI instead).

It trains through :func:`course_utils.runs.run`, which builds the trainer with
:func:`course_utils.recipe.make_trainer`, exactly the configuration notebook 06 writes out (a test
checks the two are equal). An interrupted run resumes from its last checkpoint when started again
(``--fresh`` discards the old checkpoints and starts over); resuming with other settings or
other data stops with a message, as does a second run into the same output folder. A course
error is printed as its cause, where and fix on stderr, with exit status 2. Notebooks never
import this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CourseError
from .profile import get_profile, output_path
from .runs import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.finetune", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", help="smoke, colab, gpu or seed (default: COURSE_PROFILE or the hardware)")
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    parser.add_argument("--output-dir", type=Path, help="where checkpoints and the adapter go")
    parser.add_argument("--fresh", action="store_true",
                        help="discard the checkpoints of an earlier run in the output folder and start over")
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile)
        if args.max_steps is not None:
            profile = profile.replace(max_steps=args.max_steps)
        if args.output_dir is not None:
            profile = profile.replace(output_dir=output_path(args.output_dir))
        trainer = run(profile, resume=not args.fresh)
    except CourseError as err:  # the cause, where, and the fix; no traceback
        print("error: " + "\n".join(err.lines()), file=sys.stderr)
        return 2
    _leave_process_group()
    if trainer.is_world_process_zero():
        from .recipe import loss_drop, loss_history, tokens_per_second

        history = loss_history(trainer)
        trained = [r for r in history if "loss" in r]
        fell = f"loss fell {loss_drop(history):.0%}" if len(trained) > 1 else "too few steps for a loss trend"
        speed = tokens_per_second(trainer)
        print(f"profile {profile.name}: {trainer.state.global_step} steps on "
              f"{trainer.args.world_size} process(es)" + (f", {speed:,.0f} tokens/s" if speed else "")
              + f", {fell}; adapter in {profile.adapter_dir}")
    return 0


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
