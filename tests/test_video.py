"""Tests for langvad.video: probing, sampling and decoding videos and frame folders."""

from __future__ import annotations

import os
import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import langvad.video.decode as decode_mod
from langvad.errors import LangvadError
from langvad.video import (
    VideoError,
    VideoInfo,
    nearest_frame,
    probe,
    read_frames,
    sample_indices,
)

CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clips"
W, H = 64, 48
LEVEL_TOL = 4.0  # gray level drift through RGB -> YUV 4:2:0 -> RGB and lossy coding

# Irregular presentation times (ms) for the variable-frame-rate video.
VFR_PTS = [0, 40, 80, 300, 320, 340, 1000, 1010, 1500, 2000]


def _pick_codec(*names: str) -> str:
    for name in names:
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
            except Exception:  # any failure means "not usable here"
                continue
            return name
    pytest.skip(f"none of the encoders {names} is available in this PyAV build")


def write_video(
    path: Path,
    levels: Sequence[int],
    *,
    codec: str,
    rate: int = 25,
    pts: Sequence[int] | None = None,
) -> Path:
    """Write solid gray frames (``levels[i]`` for frame i); ``pts`` in ms makes it VFR."""
    time_base = Fraction(1, 1000) if pts is not None else Fraction(1, rate)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        for i, level in enumerate(levels):
            frame = av.VideoFrame.from_ndarray(np.full((H, W, 3), level, np.uint8), format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            frame.time_base = time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def assert_level(rgb: np.ndarray, level: float) -> None:
    assert rgb.dtype == np.uint8
    assert abs(float(rgb.mean()) - level) <= LEVEL_TOL, (float(rgb.mean()), level)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    h264 = _pick_codec("libx264", "libopenh264", "mpeg4")
    mpeg4 = _pick_codec("mpeg4", "libx264")
    return {
        "cfr": write_video(d / "cfr.mp4", [i * 4 for i in range(50)], codec=h264, rate=25),
        "mkv": write_video(d / "clip.mkv", [i * 10 for i in range(20)], codec=mpeg4, rate=10),
        "vfr": write_video(
            d / "vfr.mp4", [i * 20 for i in range(len(VFR_PTS))], codec=h264, pts=VFR_PTS
        ),
    }


@pytest.fixture(scope="module")
def frame_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("frames")
    for i in range(1, 11):  # frame_1 .. frame_10: natural order, not "1, 10, 2, ..."
        Image.fromarray(np.full((H, W, 3), i * 20, np.uint8)).save(d / f"frame_{i}.png")
    (d / "notes.txt").write_text("not a frame")
    (d / ".hidden.png").write_bytes(b"ignored")
    return d


# --------------------------------------------------------------------------------------------
# constant frame rate videos


def test_probe_cfr_mp4(videos: dict[str, Path]) -> None:
    info = probe(videos["cfr"])
    assert isinstance(info, VideoInfo)
    assert info.path == os.path.abspath(videos["cfr"])
    assert not info.is_frame_dir
    assert (info.n_frames, info.width, info.height) == (50, W, H)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(2.0)
    assert len(info.timestamps) == 50
    assert info.timestamps == pytest.approx([i / 25 for i in range(50)], abs=1e-9)
    assert len(info.fingerprint) == 64
    assert probe(str(videos["cfr"])) == info  # str or Path, same answer


def test_read_frames_cfr_by_gray_level(videos: dict[str, Path]) -> None:
    info = probe(videos["cfr"])
    wanted = [49, 0, 7, 7, 30]  # unsorted with a repeat: yielded once each, increasing
    got = list(read_frames(info, wanted))
    assert [i for i, _, _ in got] == [0, 7, 30, 49]
    for index, t, rgb in got:
        assert t == pytest.approx(index / 25)
        assert rgb.shape == (H, W, 3)
        assert_level(rgb, index * 4)


def test_read_frames_max_side(videos: dict[str, Path]) -> None:
    info = probe(videos["cfr"])
    (_, _, small), (_, _, same) = (
        next(iter(read_frames(info, [3], max_side=32))),
        next(iter(read_frames(info, [3], max_side=1000))),
    )
    assert small.shape == (24, 32, 3)
    assert same.shape == (H, W, 3)
    assert_level(small, 12)


def test_sample_indices_stride_and_fps(videos: dict[str, Path]) -> None:
    info = probe(videos["cfr"])
    assert sample_indices(info, stride=10) == [0, 10, 20, 30, 40]
    assert sample_indices(info, stride=1) == list(range(50))
    assert sample_indices(info, fps=5) == list(range(0, 50, 5))
    assert sample_indices(info, fps=25) == list(range(50))
    assert sample_indices(info, fps=100) == list(range(50))  # deduplicated
    with pytest.raises(ValueError):
        sample_indices(info)
    with pytest.raises(ValueError):
        sample_indices(info, stride=2, fps=1.0)
    with pytest.raises(ValueError):
        sample_indices(info, stride=0)


def test_mkv(videos: dict[str, Path]) -> None:
    info = probe(videos["mkv"])
    assert (info.n_frames, info.width, info.height) == (20, W, H)
    assert info.fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(2.0)
    got = list(read_frames(info, sample_indices(info, stride=3)))
    assert [i for i, _, _ in got] == [0, 3, 6, 9, 12, 15, 18]
    for index, t, rgb in got:
        assert t == pytest.approx(index / 10)
        assert_level(rgb, index * 10)


def test_packet_probe_matches_full_decode(
    videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    full = {name: probe(path) for name, path in videos.items()}
    monkeypatch.setattr(decode_mod, "FULL_DECODE_PIXEL_BUDGET", 0)  # packets + tail check only
    for name, path in videos.items():
        assert probe(path) == full[name], name


# --------------------------------------------------------------------------------------------
# variable frame rate


def test_vfr_timestamps_are_the_written_pts(videos: dict[str, Path]) -> None:
    info = probe(videos["vfr"])
    assert info.n_frames == len(VFR_PTS)
    assert info.timestamps == pytest.approx([p / 1000 for p in VFR_PTS], abs=1e-9)
    assert info.duration > 2.0
    assert info.fps == pytest.approx(info.n_frames / info.duration)


def test_vfr_sampling_is_by_time_not_index(videos: dict[str, Path]) -> None:
    info = probe(videos["vfr"])
    picked = sample_indices(info, fps=2.0)
    # targets 0.0, 0.5, 1.0, 1.5, 2.0 s -> frames at 0.0, 0.34, 1.0, 1.5, 2.0 s
    assert picked == [0, 5, 6, 8, 9]
    times = [0.0, 0.5, 1.0, 1.5, 2.0]
    brute = [min(range(info.n_frames), key=lambda i: abs(info.timestamps[i] - t)) for t in times]
    assert picked == brute
    # index-based sampling at the average rate would give something else
    step = info.fps / 2.0
    assert picked != sorted({round(k * step) for k in range(5)})

    got = list(read_frames(info, picked))
    assert [i for i, _, _ in got] == picked
    for index, t, rgb in got:
        assert t == pytest.approx(VFR_PTS[index] / 1000)
        assert_level(rgb, index * 20)


def test_nearest_frame(videos: dict[str, Path]) -> None:
    info = probe(videos["vfr"])
    assert nearest_frame(info, -5.0) == 0
    assert nearest_frame(info, 0.0) == 0
    assert nearest_frame(info, 0.6) == 5  # 0.34 is nearer than 1.0
    assert nearest_frame(info, 0.7) == 6
    assert nearest_frame(info, 99.0) == info.n_frames - 1
    tie = VideoInfo("x", 2, 1.0, 2.0, 1, 1, (0.0, 1.0), "", False)
    assert nearest_frame(tie, 0.5) == 0  # ties go to the earlier frame


# --------------------------------------------------------------------------------------------
# frame folders


def test_frame_dir_probe_and_natural_order(frame_dir: Path) -> None:
    info = probe(frame_dir, folder_fps=5.0)
    assert info.is_frame_dir
    assert (info.n_frames, info.width, info.height) == (10, W, H)
    assert info.fps == 5.0
    assert info.duration == pytest.approx(2.0)
    assert info.timestamps == pytest.approx([i / 5 for i in range(10)])
    assert probe(frame_dir).fps == 30.0  # default folder fps

    got = list(read_frames(info, [9, 1, 0], max_side=16))
    assert [i for i, _, _ in got] == [0, 1, 9]
    for index, t, rgb in got:
        assert rgb.shape == (12, 16, 3)
        assert t == pytest.approx(index / 5)
        assert_level(rgb, (index + 1) * 20)  # frame_{index+1}.png, natural order
    assert sample_indices(info, fps=2.5) == [0, 2, 4, 6, 8]


def test_frame_dir_fingerprint_follows_content(tmp_path: Path) -> None:
    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(tmp_path / f"{i}.png")
    before = probe(tmp_path).fingerprint
    os.utime(tmp_path / "1.png", (0, 0))  # mtime does not matter
    assert probe(tmp_path).fingerprint == before
    Image.fromarray(np.full((8, 8, 3), 99, np.uint8)).save(tmp_path / "1.png")
    assert probe(tmp_path).fingerprint != before


def test_frame_dir_broken_image(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match="b.png"):  # found by probe, before any work
        probe(tmp_path)
    (tmp_path / "b.png").write_bytes(b"")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "b.png")
    info = probe(tmp_path)
    (tmp_path / "b.png").write_bytes(b"not a png")  # broken after probe: found on reading
    with pytest.raises(VideoError, match="b.png"):
        list(read_frames(info, [0, 1]))


# --------------------------------------------------------------------------------------------
# errors


def _assert_video_error(path: Path, *words: str) -> VideoError:
    with pytest.raises(VideoError) as excinfo:
        probe(path)
    err = excinfo.value
    assert isinstance(err, LangvadError)
    assert path.name in str(err)
    assert err.hint, "every error must say what to do"
    for word in words:
        assert word in str(err).lower()
    return err


def test_error_missing_path(tmp_path: Path) -> None:
    _assert_video_error(tmp_path / "nope.mp4", "not found")


def test_error_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    _assert_video_error(path, "empty")


def test_error_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(20_000))
    _assert_video_error(path)


