"""Image, clip and text encoders (E_I, E_V, E_T) through Hugging Face ``transformers``.

The LAVAD paper uses ImageBind (ViT-H) for all three. ImageBind is not packaged on PyPI and
its weights are licensed for non-commercial use only, so this module substitutes
contrastive image-text models that put images and texts in one space:

- CLIP and SigLIP/SigLIP 2 (``hf-clip:openai/clip-vit-base-patch32``,
  ``hf-siglip:google/siglip-base-patch16-224``; the family is read from the config);
- X-CLIP (``hf-xclip:microsoft/xclip-base-patch32``), a video-text model whose clip
  embedding runs its multi-frame integration transformer over ``num_frames`` frames sampled
  uniformly from the clip;
- OpenCLIP, when ``open_clip_torch`` is installed (``open_clip:ViT-B-32@laion2b_s34b_b79k``).

Clips are embedded either as the (re-normalised) mean of their frames' image embeddings
(``video="mean"``, the default for image models) or by X-CLIP (``video="xclip"``, the
default for X-CLIP models; images then count as clips of one repeated frame, so images,
clips and texts stay in X-CLIP's one space). All outputs are L2-normalised float32 rows.
Needs ``pip install 'langvad[hf]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langvad.errors import InputError, ModelError
from langvad.models.encoders import l2_normalise
from langvad.vision.hf_captioner import (
    batch_ranges,
    hub_errors,
    is_local_ref,
    load_config,
    move_inputs,
    progress,
    require_hf,
    resolve_model_ref,
    select_device,
    select_dtype,
    to_pil,
    weights_tag,
)

ENCODER_ALIASES: dict[str, str] = {
    "clip-b32": "openai/clip-vit-base-patch32",
    "clip-b16": "openai/clip-vit-base-patch16",
    "clip-l14": "openai/clip-vit-large-patch14",
    "siglip-b16": "google/siglip-base-patch16-224",
    "siglip-so400m": "google/siglip-so400m-patch14-384",
    "siglip2-b16": "google/siglip2-base-patch16-224",
    "xclip-b32": "microsoft/xclip-base-patch32",
    "xclip-b16": "microsoft/xclip-base-patch16",
}
FAMILIES = {"clip": "clip", "siglip": "siglip", "siglip2": "siglip", "xclip": "xclip"}
VIDEO_MODES = ("mean", "xclip")


def features(out: Any) -> Any:
    """transformers ≥5 returns a model output from get_*_features; 4.x a tensor."""
    return out if hasattr(out, "shape") else out.pooler_output


def sample_indices(n: int, k: int) -> np.ndarray:
    """k indices spread uniformly over n frames (repeating frames when n < k)."""
    return np.linspace(0, n - 1, k).round().astype(int)


def mean_clip_embeddings(frame_vecs: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Per clip, the re-normalised mean of its frames' (consecutive) embedding rows."""
    bounds = np.cumsum([0, *lengths])
    rows = [frame_vecs[s:e].mean(axis=0) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]
    return l2_normalise(np.stack(rows)) if rows else np.zeros((0, frame_vecs.shape[1]), np.float32)


def check_clips(clips: Sequence[Sequence[np.ndarray]]) -> None:
    for i, c in enumerate(clips):
        if len(c) == 0:
            raise InputError(f"clip {i} has no frames", hint="every clip needs one frame or more")


