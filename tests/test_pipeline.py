"""The runner on real text (Ped2/Avenue descriptions) with a real small LLM (SmolLM2-135M):
cache reuse, partial recomputation, kill-and-resume, and failure handling."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import TEXT_BENCH, need_shared

from langvad.config import PRESET_PROMPTS, Config, Prompts
from langvad.engine.describe import scored_frame
from langvad.engine.runner import Runner
from langvad.errors import LLMError
from langvad.source import open_source
from langvad.store import Store

SMALL = dict(
    llm="smollm2-135m-instruct",
    stride=30,
    window_seconds=2.0,
    window_frames=4,
    summary_max_tokens=24,
    caption_fps=10.0,
)


@pytest.fixture
def ped2_01():
    return open_source(need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt"), fps=10)


def test_second_run_makes_zero_llm_calls(tmp_path, ped2_01, smollm, encoder):
    store = Store(tmp_path / "a.sqlite")
    cfg = Config(**SMALL)
    first = Runner(cfg, store=store, llm=smollm, encoder=encoder, progress=False).run(ped2_01)
    assert first.provenance["usage"]["llm_calls"] >= 6
    assert len(first.scores) == 180 and all(0 <= s <= 1 for s in first.scores)
    assert len(first.windows) == 6 and first.windows[1].frames == [20, 25, 30, 35]

    again = Runner(cfg, store=store, progress=False)  # no model handed in
    second = again.run(ped2_01)
    assert second.provenance["usage"]["llm_calls"] == 0
    assert again.llm._server is None  # the LLM was never loaded
    assert second.scores == first.scores
    assert [w.summary for w in second.windows] == [w.summary for w in first.windows]


def test_changing_score_prompt_recomputes_only_scores(tmp_path, ped2_01, smollm, encoder):
    store = Store(tmp_path / "b.sqlite")
    base = Config(**SMALL)
    Runner(base, store=store, llm=smollm, encoder=encoder, progress=False).run(ped2_01)
    n_summaries, n_scores = store.count("summary"), store.count("score.choice")
    changed = base.model_copy(update={"prompts": Prompts(context="How unusual is this scene?")})
    r = Runner(changed, store=store, llm=smollm, encoder=encoder, progress=False)
    res = r.run(ped2_01)
    assert store.count("summary") == n_summaries  # summaries all came from the cache
    assert store.count("score.choice") == 2 * n_scores
    assert res.provenance["usage"]["llm_calls"] == n_scores
    assert res.provenance["stage_keys"]["summarize"] != res.provenance["stage_keys"]["score"]


def test_yesno_scores_without_summaries_one_request_per_window(tmp_path, ped2_01, smollm, encoder):
    """The fast profile's shape (no summary) with yes/no scoring: one next-token request per
    distinct centre caption, scores are probabilities, and a re-run is identical and free."""
    cfg = Config(**{**SMALL, "summarize": False, "score_mode": "yesno"})
    store = Store(tmp_path / "y.sqlite")
    res = Runner(cfg, store=store, llm=smollm, encoder=encoder, progress=False).run(ped2_01)
    distinct = {w.summary for w in res.windows}
    assert store.count("summary") == 0 and store.count("score.yesno") == len(distinct)
    assert all(w.summary == ped2_01.captions.per_frame[w.centre_frame] for w in res.windows)
    assert all(0 <= w.raw_score <= 1 for w in res.windows)
    again = Runner(cfg, store=store, progress=False).run(ped2_01)
    assert again.provenance["usage"]["llm_calls"] == 0 and again.scores == res.scores


def test_unparsable_generate_replies_give_clear_error(tmp_path, ped2_01, smollm, encoder):
    cfg = Config(
        **SMALL,
        score_mode="generate",
        score_max_tokens=3,
        prompts=Prompts(format="Answer with one lowercase English word, no digits."),
    )
    with pytest.raises(LLMError, match="could be parsed"):
        Runner(
            cfg, store=Store(tmp_path / "c.sqlite"), llm=smollm, encoder=encoder, progress=False
        ).run(ped2_01)


def test_kill_and_resume_loses_no_finished_window(tmp_path, smollm, encoder):
    captions = need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt")
    cache = tmp_path / "cache"
    env = {**os.environ, "LANGVAD_CACHE": str(cache)}
    cmd = [
        sys.executable,
        "-m",
        "langvad.cli",
        "detect",
        str(captions),
        "--preset",
        "ped2",
        "--llm",
        "smollm2-135m-instruct",
        "--window-seconds",
        "2",
        "--window-frames",
        "4",
        "--stride",
        "30",
        "--summary",
        "--no-explain",
        "--out",
        str(tmp_path / "out"),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = cache / "artefacts.sqlite"
    done = 0
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    done = con.execute(
                        "SELECT COUNT(*) FROM calls WHERE kind='summary'"
                    ).fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 2:
                break
        time.sleep(0.1)
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    store = Store(db)
    kept = store.count("summary")
    assert kept >= 2
    from langvad.config import preset_config

    cfg = preset_config(
        "ped2",
        llm="smollm2-135m-instruct",
        window_seconds=2.0,
        window_frames=4,
        stride=30,
        summarize=True,
        explain=False,
    )
    src = open_source(captions, fps=cfg.caption_fps)
    resumed = Runner(cfg, store=store, llm=smollm, encoder=encoder, progress=False).run(src)
    u = resumed.provenance["usage"]
    assert u["cache_hits"] >= kept  # every finished summary was reused
    fresh = Runner(
        cfg, store=Store(tmp_path / "fresh.sqlite"), llm=smollm, encoder=encoder, progress=False
    ).run(src)
    assert u["llm_calls"] == fresh.provenance["usage"]["llm_calls"] - kept
    assert resumed.scores == fresh.scores


def test_other_captions_for_the_same_video_are_not_served_from_cache(tmp_path, smollm, encoder):
    from conftest import CLIPS, DATA

    clip = need_shared(CLIPS / "Fighting033_x264_570_841.mp4")
    original = DATA / "fighting033_captions.jsonl"
    edited = tmp_path / "edited.jsonl"
    edited.write_text(original.read_text().replace("a man in a hoodie", "a woman in a red coat"))
    cfg = Config(**{**SMALL, "stride": 90, "window_seconds": 4.0})
    store = Store(tmp_path / "d.sqlite")
    a = Runner(cfg, store=store, llm=smollm, encoder=encoder, progress=False)
    ra = a.run(open_source(clip, original))
    b = Runner(cfg, store=store, llm=smollm, encoder=encoder, progress=False)
    rb = b.run(open_source(clip, edited))
    assert a.stage_keys["clean"] != b.stage_keys["clean"]
    assert "a woman in a red coat" in rb.windows[0].captions[0]
    assert "a man in a hoodie" in ra.windows[0].captions[0]


def test_no_summary_scores_the_centre_or_the_nearest_captioned_sample(tmp_path):
    """Without summaries a window is scored on its centre's caption; a captions file with no
    caption at the centre falls back to the window's sample nearest to it (no error)."""
    caps = tmp_path / "c.jsonl"
    caps.write_text("\n".join(f'{{"frame": {f}, "caption": "frame {f}"}}' for f in (0, 30, 60)))
    src = open_source(caps, fps=30)
    assert scored_frame(src, 30, [0, 30, 60]) == 30
    assert scored_frame(src, 45, [30, 60]) == 30  # tie: the earlier sample
    assert scored_frame(src, 50, [30, 60]) == 60
    assert scored_frame(src, 0, [30, 60]) == 0  # the file has the centre


