"""Plumbing tests of the online/GPU vision backends (transformers captioners and encoders,
OpenAI-compatible VLM servers, captioner ensembles, the spec registry).

The transformers tests build tiny, randomly initialised models from configs (no hub is
reachable here), save them with ``save_pretrained`` and load them back through the registry
by local path. They check wiring only (shapes, types, batching, determinism, norms, errors),
never caption or embedding quality. The VLM tests talk to a local HTTP server speaking the
OpenAI chat-completions protocol. Frames are real video frames from ../shared/data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langvad.errors import InputError, LLMError, ModelError
from langvad.vision import Captioner, VisionEncoder
from langvad.vision.ensemble import EnsembleCaptioner
from langvad.vision.registry import load_captioner, load_vision_encoder, split_spec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
VIDEO = SHARED / "clips" / "Fighting033_x264_570_841.mp4"
WORDS = "a the man woman car street person walking running on in of with road people fight"


# ---- real frames ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Six real RGB frames (every 20th) of a UCF-Crime clip."""
    if not VIDEO.exists():
        pytest.skip(f"shared data {VIDEO} is missing (clone with ../shared beside the repo)")
    import av

    out = []
    with av.open(str(VIDEO)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 20 == 0:
                out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == 6:
                break
    return out


# ---- tiny random transformers models, saved to disk -----------------------------------------


def _tokenizer(transformers: Any) -> Any:
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS.split(), *letters]
    vocab += ["##" + c for c in letters] + [".", ","]
    return transformers.BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def _vision(**extra: Any) -> dict[str, Any]:
    return dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=16,
        **extra,
    )


def _text(tok: Any, **extra: Any) -> dict[str, Any]:
    return dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=64,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
        pad_token_id=tok.pad_token_id,
        **extra,
    )


def _build(kind: str, out: Path) -> Path:
    torch = pytest.importorskip("torch")
    t = pytest.importorskip("transformers")
    torch.manual_seed(0)
    tok = _tokenizer(t)
    square = {"height": 32, "width": 32}
    clip_proc = t.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=square)
    if kind == "blip":
        cfg = t.BlipConfig(
            vision_config=_vision(),
            text_config=_text(tok, encoder_hidden_size=32, sep_token_id=tok.sep_token_id),
            projection_dim=16,
        )
        model = t.BlipForConditionalGeneration(cfg)
        proc: Any = t.BlipProcessor(
            image_processor=t.BlipImageProcessor(size=square), tokenizer=tok
        )
    elif kind in ("blip2-opt", "blip2-t5"):
        proc = t.Blip2Processor(
            image_processor=t.BlipImageProcessor(size=square), tokenizer=tok, num_query_tokens=4
        )
        n = len(proc.tokenizer) + 4
        small = dict(d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2, vocab_size=n)
        text = (
            t.OPTConfig(**_text(tok, ffn_dim=64, word_embed_proj_dim=32) | {"vocab_size": n})
            if kind == "blip2-opt"
            else t.T5Config(**small, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
        )
        qformer = dict(_text(tok, encoder_hidden_size=32), vocab_size=len(tok))
        cfg = t.Blip2Config(
            vision_config=_vision(),
            qformer_config=qformer,
            text_config=text.to_dict(),
            num_query_tokens=4,
            image_token_index=proc.tokenizer.convert_tokens_to_ids("<image>"),
        )
        model = t.Blip2ForConditionalGeneration(cfg)
    elif kind == "git":
        cfg = t.GitConfig(vision_config=_vision(), **_text(tok))
        model = t.GitForCausalLM(cfg)
        proc = t.GitProcessor(image_processor=clip_proc, tokenizer=tok)
    elif kind == "clip":
        cfg = t.CLIPConfig(text_config=_text(tok), vision_config=_vision(), projection_dim=16)
        model, proc = t.CLIPModel(cfg), None
        clip_proc.save_pretrained(out)
    elif kind == "siglip":
        model, proc = (
            t.SiglipModel(t.SiglipConfig(text_config=_text(tok), vision_config=_vision())),
            None,
        )
        t.SiglipImageProcessor(size=square).save_pretrained(out)
    elif kind == "xclip":
        vision = _vision(num_frames=4, mit_hidden_size=16, mit_intermediate_size=32)
        vision |= dict(mit_num_hidden_layers=1, mit_num_attention_heads=2)
        cfg = t.XCLIPConfig(
            text_config=_text(tok),
            vision_config=vision,
            projection_dim=16,
            prompt_layers=1,
            prompt_attention_heads=2,
        )
        model, proc = t.XCLIPModel(cfg), None
        t.VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size=square).save_pretrained(out)
    else:
        raise AssertionError(kind)
    model.eval().save_pretrained(out)
    if proc is not None:
        proc.save_pretrained(out)
    else:
        tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """tiny(kind) → directory of a tiny random model of that kind (built once per module)."""
    built: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in built:
            built[kind] = _build(kind, tmp_path_factory.mktemp(kind))
        return built[kind]

    yield get


