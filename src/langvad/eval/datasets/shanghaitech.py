"""ShanghaiTech Campus: one 0/1 ``.npy`` per test video, beside its frame folder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from langvad.errors import InputError
from langvad.eval.datasets.base import EvalItem, frame_count, natural_key, progress, take


def load_shanghaitech(root: Path, *, limit: int | None = None) -> list[EvalItem]:
    """ShanghaiTech test set (107 videos)::

        <root>/                         (the dataset folder, or its testing/ folder)
          testing/test_frame_mask/01_0014.npy   per-frame 0/1 labels, one value per frame
          testing/frames/01_0014/000.jpg        frames of that video (or testing/01_0014/)

    Labels are the ``.npy`` values as they are (frame k = entry k; no segment convention);
    the number of values must equal the number of frame images. fps is left unknown (None)."""
    base = root / "testing" if (root / "testing" / "test_frame_mask").is_dir() else root
    masks_dir = base / "test_frame_mask"
    if not masks_dir.is_dir():
        raise InputError(
            f"folder {root / 'testing' / 'test_frame_mask'} not found",
            hint="give the ShanghaiTech folder holding testing/test_frame_mask/*.npy",
        )
    masks = sorted(masks_dir.glob("*.npy"), key=lambda p: natural_key(p.name))
    if not masks:
        raise InputError(f"no .npy label file in {masks_dir}", hint="one <video>.npy per video")
    items: list[EvalItem] = []
    for mask in progress(take(masks, limit), "counting frames"):
        frames = _frames_dir(base, mask.stem)
        labels = read_npy_labels(mask)
        n, _ = frame_count(frames)
        if n != len(labels):
            raise InputError(
                f"{mask} has {len(labels)} labels but {frames} has {n} frames",
                hint="the label file must belong to this frame folder",
            )
        meta = {"dataset": "shanghaitech", "normal": not labels.any()}
        items.append(EvalItem(mask.stem, frames, None, labels, None, meta))
    return items


def _frames_dir(base: Path, name: str) -> Path:
    for cand in (base / "frames" / name, base / name):
        if cand.is_dir():
            return cand
    raise InputError(
        f"frame folder for {name} not found (looked for {base / 'frames' / name} and "
        f"{base / name})",
        hint="extract the test videos to testing/frames/<video>/",
    )


_HINT = "each test_frame_mask/<video>.npy holds one 0/1 per frame"


def _check_npy_header(path: Path) -> None:
    """Refuse what is not a plain .npy array (a .npz zip, a pickle) or whose header promises
    more data than the file holds, before numpy allocates it."""
    size = path.stat().st_size
    with path.open("rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise InputError(f"{path} is not a .npy array file", hint=_HINT)
        f.seek(0)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise InputError(f"{path}: unsupported .npy format version {version}", hint=_HINT)
        body = size - f.tell()
    if any(d > 2**40 for d in shape) or math.prod(shape) * dtype.itemsize > body:
        raise InputError(
            f"{path}: its header announces an array of shape {shape} but the file holds only "
            f"{body:,} bytes of data",
            hint=_HINT,
        )


def read_npy_labels(path: Path) -> np.ndarray:
    """A 1-D array of 0/1 (any integer, bool or whole float dtype) as int8."""
    try:
        _check_npy_header(path)
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as e:
        msg = str(e) if len(str(e)) <= 200 else str(e)[:197] + "..."
        raise InputError(f"cannot read {path} as a .npy array ({msg})", hint=_HINT) from e
    a = np.asarray(a)
    if a.ndim == 2 and 1 in a.shape:
        a = a.ravel()
    if a.ndim != 1 or a.size == 0:
        raise InputError(f"{path}: expected a 1-D array of 0/1, got shape {a.shape}", hint=_HINT)
    if not np.issubdtype(a.dtype, np.number) and a.dtype != np.bool_:
        raise InputError(f"{path}: expected 0/1 numbers, got dtype {a.dtype}", hint=_HINT)
    bad = np.flatnonzero((a != 0) & (a != 1))
    if bad.size:
        raise InputError(
            f"{path}: frame {int(bad[0])} has label {a[bad[0]].item()!r}, expected 0 or 1",
            hint=_HINT,
        )
    return a.astype(np.int8)
