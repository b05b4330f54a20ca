"""Cost of the read-then-judge default against the LLM window score it replaced, in one run
on one machine: `langvad detect` on real clips with the scene describer, once with
`--score-mode choice` (fast's scoring until 2026-11-30) and once with `--score-mode rules`.

    python benchmarks/judge_speed.py [--clips vtest.avi] [--experts none]

Each run is a separate process with an empty artefact cache (cold: captions, embeddings and
every LLM call computed), explanations off so that only the scoring differs. Prints a
Markdown table with the rules / choice ratio (machines differ; the ratio carries over) and
writes runs/bench/judge_speed.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "data" / "clips"


def detect(video: Path, mode: str, experts: str, work: Path) -> dict[str, Any]:
    out = work / f"{video.stem}-{mode}"
    cmd = [
        sys.executable, "-m", "langvad.cli", "detect", str(video), "--out", str(out),
        "--score-mode", mode, "--experts", experts, "--no-explain", "--quiet", "--no-report",
        "--cache", str(work / f"cache-{out.name}.sqlite"),  # empty: a cold run
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    res = json.loads((out / "result.json").read_text())
    u = res["provenance"]["usage"]
    return {
        "segments": [(s["start_time"], s["end_time"]) for s in res["segments"]],
        "wall": u["wall_seconds"],
        "rtf": u.get("real_time_factor"),
        "rss": u["peak_rss_mib"] / 1024,
        "caption_s": u["captioner_seconds"],
        "llm_s": u["llm_seconds"],
        "llm_calls": u["llm_calls"],
        "video_s": u["video_seconds"],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", default="vtest.avi")
    ap.add_argument("--experts", default="none")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips.split(","):
            video = CLIPS / name
            if not video.exists():
                print(f"missing {video}: clone with ../shared beside the repo", file=sys.stderr)
                return 2
            before = detect(video, "choice", args.experts, Path(tmp))
            after = detect(video, "rules", args.experts, Path(tmp))
            rows.append((name, before, after))
    head = (
        "| clip | video s | score mode | segments | LLM calls | captioner s | LLM s | wall s | "
        "real-time factor | peak RSS GiB |\n" + "|---" * 10 + "|"
    )
    lines = [head]
    for name, before, after in rows:
        for label, r in (("choice (before)", before), ("rules (default)", after)):
            segs = ", ".join(f"{a:.1f}–{b:.1f}" for a, b in r["segments"]) or "none"
            lines.append(
                f"| {name} | {r['video_s']:.1f} | {label} | {segs} | {r['llm_calls']} | "
                f"{r['caption_s']:.1f} | {r['llm_s']:.1f} | {r['wall']:.1f} | {r['rtf']:.2f} | "
                f"{r['rss']:.2f} |"
            )
        lines.append(
            f"| {name} | | rules / choice | | | | | {after['wall'] / before['wall']:.2f}× | "
            f"{after['rtf'] / before['rtf']:.2f}× | {after['rss'] / before['rss']:.2f}× |"
        )
    text = "\n".join(lines)
    print(text)
    out = REPO / "runs" / "bench" / "judge_speed.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
