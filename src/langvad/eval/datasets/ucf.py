"""UCF-Crime, and the generic clips folder that uses its annotation line format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langvad.errors import InputError
from langvad.eval.datasets.annotations import Annotation, parse_ucf_annotations
from langvad.eval.datasets.base import (
    EvalItem,
    find_file,
    frame_count,
    index_by_name,
    overrun,
    progress,
    take,
    video_files,
    video_stem,
)
from langvad.eval.labels import segments_to_labels
from langvad.userfiles import read_text_file, split_lines

UCF_ANNOTATIONS = "Temporal_Anomaly_Annotation_for_Testing_Videos.txt"
UCF_TEST_LIST = "Anomaly_Test.txt"


def load_ucf(root: Path, *, limit: int | None = None) -> list[EvalItem]:
    """UCF-Crime test set (290 videos)::

        <root>/
          Temporal_Anomaly_Annotation_for_Testing_Videos.txt   (here or in any subfolder)
          Anomaly_Test.txt                 optional test list, e.g. "Arson/Arson011_x264.mp4"
          Arson/Arson011_x264.mp4          videos in category folders (any depth, e.g.
          Testing_Normal_Videos_Anomaly/Normal_Videos_003_x264.mp4   Anomaly-Videos-Part-1/)
                                           or all in one flat folder

    Annotation lines: ``Arson011_x264.mp4  Arson  150  420  680  1267`` (``-1 -1`` = none).
    Convention: frame numbers 0-based, **ends inclusive** (frame f is anomalous when
    ``start <= f <= end``, as in LAVAD's evaluation). Segments that run past the decoded last
    frame are cut there with a warning (``meta["clipped_frames"]``). Videos are matched by
    file name; the order is that of ``Anomaly_Test.txt`` when present, else of the annotation
    file. Frame counts come from probing each video."""
    ann_file = find_file(root, [UCF_ANNOTATIONS], "UCF-Crime temporal annotation file")
    anns = parse_ucf_annotations(_read(ann_file), str(ann_file))
    by_name = {video_stem(a.name): a for a in anns}
    try:
        test_list = find_file(root, [UCF_TEST_LIST], "UCF-Crime test list")
    except InputError:
        test_list = None
    if test_list is not None:
        anns = _in_list_order(test_list, by_name)
    return annotated_items(anns, ann_file, index_by_name(video_files(root), root), limit)


def _in_list_order(test_list: Path, by_name: dict[str, Annotation]) -> list[Annotation]:
    out: list[Annotation] = []
    for line, raw in enumerate(split_lines(_read(test_list)), 1):
        if not raw.strip():
            continue
        stem = video_stem(Path(raw.strip()).name)
        if stem not in by_name:
            raise InputError(
                f"{test_list}, line {line}: {raw.strip()} has no line in {UCF_ANNOTATIONS}",
                hint="use the annotation file that belongs to this test list",
            )
        out.append(by_name[stem])
    return out


def load_clips(root: Path, *, limit: int | None = None) -> list[EvalItem]:
    """A folder of labelled clips with one UCF-Crime-format annotation file::

        <root>/
          annotations.txt      "Fighting033_x264_570_841.mp4  Fighting  0  270  -1  -1"
          Fighting033_x264_570_841.mp4
          vtest.avi            ("vtest.avi  Normal  -1  -1  -1  -1")

    Frame numbers are relative to each clip, 0-based, **ends inclusive**; ``-1 -1`` = none.
    Only the videos listed in ``annotations.txt`` become items (unlabelled videos are left
    out), in file order. Videos are found by file name anywhere below ``root``."""
    ann_file = root / "annotations.txt"
    if not ann_file.is_file():
        raise InputError(
            f"annotation file {ann_file} not found",
            hint="put annotations.txt (UCF-Crime line format) beside the clips",
        )
    anns = parse_ucf_annotations(_read(ann_file), str(ann_file))
    return annotated_items(anns, ann_file, index_by_name(video_files(root), root), limit)


def annotated_items(
    anns: Sequence[Annotation],
    ann_file: Path,
    videos: dict[str, Path],
    limit: int | None,
) -> list[EvalItem]:
    """Probe each annotated video and turn its segments into frame labels."""
    chosen = take(anns, limit)
    missing = [a for a in chosen if video_stem(a.name) not in videos]
    if missing:
        a = missing[0]
        raise InputError(
            f"video {a.name} ({ann_file}, line {a.line}) not found under {ann_file.parent}"
            + (f" ({len(missing)} annotated videos missing)" if len(missing) > 1 else ""),
            hint="put the test videos under the dataset folder, or use --limit N",
        )
    items: list[EvalItem] = []
    for a in progress(chosen, "probing videos"):
        video = videos[video_stem(a.name)]
        n, fps = frame_count(video)
        where = f"{ann_file}, line {a.line} ({a.name})"
        labels = segments_to_labels(n, a.segments, where=where, clip=True)
        clipped = overrun(a.segments, n)
        meta: dict[str, object] = {
            "normal": not a.segments,
            "segments": [list(s) for s in a.segments],
        }
        if a.category is not None:
            meta["category"] = a.category
        if clipped:
            meta["clipped_frames"] = clipped
        items.append(EvalItem(video_stem(a.name), video, None, labels, fps, meta))
    return items


def _read(path: Path) -> str:
    """The UTF-8 text of an annotation file (BOM accepted); else one InputError naming it."""
    return read_text_file(path, "annotation file")[1]
