"""Threshold-free segmentation, explanation schema/validation, and the no-LLM baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from langvad.config import Config, Prompts
from langvad.errors import InputError
from langvad.eval.variants import GROUPS, VARIANTS, select_variants
from langvad.stages.baselines import video_normality_scores, zero_shot_scores
from langvad.stages.explain import (
    ExplanationDraft,
    explain_messages,
    explanation_schema,
    parse_explanation,
    retry_messages,
)
from langvad.stages.frames import Span
from langvad.stages.segments import auto_threshold, hysteresis_segments, otsu_threshold


def test_otsu_splits_two_groups():
    v = [0.1, 0.12, 0.15, 0.8, 0.82, 0.85]
    t = otsu_threshold(v)
    assert 0.15 < t <= 0.8


def test_auto_threshold_clamps_and_flat():
    # two clear groups: the Otsu split, inside [0.35, 0.65]
    a = auto_threshold([0.1, 0.1, 0.12, 0.9, 0.92])
    assert a.how == "otsu" and 0.35 <= a.high <= 0.65 and a.low == pytest.approx(a.high - 0.1)
    # an all-normal video with noise: the split is clamped up to the floor 0.35
    b = auto_threshold([0.02, 0.05, 0.2, 0.21])
    assert b.how == "otsu" and b.high == 0.35
    # a flat curve: the midpoint of the scale
    c = auto_threshold([0.55, 0.56, 0.58])
    assert (c.high, c.low, c.how) == (0.5, 0.4, "flat")


def test_hysteresis_segments():
    ts = [i * 0.1 for i in range(10)]
    s = np.array([0.0, 0.45, 0.6, 0.45, 0.0, 0.45, 0.45, 0.0, 0.7, 0.7])
    # run 1-3 reaches high; run 5-6 never does; run 8-9 does
    assert hysteresis_segments(s, ts, 0.5, 0.4) == [Span(1, 3), Span(8, 9)]
    assert hysteresis_segments(s, ts, 0.5, 0.4, min_seconds=0.25) == [Span(1, 3)]
    assert hysteresis_segments(s, ts, 0.8, 0.4) == []


def test_explanation_schema_and_validation():
    schema = explanation_schema()
    assert set(schema["required"]) == {
        "title",
        "what_happened",
        "why_anomalous",
        "category",
        "confidence",
    }
    good = {
        "title": "Two men fight",
        "what_happened": "Two men exchange blows; one falls.",
        "why_anomalous": "Violence in a public place.",
        "category": "fighting",
        "confidence": 0.9,
    }
    draft, err = parse_explanation(json.dumps(good))
    assert err == "" and isinstance(draft, ExplanationDraft) and draft.confidence == 0.9
    for bad in (
        "Two men fight.",  # free text
        json.dumps({**good, "confidence": 1.7}),  # out of range
        json.dumps({k: v for k, v in good.items() if k != "category"}),  # missing field
        json.dumps({**good, "extra": 1}),  # unknown field
    ):
        draft, err = parse_explanation(bad)
        assert draft is None and err


def test_explain_messages_carry_context_times_and_retry():
    p = Prompts(scene="Loading dock; trucks at night are normal.")
    caps = [(float(i), f"caption {i}") for i in range(30)]
    msgs = explain_messages(p, 61.0, 75.5, [(65.0, "A man climbs the fence.")], caps)
    text = msgs[0]["content"]
    assert text.startswith("Context: Loading dock")
    assert "01:01.0–01:15.5" in text and "[01:05.0] A man climbs the fence." in text
    assert text.count("caption ") == 12  # thinned to max_captions, time order kept
    r = retry_messages(msgs, "oops", "reply: invalid json")
    assert [m["role"] for m in r] == ["user", "assistant", "user"] and "invalid json" in r[2][
        "content"
    ]


def test_zero_shot_scores_direct():
    f = np.array([[1.0, 0.0], [0.0, 1.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    normal, anomaly = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    s = zero_shot_scores(f, normal, anomaly, scale=10.0)
    expected = 1 / (1 + np.exp(-10 * (f @ anomaly - f @ normal)))
    np.testing.assert_allclose(s, expected)
    assert s[2] == pytest.approx(0.5)


def test_video_normality_scores_direct():
    e = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    s = video_normality_scores(e, k=1)
    np.testing.assert_allclose(s, [0.0, 0.0, 1.0])
    assert video_normality_scores(e[:1]).tolist() == [0.0]


def test_variants_select_and_config():
    assert [v.name for v in select_variants("ablations")] == GROUPS["ablations"]
    assert [v.name for v in select_variants("full,no-refine,full")] == ["full", "no-refine"]
    with pytest.raises(InputError):
        select_variants("nope")
    base = Config(prompts=Prompts(scene="walkway"))
    assert VARIANTS["no-scene"].config(base).prompts.scene == ""
    pf = VARIANTS["per-frame"].config(base)
    assert (pf.clean, pf.summarize, pf.refine) == (False, False, False)
    assert VARIANTS["k5"].config(base).refine_k == 5
    assert base.refine_k == 10  # the base is not modified


def test_explain_messages_say_a_repeated_description_once_with_its_time_range():
    caps = [(0.0, "two men fight"), (1.0, "two men  fight"), (2.0, "a man falls"), (3.0, "x")]
    caps += [(4.0, "x"), (5.0, "x")]
    text = explain_messages(Prompts(), 0.0, 6.0, [], caps)[0]["content"]
    assert "[00:00.0–00:01.0] two men fight" in text and text.count("two men") == 1
    assert "[00:02.0] a man falls" in text and "[00:03.0–00:05.0] x" in text
