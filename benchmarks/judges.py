"""How well can the packaged LLM judge a window? Every prompt form and readout, on the same
texts, judged on three labelled sets at once (so no form is chosen on one clip).

    python benchmarks/judges.py [--llm qwen2.5-coder-1.5b-instruct-q4_k_m] [--forms all]

Texts: the texts the default `fast` profile scores (each window's centre caption) for
- the Ped2 text bench (12 videos), label = the centre frame's label;
- Avenue text bench video 01, likewise;
- the three labelled clips with offline-describer captions (Fighting033 anomalous,
  A_Beautiful_Mind and vtest normal), label = the clip's.
Windows, captions and the `choice` option probabilities come from the pipeline itself (user
cache; cold, the describer captions the clips and the LLM scores them first). Forms:
- expected: the default `choice` score (expected value over the 11 options);
- p1: P(option 1.0) from the same distribution;
- yesno: the `yesno` score mode;
- yesno-last: description first, the yes/no question last;
- code: a Python completion `is_suspicious =` → P(True);
- pair-first / pair-second: "which of two scenes is more suspicious", the window against a
  fixed normal anchor scene, the window shown first / second;
- calibrated: the `choice` distribution after contextual calibration (Zhao et al., ICML 2021:
  each option's probability divided by its probability for content-free summaries "N/A", ""
  and "[MASK]", renormalised), then the expected value;
- channel: noisy-channel scoring (Min et al., ACL 2022): log P(description | "abnormal event")
  − log P(description | "normal activity") under the raw LM, the same tokens forced after both
  prompts (llama.cpp only); reported as the equal-prior posterior sigmoid(LLR);
- zero-shot: the text encoder's zero-shot score (no LLM).
Prints window-level AUC per set and the score range per clip; writes runs/bench/judges.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np
from _common import REPO, write_table
from rich.console import Console
from sklearn.metrics import roc_auc_score

from langvad.config import DEFAULT_LLM, PRESET_PROMPTS, Prompts, preset_config
from langvad.engine.runner import Runner
from langvad.eval.datasets import load_dataset
from langvad.eval.harness import _Models, open_item
from langvad.models.base import Message
from langvad.stages.baselines import ANOMALY_PROMPT, NORMAL_PROMPT, zero_shot_scores
from langvad.stages.prompts import YESNO_PREFILL, score_messages, yesno_messages
from langvad.stages.score import OPTIONS, choice_distribution, expected_score, yes_probability

DATA = REPO.parent / "shared" / "data"
SETS = [  # name, root, dataset, preset, limit
    ("Ped2", DATA / "text_bench", "ped2", "ped2", None),
    ("Avenue 01", DATA / "text_bench", "avenue", "avenue", 1),
    ("clips", DATA / "clips", "clips", "ucf", None),
]
ANCHOR = {  # a plain normal scene for the pairwise form, per preset
    "ucf": "People walk and stand around; nothing unusual happens.",
    "ped2": "People walk along the walkway.",
    "avenue": "People walk along the sidewalk.",
}
FORMS = [
    "expected",
    "p1",
    "calibrated",
    "yesno",
    "yesno-last",
    "code",
    "pair-first",
    "pair-second",
    "channel",
]
CONTENT_FREE = ("N/A", "", "[MASK]")
CHANNEL = (  # the two conditions of the noisy-channel form: normal, abnormal
    "Security camera log. Event type: normal activity, nothing unusual.\nFrame description:",
    "Security camera log. Event type: abnormal event (crime, violence, accident or other "
    "unusual activity).\nFrame description:",
)
_memo: dict[tuple[str, ...], Any] = {}


def two_way(lp: dict[str, float], a: str, b: str) -> float:
    pa = sum(math.exp(v) for t, v in lp.items() if t.strip() == a)
    pb = sum(math.exp(v) for t, v in lp.items() if t.strip() == b)
    return pa / (pa + pb) if pa + pb > 0 else 0.5


def windows(console: Console) -> list[dict[str, Any]]:
    """(set, video, text, label, preset) for every `fast` window of the three sets."""
    models = _Models()
    rows = []
    for name, root, dataset, preset, limit in SETS:
        cfg = preset_config(preset, "fast", explain=False)
        store = Runner(cfg, progress=False).store
        for item in load_dataset(root, dataset, limit=limit):
            source = open_item(item, cfg)
            runner = models.runner(cfg, store, console)
            res = runner.run(source)
            models.keep(runner)
            labels = np.asarray(item.labels)
            for w in res.windows:
                y = int(labels[min(w.centre_frame, len(labels) - 1)])
                probs = {float(k): v for k, v in (w.option_probs or {}).items()}
                rows.append(
                    dict(set=name, video=item.name, text=w.summary, y=y, preset=preset, probs=probs)
                )
    return rows


def option_vector(dist: dict[float, float]) -> np.ndarray:
    v = np.array([dist.get(o, 0.0) for o in OPTIONS])
    return v / v.sum()


def content_free(llm: Any, p: Prompts) -> np.ndarray:
    """Mean option distribution of the score prompt for content-free summaries."""
    key = ("cf", p.scene or "", p.context, p.format)
    if key not in _memo:
        dists = []
        for c in CONTENT_FREE:
            m = score_messages(p, c)
            d, _ = choice_distribution(lambda pre, m=m: llm.next_token_logprobs(m, pre, top=20))
            dists.append(option_vector(d))
        _memo[key] = np.mean(dists, axis=0)
    return _memo[key]


def channel_llr(llm: Any, p: Prompts, text: str) -> float:
    """log P(text | abnormal) - log P(text | normal), the same tokens after both prompts."""
    key = ("channel", p.scene or "", text)
    if key not in _memo:
        scene = f"{p.scene}\n" if p.scene else ""
        ids, _ = llm.continuation_logprobs("Frame description:", " " + text)
        _, normal = llm.continuation_logprobs(scene + CHANNEL[0], ids)
        _, abnormal = llm.continuation_logprobs(scene + CHANNEL[1], ids)
        _memo[key] = float(sum(abnormal) - sum(normal))
    return _memo[key]


def judge(llm: Any, form: str, p: Prompts, anchor: str, text: str, probs: dict) -> float:
    def msgs(content: str) -> list[Message]:
        return [{"role": "user", "content": content}]

    scene = f"{p.scene}\n" if p.scene else ""
    if form in ("expected", "p1", "calibrated"):  # the pipeline's option probabilities (cached)
        dist = probs
        if not dist:
            m = score_messages(p, text)
            dist, _ = choice_distribution(lambda pre: llm.next_token_logprobs(m, pre, top=20))
        if form == "calibrated":
            q = option_vector(dist) / content_free(llm, p)
            return float(np.dot(q / q.sum(), OPTIONS))
        return float(expected_score(dist) or 0.0) if form == "expected" else dist.get(1.0, 0.0)
    if form == "channel":
        return 1.0 / (1.0 + math.exp(-min(50.0, max(-50.0, channel_llr(llm, p, text)))))
    if form == "yesno":
        lp = llm.next_token_logprobs(yesno_messages(p, text), YESNO_PREFILL, top=20)
        return yes_probability(lp) or 0.5
    if form == "yesno-last":
        q = f"{scene}Scene description: {text}\n{p.question} Answer yes or no."
        return yes_probability(llm.next_token_logprobs(msgs(q), YESNO_PREFILL, top=20)) or 0.5
    if form == "code":
        q = (
            "Complete the Python code.\n```python\n"
            + (f"# Camera: {p.scene}\n" if p.scene else "")
            + f"description = {text!r}\n"
            + "# Would a law enforcement agency find this scene suspicious or dangerous?\n"
            + "is_suspicious ="
        )
        lp = llm.next_token_logprobs(msgs(q), "```python\nis_suspicious =", top=20)
        return two_way(lp, "True", "False")
    first, second = (text, anchor) if form == "pair-first" else (anchor, text)
    q = (
        f"{scene}If you were a law enforcement agency, which of these two scenes is more "
        f"suspicious or dangerous?\nScene A: {first}\nScene B: {second}\nAnswer A or B."
    )
    lp = llm.next_token_logprobs(msgs(q), "Answer:", top=20)
    return two_way(lp, "A", "B") if form == "pair-first" else two_way(lp, "B", "A")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llm", default=DEFAULT_LLM)
    ap.add_argument("--forms", default="all", help="comma-separated forms, or all")
    args = ap.parse_args()
    forms = FORMS if args.forms == "all" else args.forms.split(",")
    console = Console(stderr=True)
    rows = windows(console)
    if args.llm != DEFAULT_LLM:  # the cached option probabilities are the default LLM's
        for r in rows:
            r["probs"] = {}
    cfg = preset_config("ucf", "fast", llm=args.llm)
    runner = Runner(cfg, progress=False)
    llm, enc = runner.llm, runner.encoder
    scores: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for form in forms:
        out = []
        for r in rows:
            p = PRESET_PROMPTS[r["preset"]]
            out.append(judge(llm, form, p, ANCHOR[r["preset"]], r["text"].strip(), r["probs"]))
        scores[form] = out
        console.print(f"{form}: {len(out)} windows, {time.perf_counter() - t0:.0f} s")
    pe = enc.embed_texts([NORMAL_PROMPT, ANOMALY_PROMPT])
    zs = zero_shot_scores(enc.embed_texts([r["text"] for r in rows]), pe[0], pe[1])
    scores["zero-shot"] = [float(x) for x in zs]
    names = [s[0] for s in SETS]
    clip_videos = sorted({r["video"] for r in rows if r["set"] == "clips"})
    counts = ", ".join(f"{n} {sum(r['set'] == n for r in rows)}" for n in names)
    lines = [
        f"### Window-level AUC of each judge ({llm.identity.split(':')[0]}; {counts} windows)",
        "",
        "| judge | " + " | ".join(names) + " | " + " | ".join(clip_videos) + " |",
        "|---|" + "---|" * (len(names) + len(clip_videos)),
    ]
    for form, vals in scores.items():
        v = np.asarray(vals)
        aucs = []
        for n in names:
            idx = [i for i, r in enumerate(rows) if r["set"] == n]
            y = [rows[i]["y"] for i in idx]
            aucs.append(f"{roc_auc_score(y, v[idx]):.3f}" if 0 < sum(y) < len(y) else "–")
        ranges = []
        for vid in clip_videos:
            idx = [i for i, r in enumerate(rows) if r["set"] == "clips" and r["video"] == vid]
            ranges.append(f"{v[idx].min():.2f}–{v[idx].max():.2f}")
        lines.append(f"| {form} | " + " | ".join(aucs) + " | " + " | ".join(ranges) + " |")
    out = write_table("judges", "\n".join(lines))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
