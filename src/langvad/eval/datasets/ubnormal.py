"""UBnormal (synthetic scenes): per-video abnormal-object tracks give the frame labels."""

from __future__ import annotations

from pathlib import Path

from langvad.errors import InputError
from langvad.eval.datasets.annotations import parse_ubnormal_tracks
from langvad.eval.datasets.base import (
    EvalItem,
    find_file,
    frame_count,
    index_by_name,
    natural_key,
    progress,
    take,
    video_files,
)
from langvad.eval.labels import segments_to_labels
from langvad.userfiles import read_text_file, split_lines

UBNORMAL_SPLITS = ("abnormal_test_video_names.txt", "normal_test_video_names.txt")


def load_ubnormal(root: Path, *, limit: int | None = None) -> list[EvalItem]:
    """UBnormal test set, in the layout of the public download and repository::

        <root>/
          abnormal_test_video_names.txt    test split lists from the UBnormal repository's
          normal_test_video_names.txt      scripts/ folder (here or below root), one name a line
          Scene1/abnormal_scene_1_scenario_1.mp4
          Scene1/abnormal_scene_1_scenario_1_annotations/abnormal_scene_1_scenario_1_tracks.txt
          Scene1/normal_scene_1_scenario_1.mp4

    Each ``*_tracks.txt`` line is ``object_id,start,end`` for one abnormal object
    (``*_new_tracks.txt`` is preferred when present, as UBnormal's scripts do). Convention:
    0-based frames, **ends inclusive** (UBnormal's ``gt[start : end + 1] = 1``); a track past
    the last frame is an error. Normal videos are all-zero. Only the pixel masks are not read
    (frame labels need the tracks only)."""
    names: list[tuple[str, bool]] = []
    for split in UBNORMAL_SPLITS:
        f = find_file(root, [split], f"UBnormal split list {split}")
        abnormal = split.startswith("abnormal")
        names += [(ln.strip(), abnormal) for ln in split_lines(_read(f)) if ln.strip()]
    names.sort(key=lambda t: natural_key(t[0]))
    videos = index_by_name(video_files(root), root)
    missing = [n for n, _ in take(names, limit) if n not in videos]
    if missing:
        raise InputError(
            f"UBnormal test video {missing[0]}.mp4 not found under {root}"
            + (f" ({len(missing)} missing)" if len(missing) > 1 else ""),
            hint="unpack the UBnormal Scene*/ folders there, or use --limit N",
        )
    items: list[EvalItem] = []
    for name, abnormal in progress(take(names, limit), "probing videos"):
        video = videos[name]
        n, fps = frame_count(video)
        segments: tuple[tuple[int, int], ...] = ()
        if abnormal:
            tracks = _tracks_file(video, name)
            segments = parse_ubnormal_tracks(_read(tracks), str(tracks))
            if not segments:
                raise InputError(
                    f"{tracks} lists no abnormal track for abnormal video {name}",
                    hint="use the tracks file from the UBnormal download",
                )
            labels = segments_to_labels(n, segments, where=str(tracks))
        else:
            labels = segments_to_labels(n, (), where=name)
        meta = {
            "dataset": "ubnormal",
            "normal": not abnormal,
            "segments": [list(s) for s in segments],
        }
        items.append(EvalItem(name, video, None, labels, fps, meta))
    return items


def _tracks_file(video: Path, name: str) -> Path:
    folder = video.parent / f"{name}_annotations"
    for cand in (folder / f"{name}_new_tracks.txt", folder / f"{name}_tracks.txt"):
        if cand.is_file():
            return cand
    raise InputError(
        f"tracks file {folder / f'{name}_tracks.txt'} not found for abnormal video {video}",
        hint="unpack the <video>_annotations/ folders beside the videos",
    )


def _read(path: Path) -> str:
    """The UTF-8 text of an annotation file (BOM accepted); else one InputError naming it."""
    return read_text_file(path, "annotation file")[1]
