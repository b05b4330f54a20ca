"""Scale-out benchmark: ``langvad eval`` wall time on the Ped2 text bench without Ray, as Ray
tasks with one task in flight, and with two (``--ray local`` starts a private cluster on
127.0.0.1 with this machine's CPUs).

Each run is the real command line in a fresh process with a fresh, empty cache file (a cold
run: every LLM call and embedding is computed), so the walls include model loading and, with
Ray, the cluster's start. The three runs must give the same pooled AUC (the scores do not
depend on where a video ran); the ratios are no-Ray wall / Ray wall.

- no Ray: one process, the LLM on all cores.
- Ray, 1 worker: ``--ray-cpus N`` with N = this machine's CPUs: one task at a time, its LLM on
  all N cores.
- Ray, 2 workers: ``--ray-cpus N/2``: two videos at once. Each LLM keeps the config's
  thread count (all cores, so the two oversubscribe them): llama.cpp's numbers depend on the
  thread count, and the cache must not depend on which worker filled it.

    python benchmarks/scale.py [--limit 4] [--variants full] [--dataset ped2]

Ray must be installed (``pip install 'langvad[ray]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _common import langvad

from langvad.scale import local_cpus

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "text_bench"


def run(args: argparse.Namespace, work: Path, name: str, extra: list[str]) -> dict:
    """One cold ``langvad eval``; its wall time, AUC per variant and LLM calls."""
    out = work / name
    cmd = ["eval", str(ROOT), "--dataset", args.dataset]
    cmd += ["--variants", args.variants, "--out", str(out), "--cache", str(work / f"{name}.db")]
    cmd += ["-q", *(["--limit", str(args.limit)] if args.limit else []), *extra]
    _, wall = langvad(cmd)
    doc = json.loads((out / "results.json").read_text())
    return {
        "wall": wall,
        "auc": {v["variant"]: v["auc"] for v in doc["variants"]},
        "calls": sum(v["llm_calls"] for v in doc["variants"]),
        "videos": len(doc["videos"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="ped2", choices=["ped2", "avenue"])
    ap.add_argument("--variants", default="full")
    ap.add_argument("--limit", type=int, default=4, help="first N videos (0: all)")
    args = ap.parse_args()
    if not ROOT.exists():
        raise SystemExit(f"text bench {ROOT} is missing (clone ../shared beside the repo)")
    cpus = local_cpus()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    setups = {
        "no Ray": [],
        "Ray, 1 worker": ["--ray", "local", "--ray-cpus", f"{cpus:g}"],
        "Ray, 2 workers": ["--ray", "local", "--ray-cpus", f"{cpus / 2:g}"],
    }
    print(
        f"{args.dataset} text bench, variants {args.variants}, limit {args.limit or 'all'}, "
        f"{cpus} CPUs; each run cold (fresh cache)"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="langvad-scale-") as tmp:
        for k, (name, extra) in enumerate(setups.items()):
            r = results[name] = run(args, Path(tmp), f"run{k}", extra)
            aucs = ", ".join(f"{v} {a:.4f}" for v, a in r["auc"].items())
            print(
                f"{name:15s} wall {r['wall']:7.1f} s  videos {r['videos']}  "
                f"LLM calls {r['calls']}  AUC {aucs}",
                flush=True,
            )
    plain = results["no Ray"]
    for name in ("Ray, 1 worker", "Ray, 2 workers"):
        print(f"no Ray / {name}: {plain['wall'] / results[name]['wall']:.2f}x")
    one, two = results["Ray, 1 worker"]["wall"], results["Ray, 2 workers"]["wall"]
    print(f"Ray 1 worker / Ray 2 workers (speed-up of the second worker): {one / two:.2f}x")
    agree = all(
        abs(r["auc"][v] - plain["auc"][v]) <= 1e-6 for r in results.values() for v in plain["auc"]
    )
    print("AUCs agree" if agree else "AUCs DIFFER")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
