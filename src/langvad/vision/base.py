"""The captioner interface every vision backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Captioner(Protocol):
    """Image → text. ``identity`` names the model and its settings (it enters cache keys:
    change it whenever captions for the same frame could change)."""

    @property
    def identity(self) -> str: ...

    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        """One caption per frame; frames are RGB uint8 arrays of shape (H, W, 3)."""
        ...

    def close(self) -> None:
        """Release models, subprocesses and servers (idempotent)."""
        ...


@runtime_checkable
class VisionEncoder(Protocol):
    """Images, clips and texts into one space (E_I, E_V, E_T of the method). All outputs
    are L2-normalised float32 rows, so a dot product is a cosine similarity."""

    @property
    def identity(self) -> str: ...

    def embed_images(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """(n, d) for n RGB uint8 frames."""
        ...

    def embed_clips(self, clips: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """(n, d) for n clips, each a list of RGB uint8 frames in time order."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) in the same space as the images."""
        ...

    def close(self) -> None: ...
