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
from conftest import kernel_execute as execute  # course_kernel, the session's smoke kernel: conftest.py

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def kernel(course_kernel):
    """The session's smoke kernel (conftest.py's course_kernel), with COURSE_PROFILE=bogus while
    the test runs: a learner who set a profile that does not exist."""
    client, _ = course_kernel
    execute(client, "import os; os.environ['COURSE_PROFILE'] = 'bogus'")
    yield client
    execute(client, "os.environ['COURSE_PROFILE'] = 'smoke'")


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


# ---------------------------------------------------------------- issue 20: the notebooks' own calls, in one kernel

NOTEBOOKS = REPO / "notebooks"


def _cells(notebook: str, *ids: str) -> list[str]:
    import nbformat

    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    by_id = {c.get("id"): c.source for c in nb.cells if c.cell_type == "code"}
    return [by_id[i] for i in ids]


def _run(client, env: dict[str, str], notebook: str, *ids: str, timeout: int = 300):
    """Set the learner's environment, then run the notebook's cells in order until one fails:
    (the failing cell's error content or None, every stream text printed)."""
    execute(client, "import os; os.environ.update(%r)" % (env,))
    printed = []
    for source in _cells(notebook, *ids):
        status, messages = execute(client, source, timeout)
        printed += [m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"]
        if status == "error":
            return next(m["content"] for m in messages if m["msg_type"] == "error"), "".join(printed)
    return None, "".join(printed)


DEFAULTS = {"COURSE_DATA": "sample", "COURSE_MODEL": "", "COURSE_MAX_STEPS": ""}


def test_notebook_02_data_errors_are_course_errors(course_kernel):
    client, out = course_kernel
    blank = out / "blank.jsonl"
    blank.write_text("\n\n   \n")
    cases = {  # COURSE_DATA -> the first line the learner reads
        "tatsu-lab/alpacaa": "DataError: could not load 'tatsu-lab/alpacaa'",
        str(out / "missing.jsonl"): f"DataError: the data file {out / 'missing.jsonl'} does not exist",
        str(blank): "DataError: blank.jsonl has no rows",
        "https://example.com/alpaca.jsonl": "DataError: COURSE_DATA is a web address",
    }
    for data, first in cases.items():
        error, _ = _run(client, {**DEFAULTS, "COURSE_DATA": data}, "02_data_exploration.ipynb", "6405318e", "d5440d1f")
        assert error is not None and error["traceback"][0].startswith(first), (data, error and error["traceback"])
        assert error["traceback"][-1].startswith("  Fix: ") and len(error["traceback"]) <= 3
    assert "Hub id" in error["traceback"][-1] or "curl" in error["traceback"][-1]


def test_notebook_02_shows_the_dropped_empty_output_row(course_kernel):
    """The original Alpaca has a few empty outputs: 02's demonstration drops one, and the learner reads
    the course warning under the cell (cause, row and line, what was kept), not a silent drop."""
    client, _ = course_kernel
    error, printed = _run(client, DEFAULTS, "02_data_exploration.ipynb", "01e729f5")
    assert error is None, error and error["traceback"][-3:]
    assert "empty or blank 'output'" in printed and "dropped, 1 of 2 rows kept" in printed, printed
    assert "row 1 (line 2 of empty_output.jsonl)" in printed, printed
    assert "1 of 2 rows kept: ['Say hi.']" in printed, printed


def test_notebook_04_model_errors_name_the_model(course_kernel):
    import shutil

    from course_utils.profile import TINY_MODEL_DIR

    client, out = course_kernel
    corrupt = out / "corrupt-model"
    shutil.copytree(TINY_MODEL_DIR, corrupt)
    weights = corrupt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy that stopped
    error, _ = _run(client, {**DEFAULTS, "COURSE_MODEL": "someone/tiny-lama"}, "04_model_loading.ipynb", "225d077c")
    assert error["traceback"][0].startswith("ModelLoadError: could not load 'someone/tiny-lama'")
    assert "check the hub id" in error["traceback"][-1] and len(error["traceback"]) <= 3
    error, _ = _run(client, {**DEFAULTS, "COURSE_MODEL": str(corrupt)}, "04_model_loading.ipynb",
                    "225d077c", "3008fe30", "10749107", "b812b2eb", "c9dc0ad5")
    assert error["traceback"][0].startswith(f"ModelLoadError: could not load '{corrupt}'"), error["traceback"]
    assert "damaged or cut short" in error["traceback"][-1]
    error, _ = _run(client, {**DEFAULTS, "COURSE_MODEL": str(TINY_MODEL_DIR / "config.json")},
                    "04_model_loading.ipynb", "225d077c")
    assert error["traceback"] == ["ModelLoadError: COURSE_MODEL names a file (config.json), not a model folder",
                                  f"  Where: {TINY_MODEL_DIR / 'config.json'}",
                                  f"  Fix: set COURSE_MODEL to the folder that holds it: {TINY_MODEL_DIR}"]


def test_notebook_06_checks_the_model_and_the_rows(course_kernel):
    import json
    import warnings

    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from course_utils.profile import TINY_MODEL_DIR

    client, out = course_kernel
    bert = out / "bert"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BertForMaskedLM(BertConfig(vocab_size=1024, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=64)).save_pretrained(bert)
    AutoTokenizer.from_pretrained(TINY_MODEL_DIR).save_pretrained(bert)
    error, _ = _run(client, {**DEFAULTS, "COURSE_MODEL": str(bert)}, "06_training.ipynb", "286ce333", "r06model")
    assert error is not None and error["traceback"][0].startswith("ModelLoadError: "), error
    assert "encoder" in error["traceback"][0] and "decoder-only" in error["traceback"][-1]

    def rows(instruction, output, n=40):
        path = out / f"rows-{len(instruction)}-{len(output)}.jsonl"
        path.write_text("".join(json.dumps({"instruction": f"{instruction} {i}", "input": "", "output": output}) + "\n"
                                for i in range(n)))
        return str(path)

    error, _ = _run(client, {**DEFAULTS, "COURSE_DATA": rows("word " * 300, "An answer.")}, "06_training.ipynb",
                    "286ce333")
    assert error["traceback"][0].startswith("ConfigError: every prompt of the training rows (100% of"), error
    assert "raise max_length" in error["traceback"][-1]
    error, printed = _run(client, {**DEFAULTS, "COURSE_DATA": rows("Say it.", "Hello</s> world.")},
                          "06_training.ipynb", "286ce333")
    assert error is None and "contain the text '</s>'" in printed and "Where: rows 0, 1, 2" in printed


@pytest.mark.slow
def test_notebook_06_quick_trial_runs_to_the_end(course_kernel):
    client, out = course_kernel
    ids = ["286ce333", "r06model", "r06prof1", "9308308f", "r06ptev1", "e81fba7d", "r06two01", "r06byhd1", "r06tok01", "f8bd48c3", "4e9341fd", "4d3723e2", "59d1fe65",
           "88d77009", "c3d9e5f2", "e9f5a7b4", "b5a1c2d4", "b5a1c2d5", "b5a1c2d9", "3182ac5a", "cb9136c5",
           "cb9136c7", "0c62ca70"]  # all but the experiment (r06lab01, 9da477e4, r06lab02)
    error, printed = _run(client, {**DEFAULTS, "COURSE_MAX_STEPS": "2"}, "06_training.ipynb", *ids, timeout=600)
    assert error is None, error and error["traceback"][-3:]
    assert "a quick trial of 2 steps (COURSE_MAX_STEPS): these figures are not a learning check" in printed
    assert "fell -" not in printed and "adapter saved to" in printed


def test_notebook_07_warns_when_course_data_changed_since_06(course_kernel):
    """06 trained on the sample; the learner then points COURSE_DATA at another file and runs 07:
    07's first cell shows the course warning (cause, where, fix), and applying the fix (COURSE_DATA
    back to the sample) makes it go away."""
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from course_utils.profile import TINY_MODEL_DIR, get_profile
    from course_utils.runs import _write_record, run_record

    client, out = course_kernel
    folder = out / "changed-data"
    profile = get_profile("smoke", env={"COURSE_OUTPUT_DIR": str(folder)})
    model = AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR)
    get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(profile.adapter_dir)
    _write_record(profile.checkpoint_dir, run_record(profile))  # what 06 records: trained on the sample
    other = folder / "other.jsonl"
    other.write_text("".join(json.dumps({"instruction": f"Say {i}.", "input": "", "output": f"{i}."}) + "\n"
                             for i in range(40)))
    env = {**DEFAULTS, "COURSE_OUTPUT_DIR": str(folder)}
    error, printed = _run(client, {**env, "COURSE_DATA": str(other)}, "07_inference.ipynb", "cc7bc17d")
    assert error is None, error and error["traceback"][-3:]
    assert "was trained on other data than this profile names" in printed, printed[-2000:]
    assert "set COURSE_DATA back to 'sample'" in printed
    error, printed = _run(client, env, "07_inference.ipynb", "cc7bc17d")  # the fix: COURSE_DATA=sample
    assert error is None and "trained on other data" not in printed
