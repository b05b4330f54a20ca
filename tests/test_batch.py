"""``langvad detect`` over many inputs: one run folder each, a summary table, failed inputs
that do not stop the others, shards that add up to the whole, and the single-input layout
kept as it was. Real Ped2 text-bench captions, keywords mode (no LLM)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import TEXT_BENCH, need_shared
from hypothesis import given
from hypothesis import strategies as st
from test_cli import langvad

from langvad.cli.batch import (
    expand_inputs,
    is_batch,
    parse_shard,
    run_folders,
    select_shard,
)
from langvad.errors import InputError

FAST = ["--preset", "ped2", "--score-mode", "keywords", "--no-explain", "--no-report", "-q"]


def captions_folder(tmp_path: Path, n: int = 3, name: str = "inputs") -> Path:
    """A folder with the first ``n`` Ped2 caption files (test_01.txt …)."""
    src = need_shared(TEXT_BENCH / "ped2" / "descriptions")
    folder = tmp_path / name
    folder.mkdir()
    for k in range(1, n + 1):
        shutil.copy(src / f"test_{k:02d}.txt", folder)
    return folder


def flat(text: str) -> str:
    """``text`` with its line breaks undone (rich wraps long lines at 80 columns)."""
    return " ".join(text.split())


def summary(out: Path, stem: str = "summary") -> list[dict[str, str]]:
    with open(out / f"{stem}.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_wall(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


def scores(run_dir: Path) -> list[float]:
    return json.loads((run_dir / "result.json").read_text())["scores"]


def test_folder_of_inputs_one_run_each_and_a_summary(tmp_path: Path) -> None:
    from langvad.serve import list_runs

    folder = captions_folder(tmp_path)
    out = tmp_path / "runs"
    r = langvad("detect", str(folder), "--out", str(out), *FAST, cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    for k in (1, 2, 3):
        res = json.loads((out / f"test_{k:02d}" / "result.json").read_text())
        assert res["fps"] == 10.0 and len(res["scores"]) == res["n_frames"] > 0
    rows = summary(out)
    assert [Path(r["input"]).name for r in rows] == ["test_01.txt", "test_02.txt", "test_03.txt"]
    assert {r["status"] for r in rows} == {"ok"}
    assert rows[0]["frames"] == "180" and float(rows[0]["duration"]) == pytest.approx(18.0)
    doc = json.loads((out / "summary.json").read_text())
    assert doc["inputs"] == 3 and doc["ok"] == 3 and doc["failed"] == 0
    assert doc["rows"][2]["run_folder"] == str(out / "test_03")
    assert "3 inputs, 0 failed" in flat(r.stdout)
    assert {run.name for run in list_runs(out)} == {"test_01", "test_02", "test_03"}


def test_serve_lists_the_batch_runs(tmp_path: Path) -> None:
    """``langvad serve OUT`` on a batch's --out: every input's run is listed and opens."""
    from fastapi.testclient import TestClient

    from langvad.serve import create_app

    folder = captions_folder(tmp_path, n=2)
    out = tmp_path / "runs"
    r = langvad(
        "detect", str(folder), "--out", str(out), *FAST[:-2], "-q", cache=tmp_path / "c"
    )  # with reports
    assert r.returncode == 0, r.stderr
    client = TestClient(create_app(out))
    listed = client.get("/api/runs").json()
    assert sorted(run["name"] for run in listed) == ["test_01", "test_02"]
    assert all(not run.get("broken") for run in listed)
    assert {run["input_name"] for run in listed} == {"test_01.txt", "test_02.txt"}
    page = client.get("/runs/test_02/report.html")
    assert page.status_code == 200 and "test_02" in page.text


def test_bad_input_fails_alone_and_exit_code_is_2(tmp_path: Path) -> None:
    folder = captions_folder(tmp_path, n=2)
    (folder / "corrupt.mp4").write_bytes(os.urandom(4096))
    out = tmp_path / "runs"
    r = langvad("detect", str(folder), "--out", str(out), *FAST, cache=tmp_path / "c")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    rows = {Path(row["input"]).name: row for row in summary(out)}
    assert rows["corrupt.mp4"]["status"] == "failed"
    assert "corrupt.mp4" in rows["corrupt.mp4"]["error"]
    assert "\n" not in rows["corrupt.mp4"]["error"] and rows["corrupt.mp4"]["run_folder"] == ""
    assert rows["test_01.txt"]["status"] == rows["test_02.txt"]["status"] == "ok"
    assert (out / "test_01" / "result.json").is_file() and (
        out / "test_02" / "result.json"
    ).is_file()
    assert not (out / "corrupt").exists()


def test_shards_add_up_to_the_whole(tmp_path: Path) -> None:
    folder = captions_folder(tmp_path, n=3)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    cache = tmp_path / "c"
    r = langvad("detect", str(folder), "--out", str(whole), *FAST, cache=cache)
    assert r.returncode == 0, r.stderr
    for i in (0, 1):
        r = langvad(
            "detect", str(folder), "--out", str(parts), "--shard", f"{i}/2", *FAST, cache=cache
        )
        assert r.returncode == 0, r.stderr
    s0, s1 = summary(parts, "summary.shard-0-of-2"), summary(parts, "summary.shard-1-of-2")
    assert [Path(r["input"]).name for r in s0] == ["test_01.txt", "test_03.txt"]
    assert [Path(r["input"]).name for r in s1] == ["test_02.txt"]
    merged = sorted(s0 + s1, key=lambda r: r["input"])
    whole_rows = [
        {**r, "run_folder": r["run_folder"].replace(str(whole), str(parts))} for r in summary(whole)
    ]
    assert without_wall(merged) == without_wall(whole_rows)
    assert sorted(p.name for p in parts.iterdir() if p.is_dir()) == [
        "test_01",
        "test_02",
        "test_03",
    ]
    for name in ("test_01", "test_02", "test_03"):
        assert scores(parts / name) == scores(whole / name)


@pytest.mark.parametrize("bad", ["3/2", "x/y", "0/0", "2/2", "-1/2", "1"])
def test_bad_shard_is_one_clear_error(tmp_path: Path, bad: str) -> None:
    folder = captions_folder(tmp_path, n=2)
    r = langvad(
        "detect",
        str(folder),
        "--out",
        str(tmp_path / "o"),
        "--shard",
        bad,
        *FAST,
        cache=tmp_path / "c",
    )
    assert r.returncode == 2
    assert "--shard" in r.stderr and "0 <= i < n" in flat(r.stderr) and "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "test_01").exists()  # refused before any work


def test_single_input_keeps_todays_layout(tmp_path: Path) -> None:
    clip = need_shared(TEXT_BENCH / "ped2" / "descriptions" / "test_01.txt")
    out = tmp_path / "runs" / "ped2_01"
    r = langvad("detect", str(clip), "--out", str(out), *FAST, cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    assert (out / "result.json").is_file() and (out / "scores.csv").is_file()
    assert not (out / "summary.csv").exists() and not (out / "test_01").exists()
    assert "anomalous segments" in r.stdout or "no anomalous segment" in r.stdout


def test_per_input_files_refused_with_several_inputs(tmp_path: Path) -> None:
    folder = captions_folder(tmp_path, n=2)
    labels = TEXT_BENCH / "ped2" / "labels" / "test_01.csv"
    for flag, value in (("--labels", labels), ("--captions", folder / "test_01.txt")):
        args = [str(folder / "test_01.txt"), str(folder / "test_02.txt"), flag, str(value)]
        r = langvad("detect", *args, "--out", str(tmp_path / "o"), *FAST, cache=tmp_path / "c")
        assert r.returncode == 2 and flag in r.stderr and "Traceback" not in r.stderr


def test_concurrency_option(tmp_path: Path) -> None:
    """--concurrency N: results as without it (it only sets requests in flight); N < 1 is one
    clear error, for detect and eval."""
    clip = need_shared(TEXT_BENCH / "ped2" / "descriptions" / "test_01.txt")
    a, b = tmp_path / "a", tmp_path / "b"
    r = langvad("detect", str(clip), "--out", str(a), *FAST, cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    r = langvad(
        "detect", str(clip), "--out", str(b), *FAST, "--concurrency", "3", cache=tmp_path / "c"
    )
    assert r.returncode == 0, r.stderr
    assert scores(a) == scores(b)
    for cmd in (
        ["detect", str(clip), *FAST],
        ["eval", str(TEXT_BENCH), "--dataset", "ped2", "--variants", "keywords", "-q"],
    ):
        r = langvad(*cmd, "--concurrency", "0", "--out", str(tmp_path / "o"), cache=tmp_path / "c")
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "--concurrency 0: must be between 1 and 256" in flat(r.stderr)
    assert not (tmp_path / "o").exists()


# -- units ------------------------------------------------------------------------------------
@given(st.lists(st.integers(), max_size=40), st.integers(1, 9))
def test_shards_partition_the_sorted_items(items: list[int], n: int) -> None:
    parts = [select_shard(items, (i, n), key=lambda x: x) for i in range(n)]
    assert sorted(x for p in parts for x in p) == sorted(items)
    assert select_shard(items, None, key=lambda x: x) == items
    assert [len(p) for p in parts] == sorted((len(p) for p in parts), reverse=True)


def test_parse_shard() -> None:
    assert parse_shard(None) is None
    assert parse_shard("0/1") == (0, 1) and parse_shard(" 3 / 4 ") == (3, 4)
    for bad in ("1/1", "0/0", "a/b", "1", "1/2/3", "-0/1", ""):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)


def test_inputs_and_run_folder_names(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "000.png").write_bytes(b"")
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "clip.txt").write_text("x\n")
    (a / "clip.mp4").write_bytes(b"")
    (a / "notes.md").write_text("")
    (a / ".hidden.txt").write_text("")
    assert not is_batch([frames]) and is_batch([frames], forced=True)
    assert is_batch([a]) and is_batch([a / "clip.txt", b / "clip.txt"])
    assert not is_batch([tmp_path / "missing"]) and not is_batch([tmp_path / "empty"])
    found = expand_inputs([b, a, a / "clip.txt"])
    assert found == [a / "clip.mp4", a / "clip.txt", b / "clip.txt"]
    names = [d.name for d in run_folders([*found, frames], tmp_path / "o")]
    assert names == ["clip", "clip-2", "clip-3", "frames"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no video"):
        expand_inputs([tmp_path / "empty"])
