"""Where the time goes: `langvad detect` per stage, per video-minute, as whole processes.

    python benchmarks/profile.py [--videos A,B,C (under ../shared/data)] [--no-explain]

In one run on one machine:

1. decode only (every frame to RGB, the floor), per video — the reference every other number
   is divided by, because this machine's speed varies (2 shared cores);
2. the violence model per 16-frame clip, the direct 3-D graph (before) against the 2-D graph
   (after, the default), interleaved on real clips, wall and CPU seconds;
3. per video, two cold `langvad detect` processes, the experts one stage after the other
   (``{"overlap": false}``, for the per-stage table) and beside the describer (the default);
   default settings otherwise (describer, all experts, Qwen2.5-Coder-1.5B, explanation;
   empty artefact cache, installed models): wall time, real-time factor, peak RSS and stage
   seconds (provenance.usage.stage_seconds: captions = describer, experts, score = encoder +
   LLM judge, explain, …), with process start, model loads, decode and report writing as the
   rest (wall − stages).

Prints Markdown tables (seconds per video-minute and × decode time) and writes
runs/bench/profile.md. Not a test: numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
VIDEOS = (
    "clips/vtest.avi,clips/Fighting033_x264_570_841.mp4,normal_clips/Normal_Videos_010_x264.mp4"
)


def decode_seconds(path: Path) -> tuple[float, float]:
    """(wall seconds to decode every frame to RGB, video seconds)."""
    import av

    t0 = time.perf_counter()
    last = 0.0
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            f.to_ndarray(format="rgb24")
            last = float(f.time or last)
    return time.perf_counter() - t0, last


def violence_before_after(repeats: int = 3) -> dict[str, dict[str, float]]:
    """Seconds per clip (min over repeats, wall and CPU) of both violence graphs on real clips,
    interleaved so that load changes hit both alike."""
    sys.path.insert(0, str(REPO / "tests"))
    from test_experts import FIGHT, MIND, VTEST, _clip

    from langvad.vision.experts.violence import ViolenceExpert

    clips = [_clip(FIGHT, 4.0), _clip(MIND, 2.5), _clip(VTEST, 31.0)]
    graphs = {
        "3-D graph (before)": ViolenceExpert(reference=True),
        "2-D graph (after)": ViolenceExpert(),
    }
    best: dict[str, dict[str, float]] = {k: {"wall": 1e9, "cpu": 1e9} for k in graphs}
    for e in graphs.values():
        e.logits(clips[0])  # warm-up
    for _ in range(repeats):
        for name, e in graphs.items():
            w, c = time.perf_counter(), time.process_time()
            for frames in clips:
                e.logits(frames)
            b = best[name]
            b["wall"] = min(b["wall"], (time.perf_counter() - w) / len(clips))
            b["cpu"] = min(b["cpu"], (time.process_time() - c) / len(clips))
    return best


def detect(video: Path, work: Path, explain: bool, overlap: bool = True) -> dict[str, Any]:
    tag = f"{video.stem}-{'overlap' if overlap else 'sequential'}"
    out = work / tag
    cmd = [
        sys.executable, "-m", "langvad.cli", "detect", str(video), "--out", str(out), "--quiet",
        "--cache", str(work / f"cache-{tag}.sqlite"),  # empty: a cold run
    ]  # fmt: skip
    if not explain:
        cmd.append("--no-explain")
    if not overlap:
        cfg = work / "sequential.json"
        cfg.write_text('{"overlap": false}')
        cmd += ["--config", str(cfg)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    process_wall = time.perf_counter() - t0
    res = json.loads((out / "result.json").read_text())
    u = res["provenance"]["usage"]
    return {
        "process_wall": process_wall,
        "usage": u,
        "segments": [(s["start_time"], s["end_time"]) for s in res["segments"]],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", default=VIDEOS)
    ap.add_argument("--no-explain", action="store_true")
    args = ap.parse_args()
    videos = [DATA / v for v in args.videos.split(",")]
    for v in videos:
        if not v.exists():
            print(f"missing {v}: clone with ../shared beside the repo", file=sys.stderr)
            return 2
    lines = ["#### Violence model per 16-frame clip (same run, real clips, 2 threads)", ""]
    lines += ["| graph | wall s/clip | CPU s/clip |", "|---|---|---|"]
    va = violence_before_after()
    for name, b in va.items():
        lines.append(f"| {name} | {b['wall']:.3f} | {b['cpu']:.3f} |")
    (b0, b1) = va.values()
    lines.append(
        f"| after / before | {b1['wall'] / b0['wall']:.2f}× | {b1['cpu'] / b0['cpu']:.2f}× |"
    )
    print("\n".join(lines), flush=True)
    stages = ["caption", "experts", "score", "explain"]
    head = (
        "| video | video s | decode s/min | "
        + " | ".join(f"{s} s/min (× decode)" for s in stages)
        + " | rest s/min (× decode) | process wall s/min (× decode) | real-time factor | "
        "peak RSS GiB | segments |"
    )
    table = ["", "#### Per stage, per video-minute (cold `langvad detect` processes)", "", head]
    table.append("|---" * (8 + len(stages)) + "|")
    overlap_rows = [
        "",
        "#### The experts beside the describer (`overlap`, the default) against one stage "
        "after the other (same run, cold processes)",
        "",
        "| video | sequential wall s | overlapped wall s | overlapped / sequential | "
        "real-time factor (seq → overlapped) | same segments |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for v in videos:
            dec, vid_s = decode_seconds(v)
            seq = detect(v, Path(tmp), not args.no_explain, overlap=False)
            r = detect(v, Path(tmp), not args.no_explain)
            vs0 = float(seq["usage"]["video_seconds"]) or vid_s
            overlap_rows.append(
                f"| {v.name} | {seq['process_wall']:.1f} | {r['process_wall']:.1f} | "
                f"{r['process_wall'] / seq['process_wall']:.2f}× | "
                f"{vs0 / seq['process_wall']:.2f} → {vs0 / r['process_wall']:.2f} | "
                f"{'yes' if seq['segments'] == r['segments'] else 'NO'} |"
            )
            print(overlap_rows[-1], flush=True)
            r = seq  # the per-stage table: stage seconds add up only one after the other
            u = r["usage"]
            vs = float(u["video_seconds"]) or vid_s
            per_min = 60.0 / vs
            dpm = dec * per_min
            st = u.get("stage_seconds", {})
            cells = []
            for s in stages:
                x = float(st.get(s, 0.0)) * per_min
                cells.append(f"{x:.1f} ({x / dpm:.0f}×)")
            rest = (r["process_wall"] - sum(float(x) for x in st.values())) * per_min
            wall = r["process_wall"] * per_min
            segs = ", ".join(f"{a:.1f}–{b:.1f}" for a, b in r["segments"]) or "none"
            table.append(
                f"| {v.name} | {vs:.1f} | {dpm:.2f} | " + " | ".join(cells)
                + f" | {rest:.1f} ({rest / dpm:.0f}×) | {wall:.1f} ({wall / dpm:.0f}×) | "
                f"{vs / r['process_wall']:.2f} | {u['peak_rss_mib'] / 1024:.2f} | {segs} |"
            )  # fmt: skip
            print(table[-1], flush=True)
    text = "\n".join(lines + table + overlap_rows)
    print("\n" + text)
    dest = REPO / "runs" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "profile.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
