"""The script mirror of notebook 06, alone and data-parallel over two CPU processes."""

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from course_utils.finetune import interrupted_message, short_course_warnings
from course_utils.profile import Hardware, get_profile
from course_utils.runs import _data_parallel_settings, checkpoint_problem, latest_checkpoint

from conftest import make_checkpoint

REPO = Path(__file__).resolve().parent.parent


def _env(tmp_path):
    return {**os.environ, "COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(tmp_path)}


# A course error from the script (exit status 2, its cause and fix as the only stderr lines, no
# traceback): tests/test_kernel_errors.py::test_script_prints_cause_and_fix_and_exits_2.


def _complete_checkpoint(folder: Path):
    for path in sorted(folder.glob("checkpoint-*")) if folder.is_dir() else []:
        if checkpoint_problem(path) is None:
            return path
    return None


# python -m course_utils.finetune, but the smoke profile saves a checkpoint every 2 steps instead of 20:
# the test interrupts once there is one, so it need not train 20 steps first.
SCRIPT_SAVING_EVERY_2_STEPS = ("import sys; from course_utils.profile import _PROFILES; "
                               "_PROFILES['smoke'].update(save_steps=2); "
                               "from course_utils.finetune import main; sys.exit(main())")


@pytest.mark.slow
def test_ctrl_c_stops_with_one_line_naming_the_checkpoint_a_rerun_resumes(tmp_path):
    out = tmp_path / "out"
    (out / "adapter").mkdir(parents=True)  # an earlier run's adapter: it must not pass for this run's
    (out / "adapter" / "adapter_model.safetensors").write_text("earlier run")
    cmd = [sys.executable, "-c", SCRIPT_SAVING_EVERY_2_STEPS, "--profile", "smoke",
           "--max-steps", "100000", "--output-dir", str(out)]  # never finishes by itself
    with open(tmp_path / "stdout", "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        env = {k: v for k, v in _env(out).items() if k != "TQDM_DISABLE"}  # progress bars on, as a learner has them
        child = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr, cwd=REPO,
                                 # a harness started in the background may ignore SIGINT, and children
                                 # inherit that: give the script Python's usual Ctrl-C handling back
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.monotonic() + 300  # generous: a slow, shared machine; nothing is timed
            while _complete_checkpoint(out / "checkpoints") is None:  # the first comes at step 2
                assert child.poll() is None, (tmp_path / "stderr").read_text()[-3000:]
                assert time.monotonic() < deadline, "no checkpoint was saved in 300 s"
                time.sleep(0.5)
            child.send_signal(signal.SIGINT)  # Ctrl-C
            rc = child.wait(timeout=300)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    err = (tmp_path / "stderr").read_text()
    assert rc == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    last = err.strip().splitlines()[-1]
    resumes, _ = latest_checkpoint(out / "checkpoints")
    assert last.startswith("interrupted at step ") and "running the same command again resumes" in last
    assert f"{resumes.name} in {out / 'checkpoints'}" in last
    assert not (out / "adapter").exists()  # the earlier adapter was set aside, with a line that says so
    assert (out / "adapter.previous" / "adapter_model.safetensors").read_text() == "earlier run"
    assert "moved to adapter.previous" in (tmp_path / "stdout").read_text()


def test_ctrl_c_message_before_any_checkpoint_says_step_0(tmp_path):
    profile = get_profile(hardware=Hardware(cuda=False), env={"COURSE_OUTPUT_DIR": str(tmp_path)})
    text = interrupted_message(profile, 7)
    assert text.startswith("interrupted at step 7;") and "starts at step 0" in text
    (profile.checkpoint_dir / "checkpoint-20").mkdir(parents=True)  # Ctrl-C while the first one was saved
    assert "starts at step 0" in interrupted_message(profile, 20)
    assert interrupted_message(None, None).startswith("interrupted:")  # before the profile was read


def test_ctrl_c_message_with_fresh_says_to_drop_it_to_resume(tmp_path):
    profile = get_profile(hardware=Hardware(cuda=False), env={"COURSE_OUTPUT_DIR": str(tmp_path)})
    make_checkpoint(profile.checkpoint_dir, 20, max_steps=60)
    text = interrupted_message(profile, 27, fresh=True)
    assert "checkpoint-20" in text and "without --fresh to resume" in text
    assert "resumes from the last complete checkpoint, checkpoint-20" in interrupted_message(profile, 27)


def test_ctrl_c_message_after_the_last_step_says_nothing_is_trained_again(tmp_path):
    profile = get_profile(hardware=Hardware(cuda=False), env={"COURSE_OUTPUT_DIR": str(tmp_path)})
    make_checkpoint(profile.checkpoint_dir, 60, max_steps=60)
    assert "saves its adapter without training again" in interrupted_message(profile, 60)


def test_script_shows_course_warnings_without_a_source_line(tmp_path, capsys):
    (tmp_path / "checkpoint-8").mkdir()  # incomplete: no files at all
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with short_course_warnings():
            latest_checkpoint(tmp_path)
    err = capsys.readouterr().err
    assert err.startswith("warning: checkpoint checkpoint-8 is incomplete")
    assert "starts again at step 0" in err
    assert "runs.py" not in err and "warn(" not in err  # no file:line, no echoed source line


def test_data_parallel_setting_only_with_several_processes(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert _data_parallel_settings() == {}  # one process: exactly notebook 06's SFTConfig
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert _data_parallel_settings() == {"ddp_find_unused_parameters": False}


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes(tmp_path):
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "course_utils.finetune", "--max-steps", "2", "--output-dir", str(tmp_path)]
    env = {**_env(tmp_path), "PYTHONWARNINGS": "default"}  # show warnings, to see DDP's is gone
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 steps on 2 process(es)" in done.stdout
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    assert "find_unused_parameters=True" not in done.stderr  # no extra autograd-graph traversal
