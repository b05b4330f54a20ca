"""The Python API: ``langvad.detect(path, config) -> Result``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from langvad.config import Config, preset_config
from langvad.engine.runner import Runner
from langvad.errors import InputError
from langvad.eval.labels import load_frame_labels
from langvad.eval.metrics import frame_metrics
from langvad.preflight import check_caption_coverage, check_specs
from langvad.result import Result
from langvad.source import Source, open_source
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
    on_scored: Callable[[Result], None] | None = None,
) -> Result:
    """Run LAVAD on a video (with ``captions``) or on a captions file alone.

    ``labels`` (one 0/1 per frame) adds frame AUC/AP to ``result.metrics``; ``on_scored``
    gets the result before its explanations (see :meth:`Runner.run`)."""
    config = config or preset_config("ucf")
    source = open_source(path, captions, fps or config.caption_fps)
    runner = runner or Runner(config, store=store, progress=progress)
    y = preflight(runner, source, labels)  # every input checked before any model loads
    result = runner.run(source, on_scored)
    if y is not None:
        result.metrics = frame_metrics(result.scores, y)  # type: ignore[arg-type]
    return result


def preflight(
    runner: Runner, source: Source, labels: str | Path | None = None
) -> np.ndarray | None:
    """The checks that need no model (``langvad.preflight``), in the order a user fixes
    them: the model specs, the labels, then the captions' coverage of the windows. Returns
    the frame labels, when given."""
    check_specs(runner.config, images=source.has_images and source.captions is None)
    y = frame_labels(labels, source)
    check_caption_coverage(runner.config, runner.plan(source).windows, source)
    return y


def frame_labels(labels: str | Path | None, source: Source) -> np.ndarray | None:
    """A labels file's 0/1 per frame, one for each frame of the input."""
    if labels is None:
        return None
    y = load_frame_labels(labels)
    if len(y) != source.n_frames:
        raise InputError(
            f"labels file {labels} has {len(y)} labels but {source.name} has "
            f"{source.n_frames} frames",
            hint="give the labels of this video, one per frame",
        )
    return y
