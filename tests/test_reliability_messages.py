"""The messages a new user trips on (issue 29, "Messages"): each names the input, the line or
field, and what to do, in the user's terms (command-line flags, not Python arguments)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, run_cli
from rich.console import Console

from langvad.captions import load_captions
from langvad.cli.batch import Row, print_summary
from langvad.errors import InputError, LangvadError
from langvad.messages import llm_calls_text, speed_text
from langvad.models.assets import damaged_gguf_hint

CAPTIONS = DATA / "fighting033_captions.jsonl"
SRC = Path(__file__).resolve().parents[1] / "src" / "langvad"


def _cli(*args: str, tmp: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli(*args, cache=tmp / "c.sqlite", timeout=timeout, cwd=tmp)


@pytest.mark.parametrize(
    "line, needles",
    [
        ('{"frame": 1, "caption": "b",}', ["line 2, column", "fix line 2", '"frame": 0']),
        ("{'frame': 1, 'caption': 'b'}", ["line 2, column 2", "double quotes"]),
        ('{"frame": 1 "caption": "b"}', ["line 2, column 13", "Expecting ','"]),
    ],
)
def test_bad_json_line_names_line_column_and_the_fix(tmp_path: Path, line, needles) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"frame": 0, "caption": "a"}) + "\n" + line + "\n")
    with pytest.raises(InputError) as e:
        load_captions(p)
    said = f"{e.value.message} {e.value.hint}"
    assert "fix it" not in said
    for n in needles:
        assert n in said, (n, said)


def test_damaged_gguf_hint_names_a_model_only_when_it_is_one() -> None:
    mine = damaged_gguf_hint("evil", "/tmp/evil.gguf")
    assert "--prepare" not in mine and "evil.gguf" in mine and "download it again" in mine
    packaged = damaged_gguf_hint("qwen2.5-coder-1.5b-instruct-q4_k_m", "/m/x.gguf")
    assert "langvad models --prepare qwen2.5-coder-1.5b-instruct-q4_k_m" in packaged


def test_damaged_gguf_file_loaded_for_real(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    from langvad.models import load_llm

    f = tmp_path / "evil.gguf"
    f.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + os.urandom(4096))
    with pytest.raises(LangvadError) as e:
        llm = load_llm(str(f), n_ctx=512)
        llm.chat([{"role": "user", "content": "hi"}], max_tokens=2)
    assert "--prepare evil" not in (e.value.hint or "")


def test_no_python_argument_in_dataset_hints() -> None:
    for f in (SRC / "eval" / "datasets").glob("*.py"):
        assert "pass limit=" not in f.read_text(), f


def test_shard_is_blamed_before_captions(tmp_path: Path) -> None:
    r = _cli("detect", str(CAPTIONS), "--shard", "5/2", "--captions", str(CAPTIONS), tmp=tmp_path)
    said = " ".join(r.stderr.split())
    assert r.returncode == 2 and "--shard 5/2" in said and "--captions" not in said.split(":")[1]


def test_batch_summary_keeps_whole_names() -> None:
    name = "Fighting033_x264_570_841.mp4"
    buf = io.StringIO()
    console = Console(file=buf, width=100)
    print_summary(
        [Row(input=f"/clips/{name}", run_folder=f"/out/{name[:-4]}", frames=271)], console
    )
    text = buf.getvalue()
    flat = "".join(line.strip("│ ") for line in text.splitlines())
    assert "…" not in text and "Fighting033" in text
    assert "x264" in flat and "841" in flat


def test_cached_rerun_and_speed_wording() -> None:
    assert "cache" in llm_calls_text(0, 0) and "(cache hits 0)" not in llm_calls_text(0, 0)
    assert llm_calls_text(5, 2) == "LLM calls 5 (cache hits 2)"
    assert speed_text(16.5) == "16.5× real time" and "factor" not in speed_text(16.5)


@pytest.mark.parametrize("pad", [40, 57, 63, 90])
def test_an_error_never_breaks_a_path_in_two(tmp_path: Path, pad: int) -> None:
    """rich folded error lines at 80 columns, inside a long path ("corrupt.\\nmp4"): the
    message must hold the path whole whatever its length (the terminal folds lines itself)."""
    folder = tmp_path / ("d" * pad)
    folder.mkdir()
    bad = folder / "corrupt.mp4"
    bad.write_bytes(b"\x00not a video" * 64)
    env = {**os.environ, "COLUMNS": "80"}
    r = subprocess.run(
        [sys.executable, "-m", "langvad.cli", "detect", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(bad) in r.stderr, r.stderr
