"""Reliability of the input loaders: bounds (huge captions, huge frame numbers, huge files),
silent wrong inputs (null captions, duplicate frames, byte-order marks, unknown or
non-finite config values), and fuzzing: any bytes in -> a result or one InputError."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langvad import captions as captions_mod
from langvad.captions import MAX_CAPTION_CHARS, MAX_FRAMES, Captions, load_captions
from langvad.config import Config, Prompts, load_config, preset_config
from langvad.errors import InputError
from langvad.eval import load_dataset, load_frame_labels
from langvad.eval.datasets import (
    load_clips,
    load_xd,
    parse_ubnormal_tracks,
    parse_ucf_annotations,
    parse_ucsd_m,
    parse_xd_annotations,
)
from langvad.eval.datasets.shanghaitech import read_npy_labels
from langvad.eval.datasets.text_bench import read_label_csv

BOM = "\ufeff"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def raises_input_error(fn, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as e:
        fn(*args, **kwargs)
    return e.value


# ---------------------------------------------------------------------------------------------
# 5. Bounds
# ---------------------------------------------------------------------------------------------


def test_50mb_caption_line_is_cut_quickly_with_a_warning(tmp_path: Path) -> None:
    p = write(tmp_path / "caps.txt", "a short one\n" + "word " * 10_000_000 + "\nthe end\n")
    t0 = time.perf_counter()
    caps = load_captions(p)
    assert time.perf_counter() - t0 < 20
    assert caps.per_frame[0] == "a short one" and caps.per_frame[2] == "the end"
    assert len(caps.per_frame[1] or "") <= MAX_CAPTION_CHARS
    (warning,) = caps.warnings
    assert "caps.txt" in warning and f"{MAX_CAPTION_CHARS:,}" in warning and "frame 1" in warning


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_long_caption_is_cut_in_jsonl_and_csv(tmp_path: Path, fmt: str) -> None:
    long = "x" * 3_000_000  # also over the csv module's default 128 KiB field limit
    if fmt == "jsonl":
        text = json.dumps({"frame": 0, "caption": long}) + "\n"
    else:
        text = f"frame,caption\n0,{long}\n"
    caps = load_captions(write(tmp_path / f"c.{fmt}", text))
    assert caps.per_frame == ("x" * MAX_CAPTION_CHARS,) and len(caps.warnings) == 1


def test_short_captions_give_no_warning(tmp_path: Path) -> None:
    caps = load_captions(write(tmp_path / "c.txt", "a\nb\n"))
    assert caps.warnings == () and isinstance(caps, Captions)


@pytest.mark.parametrize("frame", [10**12, MAX_FRAMES, 10**400])
def test_huge_frame_number_in_jsonl_is_refused_before_allocating(tmp_path: Path, frame) -> None:
    text = f'{{"frame": 0, "caption": "a"}}\n{{"frame": {frame}, "caption": "b"}}\n'
    p = write(tmp_path / "c.jsonl", text)
    err = raises_input_error(load_captions, p)
    assert "c.jsonl, line 2" in str(err) and str(frame)[:20] in str(err)
    assert "limit" in str(err)


def test_huge_frame_number_in_csv_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path / "c.csv", "frame,caption\n0,a\n1000000000000,b\n")
    err = raises_input_error(load_captions, p)
    assert "c.csv, row 3" in str(err) and "1000000000000" in str(err)


def test_frame_past_the_videos_end_is_refused_when_n_frames_is_known(tmp_path: Path) -> None:
    p = write(
        tmp_path / "c.jsonl", '{"frame": 0, "caption": "a"}\n{"frame": 271, "caption": "b"}\n'
    )
    err = raises_input_error(load_captions, p, n_frames=271)
    assert "c.jsonl, line 2" in str(err) and "271 frames" in str(err)
    assert load_captions(p, n_frames=272).per_frame[271] == "b"


def test_more_line_order_captions_than_frames_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path / "c.txt", "x\n" * 11)
    err = raises_input_error(load_captions, p, n_frames=10)
    assert "c.txt" in str(err) and "11 captions" in str(err) and "10 frames" in str(err)
    assert len(load_captions(p, n_frames=11)) == 11


def test_captions_file_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import langvad.userfiles

    monkeypatch.setattr(langvad.userfiles, "MAX_FILE_BYTES", 1_000)
    p = write(tmp_path / "big.txt", "caption\n" * 200)
    err = raises_input_error(load_captions, p)
    assert "big.txt" in str(err) and "1,600 bytes" in str(err) and "limit" in str(err)


def test_too_many_lines_are_refused_before_splitting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(captions_mod, "MAX_FRAMES", 100)
    err = raises_input_error(load_captions, write(tmp_path / "c.txt", "a\n" * 500))
    assert "c.txt" in str(err) and "more than 101 lines" in str(err)


# ---------------------------------------------------------------------------------------------
# 6. Silent wrong inputs: captions
# ---------------------------------------------------------------------------------------------


def test_null_caption_is_no_caption(tmp_path: Path) -> None:
    p = write(tmp_path / "c.jsonl", '{"frame": 0, "caption": null}\n{"frame": 1, "caption": "x"}\n')
    assert load_captions(p).per_frame == (None, "x")


@pytest.mark.parametrize("value", ["5", "1.5", '{"a": 1}', '["a"]', "true"])
def test_non_string_caption_is_refused(tmp_path: Path, value: str) -> None:
    p = write(tmp_path / "c.jsonl", f'{{"caption": "ok"}}\n{{"caption": {value}}}\n')
    err = raises_input_error(load_captions, p)
    assert "c.jsonl, line 2" in str(err) and "expected a string" in str(err)


def test_duplicate_frame_in_jsonl_is_refused(tmp_path: Path) -> None:
    lines = ['{"frame": 0, "caption": "a"}', '{"frame": 3, "caption": "b"}']
    p = write(tmp_path / "c.jsonl", "\n".join([*lines, '{"frame": 3, "caption": "c"}']))
    err = raises_input_error(load_captions, p)
    assert "frame 3 is given twice (line 2 and line 3)" in str(err) and "c.jsonl" in str(err)


def test_duplicate_frame_in_csv_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path / "c.csv", "frame,caption\n1,a\n0,b\n1,c\n")
    err = raises_input_error(load_captions, p)
    assert "frame 1 is given twice (row 2 and row 4)" in str(err) and "c.csv" in str(err)


def test_csv_with_bom_keeps_its_frame_column(tmp_path: Path) -> None:
    p = write(tmp_path / "c.csv", BOM + "frame,caption\n1,b\n0,a\n")
    assert load_captions(p).per_frame == ("a", "b")


def test_jsonl_with_bom_is_read(tmp_path: Path) -> None:
    p = write(tmp_path / "c.jsonl", BOM + '{"frame": 0, "caption": "a"}\n')
    assert load_captions(p).per_frame == ("a",)


def test_txt_with_bom_has_a_clean_first_caption(tmp_path: Path) -> None:
    assert load_captions(write(tmp_path / "c.txt", BOM + "a cat\nb\n")).per_frame == ("a cat", "b")


def test_unicode_line_separator_stays_inside_a_caption(tmp_path: Path) -> None:
    p = write(tmp_path / "c.txt", "a\u2028b\x0cc\nd\n")
    assert load_captions(p).per_frame == ("a\u2028b\x0cc", "d")


def test_frame_numbers_python_would_quietly_accept_are_refused(tmp_path: Path) -> None:
    for cell in ("1_000", "\uff13", "2.0"):
        p = write(tmp_path / "c.csv", f"frame,caption\n{cell},a\n")
        assert "is not an integer" in str(raises_input_error(load_captions, p))


# ---------------------------------------------------------------------------------------------
# 6. Silent wrong inputs: config
# ---------------------------------------------------------------------------------------------


def test_unknown_key_in_prompts_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path / "c.json", json.dumps({"prompts": {"summary": "x", "sumary": "y"}}))
    err = raises_input_error(load_config, p)
    assert "c.json" in str(err) and "prompts.'sumary'" in str(err) and "summary" in err.hint


def test_unknown_top_level_key_is_refused_with_the_valid_keys(tmp_path: Path) -> None:
    err = raises_input_error(load_config, write(tmp_path / "c.json", '{"windw_seconds": 4}'))
    assert "c.json" in str(err) and "'windw_seconds'" in str(err)
    assert "window_seconds" in err.hint


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_window_seconds_is_refused(value: float) -> None:
    err = raises_input_error(preset_config, "ucf", window_seconds=value)
    assert "window_seconds" in str(err) and "finite" in str(err)


@pytest.mark.parametrize(
    "text",
    ['{"threshold": NaN}', '{"fusion_weights": {"fall": Infinity}}', '{"centre_fps": Infinity}'],
)
def test_non_finite_numbers_in_a_config_file_are_refused(tmp_path: Path, text: str) -> None:
    err = raises_input_error(load_config, write(tmp_path / "c.json", text))
    assert "c.json" in str(err) and "finite" in str(err)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"[1, 2]", "a JSON array"),
        (b'"fast"', "a string"),
        (b'{"prompts": "x"}', "'prompts' is a string"),
        (b'{"preset": ["ucf"]}', "'preset'"),
        (b'{"profile": {}}', "'profile'"),
        (b'{"summary": "\xff\xfe"}', "not UTF-8"),
        (b'{"stride": 1' + b"1" * 5000 + b"}", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_config_is_one_input_error_naming_the_file(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    err = raises_input_error(load_config, write(tmp_path / "c.json", content))
    assert "c.json" in str(err) and needle in str(err)


def test_config_with_bom_is_read(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "c.json", BOM + '{"refine_k": 3}')).refine_k == 3


def test_bad_command_line_value_is_not_blamed_on_the_config_file(tmp_path: Path) -> None:
    err = raises_input_error(load_config, write(tmp_path / "c.json", "{}"), stride=0)
    assert "c.json" not in str(err) and "stride" in str(err)


# ---------------------------------------------------------------------------------------------
# 6. Silent wrong inputs: labels and annotation files
# ---------------------------------------------------------------------------------------------


def test_labels_csv_with_bom_keeps_its_header(tmp_path: Path) -> None:
    p = write(tmp_path / "l.csv", BOM + "label,image_path\n0,a/000.jpg\n1,a/001.jpg\n")
    assert load_frame_labels(p).tolist() == [0, 1]
    assert read_label_csv(p).tolist() == [0, 1]


def test_non_utf8_labels_file_is_one_input_error(tmp_path: Path) -> None:
    err = raises_input_error(load_frame_labels, write(tmp_path / "l.txt", b"0\n\xff\n"))
    assert "l.txt" in str(err) and "UTF-8" in str(err)


def test_annotation_file_with_bom_names_the_clean_video(tmp_path: Path) -> None:
    write(tmp_path / "annotations.txt", BOM + "a.mp4  Normal  -1  -1  -1  -1\n")
    err = raises_input_error(load_clips, tmp_path)
    assert str(err).startswith("video a.mp4 (")


def test_non_utf8_annotation_file_is_one_input_error(tmp_path: Path) -> None:
    write(tmp_path / "annotations.txt", b"a.mp4 Normal -1 -1 \xe9\n")
    err = raises_input_error(load_clips, tmp_path)
    assert "annotations.txt" in str(err) and "UTF-8" in str(err)


def test_frame_number_with_thousands_of_digits_is_one_input_error() -> None:
    huge = "9" * 5000
    err = raises_input_error(parse_ucf_annotations, f"a.mp4 Fight 1 {huge}\n", "ann.txt")
    assert "ann.txt, line 1" in str(err) and len(str(err)) < 300
    err = raises_input_error(parse_ucsd_m, f"gt_frame = [1:{huge}];\n", "UCSDped2.m")
    assert "UCSDped2.m, line 1" in str(err)


def test_npz_given_as_npy_labels_is_one_input_error(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(3))
    err = raises_input_error(read_npy_labels, write(tmp_path / "01_0014.npy", buf.getvalue()))
    assert "01_0014.npy" in str(err) and "not a .npy" in str(err)


def test_npy_header_promising_a_huge_array_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    header = {"descr": "|i1", "fortran_order": False, "shape": (10**12,)}
    np.lib.format.write_array_header_1_0(buf, header)
    err = raises_input_error(read_npy_labels, write(tmp_path / "m.npy", buf.getvalue() + b"\0"))
    assert "m.npy" in str(err) and "holds only" in str(err)


def crashing_mat() -> bytes:
    """A .mat whose data element has an out-of-range type code: scipy's reader segfaults."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"gt": np.array([[1.0, 5.0]]).T}, do_compression=False)
    b = bytearray(buf.getvalue())
    for off in range(128, len(b) - 8, 8):
        if struct.unpack_from("<II", b, off) == (9, 16):  # miDOUBLE, 2 values
            struct.pack_into("<I", b, off, 8)
            return bytes(b)
    raise AssertionError("no miDOUBLE element found")


