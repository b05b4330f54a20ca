"""Vision spec strings → backends, resolved lazily (torch and transformers only when used).

Captioner specs (``load_captioner``):
- ``describer`` or ``describer:K=V&K=V``: the offline captioner (``langvad.vision.describer``);
- ``hf:MODEL``: a transformers captioner by Hugging Face id, alias or local directory
  (BLIP-2, BLIP, GIT, Florence-2, SmolVLM; see ``hf_captioner``); a bare alias
  (``blip2-opt-2.7b``) or an existing local directory means the same;
- ``openai-vlm:MODEL@BASE_URL``: an OpenAI-compatible vision-language server;
- ``ensemble:SPEC1,SPEC2,...`` (or a list of specs): every member captions every frame.

Encoder specs (``load_vision_encoder``):
- ``hf-clip:MODEL``, ``hf-siglip:MODEL``, ``hf-xclip:MODEL``, or ``hf-enc:MODEL`` / ``hf:MODEL``
  / a bare alias or directory to detect the family from the config;
- ``open_clip:ARCH[@PRETRAINED]`` (needs open_clip_torch).

Any spec may end with ``?K=V&K=V`` options (ints, floats and true/false are converted);
keyword options passed to the loaders add to them. An unknown option is an InputError.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langvad.errors import InputError, ModelError
from langvad.vision.base import Captioner, VisionEncoder

CAPTIONER_KINDS = ("describer", "hf", "openai-vlm", "ensemble")
ENCODER_KINDS = ("hf-clip", "hf-siglip", "hf-xclip", "hf-enc", "hf", "open_clip")


def parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_options(text: str, spec: str) -> dict[str, Any]:
    """``K=V&K=V`` → {K: V}."""
    out: dict[str, Any] = {}
    for part in filter(None, text.split("&")):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InputError(f"bad option {part!r} in {spec!r}", hint="write KEY=VALUE&KEY=VALUE")
        out[key.strip()] = parse_value(value.strip())
    return out


def split_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    """``KIND:BODY?OPTS`` → (kind, body, options); kind is '' when the spec has none."""
    head, _, query = spec.strip().partition("?")
    options = parse_options(query, spec)
    kind, sep, body = head.partition(":")
    if not sep or kind.startswith((".", "/", "~")) or len(kind) == 1:  # paths, C:\ drives
        return "", head, options
    return kind, body, options


def split_members(body: str) -> list[str]:
    """Comma-separated member specs (an ``ensemble:[...]`` bracket form is accepted too)."""
    body = body.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    return [m.strip() for m in body.split(",") if m.strip()]


def accepted(factory: Callable[..., Any]) -> set[str]:
    params = inspect.signature(factory).parameters.values()
    return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def build(factory: Callable[..., Any], spec: str, args: Sequence[Any], opts: dict[str, Any]) -> Any:
    unknown = sorted(set(opts) - accepted(factory))
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} for {spec!r}",
            hint=f"this backend takes: {', '.join(sorted(accepted(factory)))}",
        )
    return factory(*args, **opts)


def describer_factory() -> Callable[..., Captioner] | None:
    """``langvad.vision.describer.load_describer``, or None when this install lacks it."""
    try:
        module = importlib.import_module("langvad.vision.describer")
    except ModuleNotFoundError as e:
        if e.name and not "langvad.vision.describer".startswith(e.name):
            raise  # a dependency of the describer is missing: let it say which
        return None
    return getattr(module, "load_describer", None)


def _describer(options: dict[str, Any]) -> Captioner:
    factory = describer_factory()
    if factory is None:
        raise ModelError(
            "the offline describer captioner is not part of this install",
            hint="update langvad, or choose another captioner (hf:MODEL, openai-vlm:MODEL@URL)",
        )
    return factory(**options)


def _is_hf_model_dir(body: str) -> bool:
    return (Path(body).expanduser() / "config.json").is_file()


def load_captioner(spec: str | Sequence[str], **opts: Any) -> Captioner:
    """A captioner for ``spec`` (a string, or a list of specs for an ensemble)."""
    if not isinstance(spec, str):
        return _ensemble(list(spec), opts, spec_text=str(list(spec)))
    if spec.strip().startswith("ensemble:"):  # members carry their own ?options
        return _ensemble(split_members(spec.strip()[len("ensemble:") :]), opts, spec_text=spec)
    kind, body, options = split_spec(spec)
    options.update(opts)
    if kind == "describer" or (not kind and body == "describer"):
        if kind and body:
            options = {**parse_options(body, spec), **options}
        return _describer(options)
    if kind == "openai-vlm":
        from langvad.vision.openai_vlm import OpenAIVLMCaptioner, parse_spec

        return build(OpenAIVLMCaptioner, spec, parse_spec(body), options)
    from langvad.vision.hf_captioner import CAPTIONER_ALIASES, HFCaptioner

    if kind == "hf" or (not kind and (body in CAPTIONER_ALIASES or _is_hf_model_dir(body))):
        return build(HFCaptioner, spec, [body], options)
    raise InputError(
        f"unknown captioner {spec!r}",
        hint="use describer, hf:MODEL (e.g. hf:blip2-opt-2.7b), openai-vlm:MODEL@URL or "
        "ensemble:SPEC1,SPEC2",
    )


def _ensemble(members: list[str], opts: dict[str, Any], spec_text: str) -> Captioner:
    from langvad.vision.ensemble import SEPARATOR, EnsembleCaptioner

    if not members:
        raise InputError(f"ensemble {spec_text!r} has no members", hint="ensemble:SPEC1,SPEC2")
    separator = opts.pop("separator", SEPARATOR)
    built: list[Captioner] = []
    used: set[str] = set()
    try:
        for m in members:
            kind, _, _ = split_spec(m)
            member_opts = {k: v for k, v in opts.items() if k in _member_options(kind, m)}
            used.update(member_opts)
            built.append(load_captioner(m, **member_opts))
    except Exception:
        for b in built:
            b.close()
        raise
    unused = sorted(set(opts) - used)
    if unused:
        for b in built:
            b.close()
        raise InputError(
            f"option(s) {', '.join(unused)} fit no member of ensemble {spec_text!r}",
            hint="give per-member options inside each spec: SPEC?KEY=VALUE",
        )
    return EnsembleCaptioner(built, separator=str(separator))


def _member_options(kind: str, spec: str) -> set[str]:
    """Option names a member of this kind takes (the describer takes whatever it declares)."""
    if kind == "openai-vlm":
        from langvad.vision.openai_vlm import OpenAIVLMCaptioner

        return accepted(OpenAIVLMCaptioner)
    if kind == "describer" or spec == "describer":
        factory = describer_factory()
        if factory is None:
            return set()
        options = getattr(sys.modules[factory.__module__], "DescriberOptions", None)
        if dataclasses.is_dataclass(options):  # load_describer(**options) takes its fields
            return {f.name for f in dataclasses.fields(options)}
        params = inspect.signature(factory).parameters.values()
        return {p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}
    if kind == "ensemble":
        return set()
    from langvad.vision.hf_captioner import HFCaptioner

    return accepted(HFCaptioner)


def load_vision_encoder(spec: str, **opts: Any) -> VisionEncoder:
    """An image/clip/text encoder for ``spec``."""
    kind, body, options = split_spec(spec)
    options.update(opts)
    if kind == "open_clip":
        from langvad.vision.hf_encoder import OpenClipEncoder

        arch, _, pretrained = body.partition("@")
        return build(OpenClipEncoder, spec, [arch, pretrained or None], options)
    from langvad.vision.hf_encoder import ENCODER_ALIASES, HFVisionEncoder

    families = {"hf-clip": "clip", "hf-siglip": "siglip", "hf-xclip": "xclip"}
    if kind in families:
        options.setdefault("family", families[kind])
        return build(HFVisionEncoder, spec, [body], options)
    if kind in ("hf-enc", "hf") or (
        not kind and (body in ENCODER_ALIASES or _is_hf_model_dir(body))
    ):
        return build(HFVisionEncoder, spec, [body], options)
    raise InputError(
        f"unknown vision encoder {spec!r}",
        hint="use hf-clip:MODEL (e.g. hf-clip:openai/clip-vit-base-patch32), hf-siglip:MODEL, "
        "hf-xclip:MODEL, hf-enc:MODEL or open_clip:ARCH@PRETRAINED",
    )