# ---- transformers captioners ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["blip", "blip2-opt", "blip2-t5", "git"])
def test_plumbing_hf_captioner_batches_deterministically(kind: str, tiny: Any, frames: Any) -> None:
    """A tiny random captioner loaded by local path returns one string per frame, the same
    for any batch size and on a second call (greedy decoding)."""
    path = tiny(kind)
    cap = load_captioner(f"hf:{path}?batch_size=4&max_new_tokens=5", show_progress=False)
    assert isinstance(cap, Captioner)
    family = {"blip": "blip", "blip2-opt": "blip2", "blip2-t5": "blip2", "git": "git"}[kind]
    assert f":{family}:float32:" in cap.identity
    first = cap.caption(frames)
    assert len(first) == len(frames) and all(isinstance(c, str) for c in first)
    assert cap.caption(frames) == first
    one = load_captioner(str(path), batch_size=1, max_new_tokens=5, show_progress=False)
    assert one.caption(frames) == first
    assert cap.caption([]) == []
    cap.close()
    cap.close()  # idempotent


def test_plumbing_hf_captioner_identity_tracks_settings(tiny: Any) -> None:
    """Settings that change captions change the identity (cache keys); batch size does not."""
    path = tiny("git")
    a = load_captioner(f"hf:{path}", max_new_tokens=5).identity
    assert a == load_captioner(f"hf:{path}", max_new_tokens=5, batch_size=3).identity
    assert a != load_captioner(f"hf:{path}", max_new_tokens=6).identity
    assert a != load_captioner(f"hf:{path}", max_new_tokens=5, prompt="a photo of").identity


def test_plumbing_hf_captioner_rejects_bad_frames_and_models(tiny: Any) -> None:
    """Wrong frame arrays, non-captioning models and bad options fail with clear errors."""
    cap = load_captioner(f"hf:{tiny('git')}", show_progress=False)
    with pytest.raises(InputError, match="RGB uint8"):
        cap.caption([np.zeros((8, 8), np.uint8)])
    with pytest.raises(ModelError, match="not an image captioning model"):
        load_captioner(f"hf:{tiny('clip')}")
    with pytest.raises(InputError, match="unknown option"):
        load_captioner(f"hf:{tiny('git')}", batchsize=2)


