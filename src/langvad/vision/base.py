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
