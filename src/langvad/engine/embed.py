"""Text embeddings, cached per (encoder, text), and the zero-shot baseline on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from langvad.config import stable_hash
from langvad.engine.context import RunContext
from langvad.engine.models import Models
from langvad.stages.baselines import ANOMALY_PROMPT, NORMAL_PROMPT, zero_shot_scores


class TextEmbeddings:
    def __init__(self, ctx: RunContext, models: Models) -> None:
        self.ctx = ctx
        self.models = models

    def embed(self, texts: Sequence[str], encoder: Any = None) -> np.ndarray:
        enc = encoder or self.models.encoder
        store, usage = self.ctx.store, self.ctx.usage
        keys = [stable_hash({"embed": enc.identity, "text": t}) for t in texts]
        found = store.get_vectors(set(keys))
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        if missing:
            vecs = enc.embed_texts([t for _, t in missing])
            new = {k: v for (k, _), v in zip(missing, vecs, strict=True)}
            store.put_vectors("embed", new)
            found.update(new)
            usage.embed_calls += 1
            usage.embed_texts += len(missing)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def zero_shot(self, emb: np.ndarray) -> np.ndarray:
        """P(anomalous) of each embedded row against the baseline's two prompts (embedded by
        the text encoder)."""
        prompts = self.embed([NORMAL_PROMPT, ANOMALY_PROMPT])
        return zero_shot_scores(emb, prompts[0], prompts[1])
