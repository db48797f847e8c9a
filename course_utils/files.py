"""Writing outputs so that a crash never leaves a half-written folder that looks complete.

The one atomic-write helper of the course: :func:`atomic_dir` for folders (an adapter, a merged
model, a tokenizer cache), :func:`atomic_file` for single files (the sample data, a figure).

How :func:`atomic_dir` stays safe:

- the new content is written into a temporary folder beside the target (same file system), made
  with normal permissions (``os.mkdir`` honours the umask; ``tempfile.mkdtemp`` would give 0700);
- it then *exchanges* the two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``); where
  that is not available it renames the old folder aside and the new one into place, and if the
  process dies between those two renames, the next call (or :func:`recover`) puts the old copy
  back, so the only good copy is never left hidden under a temporary name;
- a target that is a symlink (a mounted drive, say) is written through: the folder it points to
  is replaced, the link stays;
- temporary folders left by a process that died are removed on the next call.

What the course writes is recorded: an output folder (``COURSE_OUTPUT_DIR``, ``outputs/``) holds a
manifest, ``.course-manifest``, and every write through :func:`atomic_dir`, :func:`atomic_file`
(figures, the run record) and the run lock appends the path it writes to it (:func:`record`).
``make clean`` (:mod:`course_utils.clean`) removes only what the manifest lists, so a learner's own
files in the same folder, even in ``figures/``, are never touched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError

_TMP, _OLD, _TRASH = ".tmp-", ".old-", ".trash-"
MANIFEST = ".course-manifest"  # in an output folder: one "kind<TAB>relative path" line per thing the course wrote
SCRATCH = ".course-scratch"    # in a folder the course owns whole (make test's course-test/, say)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(name: str, target_name: str) -> tuple[str, int] | None:
    """('tmp' | 'old', pid) for a leftover of ``target_name``, else None."""
    for kind, marker in (("tmp", _TMP), ("old", _OLD), ("trash", _TRASH)):
        prefix = f".{target_name}{marker}"
        if name.startswith(prefix):
            pid = name[len(prefix):].split("-", 1)[0]
            return (kind, int(pid)) if pid.isdigit() else None
    return None


def real_target(target: Path) -> Path:
    """``target`` with a symlink at its end followed (the folder it points to is the one written)."""
    target = Path(target).expanduser()
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def mark_output_root(folder: Path) -> Path:
    """Make ``folder`` an output folder whose course-written content is recorded (its manifest)."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.exists():
        try:
            with open(manifest, "a", encoding="utf-8") as f:
                f.write("# what the course wrote here; `make clean` removes these and nothing else\n")
        except OSError:
            pass  # a read-only folder is refused by ensure_writable_dir anyway
    return folder


def _output_root(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / MANIFEST).is_file():
            return parent
    return None