def test_plumbing_hf_offline_hub_id_gives_clear_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub id that cannot be fetched (offline) names the id and says how to go offline."""
    pytest.importorskip("transformers")
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    for load, spec in [
        (load_captioner, "hf:langvad-tests/no-such-captioner"),
        (load_vision_encoder, "hf-clip:langvad-tests/no-such-encoder"),
    ]:
        with pytest.raises(ModelError) as err:
            load(spec)
        text = str(err.value)
        assert "langvad-tests/no-such-" in text and "could not be fetched" in text
        assert "pre-download" in text and "local directory" in text


def test_plumbing_hf_missing_local_dir() -> None:
    with pytest.raises(ModelError, match="not found"):
        load_captioner("hf:./no/such/model-dir")


# ---- transformers encoders ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clip", "siglip", "xclip"])
def test_plumbing_hf_encoder_shapes_norms_batching(kind: str, tiny: Any, frames: Any) -> None:
    """Images, clips and texts come out as (n, d) L2-normalised float32 rows in one space,
    independent of the batch size."""
    enc = load_vision_encoder(f"hf-{kind}:{tiny(kind)}", batch_size=8, show_progress=False)
    assert isinstance(enc, VisionEncoder)
    images = enc.embed_images(frames)
    clips = enc.embed_clips([frames[:3], frames[1:], frames[:1]])
    texts = enc.embed_texts(["a man walking on the street", "", "people fight"])
    d = images.shape[1]
    assert images.shape == (len(frames), d) and clips.shape == (3, d) and texts.shape == (3, d)
    for arr in (images, clips, texts):
        assert arr.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(arr, axis=1), 1.0, atol=1e-5)
    small = load_vision_encoder(str(tiny(kind)), batch_size=1, show_progress=False)
    np.testing.assert_allclose(small.embed_images(frames), images, atol=1e-5)
    np.testing.assert_allclose(small.embed_texts(["people fight"]), texts[2:], atol=1e-5)
    assert enc.embed_images([]).shape == (0, d)
    enc.close()


@pytest.mark.parametrize("kind", ["clip", "xclip"])
def test_plumbing_mean_mode_clip_is_mean_of_frames(kind: str, tiny: Any, frames: Any) -> None:
    """video=mean: a clip embedding is the re-normalised mean of its frames' embeddings."""
    enc = load_vision_encoder(f"hf-enc:{tiny(kind)}", video="mean", show_progress=False)
    assert "video=mean" in enc.identity
    clip = enc.embed_clips([frames[:4]])[0]
    mean = enc.embed_images(frames[:4]).mean(axis=0)
    np.testing.assert_allclose(clip, mean / np.linalg.norm(mean), atol=1e-5)


def test_plumbing_xclip_video_mode(tiny: Any, frames: Any) -> None:
    """video=xclip (X-CLIP's default) runs the temporal model: it differs from the frame mean,
    and clips shorter or longer than its num_frames both work."""
    enc = load_vision_encoder(f"hf-xclip:{tiny('xclip')}", show_progress=False)
    assert "video=xclip" in enc.identity
    clips = [frames[:2], frames]
    video = enc.embed_clips(clips)
    mean = load_vision_encoder(f"hf-xclip:{tiny('xclip')}", video="mean").embed_clips(clips)
    assert video.shape == mean.shape
    assert not np.allclose(video, mean, atol=1e-4)
    np.testing.assert_allclose(enc.embed_clips(clips), video, atol=1e-6)


def test_plumbing_encoder_spec_errors(tiny: Any, frames: Any) -> None:
    with pytest.raises(ModelError, match="hf-xclip"):
        load_vision_encoder(f"hf-clip:{tiny('xclip')}")
    with pytest.raises(InputError, match="X-CLIP"):
        load_vision_encoder(f"hf-clip:{tiny('clip')}", video="xclip")
    with pytest.raises(ModelError, match="not CLIP"):
        load_vision_encoder(f"hf-enc:{tiny('git')}")
    enc = load_vision_encoder(f"hf-clip:{tiny('clip')}")
    with pytest.raises(InputError, match="no frames"):
        enc.embed_clips([frames[:2], []])
    with pytest.raises(InputError, match="unknown vision encoder"):
        load_vision_encoder("nope:thing")


