"""The course as a static site, readable without running anything (``make site``).

    python -m course_utils.site --out outputs/course-site                 # execute the notebooks, then build
    python -m course_utils.site --out outputs/course-site --executed DIR --profile gpu   # from executed copies

Each notebook of ``notebooks/`` is executed in a fresh kernel (nbclient, as ``make course`` does)
with the profile the environment chooses (``make site``: smoke, offline), then turned into one HTML
page by nbconvert's HTML exporter, every output and figure inline (PNG as data URIs, so the pages
need no server). Each page gets a banner naming the profile that produced its outputs and links to
the previous and next notebook; ``index.html`` is the README, with the table of contents in course
order above it and links to notebooks pointing at their pages.

Progress bars: tqdm draws its notebook bar as Jupyter widgets, which a static page can only show
through JavaScript from a CDN (and GitHub's viewer shows them at "0 %"). nbclient saves each
widget's final state in the executed notebook; this module replaces every bar by plain HTML built
from that final state (its label, a ``<progress>`` element at the final value, and tqdm's counts),
so the page shows "100 % 228/228" without any script. The Trainer's own progress table is an HTML
output that nbclient already keeps in its final state.

``html/`` is what GitHub Pages serves (``.github/workflows/site.yml``); ``executed/`` keeps the
executed notebooks, ``run/`` is the runs' COURSE_OUTPUT_DIR.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

STYLE = """
<style>
.course-banner{background:#fff4d6;border-bottom:1px solid #e0c36a;padding:.6em 1em;font:15px/1.4 sans-serif}
.course-nav{padding:.4em 1em;font:15px/1.4 sans-serif;border-bottom:1px solid #ddd}
.course-nav a{margin-right:1.2em}
.course-progress{font-family:monospace;white-space:pre-wrap}
.course-progress progress{width:14em;vertical-align:middle;margin:0 .5em}
.course-index{max-width:60em;margin:1em auto;padding:0 1em;font:16px/1.5 sans-serif}
.course-index table{border-collapse:collapse}.course-index td,.course-index th{border:1px solid #ccc;padding:.2em .5em}
.course-index pre{background:#f6f6f6;padding:.6em;overflow-x:auto}
</style>
"""


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    """The course's notebooks in course order (``NN_name.ipynb``), or the ones named."""
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names or p.stem[:2] in names]
    return paths


def title_of(nb) -> str:
    """The notebook's first heading (without the ``#``), else its file name."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip().replace("`", "")
    return ""


def execute(path: Path, out_dir: Path, timeout: int = 1800):
    """Run one notebook in a fresh kernel in the notebooks' folder; save and return the executed copy."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    return nb


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment or "")).replace("\xa0", " ").strip()


def _progress_html(model_id: str, states: dict) -> tuple[str, str] | None:
    """(html, text) of a tqdm bar (an HBox of HTML, FloatProgress, HTML) in its saved final state."""
    box = states.get(model_id, {})
    children = box.get("state", {}).get("children") or []
    parts_html, parts_text = [], []
    for ref in children:
        child = states.get(str(ref).removeprefix("IPY_MODEL_"), {})
        name, state = child.get("model_name", ""), child.get("state", {})
        if name.endswith("ProgressModel"):
            value, top = state.get("value", 0), state.get("max", 0) or 0
            parts_html.append(f'<progress value="{value}" max="{top}"></progress>')
            parts_text.append(f"[{value:g}/{top:g}]")
        elif name == "HTMLModel":
            parts_html.append(html.escape(_text(state.get("value", ""))))
            parts_text.append(_text(state.get("value", "")))
    if not parts_html:
        return None
    return f'<div class="course-progress">{" ".join(parts_html)}</div>', " ".join(parts_text)


def freeze_widgets(nb) -> int:
    """Replace every widget output by static HTML of its saved final state; drop the widget state.
    Returns how many were replaced. A widget without saved state becomes a short note."""
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            frozen = _progress_html(view.get("model_id", ""), states)
            html_out, text = frozen or ('<div class="course-progress">(a widget: run the notebook to see it)</div>',
                                        "(widget)")
            output["data"] = {"text/html": html_out, "text/plain": text}
            count += 1
    nb.metadata.pop("widgets", None)
    return count


def banner(profile_name: str, detail: str) -> str:
    return (f'<div class="course-banner" id="course-banner">Outputs on this page were produced by the '
            f'<b>{html.escape(profile_name)}</b> profile: {html.escape(detail)}</div>')


def profile_detail(profile) -> str:
    if profile.uses_tiny_model:
        return ("the course's tiny offline model (0.56 M parameters) on the shipped sample, on a CPU, so "
                "the numbers and answers are the tiny model's, not a real LLM's. Run the notebooks "
                "with a real profile to see yours.")
    return f"model {profile.model}, data {profile.data}, precision {profile.precision}."


def _nav(pages: list[tuple[str, str]], index: int) -> str:
    links = ['<a href="index.html">Course home</a>']
    if index > 0:
        links.append(f'<a href="{pages[index - 1][0]}">&larr; {html.escape(pages[index - 1][1])}</a>')
    if index + 1 < len(pages):
        links.append(f'<a href="{pages[index + 1][0]}">{html.escape(pages[index + 1][1])} &rarr;</a>')
    return f'<nav class="course-nav">{"".join(links)}</nav>'


def _insert_after_body(page: str, extra: str) -> str:
    page = page.replace("</head>", STYLE + "</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + extra, page, count=1)


def _repo_link(target: str) -> str:
    from .fork import BRANCH, REPOSITORY

    return f"https://github.com/{REPOSITORY}/blob/{BRANCH}/{target}"


def link_targets(markdown_text: str, page_names: dict[str, str], here: str = "") -> str:
    """Links of the README/notebooks, for the site: a notebook -> its page; another repository file
    -> that file on GitHub; web addresses and anchors unchanged."""
    def fix(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:|^#", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        name = Path(path).name
        if name in page_names:
            return f"[{label}]({page_names[name]}{'#' + anchor if anchor else ''})"
        return f"[{label}]({_repo_link(os.path.normpath(os.path.join(here, path)))})"

    return re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", fix, markdown_text)


def _slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", _text(text).lower()).replace(" ", "-")


def heading_ids(page: str) -> str:
    """Give the README's headings the ids GitHub gives them, so its ``#anchor`` links work."""
    return re.sub(r"<h([1-6])>(.*?)</h\1>", lambda m: f'<h{m.group(1)} id="{_slug(m.group(2))}">'
                  f"{m.group(2)}</h{m.group(1)}>", page, flags=re.DOTALL)


def build(out: Path, executed: Path | None = None, profile_name: str | None = None,
          names: list[str] | None = None, timeout: int = 1800) -> list[Path]:
    """Build the site into ``out/html``; returns the pages written (index first)."""
    import mistune
    import nbformat
    from nbconvert import HTMLExporter

    from .profile import get_profile

    profile = get_profile(profile_name) if profile_name else get_profile()
    paths = notebook_paths(names)
    if not paths:
        raise SystemExit(f"no notebooks to build under {NOTEBOOKS}")
    site = out / "html"
    tmp = out / "html.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    notebooks = []
    for path in paths:
        if executed is not None:
            copy = executed / path.name
            if not copy.is_file():
                raise SystemExit(f"{copy} is missing: execute {path.name} first (make course)")
            nb = nbformat.read(copy, as_version=4)
        else:
            print(f"executing {path.name} ({profile.name} profile)", flush=True)
            nb = execute(path, out / "executed", timeout)
        notebooks.append((path, nb))
    pages = [(f"{p.stem}.html", title_of(nb) or p.stem) for p, nb in notebooks]
    page_names = {p.name: page for (p, _), (page, _) in zip(notebooks, pages)}
    top = banner(profile.name, profile_detail(profile))
    exporter = HTMLExporter(template_name="lab")
    written = []
    for i, (path, nb) in enumerate(notebooks):
        freeze_widgets(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = link_targets(cell.source, page_names, "notebooks")
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": pages[i][1]}})
        target = tmp / pages[i][0]
        target.write_text(_insert_after_body(body, _nav(pages, i) + top), encoding="utf-8")
        written.append(site / pages[i][0])
    readme = link_targets((REPO / "README.md").read_text(encoding="utf-8"), page_names)
    render = mistune.create_markdown(escape=False, plugins=["table", "strikethrough", "url"])
    toc = "".join(f'<li><a href="{page}">{html.escape(title if title[:2] == page[:2] else page[:2] + ": " + title)}'
                  '</a></li>' for page, title in pages)
    index = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Fine-tune an LLM with '
             f'PyTorch</title>{STYLE}</head><body>{top}<main class="course-index">'
             f'<nav id="toc"><h2>The notebooks, in course order</h2><ul style="list-style:none;padding-left:1em">{toc}</ul></nav>'
             f'{heading_ids(render(readme))}</main></body></html>')
    (tmp / "index.html").write_text(index, encoding="utf-8")
    (tmp / ".nojekyll").write_text("")  # GitHub Pages: serve the files as they are
    (tmp / "site.json").write_text(json.dumps({"profile": profile.name, "pages": [p for p, _ in pages]}))
    shutil.rmtree(site, ignore_errors=True)
    tmp.rename(site)
    return [site / "index.html", *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.site", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "site")
    parser.add_argument("--executed", type=Path, default=None,
                        help="build from these executed notebooks instead of executing them")
    parser.add_argument("--profile", default=None, help="the profile that produced them (banner)")
    parser.add_argument("--notebooks", default="", help="only these, e.g. 01,06 (default: all)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.notebooks.split(",") if n.strip()] or None
    pages = build(args.out.resolve(), args.executed, args.profile, names)
    print(f"site: {len(pages)} pages in {pages[0].parent} (open index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
