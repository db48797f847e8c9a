"""A notebook that needs an earlier notebook's output re-creates it or says which notebook to run.

Under nbval (``make test``) every notebook already runs in a fresh kernel, in order, into a fresh
output folder, so notebooks 02-06, which read nothing an earlier notebook wrote, are checked there.
Notebooks 07, 08 and 09 read an earlier output (06's adapter), and nbval always gives them one: so they run
once more here with an empty output folder, where the smoke profile trains the adapter itself.
"""

from conftest import NOTEBOOKS, run_notebook


def test_notebook_07_runs_alone(tmp_path):
    output = tmp_path / "outputs"
    assert not output.exists()
    run_notebook(NOTEBOOKS / "07_inference.ipynb", {"COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(output)})
    assert (output / "adapter" / "adapter_config.json").is_file() and (output / "merged" / "config.json").is_file()


def test_notebook_09_runs_alone(tmp_path):
    """Without 06's adapter (trained here) and without 08's (its harness row is left out)."""
    output = tmp_path / "outputs"
    run_notebook(NOTEBOOKS / "09_evaluate_and_ship.ipynb", {"COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(output)})
    readme = (output / "merged" / "README.md").read_text()
    assert "| measure | base | fine-tuned |" in readme and (output / "merged" / "config.json").is_file()
    assert not (output / "adapter-chat").exists()


def test_notebooks_before_07_read_no_earlier_output():
    """What makes the nbval run enough for 02-06: their code never reads the adapter or merged model."""
    import json

    for path in sorted(NOTEBOOKS.glob("0[2-6]*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert "ensure_adapter" not in code and "merged_dir" not in code, path.name
        assert "adapter_dir" not in code or path.name.startswith("06"), path.name  # 06 writes it


def test_notebook_08_runs_alone(tmp_path):
    """08 compares its chat adapter with 06's adapter: with an empty output folder, smoke trains both."""
    output = tmp_path / "outputs"
    run_notebook(NOTEBOOKS / "08_chat_format.ipynb", {"COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(output)})
    assert (output / "adapter" / "adapter_config.json").is_file()
    assert (output / "adapter-chat" / "adapter_config.json").is_file()
    assert (output / "adapter-chat" / "chat_template.jinja").is_file()
