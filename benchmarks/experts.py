"""Cost of the event experts: `langvad detect` with and without them, in one run on one
machine, on the labelled clips that matter for speed.

    python benchmarks/experts.py [--clips vtest.avi,Fighting033_x264_570_841.mp4]

Each run is a separate `langvad detect` process (default `fast` profile, scene describer +
Qwen2.5-Coder-1.5B, explanations on) with an empty artefact cache, so wall time, real-time
factor and peak RSS are its own. Prints a Markdown table with the with/without ratio per clip
(machines differ in speed; the ratio is what carries over) and writes runs/bench/experts.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import CLIPS, detect_usage, write_table


def detect(video: Path, experts: str, work: Path) -> dict[str, Any]:
    out = work / f"{video.stem}-{experts.replace(',', '_')}"
    # an empty cache per run: a cold run
    return detect_usage(video, out, work / f"cache-{out.name}.sqlite", ["--experts", experts])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", default="vtest.avi,Fighting033_x264_570_841.mp4")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.clips.split(","):
            video = CLIPS / name
            if not video.exists():
                print(f"missing {video}: clone with ../shared beside the repo", file=sys.stderr)
                return 2
            base = detect(video, "none", Path(tmp))
            full = detect(video, "violence,motion,fall", Path(tmp))
            rows.append((name, base, full))
    head = (
        "| clip | video s | experts | segments | expert clips | expert s | captioner s | "
        "LLM s | wall s | real-time factor | peak RSS GiB |\n" + "|---" * 11 + "|"
    )
    lines = [head]
    for name, base, full in rows:
        for label, r in (("none", base), ("violence, motion, fall", full)):
            segs = ", ".join(f"{a:.1f}–{b:.1f}" for a, b in r["segments"]) or "none"
            lines.append(
                f"| {name} | {r['video_s']:.1f} | {label} | {segs} | {r['expert_clips']} | "
                f"{r['expert_s']:.1f} | {r['caption_s']:.1f} | {r['llm_s']:.1f} | "
                f"{r['wall']:.1f} | {r['rtf']:.2f} | {r['rss']:.2f} |"
            )
        lines.append(
            f"| {name} | | with / without | | | | | | {full['wall'] / base['wall']:.2f}× | "
            f"{full['rtf'] / base['rtf']:.2f}× | {full['rss'] / base['rss']:.2f}× |"
        )
    write_table("experts", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