class HFVisionEncoder:
    """CLIP, SigLIP or X-CLIP through transformers, loaded on first use."""

    def __init__(
        self,
        model: str,
        *,
        family: str = "auto",
        video: str = "auto",
        batch_size: int = 32,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
        show_progress: bool = True,
    ) -> None:
        self.ref = resolve_model_ref(model, ENCODER_ALIASES)
        self.config = load_config(self.ref, revision=revision, trust_remote_code=False)
        model_type = getattr(self.config, "model_type", "")
        if model_type not in FAMILIES:
            raise ModelError(
                f"model {model!r} is a {model_type!r} model, not CLIP, SigLIP or X-CLIP",
                hint="name a CLIP, SigLIP or X-CLIP model (e.g. openai/clip-vit-base-patch32)",
            )
        self.family = FAMILIES[model_type]
        if family != "auto" and family != self.family:
            raise ModelError(
                f"model {model!r} is a {self.family} model, not {family}",
                hint=f"use the spec hf-{self.family}:{model} (or hf-enc:{model} to detect it)",
            )
        self.video = video if video != "auto" else ("xclip" if self.family == "xclip" else "mean")
        if self.video not in VIDEO_MODES:
            raise InputError(f"unknown video mode {video!r}", hint="use video=mean or video=xclip")
        if self.video == "xclip" and self.family != "xclip":
            raise InputError(
                f"video=xclip needs an X-CLIP model, and {model!r} is {self.family}",
                hint="use hf-xclip:microsoft/xclip-base-patch32 (one model for images, clips "
                "and texts), or video=mean",
            )
        batch_ranges(1, batch_size)
        self.batch_size = batch_size
        self.device = select_device(device)
        self.dtype = select_dtype(self.device, dtype)
        self.revision = revision
        self.show_progress = show_progress
        name = model if not is_local_ref(self.ref) else Path(self.ref).name
        dt = str(self.dtype).removeprefix("torch.")
        tag = weights_tag(self.ref, self.config)
        self._identity = f"hf-{self.family}:{name}@{tag}:video={self.video}:{dt}"
        self._model: Any = None
        self._image_processor: Any = None
        self._tokenizer: Any = None

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def num_frames(self) -> int:
        """Frames per clip that X-CLIP's temporal transformer takes."""
        return int(getattr(self.config.vision_config, "num_frames", 8))

    def _load(self) -> Any:
        if self._model is None:
            _, transformers = require_hf()
            cls = {
                "clip": transformers.CLIPModel,
                "siglip": transformers.AutoModel,
                "xclip": transformers.XCLIPModel,
            }[self.family]
            with hub_errors(self.ref):
                self._image_processor = transformers.AutoImageProcessor.from_pretrained(
                    self.ref, revision=self.revision
                )
                self._tokenizer = transformers.AutoTokenizer.from_pretrained(
                    self.ref, revision=self.revision
                )
                model = cls.from_pretrained(self.ref, revision=self.revision, dtype=self.dtype)
            self._model = model.to(self.device).eval()
        return self._model

    def _rows(self, tensor: Any) -> np.ndarray:
        return l2_normalise(tensor.float().cpu().numpy())

    def _image_batch(self, images: list[Any]) -> np.ndarray:
        torch, _ = require_hf()
        model = self._load()
        inputs = move_inputs(
            self._image_processor(images=images, return_tensors="pt"), self.device, self.dtype
        )
        with torch.inference_mode():
            return self._rows(features(model.get_image_features(**inputs)))

    def _video_batch(self, videos: list[list[Any]]) -> np.ndarray:
        torch, _ = require_hf()
        model = self._load()
        inputs = move_inputs(
            self._image_processor(videos, return_tensors="pt"), self.device, self.dtype
        )
        with torch.inference_mode():
            out = model.get_video_features(pixel_values=inputs["pixel_values"])
        return self._rows(features(out))

    def _batched(self, items: list[Any], per_batch: int, what: str, fn: Any) -> np.ndarray:
        ranges = batch_ranges(len(items), per_batch)
        with progress(len(ranges), f"embedding {what} ({self.family})", self.show_progress) as bar:
            task = bar.add_task("batches", total=len(ranges))
            out = []
            for s, e in ranges:
                out.append(fn(items[s:e]))
                bar.advance(task)
        return np.concatenate(out).astype(np.float32)

    def embed_images(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        images = to_pil(frames)
        if not images:
            return np.zeros((0, self.dim), np.float32)
        if self.family == "xclip":
            # X-CLIP's vision tower exchanges messages across frames: a still image goes in
            # as a clip of num_frames copies of itself
            videos = [[im] * self.num_frames for im in images]
            return self._batched(videos, self._clips_per_batch, "images", self._video_batch)
        return self._batched(images, self.batch_size, "images", self._image_batch)

    @property
    def _clips_per_batch(self) -> int:
        return max(1, self.batch_size // self.num_frames)

    def embed_clips(self, clips: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        check_clips(clips)
        if not clips:
            return np.zeros((0, self.dim), np.float32)
        if self.video == "mean":
            frames = [f for c in clips for f in c]
            return mean_clip_embeddings(self.embed_images(frames), [len(c) for c in clips])
        videos = [to_pil([c[i] for i in sample_indices(len(c), self.num_frames)]) for c in clips]
        return self._batched(videos, self._clips_per_batch, "clips", self._video_batch)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        torch, _ = require_hf()
        model = self._load()
        max_len = int(getattr(self.config.text_config, "max_position_embeddings", 64))
        # SigLIP was trained on texts padded to the full length; CLIP/X-CLIP on the longest
        padding = "max_length" if self.family == "siglip" else True
        out = []
        for s, e in batch_ranges(len(texts), self.batch_size):
            tok = self._tokenizer(
                list(texts[s:e]),
                padding=padding,
                truncation=True,
                max_length=max_len,
                return_tensors="pt",
                return_token_type_ids=False,
            )
            tok = move_inputs(tok, self.device, self.dtype)
            with torch.inference_mode():
                out.append(self._rows(features(model.get_text_features(**tok))))
        return np.concatenate(out).astype(np.float32)

    @property
    def dim(self) -> int:
        projection = getattr(self.config, "projection_dim", None)
        if projection:
            return int(projection)
        return int(self.config.text_config.hidden_size)  # SigLIP: no projection

    def close(self) -> None:
        if self._model is not None:
            torch, _ = require_hf()
            self._model = self._image_processor = self._tokenizer = None
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()


class OpenClipEncoder:
    """An OpenCLIP model (``pip install open_clip_torch``); clips are frame means."""

    def __init__(
        self,
        model: str,
        pretrained: str | None = None,
        *,
        batch_size: int = 32,
        device: str = "auto",
        show_progress: bool = True,
    ) -> None:
        try:
            import open_clip
        except ImportError as e:
            raise ModelError(
                "OpenCLIP encoders need the open_clip_torch package",
                hint="pip install open_clip_torch, or use hf-clip:openai/clip-vit-base-patch32",
            ) from e
        self._open_clip = open_clip
        self.model_name, self.pretrained = model, pretrained
        batch_ranges(1, batch_size)
        self.batch_size = batch_size
        self.device = select_device(device)
        self.show_progress = show_progress
        self._identity = f"open_clip:{model}@{pretrained or 'none'}:video=mean"
        self._model: Any = None
        self._preprocess: Any = None
        self._tokenizer: Any = None

    @property
    def identity(self) -> str:
        return self._identity

    def _load(self) -> Any:
        if self._model is None:
            with hub_errors(self.model_name):
                model, _, preprocess = self._open_clip.create_model_and_transforms(
                    self.model_name, pretrained=self.pretrained, device=self.device
                )
                self._tokenizer = self._open_clip.get_tokenizer(self.model_name)
            self._model, self._preprocess = model.eval(), preprocess
        return self._model

    def embed_images(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        torch, _ = require_hf()
        images = to_pil(frames)
        model = self._load()
        out = []
        for s, e in batch_ranges(len(images), self.batch_size):
            batch = torch.stack([self._preprocess(im) for im in images[s:e]]).to(self.device)
            with torch.inference_mode():
                out.append(l2_normalise(model.encode_image(batch).float().cpu().numpy()))
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def embed_clips(self, clips: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        check_clips(clips)
        frames = [f for c in clips for f in c]
        return mean_clip_embeddings(self.embed_images(frames), [len(c) for c in clips])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch, _ = require_hf()
        model = self._load()
        out = []
        for s, e in batch_ranges(len(texts), self.batch_size):
            tokens = self._tokenizer(list(texts[s:e])).to(self.device)
            with torch.inference_mode():
                out.append(l2_normalise(model.encode_text(tokens).float().cpu().numpy()))
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def close(self) -> None:
        self._model = self._preprocess = self._tokenizer = None
