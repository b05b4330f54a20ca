"""What the benchmark scripts share: where the repo and the clips are, one cold
``langvad`` process (its own empty cache) with its wall time, the usage a detect run
records, and the Markdown table each prints and keeps under runs/bench/."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "data" / "clips"
BENCH = REPO / "runs" / "bench"


def langvad(args: list[str], *, check: bool = True) -> tuple[subprocess.CompletedProcess, float]:
    """``langvad ARGS`` in its own process; the process and its wall time (s). With
    ``check`` a failure ends the benchmark with the command's last words."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "langvad.cli", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise SystemExit(f"langvad {' '.join(args[:2])} failed (exit {p.returncode}):\n"
                         f"{p.stderr[-3000:]}")  # fmt: skip
    return p, wall


def detect_usage(video: Path, out: Path, cache: Path, extra: list[str]) -> dict[str, Any]:
    """One cold ``langvad detect`` (empty ``cache``): its segments and the usage it recorded."""
    langvad(["detect", str(video), "--out", str(out), "--cache", str(cache), "--quiet",
             "--no-report", *extra])  # fmt: skip
    res = json.loads((out / "result.json").read_text())
    u = res["provenance"]["usage"]
    return {
        "segments": [(s["start_time"], s["end_time"]) for s in res["segments"]],
        "wall": u["wall_seconds"],
        "rtf": u.get("real_time_factor"),
        "rss": u["peak_rss_mib"] / 1024,
        "expert_s": u.get("expert_seconds", 0.0),
        "expert_clips": u.get("expert_calls", 0),
        "caption_s": u["captioner_seconds"],
        "llm_s": u["llm_seconds"],
        "llm_calls": u["llm_calls"],
        "video_s": u["video_seconds"],
    }


def write_table(name: str, text: str, dest: Path = BENCH) -> Path:
    """Print a benchmark's Markdown table and keep it as ``dest/NAME.md``."""
    print(text)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}.md"
    path.write_text(text.rstrip("\n") + "\n")
    return path
