"""A notebook that needs an earlier notebook's output re-creates it or says which notebook to run.

Under nbval (``make test``) every notebook already runs in a fresh kernel, in order, into a fresh
output folder, so notebooks 02-06, which read nothing an earlier notebook wrote, are checked there.
Notebooks 07, 08 and 09 read an earlier output (06's adapter), and nbval always gives them one: so 07
runs once more here with an empty output folder, where the smoke profile trains the adapter itself;
08 and 09 reach the adapter through the same call (checked below).
"""

import pytest
from conftest import NOTEBOOKS, run_notebook
from course_utils.runs import read_record


@pytest.mark.slow
def test_notebook_07_runs_alone(tmp_path):
    """Every cell of 07 in a fresh kernel and an empty output folder: its first cell trains the missing
    adapter (``ensure_adapter``) and the rest runs on it. A quick trial (COURSE_MAX_STEPS=4, the
    course's own setting for one): 07 runs to the end and skips its learning checks, which nbval's
    run of 07 applies to 06's adapter (the same recipe: tests/test_notebook_recipe.py)."""
    output = tmp_path / "outputs"
    assert not output.exists()
    run_notebook(NOTEBOOKS / "07_inference.ipynb", {"COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(output),
                                                    "COURSE_MAX_STEPS": "4"})
    assert (output / "adapter" / "adapter_config.json").is_file() and (output / "merged" / "config.json").is_file()
    assert read_record(output / "checkpoints")["max_steps"] == 4  # trained here, by ensure_adapter


def test_notebooks_before_07_read_no_earlier_output():
    """What makes the nbval run enough for 02-06: their code never reads the adapter or merged model."""
    import json

    for path in sorted(NOTEBOOKS.glob("0[2-6]*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert "ensure_adapter" not in code and "merged_dir" not in code, path.name
        assert "adapter_dir" not in code or path.name.startswith("06"), path.name  # 06 writes it


def test_notebooks_08_and_09_rebuild_a_missing_adapter_as_07_does():
    """08 and 09 read 06's adapter through the same ``ensure_adapter`` that 07 calls, before any cell
    loads it: so the run of 07 alone above (an empty folder, the adapter trained by smoke) covers their
    missing-adapter path too. Running each of them alone again would add ~2-3 minutes to make test
    for the same function; nbval runs both in a fresh kernel of their own."""
    import json

    for name in ("08_chat_format.ipynb", "09_evaluate_and_ship.ipynb"):
        cells = ["".join(c["source"]) for c in json.loads((NOTEBOOKS / name).read_text())["cells"] if c["cell_type"] == "code"]
        first_ensure = next(i for i, code in enumerate(cells) if "ensure_adapter(" in code)
        readers = [i for i, code in enumerate(cells)
                   if any(call in code for call in ("PeftModel.from_pretrained(", ".load_adapter(", "peft="))]
        assert readers and first_ensure <= min(readers), name
