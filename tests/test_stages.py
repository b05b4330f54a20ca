import math

import numpy as np
import pytest

from langvad.config import Prompts
from langvad.stages.clean import clean_captions
from langvad.stages.frames import Span, centre_to_frames
from langvad.stages.prompts import score_messages, summary_messages, yesno_messages
from langvad.stages.refine import refine_scores
from langvad.stages.score import (
    choice_distribution,
    expected_score,
    fill_missing,
    option_targets,
    parse_bracket_score,
    yes_probability,
)
from langvad.stages.segments import hysteresis_segments
from langvad.stages.windows import (
    centre_frames,
    centre_frames_by_fps,
    nearest_index,
    window_frames,
)
from langvad.untrusted import BEGIN, DATA_NOTE, END


def test_centre_frames_every_stride():
    assert centre_frames(50, 16) == [0, 16, 32, 48]
    assert centre_frames(0, 16) == []


def test_centre_frames_by_fps_follow_timestamps():
    ts = [0.0, 0.1, 0.2, 1.05, 1.9, 2.2, 3.0]  # variable frame rate
    assert centre_frames_by_fps(ts, 1.0) == [0, 3, 4, 6]
    assert centre_frames_by_fps([], 1.0) == []


def test_nearest_index_ties_go_to_earlier():
    ts = [0.0, 1.0, 2.0]
    assert nearest_index(ts, 0.5) == 0
    assert nearest_index(ts, 0.51) == 1
    assert nearest_index(ts, -3) == 0
    assert nearest_index(ts, 9) == 2


def test_window_frames_one_fps_grid_shared_between_windows():
    ts = [i / 30 for i in range(30 * 60)]  # 60 s at 30 fps
    w = window_frames(30.0, ts, 10.0, 10)
    assert w == [750, 780, 810, 840, 870, 900, 930, 960, 990, 1020]
    w2 = window_frames(30.0 + 16 / 30, ts, 10.0, 10)
    assert len(set(w2) & set(w)) == 9  # the next centre reuses 9 of its 10 frames
    assert window_frames(31.0, ts, 10.0, 10) == [f + 30 for f in w]


def test_window_frames_shifted_inside_the_video_at_the_edges():
    ts = [i / 10 for i in range(300)]  # 30 s at 10 fps
    assert window_frames(0.0, ts, 10.0, 10) == list(range(0, 100, 10))
    assert window_frames(29.9, ts, 10.0, 10) == list(range(200, 300, 10))
    short = [i / 10 for i in range(45)]  # 4.5 s: fewer than N frames
    assert window_frames(2.0, short, 10.0, 10) == [0, 10, 20, 30, 40]


def test_window_frames_use_timestamps_not_indices():
    ts = [0.0, 0.1, 0.2, 2.0, 2.1, 4.0]  # variable frame rate
    assert window_frames(2.0, ts, 4.0, 2) == [0, 3]


def test_clean_picks_most_similar_pool_caption():
    pool = np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]], np.float32)
    images = np.array([[0.9, 0.1, 0], [0.5, 0.86, 0], [0, 0, 1]], np.float32)
    assert clean_captions(images, pool).tolist() == [0, 2, 0]


def test_prompts_put_shared_prefix_first():
    """The prompt's own text first (its KV cache is shared across windows), then the video's
    text as a data block (``langvad.untrusted``)."""
    p = Prompts(context="C?", format="F.", summary="S.", scene="")
    note = DATA_NOTE.format(task="rate")
    assert score_messages(p, " a fight ") == [
        {"role": "user", "content": f"C? F.\n{note}\n{BEGIN}\na fight\n{END}"}
    ]
    summary = summary_messages(p, ["a", "b "])[0]["content"]
    assert summary == f"S.\n{DATA_NOTE.format(task='summarise')}\n{BEGIN}\na\nb\n{END}"
    ps = Prompts(context="C?", format="F.", summary="S.", scene="A walkway.")
    assert score_messages(ps, "x")[0]["content"].startswith("A walkway. C? F.\n")
    q = Prompts(question="Suspicious?", scene="A walkway.")
    asked = yesno_messages(q, " x ")[0]["content"]
    assert asked.startswith("A walkway. Suspicious? Answer yes or no.\n")
    assert asked.endswith(f"{BEGIN}\nx\n{END}")


