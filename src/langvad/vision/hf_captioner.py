"""Frame captioners through Hugging Face ``transformers`` (for users online or with a GPU).

Spec ``hf:MODEL`` where MODEL is a Hugging Face id (``Salesforce/blip2-opt-2.7b``), a short
alias (the five BLIP-2 variants of the LAVAD paper: ``blip2-opt-2.7b``, ``blip2-opt-6.7b``,
``blip2-opt-6.7b-coco``, ``blip2-flan-t5-xl``, ``blip2-flan-t5-xxl``; and ``blip-base``,
``blip-large``, ``git-base``, ``git-large``, ``florence2-base``, ``florence2-large``,
``smolvlm-256m``, ``smolvlm-500m``, ``smolvlm2-2.2b``) or a local directory written by
``save_pretrained``. The family is read from the model's config (``model_type``):

- ``blip-2``, ``blip``, ``git``: unconditional captioning (an optional text ``prompt``);
- ``florence2``: a task prompt (default ``<CAPTION>``);
- ``smolvlm``/``idefics3`` and other chat VLMs: the processor's chat template with one image
  and an instruction (default ``Describe this image in one sentence.``).

Generation is greedy (no sampling, ``num_beams=1`` unless set), batched (``batch_size``),
fp16 on CUDA and fp32 on the CPU. The first use of a hub id downloads it into the Hugging
Face cache (huggingface_hub shows the download progress); offline, a clear ModelError says
to pre-download the model or to pass a local path. Needs ``pip install 'langvad[hf]'``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from langvad.errors import InputError, ModelError

CAPTIONER_ALIASES: dict[str, str] = {
    "blip2-opt-2.7b": "Salesforce/blip2-opt-2.7b",
    "blip2-opt-6.7b": "Salesforce/blip2-opt-6.7b",
    "blip2-opt-6.7b-coco": "Salesforce/blip2-opt-6.7b-coco",
    "blip2-flan-t5-xl": "Salesforce/blip2-flan-t5-xl",
    "blip2-flan-t5-xxl": "Salesforce/blip2-flan-t5-xxl",
    "blip-base": "Salesforce/blip-image-captioning-base",
    "blip-large": "Salesforce/blip-image-captioning-large",
    "git-base": "microsoft/git-base-coco",
    "git-large": "microsoft/git-large-coco",
    "florence2-base": "florence-community/Florence-2-base",
    "florence2-large": "florence-community/Florence-2-large",
    "smolvlm-256m": "HuggingFaceTB/SmolVLM-256M-Instruct",
    "smolvlm-500m": "HuggingFaceTB/SmolVLM-500M-Instruct",
    "smolvlm2-2.2b": "HuggingFaceTB/SmolVLM2-2.2B-Instruct",
}

# model_type (from config.json) → captioning family
FAMILIES: dict[str, str] = {
    "blip-2": "blip2",
    "blip": "blip",
    "git": "git",
    "florence2": "florence2",
    "smolvlm": "chat",
    "idefics3": "chat",
}
DEFAULT_PROMPTS: dict[str, str | None] = {
    "blip2": None,
    "blip": None,
    "git": None,
    "florence2": "<CAPTION>",
    "chat": "Describe this image in one sentence.",
}
HF_INSTALL = "pip install 'langvad[hf]'"


# ---- helpers shared with hf_encoder ---------------------------------------------------------


def require_hf() -> tuple[Any, Any]:
    """(torch, transformers), or a ModelError saying how to install them."""
    try:
        import torch
        import transformers
    except ImportError as e:
        raise ModelError(
            f"the Hugging Face vision backends need torch and transformers ({e.name} is missing)",
            hint=HF_INSTALL,
        ) from e
    return torch, transformers


def is_local_ref(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or Path(ref).expanduser().exists()


def resolve_model_ref(ref: str, aliases: dict[str, str]) -> str:
    """Alias → hub id; a local path → its absolute form (it must be a directory)."""
    ref = aliases.get(ref, ref)
    if is_local_ref(ref):
        path = Path(ref).expanduser()
        if not path.is_dir():
            raise ModelError(
                f"model directory {path} not found",
                hint="pass a directory written by save_pretrained, or a Hugging Face model id",
            )
        return str(path.resolve())
    if not re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", ref):
        known = ", ".join(aliases)
        raise InputError(
            f"{ref!r} is neither a Hugging Face model id, a known alias nor a local directory",
            hint=f"write OWNER/NAME (e.g. Salesforce/blip2-opt-2.7b) or an alias: {known}",
        )
    return ref


@contextmanager
def hub_errors(ref: str) -> Iterator[None]:
    """Turn download/loading failures of model ``ref`` into one clear ModelError."""
    try:
        yield
    except ModelError:
        raise
    except Exception as e:  # network, missing repo, offline mode, malformed directory
        text = str(e).strip()
        short = text.splitlines()[0].rstrip(".") if text else e.__class__.__name__
        if is_local_ref(ref):
            raise ModelError(
                f"could not load the model in {ref}: {short}",
                hint="the directory must hold config.json, the processor files and the weights "
                "as written by save_pretrained",
            ) from e
        raise ModelError(
            f"model {ref!r} could not be fetched from the Hugging Face hub or loaded: {short}",
            hint=f"check the id and your network; to run offline, pre-download it once "
            f"(`hf download {ref}`) or pass a local directory path",
        ) from e


def load_config(ref: str, *, revision: str | None, trust_remote_code: bool) -> Any:
    _, transformers = require_hf()
    with hub_errors(ref):
        return transformers.AutoConfig.from_pretrained(
            ref, revision=revision, trust_remote_code=trust_remote_code
        )


def weights_tag(ref: str, config: Any) -> str:
    """Short tag that changes when the weights do: the hub commit, or a local content hash."""
    if not is_local_ref(ref):
        commit = getattr(config, "_commit_hash", None)
        return str(commit)[:12] if commit else "hub"
    h = hashlib.sha256()
    for f in sorted(Path(ref).iterdir()):
        if f.is_file():
            h.update(f"{f.name}:{f.stat().st_size}".encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return h.hexdigest()[:12]


def select_device(device: str) -> str:
    torch, _ = require_hf()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def select_dtype(device: str, dtype: str) -> Any:
    """fp16 on CUDA, fp32 elsewhere, unless ``dtype`` names one (float16/bfloat16/float32)."""
    torch, _ = require_hf()
    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if dtype not in ("float16", "bfloat16", "float32"):
        raise InputError(f"unknown dtype {dtype!r}", hint="use auto, float16, bfloat16 or float32")
    return getattr(torch, dtype)


def to_pil(frames: Sequence[np.ndarray]) -> list[Image.Image]:
    out = []
    for i, f in enumerate(frames):
        a = np.asarray(f)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise InputError(
                f"frame {i} has dtype {a.dtype} and shape {a.shape}",
                hint="frames must be RGB uint8 arrays of shape (H, W, 3)",
            )
        out.append(Image.fromarray(a))
    return out


def move_inputs(inputs: Any, device: str, dtype: Any) -> dict[str, Any]:
    """Tensors to the device; floating ones (pixel values) to the model's dtype."""
    out: dict[str, Any] = {}
    for k, v in dict(inputs).items():
        if hasattr(v, "to"):
            v = v.to(device, dtype=dtype) if v.is_floating_point() else v.to(device)
        out[k] = v
    return out


