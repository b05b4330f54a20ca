"""Where something happened: boxes of the objects involved, normalised to the frame."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Box:
    """One object's box in one frame: x, y = top-left corner, w, h = size, all as fractions of
    the frame's width/height in [0, 1]; ``label`` says what it is ("person", "fire", ...);
    ``track`` is the tracker's id where the box belongs to a track."""

    frame: int
    x: float
    y: float
    w: float
    h: float
    label: str
    track: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "frame": self.frame,
            "x": round(self.x, 4),
            "y": round(self.y, 4),
            "w": round(self.w, 4),
            "h": round(self.h, 4),
            "label": self.label,
        }
        if self.track is not None:
            out["track"] = self.track
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Box:
        track = d.get("track")
        return cls(
            frame=int(d["frame"]),
            x=float(d["x"]),
            y=float(d["y"]),
            w=float(d["w"]),
            h=float(d["h"]),
            label=str(d["label"]),
            track=None if track is None else int(track),
        )


def from_pixels(
    frame: int,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    width: int,
    height: int,
    label: str,
    track: int | None = None,
) -> Box:
    """A box from pixel corners (x0, y0)-(x1, y1) in a width × height frame, clipped to it."""
    fx0 = min(max(x0 / width, 0.0), 1.0)
    fy0 = min(max(y0 / height, 0.0), 1.0)
    fx1 = min(max(x1 / width, 0.0), 1.0)
    fy1 = min(max(y1 / height, 0.0), 1.0)
    return Box(frame, fx0, fy0, max(0.0, fx1 - fx0), max(0.0, fy1 - fy0), label, track)
