"""The one result type of a run, and its writers (JSON, CSV, PNG)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from langvad.errors import OutputError
from langvad.fileio import atomic_path, write_atomic


class Window(BaseModel):
    """One centre frame: its window, summary and scores."""

    centre_frame: int
    centre_time: float
    frames: list[int]
    captions: list[str]
    summary: str
    raw_score: float | None  # None: the reply could not be parsed (interpolated)
    score: float  # after interpolation of failures
    refined_score: float  # the LLM score after refinement
    final_score: float | None = None  # after fusion with expert evidence (None: no experts)
    option_probs: dict[str, float] | None = None
    zero_shot_score: float | None = None  # text-encoder evidence, when blended in
    evidence: dict[str, float] = Field(default_factory=dict)  # event class → probability
    facts: list[str] = Field(default_factory=list)  # the evidence as the LLM read it
    # score_mode rules: the scored description's most abnormal item, the abnormal rule it
    # reads like, its text-encoder probability, the LLM's P(yes) when asked, the item's score
    judged: dict[str, Any] | None = None


class Explanation(BaseModel):
    """A segment's explanation, produced by one schema-constrained LLM call."""

    title: str
    what_happened: str
    why_anomalous: str
    category: str  # open vocabulary, e.g. "fighting", "vehicle on walkway"
    confidence: float = Field(ge=0, le=1)
    start_time: float
    end_time: float


class Segment(BaseModel):
    start_frame: int  # inclusive
    end_frame: int  # inclusive
    start_time: float
    end_time: float  # time of the end frame + one frame duration
    peak_score: float
    mean_score: float
    summaries: list[str] = Field(default_factory=list)
    explanation: Explanation | None = None  # None: not explained (disabled or reply invalid)
    key_frames: list[int] = Field(default_factory=list)  # frames to show as thumbnails
    # boxes of the things involved (Box.to_json() per key frame: normalised x, y, w, h)
    boxes: list[dict[str, Any]] = Field(default_factory=list)


class Result(BaseModel):
    input: str
    n_frames: int
    fps: float
    timestamps: list[float]
    scores: list[float]
    windows: list[Window]
    segments: list[Segment]
    provenance: dict[str, Any]
    metrics: dict[str, float] = Field(default_factory=dict)

    # -- writers ---------------------------------------------------------------------------
    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write result.json, scores.csv and scores.png into ``out_dir``, each atomically.

        A failed write (full disk, no permission) raises :class:`OutputError` naming the file
        and leaves the previous file, if any, as it was.
        """
        out = Path(out_dir)
        _make_dir(out)
        paths = {
            "json": out / "result.json",
            "csv": out / "scores.csv",
            "png": out / "scores.png",
        }
        write_atomic(paths["json"], self.model_dump_json(indent=2))
        self.write_csv(paths["csv"])
        self.write_plot(paths["png"])
        return paths

    def csv_text(self) -> str:
        """scores.csv: one row per frame (index, time, score, inside a segment)."""
        anomalous = [False] * self.n_frames
        for s in self.segments:
            for f in range(s.start_frame, s.end_frame + 1):
                anomalous[f] = True
        buf = io.StringIO(newline="")
        w = csv.writer(buf)
        w.writerow(["frame", "time_s", "score", "in_segment"])
        for i, (t, s) in enumerate(zip(self.timestamps, self.scores, strict=True)):
            w.writerow([i, f"{t:.4f}", f"{s:.6f}", int(anomalous[i])])
        return buf.getvalue()

    def write_csv(self, path: Path) -> None:
        write_atomic(path, self.csv_text())

    def write_plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(10, 3), dpi=100)
        ax.plot(self.timestamps, self.scores, color="tab:red", lw=1.5, label="anomaly score")
        ax.scatter(
            [w.centre_time for w in self.windows],
            [w.score for w in self.windows],
            s=10,
            color="tab:gray",
            label="LLM score (centre)",
            zorder=3,
        )
        for i, s in enumerate(self.segments):
            ax.axvspan(
                s.start_time,
                s.end_time,
                color="tab:red",
                alpha=0.15,
                label="anomalous segment" if i == 0 else None,
            )
        thr = self.provenance.get("config", {}).get("threshold")
        if thr is not None:
            ax.axhline(thr, color="k", ls=":", lw=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, max(self.timestamps[-1], 1e-6) if self.timestamps else 1)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("score")
        ax.set_title(Path(self.input).name)
        ax.legend(loc="upper right", fontsize=7)
        fig.tight_layout()
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format="png")
        finally:
            plt.close(fig)


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(
            f"cannot create output folder {out}: {e.strerror or e}",
            hint="choose another --out or make its parent folder writable",
        ) from None
