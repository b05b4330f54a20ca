"""Image-text caption cleaning: each frame takes the caption of the video's pool that is
most similar to the frame's image embedding (METHOD.md stage 2)."""

from __future__ import annotations

import numpy as np


def clean_captions(image_emb: np.ndarray, caption_emb: np.ndarray) -> np.ndarray:
    """For each row of ``image_emb`` (frames × d) the index of the best caption of the pool
    (``caption_emb``: captions × d). Rows are L2-normalised, so the dot product is the
    cosine similarity; ties go to the lowest index (deterministic)."""
    if len(caption_emb) == 0:
        raise ValueError("the caption pool is empty")
    sims = np.asarray(image_emb, np.float32) @ np.asarray(caption_emb, np.float32).T
    return np.argmax(sims, axis=1)