def test_mat_file_that_crashes_scipy_is_one_input_error(tmp_path: Path) -> None:
    frames = tmp_path / "testing" / "frames" / "01"
    frames.mkdir(parents=True)
    for i in range(10):
        (frames / f"{i:03d}.jpg").write_bytes(b"")
    write(tmp_path / "ped2.mat", crashing_mat())
    err = raises_input_error(load_dataset, tmp_path, "ped2")
    assert "ped2.mat" in str(err) and "MATLAB" in str(err)


# ---------------------------------------------------------------------------------------------
# Fuzz: any bytes in -> a result or one InputError, never another exception
# ---------------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FEW = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

frame_like = st.one_of(
    st.integers(-2, 40),
    st.sampled_from([10**7, 10**12, 10**40, -(10**40), True, 2.0, "3", " 4 ", "", "1_0", "-0"]),
    st.sampled_from(["+5", "9" * 5000, 10**4000, None, "٣"]),
)
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    frame_like,
)
json_value = st.recursive(
    json_scalar,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=6,
)
newline = st.sampled_from(["\n", "\r\n", "\r"])
bom = st.sampled_from(["", BOM])


caption_like = st.one_of(st.text(max_size=12), json_scalar, json_value)
row_obj = st.builds(
    lambda frame, caption, extra, drop: {
        **extra,
        **({} if drop == 1 else {"frame": frame}),
        **({} if drop == 2 else {"caption": caption}),
    },
    frame_like,
    caption_like,
    st.dictionaries(
        st.sampled_from(["text", "description"]) | st.text(max_size=5), json_value, max_size=2
    ),
    st.integers(0, 5),
)