def batch_ranges(n: int, batch_size: int) -> list[tuple[int, int]]:
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    return [(s, min(n, s + batch_size)) for s in range(0, n, batch_size)]


def progress(total: int, description: str, enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
        disable=not enabled or total <= 1,
    )


def short_hash(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:8]


# ---- the captioner --------------------------------------------------------------------------


def family_of(config: Any) -> str:
    model_type = getattr(config, "model_type", "")
    if model_type in FAMILIES:
        return FAMILIES[model_type]
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return "chat"
    raise ModelError(
        f"model type {model_type!r} is not an image captioning model",
        hint="use BLIP-2, BLIP, GIT, Florence-2, SmolVLM or another image-text-to-text model",
    )


class HFCaptioner:
    """A transformers image-to-text model, loaded on first use."""

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 8,
        max_new_tokens: int = 40,
        num_beams: int = 1,
        prompt: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
        trust_remote_code: bool = False,
        show_progress: bool = True,
        seed: int = 0,
    ) -> None:
        self.ref = resolve_model_ref(model, CAPTIONER_ALIASES)
        self.config = load_config(self.ref, revision=revision, trust_remote_code=trust_remote_code)
        self.family = family_of(self.config)
        batch_ranges(1, batch_size)  # validates
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.prompt = prompt if prompt is not None else DEFAULT_PROMPTS[self.family]
        self.device = select_device(device)
        self.dtype = select_dtype(self.device, dtype)
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.show_progress = show_progress
        self.seed = seed
        name = model if not is_local_ref(self.ref) else Path(self.ref).name
        dt = str(self.dtype).removeprefix("torch.")
        self._identity = (
            f"hf:{name}@{weights_tag(self.ref, self.config)}:{self.family}:{dt}"
            f":p={short_hash(self.prompt)}:n={max_new_tokens}:b={num_beams}"
        )
        self._model: Any = None
        self._processor: Any = None

    @property
    def identity(self) -> str:
        return self._identity

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            _, transformers = require_hf()
            cls = {
                "blip2": transformers.Blip2ForConditionalGeneration,
                "blip": transformers.BlipForConditionalGeneration,
                "git": transformers.GitForCausalLM,
                "florence2": transformers.AutoModelForImageTextToText,
                "chat": transformers.AutoModelForImageTextToText,
            }[self.family]
            if self.family == "florence2" and getattr(self.config, "auto_map", None):
                cls = transformers.AutoModelForCausalLM  # the original remote-code checkpoints
            kw = {"revision": self.revision, "trust_remote_code": self.trust_remote_code}
            with hub_errors(self.ref):
                processor = transformers.AutoProcessor.from_pretrained(self.ref, **kw)
                model = cls.from_pretrained(self.ref, dtype=self.dtype, **kw)
            tokenizer = getattr(processor, "tokenizer", None)
            if tokenizer is not None:
                tokenizer.padding_side = "left"  # batched decoder-only generation
            self._processor, self._model = processor, model.to(self.device).eval()
        return self._model, self._processor

    def _inputs(self, processor: Any, images: list[Image.Image]) -> Any:
        n = len(images)
        if self.family == "chat":
            messages = [
                {
                    "role": "user",
                    "content": [{"type": "image"}, {"type": "text", "text": self.prompt}],
                }
            ]
            text = processor.apply_chat_template(messages, add_generation_prompt=True)
            return processor(
                text=[text] * n, images=[[im] for im in images], return_tensors="pt", padding=True
            )
        if self.prompt or self.family == "blip2":
            # BLIP-2 always gets text, so that the processor (not the config) supplies the
            # language model's start tokens (an empty prompt for plain captioning)
            return processor(
                images=images, text=[self.prompt or ""] * n, return_tensors="pt", padding=True
            )
        return processor(images=images, return_tensors="pt")

    def _generate(self, model: Any, processor: Any, images: list[Image.Image]) -> list[str]:
        torch, _ = require_hf()
        inputs = move_inputs(self._inputs(processor, images), self.device, self.dtype)
        torch.manual_seed(self.seed)
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=self.num_beams,
            )
        ids = inputs.get("input_ids")
        if (
            ids is not None
            and out.shape[1] > ids.shape[1]
            and bool((out[:, : ids.shape[1]] == ids).all())
        ):
            out = out[:, ids.shape[1] :]  # decoder-only: drop the echoed prompt
        texts = processor.batch_decode(out, skip_special_tokens=True)
        return [
            clean_caption(t, self.prompt if self.family != "florence2" else None) for t in texts
        ]

    def caption(self, frames: Sequence[np.ndarray]) -> list[str]:
        images = to_pil(frames)
        if not images:
            return []
        model, processor = self._load()
        ranges = batch_ranges(len(images), self.batch_size)
        captions: list[str] = []
        with progress(len(ranges), f"captioning ({self.family})", self.show_progress) as bar:
            task = bar.add_task("batches", total=len(ranges))
            for s, e in ranges:
                captions.extend(self._generate(model, processor, images[s:e]))
                bar.advance(task)
        return captions

    def close(self) -> None:
        if self._model is not None:
            torch, _ = require_hf()
            self._model = self._processor = None
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()


def clean_caption(text: str, prompt: str | None) -> str:
    """One line without the echoed prompt or a chat role prefix."""
    t = " ".join(text.split())
    if prompt and t.startswith(prompt):
        t = t[len(prompt) :].strip()
    t = re.sub(r"^(assistant|Assistant)\s*:\s*", "", t)
    return t
