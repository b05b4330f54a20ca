"""Tracks: moving things followed over a whole video at ``rate`` samples per second.

Per sample (a frame downscaled to ``width`` px): the camera's own motion is estimated from
the global sparse flow (Shi-Tomasi corners followed by pyramidal Lucas-Kanade, a RANSAC
similarity transform; OpenCV). While the camera holds still, foreground comes from a
MOG2 background model; while it moves, from the difference between the frame and the
previous one warped by the camera's motion (the background model restarts). Foreground
blobs (connected components after a morphological close) are associated over time by
ByteTrack (PyPI ``supervision``, MIT). Positions are kept in the first frame's coordinates
(the camera's motion accumulated), so a panning camera does not make things look fast.

Pure over its input: ``track_frames`` takes frames in time order and returns ``Tracks``,
plain data that round-trips through JSON (the cache stores it per video).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WIDTH = 320
RATE = 10.0  # samples per second
MIN_AREA = 0.0015  # blob area as a fraction of the frame, smallest kept
MAX_AREA = 0.5  # larger: a lighting change or a cut, not an object
PAD = 0.5  # association boxes: the blob's box grown by this fraction of its size per side
CAMERA_MOVING_PX = 0.8  # global shift per sample (px at WIDTH) above which the camera moves


@dataclass(frozen=True)
class TrackPoint:
    """One sample of a track: the source frame, its time and the box (x0, y0, x1, y1) in
    pixels of the analysis frame, in the first frame's coordinates."""

    frame: int
    t: float
    box: tuple[float, float, float, float]
    screen: tuple[float, float, float, float]  # the same box on the frame as shown


@dataclass(frozen=True)
class Track:
    id: int
    points: tuple[TrackPoint, ...]


