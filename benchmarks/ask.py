"""Questions about real runs: does ``langvad ask`` point at the right time, and does it say
"not visible" when the video does not show what is asked?

    python benchmarks/ask.py [--llm NAME] [--questions tests/data/ask_questions.jsonl]

Runs ``langvad detect`` (default profile: the offline describer, the event experts, the
1.5B LLM) once on every clip named in the question set (tests/data/ask_questions.jsonl,
clips from ../shared/data/clips), into runs/bench/ask/<clip>/ with its own cache
runs/bench/ask-cache/artefacts.sqlite; a clip whose run folder already holds a result.json is
not run again. Then it asks every question, prints a table and two shares:

- located: of the questions whose answer is in the video, the share answered as visible with a
  range that overlaps a true range;
- not visible: of the questions about something absent, the share answered "not visible".

and writes runs/bench/ask.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "data" / "clips"
QUESTIONS = REPO / "tests" / "data" / "ask_questions.jsonl"
BENCH = REPO / "runs" / "bench"


def load_questions(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for r in rows:
        if not r.get("not_visible") and not r.get("ranges"):
            raise SystemExit(
                f"{path}: question {r['question']!r} has neither ranges nor not_visible"
            )
    return rows


def ensure_run(clip: Path, out: Path, cache: Path) -> float:
    """Run ``langvad detect`` on the clip unless its run folder is complete; seconds spent."""
    if (out / "result.json").is_file():
        return 0.0
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "langvad.cli", "detect", str(clip), "--out", str(out)]
    cmd += ["--cache", str(cache), "--quiet"]
    print(f"detect {clip.name} …", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"langvad detect failed on {clip}:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def overlaps(got: list[tuple[float, float]], truth: list[tuple[float, float]]) -> bool:
    return any(a <= d and b >= c for a, b in got for c, d in truth)


def fmt_ranges(ranges: list[tuple[float, float]]) -> str:
    return ", ".join(f"{a:.1f}–{b:.1f}" for a, b in ranges) or "—"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--llm", default=None, help="LLM to answer with (default: each run's own)")
    ap.add_argument("--runs", type=Path, default=BENCH / "ask")
    ap.add_argument("--cache", type=Path, default=BENCH / "ask-cache" / "artefacts.sqlite")
    ap.add_argument("--out", type=Path, default=BENCH / "ask.md")
    args = ap.parse_args()

    from langvad.ask import Asker, load_run
    from langvad.store import Store

    questions = load_questions(args.questions)
    clips = list(dict.fromkeys(q["clip"] for q in questions))
    missing = [c for c in clips if not (CLIPS / c).is_file()]
    if missing:
        raise SystemExit(f"shared clips missing: {', '.join(missing)} (expected in {CLIPS})")
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    detect_s = {c: ensure_run(CLIPS / c, args.runs / Path(c).stem, args.cache) for c in clips}

    asker = Asker(llm_spec=args.llm, store=Store(args.cache))
    rows = []
    for q in questions:
        result = load_run(args.runs / Path(q["clip"]).stem)
        t0 = time.perf_counter()
        a = asker.ask(result, q["question"])
        seconds = time.perf_counter() - t0
        got = [(r.start, r.end) for r in a.ranges]
        truth = [tuple(r) for r in q.get("ranges", [])]
        ok = (not a.visible) if q.get("not_visible") else (a.visible and overlaps(got, truth))
        rows.append({**q, "answer": a, "got": got, "truth": truth, "ok": ok, "seconds": seconds})
        print(
            f"{'ok ' if ok else 'BAD'} {q['clip'][:18]:18s} {q['question'][:48]:48s} "
            f"visible={a.visible!s:5s} {fmt_ranges(got)} ({seconds:.0f}s)",
            flush=True,
        )

    located = [r for r in rows if not r.get("not_visible")]
    absent = [r for r in rows if r.get("not_visible")]
    share_loc = sum(r["ok"] for r in located) / max(1, len(located))
    share_abs = sum(r["ok"] for r in absent) / max(1, len(absent))
    lines = [
        "# langvad ask: questions about real runs",
        "",
        f"Questions: {args.questions.relative_to(REPO) if args.questions.is_relative_to(REPO) else args.questions} "  # noqa: E501
        f"({len(rows)}); runs: default profile of `langvad detect`; LLM: "
        f"{args.llm or 'each run’s own'}; LLM calls {asker.llm_calls} (cache hits "
        f"{asker.cache_hits}).",
        "",
        f"- **located**: {sum(r['ok'] for r in located)}/{len(located)} = {share_loc:.2f} "
        "(answered visible, with a range overlapping a true range)",
        f"- **not visible**: {sum(r['ok'] for r in absent)}/{len(absent)} = {share_abs:.2f} "
        '(correctly answered "not visible")',
        "",
        "| clip | question | truth | visible | ranges | confidence | answer | ok | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        a = r["answer"]
        truth = "not visible" if r.get("not_visible") else fmt_ranges(r["truth"])
        answer = a.answer.replace("|", "/")[:120]
        lines.append(
            f"| {r['clip']} | {r['question']} | {truth} | {a.visible} | {fmt_ranges(r['got'])} "
            f"| {a.confidence:.2f} | {answer} | {'yes' if r['ok'] else 'no'} | "
            f"{r['seconds']:.0f} |"
        )
    spent = {c: round(s) for c, s in detect_s.items() if s}
    if spent:
        lines += ["", f"detect seconds (this invocation): {spent}"]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
