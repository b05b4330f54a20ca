"""Frame AUC of langvad on the real text bench (CogVLM descriptions as captions).

    python benchmarks/text_bench.py --dataset ped2 [--limit N] [--preset ped2] [--llm NAME]

Runs the full pipeline on each video (cached: a re-run costs no LLM call), then prints the
pooled frame AUC/AP for the full method and for the variants that need no new LLM call
(no refinement; `repeat` frame mapping), plus cost per video-minute.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from langvad import detect, preset_config
from langvad.engine.runner import Runner
from langvad.eval import frame_metrics, load_frame_labels
from langvad.store import Store

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text_bench"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="ped2", choices=["ped2", "avenue"])
    ap.add_argument("--preset", default=None)
    ap.add_argument("--llm", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    root = ROOT / args.dataset
    videos = sorted((root / "descriptions").glob("test_*.txt"))[: args.limit]
    store = Store(args.cache) if args.cache else None
    variants = {
        "full": {},
        "no refinement": {"refine": False},
        "full, repeat mapping": {"frame_mapping": "repeat"},
    }
    pooled: dict[str, list[np.ndarray]] = {k: [] for k in variants}
    labels_all: list[np.ndarray] = []
    calls = video_s = 0.0
    t0 = time.perf_counter()
    for v in videos:
        y = load_frame_labels(root / "labels" / f"{v.stem}.csv")
        labels_all.append(y)
        for name, over in variants.items():
            cfg = preset_config(args.preset or args.dataset, llm=args.llm, **over)
            runner = Runner(cfg, store=store, progress=False)
            res = detect(v, cfg, runner=runner)
            pooled[name].append(np.asarray(res.scores))
            if name == "full":
                u = res.provenance["usage"]
                calls += u["llm_calls"]
                video_s += u["video_seconds"]
                m = frame_metrics(res.scores, y)
                print(f"{v.stem}: {len(y)} frames, AUC {m['auc']:.3f}, LLM calls {u['llm_calls']}")
    wall = time.perf_counter() - t0
    y = np.concatenate(labels_all)
    print(
        f"\n{args.dataset}: {len(videos)} videos, {len(y)} frames, preset "
        f"{args.preset or args.dataset}"
    )
    print("| variant | pooled frame AUC | AP | AP (trapz) |")
    print("|---|---|---|---|")
    for name, parts in pooled.items():
        m = frame_metrics(np.concatenate(parts), y)
        print(f"| {name} | {m['auc']:.4f} | {m['ap']:.4f} | {m['ap_trapz']:.4f} |")
    print(
        f"\nLLM calls {calls:.0f} ({calls / (video_s / 60):.1f} per video-minute), "
        f"wall {wall:.0f}s for {video_s:.0f}s of video"
    )


if __name__ == "__main__":
    main()
