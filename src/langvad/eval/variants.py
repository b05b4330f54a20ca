"""The paper's baselines and ablations as named variants of one base configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langvad.config import CONTEXT_UCF, CONTEXT_XD, DEFAULT_EXPERTS, Config
from langvad.errors import InputError

CONTEXT_PLAIN = (
    "How would you rate the scene described on a scale from 0 to 1, with 0 representing a "
    "standard scene and 1 denoting a scene with suspicious activities?"
)
CONTEXT_BOTH = (
    "If you were a law enforcement agency, how would you rate the scene described on a scale "
    "from 0 to 1, with 0 representing a standard scene and 1 denoting a scene with suspicious "
    "or potentially criminal activities?"
)

Kind = Literal["pipeline", "zero_shot", "video_normality", "causal"]
# issue 28's judge: keyword evidence, frame-deciding questions naming the rule, unsure veto
FUSED: dict[str, Any] = {
    "score_mode": "rules",
    "judge_keyword_weight": 3.0,
    "judge_expand": True,
    "judge_candidates": "frame-top",
    "judge_name_rule": True,
    "judge_veto": "unsure",
}


@dataclass(frozen=True)
class Variant:
    name: str
    group: str
    description: str
    kind: Kind = "pipeline"
    overrides: Mapping[str, Any] = field(default_factory=dict)  # Config fields
    prompts: Mapping[str, str] = field(default_factory=dict)  # Prompts fields

    def config(self, base: Config) -> Config:
        update: dict[str, Any] = dict(self.overrides)
        if self.prompts:
            update["prompts"] = base.prompts.model_copy(update=dict(self.prompts))
        return base.model_copy(update=update)


def _v(name: str, group: str, description: str, **kw: Any) -> Variant:
    return Variant(name, group, description, **kw)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        _v("full", "main", "full LAVAD pipeline"),
        _v(
            "causal",
            "live",
            "each window decided as soon as its frames have arrived, from the past 2 minutes "
            "only (the mode of langvad watch)",
            kind="causal",
        ),
        _v(
            "per-frame",
            "baseline",
            "LLM score of each centre frame's raw caption (Sec. 3.2 / LLaVA-style baseline)",
            overrides={"clean": False, "summarize": False, "refine": False},
        ),
        _v(
            "zero-shot",
            "baseline",
            "softmax over frame-embedding similarity to 'a standard scene' vs 'a scene with "
            "suspicious or potentially criminal activities' (no LLM)",
            kind="zero_shot",
        ),
        _v(
            "video-normality",
            "baseline",
            "1 − mean similarity of a window's summary to its K nearest other summaries of the "
            "same video (no score call)",
            kind="video_normality",
        ),
        _v("no-clean", "ablation", "without caption cleaning", overrides={"clean": False}),
        _v("no-summary", "ablation", "without the LLM summary", overrides={"summarize": False}),
        _v(
            "with-summary",
            "ablation",
            "LLM window summary, LLM choice score (lavad's scoring; fast judges items instead)",
            overrides={"summarize": True, "score_mode": "choice"},
        ),
        _v(
            "llm-choice",
            "judge",
            "the LLM scores each window's centre description (choice; fast's default until "
            "2026-11-30)",
            overrides={"score_mode": "choice", "summarize": False},
        ),
        _v(
            "rules-text",
            "judge",
            "read, then judge with the text encoder alone (no keyword, no LLM)",
            overrides={"score_mode": "rules", "judge_llm": False, "judge_keyword_weight": 0.0},
        ),
        _v(
            "text-keywords",
            "judge",
            "text encoder + the rules' own keywords as evidence (no LLM at all)",
            overrides={
                "score_mode": "rules",
                "judge_llm": False,
                "judge_expand": False,
                "judge_keyword_weight": 3.0,
            },
        ),
        _v(
            "text-expanded",
            "judge",
            "text encoder + the LLM-expanded keywords as evidence (no item question)",
            overrides={"score_mode": "rules", "judge_llm": False, "judge_keyword_weight": 3.0},
        ),
        _v(
            "keywords",
            "judge",
            "floor: 1 when a description uses a keyword generated from the rules' abnormal "
            "phrases (no LLM, no encoder)",
            overrides={"score_mode": "keywords", "judge_expand": False},
        ),
        _v(
            "keywords-expanded",
            "judge",
            "floor: 1 when a description uses a keyword of the rules or of their one-off LLM "
            "expansion (synonyms, paraphrases; no encoder)",
            overrides={"score_mode": "keywords", "judge_expand": True},
        ),
        _v(
            "fused",
            "judge",
            "expanded keywords fused with the encoder margin (κ = 3), the LLM asked about "
            "each frame's most abnormal item (3 rounds) naming the rule it matched, veto only "
            "where the text is unsure or the LLM confident",
            overrides=FUSED,
        ),
        _v(
            "veto-any",
            "judge",
            "the default's questions (cached answers shared), the LLM's calibrated no vetoing "
            "every item it was asked about (the default until 2026-12-03)",
            overrides={"score_mode": "rules", "judge_veto": "any"},
        ),
        _v(
            "named-rule",
            "judge",
            "as fused without keyword evidence (κ = 0)",
            overrides={**FUSED, "judge_keyword_weight": 0.0},
        ),
        _v(
            "deduction",
            "judge",
            "AnomalyRuler's deduction as the item question: rules listed, which ones does it "
            "match (JSON), scored by the calibrated probability of none",
            overrides={"score_mode": "rules", "judge_question": "deduction"},
        ),
        _v(
            "everyday",
            "judge",
            "rules judge with everyday phrases (a person, an object, a place, the image, "
            "on-screen text) added to the normal side",
            overrides={"score_mode": "rules", "judge_everyday": True},
        ),
        _v(
            "smooth0",
            "judge",
            "rules judge without temporal smoothing",
            overrides={"score_mode": "rules", "judge_smooth_seconds": 0.0},
        ),
        _v(
            "smooth3",
            "judge",
            "rules judge, frame track smoothed over ±3 s",
            overrides={"score_mode": "rules", "judge_smooth_seconds": 3.0},
        ),
        _v(
            "yesno",
            "score",
            "score = P(yes) to the context asked as a yes/no question (one forward pass)",
            overrides={"score_mode": "yesno"},
        ),
        _v("no-refine", "ablation", "without refinement", overrides={"refine": False}),
        _v("no-scene", "context", "without the preset's scene context", prompts={"scene": ""}),
        _v("ctx-plain", "context", "context prompt: plain", prompts={"context": CONTEXT_PLAIN}),
        _v(
            "ctx-prior",
            "context",
            "context prompt: + anomaly prior",
            prompts={"context": CONTEXT_XD},
        ),
        _v(
            "ctx-impersonation",
            "context",
            "context prompt: + impersonation",
            prompts={"context": CONTEXT_UCF},
        ),
        _v("ctx-both", "context", "context prompt: both", prompts={"context": CONTEXT_BOTH}),
        *[
            _v(f"k{k}", "k-sweep", f"refinement with K = {k}", overrides={"refine_k": k})
            for k in (1, 2, 3, 5, 7, 10, 15)
        ],
        *[
            _v(
                f"fuse{int(w * 100)}",
                "fusion",
                f"LLM score blended with the zero-shot text score, weight {w}",
                overrides={"zero_shot_weight": w},
            )
            for w in (0.25, 0.5)
        ],
        _v(
            "describer-only",
            "experts",
            "no event experts: captions and the LLM alone",
            overrides={"experts": []},
        ),
        _v(
            "experts-only",
            "experts",
            "event experts alone (no captioner, no LLM): fused evidence is the score",
            overrides={"llm_weight": 0.0},
        ),
        _v(
            "facts-only",
            "experts",
            "experts' findings enter the LLM's text, but not the score fusion",
            overrides={"fusion_weights": {}},
        ),
        _v(
            "fusion-only",
            "experts",
            "experts enter the score fusion, but not the LLM's text",
            overrides={"expert_facts": False},
        ),
        *[
            _v(
                f"no-{name}",
                "experts",
                f"all event experts but {name}",
                overrides={"experts": [e for e in DEFAULT_EXPERTS if e != name]},
            )
            for name in DEFAULT_EXPERTS
        ],
        _v("T2.5-N10", "window", "window T = 2.5 s, N = 10", overrides={"window_seconds": 2.5}),
        _v(
            "T5-N5",
            "window",
            "window T = 5 s, N = 5",
            overrides={"window_seconds": 5.0, "window_frames": 5},
        ),
        _v("T10-N20", "window", "window T = 10 s, N = 20", overrides={"window_frames": 20}),
    ]
}

GROUPS: dict[str, list[str]] = {
    "standard": [
        "full",
        "per-frame",
        "zero-shot",
        "video-normality",
        "no-clean",
        "no-summary",
        "with-summary",
        "no-refine",
        "no-scene",
        "k1",
        "k5",
        "k15",
    ],
    "ablations": ["full", "no-clean", "no-summary", "with-summary", "no-refine"],
    "baselines": ["full", "per-frame", "zero-shot", "video-normality"],
    "context": ["full", "no-scene", "ctx-plain", "ctx-prior", "ctx-impersonation", "ctx-both"],
    "k-sweep": ["full"] + [n for n, v in VARIANTS.items() if v.group == "k-sweep"],
    "fusion": ["full", "fuse25", "fuse50", "zero-shot"],
    "window": ["full", "T2.5-N10", "T5-N5", "T10-N20"],
    "judge": [
        "full",
        "rules-text",
        "text-keywords",
        "text-expanded",
        "keywords",
        "keywords-expanded",
        "fused",
        "veto-any",
        "named-rule",
        "deduction",
        "everyday",
        "smooth0",
        "smooth3",
        "llm-choice",
        "yesno",
        "zero-shot",
    ],
    "experts": [
        "full",
        "describer-only",
        "experts-only",
        "facts-only",
        "fusion-only",
        *[f"no-{name}" for name in DEFAULT_EXPERTS],
    ],
    "live": ["full", "causal"],
    "all": list(VARIANTS),
}


def select_variants(spec: str | None) -> list[Variant]:
    """Comma-separated variant and group names (default: the ``standard`` group), in order,
    without duplicates."""
    names: list[str] = []
    for part in (spec or "standard").split(","):
        part = part.strip()
        if not part:
            continue
        if part in GROUPS:
            names += GROUPS[part]
        elif part in VARIANTS:
            names.append(part)
        else:
            raise InputError(
                f"unknown variant {part!r}",
                hint=f"choose from groups {', '.join(GROUPS)} or variants {', '.join(VARIANTS)}",
            )
    return [VARIANTS[n] for n in dict.fromkeys(names)]
