"""Any OpenAI-compatible vision-language server as the captioner (vLLM, Ollama, llama.cpp).

Spec: ``openai-vlm:MODEL@BASE_URL`` (e.g. ``openai-vlm:Qwen/Qwen2.5-VL-7B-Instruct@http://
127.0.0.1:8000/v1``); the key comes from ``$LANGVAD_API_KEY`` or ``$OPENAI_API_KEY`` as for
the text LLM backend (``langvad.models.openai_llm``). Each frame is sent as one chat request
with the captioning prompt and the frame as a base64 JPEG ``image_url`` content part, at
temperature 0 with a fixed seed; up to ``concurrency`` requests run at once. Connection
errors, timeouts, HTTP 429 and 5xx replies are retried with exponential backoff; anything
else, or a server still failing after the retries, raises an LLMError naming the URL.
"""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from langvad.concurrency import ordered_map
from langvad.errors import InputError, LLMError
from langvad.models.openai_llm import openai_client
from langvad.vision.hf_captioner import progress, short_hash, to_pil

DEFAULT_PROMPT = (
    "Describe what is happening in this video frame in one short sentence. "
    "Mention the people, objects and actions you see."
)


def jpeg_data_url(image: Image.Image, quality: int = 90, max_side: int | None = None) -> str:
    """The image as a ``data:image/jpeg;base64,...`` URL (downscaled to max_side if set)."""
    if max_side and max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        )
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def caption_messages(prompt: str, data_url: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": prompt},
                {"type": "image_url", "image_url": {"url": data_url}},
            ],
        }
    ]


def parse_spec(body: str) -> tuple[str, str]:
    """``MODEL@BASE_URL`` → (model, base_url); the model name may itself hold an ``@``."""
    model, sep, url = body.rpartition("@")
    if not sep or not model or not url.startswith(("http://", "https://")):
        raise InputError(
            f"bad vision-language server spec {body!r}",
            hint="write openai-vlm:MODEL@http://HOST:PORT/v1",
        )
    return model, url


class OpenAIVLMCaptioner:
    """Captions frames with a chat model that accepts images, one request per frame."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = 60,
        concurrency: int = 4,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 1.0,
        seed: int = 0,
        jpeg_quality: int = 90,
        max_side: int | None = None,
        api_key: str | None = None,
        show_progress: bool = True,
    ) -> None:
        if concurrency < 1:
            raise InputError(f"concurrency must be at least 1, got {concurrency}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.seed = seed
        self.jpeg_quality = jpeg_quality
        self.max_side = max_side
        self.api_key = (
            api_key or os.environ.get("LANGVAD_API_KEY") or os.environ.get("OPENAI_API_KEY", "none")
        )
        self.show_progress = show_progress
        self._identity = (
            f"openai-vlm:{model}@{self.base_url}:p={short_hash(prompt)}:t={max_tokens}"
            f":s={seed}:q={jpeg_quality}:m={max_side or 0}"
        )
        self._client: Any = None

    @property
    def identity(self) -> str:
        return self._identity

    def _load(self) -> Any:
        if self._client is None:
            # retries are ours (below), so that the backoff and the final error are explicit
            self._client = openai_client(self.base_url, self.api_key, self.timeout, 0)
        return self._client

    def _request(self, data_url: str) -> str:
        import openai

        client = self._load()
        for attempt in range(self.retries + 1):
            try:
                r = client.chat.completions.create(
                    model=self.model,
                    messages=caption_messages(self.prompt, data_url),
                    max_tokens=self.max_tokens,
                    temperature=0.0,
                    seed=self.seed,
                )
                return " ".join((r.choices[0].message.content or "").split())
            except (
                openai.APIConnectionError,
                openai.RateLimitError,
                openai.InternalServerError,
            ) as e:
                if attempt == self.retries:
                    raise self._failure(e, attempt + 1) from e
                time.sleep(self.backoff * 2**attempt)
            except openai.APIStatusError as e:
                raise LLMError(
                    f"vision-language server {self.base_url} refused the request for model "
                    f"{self.model!r}: HTTP {e.status_code} {e.message}",
                    hint="check the model name (GET /v1/models lists them), that the model "
                    "accepts images, and the server's log",
                ) from e
        raise AssertionError("unreachable")

    def _failure(self, e: Exception, attempts: int) -> LLMError:
        import openai

        if isinstance(e, openai.APIStatusError):
            return LLMError(
                f"vision-language server {self.base_url} kept failing for model {self.model!r} "
                f"(HTTP {e.status_code} after {attempts} attempts): {e.message}",
                hint="check the server's log (out of memory? overloaded?), or lower concurrency",
            )
        return LLMError(
            f"cannot reach the vision-language server at {self.base_url} after {attempts} "
            f"attempts ({e.__class__.__name__})",
            hint="start the server (vllm serve MODEL, ollama serve, llama-server --mmproj ...) "
            "or fix the URL in openai-vlm:MODEL@URL",
        )

    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        urls = [jpeg_data_url(im, self.jpeg_quality, self.max_side) for im in to_pil(frames)]
        if not urls:
            return []
        self._load()
        with progress(len(urls), "captioning (server)", self.show_progress) as bar:
            task = bar.add_task("frames", total=len(urls))
            return ordered_map(
                self._request, urls, self.concurrency, on_done=lambda _i: bar.advance(task)
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