def test_error_truncated_mp4(tmp_path: Path, videos: dict[str, Path]) -> None:
    data = videos["cfr"].read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: int(len(data) * 0.3)])
    _assert_video_error(path)


def test_error_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "audio.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000)
    _assert_video_error(path, "no readable video stream", "only audio")


def test_error_dir_without_images(tmp_path: Path) -> None:
    folder = tmp_path / "no_frames_here"
    folder.mkdir()
    (folder / "readme.txt").write_text("hi")
    _assert_video_error(folder, "no frame images")


def test_error_index_out_of_range(videos: dict[str, Path], frame_dir: Path) -> None:
    for path in (videos["cfr"], frame_dir):
        info = probe(path)
        with pytest.raises(VideoError, match=path.name):
            read_frames(info, [0, info.n_frames])
        with pytest.raises(VideoError, match="out of range"):
            read_frames(info, [-1])


def test_error_video_ends_early(tmp_path: Path) -> None:
    path = write_video(tmp_path / "shrinks.mkv", [0] * 20, codec=_pick_codec("mpeg4", "libx264"))
    info = probe(path)
    write_video(path, [0] * 5, codec=_pick_codec("mpeg4", "libx264"))  # replaced after probe
    with pytest.raises(VideoError, match="ended after 5 frames") as excinfo:
        list(read_frames(info, [2, 15]))
    assert "shrinks.mkv" in str(excinfo.value)


# --------------------------------------------------------------------------------------------
# real clips


def _clip(name: str) -> Path:
    path = CLIPS / name
    if not path.is_file():
        pytest.skip(f"real clip {path} is not available")
    return path


def test_real_clip_fighting() -> None:
    info = probe(_clip("Fighting033_x264_570_841.mp4"))
    assert info.n_frames == 271
    assert info.fps == pytest.approx(30.0, abs=0.01)
    assert (info.width, info.height) == (320, 240)
    got = list(read_frames(info, [0, 135, 270]))
    assert [i for i, _, _ in got] == [0, 135, 270]
    assert all(rgb.shape == (240, 320, 3) for _, _, rgb in got)
    assert got[-1][1] == pytest.approx(9.0)


def test_real_clip_vtest() -> None:
    info = probe(_clip("vtest.avi"))
    assert info.n_frames == 795
    assert info.fps == pytest.approx(10.0)
    assert (info.width, info.height) == (768, 576)
    got = list(read_frames(info, sample_indices(info, fps=1.0), max_side=224))
    assert len(got) == 80
    assert all(rgb.shape == (168, 224, 3) for _, _, rgb in got)
