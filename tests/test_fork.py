"""Instructors publish their own copy: the repository named in course_utils/fork.py is the one the
README's Colab badges and every notebook's bootstrap install cell use, and one command moves all
of them to a fork (tried here on a copy in a temporary folder)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from course_utils import fork

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OLD = "finetune-llm-course/finetune-llm-pytorch"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _first_code(path: Path) -> str:
    return "".join(next(c for c in _cells(path) if c["cell_type"] == "code")["source"])


def test_badges_and_install_cells_agree_with_the_one_place():
    assert fork.rewrite(REPO, fork.REPOSITORY, fork.BRANCH, write=False) == []
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(NOTEBOOKS) >= 8  # 01-07, then 08 and 09
    for path in NOTEBOOKS:
        assert fork.colab_url(path.name) in readme, f"README has no Colab badge for {path.name}"
        assert fork.pip_url() in _first_code(path), f"{path.name}: bootstrap cell installs another copy"


def _fork(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-m", "course_utils.fork", *args, "--root", str(root)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_one_command_points_a_copy_to_a_fork(tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(REPO / "notebooks", copy / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (copy / "course_utils").mkdir()
    shutil.copy(REPO / "course_utils" / "fork.py", copy / "course_utils" / "fork.py")
    shutil.copy(REPO / "README.md", copy / "README.md")

    done = _fork(copy, "my-school/llm-course", "--branch", "spring-2026")
    assert done.returncode == 0, done.stderr
    assert "git+https://github.com/my-school/llm-course@spring-2026" in done.stdout

    readme = (copy / "README.md").read_text(encoding="utf-8")
    constants = (copy / "course_utils" / "fork.py").read_text(encoding="utf-8")
    assert 'REPOSITORY = "my-school/llm-course"' in constants and 'BRANCH = "spring-2026"' in constants
    for path in NOTEBOOKS:
        assert fork.colab_url(path.name, "my-school/llm-course", "spring-2026") in readme
        mine = copy / "notebooks" / path.name
        assert "git+https://github.com/my-school/llm-course@spring-2026" in _first_code(mine)
        assert OLD not in mine.read_text(encoding="utf-8")
        # only the bootstrap cell changed; the notebook is still valid, clean JSON
        before, after = _cells(path), _cells(mine)
        first = next(i for i, c in enumerate(before) if c["cell_type"] == "code")
        assert [c for i, c in enumerate(before) if i != first] == [c for i, c in enumerate(after) if i != first]
        assert not after[first]["outputs"] and after[first]["execution_count"] is None
    assert OLD not in readme

    # the copy now agrees with its own fork.py, and a second run changes nothing
    assert _fork(copy, "--check").returncode == 0
    again = _fork(copy, "my-school/llm-course", "--branch", "spring-2026")
    assert again.returncode == 0 and "rewrote" not in again.stdout

    # a badge edited by hand no longer agrees: --check names the file
    (copy / "README.md").write_text(readme.replace("my-school/llm-course/blob", f"{OLD}/blob", 1))
    stale = _fork(copy, "--check")
    assert stale.returncode == 1 and "README.md" in stale.stdout
    assert _fork(REPO, "--check").returncode == 0  # the real repository was not touched


def test_a_bad_name_is_refused_and_nothing_is_written(tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(REPO / "notebooks", copy / "notebooks")
    (copy / "course_utils").mkdir()
    shutil.copy(REPO / "course_utils" / "fork.py", copy / "course_utils" / "fork.py")
    shutil.copy(REPO / "README.md", copy / "README.md")
    done = _fork(copy, "https://github.com/my-school/llm-course")
    assert done.returncode != 0 and "OWNER/REPO" in done.stderr
    assert (copy / "README.md").read_text(encoding="utf-8") == (REPO / "README.md").read_text(encoding="utf-8")


def test_fork_repoints_the_site_address(tmp_path):
    """The README links to the site on GitHub Pages; make fork moves that link with the rest."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert fork.site_url() in readme
    moved = fork._rewrite_readme(readme, fork.REPOSITORY, "My-School/llm-course", "main")
    assert "https://my-school.github.io/llm-course/" in moved and fork.site_url() not in moved
    stale = readme.replace(fork.site_url(), "https://someone.github.io/old-copy/")
    assert fork._rewrite_readme(stale, fork.REPOSITORY, fork.REPOSITORY, fork.BRANCH) == readme
