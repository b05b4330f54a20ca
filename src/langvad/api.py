"""The Python API: ``langvad.detect(path, config) -> Result``."""

from __future__ import annotations

from pathlib import Path

from langvad.config import Config, preset_config
from langvad.errors import InputError
from langvad.eval.labels import load_frame_labels
from langvad.eval.metrics import frame_metrics
from langvad.pipeline import Runner
from langvad.result import Result
from langvad.source import open_source
from langvad.store import Store


def detect(
    path: str | Path,
    config: Config | None = None,
    *,
    captions: str | Path | None = None,
    fps: float | None = None,
    labels: str | Path | None = None,
    store: Store | None = None,
    progress: bool = False,
    runner: Runner | None = None,
) -> Result:
    """Run LAVAD on a video (with ``captions``) or on a captions file alone.

    ``labels`` (one 0/1 per frame) adds frame AUC/AP to ``result.metrics``."""
    config = config or preset_config("ucf")
    source = open_source(path, captions, fps or config.caption_fps)
    runner = runner or Runner(config, store=store, progress=progress)
    result = runner.run(source)
    if labels is not None:
        y = load_frame_labels(labels)
        if len(y) != result.n_frames:
            raise InputError(
                f"labels file {labels} has {len(y)} labels but {source.name} has "
                f"{result.n_frames} frames",
                hint="give the labels of this video, one per frame",
            )
        result.metrics = frame_metrics(result.scores, y)  # type: ignore[arg-type]
    return result
