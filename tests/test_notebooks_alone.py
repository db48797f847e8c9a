"""Each notebook runs alone in a fresh kernel, in reverse order, each with an empty output folder
(notebook 07 then re-creates the adapter it needs, which the smoke profile allows)."""

import pytest

from conftest import NOTEBOOKS, run_notebook

ORDER = sorted(NOTEBOOKS.glob("0*.ipynb"), reverse=True)


@pytest.mark.parametrize("path", ORDER, ids=[p.stem for p in ORDER])
def test_notebook_runs_alone(path, tmp_path):
    output = tmp_path / "outputs"
    assert not output.exists()
    run_notebook(path, {"COURSE_PROFILE": "smoke", "COURSE_OUTPUT_DIR": str(output)})
