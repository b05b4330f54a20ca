"""Speed benchmark: the `fast` profile against the paper's `lavad` sampling, on real inputs,
in one run on one machine.

    python benchmarks/speed.py [--clip-seconds 80] [--long-minutes 10] [--skip-auc]

Sections (every model run is a separate `langvad detect` process with an empty artefact
cache, so calls, tokens, wall time and peak RSS are its own):

1. decode-only throughput of ../shared/data/clips/vtest.avi (the physical floor);
2. end to end on vtest.avi (10 fps fixed camera; the first --clip-seconds of it) with the
   default offline stack (scene describer + Qwen2.5-Coder-1.5B): `lavad` vs `fast`;
3. cost against length: `fast` on a 1-minute and a --long-minutes input made of consecutive
   real Avenue frame descriptions (text bench, 25 fps), so no window repeats another;
4. frame AUC of both profiles on the Ped2 text bench (all 12 videos) through the eval harness
   (the user cache is shared with `langvad eval`, so a finished eval is not recomputed).

Prints Markdown tables with ratios fast/lavad, and writes them to runs/bench/speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import av
from _common import REPO, langvad

SHARED = REPO.parent / "shared" / "data"
VTEST = SHARED / "clips" / "vtest.avi"
AVENUE = SHARED / "text_bench" / "avenue" / "descriptions"
PED2 = SHARED / "text_bench"


def decode_only(path: Path) -> dict[str, float]:
    """Decode every frame to RGB (what sampling must at least pay) and time it."""
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        n = 0
        last = 0.0
        for f in c.decode(s):
            f.to_ndarray(format="rgb24")
            n += 1
            last = float(f.time or last)
    wall = time.perf_counter() - t0
    return {"frames": n, "video_s": last, "wall_s": wall, "fps": n / wall, "rtf": last / wall}


def trim(path: Path, seconds: float, out: Path) -> Path:
    """The first ``seconds`` of a video, re-encoded losslessly enough (MJPEG, q=2)."""
    with av.open(str(path)) as src, av.open(str(out), "w") as dst:
        s = src.streams.video[0]
        o = dst.add_stream("mjpeg", rate=s.average_rate)
        o.width, o.height, o.pix_fmt = s.width, s.height, "yuvj420p"
        o.options = {"q:v": "2"}
        for f in src.decode(s):
            if f.time is not None and f.time >= seconds:
                break
            f.pts = None
            for p in o.encode(f.reformat(format="yuvj420p")):
                dst.mux(p)
        for p in o.encode():
            dst.mux(p)
    return out


def avenue_captions(minutes: float, out: Path, fps: float = 25.0) -> Path:
    """``minutes`` of consecutive real Avenue descriptions (test_01, test_02, ...)."""
    need = int(minutes * 60 * fps)
    lines: list[str] = []
    for f in sorted(AVENUE.glob("test_*.txt")):
        lines += f.read_text().splitlines()
        if len(lines) >= need:
            break
    if len(lines) < need:
        raise SystemExit(f"only {len(lines) / fps / 60:.1f} min of Avenue descriptions")
    out.write_text("\n".join(lines[:need]) + "\n")
    return out


def detect(args: list[str], work: Path, tag: str) -> dict[str, Any]:
    """One `langvad detect` process, empty cache; returns its usage + wall."""
    out = work / tag
    cmd = ["detect", *args, "--out", str(out)]
    cmd += ["--cache", str(work / f"{tag}.sqlite"), "--no-report", "--no-explain", "-q"]
    _, wall = langvad(cmd)
    res = json.loads((out / "result.json").read_text())
    u = dict(res["provenance"]["usage"])
    u["process_wall_s"] = wall
    u["windows"] = len(res["windows"])
    print(
        f"  {tag}: {u['windows']} windows, {u['llm_calls']} LLM calls, "
        f"{u['captioner_calls']} captioner calls, {wall:.0f} s",
        flush=True,
    )
    return u


def per_min(u: dict[str, Any], key: str) -> float:
    return u[key] / (u["video_seconds"] / 60)


def _per_frame(u: dict[str, Any]) -> str:
    n = u.get("captioner_calls", 0)
    return f"{u['captioner_seconds'] / n:.2f}" if n else "–"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "–"


def cost_table(rows: dict[str, dict[str, Any]], base: str | None) -> str:
    cols = [
        ("video s", lambda u: f"{u['video_seconds']:.0f}"),
        ("windows", lambda u: str(u["windows"])),
        ("captioner calls/min", lambda u: f"{per_min(u, 'captioner_calls'):.1f}"),
        ("captioner s/frame", lambda u: _per_frame(u)),
        ("LLM calls/min", lambda u: f"{per_min(u, 'llm_calls'):.1f}"),
        ("prompt tok/min", lambda u: f"{per_min(u, 'prompt_tokens'):.0f}"),
        ("gen tok/min", lambda u: f"{per_min(u, 'completion_tokens'):.0f}"),
        ("wall s", lambda u: f"{u['wall_seconds']:.0f}"),
        ("real-time factor", lambda u: f"{u['video_seconds'] / u['wall_seconds']:.2f}"),
        ("peak RSS GiB", lambda u: f"{u['peak_rss_mib'] / 1024:.2f}"),
    ]
    lines = ["| run | " + " | ".join(c for c, _ in cols) + " |"]
    lines.append("|---" * (len(cols) + 1) + "|")
    for tag, u in rows.items():
        lines.append(f"| {tag} | " + " | ".join(f(u) for _, f in cols) + " |")
    if base and base in rows:
        b = rows[base]
        for tag, u in rows.items():
            if tag == base:
                continue
            sec = ratio(
                u["wall_seconds"] / u["video_seconds"], b["wall_seconds"] / b["video_seconds"]
            )
            cells = [
                ratio(per_min(u, k), per_min(b, k))
                for k in ("captioner_calls", "llm_calls", "prompt_tokens", "completion_tokens")
            ]
            lines.append(
                f"| {tag} / {base} | – | {ratio(u['windows'], b['windows'])} | "
                + cells[0]
                + " | – | "
                + " | ".join(cells[1:])
                + f" | {sec} (per video-s) | – | – |"
            )
    return "\n".join(lines)


def ped2_auc(profile: str) -> dict[str, float]:
    from langvad.config import preset_config
    from langvad.eval.datasets import load_dataset
    from langvad.eval.harness import run_eval
    from langvad.eval.variants import select_variants

    items = load_dataset(PED2, "ped2")
    base = preset_config("ped2", profile)
    run = run_eval("ped2", items, base, select_variants("full"), progress=False)
    vr = run.runs[0]
    # calls made now plus the ones answered from the cache (this section reuses the user cache)
    calls = vr.llm_calls + vr.cache_hits
    return {**vr.metrics, "llm_calls": calls, "video_seconds": vr.video_seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip-seconds", type=float, default=80.0, help="seconds of vtest.avi")
    ap.add_argument("--long-minutes", type=float, default=10.0)
    ap.add_argument("--skip-auc", action="store_true", help="skip the Ped2 AUC section")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench")
    args = ap.parse_args()
    for p in (VTEST, AVENUE):
        if not p.exists():
            raise SystemExit(f"missing shared data {p}: clone with ../shared beside the repo")
    args.out.mkdir(parents=True, exist_ok=True)
    md: list[str] = [
        f"# langvad speed benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs)"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("1. decode only", flush=True)
        d = decode_only(VTEST)
        md += [
            "\n## Decode only (vtest.avi, every frame to RGB)\n",
            f"{d['frames']} frames, {d['video_s']:.1f} s of video in {d['wall_s']:.2f} s: "
            f"{d['fps']:.0f} frames/s, real-time factor {d['rtf']:.1f}",
        ]
        clip = VTEST
        if args.clip_seconds < 80:
            clip = trim(VTEST, args.clip_seconds, work / "vtest_clip.avi")
        print(f"2. end to end on {clip.name} ({args.clip_seconds:.0f} s)", flush=True)
        e2e = {
            p: detect([str(clip), "--profile", p], work, f"vtest-{p}") for p in ("lavad", "fast")
        }
        md += [
            f"\n## End to end: vtest.avi, first {args.clip_seconds:.0f} s (scene describer + "
            "Qwen2.5-Coder-1.5B Q4_K_M, no explanations)\n",
            cost_table(e2e, "vtest-lavad"),
        ]
        print("3. cost against length (fast, Avenue descriptions)", flush=True)
        lengths: dict[str, dict[str, Any]] = {}
        for m in sorted({1.0, args.long_minutes}):
            caps = avenue_captions(m, work / f"avenue_{m:g}min.txt")
            lengths[f"fast, {m:g} min"] = detect(
                [str(caps), "--fps", "25", "--preset", "avenue", "--profile", "fast"],
                work,
                f"avenue-{m:g}min",
            )
        md += [
            "\n## Cost against length (`fast`, Avenue text-bench descriptions as captions)\n",
            cost_table(lengths, "fast, 1 min"),
        ]
    if not args.skip_auc:
        print("4. Ped2 text-bench frame AUC, lavad vs fast (eval harness, user cache)", flush=True)
        auc = {p: ped2_auc(p) for p in ("lavad", "fast")}
        md += [
            "\n## Ped2 text bench, all 12 videos (pooled frame AUC)\n",
            "| profile | AUC | AP | LLM calls incl. cache hits | per video-minute |",
            "|---|---|---|---|---|",
        ]
        for p, m in auc.items():
            calls = m["llm_calls"]
            per_min = f"{calls / (m['video_seconds'] / 60):.1f}" if calls else "–"
            shown = calls if calls else "0 (whole stages from the cache)"
            md.append(f"| {p} | {m['auc']:.4f} | {m['ap']:.4f} | {shown} | {per_min} |")
        md.append(f"\nfast − lavad: {auc['fast']['auc'] - auc['lavad']['auc']:+.4f} AUC")
    text = "\n".join(md) + "\n"
    (args.out / "speed.md").write_text(text)
    print("\n" + text)
    print(f"wrote {args.out / 'speed.md'}")


if __name__ == "__main__":
    main()
