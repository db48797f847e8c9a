"""A whole training run that survives interruptions and never mixes with another (notebooks 06-07,
the script mirror).

:func:`run` loads, builds the trainer with :func:`course_utils.recipe.make_trainer` (the one
recipe), trains, resuming an unfinished run from its last *complete* checkpoint, and saves the
adapter. The command line around it is :mod:`course_utils.finetune`. Notebooks 06 and 08 write the
trainer out themselves and use the two pieces below around ``trainer.train``, in one line
(:func:`training_run`, which also saves the adapter whole)::

    with runs.exclusive(profile.output_dir):                       # one run per folder at a time
        checkpoint = runs.prepare(profile, train_data, eval_data)   # resume only the same run
        trainer.train(resume_from_checkpoint=checkpoint)

What keeps runs apart:

- **a run record** (``checkpoints/run.json``: profile, model, data and a fingerprint of its rows,
  max_steps, seed and the rest of the recipe). Checkpoints are resumed only by a run with the same
  record; any difference stops with a :class:`RunConflictError` listing it. ``fresh=True``
  (``--fresh``) discards the old checkpoints first, so it never resumes an older run;
- **complete checkpoints only**: weights, optimizer, scheduler and a parsable
  ``trainer_state.json``; an incomplete one (a crash or a full disk while saving) is skipped, with
  a warning, for the next older good one;
- **a finished run is not trained again by** :func:`run`: its final checkpoint is restored
  (:func:`restore`) and the adapter saved from it, so a run whose adapter was never written
  gets it without training; ``fresh=True`` trains again. (:func:`prepare` alone, as notebook 06
  uses it, starts a finished run over after discarding its checkpoints, so they never mix);
- **an earlier run's adapter never passes for this one's**: a run that starts at step 0 (fresh, or
  after a finished run) first moves an adapter already there to ``adapter.previous``
  (:func:`set_aside_adapter`), so an interrupted new run leaves no adapter rather than the old one;
- **a lock** (``.run.lock``, ``fcntl.flock``): a second run into the same folder stops with a
  message; the system releases the lock when the process ends, however it ends;
- leftovers of interrupted saves are cleaned (:func:`course_utils.files.recover`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import MissingArtifactError, ModelLoadError, RunConflictError, warn
from .files import atomic_file, discard, real_target, recover
from .files import record as record_output
from .profile import Profile

RECORD = "run.json"
LOCK = ".run.lock"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors", "pytorch_model.bin")
# Fields of the profile that change what a run trains: a checkpoint is resumed only when equal.
RECORD_FIELDS = ("name", "model", "data", "max_steps", "epochs", "precision", "max_length",
                 "batch_size", "grad_accum", "learning_rate", "warmup", "packing", "data_limit",
                 "eval_rows", "lora_r", "lora_alpha", "lora_dropout", "lora_targets")


# ---------------------------------------------------------------- which checkpoint to resume


def _step(path: Path) -> int:
    tail = path.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be resumed from (None when it is complete)."""
    from .checks import check_weights_file

    path = Path(path)
    try:
        state = json.loads((path / "trainer_state.json").read_text())
        if not isinstance(state, dict) or "global_step" not in state:
            return "trainer_state.json has no global_step"
    except FileNotFoundError:
        return "no trainer_state.json"
    except (OSError, ValueError):
        return "trainer_state.json is empty or cut short"
    weights = next((path / w for w in WEIGHT_FILES if (path / w).is_file()), None)
    if weights is None:
        return "no weights"
    try:
        check_weights_file(weights)
    except ModelLoadError as err:
        return err.cause
    for name in ("optimizer.pt", "scheduler.pt"):
        file = path / name
        if not file.is_file():
            return f"no {name}"
        if file.stat().st_size == 0:
            return f"{name} is empty"
    try:
        check_weights_file(path / "optimizer.pt")
    except ModelLoadError:
        return "optimizer.pt is cut short"
    return None