@dataclass(frozen=True)
class Tracks:
    """Every track of one video, and the samples they were seen on."""

    width: int  # analysis frame size (px)
    height: int
    frames: tuple[int, ...]  # sampled source frames
    times: tuple[float, ...]
    camera_moving: tuple[bool, ...]  # per sample
    tracks: tuple[Track, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "frames": list(self.frames),
            "times": [round(t, 4) for t in self.times],
            "moving": [int(m) for m in self.camera_moving],
            "tracks": [
                {
                    "id": tr.id,
                    "p": [
                        [
                            p.frame,
                            round(p.t, 4),
                            *(round(v, 2) for v in p.box),
                            *(round(v, 2) for v in p.screen),
                        ]
                        for p in tr.points
                    ],
                }
                for tr in self.tracks
            ],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Tracks:
        return cls(
            width=int(d["width"]),
            height=int(d["height"]),
            frames=tuple(int(f) for f in d["frames"]),
            times=tuple(float(t) for t in d["times"]),
            camera_moving=tuple(bool(m) for m in d["moving"]),
            tracks=tuple(
                Track(
                    int(tr["id"]),
                    tuple(
                        TrackPoint(int(p[0]), float(p[1]), tuple(p[2:6]), tuple(p[6:10]))  # type: ignore[arg-type]
                        for p in tr["p"]
                    ),
                )
                for tr in d["tracks"]
            ),
        )


def sample_frames(timestamps: Sequence[float], rate: float = RATE) -> list[int]:
    """The frame nearest to each time k / rate (every frame when the video is slower)."""
    from langvad.stages.windows import centre_frames_by_fps

    return centre_frames_by_fps(list(timestamps), rate)


def _grey(rgb: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    size = (width, max(2, round(h * width / max(1, w))))
    small = cv2.resize(np.ascontiguousarray(rgb[:, :, :3]), size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)


def camera_motion(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """2×3 similarity transform taking ``prev``'s pixels onto ``cur``'s (identity when too
    few corners can be followed)."""
    import cv2

    eye = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    pts = cv2.goodFeaturesToTrack(prev, maxCorners=150, qualityLevel=0.01, minDistance=8)
    if pts is None or len(pts) < 12:
        return eye
    nxt, ok, _err = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, winSize=(15, 15), maxLevel=2)
    good = ok.reshape(-1) == 1
    if good.sum() < 12:
        return eye
    m, inliers = cv2.estimateAffinePartial2D(
        pts[good], nxt[good], method=cv2.RANSAC, ransacReprojThreshold=2.0
    )
    if m is None or inliers is None or inliers.sum() < 0.5 * good.sum():
        return eye
    return m.astype(np.float64)


def blobs(mask: np.ndarray) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) of the foreground mask's blobs after a close, within the
    kept size range."""
    import cv2

    h, w = mask.shape
    k = max(3, round(w / 64)) | 1
    m = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, _lab, stats, _c = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = []
    area = float(h * w)
    for i in range(1, n):
        x, y, bw, bh, a = stats[i]
        if MIN_AREA * area <= a <= MAX_AREA * area:
            out.append((x, y, x + bw, y + bh))
    return np.array(out, np.float32).reshape(-1, 4)


def _grow(boxes: np.ndarray, f: float) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) grown (f > 0) or shrunk by f × their size on each side."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] - f * w, b[:, 1] - f * h, b[:, 2] + f * w, b[:, 3] + f * h], 1)


class Tracker:
    """Feeds frames one at a time (``step``); ``result`` returns the tracks so far."""

    def __init__(self, *, width: int = WIDTH, rate: float = RATE) -> None:
        import cv2
        import supervision as sv

        self.width = width
        self.rate = rate
        self._bg = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=32)
        self._bt = sv.ByteTrack(
            track_activation_threshold=0.3,
            lost_track_buffer=max(2, round(rate * 1.0)),
            minimum_matching_threshold=0.9,
            frame_rate=max(1, round(rate)),
            minimum_consecutive_frames=2,
        )
        self._prev: np.ndarray | None = None
        self._offset = np.zeros(2)  # accumulated camera shift (px)
        self._still = 0  # samples since the camera last moved
        self.frames: list[int] = []
        self.times: list[float] = []
        self.moving: list[bool] = []
        self.points: dict[int, list[TrackPoint]] = {}
        self.size = (width, 0)

    def step(self, frame: int, t: float, rgb: np.ndarray) -> None:
        import cv2
        import supervision as sv

        g = _grey(rgb, self.width)
        self.size = (g.shape[1], g.shape[0])
        moving = False
        if self._prev is None:
            fg = np.zeros_like(g)
            self._bg.apply(g, learningRate=1.0)
        else:
            m = camera_motion(self._prev, g)
            shift = float(np.hypot(m[0, 2], m[1, 2]))
            scale = abs(float(np.hypot(m[0, 0], m[1, 0])) - 1.0) * g.shape[1]
            moving = shift > CAMERA_MOVING_PX or scale > CAMERA_MOVING_PX
            if moving:
                self._offset += m[:, 2]
                warped = cv2.warpAffine(
                    self._prev, m, (g.shape[1], g.shape[0]), borderMode=cv2.BORDER_REPLICATE
                )
                diff = cv2.absdiff(g, warped)
                fg = np.where(cv2.GaussianBlur(diff, (5, 5), 0) > 30, 255, 0).astype(np.uint8)
                self._bg.apply(g, learningRate=1.0)
                self._still = 0
            else:
                rate = 1.0 if self._still < 2 else -1.0
                fg = np.where(self._bg.apply(g, learningRate=rate) > 200, 255, 0).astype(np.uint8)
                self._still += 1
        self._prev = g
        boxes = blobs(fg)
        if (fg > 0).mean() > 0.6:  # a cut or a lighting change: nothing to track
            boxes = boxes[:0]
        # matched on boxes grown by PAD of their size on each side: at RATE samples/s a fast
        # thing moves further than its own width between samples, and ByteTrack starts a
        # track only on overlapping boxes (the boxes kept are the blobs' own)
        det = sv.Detections(
            xyxy=_grow(boxes, PAD).astype(np.float32),
            confidence=np.full(len(boxes), 0.9, np.float32),
            class_id=np.zeros(len(boxes), int),
        )
        out = self._bt.update_with_detections(det)
        i = len(self.frames)
        self.frames.append(frame)
        self.times.append(t)
        self.moving.append(moving)
        if out.tracker_id is None:
            return
        ox, oy = self._offset
        for box, tid in zip(_grow(out.xyxy, -PAD / (1 + 2 * PAD)), out.tracker_id, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            self.points.setdefault(int(tid), []).append(
                TrackPoint(frame, t, (x0 - ox, y0 - oy, x1 - ox, y1 - oy), (x0, y0, x1, y1))
            )
        del i

    def result(self) -> Tracks:
        tracks = tuple(Track(k, tuple(v)) for k, v in sorted(self.points.items()) if len(v) >= 3)
        return Tracks(
            self.size[0],
            self.size[1],
            tuple(self.frames),
            tuple(self.times),
            tuple(self.moving),
            tracks,
        )


def track_frames(
    frames: Iterable[tuple[int, float, np.ndarray]], *, width: int = WIDTH, rate: float = RATE
) -> Tracks:
    """Tracks of a video's frames ``(frame, time, rgb)`` given in time order at about
    ``rate`` per second."""
    tr = Tracker(width=width, rate=rate)
    for f, t, rgb in frames:
        tr.step(f, t, rgb)
    return tr.result()
