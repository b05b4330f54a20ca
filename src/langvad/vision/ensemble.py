"""Several captioners as one (the paper's Table 6: pooling the captions of many models).

Every frame gets one caption from each member. ``caption_pool(frames)`` keeps them apart
(per frame, one caption per member, in member order) so that the cleaning stage can pick
the best candidate among all of them; ``caption(frames)`` satisfies the one-caption-per-frame
Captioner protocol by joining them with ``SEPARATOR``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from langvad.errors import InputError, ModelError
from langvad.vision.base import Captioner

SEPARATOR = " | "


def member_pool(member: Captioner, frames: Sequence[np.ndarray]) -> list[list[str]]:
    """Per frame, the member's candidates (a nested ensemble gives all of its own)."""
    pool = getattr(member, "caption_pool", None)
    if callable(pool):
        return [list(c) for c in pool(frames)]
    return [[c] for c in member.caption(frames)]


class EnsembleCaptioner:
    """Captions each frame with every member; members run one after another."""

    def __init__(self, members: Sequence[Captioner], *, separator: str = SEPARATOR) -> None:
        if not members:
            raise InputError("an ensemble needs at least one captioner", hint="ensemble:A,B")
        self.members = list(members)
        self.separator = separator
        self._identity = "ensemble[" + ",".join(m.identity for m in self.members) + "]"

    @property
    def identity(self) -> str:
        return self._identity

    def caption_pool(self, frames: Sequence[np.ndarray]) -> list[list[str]]:
        pooled: list[list[str]] = [[] for _ in frames]
        for m in self.members:
            per_frame = member_pool(m, frames)
            if len(per_frame) != len(frames):
                raise ModelError(
                    f"captioner {m.identity} returned {len(per_frame)} captions for "
                    f"{len(frames)} frames",
                    hint="this is a bug in that backend",
                )
            for acc, caps in zip(pooled, per_frame, strict=True):
                acc.extend(caps)
        return pooled

    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        return [self.separator.join(caps) for caps in self.caption_pool(frames)]

    def close(self) -> None:
        errors: list[Exception] = []
        for m in self.members:
            try:
                m.close()
            except Exception as e:  # close the others anyway, then report the first
                errors.append(e)
        if errors:
            raise errors[0]
