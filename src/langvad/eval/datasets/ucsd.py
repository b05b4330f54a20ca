"""UCSD Ped2 and CUHK Avenue: frame folders (or videos) with frame-range ground truth."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from langvad.errors import InputError
from langvad.eval.datasets.annotations import Segment, one_based_ranges, parse_ucsd_m
from langvad.eval.datasets.base import (
    VIDEO_EXTENSIONS,
    EvalItem,
    find_file,
    frame_count,
    natural_key,
    progress,
    take,
)
from langvad.eval.labels import segments_to_labels

#: Frame rates: UCSD Ped2 10 fps, CUHK Avenue 25 fps.
UCSD_FPS: dict[str, float] = {"ped2": 10.0, "avenue": 25.0}

_TEST_DIR = re.compile(r"test(\d+)", re.IGNORECASE)  # UCSD's Test001 (not Test001_gt)
_NUMBER = re.compile(r"(\d+)")


def load_ucsd(root: Path, dataset: str, *, limit: int | None = None) -> list[EvalItem]:
    """UCSD Ped2 (``dataset="ped2"``) or CUHK Avenue (``"avenue"``) test videos::

        <root>/                          frames, first layout found:
          testing/frames/01/000.jpg        one folder of frames per test video, or
          Test/Test001/001.tif             UCSD's own layout (Test001_gt/ masks ignored), or
          testing_videos/01.avi            Avenue's own video files
                                         ground truth, first found:
          ped2.mat | avenue.mat            ``gt``: 1 x N cell, each a 2 x K array of
                                           [start; end] frame ranges (here or below root)
          Test/UCSDped2.m                  Ped2 only: ``gt_frame = [61:180];`` per video
          testing_label_mask/1_label.mat   Avenue only: per-frame masks (``volLabel``);
                                           a frame is anomalous when its mask is non-zero

    Convention: ranges are 1-based with **inclusive** ends (MATLAB's ``61:180`` is frames
    61..180, i.e. 0-based 60..179); a range past the last frame is an error. Videos are matched
    to ground-truth entries in numeric order; the counts must agree. Items are named
    ``test_NN`` like the text bench; fps is 10 (Ped2) or 25 (Avenue)."""
    if dataset not in UCSD_FPS:
        raise ValueError(f"dataset must be one of {sorted(UCSD_FPS)}, got {dataset!r}")
    videos = _test_videos(root)
    gt_source, per_video = _ground_truth(root, dataset, len(videos))
    items: list[EvalItem] = []
    chosen = take(list(zip(videos, per_video, strict=True)), limit)
    for i, (video, truth) in enumerate(progress(chosen, "counting frames")):
        n, probed_fps = frame_count(video)
        name = f"test_{_number(video):02d}"
        where = f"{gt_source}, video {i + 1} ({video.name})"
        if isinstance(truth, np.ndarray):
            if len(truth) != n:
                raise InputError(
                    f"{where}: {len(truth)} frame masks but {n} frames in {video}",
                    hint="the masks must belong to these frames",
                )
            labels = truth
        else:
            for s, e in truth:
                if e >= n:
                    raise InputError(
                        f"{where}: frame range [{s + 1}, {e + 1}] (1-based) ends after the last "
                        f"frame ({n} frames)",
                        hint="check that the ground truth belongs to these frames",
                    )
            labels = segments_to_labels(n, truth, where=where)
        meta = {"dataset": dataset, "normal": not labels.any(), "gt": str(gt_source)}
        fps = UCSD_FPS[dataset] if video.is_dir() else probed_fps
        items.append(EvalItem(name, video, None, labels, fps, meta))
    return items


def _number(p: Path) -> int:
    m = _NUMBER.findall(p.stem if p.is_file() else p.name)
    return int(m[-1]) if m else 0


def _test_videos(root: Path) -> list[Path]:
    frames = root / "testing" / "frames"
    if frames.is_dir():
        dirs = [d for d in frames.iterdir() if d.is_dir() and _NUMBER.fullmatch(d.name)]
        if dirs:
            return sorted(dirs, key=lambda d: int(d.name))
    test = root / "Test"
    if test.is_dir():
        dirs = [d for d in test.iterdir() if d.is_dir() and _TEST_DIR.fullmatch(d.name)]
        if dirs:
            return sorted(dirs, key=lambda d: natural_key(d.name))
    videos = root / "testing_videos"
    if videos.is_dir():
        files = [
            f
            for f in videos.iterdir()
            if f.suffix.lower() in VIDEO_EXTENSIONS and _NUMBER.fullmatch(f.stem)
        ]
        if files:
            return sorted(files, key=lambda f: int(f.stem))
    raise InputError(
        f"no test videos under {root}: looked for testing/frames/NN/, Test/TestNNN/ and "
        "testing_videos/NN.avi",
        hint="give the dataset root folder (the one holding testing/ or Test/)",
    )


def _ground_truth(
    root: Path, dataset: str, n_videos: int
) -> tuple[Path, list[tuple[Segment, ...] | np.ndarray]]:
    """Per-video segments (0-based, inclusive) or per-frame mask labels, and their file."""
    names = [f"{dataset}.mat"]
    alternatives = {"ped2": "UCSDped2.m", "avenue": "testing_label_mask/<i>_label.mat"}
    try:
        mat = find_file(root, names, f"{dataset} ground truth")
    except InputError:
        mat = None
    per_video: list[tuple[Segment, ...] | np.ndarray]
    if mat is not None:
        source = mat
        per_video = list(_mat_ranges(mat))
    elif dataset == "ped2" and (m := _maybe(root, "UCSDped2.m")) is not None:
        source = m
        per_video = list(parse_ucsd_m(m.read_text(encoding="utf-8", errors="replace"), str(m)))
    elif dataset == "avenue" and (masks := _mask_dir(root)) is not None:
        source = masks
        per_video = list(_mask_labels(masks))
    else:
        raise InputError(
            f"{dataset} ground truth not found under {root} (looked for {names[0]} and "
            f"{alternatives[dataset]})",
            hint=f"put {names[0]} (gt cell of [start; end] frame ranges) in the dataset folder",
        )
    if len(per_video) != n_videos:
        raise InputError(
            f"{source} has ground truth for {len(per_video)} videos but {root} has "
            f"{n_videos} test videos",
            hint="the ground truth must list every test video, in order",
        )
    return source, per_video


def _maybe(root: Path, name: str) -> Path | None:
    try:
        return find_file(root, [name], name)
    except InputError:
        return None


# scipy's MATLAB reader is not hardened against damaged files: some crash the interpreter
# (a segmentation fault, not an exception). It runs in a child process, which reads every
# file asked for and pickles back the variable (or why it could not).
_MAT_CHILD = r"""
import pickle, sys
import numpy as np
import scipy.io