def test_yes_probability_pools_spellings_and_ignores_other_tokens():
    lp = {" Yes": math.log(0.5), "yes": math.log(0.1), " No": math.log(0.2), " Maybe": -1.0}
    assert yes_probability(lp) == pytest.approx(0.6 / 0.8)
    assert yes_probability({" The": -0.1}) is None
    assert yes_probability({"NO": 0.0}) == 0.0


def test_option_targets():
    t = option_targets()
    assert t["0]"] == 0.0 and t["0.0]"] == 0.0 and t["1]"] == 1.0 and t["1.0]"] == 1.0
    assert t["0.3]"] == 0.3 and len(t) == 13


def test_choice_distribution_walks_the_token_tree():
    lp = math.log
    tree = {
        "[": {"0": lp(0.6), "1": lp(0.3), "x": lp(0.1)},
        "[0": {".": lp(0.5), "]": lp(0.5)},
        "[0.": {"2": lp(0.5), "8": lp(0.25), "9": lp(0.25)},
    }
    calls: list[str] = []

    def next_logprobs(prefill: str) -> dict[str, float]:
        calls.append(prefill)
        return tree[prefill]

    dist, n = choice_distribution(next_logprobs)
    assert n == 3 and calls == ["[", "[0", "[0."]
    z = 0.9  # "x" is not an option: renormalised away
    assert dist[1.0] == pytest.approx(0.3 / z)
    assert dist[0.0] == pytest.approx(0.3 / z)
    assert dist[0.2] == pytest.approx(0.15 / z)
    assert dist[0.8] == pytest.approx(0.075 / z)
    assert expected_score(dist) == pytest.approx((0.3 + 0.03 + 0.06 + 0.0675) / z)


def test_choice_distribution_single_token_options_and_empty():
    dist, n = choice_distribution(lambda p: {" 1": 0.0})
    assert n == 1 and dist[1.0] == pytest.approx(1.0)
    dist, _ = choice_distribution(lambda p: {"hello": 0.0})
    assert dist == {} and expected_score(dist) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[0.7]", 0.7),
        ("Sure! [ 0.3 ] because", 0.3),
        ("[1]", 1.0),
        ("[2.5]", 1.0),
        ("no number", None),
        ("[]", None),
        ("0.4", None),
        ("[0.2, 0.9]", 0.2),
    ],
)
def test_parse_bracket_score(text, expected):
    assert parse_bracket_score(text) == expected


def test_fill_missing_interpolates_and_fails_when_all_missing():
    assert fill_missing([None, 0.2, None, 0.6, None]).tolist() == pytest.approx(
        [0.2, 0.2, 0.4, 0.6, 0.6]
    )
    with pytest.raises(ValueError):
        fill_missing([None, None])


def test_refine_matches_direct_numpy_formula():
    rng = np.random.default_rng(0)
    n, d, k = 12, 8, 4
    v = rng.normal(size=(n, d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    s = rng.normal(size=(n, d))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    a = rng.uniform(size=n)
    got = refine_scores(a, v, s, k)
    for i in range(n):
        sims = s @ v[i]
        top = np.argsort(-sims)[:k]
        w = np.exp(sims[top])
        assert got[i] == pytest.approx(float((a[top] * w).sum() / w.sum()), rel=1e-9)
    # K = 1 with identical embeddings returns each window's own score
    assert refine_scores(a, v, v, 1) == pytest.approx(a)


def test_centre_to_frames_repeat_and_linear():
    assert centre_to_frames([0, 4], [0.2, 0.6], 7, "repeat").tolist() == pytest.approx(
        [0.2, 0.2, 0.2, 0.2, 0.6, 0.6, 0.6]
    )
    assert centre_to_frames([0, 4], [0.2, 0.6], 6, "linear").tolist() == pytest.approx(
        [0.2, 0.3, 0.4, 0.5, 0.6, 0.6]
    )


def threshold_segments(s, ts, thr, min_seconds=0.0):
    """A fixed threshold is hysteresis with low = high."""
    return hysteresis_segments(s, ts, thr, thr, min_seconds)


def test_threshold_segments():
    s = np.array([0.1, 0.6, 0.7, 0.2, 0.9, 0.9, 0.9, 0.1])
    ts = [i / 10 for i in range(8)]
    assert threshold_segments(s, ts, 0.5) == [Span(1, 2), Span(4, 6)]
    assert threshold_segments(s, ts, 0.5, min_seconds=0.25) == [Span(4, 6)]
    assert threshold_segments(s, ts, 0.95) == []
