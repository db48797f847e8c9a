"""Runs never mix and never lose a finished result (issue 11, part 3). One named test per case.

Most tests build checkpoint folders by hand (the files the Trainer writes), so they take
milliseconds; one trains the smoke profile for a few steps to check the whole path.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import files
from course_utils.errors import CourseWarning, RunConflictError
from course_utils.files import atomic_dir, recover
from course_utils.profile import Hardware, get_profile
from course_utils.runs import (exclusive, latest_checkpoint, prepare, read_record, resumable_checkpoint,
                               run, run_summary)

from conftest import make_checkpoint

REPO = Path(__file__).resolve().parent.parent
CPU = Hardware(cuda=False)


def small_data(n=6, tag="a"):
    from datasets import Dataset

    return Dataset.from_dict({"prompt": [f"p{i}{tag}" for i in range(n)], "completion": ["c"] * n})


@pytest.fixture
def profile(tmp_path):
    return get_profile(hardware=CPU, env={"COURSE_OUTPUT_DIR": str(tmp_path / "out")})


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---------------------------------------------------------------- complete checkpoints only


@pytest.mark.parametrize("damage", ["zero_byte_state", "no_optimizer", "no_scheduler", "no_weights",
                                    "truncated_weights", "truncated_optimizer"])
def test_incomplete_newest_checkpoint_is_skipped_for_the_next_good_one(tmp_path, damage):
    make_checkpoint(tmp_path, 4)
    newest = make_checkpoint(tmp_path, 8)
    if damage == "zero_byte_state":  # a full disk while saving
        (newest / "trainer_state.json").write_text("")
    elif damage == "truncated_weights":
        w = newest / "adapter_model.safetensors"
        w.write_bytes(w.read_bytes()[:-4])
    elif damage == "truncated_optimizer":
        o = newest / "optimizer.pt"
        o.write_bytes(o.read_bytes()[:20])
    else:
        name = {"no_optimizer": "optimizer.pt", "no_scheduler": "scheduler.pt",
                "no_weights": "adapter_model.safetensors"}[damage]
        (newest / name).unlink()
    with pytest.warns(CourseWarning, match="checkpoint-8 is incomplete"):
        assert resumable_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")


def test_half_deleted_newest_checkpoint_does_not_hide_the_good_ones(tmp_path):
    make_checkpoint(tmp_path, 5)
    (tmp_path / "checkpoint-10").mkdir()  # rotation or a crash left an empty folder
    with pytest.warns(CourseWarning):
        assert latest_checkpoint(tmp_path) == (tmp_path / "checkpoint-5", False)


def test_incomplete_checkpoint_warning_names_the_older_good_one(tmp_path):
    make_checkpoint(tmp_path, 4)
    (make_checkpoint(tmp_path, 8) / "optimizer.pt").unlink()
    with pytest.warns(CourseWarning) as seen:
        latest_checkpoint(tmp_path)
    assert "continues from checkpoint-4" in str(seen[0].message)
    assert "step 0" not in str(seen[0].message)


def test_incomplete_checkpoint_with_none_before_it_says_step_0(tmp_path):
    (make_checkpoint(tmp_path, 8) / "optimizer.pt").unlink()
    with pytest.warns(CourseWarning) as seen:
        assert latest_checkpoint(tmp_path) == (None, False)
    text = str(seen[0].message)
    assert "starts again at step 0" in text and "resumes from" not in text and "continues from" not in text


def test_finished_checkpoint_is_not_resumable(tmp_path):
    make_checkpoint(tmp_path, 10, max_steps=10)
    assert resumable_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path) == (tmp_path / "checkpoint-10", True)


def test_run_summary_reads_the_newest_complete_checkpoint(tmp_path):
    """Notebook 08's line per run: passes, steps and the last logged rate, from trainer_state.json."""
    import json

    assert run_summary(tmp_path) == f"no complete checkpoint in {tmp_path}"
    for step, rates in ((8, [4e-3, 2e-3]), (10, [4e-3, 2e-3, 4e-4])):
        path = make_checkpoint(tmp_path, step, max_steps=10)
        state = json.loads((path / "trainer_state.json").read_text())
        log = [{"loss": 1.0, "learning_rate": r, "step": i} for i, r in enumerate(rates)] + [{"eval_loss": 1.0}]
        state.update(epoch=step / 2.5, log_history=log)
        (path / "trainer_state.json").write_text(json.dumps(state))
    assert run_summary(tmp_path) == "4 passes in 10 steps, last logged learning rate 4.0e-04"


# ---------------------------------------------------------------- a run record


