"""Fire expert: flames, smoke and explosions from pixel dynamics (OpenCV + numpy, no learned
weights).

A clip is 16 frames at ≈ 15 fps (≈ 1.07 s; the violence expert's frames, so a run with both
decodes them once), each shrunk to about 320×180 pixels (aspect kept). Per clip:

- **flame pixels**: HSV hue ≤ 60° (red → yellow), saturation ≥ 0.4, value ≥ 0.7, opened
  with a 3×3 square (specks of noise removed); the white-hot core next to them (value ≥ 0.94,
  saturation < 0.4, within 2 px of a flame pixel) joins the flame *regions* (boxes) but not
  the flicker count, so a white shirt beside a wooden bench cannot flicker as fire;
- **flicker**: a pixel that is flame-coloured in ≥ 2 of the clip's frames and whose colour
  class flips, *with* a luminance jump ≥ 30 grey levels, at least 3 times in the clip's 15
  frame pairs (flames change shape many times a second; a lamp, a red shirt, sunlit ground
  or a balloon moving with the camera flips at most once or twice at its edges);
  raw ``flicker`` = share of the frame covered by flickering flame pixels;
- **smoke near flames**: low-chroma pixels (Lab chroma < 12, lightness 15–92) above or
  around the flickering flames (their bounding box, widened by half its width and extended
  upwards by twice its height) whose blurred luminance changes over the clip (temporal
  std ≥ 3 grey levels) more than their own edges explain (std > gradient): the soft,
  changing texture of smoke; raw ``smoke`` = that share of the frame. Smoke with no flame in
  sight (a distant plume) is *not* seen: grey moving regions alone — people on pavement, a
  car in a parking lot, a handheld camera — were indistinguishable from smoke here;
- **burst** (explosion; on frames halved again, ≈ 160×90): after removing the camera's
  global shift (phase correlation), the share of the frame whose luminance changes by ≥ 50
  grey levels between consecutive frames; a burst is that share growing over ≥ 3
  consecutive frame pairs to ≥ 10 % of the frame (an expanding fireball, flash or dust
  cloud), and never a single-pair change of over 60 % of the frame (a scene cut or exposure
  jump); raw ``burst`` = the largest such expanding share, 0 without one.

Probabilities (``calibrate``; a fixed, documented mapping — not fitted to any clip):

    p_fire      = sigmoid(3.2 · ln(flicker / 0.005))  0.5 at 0.5 % of the frame, 0.9 at 1 %
    p_smoke     = sigmoid(3.2 · ln(smoke / 0.03))     0.5 at 3 %, 0.9 at 6 %
    p_explosion = sigmoid(3.2 · ln(burst / 0.2))      0.5 at 20 %, 0.9 at 40 %

Smoke is looked for only when the flames cover ≥ 0.5 % of the frame (p_fire ≥ 0.5). The
fire half-point lies above the highest flicker measured on normal footage here (0.36 % of
the frame, a person in white by a wooden bench in UP-Fall; sunlit trail 0.10 %, balloons
0.09 %) and below the burning paper's and the living-room fire's (0.85–8.8 %, 1.1–1.8 %):
it was chosen on these clips (README, "Fire, smoke and explosions"), so it is a guess for
other footage, not a measured optimum.

Fire and smoke last (a real fire is seen on consecutive clips), so each clip's fire and
smoke probabilities become the larger of their minimum with the previous and with the next
clip (as ``expert_sustain`` does for the violence expert; applied here, inside
``calibrate``, so that the explosion — an instant — is not sustained).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from langvad.vision.boxes import Box, from_pixels
from langvad.vision.experts.base import ExpertInfo

INFO = ExpertInfo(
    name="fire",
    classes=("fire", "smoke", "explosion"),
    model="flame colour + flicker, smoke texture near flames, expanding bursts "
    "(OpenCV rules, no learned weights)",
    package="opencv-python-headless",
    licence="Apache-2.0",
)
CLIP_FRAMES = 16
CLIP_FPS = 15.0
WORK_AREA = 320 * 180  # pixels of the shrunk frame
# colour rules (HSV, OpenCV's hue in 0..180 = degrees / 2)
FLAME_HUE_DEG = 60
FLAME_SAT = 0.4
FLAME_VAL = 0.7
CORE_VAL = 0.94
# flicker rules
MIN_PRESENT = 2
MIN_FLIPS = 3
FLIP_JUMP = 30
# smoke rules
SMOKE_CHROMA = 12.0
SMOKE_L = (15.0, 92.0)
SMOKE_STD = 3.0
# burst rules
BURST_JUMP = 50
BURST_GROW_PAIRS = 3
BURST_MIN = 0.10
CUT_SHARE = 0.60
# calibration: (share of the frame at p = 0.5, slope of the log-odds per ln unit)
HALF = {"fire": 0.005, "smoke": 0.03, "explosion": 0.2}
RAW_OF = {"fire": "flicker", "smoke": "smoke", "explosion": "burst"}
SLOPE = 3.2
LASTING = ("fire", "smoke")
_K3 = np.ones((3, 3), np.uint8)


def shrink(rgb: np.ndarray, area: int = WORK_AREA) -> np.ndarray:
    """An RGB uint8 frame resized (aspect kept) to about ``area`` pixels, never enlarged."""
    import cv2

    im = np.ascontiguousarray(rgb, dtype=np.uint8)
    if im.ndim == 2:
        im = np.repeat(im[:, :, None], 3, axis=2)
    im = im[:, :, :3]
    h, w = im.shape[:2]
    s = min(1.0, math.sqrt(area / max(1, h * w)))
    if s >= 1.0:
        return np.ascontiguousarray(im)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(im, size, interpolation=cv2.INTER_AREA)


def flame_masks(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flame-coloured pixels, flame + adjacent white-hot core) of a shrunk RGB frame."""
    import cv2

    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    flame = (hue <= FLAME_HUE_DEG // 2) & (sat >= FLAME_SAT * 255) & (val >= FLAME_VAL * 255)
    flame = cv2.morphologyEx(flame.astype(np.uint8), cv2.MORPH_OPEN, _K3) > 0
    near = cv2.dilate(flame.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    core = (val >= CORE_VAL * 255) & (sat < FLAME_SAT * 255) & near
    return flame, flame | core


@dataclass(frozen=True)
class ClipMaps:
    """Per-pixel findings of one clip (shrunk frame size)."""

    flicker: np.ndarray  # bool: flickering flame pixels
    region: np.ndarray  # bool: flame pixels (with core) present in ≥ MIN_PRESENT frames
    smoke: np.ndarray  # bool: smoke texture near the flames
    burst: float  # expanding burst share (0: none)


def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def flicker_maps(small: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(flickering flame pixels, flame regions) of shrunk frames (module doc)."""
    masks = [flame_masks(f) for f in small]
    flame = np.array([m[0] for m in masks])
    region = np.array([m[1] for m in masks]).sum(0) >= MIN_PRESENT
    if len(small) < 2:
        return np.zeros(flame.shape[1:], bool), region
    grey = np.array([_grey(f) for f in small], np.int16)
    flips = (flame[1:] != flame[:-1]) & (np.abs(grey[1:] - grey[:-1]) >= FLIP_JUMP)
    present = flame.sum(0) >= MIN_PRESENT
    return present & (flips.sum(0) >= MIN_FLIPS), region


def smoke_map(small: Sequence[np.ndarray], flicker: np.ndarray) -> np.ndarray:
    """Low-chroma, softly changing pixels around and above the flickering flames."""
    import cv2

    out = np.zeros(flicker.shape, bool)
    if len(small) < 2 or flicker.mean() < HALF["fire"]:
        return out
    ys, xs = np.nonzero(flicker)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    bw, bh = x1 - x0, y1 - y0
    h, w = flicker.shape
    near = np.zeros(flicker.shape, bool)
    near[max(0, y0 - 2 * bh) : y1, max(0, x0 - bw // 2) : min(w, x1 + bw // 2)] = True
    lab = np.array([cv2.cvtColor(f, cv2.COLOR_RGB2LAB) for f in small], np.float32)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128).mean(0)
    light = lab[..., 0].mean(0) * 100 / 255
    grey = np.array([cv2.GaussianBlur(_grey(f), (5, 5), 0) for f in small], np.float32)
    tstd = grey.std(0)
    mean = grey.mean(0)
    grad = np.hypot(cv2.Sobel(mean, cv2.CV_32F, 1, 0), cv2.Sobel(mean, cv2.CV_32F, 0, 1)) / 8
    low = (chroma < SMOKE_CHROMA) & (light > SMOKE_L[0]) & (light < SMOKE_L[1])
    soft = low & (tstd >= SMOKE_STD) & (grad < tstd) & near & ~flicker
    return cv2.morphologyEx(soft.astype(np.uint8), cv2.MORPH_OPEN, _K3) > 0


def burst_share(small: Sequence[np.ndarray]) -> float:
    """Largest expanding burst share of the clip (module doc), 0 without one."""
    import cv2

    if len(small) < BURST_GROW_PAIRS + 1:
        return 0.0
    grey = [cv2.pyrDown(_grey(f)).astype(np.float32) for f in small]  # half size: cheaper
    window = cv2.createHanningWindow(grey[0].shape[::-1], cv2.CV_32F)
    shares = []
    for a, b in zip(grey[:-1], grey[1:], strict=True):
        (dx, dy), _ = cv2.phaseCorrelate(a, b, window)
        moved = cv2.warpAffine(
            b, np.float32([[1, 0, -dx], [0, 1, -dy]]), b.shape[::-1],
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        shares.append(float((np.abs(moved - a) >= BURST_JUMP).mean()))
    if max(shares) > CUT_SHARE:
        return 0.0
    best, run = 0.0, 1
    for prev, cur in zip(shares[:-1], shares[1:], strict=True):
        run = run + 1 if cur > prev else 1
        if run >= BURST_GROW_PAIRS and cur >= BURST_MIN:
            best = max(best, cur)
    return best


def clip_maps(frames: Sequence[np.ndarray]) -> ClipMaps:
    small = [shrink(f) for f in frames]
    shape = small[0].shape[:2] if small else (1, 1)
    small = [f if f.shape[:2] == shape else _resize_to(f, shape) for f in small]
    flicker, region = flicker_maps(small)
    return ClipMaps(flicker, region, smoke_map(small, flicker), burst_share(small))


def _resize_to(rgb: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def probability(cls: str, raw: float) -> float:
    """The documented mapping of a raw share to a probability (module doc)."""
    if raw <= 0:
        return 0.0
    z = SLOPE * math.log(raw / HALF[cls])
    return round(1 / (1 + math.exp(-max(-50.0, min(50.0, z)))), 6)


def mask_boxes(mask: np.ndarray, frame: int, label: str, *, min_share: float = 0.0005) -> list[Box]:
    """Boxes of a mask's connected regions (8-connected, at least ``min_share`` of the
    frame), largest first, normalised to the frame."""
    import cv2

    h, w = mask.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    comps = sorted(
        (stats[i] for i in range(1, n) if stats[i][4] >= min_share * h * w),
        key=lambda s: -int(s[4]),
    )
    return [
        from_pixels(frame, float(x), float(y), float(x + bw), float(y + bh), w, h, label)
        for x, y, bw, bh, _a in comps
    ]


class FireExpert:
    """Flames, smoke near flames and expanding bursts of one ≈ 1 s clip."""

    info = INFO
    clip_frames = CLIP_FRAMES
    clip_fps: float | None = CLIP_FPS
    lasting = False  # fire and smoke are sustained inside calibrate; explosions are instants

    @property
    def identity(self) -> str:
        return "fire-flicker-smoke-burst-v1"

    def score(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        if not frames:
            return {"flicker": 0.0, "smoke": 0.0, "burst": 0.0}
        m = clip_maps(frames)
        return {
            "flicker": float(m.flicker.mean()),
            "smoke": float(m.smoke.mean()),
            "burst": float(m.burst),
        }

    def regions(self, frames: Sequence[np.ndarray], frame: int) -> list[Box]:
        """Boxes of the flames (the flicker's regions, core included) and of the smoke
        near them in a clip, labelled "fire" / "smoke", for frame index ``frame``."""
        if not frames:
            return []
        m = clip_maps(frames)
        if not m.flicker.any():
            return []
        import cv2

        grown = cv2.dilate(m.flicker.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        fire = m.region & grown  # the flame regions that flicker
        return mask_boxes(fire, frame, "fire") + mask_boxes(m.smoke, frame, "smoke")

    def calibrate(self, raw: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        from langvad.stages.evidence import sustained

        probs = [
            {c: probability(c, float(r.get(RAW_OF[c], 0.0))) for c in INFO.classes} for r in raw
        ]
        lasting = sustained([{c: p[c] for c in LASTING} for p in probs])
        return [{**p, **keep} for p, keep in zip(probs, lasting, strict=True)]

    def close(self) -> None:
        pass
