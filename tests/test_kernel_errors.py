"""A course error raised in a notebook cell reaches the front-end as its cause and its fix.

Tested through a real Jupyter kernel (``jupyter_client``), as JupyterLab and nbconvert see it:
IPython 9 discards what a ``set_custom_exc`` handler returns, so only the ``error`` message on
iopub counts.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client import KernelManager

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "COURSE_PROFILE": "bogus"}
    env.pop("COURSE_FULL_TRACEBACKS", None)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(REPO / "notebooks"))
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    yield client
    client.stop_channels()
    km.shutdown_kernel(now=True)


def execute(client, code):
    """Run one cell; return its reply status and the iopub messages it produced."""
    msg_id = client.execute(code)
    reply = client.get_shell_msg(timeout=120)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=120)
    messages = []
    while True:
        msg = client.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return reply["content"]["status"], messages


def test_course_error_in_a_notebook_cell_shows_cause_and_fix(kernel):
    status, messages = execute(kernel, "from course_utils import get_profile\nprofile = get_profile()")
    assert status == "error"  # the cell fails: "Run all" stops here
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert len(errors) == 1, [m["msg_type"] for m in messages]
    error = errors[0]
    assert error["ename"] == "ProfileError"
    assert "unknown profile 'bogus'" in error["evalue"]
    assert error["traceback"] == [
        "ProfileError: unknown profile 'bogus'",
        "  Fix: set COURSE_PROFILE to one of: smoke, laptop, colab, gpu, seed",
    ]


def test_course_error_with_a_place_shows_where(kernel):
    code = ("from course_utils.errors import DataError\n"
            "raise DataError('bad row', 'fix the row', where=\"column 'output', row 3\")")
    status, messages = execute(kernel, code)
    error = next(m["content"] for m in messages if m["msg_type"] == "error")
    assert status == "error"
    assert error["traceback"] == ["DataError: bad row", "  Where: column 'output', row 3", "  Fix: fix the row"]


def test_full_tracebacks_on_request(kernel):
    execute(kernel, "import os; os.environ['COURSE_FULL_TRACEBACKS'] = '1'")
    code = "from course_utils.errors import ConfigError\nraise ConfigError('the cause', 'the fix')"
    status, messages = execute(kernel, code)
    execute(kernel, "del os.environ['COURSE_FULL_TRACEBACKS']")
    error = next(m["content"] for m in messages if m["msg_type"] == "error")
    assert status == "error" and len(error["traceback"]) > 2  # IPython's usual stack
    assert any("the fix" in line for line in error["traceback"])


def test_script_prints_cause_and_fix_and_exits_2(tmp_path):
    env = {**os.environ, "COURSE_PROFILE": "bogus", "COURSE_OUTPUT_DIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "course_utils.finetune"], env=env, capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: ProfileError: unknown profile 'bogus'",
                                        "  Fix: set COURSE_PROFILE to one of: smoke, laptop, colab, gpu, seed"]
