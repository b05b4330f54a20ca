"""In-process GGUF LLM through llama.cpp (the ``xllamacpp`` prebuilt bindings).

Requests go through llama.cpp's own server logic in-process (no socket): chat templates
from the GGUF, greedy sampling, top-k log-probabilities, and prompt-prefix KV-cache reuse
per slot (``cache_prompt``). Summaries and scores use separate slots so that each keeps
the shared prefix of its own prompt in cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langvad.errors import LLMError, ModelError
from langvad.models.assets import damaged_gguf_hint
from langvad.models.base import ChatReply, Message


def file_identity(path: Path) -> str:
    """Cheap, content-based identity of a large weights file (size + head + tail hash)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


class LlamaCppLLM:
    """A GGUF model loaded lazily on first use."""

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        n_gpu_layers: int = 0,
        prefix_cache: bool = False,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"GGUF model file {self.path} not found", hint="check the path")
        self.name = name or self.path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(os.cpu_count() or 1, 8))
        self.seed = seed
        self.n_gpu_layers = n_gpu_layers
        self.prefix_cache = prefix_cache  # reuse prefixes across prompts: faster, not bit-exact
        self.identity = f"llamacpp:{self.name}:{file_identity(self.path)}"
        self._server: Any = None
        self.stats = {"requests": 0, "prompt_tokens": 0, "cached_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------
    def _load(self) -> Any:
        if self._server is not None:
            return self._server
        xlc = import_xllamacpp()
        p = xlc.CommonParams()
        p.model.path = str(self.path)
        p.n_parallel = 2
        p.n_ctx = self.n_ctx * 2  # split over the two slots
        p.n_batch = 512
        p.cpuparams.n_threads = self.n_threads
        p.cpuparams_batch.n_threads = self.n_threads
        p.sampling.seed = self.seed
        p.n_gpu_layers = self.n_gpu_layers
        p.warmup = False
        p.cache_prompt = True
        p.log_json = False
        _quiet_llama_logs(p)
        try:
            self._server = xlc.Server(p)
        except Exception as e:
            raise ModelError(
                f"llama.cpp could not load {self.path}: {e}",
                hint=damaged_gguf_hint(self.name, self.path),
            ) from e
        return self._server

    def _request(self, body: dict[str, Any], *, raw: bool = False) -> dict[str, Any]:
        """A chat completion, or with ``raw`` a plain-prompt completion (no chat template)."""
        with self._lock:
            server = self._load()
            handle = server.handle_completions if raw else server.handle_chat_completions
            reply = handle(body)
        if not isinstance(reply, dict) or "choices" not in reply:
            msg = reply.get("message") if isinstance(reply, dict) else reply
            if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
                msg = reply["error"].get("message", msg)
            raise LLMError(
                f"llama.cpp request failed for model {self.name}: {msg}",
                hint="the prompt may exceed the context size (raise n_ctx) or the model is invalid",
            )
        u = _reply(reply, "")
        self.stats["requests"] += 1
        self.stats["prompt_tokens"] += u.prompt_tokens
        self.stats["cached_tokens"] += u.cached_tokens
        self.stats["completion_tokens"] += u.completion_tokens
        return reply

    # -- protocol --------------------------------------------------------------------------
    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        slot: int = 0,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatReply:
        """Greedy reply; ``json_schema`` constrains it to that JSON schema (a grammar)."""
        # The whole prompt is evaluated afresh (no reuse of another prompt's prefix): llama.cpp
        # output depends slightly on how a prompt is split into batches, and reuse would make
        # a reply depend on the previous request. Fresh evaluation keeps runs reproducible.
        body = {
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "top_k": 1,
            "seed": self.seed,
            "cache_prompt": self.prefix_cache,
            "id_slot": slot,
        }
        if json_schema is not None:
            body["json_schema"] = json_schema
        r = self._request(body)
        return _reply(r, r["choices"][0]["message"].get("content") or "")

    def next_token_logprobs(
        self,
        messages: Sequence[Message],
        prefill: str,
        *,
        top: int = 20,
        slot: int = 1,
        continuation: bool = False,
    ) -> dict[str, float]:
        """``continuation=True`` when the previous request on this slot was the same
        conversation with a shorter prefill: its KV cache is reused (exactly the same prompt
        state, so results stay reproducible) and only the new prefill tokens are evaluated."""
        body = {
            "messages": [*messages, {"role": "assistant", "content": prefill}],
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": top,
            "ignore_eos": True,  # an end-of-text guess would carry no log-probabilities
            "cache_prompt": continuation or self.prefix_cache,
            "id_slot": slot,
        }
        r = self._request(body)
        content = (r["choices"][0].get("logprobs") or {}).get("content") or []
        if not content:
            return {}  # no information: the window's score is interpolated from neighbours
        out: dict[str, float] = {}
        for t in content[0].get("top_logprobs", []):
            tok = bytes(t.get("bytes") or []).decode("utf-8", "replace") or t.get("token", "")
            out[tok] = max(out.get(tok, float("-inf")), float(t["logprob"]))
        return out

    def continuation_logprobs(
        self, prompt: str, continuation: str | Sequence[int], *, slot: int = 1
    ) -> tuple[list[int], list[float]]:
        """Token ids and log-probabilities of ``continuation`` after a raw ``prompt`` (no chat
        template), by forced greedy decoding: a grammar admits only the continuation, and
        llama.cpp reports each token's log-probability under the unconstrained model. A string
        is tokenised as the model prefers under the grammar; pass the ids of an earlier call to
        score exactly the same tokens after another prompt."""
        if not continuation:
            return [], []
        if isinstance(continuation, str):
            grammar = "root ::= " + json.dumps(continuation, ensure_ascii=False)
            limit = len(continuation.encode()) + 1
        else:
            grammar = "root ::= " + " ".join(f"<[{int(t)}]>" for t in continuation)
            limit = len(continuation) + 1
        body = {
            "prompt": prompt,
            "n_predict": limit,
            "grammar": grammar,
            "n_probs": 1,
            "temperature": 0.0,
            "cache_prompt": self.prefix_cache,
            "id_slot": slot,
        }
        r = self._request(body, raw=True)
        content = (r["choices"][0].get("logprobs") or {}).get("content") or []
        if isinstance(continuation, str):  # the tokens that spell it (not the stop token after)
            want, n, spelled = len(continuation.encode()), 0, 0
            while n < len(content) and spelled < want:
                spelled += len(content[n].get("bytes") or [])
                n += 1
            complete = spelled >= want
        else:
            n = len(continuation)
            complete = len(content) >= n
        if not complete:
            raise LLMError(
                f"llama.cpp forced decoding of {self.name} stopped before the end of the "
                f"continuation ({len(content)} tokens)",
                hint="the prompt plus continuation may exceed the context size (raise n_ctx)",
            )
        content = content[:n]
        return [int(t["id"]) for t in content], [float(t["logprob"]) for t in content]


def _reply(r: dict[str, Any], text: str) -> ChatReply:
    u = r.get("usage") or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    return ChatReply(
        text=text,
        prompt_tokens=int(u.get("prompt_tokens", 0)),
        cached_tokens=int(cached or 0),
        completion_tokens=int(u.get("completion_tokens", 0)),
    )


def import_xllamacpp() -> Any:
    """The llama.cpp runtime module, or one clear ModelError naming the package."""
    try:
        import xllamacpp
    except ImportError as e:  # pragma: no cover - dependency of the package
        raise ModelError(
            "the llama.cpp runtime 'xllamacpp' is not installed", hint="pip install xllamacpp"
        ) from e
    return xllamacpp


def _quiet_llama_logs(p: Any) -> None:
    """Keep llama.cpp's load log off the user's terminal unless LANGVAD_LLAMA_VERBOSE=1."""
    if os.environ.get("LANGVAD_LLAMA_VERBOSE") == "1":
        return
    for attr, value in (("verbosity", -1), ("use_color", False)):
        if hasattr(p, attr):
            with contextlib.suppress(Exception):  # best effort across binding versions
                setattr(p, attr, value)