@st.composite
def jsonl_text(draw: st.DrawFn) -> str:
    keys = st.sampled_from(["frame", "caption", "text", "description"]) | st.text(max_size=5)
    line = st.one_of(
        row_obj.map(lambda o: json.dumps(o, allow_nan=True)),
        row_obj.map(lambda o: json.dumps(o, allow_nan=True)),
        st.dictionaries(keys, json_value, max_size=4).map(lambda o: json.dumps(o, allow_nan=True)),
        st.text(max_size=20),
        json_value.map(lambda v: json.dumps(v, allow_nan=True)),
    )
    return draw(bom) + draw(newline).join(draw(st.lists(line, max_size=6)))


@st.composite
def csv_text(draw: st.DrawFn) -> str:
    names = st.sampled_from(["frame", "caption", "text", "description", " Caption ", "x"])
    header = draw(
        st.sampled_from([["frame", "caption"], ["caption", "frame"], ["caption"]])
        | st.lists(names | st.text(max_size=5), min_size=1, max_size=4)
    )
    cell = st.one_of(frame_like.map(str), st.text(max_size=12))
    rows = draw(st.lists(st.lists(cell, max_size=len(header) + 1), max_size=6))
    buf = io.StringIO()
    csv.writer(buf, lineterminator=draw(newline)).writerows([header, *rows])
    return draw(bom) + buf.getvalue()


