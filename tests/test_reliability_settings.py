"""Reliability, round two (issue 29): bounded settings, inputs checked before any model loads,
and the messages a new user trips on. Each case is a bad input that used to hang, pass
silently or fail late; now it is one clear error naming the input and what to do."""

from __future__ import annotations

import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from conftest import CLIPS, DATA, need_shared, one_clear_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from langvad.captions import frame_list, load_captions
from langvad.cli.induce import default_rules_path
from langvad.config import Config, load_config, preset_config
from langvad.errors import InputError, VideoError
from langvad.preflight import MAX_CONTEXT_CHARS, check_captioner, check_context
from langvad.rules import parse_rules
from langvad.stages.induce import induce_rules
from langvad.video import probe

FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
CAPTIONS = DATA / "fighting033_captions.jsonl"


def langvad(*args: str, cache_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_cli(*args, cache=cache_dir / "cache.sqlite", timeout=timeout, cwd=cache_dir)


# ---------------------------------------------------------------------------------------------
# silent wrong settings: every weight, floor, count and size is bounded; the range is said
# ---------------------------------------------------------------------------------------------

BOUNDED = {  # field -> a value past its bound on each side that has one
    "stride": (0, 100_001),
    "window_frames": (0, 100_000_000),
    "window_seconds": (0, 1e9),
    "refine_k": (0, 10**6),
    "refine_temperature": (0, 1e9),
    "judge_centre": (-1e300, 1e300),
    "judge_temperature": (0, 1e6),
    "evidence_floor": (-0.1, 1.0),
    "fact_floor": (-1, 2),
    "llm_weight": (-1, 2),
    "zero_shot_weight": (-0.5, 1.5),
    "caption_batch": (0, 10**6),
    "caption_max_side": (1, 10**6),
    "n_ctx": (1, 10**9),
    "seed": (-1, 2**40),
    "explain_max_tokens": (1, 10**9),
    "min_segment_seconds": (-1, 1e9),
    "expert_every_seconds": (0, 1e9),
    "judge_llm_per_minute": (-1, 1e9),
}


@pytest.mark.parametrize("field", sorted(BOUNDED))
def test_out_of_range_setting_names_the_field_and_its_range(field: str) -> None:
    for value in BOUNDED[field]:
        with pytest.raises(InputError) as e:
            preset_config("ucf", **{field: value})
        msg = e.value.message
        assert f"{field}: must be" in msg and ("between" in msg or "at " in msg), msg


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["violence", "fall", "person_down", "sudden_motion", "fire"]),
        st.floats(allow_nan=False, allow_infinity=False),
        min_size=1,
    )
)
def test_fusion_weights_are_probabilities(weights: dict[str, float]) -> None:
    ok = all(0 <= w <= 1 for w in weights.values())
    if ok:
        assert preset_config("ucf", fusion_weights=weights).fusion_weights == weights
    else:
        with pytest.raises(InputError, match="must be between 0 and 1"):
            preset_config("ucf", fusion_weights=weights)


@pytest.mark.parametrize(
    "weights, needle",
    [
        ({"violence": 5, "bogus": -1}, "'violence' must be between 0 and 1 (got 5"),
        ({"bogus": 0.5}, "unknown event class 'bogus' (known: "),
        ({"violence": -3}, "'violence' must be between 0 and 1 (got -3"),
    ],
)
def test_fusion_weights_from_a_config_file(tmp_path: Path, weights, needle) -> None:
    import json

    f = tmp_path / "c.json"
    f.write_text(json.dumps({"fusion_weights": weights}))
    with pytest.raises(InputError) as e:
        load_config(f)
    assert "c.json" in e.value.message and needle in e.value.message


def test_defaults_are_inside_their_bounds() -> None:
    Config()
    for preset in ("ucf", "xd", "ped2"):
        for profile in ("fast", "lavad"):
            preset_config(preset, profile)


@pytest.mark.parametrize("how", ["flag", "config"])
def test_huge_window_frames_fails_at_once(tmp_path: Path, how: str) -> None:
    clip = need_shared(FIGHT)
    if how == "flag":
        extra = ["--window-frames", "100000000"]
    else:
        (tmp_path / "c.json").write_text('{"window_frames": 100000000, "stride": 1}')
        extra = ["--config", str(tmp_path / "c.json")]
    t0 = time.perf_counter()
    r = langvad("detect", str(clip), "--captions", str(CAPTIONS), "-q", *extra, cache_dir=tmp_path)
    one_clear_error(r, "window_frames: must be between 1 and 1000 (got 100000000)")
    assert time.perf_counter() - t0 < 60


