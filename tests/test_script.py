"""The script mirror of notebook 06, alone and data-parallel over two CPU processes."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _env(tmp_path):
    return {**os.environ, "COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(tmp_path)}


def test_script_reports_errors_in_one_line(tmp_path):
    env = {**_env(tmp_path), "COURSE_PROFILE": "turbo"}
    done = subprocess.run([sys.executable, "-m", "course_utils.finetune"], env=env, capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 2 and "unknown profile 'turbo'" in done.stderr
    assert "Traceback" not in done.stderr


def test_accelerate_launch_two_cpu_processes(tmp_path):
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "course_utils.finetune", "--max-steps", "6", "--output-dir", str(tmp_path)]
    done = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "6 steps on 2 process(es)" in done.stdout
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
