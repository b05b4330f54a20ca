"""Any OpenAI-compatible chat server as the LLM (vLLM, llama.cpp server, Ollama, …).

Spec: ``openai:MODEL@BASE_URL`` (e.g. ``openai:qwen2.5-7b-instruct@http://127.0.0.1:8000/v1``);
the key comes from ``$LANGVAD_API_KEY`` or ``$OPENAI_API_KEY``. Option scoring needs a server
that continues a final assistant message (llama.cpp server does by default; vLLM with
``continue_final_message``, which is sent) and returns ``top_logprobs``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from langvad.errors import LLMError, ModelError
from langvad.models.base import ChatReply, Message


def openai_client(base_url: str, api_key: str | None, timeout: float, max_retries: int) -> Any:
    """An ``openai.OpenAI`` client for an OpenAI-compatible server (ModelError without it)."""
    try:
        from openai import OpenAI
    except ImportError as e:
        raise ModelError("the 'openai' client is not installed", "pip install openai") from e
    return OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)


class OpenAICompatLLM:
    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key: str | None = None,
        seed: int = 0,
        timeout: float = 120.0,
        max_retries: int = 3,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = (
            api_key or os.environ.get("LANGVAD_API_KEY") or os.environ.get("OPENAI_API_KEY", "none")
        )
        self.seed = seed
        self.timeout = timeout
        self.max_retries = max_retries
        self.identity = f"openai:{model}@{self.base_url}"
        self.prefix_cache = True  # the server decides; results are whatever it returns
        self.stats = {"requests": 0, "prompt_tokens": 0, "cached_tokens": 0, "completion_tokens": 0}
        self._client: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._client is None:
                # exponential backoff on connection errors/5xx by the client itself
                self._client = openai_client(
                    self.base_url, self.api_key, self.timeout, self.max_retries
                )
            return self._client

    def _unreachable(self, e: Exception) -> LLMError:
        return LLMError(
            f"cannot reach the LLM server at {self.base_url} ({e.__class__.__name__})",
            hint="start the server or fix the URL in --llm openai:MODEL@URL",
        )

    def check(self) -> None:
        """Fail now, with one clear line, when the server cannot be reached (a run checks
        this before its expensive work). A server without ``/models`` passes."""
        import openai

        client = self._load().with_options(timeout=min(self.timeout, 10.0), max_retries=0)
        try:
            client.models.list()
        except openai.APIConnectionError as e:
            raise self._unreachable(e) from e
        except openai.AuthenticationError as e:
            raise LLMError(
                f"LLM server {self.base_url} refused the API key (HTTP {e.status_code})",
                hint="set LANGVAD_API_KEY (or OPENAI_API_KEY) to the server's key",
            ) from e
        except openai.APIStatusError:
            return  # reachable; /models is optional

    def _create(self, **kwargs: Any) -> Any:
        import openai

        client = self._load()
        try:  # not under the lock: the client is thread-safe, requests run concurrently
            r = client.chat.completions.create(model=self.model, **kwargs)
        except openai.APIConnectionError as e:
            raise self._unreachable(e) from e
        except openai.APIStatusError as e:
            raise LLMError(
                f"LLM server {self.base_url} refused the request for model {self.model!r}: "
                f"HTTP {e.status_code} {e.message}",
                hint="check the model name and the server's log",
            ) from e
        u = r.usage
        with self._lock:
            self.stats["requests"] += 1
            if u is not None:
                self.stats["prompt_tokens"] += u.prompt_tokens or 0
                self.stats["completion_tokens"] += u.completion_tokens or 0
                details = getattr(u, "prompt_tokens_details", None)
                self.stats["cached_tokens"] += getattr(details, "cached_tokens", 0) or 0
        return r

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        slot: int = 0,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatReply:
        """Greedy reply; ``json_schema`` is sent as an OpenAI ``response_format``."""
        extra: dict[str, Any] = {}
        if json_schema is not None:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": json_schema, "strict": True},
            }
        r = self._create(
            messages=list(messages),
            max_tokens=max_tokens,
            temperature=0.0,
            seed=self.seed,
            **extra,
        )
        u = r.usage
        return ChatReply(
            text=r.choices[0].message.content or "",
            prompt_tokens=getattr(u, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(u, "completion_tokens", 0) or 0,
        )

    def next_token_logprobs(
        self,
        messages: Sequence[Message],
        prefill: str,
        *,
        top: int = 20,
        slot: int = 1,
        continuation: bool = False,
    ) -> dict[str, float]:
        r = self._create(
            messages=[*messages, {"role": "assistant", "content": prefill}],
            max_tokens=1,
            temperature=0.0,
            seed=self.seed,
            logprobs=True,
            top_logprobs=min(top, 20),
            extra_body={
                "continue_final_message": True,
                "add_generation_prompt": False,
                "ignore_eos": True,
            },
        )
        lp = r.choices[0].logprobs
        if lp is None or not lp.content:
            # no information: the window's score is interpolated, and a server that never
            # returns log-probabilities ends in the runner's "no score" error
            return {}
        out: dict[str, float] = {}
        for t in lp.content[0].top_logprobs:
            tok = bytes(t.bytes).decode("utf-8", "replace") if t.bytes else t.token
            out[tok] = max(out.get(tok, float("-inf")), float(t.logprob))
        return out