def test_run_record_is_written_next_to_the_checkpoints(profile):
    prepare(profile, small_data())
    record = read_record(profile.checkpoint_dir)
    for key in ("profile", "model", "data", "data_fingerprint", "max_steps", "seed"):
        assert key in record
    assert record["profile"] == "smoke" and record["max_steps"] == profile.max_steps


def test_resume_with_other_settings_stops_with_a_message(profile):
    prepare(profile, small_data())
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    with pytest.raises(RunConflictError) as err:
        prepare(profile.replace(max_steps=80), small_data())
    assert f"max_steps: {profile.max_steps} -> 80" in err.value.cause and "--fresh" in err.value.fix
    assert prepare(profile, small_data()) == str(profile.checkpoint_dir / "checkpoint-20")  # same run resumes


def test_resume_with_other_data_stops_with_a_message(profile):
    prepare(profile, small_data(tag="a"))
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    with pytest.raises(RunConflictError) as err:
        prepare(profile, small_data(tag="b"))
    assert "data_fingerprint" in err.value.cause


def test_checkpoints_without_a_record_stop_with_a_message(profile):
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    with pytest.raises(RunConflictError) as err:
        prepare(profile, small_data())
    assert "no record" in err.value.cause and "--fresh" in err.value.fix


def test_fresh_discards_the_older_run_and_never_resumes_it(profile):
    prepare(profile.replace(max_steps=80), small_data())
    make_checkpoint(profile.checkpoint_dir, 70, max_steps=80)
    assert prepare(profile, small_data(), fresh=True) is None
    assert not list(profile.checkpoint_dir.glob("checkpoint-*"))
    assert read_record(profile.checkpoint_dir)["max_steps"] == profile.max_steps
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)  # the new run's own checkpoint
    assert prepare(profile, small_data()) == str(profile.checkpoint_dir / "checkpoint-20")


def test_finished_run_started_again_discards_its_checkpoints_first(profile):
    prepare(profile, small_data())
    make_checkpoint(profile.checkpoint_dir, 60, max_steps=60)
    assert prepare(profile, small_data()) is None  # notebook 06: train again, from a clean folder
    assert not list(profile.checkpoint_dir.glob("checkpoint-*"))


def test_finished_run_restored_says_how_to_train_again(profile, capsys):
    prepare(profile, small_data())
    make_checkpoint(profile.checkpoint_dir, 60, max_steps=60)
    (profile.adapter_dir).mkdir(parents=True)
    (profile.adapter_dir / "adapter_model.safetensors").write_text("finished run")
    assert prepare(profile, small_data(), keep_finished=True) == str(profile.checkpoint_dir / "checkpoint-60")
    out = capsys.readouterr().out
    assert "restoring its weights instead of training again" in out
    assert "--fresh" in out and "prepare(..., fresh=True)" in out
    assert (profile.adapter_dir / "adapter_model.safetensors").read_text() == "finished run"  # restored, kept


def _old_adapter(profile, text="old run"):
    profile.adapter_dir.mkdir(parents=True, exist_ok=True)
    (profile.adapter_dir / "adapter_model.safetensors").write_text(text)


def test_fresh_start_moves_the_old_adapter_aside(profile, capsys):
    prepare(profile, small_data())
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    _old_adapter(profile, "older run")
    prepare(profile, small_data(), fresh=True)  # sets the older run's adapter aside
    _old_adapter(profile, "old run")
    assert prepare(profile, small_data(), fresh=True) is None
    assert not profile.adapter_dir.exists()  # an interrupted fresh run leaves no adapter: 07 says so
    previous = profile.output_dir / "adapter.previous"
    assert (previous / "adapter_model.safetensors").read_text() == "old run"  # replaced the older one
    assert "moved to adapter.previous" in capsys.readouterr().out
    assert sorted(p.name for p in profile.output_dir.iterdir() if p.name != ".course-manifest") == ["adapter.previous", "checkpoints"]  # no leftovers


def test_finished_run_started_again_moves_its_adapter_aside(profile):
    prepare(profile, small_data())
    make_checkpoint(profile.checkpoint_dir, 60, max_steps=60)
    _old_adapter(profile)
    assert prepare(profile, small_data()) is None  # notebook 06: trains again from step 0
    assert not profile.adapter_dir.exists()
    assert (profile.output_dir / "adapter.previous" / "adapter_model.safetensors").read_text() == "old run"


def test_resumed_run_keeps_the_adapter_folder_as_it_is(profile):
    prepare(profile, small_data())
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    _old_adapter(profile)
    assert prepare(profile, small_data()) == str(profile.checkpoint_dir / "checkpoint-20")
    assert (profile.adapter_dir / "adapter_model.safetensors").read_text() == "old run"


