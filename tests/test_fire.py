"""The fire expert on real clips (event_clips: burning paper, a living-room fire; hard
normals: a red shirt under warm lamps, hot-air balloons, a sunlit trail) and its pure parts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, need_shared

from langvad.stages.evidence import evidence_facts
from langvad.vision.experts.base import clip_indices
from langvad.vision.experts.fire import (
    CLIP_FPS,
    CLIP_FRAMES,
    FireExpert,
    mask_boxes,
    probability,
)

EVENTS = SHARED / "event_clips"
PAPER = EVENTS / "fire_paper_wall.mp4"
LIVING = EVENTS / "fire_livingroom_battery_cctv.mp4"
SOFA = EVENTS / "normal_sofa_redshirt_indoorcam.mp4"
BALLOONS = EVENTS / "normal_hot_air_balloons.mp4"
TRAIL = EVENTS / "normal_sunlit_trail.mp4"
FLOOR = 0.9  # Config().evidence_floor
FACT_FLOOR = 0.5  # Config().fact_floor


def _clips(path: Path, centres: list[float]) -> tuple[list[list[np.ndarray]], list[list[int]]]:
    """The expert's clips centred on ``centres`` (seconds), decoded in one pass."""
    from langvad.video import probe, read_frames

    info = probe(need_shared(path))
    ts = list(info.timestamps)
    idx = [clip_indices(ts, c, CLIP_FRAMES, CLIP_FPS) for c in centres]
    frames = {i: rgb for i, _, rgb in read_frames(info, sorted({i for c in idx for i in c}))}
    return [[frames[i] for i in c] for c in idx], idx


@pytest.fixture(scope="module")
def expert() -> FireExpert:
    pytest.importorskip("cv2")
    return FireExpert()


def test_mapping_is_the_documented_one() -> None:
    assert probability("fire", 0.005) == pytest.approx(0.5)
    assert probability("fire", 0.01) == pytest.approx(0.9, abs=0.01)
    assert probability("fire", 0.0) == 0.0
    assert probability("explosion", 0.2) == pytest.approx(0.5)
    e = FireExpert()
    raw = [{"flicker": 0.05, "smoke": 0.0, "burst": 0.0}, {"flicker": 0.0, "burst": 0.9}]
    cal = e.calibrate(raw)
    # a single confident fire clip counts only as much as its neighbour; a burst stays
    assert cal[0]["fire"] == 0.0 and cal[1]["explosion"] > 0.95
    cal = e.calibrate([{"flicker": 0.05}, {"flicker": 0.02}])
    assert min(c["fire"] for c in cal) > FLOOR


def test_fire_clip_above_the_floor(expert: FireExpert) -> None:
    """The living-room fire's flare-up (≈ 4–9 s): sustained fire probability above the
    evidence floor, read as a fact; the burning paper's first seconds (its flames shrink
    later) at least above the fact floor."""
    for path, centres, floor, word in (
        (LIVING, [5.0, 7.0, 9.0], FLOOR, "very likely"),
        (PAPER, [1.0, 3.0], FACT_FLOOR, "likely"),
    ):
        clips, _ = _clips(path, centres)
        cal = expert.calibrate([expert.score(c) for c in clips])
        best = max(c["fire"] for c in cal)
        assert best > floor, (path.name, cal)
        facts = evidence_facts({"fire": best}, {"fire": "fire"}, floor=FACT_FLOOR)
        assert facts[0].startswith(f"a fire with flickering flames is {word} (fire detector")


@pytest.mark.parametrize("path", [SOFA, BALLOONS, TRAIL], ids=lambda p: p.stem)
def test_warm_hard_normals_give_no_fire_fact(expert: FireExpert, path: Path) -> None:
    """Warm light, red and orange things that do not burn: every class stays under the fact
    floor on clips spread over the video, so the LLM reads no fire fact."""
    centres = [1.0, 3.0, 5.0, 7.0, 9.0]
    clips, _ = _clips(path, centres)
    cal = expert.calibrate([expert.score(c) for c in clips])
    for c in cal:
        assert max(c.values()) < FACT_FLOOR, (path.name, cal)
        assert evidence_facts(c, {k: "fire" for k in c}, floor=FACT_FLOOR) == []


