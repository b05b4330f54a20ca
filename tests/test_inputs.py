import json
import sys
from pathlib import Path

import pytest
from conftest import CLIPS, DATA, TEXT_BENCH, need_shared

from langvad.captions import load_captions
from langvad.config import Config, load_config, preset_config
from langvad.errors import InputError, ModelError
from langvad.eval import frame_metrics, load_frame_labels
from langvad.models.assets import PackagedGGUF, ensure_gguf, sha256_file
from langvad.source import open_source
from langvad.store import Store


def test_captions_txt_jsonl_csv(tmp_path: Path):
    (tmp_path / "a.txt").write_text("a cat\n\nthe end\n\n")
    assert load_captions(tmp_path / "a.txt").per_frame == ("a cat", "", "the end")
    (tmp_path / "b.jsonl").write_text('{"frame": 2, "caption": "x"}\n{"frame": 0, "text": "y"}\n')
    assert load_captions(tmp_path / "b.jsonl").per_frame == ("y", None, "x")
    (tmp_path / "c.csv").write_text('frame,caption\n0,hello\n1,"a, b"\n')
    assert load_captions(tmp_path / "c.csv").per_frame == ("hello", "a, b")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("bad.jsonl", '{"frame": 0, "caption": "x"}\nnot json\n', "line 2"),
        ("bad2.jsonl", '{"frame": "two", "caption": "x"}\n', "not an integer"),
        ("mixed.jsonl", '{"frame": 1, "caption": "x"}\n{"caption": "y"}\n', "some rows"),
        ("bad.csv", "a,b\n1,2\n", "no 'caption' column"),
        ("empty.txt", "\n\n", "holds no caption"),
    ],
)
def test_captions_errors_name_the_file(tmp_path: Path, name, content, needle):
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError) as e:
        load_captions(tmp_path / name)
    assert name in str(e.value) and needle in str(e.value)


def test_missing_captions_file():
    with pytest.raises(InputError, match="not found"):
        load_captions("/nonexistent/caps.txt")


def test_text_bench_descriptions_as_captions():
    path = need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt")
    src = open_source(path, fps=10)
    labels = load_frame_labels(TEXT_BENCH / "ped2/labels/test_01.csv")
    assert src.n_frames == len(labels) == 180
    assert src.timestamps[10] == pytest.approx(1.0) and src.video is None


def test_video_with_captions_and_mismatch(tmp_path: Path):
    clip = need_shared(CLIPS / "Fighting033_x264_570_841.mp4")
    src = open_source(clip, DATA / "fighting033_captions.jsonl")
    assert src.n_frames == 271 and src.captions is not None
    (tmp_path / "long.txt").write_text("x\n" * 400)
    with pytest.raises(InputError, match="400 captions"):
        open_source(clip, tmp_path / "long.txt")


def test_labels_and_metrics(tmp_path: Path):
    (tmp_path / "l.csv").write_text("image_path,label\na,0\nb,1\nc,1\nd,0\n")
    y = load_frame_labels(tmp_path / "l.csv")
    assert y.tolist() == [0, 1, 1, 0]
    m = frame_metrics([0.1, 0.9, 0.8, 0.2], y)
    assert m["auc"] == 1.0 and m["ap"] == pytest.approx(1.0)
    (tmp_path / "bad.txt").write_text("0\n1\n2\n")
    with pytest.raises(InputError, match="frame 2 has label '2'"):
        load_frame_labels(tmp_path / "bad.txt")


def test_config_presets_hash_and_file(tmp_path: Path):
    assert Config().config_hash() == Config().config_hash()
    assert Config(stride=8).config_hash() != Config().config_hash()
    xd = preset_config("xd")
    assert "potentially criminal" in xd.prompts.context
    assert preset_config("ped2").prompts.scene
    with pytest.raises(InputError, match="unknown preset"):
        preset_config("nope")
    with pytest.raises(InputError, match="invalid configuration"):
        preset_config("ucf", stride=0)
    (tmp_path / "c.json").write_text(
        json.dumps({"preset": "xd", "refine_k": 3, "prompts": {"summary": "Sum up."}})
    )
    c = load_config(tmp_path / "c.json")
    assert c.refine_k == 3 and c.prompts.summary == "Sum up." and c.preset == "xd"
    assert "potentially criminal" in c.prompts.context
    (tmp_path / "p.json").write_text(json.dumps({"profile": "lavad"}))
    assert load_config(tmp_path / "p.json").profile == "lavad"
    assert load_config(tmp_path / "p.json", profile=None).centre_fps is None
    assert load_config(tmp_path / "p.json", profile="fast").centre_fps == 0.25