def latest_checkpoint(checkpoint_dir: Path) -> tuple[Path | None, bool]:
    """The newest *complete* ``checkpoint-N`` (skipping broken ones, with a warning) and whether
    the run had finished there."""
    found = sorted((p for p in Path(checkpoint_dir).glob("checkpoint-*") if p.is_dir() and _step(p) >= 0),
                   key=_step, reverse=True)
    broken: list[tuple[Path, str]] = []
    good, finished = None, False
    for path in found:
        problem = checkpoint_problem(path)
        if problem is None:
            state = json.loads((path / "trainer_state.json").read_text())
            good, finished = path, state.get("global_step", 0) >= state.get("max_steps", 0) > 0
            break
        broken.append((path, problem))
    for path, problem in broken:  # say what happens instead: an older good checkpoint, or step 0
        fix = (f"nothing to do: the run continues from {good.name}, the newest complete checkpoint "
               "before it" if good is not None else
               "nothing to do: there is no complete checkpoint before it, so the run starts again at step 0")
        warn(f"checkpoint {path.name} is incomplete ({problem}): it is skipped", fix, where=str(path))
    return good, finished


def run_summary(checkpoint_dir: Path) -> str:
    """How far a run went, from its newest complete checkpoint's ``trainer_state.json``: passes over
    the data (``epoch``), steps, and the last logged learning rate. Notebook 08 compares two runs with it."""
    path, _ = latest_checkpoint(checkpoint_dir)
    if path is None:
        return f"no complete checkpoint in {checkpoint_dir}"
    state = json.loads((path / "trainer_state.json").read_text())
    rates = [entry["learning_rate"] for entry in state.get("log_history", []) if "learning_rate" in entry]
    rate = f", last logged learning rate {rates[-1]:.1e}" if rates else ""
    return f"{state.get('epoch', 0):g} passes in {state['global_step']} steps{rate}"


def resumable_checkpoint(checkpoint_dir: Path) -> str | None:
    """The newest complete checkpoint of an *unfinished* run, or None."""
    path, finished = latest_checkpoint(checkpoint_dir)
    return None if path is None or finished else str(path)


# ---------------------------------------------------------------- what a run is


def data_fingerprint(*datasets: Any) -> str:
    """A hash of the rows themselves (not of a file's path or date): same rows, same hash."""
    digest = hashlib.sha256()
    for ds in datasets:
        if ds is None:
            continue
        digest.update(f"{len(ds)}|{','.join(ds.column_names)}\n".encode())
        table = ds[:]  # whole columns as lists in one step (ds[column] iterates lazily)
        for column in ds.column_names:
            for value in table[column]:
                digest.update(json.dumps(value, ensure_ascii=False, sort_keys=True).encode())
                digest.update(b"\x1e")
    return digest.hexdigest()[:16]


def _model_id(name: str) -> str:
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def run_record(profile: Profile, train_data: Any = None, eval_data: Any = None,
               **overrides: Any) -> dict[str, Any]:
    """What a run is: the profile's recipe, the data's fingerprint, the seed and any overrides."""
    record = {field: getattr(profile, field) for field in RECORD_FIELDS}
    record["profile"] = record.pop("name")
    record["model"] = _model_id(profile.model)
    record["seed"] = overrides.pop("seed", 0)
    record["data_fingerprint"] = data_fingerprint(train_data, eval_data)
    record["overrides"] = {k: repr(v) for k, v in sorted(overrides.items())}
    return record


