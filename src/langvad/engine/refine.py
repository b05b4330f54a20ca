"""Stage 5, "refine": each window's score smoothed over the windows most like it (clip
embeddings against the scored texts' embeddings); owns the ``refine`` stage key."""

from __future__ import annotations

import numpy as np

from langvad.engine.context import RunContext
from langvad.engine.describe import Describer
from langvad.engine.embed import TextEmbeddings
from langvad.engine.read import Read
from langvad.models.encoders import l2_normalise
from langvad.source import Source
from langvad.stages.refine import refine_scores


class Refiner:
    def __init__(self, ctx: RunContext, describer: Describer, texts: TextEmbeddings) -> None:
        self.ctx = ctx
        self.describer = describer
        self.texts = texts

    def refine(
        self,
        source: Source,
        windows: list[list[int]],
        filled: np.ndarray,
        texts: list[str],
        read: Read,
    ) -> np.ndarray:
        ctx, c = self.ctx, self.ctx.config
        vis, image_emb = read.vis, read.image_emb
        with ctx.stage("refine"):

            def refine() -> list[float]:
                if not c.refine:
                    return filled.tolist()
                if vis is not None and source.has_images:
                    clip_emb = self.describer.clip_embeddings(source, windows)
                else:
                    clip_emb = l2_normalise(
                        np.stack([np.mean([image_emb()[i] for i in w], axis=0) for w in windows])
                    )
                r = refine_scores(
                    filled, clip_emb, self.texts.embed(texts, vis), c.refine_k, c.refine_temperature
                )
                return r.tolist()

            parts = {
                "scores": ctx.stage_keys["score"],
                "encoder": read.space,
                "on": c.refine,
                "k": c.refine_k,
                "temperature": c.refine_temperature,
                **({"zero_shot_weight": c.zero_shot_weight} if c.zero_shot_weight > 0 else {}),
            }
            return np.asarray(ctx.cached_stage("refine", parts, refine))
