"""The stage engine's file mode gives the scores the 200-line ``Runner.run`` gave before it was
split into stages (``tests/data/golden_scores.json``, made at the commit it names with the
README's command on the README clip and on Ped2 test video 01, each with a fresh cache)."""

import json

import pytest
from conftest import CLIPS, DATA, TEXT_BENCH, need_shared
from test_cli import _need_default_llm, langvad

GOLDEN = json.loads((DATA / "golden_scores.json").read_text())
CASES = {
    "fighting033_default": (CLIPS / "Fighting033_x264_570_841.mp4", []),
    "ped2_test01_default": (
        TEXT_BENCH / "ped2/descriptions/test_01.txt",
        ["--preset", "ped2", "--no-report"],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_detect_scores_identical_to_before_the_stage_engine(case, tmp_path):
    _need_default_llm()
    if case.startswith("fighting"):
        pytest.importorskip("mediapipe", reason="run scripts/setup_vision.sh")
    path, extra = CASES[case]
    out = tmp_path / "out"
    r = langvad(
        "detect",
        str(need_shared(path)),
        *extra,
        "--out",
        str(out),
        "--quiet",
        cache=tmp_path / "cache",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "result.json").read_text())
    want = GOLDEN[case]
    assert res["scores"] == want["scores"]
    got_windows = [
        [w["centre_frame"], w["score"], w["refined_score"], w["final_score"]]
        for w in res["windows"]
    ]
    assert got_windows == want["windows"]
    assert [[s["start_frame"], s["end_frame"]] for s in res["segments"]] == want["segments"]
