"""Stages 1–2, "read": the needed frames' captions (neutralised), then cleaning against the
caption pool; owns the ``clean`` stage key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from langvad.config import stable_hash
from langvad.engine.context import RunContext
from langvad.engine.describe import Describer
from langvad.engine.embed import TextEmbeddings
from langvad.engine.models import Models
from langvad.source import Source
from langvad.stages.clean import clean_captions
from langvad.untrusted import VERSION as UNTRUSTED_VERSION
from langvad.vision.base import VisionEncoder


@dataclasses.dataclass
class Read:
    """What reading gave: the cleaned captions, the vision encoder (None without images),
    the embedding space's identity and each needed frame's image embedding (on first use)."""

    cleaned: dict[int, str]
    vis: VisionEncoder | None
    space: str
    image_emb: Callable[[], dict[int, np.ndarray]]


class Reader:
    def __init__(
        self, ctx: RunContext, models: Models, describer: Describer, texts: TextEmbeddings
    ) -> None:
        self.ctx = ctx
        self.models = models
        self.describer = describer
        self.texts = texts

    def read(self, source: Source, needed: list[int]) -> Read:
        """Captions, then cleaning, of the frames needed."""
        ctx, c = self.ctx, self.ctx.config
        embed = self.texts.embed
        # 1. captions ------------------------------------------------------------------
        with ctx.stage("caption"):
            raw = self.describer.neutralised(self.describer.captions(source, needed))
            caps_id = (
                source.captions.fingerprint if source.captions else self.models.captioner.identity
            )
            k_cap = stable_hash(
                {
                    "src": source.fingerprint,
                    "captions": caps_id,
                    "frames": source.frame_ids(needed),
                    "untrusted": UNTRUSTED_VERSION,
                }
            )
        # 2. cleaning ------------------------------------------------------------------
        vis = self.models.vision_encoder if source.has_images else None
        space = vis.identity if vis is not None else self.models.encoder.identity
        memo: dict[str, Any] = {}

        def pool() -> tuple[list[str], np.ndarray]:
            if "pool" not in memo:
                texts = sorted(set(raw.values()))
                memo["pool"] = (texts, embed(texts, vis))
            return memo["pool"]  # type: ignore[no-any-return]

        def image_emb() -> dict[int, np.ndarray]:
            if "image" not in memo:
                if vis is not None and source.has_images:
                    memo["image"] = self.describer.image_embeddings(source, needed)
                else:  # no images (or no image encoder): the caption's own text embedding
                    texts, emb = pool()
                    index = {t: i for i, t in enumerate(texts)}
                    memo["image"] = {f: emb[index[raw[f]]] for f in needed}
            return memo["image"]  # type: ignore[no-any-return]

        with ctx.stage("clean"):

            def clean() -> list[str]:
                # without an image encoder each caption is compared with its own embedding and
                # keeps itself: cleaning is the identity, and nothing needs embedding
                if not c.clean or vis is None:
                    return [raw[f] for f in needed]
                texts, emb = pool()
                best = clean_captions(np.stack([image_emb()[f] for f in needed]), emb)
                return [texts[int(b)] for b in best]

            parts = {"captions": k_cap, "encoder": space, "on": c.clean}
            cleaned = dict(zip(needed, ctx.cached_stage("clean", parts, clean), strict=True))
        return Read(cleaned, vis, space, image_emb)
