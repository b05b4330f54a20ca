"""Metrics: hand-computed values on tiny arrays, protocol differences, and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langvad.eval import evaluate, frame_metrics, label_runs, segment_iou, segment_metrics

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_pooled_auc_and_both_ap_variants_by_hand() -> None:
    # Ranking by score: 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-).
    # AUC: of the 4 (pos, neg) pairs, 3 are ordered right -> 0.75.
    # AP (step-wise): recall 0.5 at precision 1, recall 1 at precision 2/3 -> 0.5 + 0.5 * 2/3.
    # AP (trapezoid): recall 0..0.5 at precision 1 (0.5), then 0.5..1 from precision 0.5 up to
    # 2/3 (0.5 * (0.5 + 2/3) / 2) -> 19/24.
    m = evaluate([np.array([0.1, 0.4, 0.35, 0.8])], [np.array([0, 0, 1, 1])])
    assert m["auc"] == pytest.approx(0.75)
    assert m["ap"] == pytest.approx(5 / 6)
    assert m["ap_trapz"] == pytest.approx(19 / 24)
    assert m["n_frames"] == 4 and m["n_videos"] == 1 and m["anomalous_fraction"] == 0.5


def test_pooled_vs_per_video_vs_anomalous_only() -> None:
    scores = [np.array([0.1, 0.2]), np.array([0.8, 0.9]), np.array([0.95, 0.05, 0.5])]
    labels = [np.array([0, 1]), np.array([0, 1]), np.array([0, 0, 0])]
    m = evaluate(scores, labels, threshold=0.5)
    # each anomalous video alone is ranked perfectly ...
    assert m["per_video_auc"] == 1.0 and m["per_video_auc_videos"] == 2
    # ... but pooled, 0.2 (+) is below 0.8 (-): positives {.2, .9} vs negatives {.1, .8}: 3/4
    assert m["anomalous_video_auc"] == pytest.approx(0.75) and m["anomalous_videos"] == 2
    # all frames: negatives {.1, .8, .95, .05, .5}; .2 beats 2 of them, .9 beats 4 -> 6/10
    assert m["auc"] == pytest.approx(0.6)
    # normal video: 0.95 and 0.5 are >= 0.5 (the threshold counts as an alarm) -> 2/3
    assert m["false_alarm_rate"] == pytest.approx(2 / 3) and m["normal_videos"] == 1
    assert evaluate(scores, labels, threshold=0.96)["false_alarm_rate"] == 0.0
    assert m["threshold"] == 0.5


def test_undefined_values_are_nan() -> None:
    m = evaluate([np.array([0.3, 0.1])], [np.array([0, 0])])
    assert math.isnan(m["auc"]) and math.isnan(m["ap"]) and math.isnan(m["per_video_auc"])
    assert math.isnan(m["anomalous_video_auc"]) and m["per_video_auc_videos"] == 0
    assert m["false_alarm_rate"] == 0.0
    m = evaluate([np.array([0.3, 0.9])], [np.array([1, 1])])
    assert math.isnan(m["auc"]) and math.isnan(m["false_alarm_rate"])


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="video 1: 3 scores but 2 labels"):
        evaluate([np.zeros(2), np.zeros(3)], [np.zeros(2), np.zeros(2)])
    with pytest.raises(ValueError, match="2 score arrays but 1 label"):
        evaluate([np.zeros(2), np.zeros(3)], [np.zeros(2)])
    with pytest.raises(ValueError, match="finite"):
        evaluate([np.array([0.1, np.nan])], [np.array([0, 1])])
    with pytest.raises(ValueError, match="0 or 1"):
        evaluate([np.array([0.1, 0.2])], [np.array([0, 2])])
    with pytest.raises(ValueError, match="no video"):
        evaluate([], [])


def test_frame_metrics_unchanged() -> None:
    m = frame_metrics(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    assert m == pytest.approx(
        {"n_frames": 4.0, "anomalous_fraction": 0.5, "auc": 0.75, "ap": 5 / 6, "ap_trapz": 19 / 24}
    )


def test_segment_metrics_by_hand() -> None:
    y = np.zeros(40, dtype=np.int8)
    y[1:5] = 1  # run (1, 4)
    y[10:12] = 1  # run (10, 11)
    assert label_runs(y) == [(1, 4), (10, 11)]
    pred = [[(0, 1), (6, 8), (11, 30)]]
    # (0,1) vs (1,4): 1 shared frame of 5 -> IoU 0.2; (6,8): no overlap;
    # (11,30) vs (10,11): 1 shared frame of 21 -> IoU 1/21 < 0.1
    m = segment_metrics(pred, [y])
    assert (m["segment_precision"], m["segment_recall"]) == pytest.approx((1 / 3, 1 / 2))
    assert m["segment_f1"] == pytest.approx(0.4)
    assert (m["predicted_segments"], m["true_segments"]) == (3, 2)
    m = segment_metrics(pred, [y], min_iou=0.0)  # any overlap
    assert (m["segment_precision"], m["segment_recall"]) == pytest.approx((2 / 3, 1.0))
    assert m["segment_f1"] == pytest.approx(0.8)
    m = segment_metrics(pred, [y], min_iou=0.5)
    assert (m["segment_precision"], m["segment_recall"], m["segment_f1"]) == (0.0, 0.0, 0.0)
    assert segment_iou((0, 1), (1, 4)) == pytest.approx(0.2) and segment_iou((0, 1), (2, 3)) == 0


def test_segment_metrics_empty_sides() -> None:
    m = segment_metrics([[], [(0, 3)]], [np.zeros(5), np.zeros(5)])
    assert m["segment_precision"] == 0.0 and math.isnan(m["segment_recall"])
    m = segment_metrics([[]], [np.ones(5)])
    assert math.isnan(m["segment_precision"]) and m["segment_recall"] == 0.0
    assert math.isnan(m["segment_f1"])
    with pytest.raises(ValueError, match="min_iou"):
        segment_metrics([[]], [np.ones(5)], min_iou=1.5)
    with pytest.raises(ValueError, match=r"bad predicted segment \(4, 2\)"):
        segment_metrics([[(4, 2)]], [np.ones(5)])


# ---------------------------------------------------------------------------------------------
# invariants


@st.composite
def video_sets(draw: st.DrawFn) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """1-5 videos of 1-30 frames, integer-valued scores (ties happen), 0/1 labels."""
    scores, labels = [], []
    for _ in range(draw(st.integers(1, 5))):
        n = draw(st.integers(1, 30))
        scores.append(np.array(draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)), float))
        labels.append(np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))))
    return scores, labels


AUC_KEYS = ("auc", "per_video_auc", "anomalous_video_auc")


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


@FUZZ
@given(data=video_sets())
def test_fuzz_auc_invariant_to_monotone_transforms(data) -> None:
    scores, labels = data
    base = evaluate(scores, labels)
    for f in (lambda s: 3 * s - 7, lambda s: np.exp(s / 4), lambda s: s**3):
        moved = evaluate([f(s) for s in scores], labels)
        for k in (*AUC_KEYS, "ap", "ap_trapz"):
            assert _same(base[k], moved[k]), k
    flipped = evaluate([-s for s in scores], labels)
    for k in AUC_KEYS:
        assert _same(flipped[k], 1 - base[k]), k


@FUZZ
@given(data=video_sets(), t=st.floats(-1, 13))
def test_fuzz_metric_ranges(data, t: float) -> None:
    scores, labels = data
    m = evaluate(scores, labels, threshold=t)
    for k in (*AUC_KEYS, "ap", "ap_trapz", "false_alarm_rate"):
        assert math.isnan(m[k]) or 0.0 <= m[k] <= 1.0, k
    y = np.concatenate(labels)
    assert math.isnan(m["auc"]) == (y.min() == y.max())
    assert m["per_video_auc_videos"] == sum(0 < v.sum() < len(v) for v in labels)
    higher = evaluate(scores, labels, threshold=t + 1)["false_alarm_rate"]
    assert _same(higher, m["false_alarm_rate"]) or higher <= m["false_alarm_rate"]
    if len(scores) == 1:
        assert _same(m["per_video_auc"], m["auc"])


@FUZZ
@given(data=video_sets())
def test_fuzz_perfect_scores(data) -> None:
    _, labels = data
    m = evaluate([y.astype(float) for y in labels], labels, threshold=0.5)
    for k in AUC_KEYS:
        assert math.isnan(m[k]) or m[k] == 1.0
    assert math.isnan(m["false_alarm_rate"]) or m["false_alarm_rate"] == 0.0
    s = segment_metrics([label_runs(y) for y in labels], labels, min_iou=1.0)
    assert math.isnan(s["segment_recall"]) or s["segment_recall"] == 1.0
    assert math.isnan(s["segment_precision"]) or s["segment_precision"] == 1.0


@FUZZ
@given(
    y=st.lists(st.integers(0, 1), min_size=1, max_size=50).map(np.array),
    pred=st.lists(st.tuples(st.integers(0, 49), st.integers(0, 10)), max_size=6),
    iou=st.floats(0, 1),
)
def test_fuzz_segment_metrics(y: np.ndarray, pred: list[tuple[int, int]], iou: float) -> None:
    segs = [(s, s + d) for s, d in pred]
    m = segment_metrics([segs], [y], min_iou=iou)
    loose = segment_metrics([segs], [y], min_iou=0.0)
    for k in ("segment_precision", "segment_recall"):
        assert math.isnan(m[k]) or 0 <= m[k] <= loose[k] <= 1  # a stricter rule never helps
    runs = label_runs(y)
    assert m["true_segments"] == len(runs) and m["predicted_segments"] == len(segs)
    # runs are maximal: separated by at least one 0, and their frames are exactly the 1s
    assert all(a[1] + 1 < b[0] for a, b in zip(runs, runs[1:], strict=False))
    assert sum(e - s + 1 for s, e in runs) == int(y.sum())
