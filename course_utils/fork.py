"""Publish your own copy of the course: where the course lives, and one command to move it.

``REPOSITORY`` and ``BRANCH`` below are the one place that says which GitHub repository the course
is served from. Two things are derived from them and must agree with them:

- the README's "Open in Colab" badges (``colab.research.google.com/github/OWNER/REPO/blob/BRANCH/...``),
  its mention of ``github.com/OWNER/REPO`` and its link to the course's site on GitHub Pages
  (``https://owner.github.io/REPO/``, built by ``make site``);
- the bootstrap install cell of every notebook (its first code cell), which pip-installs
  ``course_utils`` from ``git+https://github.com/OWNER/REPO@BRANCH`` on Colab.

An instructor who forks the repository runs, from the repository root::

    python -m course_utils.fork OWNER/REPO            # or: make fork REPO=OWNER/REPO
    python -m course_utils.fork OWNER/REPO --branch spring-course

which rewrites this file, the badges and the bootstrap cells (nothing else), then commits and
pushes. ``python -m course_utils.fork --check`` lists the files that disagree with this file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPOSITORY = "finetune-llm-course/finetune-llm-pytorch"
BRANCH = "main"

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9_.-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,99}$")
# what the derived places look like, whatever repository they name today
_PIP = re.compile(r"git\+https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?(?:\.git)?(?:@[A-Za-z0-9_./-]+)?(?=[\"'\s]|$)")
_COLAB = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/")
_SITE = re.compile(r"https://[A-Za-z0-9-]+\.github\.io/[A-Za-z0-9_.-]+/")
_CONSTANT = re.compile(r'^(REPOSITORY|BRANCH) = "[^"]*"$', re.MULTILINE)
_CONSTANT_VALUE = re.compile(r'^(REPOSITORY|BRANCH) = "([^"]*)"$', re.MULTILINE)


def pip_url(repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """What the notebooks' bootstrap cell installs: ``git+https://github.com/OWNER/REPO@BRANCH``."""
    return f"git+https://github.com/{repository}@{branch}"


def site_url(repository: str = REPOSITORY) -> str:
    """Where GitHub Pages serves the site that ``make site`` builds (.github/workflows/site.yml)."""
    owner, name = repository.split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def colab_url(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The "Open in Colab" address of ``notebooks/<notebook>``."""
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/notebooks/{notebook}"


def _bootstrap_index(cells: list[dict]) -> int:
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            return index
    raise ValueError("no code cell")


def _rewrite_notebook(text: str, path: Path, repository: str, branch: str) -> str:
    notebook = json.loads(text)
    cell = notebook["cells"][_bootstrap_index(notebook["cells"])]
    source = "".join(cell["source"])
    if len(_PIP.findall(source)) != 1:
        raise SystemExit(f"{path}: its first code cell should install the course once from "
                         f"git+https://github.com/OWNER/REPO@BRANCH; found {_PIP.findall(source)}")
    new = _PIP.sub(pip_url(repository, branch), source)
    if new == source:
        return text
    cell["source"] = new.splitlines(keepends=True)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _rewrite_readme(text: str, old: str, repository: str, branch: str) -> str:
    text = _COLAB.sub(f"https://colab.research.google.com/github/{repository}/blob/{branch}/", text)
    text = _SITE.sub(site_url(repository), text)
    return text.replace(f"github.com/{old}", f"github.com/{repository}")


def _rewrite_constants(text: str, repository: str, branch: str) -> str:
    values = {"REPOSITORY": repository, "BRANCH": branch}
    return _CONSTANT.sub(lambda m: f'{m.group(1)} = "{values[m.group(1)]}"', text)


def rewrite(root: Path, repository: str = REPOSITORY, branch: str = BRANCH,
            write: bool = True) -> list[Path]:
    """Point the copy of the course at ``root`` to ``repository`` (``OWNER/REPO``) and ``branch``.

    Returns the files that changed (with ``write=False``: that would change). Touches only the
    constants above, the README's Colab links and each notebook's first code cell.
    """
    if not _NAME.match(repository):
        raise SystemExit(f"{repository!r} is not a GitHub OWNER/REPO name, e.g. my-school/llm-course")
    if not _BRANCH.match(branch) or ".." in branch:
        raise SystemExit(f"{branch!r} is not a branch name")
    root = Path(root)
    here = root / "course_utils" / "fork.py"
    old = dict(_CONSTANT_VALUE.findall(here.read_text(encoding="utf-8")))["REPOSITORY"]
    jobs = [(here, lambda t, p: _rewrite_constants(t, repository, branch)),
            (root / "README.md", lambda t, p: _rewrite_readme(t, old, repository, branch))]
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no notebooks under {root / 'notebooks'}: run this from the course's root")
    jobs += [(path, lambda t, p: _rewrite_notebook(t, p, repository, branch)) for path in notebooks]
    changed = []
    for path, edit in jobs:
        text = path.read_text(encoding="utf-8")
        new = edit(text, path)
        if new != text:
            changed.append(path)
            if write:
                path.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.fork",
        description="Point the Colab badges and the notebooks' install cell to your fork.")
    parser.add_argument("repository", nargs="?", help="OWNER/REPO of your copy on GitHub")
    parser.add_argument("--branch", default=None, help=f"branch to serve from (now: {BRANCH})")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course's folder")
    parser.add_argument("--check", action="store_true",
                        help="only list the files that disagree with course_utils/fork.py")
    args = parser.parse_args(argv)
    here = args.root / "course_utils" / "fork.py"
    if not here.is_file():
        parser.error(f"{here} not found: run this from the course's root or pass --root")
    constants = dict(_CONSTANT_VALUE.findall(here.read_text(encoding="utf-8")))
    if args.check:
        stale = rewrite(args.root, constants["REPOSITORY"], constants["BRANCH"], write=False)
        for path in stale:
            print(f"disagrees with course_utils/fork.py: {path}")
        return 1 if stale else 0
    if not args.repository:
        parser.error("give OWNER/REPO, e.g. python -m course_utils.fork my-school/llm-course")
    branch = args.branch or constants["BRANCH"]
    changed = rewrite(args.root, args.repository, branch)
    for path in changed:
        print(f"rewrote {path}")
    print(f"the course now installs from {pip_url(args.repository, branch)}; "
          "commit and push, then open a badge to check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
