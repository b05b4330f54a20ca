"""Text bench: per-frame captions with per-frame labels (no video)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from langvad.captions import MAX_FRAMES, load_captions
from langvad.errors import InputError
from langvad.eval.datasets.base import EvalItem, natural_key, take
from langvad.userfiles import count_lines, csv_rows, read_text_file

#: Frame rates of the datasets the text bench comes from (UCSD Ped2 10 fps, CUHK Avenue 25 fps).
TEXT_BENCH_FPS: dict[str, float] = {"ped2": 10.0, "avenue": 25.0}


def text_bench_dir(root: Path, name: str) -> Path | None:
    """The folder holding ``descriptions/`` and ``labels/``: ``root`` itself or ``root/name``;
    None when neither has that layout."""
    for cand in (root, root / name):
        if (cand / "descriptions").is_dir() and (cand / "labels").is_dir():
            return cand
    return None


def load_text_bench(
    root: Path, *, fps: float | None = None, limit: int | None = None
) -> list[EvalItem]:
    """Captions + labels, one item per labels file::

        <root>/                       e.g. .../text_bench/ped2
          descriptions/test_01.txt    line k = caption of frame k
          labels/test_01.csv          header ``image_path,label``; row k = frame k (0/1)

    Every labels file needs its descriptions file with as many captions as label rows; the
    frame number in ``image_path`` (``ped2/test/01/007.jpg``) must equal the row's frame index.
    Items have ``captions`` set, ``video=None`` and ``fps`` (default: 10 for a folder named
    ped2, 25 for avenue, else None)."""
    labels_dir, desc_dir = root / "labels", root / "descriptions"
    if fps is None:
        fps = TEXT_BENCH_FPS.get(root.name.lower())
    files = sorted(labels_dir.glob("*.csv"), key=lambda p: natural_key(p.name))
    if not files:
        raise InputError(
            f"no labels file (*.csv) in {labels_dir}", hint="one <video>.csv per test video"
        )
    items: list[EvalItem] = []
    for f in take(files, limit):
        captions = desc_dir / f"{f.stem}.txt"
        if not captions.is_file():
            raise InputError(
                f"captions file {captions} not found (labels file {f} has no captions)",
                hint="each labels/<video>.csv needs descriptions/<video>.txt",
            )
        labels = read_label_csv(f)
        n_captions = len(load_captions(captions))
        if n_captions != len(labels):
            raise InputError(
                f"{captions} has {n_captions} captions but {f} has {len(labels)} labels",
                hint="line k of the captions file must describe frame k of the labels file",
            )
        items.append(
            EvalItem(
                name=f.stem,
                video=None,
                captions=captions,
                labels=labels,
                fps=fps,
                meta={"dataset": root.name, "normal": not labels.any()},
            )
        )
    return items


_FRAME_IN_PATH = re.compile(r"(\d+)\.[A-Za-z]+$")


def read_label_csv(path: Path) -> np.ndarray:
    """Labels of a text-bench CSV (``image_path,label``); errors name file and line."""
    _, text = read_text_file(path, "labels file")
    if count_lines(text) > MAX_FRAMES + 1:
        raise InputError(
            f"labels file {path} has more than {MAX_FRAMES + 1:,} lines", hint="one row per frame"
        )
    rows = csv_rows(text, str(path))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "label" not in header:
        raise InputError(
            f"{path}, line 1: header {','.join(header)[:200]!r} has no 'label' column",
            hint="the header must be image_path,label",
        )
    col = header.index("label")
    path_col = header.index("image_path") if "image_path" in header else None
    values: list[int] = []
    for line, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            continue
        where = f"{path}, line {line}"
        value = row[col].strip() if len(row) > col else ""
        if value not in ("0", "1"):
            shown = value if len(value) <= 30 else value[:27] + "..."
            raise InputError(f"{where}: label {shown!r}, expected 0 or 1", hint="fix that row")
        if path_col is not None and len(row) > path_col:
            m = _FRAME_IN_PATH.search(row[path_col].strip()[-100:])  # bounded: no slow regex
            if m and int(m.group(1)) != len(values):
                raise InputError(
                    f"{where}: {row[path_col].strip()[:200]} is not frame {len(values)}",
                    hint="rows must list the frames in order, one row per frame",
                )
        values.append(int(value))
    if not values:
        raise InputError(f"{path} holds no label", hint="one row per frame")
    return np.asarray(values, dtype=np.int8)
