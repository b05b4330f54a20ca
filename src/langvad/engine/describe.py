"""Stage "describe": each needed frame's caption (from the captions file, the cache or the
captioner; cached per frame), the video's text neutralised, and the vision encoder's image
and clip embeddings (cached per frame / per window)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from langvad.config import stable_hash
from langvad.engine.context import RunContext
from langvad.engine.models import Models
from langvad.errors import InputError
from langvad.source import Source
from langvad.untrusted import MAX_CAPTION_CHARS, neutralise_all


def frame_key(kind: str, identity: str, source: Source, frame: int) -> str:
    """Cache key of one frame's artefact (a caption, an image embedding)."""
    return stable_hash({kind: identity, "src": source.fingerprint, "frame": source.frame_id(frame)})


def scored_frame(source: Source, centre: int, window: Sequence[int]) -> int:
    """The centre itself, unless a captions file has no caption there: then the window's
    sample nearest to it."""
    if source.captions is None or centre in window:
        return centre
    per_frame = source.captions.per_frame
    if centre < len(per_frame) and per_frame[centre] is not None:
        return centre
    return min(window, key=lambda f: (abs(f - centre), f))


class Describer:
    def __init__(self, ctx: RunContext, models: Models) -> None:
        self.ctx = ctx
        self.models = models
        self.untrusted: dict[str, Any] = {}  # what neutralising the video's text removed

    def captions(self, source: Source, needed: list[int]) -> dict[int, str]:
        if source.captions is None:
            if not source.has_images:
                raise InputError(f"no captions and no images for {source.name}")
            return self._caption_frames(source, needed)
        per_frame = source.captions.per_frame
        missing = [f for f in needed if f >= len(per_frame) or per_frame[f] is None]
        if missing:
            from langvad.captions import coverage_hint, coverage_message

            msg = coverage_message(source.captions.path, needed, missing)
            raise InputError(
                msg,
                hint=coverage_hint(self.ctx.config.window_frames, self.ctx.config.window_seconds),
            )
        return {f: str(per_frame[f]) for f in needed}

    def neutralised(self, captions: dict[int, str]) -> dict[int, str]:
        """The video's text as data: control tokens and sentences addressed to the model
        removed (``langvad.untrusted``); what was removed goes to provenance and a warning."""
        clean, report = neutralise_all(captions, MAX_CAPTION_CHARS)
        self.untrusted = report.as_dict()
        if report.texts:
            self.ctx.console.print(
                f"[yellow]warning:[/] the video's text held {report.instructions} sentence(s) "
                f"addressed to the model and {report.control_tokens} chat control token(s) in "
                f"{report.texts} caption(s); removed before any prompt "
                "(result.json provenance.untrusted_text)"
            )
        return clean

    def _caption_frames(self, source: Source, needed: list[int]) -> dict[int, str]:
        """Caption each needed frame once with the captioner; every caption is committed to
        the cache as soon as its batch is done (a killed run keeps them)."""
        c, store, usage = self.ctx.config, self.ctx.store, self.ctx.usage
        cap = self.models.captioner
        keys = {f: frame_key("caption", cap.identity, source, f) for f in needed}
        out: dict[int, str] = {}
        todo = []
        for f in needed:
            hit = store.get_call(keys[f])
            if hit is None:
                todo.append(f)
            else:
                out[f] = hit
        if not todo:
            return out
        with self.ctx.bar() as bar:
            task = bar.add_task("captions", total=len(todo))
            batch: list[tuple[int, np.ndarray]] = []

            def flush() -> None:
                t0 = time.perf_counter()
                texts = cap.caption([im for _, im in batch])
                usage.captioner_seconds += time.perf_counter() - t0
                usage.captioner_calls += len(batch)
                for (f, _), text in zip(batch, texts, strict=True):
                    out[f] = text
                    store.put_call(keys[f], "caption", text)
                bar.advance(task, len(batch))
                batch.clear()

            for f, _t, rgb in source.read(todo, max_side=c.caption_max_side):
                batch.append((f, rgb))
                if len(batch) >= c.caption_batch:
                    flush()
            if batch:
                flush()
        return out

    def image_embeddings(self, source: Source, frames: list[int]) -> dict[int, np.ndarray]:
        vis = self.models.vision_encoder
        assert vis is not None and source.has_images
        store = self.ctx.store
        keys = {f: frame_key("image", vis.identity, source, f) for f in frames}
        found = store.get_vectors(set(keys.values()))
        todo = [f for f in frames if keys[f] not in found]
        if todo:
            ims = [rgb for _, _, rgb in source.read(todo)]
            vecs = vis.embed_images(ims)
            new = {keys[f]: v for f, v in zip(todo, vecs, strict=True)}
            store.put_vectors("image", new)
            found.update(new)
        return {f: found[keys[f]] for f in frames}

    def clip_embeddings(self, source: Source, windows: list[list[int]]) -> np.ndarray:
        vis = self.models.vision_encoder
        assert vis is not None and source.has_images
        store = self.ctx.store
        keys = [
            stable_hash(
                {"clip": vis.identity, "src": source.fingerprint, "frames": source.frame_ids(w)}
            )
            for w in windows
        ]
        found = store.get_vectors(set(keys))
        todo = [(k, w) for k, w in zip(keys, windows, strict=True) if k not in found]
        if todo:
            frames = sorted({f for _, w in todo for f in w})
            rgb = {f: im for f, _, im in source.read(frames)}
            vecs = vis.embed_clips([[rgb[f] for f in w] for _, w in todo])
            new = {k: v for (k, _), v in zip(todo, vecs, strict=True)}
            store.put_vectors("clip", new)
            found.update(new)
        return np.stack([found[k] for k in keys])
