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
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import CLIPS, detect_usage, write_table


def detect(video: Path, mode: str, experts: str, work: Path) -> dict[str, Any]:
    out = work / f"{video.stem}-{mode}"
    extra = ["--score-mode", mode, "--experts", experts, "--no-explain"]
    # an empty cache per run: a cold run
    return detect_usage(video, out, work / f"cache-{out.name}.sqlite", extra)


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
    write_table("judge_speed", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
