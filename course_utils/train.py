"""Notebook 06 as a script: the same functions, run from a terminal or on several GPUs.

    python -m course_utils.train --profile smoke
    accelerate launch --multi_gpu --num_processes 4 -m course_utils.train --profile gpu  # data parallel

``make test`` runs the last form with two CPU processes (``--multi_gpu`` selects accelerate's
torchrun launcher; with no GPU it falls back to CPU processes talking over gloo; accelerate 1.15's
``--cpu --num_processes 2`` would need MPI instead).

It builds the trainer with :func:`course_utils.training.make_trainer`, exactly as notebook 06
does; there is no second copy of the recipe. An interrupted run resumes from its last
checkpoint when started again (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .errors import CourseError, MissingArtifactError
from .profile import Profile, get_profile


def load_training_pairs(profile: Profile) -> tuple[Any, Any]:
    """Prompt/completion rows of the profile's data, split into (train, eval)."""
    from .data import load_alpaca, to_prompt_completion

    pairs = to_prompt_completion(load_alpaca(profile.data, limit=profile.data_limit))
    split = pairs.train_test_split(test_size=profile.eval_rows, seed=0)
    return split["train"], split["test"]


def resumable_checkpoint(checkpoint_dir: Path) -> str | None:
    """The newest ``checkpoint-N`` folder of an *unfinished* run, or None.

    A finished run's last checkpoint is not resumed: rerunning training then starts afresh.
    """
    found = sorted(Path(checkpoint_dir).glob("checkpoint-*"),
                   key=lambda p: int(p.name.rsplit("-", 1)[-1]) if p.name.rsplit("-", 1)[-1].isdigit() else -1)
    for path in reversed(found):
        state = path / "trainer_state.json"
        if not state.is_file():
            continue  # a checkpoint interrupted while being written
        info = json.loads(state.read_text())
        return str(path) if info.get("global_step", 0) < info.get("max_steps", 0) else None
    return None


def run(profile: Profile, resume: bool = True, callbacks: list | None = None, **overrides: Any) -> Any:
    """Load, build the trainer, train (resuming an unfinished run), save the adapter; return the trainer."""
    from .models import load_model, load_tokenizer
    from .training import make_trainer, save_adapter, train

    tokenizer = load_tokenizer(profile.model)
    train_data, eval_data = load_training_pairs(profile)
    trainer = make_trainer(profile, load_model(profile), tokenizer, train_data, eval_data, **overrides)
    for callback in callbacks or []:
        trainer.add_callback(callback)
    checkpoint = resumable_checkpoint(profile.checkpoint_dir) if resume else None
    train(trainer, resume_from_checkpoint=checkpoint)
    if trainer.is_world_process_zero():
        save_adapter(trainer, profile.adapter_dir)
    return trainer


def ensure_adapter(profile: Profile) -> Path:
    """Notebook 06's adapter; the ``smoke`` profile re-creates a missing one (about 30 s)."""
    if (profile.adapter_dir / "adapter_config.json").is_file():
        return profile.adapter_dir
    if not profile.rebuild_missing:
        raise MissingArtifactError(
            f"no trained adapter in {profile.adapter_dir}",
            "run notebooks/06_training.ipynb first (same COURSE_PROFILE and COURSE_OUTPUT_DIR)")
    print(f"no adapter in {profile.adapter_dir}: training one now, as notebook 06 would")
    run(profile)
    return profile.adapter_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", help="smoke, colab, gpu or seed (default: COURSE_PROFILE or the hardware)")
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    parser.add_argument("--output-dir", type=Path, help="where checkpoints and the adapter go")
    parser.add_argument("--fresh", action="store_true", help="ignore checkpoints of an unfinished run")
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile)
        if args.max_steps is not None:
            profile = profile.replace(max_steps=args.max_steps)
        if args.output_dir is not None:
            profile = profile.replace(output_dir=args.output_dir)
        trainer = run(profile, resume=not args.fresh)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if trainer.is_world_process_zero():
        from .training import loss_drop, loss_history, tokens_per_second

        history = loss_history(trainer)
        trained = [r for r in history if "loss" in r]
        fell = f"loss fell {loss_drop(history):.0%}" if len(trained) > 1 else "too few steps for a loss trend"
        speed = tokens_per_second(trainer)
        print(f"profile {profile.name}: {trainer.state.global_step} steps on "
              f"{trainer.args.world_size} process(es)" + (f", {speed:,.0f} tokens/s" if speed else "")
              + f", {fell}; adapter in {profile.adapter_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