def check_captions(path: Path, n_frames: int | None) -> None:
    try:
        caps = load_captions(path, n_frames=n_frames)
    except InputError as e:
        assert str(path) in str(e) or path.name in str(e)
        return
    assert caps.per_frame and all(c is None or isinstance(c, str) for c in caps.per_frame)
    assert all(c is None or len(c) <= MAX_CAPTION_CHARS for c in caps.per_frame)
    assert n_frames is None or len(caps) <= n_frames


@FUZZ
@given(
    data=st.binary(max_size=300),
    suffix=st.sampled_from([".txt", ".jsonl", ".csv"]),
    n=st.none() | st.integers(0, 30),
)
def test_fuzz_captions_any_bytes(tmp_path: Path, data: bytes, suffix: str, n: int | None) -> None:
    check_captions(write(tmp_path / f"caps{suffix}", data), n)


@FUZZ
@given(text=jsonl_text(), n=st.none() | st.integers(0, 30))
def test_fuzz_captions_near_valid_jsonl(tmp_path: Path, text: str, n: int | None) -> None:
    check_captions(write(tmp_path / "caps.jsonl", text), n)


@FUZZ
@given(text=csv_text(), n=st.none() | st.integers(0, 30))
def test_fuzz_captions_near_valid_csv(tmp_path: Path, text: str, n: int | None) -> None:
    check_captions(write(tmp_path / "caps.csv", text), n)


