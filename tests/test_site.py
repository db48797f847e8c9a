"""make site's builder (course_utils/site.py), cheaply: pages from the notebooks as stored (no
execution; `make test-ui` builds the real, executed site and opens it in chromium), progress bars
frozen from saved widget state, links rewritten for the site, GitHub's heading anchors."""

import json
import shutil

import nbformat
import pytest

from course_utils import site

TQDM_STATE = {
    "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]}},
    "left": {"model_name": "HTMLModel", "state": {"value": "Map: 100%"}},
    "bar": {"model_name": "FloatProgressModel", "state": {"value": 228.0, "max": 228.0}},
    "right": {"model_name": "HTMLModel", "state": {"value": " 228/228 [00:00&lt;00:00, 900 examples/s]"}},
}


def test_progress_bars_show_their_final_state():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        site.WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0}, "text/plain": "HBox()"}),
        nbformat.v4.new_output("display_data", data={site.WIDGET_VIEW: {"model_id": "lost"}})]
    nb.cells = [cell]
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": TQDM_STATE}}
    assert site.freeze_widgets(nb) == 2
    frozen = cell.outputs[0]["data"]["text/html"]
    assert '<progress value="228.0" max="228.0">' in frozen and "Map: 100%" in frozen and "228/228 [00:00<00:00" in frozen.replace("&lt;", "<")
    assert "run the notebook" in cell.outputs[1]["data"]["text/html"]
    assert "widgets" not in nb.metadata


def test_links_point_at_pages_and_headings_get_github_anchors():
    pages = {"06_training.ipynb": "06_training.html"}
    text = "[06](06_training.ipynb#the-loss) [web](https://x.org/a) [top](#here) [code](../course_utils/data.py)"
    out = site.link_targets(text, pages, "notebooks")
    assert "[06](06_training.html#the-loss)" in out and "[web](https://x.org/a)" in out and "[top](#here)" in out
    assert "github.com/" in out and "/course_utils/data.py)" in out
    assert site.heading_ids("<h2>Set up &amp; run: <code>make</code></h2>") == \
        '<h2 id="set-up--run-make">Set up &amp; run: <code>make</code></h2>'


@pytest.mark.slow  # nbconvert's HTML exporter over the nine notebooks; make test-ui builds the site too
def test_site_builds_offline_from_notebooks(tmp_path, monkeypatch):
    executed = tmp_path / "executed"
    shutil.copytree(site.NOTEBOOKS, executed)
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "run"))
    pages = site.build(tmp_path / "site", executed=executed, profile_name="smoke")
    names = [p.name for p in pages]
    assert names[0] == "index.html" and names[1:] == [p.stem + ".html" for p in site.notebook_paths()]
    index = pages[0].read_text()
    assert 'id="toc"' in index and "smoke</b> profile" in index and "01_install.html" in index
    assert ".ipynb)" not in index and 'href="notebooks/' not in index  # notebook links go to pages
    page = pages[1].read_text()
    assert 'id="course-banner"' in page and 'href="02_data_exploration.html"' in page
    assert json.loads((pages[0].parent / "site.json").read_text())["profile"] == "smoke"
    assert (pages[0].parent / ".nojekyll").is_file()