def test_boxes_fall_on_the_flames(expert: FireExpert) -> None:
    """Frame 30 of the burning paper (1 s): the flames, marked by hand on the frame, span
    x 225–470, y 115–340 of its 640×352 pixels; the white wall at its left (x < 150) has
    none. The largest fire box lies on them."""
    clips, idx = _clips(PAPER, [1.0])
    boxes = expert.regions(clips[0], idx[0][len(idx[0]) // 2])
    fire = [b for b in boxes if b.label == "fire"]
    assert fire and fire[0].frame == 30
    hx0, hy0, hx1, hy1 = 225 / 640, 115 / 352, 470 / 640, 340 / 352
    b = fire[0]
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    assert hx0 <= cx <= hx1 and hy0 <= cy <= hy1, b
    ix = max(0.0, min(b.x + b.w, hx1) - max(b.x, hx0))
    iy = max(0.0, min(b.y + b.h, hy1) - max(b.y, hy0))
    assert ix * iy >= 0.6 * b.w * b.h, b  # most of the box is on the flames
    assert all(x.x >= 150 / 640 for x in fire)  # nothing on the white wall
    assert b.to_json()["label"] == "fire"


def test_mask_boxes_are_normalised_and_largest_first() -> None:
    m = np.zeros((100, 200), bool)
    m[10:20, 20:40] = True
    m[50:90, 100:180] = True
    b = mask_boxes(m, 7, "smoke")
    assert [(x.x, x.y, x.w, x.h) for x in b] == [(0.5, 0.5, 0.4, 0.4), (0.1, 0.1, 0.1, 0.1)]
    assert all(x.frame == 7 and x.label == "smoke" for x in b)


# -- opt-in fire classifier (PyPI fire-detector==1.0.3, no licence stated) ---------------


def _need_fire_resnet() -> None:
    for mod in ("fire_detector", "onnxruntime", "onnx"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed (opt-in: pip install --no-deps fire-detector==1.0.3)")


def test_fire_resnet_onnx_matches_torch_and_sees_the_paper_fire() -> None:
    """The ONNX graph written with numpy gives the logits of torchvision's ResNet-18 (rebuilt
    in plain torch) on real frames, and calls the burning paper fire."""
    _need_fire_resnet()
    torch = pytest.importorskip("torch")
    from torch import nn

    from langvad.vision.describer.torchfile import load_state_dict
    from langvad.vision.experts.fire_resnet import FireResnetExpert, preprocess, weights_path

    class Block(nn.Module):
        def __init__(self, i: int, o: int, s: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(i, o, 3, s, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(o)
            self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(o)
            down = s != 1 or i != o
            self.downsample = (
                nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))
                if down
                else None
            )

        def forward(self, x):  # type: ignore[no-untyped-def]
            h = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(h + (x if self.downsample is None else self.downsample(x)))

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            c = 64
            for i, (o, s) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], 1):
                setattr(self, f"layer{i}", nn.Sequential(Block(c, o, s), Block(o, o, 1)))
                c = o
            self.fc = nn.Linear(512, 2)

        def forward(self, x):  # type: ignore[no-untyped-def]
            x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
            for i in range(1, 5):
                x = getattr(self, f"layer{i}")(x)
            return self.fc(x.mean((2, 3)))

    sd = load_state_dict(weights_path())
    net = ResNet18()
    net.load_state_dict({k: torch.tensor(v.astype(np.float32)) for k, v in sd.items()})
    net.eval()
    clips, _ = _clips(PAPER, [1.0])
    frames = clips[0][::7]
    x = preprocess(frames)
    with torch.no_grad():
        want = net(torch.tensor(x)).numpy()
    e = FireResnetExpert()
    got = e._sess.run(None, {"image": x})[0]
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert e.score(frames)["fire_scene"] > 0.9


def test_pipeline_flags_the_flare_up_and_not_the_sofa(tmp_path: Path) -> None:
    """Through the pipeline with this expert alone (no captioner, no LLM): a segment over the
    living-room fire's flare-up with a fire fact; none, and no fact, on the warm-lit sofa."""
    pytest.importorskip("cv2")
    from langvad.config import preset_config
    from langvad.pipeline import Runner
    from langvad.source import open_source
    from langvad.store import Store

    cfg = preset_config("ucf", llm_weight=0.0, explain=False, experts=["fire"])
    runner = Runner(cfg, store=Store(tmp_path / "c.sqlite"), progress=False)
    res = runner.run(open_source(need_shared(LIVING)))
    assert any(s.start_time < 8.0 < s.end_time for s in res.segments), res.segments
    assert any(f.startswith("a fire with flickering flames") for w in res.windows for f in w.facts)
    info = res.provenance["evidence"]["experts"][0]
    assert info["name"] == "fire" and info["licence"] == "Apache-2.0"
    sofa = runner.run(open_source(need_shared(SOFA)))
    assert not sofa.segments and not any(w.facts for w in sofa.windows)