def record(path: Path, kind: str) -> None:
    """Append ``path`` (a "file" or a whole "dir" the course writes) to the manifest of the output
    folder that holds it; nothing when it is in no output folder (a temporary folder, say)."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    root = _output_root(path)
    if root is None:
        return
    line = f"{kind}\t{path.relative_to(root).as_posix()}\n"
    manifest = root / MANIFEST
    try:
        if line in manifest.read_text(encoding="utf-8"):
            return
        with open(manifest, "a", encoding="utf-8") as f:  # one short append: never interleaved
            f.write(line)
    except OSError:
        pass


def recover(target: Path) -> Path:
    """Put back an old copy hidden by a swap that died half-way, and remove dead leftovers.

    Called by :func:`atomic_dir` and by code that reads an output (the adapter, say).
    """
    target = real_target(target)
    parent = target.parent
    if not parent.is_dir():
        return target
    leftovers = []
    for entry in parent.iterdir():
        owner = _owner(entry.name, target.name)
        if owner is not None and not _pid_alive(owner[1]):
            leftovers.append((owner[0], entry))
    if not target.exists():
        olds = sorted((e for kind, e in leftovers if kind == "old"), key=lambda e: e.stat().st_mtime)
        if olds:  # the newest old copy is the last good one
            os.rename(olds[-1], target)
            print(f"recovered {target} from {olds[-1].name} (an earlier save stopped half-way)")
    for _, entry in leftovers:
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
    return target


def discard(path: Path) -> None:
    """Remove a folder for good: renamed out of sight in one step (so a crash half-way through
    the deletion never leaves a partial folder under the real name), then deleted."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() and path.is_dir():  # a linked folder (a mounted drive): empty it, keep the link
        for child in list(path.iterdir()):
            discard(child)
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    trash = path.with_name(f".{path.name}{_TRASH}{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _libc_renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_RENAMEAT2 = _libc_renameat2() if os.name == "posix" else None
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the system cannot."""
    if _RENAMEAT2 is None:
        return False
    rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


# torch.save's zip writer reports a short write as "[enforce fail at inline_container.cc:672] .
# unexpected pos 704 vs 598" (or "PytorchStreamWriter failed writing file ...: file write failed")
_DISK_FULL_TEXTS = ("no space left on device", "file too large", "disk quota exceeded", "file write failed",
                    "pytorchstreamwriter failed", "unexpected pos")


def is_disk_full(exc: BaseException) -> bool:
    """A write that failed for lack of space (or a file-size limit, ``ulimit -f``): an ``OSError``
    (ENOSPC, EFBIG, EDQUOT), or a library error wrapping one (torch's ``inline_container`` writer,
    safetensors' ``SafetensorError``), anywhere in the exception's chain."""
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return True
        if any(text in str(exc).lower() for text in _DISK_FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_error(path: Path, exc: BaseException, checkpoint_dir: Path | None = None) -> OutputError:
    """The course error for a full disk while writing ``path``: nothing written so far is lost."""
    last = ""
    if checkpoint_dir is not None and Path(checkpoint_dir).is_dir():
        import warnings

        from .runs import latest_checkpoint

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found, _ = latest_checkpoint(Path(checkpoint_dir))
        last = (f"; the last complete checkpoint is {found}" if found is not None else
                "; no checkpoint was complete yet, so a rerun starts at step 0")
    return OutputError(
        f"the disk is full at {path} (or a file-size limit was reached); nothing was lost: the "
        f"half-written copy was left aside{last}",
        "free space on that disk (or raise the limit: ulimit -f unlimited), or set COURSE_OUTPUT_DIR "
        "to a folder on a larger disk, then rerun: the run resumes from its last complete checkpoint",
        where=f"{path} ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ''})")


def ensure_writable_dir(folder: Path, what: str = "the output folder") -> Path:
    """Create ``folder`` (and parents); a course error if it is a file or cannot be written."""
    folder = Path(folder).expanduser()
    for candidate in (folder, *folder.parents):
        if candidate.exists() and not candidate.is_dir():
            raise OutputError(f"{what} {folder} cannot be created: {candidate} is a file",
                              "set COURSE_OUTPUT_DIR (or --output-dir) to a folder, or move that file away",
                              where=str(candidate))
        if candidate.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}-{secrets.token_hex(3)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{what} {folder} cannot be written ({type(exc).__name__}: {exc.strerror or exc})",
                          "set COURSE_OUTPUT_DIR (or --output-dir) to a folder you can write, "
                          "such as one in your home folder", where=str(folder)) from exc
    return folder


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; on success it replaces ``target`` whole.

    If the block raises, the temporary folder is removed and ``target`` is left as it was.
    """
    record(Path(target), "dir")  # before writing: a crash half-way leaves leftovers that clean removes too
    target = recover(real_target(Path(target)))
    ensure_writable_dir(target.parent)
    tmp = target.with_name(f".{target.name}{_TMP}{os.getpid()}-{secrets.token_hex(4)}")
    os.mkdir(tmp)  # mode 0o777 minus the umask, like any folder the learner makes
    try:
        yield tmp
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, OutputError) and is_disk_full(exc):
            raise disk_full_error(target, exc, target.parent / "checkpoints") from exc
        raise
    if target.exists() and exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old content
        return
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}{_OLD}{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(target, old)
    os.rename(tmp, target)  # a crash before this line: recover() puts `old` back
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; on success it replaces ``path`` in one step."""
    record(Path(path), "file")
    path = real_target(Path(path))
    ensure_writable_dir(path.parent)
    tmp = path.with_name(f".{path.name}{_TMP}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except Exception as exc:
        if not isinstance(exc, OutputError) and is_disk_full(exc):
            raise disk_full_error(path, exc) from exc
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_savefig(fig, path: Path, **kwargs) -> Path:
    """``fig.savefig`` to a temporary file, then rename into place."""
    path = Path(path)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, **kwargs)
    return path