def test_old_adapter_on_a_linked_folder_is_moved_beside_its_target(profile):
    drive = profile.output_dir.parent / "drive" / "adapter"
    drive.mkdir(parents=True)
    (drive / "adapter_model.safetensors").write_text("old run")
    profile.output_dir.mkdir(parents=True, exist_ok=True)
    profile.adapter_dir.symlink_to(drive, target_is_directory=True)
    assert prepare(profile, small_data(), fresh=True) is None
    assert (drive.parent / "adapter.previous" / "adapter_model.safetensors").read_text() == "old run"
    with atomic_dir(profile.adapter_dir) as tmp:  # the new run's adapter still goes to the drive
        (tmp / "adapter_model.safetensors").write_text("new run")
    assert profile.adapter_dir.is_symlink() and (drive / "adapter_model.safetensors").read_text() == "new run"


# ---------------------------------------------------------------- the whole run, trained


class Forbid:
    """A callback that fails the test if any training step runs."""

    def __getattr__(self, name):
        if name == "on_step_begin":
            def fail(*args, **kwargs):
                raise AssertionError("a finished run was trained again")
            return fail
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


@pytest.mark.slow
def test_finished_run_without_adapter_saves_it_from_the_final_checkpoint(profile):
    p = profile.replace(max_steps=4, save_steps=2, logging_steps=1, eval_steps=100)
    run(p)
    weights = (p.adapter_dir / "adapter_model.safetensors").read_bytes()
    files.discard(p.adapter_dir)  # the process died after training, before saving
    trainer = run(p, callbacks=[Forbid()])
    assert trainer.state.global_step == 4 and any("loss" in e for e in trainer.state.log_history)
    assert (p.adapter_dir / "adapter_model.safetensors").read_bytes() == weights
    with pytest.raises(RunConflictError):  # and another setting into the same folder stops
        run(p.replace(learning_rate=1e-3))


# ---------------------------------------------------------------- one run per folder


def test_second_run_into_the_same_folder_stops_with_a_message(profile):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from course_utils.runs import exclusive\n"
         f"with exclusive({str(profile.output_dir)!r}):\n    print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunConflictError) as err:
            with exclusive(profile.output_dir):
                pass
        assert f"pid {holder.pid}" in err.value.cause and "COURSE_OUTPUT_DIR" in err.value.fix
        with pytest.raises(RunConflictError):
            run(profile)  # the whole run too, before loading anything
    finally:
        holder.stdin.close()
        holder.wait()
    with exclusive(profile.output_dir):  # released when the holder ended
        with exclusive(profile.output_dir):  # and re-entrant within one process
            pass


def test_a_killed_run_does_not_leave_the_lock_stuck(profile):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from course_utils.runs import exclusive\n"
         f"with exclusive({str(profile.output_dir)!r}):\n    print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    assert (profile.output_dir / ".run.lock").exists()
    with exclusive(profile.output_dir):
        pass


# ---------------------------------------------------------------- the atomic folder swap


def test_swap_that_died_between_its_two_renames_is_recovered(tmp_path, monkeypatch):
    target = tmp_path / "adapter"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("v1")
    monkeypatch.setattr(files, "_RENAMEAT2", None)  # a system without rename-exchange
    real_rename, calls = os.rename, []

    def die_on_second(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt("the process dies here")
        real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", die_on_second)
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(target) as tmp:
            (tmp / "weights").write_text("v2")
    monkeypatch.setattr(files.os, "rename", real_rename)
    assert not target.exists()  # the only good copy is under a temporary name ...
    hidden = [p for p in tmp_path.iterdir() if ".old-" in p.name]
    assert len(hidden) == 1
    pid = dead_pid()  # as if this process had died: its leftovers now belong to a dead pid
    for leftover in tmp_path.iterdir():
        if leftover.name.startswith(".adapter."):
            kind = ".old-" if ".old-" in leftover.name else ".tmp-"
            leftover.rename(tmp_path / f".adapter{kind}{pid}-x")
    recover(target)  # (atomic_dir and check_adapter call it first)
    assert (target / "weights").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


def test_swap_is_one_rename_exchange_on_linux(tmp_path):
    if files._RENAMEAT2 is None:
        pytest.skip("no renameat2 on this system: the recoverable two-rename swap is used")
    target = tmp_path / "adapter"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("v1")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "f").write_text("a")
    assert files.exchange(a, b) and (b / "f").read_text() == "a"
    with atomic_dir(target) as tmp:
        (tmp / "weights").write_text("v2")
    assert (target / "weights").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "adapter", "b"]