def test_zero_shot_blend_reuses_llm_scores_and_mixes_exactly(tmp_path, ped2_01, smollm, encoder):
    """w = 0.5: each window's score is the mean of its LLM score and the text encoder's
    zero-shot score of the same text; the LLM is not asked again (same score stage)."""
    import numpy as np

    from langvad.stages.baselines import ANOMALY_PROMPT, NORMAL_PROMPT, zero_shot_scores

    store = Store(tmp_path / "z.sqlite")
    base = Config(**SMALL, refine=False, explain=False)  # explanations follow the segments
    plain = Runner(base, store=store, llm=smollm, encoder=encoder, progress=False).run(ped2_01)
    blended_cfg = base.model_copy(update={"zero_shot_weight": 0.5})
    r = Runner(blended_cfg, store=store, llm=smollm, encoder=encoder, progress=False)
    blended = r.run(ped2_01)
    assert blended.provenance["usage"]["llm_calls"] == 0
    texts = [w.summary for w in plain.windows]
    p = encoder.embed_texts([NORMAL_PROMPT, ANOMALY_PROMPT])
    zs = zero_shot_scores(encoder.embed_texts(texts), p[0], p[1])
    llm = np.array([w.score for w in plain.windows])
    got = np.array([w.score for w in blended.windows])
    np.testing.assert_allclose(got, 0.5 * llm + 0.5 * zs, atol=1e-6)
    np.testing.assert_allclose([w.zero_shot_score for w in blended.windows], zs, atol=1e-6)
    assert [w.raw_score for w in blended.windows] == [w.raw_score for w in plain.windows]
    assert all(w.zero_shot_score is None for w in plain.windows)
    assert not np.allclose(got, llm)  # the blend changed the scores


def test_scores_are_written_before_the_explanations(tmp_path, ped2_01, smollm, encoder):
    """The run folder is usable (scores, segments, report) before the LLM explains: the early
    write is the final one but for the explanations."""
    from langvad.cli.outputs import EarlyWriter

    cfg = Config(
        **SMALL,
        prompts=PRESET_PROMPTS["ped2"],
        score_mode="keywords",  # scores without the LLM: the LLM only explains
        explain=True,
        segmentation="threshold",
        threshold=0.0,
        min_segment_seconds=0.0,
    )
    runner = Runner(cfg, store=Store(tmp_path / "c.sqlite"), llm=smollm, encoder=encoder)
    runner.progress = False
    writer = EarlyWriter(tmp_path / "run", report=True, quiet=True)
    seen: list[dict] = []

    def on_scored(result) -> None:
        seen.append(result.model_dump())
        writer(result)
        on_disk = (tmp_path / "run" / "result.json").read_text()
        assert '"explanations": "pending"' in on_disk
        assert "being written" in (tmp_path / "run" / "report.html").read_text()

    final = runner.run(ped2_01, on_scored)
    assert len(seen) == 1
    early = seen[0]
    assert early["segments"] and all(s["explanation"] is None for s in early["segments"])
    assert early["scores"] == final.scores
    assert [(s["start_frame"], s["end_frame"]) for s in early["segments"]] == [
        (s.start_frame, s.end_frame) for s in final.segments
    ]
    assert "explanations" not in final.provenance
    explained = sum(s.explanation is not None for s in final.segments)
    assert explained + final.provenance["unexplained_segments"] == len(final.segments)
    assert explained > 0
