"""Eval outputs: a rich table, results.json, a Markdown table and optional curve plots."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from langvad.eval.harness import EvalRun
from langvad.fileio import atomic_path, write_atomic

COLUMNS = [
    ("auc", "AUC (pooled)"),
    ("ap", "AP (sklearn)"),
    ("ap_trapz", "AP (trapz)"),
    ("per_video_auc", "mean per-video AUC"),
    ("anomalous_video_auc", "AUC anomalous videos"),
    ("false_alarm_rate", "false alarms, normal videos"),
    ("segment_precision", "segment P"),
    ("segment_recall", "segment R"),
    ("segment_f1", "segment F1"),
]


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def rows(run: EvalRun) -> list[list[str]]:
    out = []
    for r in run.runs:
        row = r.row()
        out.append(
            [r.variant.name]
            + [_fmt(row.get(k, float("nan"))) for k, _ in COLUMNS]
            + [str(row["llm_calls"]), f"{row['llm_calls_per_video_minute']:.1f}"]
            + [f"{row['wall_seconds']:.0f}"]
        )
    return out


def headers() -> list[str]:
    return ["variant"] + [h for _, h in COLUMNS] + ["LLM calls", "calls/video-min", "wall s"]


def print_table(run: EvalRun, console: Console) -> None:
    n = sum(len(i.labels) for i in run.items)
    t = Table(title=f"{run.dataset}: {len(run.items)} videos, {n} frames")
    for h in headers():
        t.add_column(h, justify="left" if h == "variant" else "right")
    for r in rows(run):
        t.add_row(*r)
    console.print(t)


def markdown(run: EvalRun) -> str:
    n = sum(len(i.labels) for i in run.items)
    lines = [
        f"### {run.dataset}: {len(run.items)} videos, {n} frames "
        f"(preset `{run.base.preset}`, LLM `{run.base.llm}`)",
        "",
        "| " + " | ".join(headers()) + " |",
        "|" + "---|" * len(headers()),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows(run)]
    lines += [
        "",
        "AUC and AP are pooled over all frames of all videos. AP (sklearn) is "
        "`average_precision_score`; AP (trapz) is the trapezoidal `auc(recall, precision)`. "
        "LLM calls count only calls sent to the model in this run (cache hits are free).",
    ]
    return "\n".join(lines) + "\n"


def write_outputs(run: EvalRun, out: Path, *, curves: bool = False) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "md": out / "results.md"}
    write_atomic(paths["json"], json.dumps(run.to_json(), indent=2))
    write_atomic(paths["md"], markdown(run))
    if curves:
        paths.update(write_curves(run, out))
    return paths


def write_curves(run: EvalRun, out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.concatenate([i.labels for i in run.items])
    paths: dict[str, Path] = {}
    if 0 < y.sum() < len(y):
        fig_roc, ax_roc = plt.subplots(figsize=(5, 5))
        fig_pr, ax_pr = plt.subplots(figsize=(5, 5))
        for r in run.runs:
            s = np.concatenate([r.scores[i.name] for i in run.items])
            fpr, tpr, _ = roc_curve(y, s)
            prec, rec, _ = precision_recall_curve(y, s)
            ax_roc.plot(fpr, tpr, label=f"{r.variant.name} ({r.metrics.get('auc', 0):.3f})")
            ax_pr.plot(rec, prec, label=f"{r.variant.name} ({r.metrics.get('ap', 0):.3f})")
        ax_roc.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall")
        for fig, ax, name in ((fig_roc, ax_roc, "roc"), (fig_pr, ax_pr, "pr")):
            ax.legend(fontsize=6)
            fig.tight_layout()
            paths[name] = out / f"{name}.png"
            _save_png(fig, paths[name], dpi=110)
    n = len(run.items)
    cols = min(4, n)
    rows_ = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(4 * cols, 2.2 * rows_), squeeze=False)
    for ax, item in zip(axes.flat, run.items, strict=False):
        x = np.arange(len(item.labels))
        ax.fill_between(x, 0, item.labels, color="tab:red", alpha=0.15, step="mid")
        for r in run.runs[:4]:
            ax.plot(x, r.scores[item.name], lw=1, label=r.variant.name)
        ax.set_title(item.name, fontsize=8)
        ax.set_ylim(-0.02, 1.02)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    paths["videos"] = out / "per_video.png"
    _save_png(fig, paths["videos"], dpi=90)
    return paths


def _save_png(fig: Any, path: Path, *, dpi: int) -> None:
    """Save and close ``fig``: a temporary file renamed over ``path`` (OutputError on failure)."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