key, reduce, out, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
results = []
for path in paths:
    print(path, file=sys.stderr, flush=True)
    try:
        data = scipy.io.loadmat(path)
        if key not in data:
            results.append(("missing", ", ".join(k for k in data if not k.startswith("__"))))
            continue
        a = np.asarray(data[key])
        if reduce == "any":
            a = np.array([np.any(np.asarray(m)) for m in a.ravel()], dtype=np.int8)
        results.append(("ok", a))
    except Exception as e:
        results.append(("error", f"{type(e).__name__}: {e}"[:300]))
with open(out, "wb") as f:
    pickle.dump(results, f)
"""
_MAT_HINT = "re-save it as a MATLAB v5/v7 .mat file (v7.3/HDF5 is not supported)"


def _load_mats(paths: list[Path], key: str, *, reduce: str = "") -> list[np.ndarray]:
    """Variable ``key`` of each MATLAB file (read in a child process, see ``_MAT_CHILD``);
    ``reduce="any"``: per cell of the variable, whether any entry is set (int8)."""
    if not paths:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mats.pickle"
        cmd = [sys.executable, "-c", _MAT_CHILD, key, reduce, str(out), *map(str, paths)]
        proc = subprocess.run(cmd, capture_output=True, check=False)
        if proc.returncode != 0 or not out.is_file():
            raise _reader_crashed(paths, proc.stderr.decode("utf-8", "replace"))
        with out.open("rb") as f:
            results = pickle.load(f)  # written by our own child from numpy arrays
    arrays: list[np.ndarray] = []
    for path, (kind, value) in zip(paths, results, strict=True):
        if kind == "error":
            raise InputError(f"cannot read {path} as a MATLAB file ({value})", hint=_MAT_HINT)
        if kind == "missing":
            raise InputError(
                f"{path} has no variable {key!r} (it has: {value or 'none'})",
                hint="use the ground-truth file of this dataset",
            )
        arrays.append(value)
    return arrays


def _reader_crashed(paths: list[Path], stderr: str) -> InputError:
    started = [ln for ln in stderr.splitlines() if ln in {str(p) for p in paths}]
    culprit = started[-1] if started else ", ".join(map(str, paths[:3]))
    return InputError(
        f"cannot read {culprit} as a MATLAB file (the MATLAB reader crashed on it: the file "
        "is damaged or not a MATLAB file)",
        hint=_MAT_HINT,
    )


def _mat_ranges(path: Path) -> list[tuple[Segment, ...]]:
    (gt,) = _load_mats([path], "gt")
    cells = gt.ravel().tolist() if gt.dtype == object else [gt]
    return [one_based_ranges(c, f"{path}, gt cell {i + 1}") for i, c in enumerate(cells)]


def _mask_dir(root: Path) -> Path | None:
    for d in sorted(root.rglob("testing_label_mask"), key=lambda p: len(p.parts)):
        if d.is_dir() and any(d.glob("*_label.mat")):
            return d
    return None


def _mask_labels(masks: Path) -> list[np.ndarray]:
    files = sorted(masks.glob("*_label.mat"), key=lambda f: natural_key(f.name))
    return _load_mats(files, "volLabel", reduce="any")