@FUZZ
@given(lines=st.lists(st.text(max_size=30), max_size=8), nl=newline, b=bom)
def test_fuzz_captions_txt_lines(tmp_path: Path, lines: list[str], nl: str, b: str) -> None:
    check_captions(write(tmp_path / "caps.txt", b + nl.join(lines)), None)


config_keys = st.sampled_from(sorted(Config.model_fields)) | st.text(max_size=6)
prompt_keys = st.sampled_from(sorted(Prompts.model_fields)) | st.text(max_size=6)
config_values = st.one_of(
    json_value,
    st.floats(0.01, 100),
    st.integers(0, 64),
    st.sampled_from(["ucf", "xd", "fast", "lavad", "rules", "choice", "auto"]),
    st.lists(st.sampled_from(["violence", "motion", "fall", "bogus"]), max_size=3),
)


@st.composite
def config_text(draw: st.DrawFn) -> str:
    obj = draw(st.dictionaries(config_keys, config_values, max_size=5))
    if draw(st.booleans()):
        obj["prompts"] = draw(
            st.dictionaries(prompt_keys, st.text(max_size=10) | json_value, max_size=3) | json_value
        )
    value = obj if draw(st.integers(0, 9)) else draw(json_value)
    return draw(bom) + json.dumps(value, allow_nan=True)


def check_config(path: Path) -> None:
    try:
        cfg = load_config(path)
    except InputError as e:
        assert path.name in str(e)
        return
    assert isinstance(cfg, Config)
    json.dumps(cfg.model_dump(), allow_nan=False)  # every number is finite


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_config_any_bytes(tmp_path: Path, data: bytes) -> None:
    check_config(write(tmp_path / "cfg.json", data))


@FUZZ
@given(text=config_text())
def test_fuzz_config_near_valid_json(tmp_path: Path, text: str) -> None:
    check_config(write(tmp_path / "cfg.json", text))


label_cell = st.sampled_from(["0", "1", " 1", "2", "", "x", "0.0", "a/007.jpg", "1" * 40])


@st.composite
def labels_text(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from([["image_path", "label"], ["label"], [], ["x", "y"]]))
    rows = draw(st.lists(st.lists(label_cell | st.text(max_size=6), max_size=3), max_size=6))
    buf = io.StringIO()
    csv.writer(buf, lineterminator=draw(newline)).writerows([header, *rows] if header else rows)
    return draw(bom) + buf.getvalue()


def check_labels(path: Path) -> None:
    for loader in (load_frame_labels, read_label_csv):
        try:
            y = loader(path)
        except InputError as e:
            assert path.name in str(e)
            continue
        assert y.dtype == np.int8 and len(y) and set(y.tolist()) <= {0, 1}


@FUZZ
@given(data=st.binary(max_size=200) | labels_text().map(str.encode))
def test_fuzz_label_files(tmp_path: Path, data: bytes) -> None:
    check_labels(write(tmp_path / "labels.csv", data))


