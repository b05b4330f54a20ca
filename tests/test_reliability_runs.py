"""A run that cannot save its work fails in its first second; a damaged video is used with a
warning, never silently as a shorter one.

Every case runs the real ``langvad detect`` command (a subprocess) on the real Fighting033
clip or on files made from it."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from conftest import CLIPS, DATA, need_shared, one_clear_error, run_cli

from langvad.video import probe

FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
CAPTIONS = DATA / "fighting033_captions.jsonl"


def langvad(*args: str, cache_dir: Path) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    r = run_cli(*args, cache=cache_dir, timeout=600)
    return r, time.perf_counter() - t0


def fight_detect(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    clip = need_shared(FIGHT)
    return langvad(
        "detect", str(clip), "--captions", str(CAPTIONS), "--quiet", *extra, cache_dir=tmp_path
    )


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """chattr +i: read-only even for root (tests run as root in CI); skip where not allowed."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr not available")
    r = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot make {path} immutable here: {r.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_out_naming_an_existing_file_fails_first(tmp_path: Path):
    f = tmp_path / "result.txt"
    f.write_text("keep me")
    r, _ = fight_detect(tmp_path, "--out", str(f))
    one_clear_error(r, "result.txt is a file, not a folder")
    r, _ = fight_detect(tmp_path, "--out", str(f / "sub"))
    one_clear_error(r, "result.txt is a file, not a folder")
    assert f.read_text() == "keep me"


def test_unwritable_out_fails_first(tmp_path: Path):
    out = tmp_path / "locked"
    out.mkdir()
    with immutable(out):
        r, _ = fight_detect(tmp_path, "--out", str(out))
    one_clear_error(r, "is not writable", "locked")


def test_read_only_cache_file_fails_first(tmp_path: Path):
    from langvad.store import Store

    cache = tmp_path / "ro.sqlite"
    Store(cache).close()
    with immutable(cache):
        r, _ = fight_detect(tmp_path, "--cache", str(cache), "--out", str(tmp_path / "o"))
    one_clear_error(r, "ro.sqlite")
    assert "read-only" in r.stderr or "cannot use the cache" in " ".join(r.stderr.split())


def test_unwritable_cache_folder_and_a_non_database_fail_first(tmp_path: Path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(os.urandom(4096))
    r, _ = fight_detect(tmp_path, "--cache", str(junk), "--out", str(tmp_path / "o"))
    one_clear_error(r, "junk.sqlite", "not a langvad cache")
    r, _ = langvad(
        "detect",
        str(need_shared(FIGHT)),
        "--captions",
        str(CAPTIONS),
        "--quiet",
        "--out",
        str(tmp_path / "o"),
        cache_dir=Path("/proc/langvad-cache"),  # no folder can be made there
    )
    one_clear_error(r, "/proc/langvad-cache")


def test_a_corrupt_image_in_a_frame_folder_fails_at_probe(tmp_path: Path):
    folder = tmp_path / "frames"
    folder.mkdir()
    with av.open(str(need_shared(FIGHT))) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= 40:
                break
            frame.to_image().save(folder / f"{i:04d}.jpg", quality=80)
    bad = folder / "0025.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # a half-written file
    caps = tmp_path / "c.txt"
    caps.write_text("".join("a man walks in a tunnel\n" for _ in range(40)))
    r, seconds = langvad(
        "detect", str(folder), "--captions", str(caps), "--quiet", "--out",
        str(tmp_path / "o"), cache_dir=tmp_path,
    )  # fmt: skip
    one_clear_error(r, "0025.jpg")
    assert not (tmp_path / "o" / "result.json").exists()
    assert seconds < 60  # found by probe: no model was loaded, nothing was scored


def _faststart_copy(src: Path, dst: Path) -> None:
    """The clip remuxed with its index first (as cameras and web video write mp4): a cut
    file then still opens and declares the full length."""
    with av.open(str(src)) as i, av.open(str(dst), "w", options={"movflags": "faststart"}) as o:
        s = i.streams.video[0]
        out = o.add_stream_from_template(s)
        for p in i.demux(s):
            if p.dts is not None:
                p.stream = out
                o.mux(p)


def test_truncated_and_damaged_videos_are_used_with_a_warning(tmp_path: Path):
    whole = tmp_path / "whole.mp4"
    _faststart_copy(need_shared(FIGHT), whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut30.mp4"
    cut.write_bytes(data[: int(len(data) * 0.3)])
    damaged = bytearray(data)
    rng = random.Random(0)
    for k in rng.sample(range(len(data) // 10, len(data)), 100):
        damaged[k] ^= 0xFF
    (tmp_path / "damaged.mp4").write_bytes(bytes(damaged))
    assert probe(whole).warnings == ()
    info = probe(cut)
    assert info.n_frames < 100 and "decoded" in info.warnings[0] and "271" in info.warnings[0]
    assert any("damaged packet" in w for w in probe(tmp_path / "damaged.mp4").warnings)
    # a run on the cut file says so on stderr and in result.json
    caps = tmp_path / "c.jsonl"
    caps.write_text(
        "".join(json.dumps({"frame": f, "caption": "two men fight"}) + "\n" for f in range(71))
    )
    r, _ = langvad(
        "detect", str(cut), "--captions", str(caps), "--score-mode", "keywords",
        "--experts", "none", "--no-explain", "--no-report", "--quiet",
        "--out", str(tmp_path / "o"), cache_dir=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "looks truncated" in " ".join(r.stderr.split())
    prov = json.loads((tmp_path / "o" / "result.json").read_text())["provenance"]
    assert any("271 frames" in w for w in prov["input_warnings"])