def test_plumbing_open_clip_missing_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without open_clip_torch, an open_clip spec says what to install."""
    monkeypatch.setitem(sys.modules, "open_clip", None)
    with pytest.raises(ModelError, match="open_clip_torch"):
        load_vision_encoder("open_clip:ViT-B-32@laion2b_s34b_b79k")


# ---- OpenAI-compatible VLM server -----------------------------------------------------------


class FakeVLM:
    """A local chat-completions server: replies ``<prompt word> <hash of the image bytes>``,
    after failing the first ``fail`` requests with ``status``."""

    def __init__(self, fail: int = 0, status: int = 500) -> None:
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.fail, self.status = fail, status
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.requests.append(body)
                    owner.auth.append(self.headers.get("Authorization", ""))
                    failing = owner.fail > 0
                    owner.fail -= 1
                if failing:
                    self._send(owner.status, {"error": {"message": "boom", "type": "server"}})
                    return
                self._send(200, completion(reply_for(body)))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def image_parts(body: dict[str, Any]) -> tuple[str, bytes]:
    (message,) = body["messages"]
    text = next(p["text"] for p in message["content"] if p["type"] == "text")
    url = next(p["image_url"]["url"] for p in message["content"] if p["type"] == "image_url")
    assert url.startswith("data:image/jpeg;base64,")
    return text, base64.b64decode(url.split(",", 1)[1])


def reply_for(body: dict[str, Any]) -> str:
    text, jpeg = image_parts(body)
    return f"{text.split()[0].lower()} {hashlib.sha1(jpeg).hexdigest()[:8]}"


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@pytest.fixture
def vlm() -> Iterator[Any]:
    servers: list[FakeVLM] = []

    def start(**kw: Any) -> FakeVLM:
        servers.append(FakeVLM(**kw))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _expected(frames: list[np.ndarray], word: str) -> list[str]:
    from PIL import Image

    from langvad.vision.openai_vlm import jpeg_data_url

    urls = [jpeg_data_url(Image.fromarray(f)) for f in frames]
    return [
        f"{word} {hashlib.sha1(base64.b64decode(u.split(',')[1])).hexdigest()[:8]}" for u in urls
    ]


def test_plumbing_vlm_sends_base64_jpegs_in_order(
    vlm: Any, frames: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each frame goes out as a base64 JPEG image_url part with the prompt, at temperature 0
    with a fixed seed and the API key; captions come back in frame order despite concurrency."""
    monkeypatch.setenv("LANGVAD_API_KEY", "secret-key")
    server = vlm()
    cap = load_captioner(f"openai-vlm:llava@{server.url}", concurrency=3, show_progress=False)
    assert isinstance(cap, Captioner)
    assert cap.identity.startswith(f"openai-vlm:llava@{server.url}")
    out = cap.caption(frames)
    assert out == _expected(frames, "describe")
    assert len(server.requests) == len(frames)
    for body in server.requests:
        assert body["model"] == "llava" and body["temperature"] == 0 and body["seed"] == 0
        image_parts(body)
    assert set(server.auth) == {"Bearer secret-key"}
    custom = load_captioner(f"openai-vlm:llava@{server.url}?prompt=Caption this frame.")
    assert custom.caption(frames[:2]) == _expected(frames[:2], "caption")
    assert custom.identity != cap.identity
    cap.close()


def test_plumbing_vlm_retries_server_errors(vlm: Any, frames: Any) -> None:
    """Two HTTP 500s, then success: retried with backoff, captions complete."""
    server = vlm(fail=2)
    cap = load_captioner(
        f"openai-vlm:m@{server.url}", concurrency=1, backoff=0.01, retries=3, show_progress=False
    )
    assert cap.caption(frames[:2]) == _expected(frames[:2], "describe")
    assert len(server.requests) == 4


def test_plumbing_vlm_errors_are_clear(vlm: Any, frames: Any) -> None:
    """A server that keeps failing, refuses the request (4xx, not retried) or is down raises
    an LLMError naming the URL and what to do."""
    server = vlm(fail=10)
    cap = load_captioner(f"openai-vlm:m@{server.url}", backoff=0.01, retries=1, concurrency=1)
    with pytest.raises(LLMError, match="HTTP 500 after 2 attempts") as err:
        cap.caption(frames[:1])
    assert server.url in str(err.value)
    bad = vlm(fail=10, status=400)
    with pytest.raises(LLMError, match="refused the request") as err:
        load_captioner(f"openai-vlm:m@{bad.url}", backoff=0.01).caption(frames[:1])
    assert len(bad.requests) == 1 and "model" in err.value.hint
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    down = load_captioner(f"openai-vlm:m@{url}", backoff=0.01, retries=1, timeout=5)
    with pytest.raises(LLMError, match="cannot reach") as err:
        down.caption(frames[:2])
    assert url in str(err.value) and "start the server" in err.value.hint
    with pytest.raises(InputError, match="openai-vlm:MODEL@"):
        load_captioner("openai-vlm:no-url-here")


# ---- ensembles and the registry -------------------------------------------------------------