ann_token = st.one_of(
    st.integers(-3, 60).map(str),
    st.sampled_from(["-1", "Normal", "Fighting", "a.mp4", "1e3", "1.0", "9" * 30, "\u0663"]),
    st.text(max_size=6),
)


@st.composite
def annotation_text(draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from([" ", "  ", ",", "\t", ", "]))
    lines = draw(st.lists(st.lists(ann_token, max_size=7).map(sep.join), max_size=5))
    if draw(st.booleans()):
        body = draw(st.lists(ann_token, max_size=4).map(":".join))
        lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{body}];")
    return draw(bom) + draw(newline).join(lines)


PARSERS = (parse_ucf_annotations, parse_xd_annotations, parse_ubnormal_tracks, parse_ucsd_m)


@FUZZ
@given(text=st.text(max_size=200) | annotation_text())
def test_fuzz_annotation_parsers(text: str) -> None:
    for parse in PARSERS:
        try:
            parse(text, "ann.txt")
        except InputError as e:
            assert str(e).startswith("ann.txt")


@FEW
@given(data=st.binary(max_size=200) | annotation_text().map(str.encode))
def test_fuzz_annotation_files(tmp_path: Path, data: bytes) -> None:
    """The file readers of the clips and XD-Violence loaders (no videos in the folder)."""
    write(tmp_path / "annotations.txt", data)
    for loader in (load_clips, load_xd):
        with contextlib.suppress(InputError):
            assert loader(tmp_path) == []


def npy_bytes(descr: str, shape: tuple[int, ...], body: bytes, version: int) -> bytes:
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    h = header.encode("latin1", "replace")
    h += b" " * (-(len(h) + 11) % 64) + b"\n"
    size = len(h).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + h + body


npy_strategy = st.one_of(
    st.binary(max_size=200),
    st.builds(
        npy_bytes,
        st.sampled_from(["|i1", "<f8", "|b1", "O", "<U3", "|V2", "<i8", ">i4"])
        | st.text(max_size=4),
        st.lists(st.integers(-2, 10) | st.sampled_from([10**12, 2**63]), max_size=3).map(tuple),
        st.binary(max_size=64),
        st.sampled_from([1, 2, 3]),
    ),
    st.binary(max_size=100).map(lambda b: b"PK\x03\x04" + b),
)


@FUZZ
@given(data=npy_strategy)
def test_fuzz_npy_labels(tmp_path: Path, data: bytes) -> None:
    try:
        y = read_npy_labels(write(tmp_path / "m.npy", data))
    except InputError as e:
        assert "m.npy" in str(e)
        return
    assert y.ndim == 1 and set(y.tolist()) <= {0, 1}


def good_mat() -> bytes:
    buf = io.BytesIO()
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0] = np.array([[1.0], [5.0]])
    cells[0, 1] = np.array([[2.0], [3.0]])
    scipy.io.savemat(buf, {"gt": cells}, do_compression=False)
    return buf.getvalue()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(patches=st.lists(st.tuples(st.integers(128, 400), st.integers(0, 255)), max_size=4))
def test_fuzz_mat_ground_truth(tmp_path: Path, patches: list[tuple[int, int]]) -> None:
    """A few damaged .mat files (each read in a child process, so few examples)."""
    b = bytearray(good_mat())
    for off, value in patches:
        b[off % len(b)] = value
    from langvad.eval.datasets.ucsd import _mat_ranges

    path = write(tmp_path / "ped2.mat", bytes(b))
    try:
        _mat_ranges(path)
    except InputError as e:
        assert "ped2.mat" in str(e)


def test_bad_command_line_preset_is_not_blamed_on_the_config_file(tmp_path: Path) -> None:
    err = raises_input_error(load_config, write(tmp_path / "c.json", "{}"), preset="nope")
    assert "c.json" not in str(err) and "unknown preset 'nope'" in str(err)
    assert load_config(tmp_path / "c.json", preset="xd").preset == "xd"
    write(tmp_path / "x.json", '{"preset": "xd"}')
    assert load_config(tmp_path / "x.json", preset="ucf").preset == "xd"
