"""Atomic file output: a reader sees the old file or the whole new one, never a part.

Every output langvad writes (result.json, scores.csv, report.html, rules, tables) goes through
``write_atomic`` or ``atomic_path``: the data goes to a temporary file in the same folder, is
flushed to disk, then renamed over the target. A full disk or a permission problem becomes one
``OutputError`` naming the file, and the previous file (if any) stays as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from langvad.errors import OutputError


def _explain(path: Path, e: OSError) -> OutputError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free disk space or choose another --out"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "make the folder writable or choose another --out"
    else:
        hint = "check the output folder or choose another --out"
    return OutputError(f"cannot write {path}: {e.strerror or e}", hint=hint)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    For writers that want a file name (matplotlib, PyAV). The temporary name keeps the
    target's suffix so format detection by extension still works.
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=parent
        )
        os.close(fd)
    except OSError as e:
        raise _explain(target, e) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _explain(target, e) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; return the path."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    target = Path(path)
    with atomic_path(target) as tmp:
        try:
            tmp.write_bytes(raw)
        except OSError as e:
            raise _explain(target, e) from None
    return target


def _blocking_file(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` (itself included) that is not a folder."""
    for p in (folder, *folder.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None


def ensure_writable_dir(folder: str | Path, what: str = "--out") -> Path:
    """Create ``folder`` if needed and prove it writable now (a file is created and removed),
    so that a run fails in its first second, not after its work, when it cannot save it."""
    out = Path(folder)
    blocking = _blocking_file(out)
    if blocking is not None:
        raise OutputError(
            f"{what} {out}: {blocking} is a file, not a folder",
            hint=f"choose another {what} (a folder)",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".langvad-write-check.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(
            f"{what} {out} is not writable ({e.strerror or e})",
            hint=f"make it writable or choose another {what}",
        ) from None
    return out