def read_record(checkpoint_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(checkpoint_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_record(checkpoint_dir: Path, record: dict[str, Any]) -> None:
    record_output(Path(checkpoint_dir), "dir")  # the trainer writes its checkpoints there
    with atomic_file(Path(checkpoint_dir) / RECORD) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def prepare(profile: Profile, train_data: Any = None, eval_data: Any = None, fresh: bool = False,
            keep_finished: bool = False, **overrides: Any) -> str | None:
    """Make the output folder ready for this run; return the checkpoint to resume from, or None.

    Call it before ``trainer.train(resume_from_checkpoint=...)``. ``fresh=True`` discards the
    checkpoints of any earlier run. Otherwise checkpoints of a run with another record stop with
    a :class:`RunConflictError`, and the newest complete checkpoint of the same run is returned.
    When that run had *finished*, its checkpoints are discarded and training starts again (None),
    unless ``keep_finished=True``: then the final checkpoint is returned, for :func:`restore`.
    """
    checkpoint_dir = Path(profile.checkpoint_dir)
    record = run_record(profile, train_data, eval_data, **overrides)
    if _is_main_process():
        for folder in (profile.adapter_dir, profile.merged_dir, checkpoint_dir):
            recover(folder)
        if fresh and checkpoint_dir.exists():
            if any(checkpoint_dir.glob("checkpoint-*")):
                print(f"fresh start: the checkpoints of the earlier run in {checkpoint_dir} are removed")
            discard(checkpoint_dir)
    checkpoints = [p for p in checkpoint_dir.glob("checkpoint-*") if p.is_dir()] if checkpoint_dir.exists() else []
    if checkpoints:
        old = read_record(checkpoint_dir)
        if old is None:
            raise RunConflictError(
                f"{checkpoint_dir} holds checkpoints of a run with no record (another tool, or an "
                "older course version): resuming could mix two runs",
                "start over with --fresh (run(profile, resume=False) / prepare(..., fresh=True)), "
                "or set COURSE_OUTPUT_DIR to a new folder", where=str(checkpoint_dir))
        changed = [k for k in sorted(set(old) | set(record)) if old.get(k) != record.get(k)]
        if changed:
            detail = "; ".join(f"{k}: {old.get(k)!r} -> {record.get(k)!r}" for k in changed[:4])
            raise RunConflictError(
                f"the checkpoints in {checkpoint_dir} belong to a run with other settings or data "
                f"({detail})",
                "go back to the same settings to resume it, start over with --fresh "
                "(run(profile, resume=False) / prepare(..., fresh=True)), or set COURSE_OUTPUT_DIR "
                "to a new folder", where=str(checkpoint_dir))
    path, finished = latest_checkpoint(checkpoint_dir) if checkpoints and not fresh else (None, False)
    if finished and not keep_finished:
        if _is_main_process():
            print(f"the run in {checkpoint_dir} had finished ({path.name}): training again from the start")
            discard(checkpoint_dir)
        path = None
    if _is_main_process():
        if path is None:  # step 0: an adapter already there is an earlier run's, never this one's
            set_aside_adapter(profile.adapter_dir)
        _write_record(checkpoint_dir, record)
    if path is not None:
        print(f"the run had finished at {path.name}: restoring its weights instead of training again "
              "(to train again: --fresh, or run(profile, resume=False) / prepare(..., fresh=True))"
              if finished else f"resuming from {path.name}")
    return None if path is None else str(path)


PREVIOUS = ".previous"


def set_aside_adapter(adapter_dir: Path) -> Path | None:
    """Move an earlier run's adapter to ``adapter.previous`` (replacing an older one there), so that
    a run starting at step 0 never leaves it in place to pass for its own if it is interrupted:
    notebook 07 then says the adapter is missing instead of using the old one. Each step is one
    rename, so the old adapter is always whole under one of the two names. Returns where it went.
    """
    target = real_target(Path(adapter_dir))  # a linked folder (a mounted drive): move what it points to
    recover(target)
    if not target.is_dir() or not any(target.iterdir()):
        return None
    previous = target.with_name(target.name + PREVIOUS)
    record_output(Path(adapter_dir).with_name(Path(adapter_dir).name + PREVIOUS), "dir")
    discard(previous)
    os.rename(target, previous)
    print(f"{adapter_dir} held the adapter of an earlier run: moved to {previous.name} (this run saves "
          "its own when it finishes; until then notebook 07 finds no adapter)")
    return previous


def is_finished(checkpoint: str | Path | None) -> bool:
    """Did the run reach its last step at this checkpoint?"""
    if checkpoint is None:
        return False
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return state.get("global_step", 0) >= state.get("max_steps", 0) > 0


def restore(trainer: Any, checkpoint: str | Path) -> Any:
    """Load a finished run's adapter weights and trainer state (its log, its step) into ``trainer``
    without training: resuming there would run one more step past the end."""
    from peft import set_peft_model_state_dict
    from transformers import TrainerState

    checkpoint = Path(checkpoint)
    weights = checkpoint / "adapter_model.safetensors"
    if weights.is_file():
        from safetensors.torch import load_file

        state_dict = load_file(str(weights))
    else:
        import torch

        state_dict = torch.load(checkpoint / "adapter_model.bin", weights_only=True)
    set_peft_model_state_dict(trainer.model, state_dict)
    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    return trainer


# ---------------------------------------------------------------- one run per folder


_HELD: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth): re-entrant within a process


@contextmanager
def exclusive(output_dir: Path) -> Iterator[None]:
    """Hold the output folder's lock; a second process gets a :class:`RunConflictError`.

    The lock is ``fcntl.flock`` on ``.run.lock``: the system drops it when the holder exits (even
    when killed), so a dead run never leaves it stuck. Only rank 0 of a multi-process run locks.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    if not _is_main_process():
        yield
        return
    from .files import ensure_writable_dir

    folder = ensure_writable_dir(Path(output_dir))
    key = str((folder / LOCK).resolve())
    if key in _HELD:
        fd, depth = _HELD[key]
        _HELD[key] = (fd, depth + 1)
        try:
            yield
        finally:
            _HELD[key] = (fd, _HELD[key][1] - 1)
        return
    record_output(folder / LOCK, "file")  # make clean removes it
    fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise RunConflictError(
            f"another training run ({holder}) is writing to {folder}",
            "wait for it to finish (or stop it), or set COURSE_OUTPUT_DIR / --output-dir to "
            "another folder", where=key) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
    _HELD[key] = (fd, 1)
    try:
        try:
            yield
        except Exception as exc:  # a checkpoint that did not fit on the disk: a course error
            from .errors import OutputError
            from .files import disk_full_error, is_disk_full

            if isinstance(exc, OutputError) or not is_disk_full(exc):
                raise
            raise disk_full_error(folder, exc, folder / "checkpoints") from exc
    finally:
        _HELD.pop(key, None)
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _rng_keeper() -> Any:
    """A trainer callback: the first ``trainer.evaluate()`` before training gives torch's random
    state back as it found it (what ``torch.random.fork_rng`` around that call would do). Evaluating
    starts a DataLoader, which draws a seed; without this, the shuffling and dropout of the run
    would depend on whether it was evaluated first. Once training begins it does nothing."""
    import torch
    from transformers import TrainerCallback

    class EvaluationKeepsTheRandomNumbers(TrainerCallback):
        def __init__(self) -> None:
            self.state = (torch.get_rng_state(),
                          torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.state is not None:
                cpu, cuda = self.state
                torch.set_rng_state(cpu)
                if cuda is not None:
                    torch.cuda.set_rng_state_all(cuda)
                self.state = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.state = None

    return EvaluationKeepsTheRandomNumbers()


class _NothingSaved(Exception):
    pass


@dataclass
class TrainingRun:
    """What :func:`training_run` yields: the checkpoint to resume from (None: step 0) and the
    folder to save into (renamed to ``profile.adapter_dir`` when the block ends)."""

    checkpoint: str | None
    save_dir: Path


@contextmanager
def training_run(trainer: Any, profile: Profile, train_data: Any = None, eval_data: Any = None,
                 **overrides: Any) -> Iterator[TrainingRun]:
    """Notebooks 06 and 08's plumbing around ``evaluate``, ``train`` and ``save_pretrained``, in one line::

        with training_run(trainer, profile, train_data, eval_data) as run:
            before = trainer.evaluate()
            trainer.train(resume_from_checkpoint=run.checkpoint)
            trainer.model.save_pretrained(run.save_dir)

    - :func:`exclusive`: one run at a time in the output folder;
    - :func:`prepare`: the run record; ``run.checkpoint`` resumes only the same unfinished run;
    - an evaluation before training draws no random numbers that training would see;
    - ``run.save_dir`` is an :func:`~course_utils.files.atomic_dir`: it replaces the adapter folder
      whole when the block ends without an error, and only if something was saved into it.
    """
    from .files import atomic_dir

    with exclusive(profile.output_dir):
        checkpoint = prepare(profile, train_data, eval_data, **overrides)
        keeper = _rng_keeper()
        trainer.add_callback(keeper)
        try:
            with atomic_dir(profile.adapter_dir) as folder:
                yield TrainingRun(checkpoint, folder)
                if not any(folder.iterdir()):
                    raise _NothingSaved  # an empty folder must not pass for an adapter
        except _NothingSaved:
            pass
        finally:
            trainer.remove_callback(keeper)


# ---------------------------------------------------------------- the whole run


def run(profile: Profile, resume: bool = True, callbacks: list | None = None, **overrides: Any) -> Any:
    """Load, build the trainer, train (resuming the same unfinished run), save the adapter.

    ``resume=False`` starts fresh (the old checkpoints are discarded). Returns the trainer.
    """
    from .checks import check_model
    from .data import train_eval_split
    from .models import load_model, load_tokenizer
    from .progress import tidy_progress
    from .recipe import make_trainer, save_adapter, train

    with exclusive(profile.output_dir):
        tokenizer = load_tokenizer(profile.model)
        if profile.format == "chat":  # notebook 08: conversations, the course's chat template
            from .chat import chat_train_eval_split, drop_prompt_only, with_chat_template

            with_chat_template(tokenizer)  # saved with the adapter, so notebook 09 and a server use it
            train_data, eval_data = chat_train_eval_split(profile)
            train_data = drop_prompt_only(train_data, tokenizer, profile.max_length)  # as notebook 08 does
        else:
            from .data import drop_prompt_only

            train_data, eval_data = train_eval_split(profile)
            train_data = drop_prompt_only(train_data, tokenizer, profile.max_length)  # as notebook 06 does
        model = load_model(profile)
        check_model(model, tokenizer, profile.max_length)
        trainer = make_trainer(profile, model, tokenizer, train_data, eval_data,
                               **{**_data_parallel_settings(), **overrides})
        tidy_progress(trainer)  # in a notebook (07 or 08 rebuilding an adapter): the course's display
        for callback in callbacks or []:
            trainer.add_callback(callback)
        with trainer.args.main_process_first(desc="preparing the output folder"):
            checkpoint = prepare(profile, train_data, eval_data, fresh=not resume,
                                 keep_finished=True, **overrides)
        if is_finished(checkpoint):  # trained, but the adapter may never have been written
            restore(trainer, checkpoint)
        else:
            train(trainer, resume_from_checkpoint=checkpoint)
        if trainer.is_world_process_zero():
            save_adapter(trainer, profile.adapter_dir)
    return trainer


def _data_parallel_settings() -> dict[str, Any]:
    """Several processes (``accelerate launch --multi_gpu``): every trainable weight (the LoRA
    matrices) gets a gradient at every step, so DDP need not search the autograd graph for unused
    ones. The Trainer only turns that search off by itself for a plain ``PreTrainedModel``; it sees
    a ``PeftModel`` and would search, with a warning. One process: nothing changes, so the
    configuration stays exactly notebook 06's. (Not part of the run record: it changes no result.)"""
    return {"ddp_find_unused_parameters": False} if int(os.environ.get("WORLD_SIZE", "1")) > 1 else {}


def ensure_adapter(profile: Profile) -> Path:
    """Notebook 06's adapter (notebook 08's for ``profile.format == "chat"``); the ``smoke`` profile
    re-creates a missing or broken one (~20 s)."""
    from .checks import check_adapter

    try:
        check_adapter(profile.adapter_dir)
        check_same_data(profile)
        return profile.adapter_dir
    except (MissingArtifactError, ModelLoadError) as err:
        if not profile.rebuild_missing:
            raise
        problem = err.cause
    print(f"{problem}: training one now, as notebook {'08' if profile.format == 'chat' else '06'} would")
    run(profile)
    return profile.adapter_dir


def check_same_data(profile: Profile) -> None:
    """Notebook 07 scores notebook 06's held-out rows: a warning when the run record says the
    adapter was trained on other data (``COURSE_DATA`` changed in between), since the rows 07
    takes as held out may then be rows the adapter trained on, or rows of another task."""
    from .errors import warn

    old = read_record(profile.checkpoint_dir)
    if not old:
        return
    changed = [(key, old[key], getattr(profile, key)) for key in ("data", "data_limit")
               if key in old and _model_id(str(old[key])) != _model_id(str(getattr(profile, key)))]
    if changed:
        detail = "; ".join(f"{key} {a!r} then, {b!r} now" for key, a, b in changed)
        warn(f"the adapter in {profile.adapter_dir} was trained on other data than this profile names "
             f"({detail}): the 'held-out' rows scored here may include rows it trained on",
             f"set COURSE_DATA back to {old['data']!r} to score the adapter on its own held-out rows, "
             "or rerun notebook 06 with the new data", where=str(profile.checkpoint_dir / RECORD))
