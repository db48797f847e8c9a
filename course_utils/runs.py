"""A whole training run that survives interruptions (notebooks 06 and 07, the script mirror).

:func:`run` loads, builds the trainer with :func:`course_utils.recipe.make_trainer` (the one
recipe), trains, resuming an unfinished run from its last checkpoint, and saves the adapter.
The command line around it is :mod:`course_utils.finetune`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import MissingArtifactError
from .profile import Profile


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
    from .data import train_eval_split
    from .recipe import make_trainer, save_adapter, train

    tokenizer = load_tokenizer(profile.model)
    train_data, eval_data = train_eval_split(profile)
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