def test_stale_temporary_folders_are_cleaned(tmp_path):
    pid = dead_pid()
    for name in (f".adapter.tmp-{pid}-ab", f".adapter.trash-{pid}-cd"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "half").write_text("x")
    live = tmp_path / f".adapter.tmp-{os.getpid()}-ef"  # this process's own: left alone
    live.mkdir()
    with atomic_dir(tmp_path / "adapter") as tmp:
        (tmp / "weights").write_text("v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "adapter"]


def test_symlinked_output_folder_is_written_through(tmp_path):
    drive = tmp_path / "drive" / "adapter"
    drive.mkdir(parents=True)
    link = tmp_path / "outputs" / "adapter"
    link.parent.mkdir()
    link.symlink_to(drive, target_is_directory=True)
    with atomic_dir(link) as tmp:
        (tmp / "weights").write_text("v1")
    assert link.is_symlink() and (drive / "weights").read_text() == "v1"


def test_folders_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "adapter") as tmp:
            (tmp / "weights").write_text("v1")
    finally:
        os.umask(old)
    assert (tmp_path / "adapter").stat().st_mode & 0o777 == 0o755


def test_atomic_file_replaces_in_one_step_and_leaves_nothing_behind(tmp_path):
    from course_utils.files import atomic_file

    path = tmp_path / "fig.png"
    with pytest.raises(RuntimeError):
        with atomic_file(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with atomic_file(path) as tmp:
        tmp.write_text("whole")
    assert path.read_text() == "whole" and list(tmp_path.iterdir()) == [path]


class _FakeTrainer:
    """Only what training_run touches: the callback list."""

    def __init__(self):
        self.callbacks = []

    def add_callback(self, callback):
        self.callbacks.append(callback)

    def remove_callback(self, callback):
        self.callbacks.remove(callback)

    def evaluate(self):  # as a real evaluation: a DataLoader draws a seed, then on_evaluate
        import torch

        torch.empty((), dtype=torch.int64).random_()
        for callback in self.callbacks:
            callback.on_evaluate(None, None, None)

    def train(self):
        for callback in self.callbacks:
            callback.on_train_begin(None, None, None)


def test_training_run_locks_resumes_and_saves_whole(profile):
    """Notebook 06's one line of plumbing: the lock, prepare's checkpoint, the adapter saved whole."""
    from course_utils.runs import _HELD, training_run

    trainer = _FakeTrainer()
    with training_run(trainer, profile, small_data()) as run:
        assert run.checkpoint is None and len(trainer.callbacks) == 1
        assert any(key.startswith(str(Path(profile.output_dir).resolve())) for key in _HELD)  # locked
        assert run.save_dir.is_dir() and run.save_dir != profile.adapter_dir
        (run.save_dir / "adapter_config.json").write_text("{}")
        assert not profile.adapter_dir.exists()  # not in place until the block ends
        make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    assert not _HELD and trainer.callbacks == []  # released, callback gone
    assert (profile.adapter_dir / "adapter_config.json").read_text() == "{}"
    with training_run(trainer, profile, small_data()) as run:  # the same unfinished run resumes
        assert run.checkpoint == str(profile.checkpoint_dir / "checkpoint-20")
    with pytest.raises(RunConflictError):  # another run's checkpoints: prepare's message
        with training_run(trainer, profile.replace(max_steps=80), small_data()):
            pass


def test_training_run_puts_nothing_in_place_when_nothing_was_saved_or_it_failed(profile):
    from course_utils.runs import training_run

    with training_run(_FakeTrainer(), profile, small_data()):
        pass  # nothing saved: no empty folder passes for an adapter
    assert not profile.adapter_dir.exists()
    with pytest.raises(RuntimeError):
        with training_run(_FakeTrainer(), profile, small_data()) as run:
            (run.save_dir / "adapter_config.json").write_text("{}")
            raise RuntimeError("training failed")
    assert not profile.adapter_dir.exists()
    assert [p.name for p in profile.adapter_dir.parent.iterdir() if p.name.startswith(".adapter")] == []


def test_training_run_evaluating_first_leaves_the_random_numbers_of_training(profile):
    """An evaluation before training draws a DataLoader seed: training must not see it."""
    import torch

    from course_utils.runs import training_run

    torch.manual_seed(0)
    expected = torch.rand(3)  # what training would draw without the evaluation
    torch.manual_seed(0)
    trainer = _FakeTrainer()
    with training_run(trainer, profile, small_data()):
        trainer.evaluate()
        trainer.train()
        assert torch.equal(torch.rand(3), expected)
        trainer.evaluate()  # after training begins: draws as it always does
        after = torch.rand(3)
    torch.manual_seed(0)
    torch.rand(3)
    torch.empty((), dtype=torch.int64).random_()
    assert torch.equal(after, torch.rand(3))
