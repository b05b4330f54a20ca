"""On-paper cost of the full UCF-Crime and XD-Violence test sets, from measured runs.

1. Measures: one `langvad detect` per profile (`fast` = the default, `lavad` = the paper's)
   on the first ``--seconds`` of vtest.avi (real street footage, the offline describer's
   captions), empty cache, no explanations. From each run's provenance: LLM calls, prompt and
   generated tokens, captioner calls, per window and per video-minute.
2. Projects: the test sets' video minutes (published: UCF-Crime 1,900 videos / 128 h, test
   split 290 videos; XD-Violence 4,754 videos / 217 h, test split 800 videos; the test videos
   are assumed to have the dataset's mean length, as the test splits' own durations are not
   published with the counts) × the measured cost per video-minute. `lavad` centres a window
   on every 16th frame, so its windows (and LLM calls) per minute grow with the frame rate:
   its per-window cost is scaled to each dataset's rate (UCF-Crime 30 fps, XD-Violence 24 fps).
   `fast` centres a window every 4 s and describes 1 frame/s, whatever the frame rate.
3. GPU-hours at a stated vLLM throughput (assumptions, not measured here — no GPU model
   server runs on this machine): a 13B chat model (the paper's Llama-2-13B) on one A100-80GB
   prefilling ``--prefill`` tokens/s and generating ``--decode`` tokens/s summed over a full
   batch; a captioner (BLIP-2 class) describing ``--captions-per-s`` frames/s. The paper's
   reference captions every frame with 5 BLIP-2 models (9,000 captioner calls per
   video-minute at 30 fps): shown as the "reference" row.

    python benchmarks/cost.py [--seconds 40] [--prefill 8000] [--decode 1500]
        [--lavad-usage CALLS,PROMPT_TOKENS,GEN_TOKENS,CAPTIONS,VIDEO_SECONDS,FPS]

``--lavad-usage`` takes the `lavad` run's totals from an earlier measurement instead of
running it (a cold `lavad` run costs ≈ 6× real time on 2 cores), e.g. the speed table's
vtest row (`python benchmarks/speed.py`): ``--lavad-usage 88,40420,2400,80,79.5,10``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"


@dataclass(frozen=True)
class Dataset:
    name: str
    videos: int
    hours_all: float
    videos_all: int
    fps: float

    @property
    def minutes(self) -> float:
        return self.videos * self.hours_all * 60 / self.videos_all


DATASETS = (
    Dataset("UCF-Crime test", 290, 128.0, 1900, 30.0),
    Dataset("XD-Violence test", 800, 217.0, 4754, 24.0),
)


def cut(work: Path, seconds: float) -> Path:
    out = work / "vtest_cut.mp4"
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(CLIPS / "vtest.avi")]
    cmd += ["-t", f"{seconds}", "-an", "-c:v", "libx264", "-preset", "veryfast", str(out)]
    subprocess.run(cmd, check=True)
    return out


def measure(video: Path, profile: str, work: Path) -> dict[str, Any]:
    """One `langvad detect` process with an empty cache; its usage and window count."""
    out = work / profile
    cmd = [sys.executable, "-m", "langvad.cli", "detect", str(video), "--profile", profile]
    cmd += ["--out", str(out), "--cache", str(work / f"{profile}.sqlite")]
    cmd += ["--no-report", "--no-explain", "-q"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{profile} failed:\n{r.stderr[-3000:]}")
    res = json.loads((out / "result.json").read_text())
    u = dict(res["provenance"]["usage"])
    u["windows"] = len(res["windows"])
    u["fps"] = float(res["fps"])
    u["wall"] = time.perf_counter() - t0
    return u


def per_minute(u: dict[str, Any], fps: float | None) -> dict[str, float]:
    """Cost per video-minute; ``fps`` scales a per-frame-stride profile's windows."""
    minutes = u["video_seconds"] / 60
    scale = fps / u["fps"] if fps else 1.0  # windows per minute ∝ frame rate (stride 16)
    return {
        "llm_calls": u["llm_calls"] / minutes * scale,
        "prompt_tokens": u["prompt_tokens"] / minutes * scale,
        "gen_tokens": u["completion_tokens"] / minutes * scale,
        "captions": u["captioner_calls"] / minutes,
    }


def gpu_hours(c: dict[str, float], minutes: float, a: argparse.Namespace) -> float:
    llm = (c["prompt_tokens"] / a.prefill + c["gen_tokens"] / a.decode) * minutes
    return (llm + c["captions"] * minutes / a.captions_per_s) / 3600


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40.0, help="vtest seconds measured")
    ap.add_argument("--prefill", type=float, default=8000.0, help="vLLM prompt tokens/s")
    ap.add_argument("--decode", type=float, default=1500.0, help="vLLM generated tokens/s")
    ap.add_argument("--captions-per-s", type=float, default=20.0, help="captioner frames/s")
    ap.add_argument("--lavad-usage", help="CALLS,PROMPT,GEN,CAPTIONS,VIDEO_S,FPS (no lavad run)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        video = cut(work, a.seconds)
        runs = {"fast": measure(video, "fast", work)}
        if a.lavad_usage:
            calls, prompt, gen, caps, secs, fps = (float(x) for x in a.lavad_usage.split(","))
            runs["lavad"] = {
                "llm_calls": calls,
                "prompt_tokens": prompt,
                "completion_tokens": gen,
                "captioner_calls": caps,
                "video_seconds": secs,
                "fps": fps,
                "windows": "–",
                "wall": float("nan"),
            }
        else:
            runs["lavad"] = measure(video, "lavad", work)
    print(f"## measured on vtest, first {a.seconds:g} s (10 fps), empty cache, 2 cores")
    print("| profile | windows | LLM calls | prompt tok | gen tok | captioner calls | wall s |")
    print("|---|---|---|---|---|---|---|")
    for p, u in runs.items():
        print(
            f"| {p} | {u['windows']} | {u['llm_calls']} | {u['prompt_tokens']} | "
            f"{u['completion_tokens']} | {u['captioner_calls']} | {u['wall']:.0f} |"
        )
    print(
        f"\n## projected (vLLM {a.prefill:g} prompt tok/s + {a.decode:g} gen tok/s; captioner "
        f"{a.captions_per_s:g} frames/s; one A100 each)"
    )
    print(
        "| dataset | video h | profile | LLM calls/min | LLM calls | prompt Mtok | gen Mtok | "
        "captioner calls | GPU-hours |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for ds in DATASETS:
        rows = {
            "fast": per_minute(runs["fast"], None),
            "lavad": per_minute(runs["lavad"], ds.fps),
        }
        ref = dict(rows["lavad"], captions=5 * ds.fps * 60)  # every frame, 5 captioners
        rows["reference (5 captioners, every frame)"] = ref
        for p, c in rows.items():
            m = ds.minutes
            print(
                f"| {ds.name} | {m / 60:.1f} | {p} | {c['llm_calls']:.1f} | "
                f"{c['llm_calls'] * m:,.0f} | {c['prompt_tokens'] * m / 1e6:.1f} | "
                f"{c['gen_tokens'] * m / 1e6:.2f} | {c['captions'] * m:,.0f} | "
                f"{gpu_hours(c, m, a):.1f} |"
            )


if __name__ == "__main__":
    main()
