"""Evaluation datasets: a dataset folder -> typed items (video or captions + frame labels).

Every loader documents the directory tree it expects and its segment-end convention; all
segments are converted to 0-based, end-inclusive frame indices before labelling."""

from langvad.eval.datasets.annotations import (
    Annotation,
    parse_ubnormal_tracks,
    parse_ucf_annotations,
    parse_ucsd_m,
    parse_xd_annotations,
)
from langvad.eval.datasets.base import EvalItem
from langvad.eval.datasets.registry import DATASETS, DatasetSpec, load_dataset
from langvad.eval.datasets.shanghaitech import load_shanghaitech
from langvad.eval.datasets.text_bench import TEXT_BENCH_FPS, load_text_bench
from langvad.eval.datasets.ubnormal import load_ubnormal
from langvad.eval.datasets.ucf import load_clips, load_ucf
from langvad.eval.datasets.ucsd import load_ucsd
from langvad.eval.datasets.xd import load_xd

__all__ = [
    "DATASETS",
    "TEXT_BENCH_FPS",
    "Annotation",
    "DatasetSpec",
    "EvalItem",
    "load_clips",
    "load_dataset",
    "load_shanghaitech",
    "load_text_bench",
    "load_ubnormal",
    "load_ucf",
    "load_ucsd",
    "load_xd",
    "parse_ubnormal_tracks",
    "parse_ucf_annotations",
    "parse_ucsd_m",
    "parse_xd_annotations",
]
