"""Dataset names -> loaders, and :func:`load_dataset`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from langvad.errors import InputError
from langvad.eval.datasets.base import EvalItem, need_dir
from langvad.eval.datasets.shanghaitech import load_shanghaitech
from langvad.eval.datasets.text_bench import TEXT_BENCH_FPS, load_text_bench, text_bench_dir
from langvad.eval.datasets.ubnormal import load_ubnormal
from langvad.eval.datasets.ucf import load_clips, load_ucf
from langvad.eval.datasets.ucsd import load_ucsd
from langvad.eval.datasets.xd import load_xd

Loader = Callable[..., list[EvalItem]]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its loader ``(root, *, limit) -> items`` and a one-line summary."""

    name: str
    description: str
    loader: Loader


def _text_bench(root: Path, *, limit: int | None = None) -> list[EvalItem]:
    found = text_bench_dir(root, root.name)
    if found is None:
        raise InputError(
            f"no text-bench layout in {root}: expected descriptions/ and labels/ folders",
            hint="give e.g. ../shared/data/text_bench/ped2",
        )
    return load_text_bench(found, limit=limit)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "ucf",
            "UCF-Crime test set: Temporal_Anomaly_Annotation_for_Testing_Videos.txt + videos",
            load_ucf,
        ),
        DatasetSpec(
            "xd", "XD-Violence test set: annotations.txt + videos (label_A = normal)", load_xd
        ),
        DatasetSpec(
            "ped2",
            "UCSD Ped2: frame folders + ped2.mat (or UCSDped2.m); or its text bench",
            partial(load_ucsd, dataset="ped2"),
        ),
        DatasetSpec(
            "avenue",
            "CUHK Avenue: frame folders/videos + avenue.mat (or label masks); or its text bench",
            partial(load_ucsd, dataset="avenue"),
        ),
        DatasetSpec(
            "shanghaitech",
            "ShanghaiTech Campus: testing/test_frame_mask/*.npy + testing/frames/<video>/",
            load_shanghaitech,
        ),
        DatasetSpec(
            "ubnormal",
            "UBnormal: Scene*/ videos + *_tracks.txt + the repository's test split lists",
            load_ubnormal,
        ),
        DatasetSpec(
            "clips",
            "a folder of clips + annotations.txt in UCF-Crime line format (0-based, inclusive)",
            load_clips,
        ),
        DatasetSpec(
            "text_bench",
            "captions + labels: descriptions/<video>.txt and labels/<video>.csv (no video)",
            _text_bench,
        ),
    )
}


def load_dataset(root: str | Path, name: str, *, limit: int | None = None) -> list[EvalItem]:
    """The test items of dataset ``name`` (a key of :data:`DATASETS`) found under ``root``.

    A text-bench layout (``descriptions/`` + ``labels/`` in ``root`` or in ``root/<name>``)
    wins over the video layout for any name: ``load_dataset("../shared/data/text_bench",
    "ped2")`` gives caption items at 10 fps, while the same name on a UCSD Ped2 folder gives
    frame folders with ``.mat`` labels. ``limit`` keeps the first ``limit`` items (before any
    video is probed)."""
    key = name.strip().lower()
    if key not in DATASETS:
        raise InputError(
            f"unknown dataset {name!r}",
            hint=f"choose one of: {', '.join(DATASETS)}",
        )
    base = need_dir(Path(root))
    found = text_bench_dir(base, key)
    if found is not None:
        folder = found.name.lower()
        if key in TEXT_BENCH_FPS and folder in TEXT_BENCH_FPS and folder != key:
            raise InputError(
                f"{found} is the {folder} text bench, not {name}",
                hint=f"give the dataset name {folder}, or the {name} folder",
            )
        fps = TEXT_BENCH_FPS.get(key) or TEXT_BENCH_FPS.get(folder)
        return load_text_bench(found, fps=fps, limit=limit)
    items = DATASETS[key].loader(base, limit=limit)
    if not items and limit != 0:
        raise InputError(f"no test video of {name} found in {base}", hint="check the folder")
    return items