# ---------------------------------------------------------------------------------------------
# induce: counts bounded, rules.md not written into the current folder by surprise
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6))
def test_induce_counts_are_bounded(max_normal: int, n_abnormal: int) -> None:
    calls: list[int] = []

    def chat(_messages, _max_tokens) -> str:
        calls.append(1)
        return "- a person climbing the fence"

    import numpy as np

    def embed(texts):
        return np.eye(max(len(texts), 1), 8, dtype=np.float32)[: len(texts)]

    if 0 <= max_normal <= 100 and 1 <= n_abnormal <= 100:
        return  # valid counts: covered by the induce tests with real models
    with pytest.raises(InputError, match="between"):
        induce_rules(
            ["a man walks"], embed=embed, chat=chat, max_normal=max_normal, n_abnormal=n_abnormal
        )
    assert not calls  # refused before the LLM is asked


@pytest.mark.parametrize(
    "flag, value", [("--max-normal", "-1"), ("--n-abnormal", "100000"), ("--n-abnormal", "0")]
)
def test_induce_cli_refuses_bad_counts_before_loading(tmp_path: Path, flag, value) -> None:
    r = langvad("induce", str(CAPTIONS), flag, value, cache_dir=tmp_path, timeout=120)
    one_clear_error(r, f"{flag} {value}: must be between")
    assert not (tmp_path / "rules.md").exists()


def test_induce_default_out_is_beside_the_input_not_the_cwd(tmp_path: Path) -> None:
    assert default_rules_path(Path("/data/cam1/normal.mp4")) == Path("/data/cam1/normal.rules.md")
    folder = tmp_path / "frames"
    folder.mkdir()
    assert default_rules_path(folder) == tmp_path / "frames.rules.md"


# ---------------------------------------------------------------------------------------------
# rules files: contradictions and unknown headings are refused
# ---------------------------------------------------------------------------------------------


def test_rules_with_a_phrase_in_both_lists_is_refused() -> None:
    text = "# Normal\n- people walking\n\n# Abnormal\n- People Walking\n- a fight\n"
    with pytest.raises(InputError) as e:
        parse_rules(text, source="rules file r.md")
    assert "r.md" in e.value.message and "under both" in e.value.message
    assert "People Walking" in e.value.message


@pytest.mark.parametrize("heading", ["# Bogus", "## Abnormall", "# Normal events"])
def test_rules_items_under_an_unknown_heading_are_refused(heading: str) -> None:
    text = f"# Abnormal\n- a fight\n\n{heading}\n- a person climbing\n"
    with pytest.raises(InputError) as e:
        parse_rules(text, source="rules file r.md")
    assert "r.md, line 5" in e.value.message and heading.lstrip("# ") in e.value.message
    assert "# Scene, # Normal, # Abnormal" in e.value.message


def test_notes_under_another_heading_are_still_ignored() -> None:
    rules = parse_rules("# Camera 3 notes\nfree text\n\n# Abnormal\n- a fight\n")
    assert rules.abnormal == ("a fight",)


# ---------------------------------------------------------------------------------------------
# captions: unknown extension, a folder given as captions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["caps.xml", "caps.json", "caps"])
def test_unknown_captions_extension_is_refused(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_text("<captions><c>a man walks</c></captions>\n")
    with pytest.raises(InputError) as e:
        load_captions(p)
    assert name in e.value.message and "unknown format" in e.value.message
    assert ".txt" in (e.value.hint or "") and ".jsonl" in (e.value.hint or "")


def test_folder_as_captions_says_folder(tmp_path: Path) -> None:
    d = tmp_path / "caps.jsonl"
    d.mkdir()
    with pytest.raises(InputError) as e:
        load_captions(d)
    assert "is a folder, not a file" in e.value.message


# ---------------------------------------------------------------------------------------------
# frame folders: a decompression bomb is a clear error, not a PIL traceback
# ---------------------------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(100_000, 100_000), (20_000, 5_000), (65_535, 65_535)])
@pytest.mark.parametrize("first", [True, False])
def test_frame_image_claiming_huge_size_is_refused(tmp_path: Path, size, first: bool) -> None:
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    good = folder / ("frame_0002.png" if first else "frame_0001.png")
    Image.new("RGB", (32, 24)).save(good)
    bomb = folder / ("frame_0001.png" if first else "frame_0002.png")
    bomb.write_bytes(_png_claiming(*size))
    with pytest.raises(VideoError) as e:
        probe(folder)
    assert bomb.name in e.value.message and "over the limit" in e.value.message


def test_bomb_in_a_frame_folder_is_exit_2_without_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_0001.png").write_bytes(_png_claiming(100_000, 100_000))
    r = langvad("detect", str(folder), "-q", cache_dir=tmp_path, timeout=120)
    one_clear_error(r, "claims 10,000,000,000 pixels", "over the limit", "frame_0001")


# ---------------------------------------------------------------------------------------------
# late errors: checked before any model loads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value, needle",
    [
        ("--encoder", "bogus", "unknown text encoder 'bogus' (--encoder)"),
        ("--captioner", "nosuch", "unknown captioner 'nosuch' (--captioner)"),
        ("--context", "x" * 100_000, "--context is 100,000 characters long"),
    ],
)
def test_bad_model_spec_or_context_fails_before_models_load(
    tmp_path: Path, flag, value, needle
) -> None:
    clip = need_shared(FIGHT)
    t0 = time.perf_counter()
    r = langvad("detect", str(clip), "-q", flag, value, cache_dir=tmp_path)
    one_clear_error(r, needle)
    assert time.perf_counter() - t0 < 60  # the pose models alone take longer on 2 cores


