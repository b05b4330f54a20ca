"""The records a live camera writes, shared by ``langvad watch`` (writer), the alert sinks
and ``langvad serve`` (reader).

``langvad watch SOURCE --out DIR`` keeps one camera's folder:

- ``DIR/state.json``: the camera's ``LiveState``, replaced atomically after every decided
  window (and on connect / reconnect / end);
- ``DIR/events.jsonl``: one ``AlertEvent`` per line, appended and fsynced as it happens
  (``type`` "new" when a segment opens, "end" when it closes with its explanation);
- ``DIR/keyframes/<event id>.jpg``: the key frame of each alert;
- ``DIR/reviews.jsonl``: one ``Review`` per line, written by ``langvad serve`` when a person
  marks an alert true or false (the last line for an event id wins).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_FILE = "state.json"
EVENTS_FILE = "events.jsonl"
REVIEWS_FILE = "reviews.jsonl"
KEYFRAMES_DIR = "keyframes"


class AlertEvent(BaseModel):
    """One alert: raised when a segment opens ("new"), completed when it closes ("end")."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable id of the event: '<camera>-<start ms>'")
    type: Literal["new", "update", "end"]
    camera: str
    start_time: float = Field(description="stream seconds where the segment opens")
    end_time: float | None = Field(None, description="stream seconds where it closed")
    started_at: str = Field(description="ISO 8601 wall-clock time of start_time")
    emitted_at: str = Field(description="ISO 8601 wall-clock time this record was made")
    score: float = Field(ge=0, le=1, description="peak anomaly score so far")
    threshold: float = Field(ge=0, le=1, description="the threshold the score crossed")
    key_frame: str | None = Field(None, description="path of the key frame, relative to DIR")
    evidence: list[str] = Field(default_factory=list, description="expert facts and items")
    title: str | None = None
    explanation: dict[str, object] | None = Field(
        None, description="the LLM's explanation (langvad.result.Explanation) on 'end'"
    )


class LiveState(BaseModel):
    """What a camera is doing now (``DIR/state.json``)."""

    model_config = ConfigDict(extra="forbid")

    camera: str
    source: str = Field(description="the stream's address with any password removed")
    status: Literal["starting", "connected", "reconnecting", "ended", "failed"]
    started_at: str
    updated_at: str
    fps: float = 0.0
    frames: int = Field(0, description="frames received")
    dropped: int = Field(0, description="frames dropped (source gaps + a full queue)")
    reconnects: int = 0
    times: list[float] = Field(default_factory=list, description="recent window times (s)")
    scores: list[float] = Field(default_factory=list, description="their scores")
    high: float = Field(0.5, description="threshold that opens a segment")
    low: float = Field(0.4, description="threshold that closes it")
    open_event: str | None = Field(None, description="id of the open event, if any")
    message: str | None = Field(None, description="last error or reconnect line")


class Review(BaseModel):
    """A person's verdict on one alert."""

    model_config = ConfigDict(extra="forbid")

    event_id: str
    verdict: Literal["true", "false"]
    note: str = Field("", max_length=500)
    reviewed_at: str
