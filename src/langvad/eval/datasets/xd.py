"""XD-Violence."""

from __future__ import annotations

from pathlib import Path

from langvad.errors import InputError
from langvad.eval.datasets.annotations import parse_xd_annotations
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
from langvad.userfiles import read_text_file

XD_ANNOTATIONS = "annotations.txt"


def load_xd(root: Path, *, limit: int | None = None) -> list[EvalItem]:
    """XD-Violence test set (800 videos)::

        <root>/
          annotations.txt     violent videos only: "name s1 e1 [s2 e2 ...]" (here or below)
          videos/A.Beautiful.Mind.2001__#00-25-20_00-29-20_label_B2-0-0.mp4
          videos/...label_A.mp4               (any folder layout below root)

    Every video file below ``root`` is a test item (keep training videos elsewhere). A name
    containing ``label_A`` is normal (all-zero labels); any other video must have a line in
    ``annotations.txt``, and (without ``limit``) every annotated video must be present.
    Convention: frame numbers 0-based, **ends inclusive** (LAVAD's); segments running past the
    decoded last frame are cut there with a warning (``meta["clipped_frames"]``)."""
    ann_file = find_file(root, [XD_ANNOTATIONS], "XD-Violence annotation file")
    anns = {video_stem(a.name): a for a in parse_xd_annotations(_read(ann_file), str(ann_file))}
    videos = index_by_name(video_files(root), root)
    if not videos:
        raise InputError(
            f"no video file under {root}", hint="put the XD-Violence test videos there"
        )
    unlabelled = [n for n in videos if "label_A" not in n and n not in anns]
    if unlabelled:
        raise InputError(
            f"violent video {videos[unlabelled[0]]} has no line in {ann_file}"
            + (f" ({len(unlabelled)} such videos)" if len(unlabelled) > 1 else ""),
            hint="use the annotations.txt of the test set; keep training videos elsewhere",
        )
    absent = [a for n, a in anns.items() if n not in videos]
    if absent and limit is None:
        raise InputError(
            f"video {absent[0].name} ({ann_file}, line {absent[0].line}) not found under {root}"
            + (f" ({len(absent)} annotated videos missing)" if len(absent) > 1 else ""),
            hint="put all test videos under the dataset folder, or use --limit N",
        )
    items: list[EvalItem] = []
    for name in progress(take(list(videos), limit), "probing videos"):
        n, fps = frame_count(videos[name])
        meta: dict[str, object] = {"normal": "label_A" in name}
        if "label_" in name:
            meta["category"] = name.rsplit("label_", 1)[1]
        if name in anns:
            a = anns[name]
            where = f"{ann_file}, line {a.line} ({a.name})"
            labels = segments_to_labels(n, a.segments, where=where, clip=True)
            meta["segments"] = [list(s) for s in a.segments]
            clipped = overrun(a.segments, n)
            if clipped:
                meta["clipped_frames"] = clipped
        else:
            labels = segments_to_labels(n, (), where=name)
        items.append(EvalItem(name, videos[name], None, labels, fps, meta))
    return items


def _read(path: Path) -> str:
    """The UTF-8 text of an annotation file (BOM accepted); else one InputError naming it."""
    return read_text_file(path, "annotation file")[1]
