"""The fire expert on real footage: per clip, its clip values, whether a segment is found,
how much of the labelled frames it covers, false segments and facts per minute on normal
footage, and what it costs against decoding the same frames, in one run.

    python benchmarks/fire.py [--experts fire] [--out runs/bench/fire.md]

Each video runs through the real pipeline with the experts alone (`llm_weight` 0: no
captioner, no LLM; default `fast` profile, preset `ucf`, empty cache), so segments and facts
are the experts'; the fire-only table isolates this expert (`--experts
violence,motion,fall,fire` shows the combination). Videos: every fire/smoke/explosion clip in
`../shared/data/event_clips`, its other labelled events (crashes, falls: not the expert's
job, listed for false facts), its hard normals, every `normal_clips` video and the labelled
clips' normal videos (vtest, A_Beautiful_Mind). Cost: the expert's seconds per video-minute
next to the seconds it takes to decode and convert the frames its clips need (the same
frames, in the same run), so the ratio carries over to other machines.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FIRE_CLASSES = ("fire", "smoke", "explosion")


def labels(folder: Path) -> dict[str, tuple[str, list[tuple[int, int]]]]:
    """annotations.txt: name class s1 e1 s2 e2 (frames, -1 = none)."""
    out = {}
    for line in (folder / "annotations.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        nums = [int(x) for x in parts[2:]]
        spans = [(a, b) for a, b in zip(nums[::2], nums[1::2], strict=False) if a >= 0]
        out[parts[0]] = (parts[1], spans)
    return out


def videos() -> list[tuple[Path, str, list[tuple[int, int]]]]:
    ev = labels(DATA / "event_clips")
    rows = [(DATA / "event_clips" / n, c, s) for n, (c, s) in sorted(ev.items())]
    rows += [(p, "Normal", []) for p in sorted((DATA / "normal_clips").glob("*.mp4"))]
    rows += [
        (DATA / "clips" / n, "Normal", [])
        for n in ("vtest.avi", "A_Beautiful_Mind_label_A_1845_2101.mp4")
    ]
    return rows


def decode_seconds(path: Path, frames: list[int]) -> float:
    from langvad.video import probe, read_frames

    t0 = time.perf_counter()
    for _ in read_frames(probe(path), frames):
        pass
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experts", default="fire")
    ap.add_argument("--out", default=str(REPO / "runs" / "bench" / "fire.md"))
    args = ap.parse_args()
    if not (DATA / "event_clips").is_dir():
        print(
            f"missing {DATA / 'event_clips'}: clone with ../shared beside the repo", file=sys.stderr
        )
        return 2
    from langvad.config import preset_config
    from langvad.pipeline import Runner
    from langvad.source import open_source
    from langvad.store import Store

    experts = args.experts.split(",")
    head = (
        "| video | label | s | fire clip values (max, sustained) | smoke | explosion | "
        "segments | coverage of labelled frames | fire/smoke/explosion facts | "
        "expert s/min | decode s/min |\n" + "|---" * 11 + "|"
    )
    lines = [head]
    normal_min = normal_segs = normal_facts = 0.0
    exp_s = dec_s = total_min = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cfg = preset_config("ucf", llm_weight=0.0, explain=False, experts=experts)
        runner = Runner(cfg, store=Store(Path(tmp) / "c.sqlite"), progress=False)
        for path, cls, spans in videos():
            if not path.exists():
                print(f"skip missing {path}", file=sys.stderr)
                continue
            source = open_source(path)
            before = runner.usage.expert_seconds
            res = runner.run(source)
            spent = runner.usage.expert_seconds - before
            clips = [c for c in res.provenance["evidence"]["clips"] if c["expert"] == "fire"]
            frames = sorted({f for c in clips for f in range(c["frames"][0], c["frames"][1] + 1)})
            dec = decode_seconds(path, frames) if frames else 0.0
            minutes = source.duration / 60
            vals = {
                k: max((c["evidence"].get(k, 0.0) for c in clips), default=0.0)
                for k in FIRE_CLASSES
            }
            facts = sum(
                1 for w in res.windows for f in w.facts if f.split(" is ")[0] in _FACT_HEADS
            )
            labelled = {f for a, b in spans for f in range(a, b + 1)}
            flagged = {f for s in res.segments for f in range(s.start_frame, s.end_frame + 1)}
            cover = len(labelled & flagged) / len(labelled) if labelled else None
            segs = ", ".join(f"{s.start_time:.1f}–{s.end_time:.1f}" for s in res.segments)
            if cls == "Normal":
                normal_min += minutes
                normal_segs += len(res.segments)
                normal_facts += facts
            exp_s += spent
            dec_s += dec
            total_min += minutes
            fire_seq = " ".join(f"{c['evidence'].get('fire', 0.0):.2f}" for c in clips)
            lines.append(
                f"| {path.name} | {cls} | {source.duration:.1f} | {vals['fire']:.2f} "
                f"({_short(fire_seq)}) | {vals['smoke']:.2f} | {vals['explosion']:.2f} | "
                f"{segs or 'none'} | {'–' if cover is None else f'{cover:.0%}'} | {facts} | "
                f"{spent / minutes:.1f} | {dec / minutes:.1f} |"
            )
    lines.append("")
    lines.append(
        f"Normal footage: {normal_min:.2f} min, {normal_segs / max(normal_min, 1e-9):.2f} "
        f"false segments/min, {normal_facts / max(normal_min, 1e-9):.2f} false fire/smoke/"
        f"explosion facts/min (window facts). Cost: expert {exp_s / total_min:.2f} s per "
        f"video-minute = {exp_s / (total_min * 60):.3f}× real time; decoding the same frames "
        f"{dec_s / total_min:.2f} s/min (expert / decode = {exp_s / max(dec_s, 1e-9):.2f})."
    )
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


_FACT_HEADS = {
    "a fire with flickering flames",
    "smoke rising from a fire",
    "an explosion (a sudden, expanding burst)",
}


def _short(seq: str, limit: int = 60) -> str:
    return seq if len(seq) <= limit else seq[: limit - 1] + "…"


if __name__ == "__main__":
    raise SystemExit(main())
