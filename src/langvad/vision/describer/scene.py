"""SceneDescriber: a frame captioner composed of small offline vision models.

Per frame: objects (CenterNet/COCO, Node.js worker) → counts; posture of the most prominent
person (BlazePose) → lying / bent / arms raised; scene tags (EfficientNet-Lite0 ImageNet classes);
on-screen text (PP-OCR, every ``ocr_every``-th frame of a batch, reused in between). The facts are
composed into one deterministic sentence. A component that fails on a frame is left out of that
frame's sentence (and logged); a component whose model is missing raises ModelError up front.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from PIL import Image

from langvad.errors import InputError, ModelError
from langvad.vision.describer import objects as obj_mod
from langvad.vision.describer import ocr as ocr_mod
from langvad.vision.describer import pose as pose_mod
from langvad.vision.describer import tags as tag_mod
from langvad.vision.describer.compose import FrameFacts, compose, image_look
from langvad.vision.describer.worker import WorkerError

log = logging.getLogger(__name__)

VERSION = "scene-describer-v1"
VEHICLE_COVER = 0.5


@dataclass(frozen=True)
class DescriberOptions:
    """Settings of the describer; every field enters :attr:`SceneDescriber.identity`."""

    objects: bool = True
    pose: bool = True
    tags: bool = True
    ocr: bool = True
    # 1: every frame is read, so a frame's sentence depends on that frame alone (cache-safe);
    # k > 1 reads frames 0, k, 2k, ... of each batch and reuses the last read in between
    ocr_every: int = 1
    max_side: int = 640  # frames are downscaled to this longest side first
    person_threshold: float = 0.30
    vehicle_threshold: float = 0.35
    other_threshold: float = 0.40
    tag_top_k: int = 2
    tag_min_prob: float = 0.10
    pose_min_confidence: float = 0.5
    worker_timeout: float = 60.0  # seconds per frame before the Node worker is restarted

    def __post_init__(self) -> None:
        if self.ocr_every < 1:
            raise InputError(f"ocr_every must be >= 1, got {self.ocr_every}")
        if self.max_side < 64:
            raise InputError(f"max_side must be >= 64, got {self.max_side}")
        if self.tag_top_k < 1:
            raise InputError(f"tag_top_k must be >= 1, got {self.tag_top_k}")

    def identity(self) -> str:
        parts = [VERSION, f"max_side={self.max_side}"]
        if self.objects:
            parts.append(
                f"objects={obj_mod.MODEL_NAME}(person>={self.person_threshold},"
                f"vehicle>={self.vehicle_threshold},other>={self.other_threshold})"
            )
        if self.pose:
            parts.append(f"pose={pose_mod.MODEL_NAME}(min={self.pose_min_confidence})")
        if self.tags:
            parts.append(f"tags={tag_mod.MODEL_NAME}(top{self.tag_top_k}>={self.tag_min_prob})")
        if self.ocr:
            parts.append(f"ocr={ocr_mod.MODEL_NAME}(every={self.ocr_every})")
        off = [n for n in ("objects", "pose", "tags", "ocr") if not getattr(self, n)]
        if off:
            parts.append("off=" + "+".join(off))
        return " ".join(parts)


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return np.ascontiguousarray(rgb)
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def on_vehicle(
    reading: pose_mod.PoseReading, dets: list[obj_mod.Detection], shape: tuple[int, ...]
) -> bool:
    """A lying skeleton mostly inside a (even weakly) detected vehicle is BlazePose fitting the
    vehicle, not a person."""
    if reading.posture is not pose_mod.Posture.LYING:
        return False
    h, w = shape[0], shape[1]
    for d in dets:
        if d.label in obj_mod.VEHICLES:
            x, y, bw, bh = d.box
            box = (x * w, y * h, (x + bw) * w, (y + bh) * h)
            if pose_mod.covered_fraction(reading.box, box) >= VEHICLE_COVER:
                return True
    return False


def check_frame(frame: np.ndarray, i: int) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
        raise InputError(
            f"frame {i} is not an RGB uint8 array (got "
            f"{getattr(frame, 'dtype', type(frame).__name__)}, "
            f"shape {getattr(frame, 'shape', '?')})",
            hint="pass HxWx3 uint8 RGB frames (langvad.video.read_frames gives them)",
        )
    if frame.shape[2] != 3 or min(frame.shape[:2]) < 8:
        raise InputError(f"frame {i} has shape {frame.shape}; expected HxWx3 with H, W >= 8")


class SceneDescriber:
    """Captioner (see langvad.vision.base.Captioner) built from offline vision models."""

    def __init__(self, options: DescriberOptions | None = None, **overrides: Any) -> None:
        opts = options or DescriberOptions()
        if overrides:
            opts = dataclasses.replace(opts, **overrides)
        self.options = opts
        self._closed = False
        self._detector: obj_mod.ObjectDetector | None = None
        self._pose: pose_mod.PoseEstimator | None = None
        self._tagger: tag_mod.SceneTagger | None = None
        self._reader: ocr_mod.TextReader | None = None
        try:
            if opts.objects:  # checks node and the npm packages; the worker starts lazily
                self._detector = obj_mod.ObjectDetector(timeout=opts.worker_timeout)
            if opts.pose:
                self._pose = pose_mod.PoseEstimator(opts.pose_min_confidence)
            if opts.tags:
                self._tagger = tag_mod.SceneTagger(top_k=opts.tag_top_k, min_prob=opts.tag_min_prob)
            if opts.ocr:
                self._reader = ocr_mod.TextReader()
        except BaseException:
            self.close()
            raise
        self._thresholds = {
            "person": opts.person_threshold,
            **{v: opts.vehicle_threshold for v in obj_mod.VEHICLES},
        }

    @property
    def identity(self) -> str:
        return self.options.identity()

    @property
    def worker(self) -> obj_mod.JsonWorker | None:
        """The Node.js object worker (None when objects are off)."""
        return self._detector.worker if self._detector is not None else None

    # ------------------------------------------------------------------ captioning

    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        if self._closed:
            raise RuntimeError("SceneDescriber is closed")
        for i, f in enumerate(frames):
            check_frame(f, i)
        out: list[str] = []
        last_text: ocr_mod.ScreenText | None = None
        for i, frame in enumerate(frames):
            rgb = downscale(frame, self.options.max_side)
            read = self._reader is not None and i % self.options.ocr_every == 0
            facts = self._facts(rgb, read_text=read, reuse_text=last_text)
            if read:
                last_text = facts.text
            out.append(compose(facts))
        return out

    def describe(self, frame: np.ndarray) -> FrameFacts:
        """The facts behind one frame's sentence (every component run on this frame)."""
        check_frame(frame, 0)
        rgb = downscale(frame, self.options.max_side)
        return self._facts(rgb, read_text=self._reader is not None, reuse_text=None)

    def _facts(
        self, rgb: np.ndarray, *, read_text: bool, reuse_text: ocr_mod.ScreenText | None
    ) -> FrameFacts:
        rid = self._submit(rgb)  # the Node worker runs while Python does the rest
        text = reuse_text
        if read_text and self._reader is not None:
            text = self._safe("ocr", self._reader.read, rgb)
        reading = self._safe("pose", self._pose.read, rgb) if self._pose is not None else None
        tags = self._safe("tags", self._tagger.tags, rgb) if self._tagger is not None else None
        dets = self._collect(rid, rgb)  # everything the worker reports (score >= 0.2)
        if dets is not None and reading is not None and on_vehicle(reading, dets, rgb.shape):
            log.debug("pose: %s skeleton lies on a vehicle; ignored", reading.posture.value)
            reading = None
        kept = None
        if dets is not None:
            kept = obj_mod.keep_detections(dets, self._thresholds, self.options.other_threshold)
        return FrameFacts(
            look=image_look(rgb),
            objects=tuple(sorted(d.label for d in kept)) if kept is not None else None,
            posture=reading.posture if reading is not None else None,
            tags=tuple(tags) if tags is not None else None,
            text=text,
        )

    def _submit(self, rgb: np.ndarray) -> int | None:
        if self._detector is None:
            return None
        try:
            return self._detector.submit(rgb)
        except WorkerError as exc:
            log.warning("objects: %s (retrying once with a fresh worker)", exc)
            return None

    def _collect(self, rid: int | None, rgb: np.ndarray) -> list[obj_mod.Detection] | None:
        if self._detector is None:
            return None
        try:
            dets = self._detector.result(rid) if rid is not None else self._detector.detect(rgb)
        except WorkerError as exc:
            if rid is None:
                log.warning("objects: left out of this frame: %s", exc)
                return None
            log.warning("objects: %s (retrying once with a fresh worker)", exc)
            try:
                dets = self._detector.detect(rgb)
            except (WorkerError, ValueError) as exc2:
                log.warning("objects: left out of this frame: %s", exc2)
                return None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("objects: unreadable reply, left out of this frame: %s", exc)
            return None
        return dets

    @staticmethod
    def _safe(name: str, fn: Any, rgb: np.ndarray) -> Any:
        try:
            return fn(rgb)
        except ModelError:
            raise
        except Exception as exc:  # one frame's failure must not stop the run
            log.warning("%s: left out of this frame: %s: %s", name, type(exc).__name__, exc)
            return None

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._closed = True
        for comp in (self._detector, self._pose, self._tagger, self._reader):
            if comp is not None:
                try:
                    comp.close()
                except Exception as exc:  # closing must not raise
                    log.debug("closing %s: %s", type(comp).__name__, exc)

    def __enter__(self) -> SceneDescriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_describer(**options: Any) -> SceneDescriber:
    """Build a SceneDescriber from keyword options (see DescriberOptions)."""
    known = {f.name for f in fields(DescriberOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(
            f"unknown scene describer option(s): {', '.join(unknown)}",
            hint=f"valid options: {', '.join(sorted(known))}",
        )
    return SceneDescriber(DescriberOptions(**options))
