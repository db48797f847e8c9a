"""``make clean``: remove what the course wrote in an output folder, and nothing else.

    python -m course_utils.clean FOLDER              # what the manifest lists (make clean)
    python -m course_utils.clean --scratch FOLDER    # a folder the course owns whole: emptied and marked
    python -m course_utils.clean --record FOLDER KIND PATH...   # add entries (make course's notebooks)

Every write of the course is recorded in the output folder's manifest (``.course-manifest``, see
:mod:`course_utils.files`): an adapter folder, a checkpoint folder, a figure, the run lock. This
removes exactly those entries (with the leftovers of interrupted atomic writes), then folders that
are left empty. A learner's own file is never listed, so it stays, even inside ``figures/``.

A *scratch* folder (``make test``'s ``course-test/``) carries a ``.course-scratch`` marker that
only this module writes: it is removed whole. A folder of that name without the marker is the
learner's and is refused. Standard library only: it works before ``make setup`` has finished.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .files import _OLD, _TMP, _TRASH, MANIFEST, SCRATCH, mark_output_root, record


def _entries(root: Path) -> list[tuple[str, Path]]:
    try:
        lines = (root / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = []
    for line in lines:
        kind, _, rel = line.partition("\t")
        if line.startswith("#") or not rel or kind not in ("file", "dir"):
            continue
        path = root / rel
        # only inside the output folder: a hand-edited manifest cannot point elsewhere
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            continue
        entries.append((kind, path))
    return entries


def _remove(path: Path) -> bool:
    if path.is_symlink() and path.is_dir():  # a linked folder (a mounted drive): empty it, keep the link
        for child in path.iterdir():
            _remove(child)
        return True
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
        return True
    if path.exists() or path.is_symlink():
        path.unlink()
        return True
    return False


def _leftovers(path: Path) -> list[Path]:
    """Temporary copies of ``path`` that an interrupted atomic write left beside it."""
    if not path.parent.is_dir():
        return []
    prefixes = tuple(f".{path.name}{marker}" for marker in (_TMP, _OLD, _TRASH))
    return [p for p in path.parent.iterdir() if p.name.startswith(prefixes)]


def clean(root: Path, out=sys.stdout) -> list[str]:
    """Remove the course's entries in ``root``; return the names of what stays (the learner's)."""
    root = Path(root)
    if not root.is_dir():
        return []
    if (root / SCRATCH).is_file():
        _remove(root)
        return []
    for _, path in _entries(root):
        for leftover in _leftovers(path):
            _remove(leftover)
        _remove(path)
        parent = path.parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()  # a folder the course's entries left empty (figures/, executed/)
            parent = parent.parent
    for child in root.iterdir():  # course-test/, course-ui/: folders the course owns whole
        if child.is_dir() and not child.is_symlink() and (child / SCRATCH).is_file():
            _remove(child)
    (root / MANIFEST).unlink(missing_ok=True)
    kept = sorted(p.name for p in root.iterdir())
    if kept:
        shown = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
        print(f"kept {root}: it holds files the course did not write ({shown})", file=out)
    else:
        root.rmdir()
    return kept


def scratch(folder: Path) -> Path:
    """An empty folder the course owns whole (make test's): the old one removed if it is the course's."""
    folder = Path(os.path.abspath(Path(folder).expanduser()))
    if folder.exists():
        if not (folder / SCRATCH).is_file() and any(folder.iterdir()):
            raise SystemExit(f"error: {folder} exists and was not made by the course, so it is left alone\n"
                             "  Fix: move your files out of it, or set COURSE_OUTPUT_DIR to another folder")
        _remove(folder)
    folder.mkdir(parents=True)
    (folder / SCRATCH).write_text("made by the course: `make clean` and `make test` remove this whole folder\n")
    mark_output_root(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--scratch":
        scratch(Path(args[1]))
        return 0
    if len(args) >= 4 and args[0] == "--record":
        root = Path(args[1]).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        mark_output_root(root)
        for rel in args[3:]:
            record(root / rel, args[2])
        return 0
    if len(args) == 1 and not args[0].startswith("-"):
        clean(Path(args[0]).expanduser())
        return 0
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