def test_wrong_labels_fail_before_models_load(tmp_path: Path) -> None:
    clip = need_shared(FIGHT)
    labels = tmp_path / "labels.txt"
    labels.write_text("0\n" * 10)
    t0 = time.perf_counter()
    r = langvad(
        "detect",
        str(clip),
        "-q",
        "--captions",
        str(CAPTIONS),
        "--labels",
        str(labels),
        cache_dir=tmp_path,
    )
    one_clear_error(r, "labels.txt has 10 labels", "271 frames")
    assert time.perf_counter() - t0 < 60


def test_sparse_captions_off_the_windows_say_which_frames_are_needed(tmp_path: Path) -> None:
    clip = need_shared(FIGHT)
    t0 = time.perf_counter()
    r = langvad(
        "detect",
        str(clip),
        "-q",
        "--captions",
        str(CAPTIONS),
        "--window-frames",
        "20",
        cache_dir=tmp_path,
    )
    said = one_clear_error(
        r, "fighting033_captions.jsonl has no caption for", "needs captions on frames"
    )
    assert "missing 15, 45" in said  # 20 frames over 10 s: every half second
    assert "give a caption on each frame listed" in said
    assert time.perf_counter() - t0 < 60


def test_context_and_captioner_checks() -> None:
    assert check_context("  a shop  ") == "a shop"
    with pytest.raises(InputError, match=f"at most {MAX_CONTEXT_CHARS:,}"):
        check_context("y" * (MAX_CONTEXT_CHARS + 1))
    for ok in (
        "describer",
        "describer:seed=1",
        "hf:blip2-opt-2.7b",
        "openai-vlm:m@http://h",
        "ensemble:describer,hf:x",
    ):
        check_captioner(ok)
    for bad in ("nosuch", "ensemble:describer,nosuch", "foo:bar"):
        with pytest.raises(InputError, match="--captioner"):
            check_captioner(bad)
    assert frame_list([0, 30, 60]) == "0, 30, 60"
    assert frame_list(list(range(0, 300, 3))) == "0, 3, 6, 9, 12, 15, 18, … 297 (100 frames)"


# ---------------------------------------------------------------------------------------------
# a damaged .mp4
# ---------------------------------------------------------------------------------------------


def test_damaged_mp4_says_damaged(tmp_path: Path) -> None:
    clip = need_shared(FIGHT)
    data = bytearray(clip.read_bytes())
    bad = tmp_path / "damaged.mp4"
    # keep the container's header, zero its track box: no readable video stream
    i = data.find(b"trak")
    assert i > 0
    data[i : i + 4] = b"free"
    bad.write_bytes(bytes(data))
    with pytest.raises(VideoError) as e:
        probe(bad)
    msg = e.value.message
    assert "damaged.mp4" in msg and "damaged" in msg.replace("damaged.mp4", "")


# ---------------------------------------------------------------------------------------------
# help and usage
# ---------------------------------------------------------------------------------------------


def test_usage_help_and_markup(tmp_path: Path) -> None:
    r = langvad("detect", cache_dir=tmp_path, timeout=60)
    assert "detect [OPTIONS] INPUTS..." in r.stderr and "{" not in r.stderr.splitlines()[0]
    r = langvad("detect", "--help", cache_dir=tmp_path, timeout=60)
    assert "'langvad[ray]'" in r.stdout  # not eaten as rich markup
    r = langvad("--help", cache_dir=tmp_path, timeout=60)
    listing = " ".join(r.stdout.split())
    # a docstring's line breaks no longer cut the command list mid-sentence
    assert "write them as an editable Markdown file" in listing.replace("│ ", "")


def test_eval_checks_every_variant_before_any_model_loads(monkeypatch, tmp_path: Path) -> None:
    """A bad captioner in the config is refused before the first video is decided (an eval
    runs for hours; it must not fail after the first variant's models have loaded)."""
    from langvad.engine.runner import Runner
    from langvad.eval.datasets import load_dataset
    from langvad.eval.harness import run_eval
    from langvad.eval.variants import select_variants
    from langvad.store import Store

    items = load_dataset(need_shared(CLIPS), "clips", limit=1)

    def decide(*_a, **_k):
        raise AssertionError("a video was decided (models loaded) before the checks")

    monkeypatch.setattr(Runner, "decide", decide)
    base = preset_config("ucf", captioner="nosuch")
    with pytest.raises(InputError, match="unknown captioner 'nosuch'"):
        run_eval("clips", items, base, select_variants(None), store=Store(tmp_path / "c.sqlite"))