def test_speed_profiles():
    """fast (default): a window every 4 s on a 1 s frame grid; lavad: every 16th frame."""
    from langvad.stages.windows import centre_frames_by_fps, window_frames

    fast, lavad = preset_config("ucf"), preset_config("ucf", "lavad")
    assert fast.profile == "fast" and fast.centre_fps == 0.25 and fast.stride == 16
    assert lavad.profile == "lavad" and lavad.centre_fps is None and lavad.stride == 16
    assert (lavad.window_seconds, lavad.window_frames, lavad.refine_k) == (10.0, 10, 10)
    # an explicit stride means stride sampling, whatever the profile
    assert preset_config("ucf", stride=8).centre_fps is None
    with pytest.raises(InputError, match="unknown speed profile"):
        preset_config("ucf", "turbo")
    # fast scores each centre's caption (no summary call); lavad summarises every window
    assert not fast.summarize and lavad.summarize
    assert preset_config("ucf", summarize=True).summarize
    # one video-minute at 30 fps: 15 windows (15 LLM calls), <= 60 distinct frames to caption,
    # and every centre is one of its window's samples (no extra frame to caption)
    ts = [i / 30 for i in range(1800)]
    centres = centre_frames_by_fps(ts, fast.centre_fps)
    wins = [window_frames(ts[c], ts, 10.0, 10) for c in centres]
    frames = {f for w in wins for f in w}
    assert len(centres) == 15 and len(frames) <= 60
    assert all(c in w for c, w in zip(centres, wins, strict=True))


def test_store_roundtrip(tmp_path: Path):
    import numpy as np

    s = Store(tmp_path / "db.sqlite")
    s.put("k", "stage", {"a": [1, 2]})
    assert s.get("k") == {"a": [1, 2]} and s.get("missing") is None
    s.put_vectors("embed", {"v": np.arange(3, dtype=np.float32)})
    assert s.get_vectors(["v", "w"])["v"].tolist() == [0, 1, 2]
    s.put_call("c", "summary", "text")
    assert s.get_call("c") == "text" and s.count("summary") == 1


def _fake_parts(tmp_path: Path, monkeypatch, prefix: str, blobs: list[bytes]) -> None:
    for i, b in enumerate(blobs, 1):
        d = tmp_path / "site" / f"{prefix}{i}"
        (d / "data").mkdir(parents=True)
        (d / "__init__.py").write_text("")
        (d / "data" / f"part{i:02d}.bin").write_bytes(b)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def test_assemble_verifies_sha256(tmp_path: Path, monkeypatch):
    import hashlib

    _fake_parts(tmp_path, monkeypatch, "lvtestpart", [b"abc", b"def"])
    good = PackagedGGUF(
        "t", "t.gguf", "lvtestpart", 2, hashlib.sha256(b"abcdef").hexdigest(), "lvtest", "test"
    )
    monkeypatch.setitem(sys.modules, "langvad_dummy", None)
    from langvad.models import assets

    monkeypatch.setitem(assets.PACKAGED, "t", good)
    out = ensure_gguf("t", tmp_path / "models")
    assert out.read_bytes() == b"abcdef" and sha256_file(out) == good.sha256
    bad = PackagedGGUF("b", "b.gguf", "lvtestpart", 2, "0" * 64, "lvtest", "test")
    monkeypatch.setitem(assets.PACKAGED, "b", bad)
    with pytest.raises(ModelError, match="refusing to load"):
        ensure_gguf("b", tmp_path / "models")
    assert not (tmp_path / "models" / "b.gguf").exists()
    missing = PackagedGGUF("m", "m.gguf", "lvnotinstalled", 1, "0" * 64, "x", "test")
    monkeypatch.setitem(assets.PACKAGED, "m", missing)
    with pytest.raises(ModelError, match="not installed"):
        ensure_gguf("m", tmp_path / "models")