def test_plumbing_ensemble_pools_member_captions(vlm: Any, frames: Any, tiny: Any) -> None:
    """Each frame gets one caption per member (caption_pool) and their join (caption)."""
    server = vlm()
    spec = (
        f"ensemble:openai-vlm:a@{server.url}?prompt=Alpha,"
        f"openai-vlm:b@{server.url}?prompt=Beta,hf:{tiny('git')}?max_new_tokens=4"
    )
    ens = load_captioner(spec, show_progress=False)
    assert isinstance(ens, EnsembleCaptioner) and isinstance(ens, Captioner)
    assert ens.identity.startswith("ensemble[openai-vlm:a@") and ":git:" in ens.identity
    pool = ens.caption_pool(frames[:3])
    git = load_captioner(f"hf:{tiny('git')}", max_new_tokens=4).caption(frames[:3])
    expected = zip(_expected(frames[:3], "alpha"), _expected(frames[:3], "beta"), git, strict=True)
    assert pool == [list(e) for e in expected]
    assert ens.caption(frames[:3]) == [" | ".join(p) for p in pool]
    listed = load_captioner([f"openai-vlm:a@{server.url}?prompt=Alpha", f"hf:{tiny('git')}"])
    assert [len(p) for p in listed.caption_pool(frames[:2])] == [2, 2]
    with pytest.raises(InputError, match="fit no member"):
        load_captioner(f"ensemble:openai-vlm:a@{server.url}", batch_size=2)
    ens.close()


def test_plumbing_describer_spec_maps_to_its_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    """``describer`` and ``describer:K=V`` call langvad.vision.describer.load_describer."""
    calls: list[dict[str, Any]] = []

    class Fake:
        identity = "describer-fake"

        def caption(self, frames: Any) -> list[str]:
            return ["x" for _ in frames]

        def close(self) -> None:
            pass

    def load_describer(**options: Any) -> Fake:
        calls.append(options)
        return Fake()

    module = types.ModuleType("langvad.vision.describer")
    module.load_describer = load_describer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langvad.vision.describer", module)
    assert load_captioner("describer").identity == "describer-fake"
    load_captioner("describer:threads=2&tags=false", detail="high")
    load_captioner("describer?threads=3")
    assert calls == [{}, {"threads": 2, "tags": False, "detail": "high"}, {"threads": 3}]


def test_plumbing_spec_parsing() -> None:
    assert split_spec("hf:Salesforce/blip2-opt-2.7b?batch_size=4&dtype=float16") == (
        "hf",
        "Salesforce/blip2-opt-2.7b",
        {"batch_size": 4, "dtype": "float16"},
    )
    assert split_spec("/models/blip")[0] == ""
    with pytest.raises(InputError, match="KEY=VALUE"):
        split_spec("hf:x?batch_size")
    with pytest.raises(InputError, match="unknown captioner"):
        load_captioner("whisper:tiny")


# ---- the runner with transformers backends ---------------------------------------------------


def test_plumbing_runner_with_hf_captioner_and_clip_encoder(
    tiny: Any, smollm: Any, encoder: Any, tmp_path: Path
) -> None:
    """The whole pipeline on a real clip with a (tiny, random) BLIP captioner and CLIP
    encoder: frames are captioned, cleaning and refinement use image/clip embeddings (no text
    fallback), and a second run takes captions and embeddings from the cache."""
    from langvad.config import Config
    from langvad.engine.runner import Runner
    from langvad.source import open_source
    from langvad.store import Store

    if not VIDEO.exists():
        pytest.skip(f"shared data {VIDEO} is missing")
    cfg = Config(
        llm="smollm2-135m-instruct",
        captioner=f"hf:{tiny('blip')}",
        vision_encoder=f"hf-clip:{tiny('clip')}",
        stride=60,
        window_seconds=2.0,
        window_frames=3,
        summary_max_tokens=16,
        explain=False,
    )
    store = Store(tmp_path / "c.sqlite")
    src = open_source(VIDEO)
    first = Runner(cfg, store=store, llm=smollm, encoder=encoder, progress=False).run(src)
    prov = first.provenance
    assert prov["models"]["vision_encoder"] and not prov["fallbacks"]
    assert prov["usage"]["captioner_calls"] > 0
    assert len(first.scores) == src.n_frames and all(0 <= s <= 1 for s in first.scores)
    assert all(c.strip() for w in first.windows for c in w.captions)
    again = Runner(cfg, store=store, llm=smollm, encoder=encoder, progress=False).run(src)
    assert again.provenance["usage"]["captioner_calls"] == 0
    assert again.provenance["usage"]["llm_calls"] == 0
    assert again.scores == first.scores
