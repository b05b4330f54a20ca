"""One loaded GGUF model served over an OpenAI-compatible HTTP API (``langvad llm-server``).

``xllamacpp.Server`` embeds llama.cpp's own HTTP server (cpp-httplib): given a host and a
port it listens there itself and answers ``/v1/models``, ``/v1/chat/completions`` (with
``logprobs``/``top_logprobs``, ``response_format`` json_schema, a final assistant message
continued as a prefill), ``/health`` and the rest of llama-server's routes, with
``n_parallel`` slots decoded together (continuous batching). Nothing sits in front of it.

    with LLMServer("smollm2-135m-instruct", port=0) as srv:   # port 0: any free port
        llm = load_llm(srv.spec)                               # openai:NAME@http://…/v1

Every bad input is one clear error, checked before the model is loaded: a non-local host
without a token, a bad or busy port, a missing, unknown or non-GGUF model. A model that
llama.cpp cannot load, or one that is not ready within ``ready_timeout``, is a
:class:`ModelError`. With a token, every route but ``/health`` and ``/v1/models`` needs
``Authorization: Bearer TOKEN`` (llama.cpp answers 401 otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from langvad.errors import InputError, ModelError
from langvad.models.assets import damaged_gguf_hint
from langvad.models.llamacpp import _quiet_llama_logs, import_xllamacpp
from langvad.models.registry import resolve_gguf
from langvad.net import bind_socket, check_bind

__all__ = ["DEFAULT_PORT", "LLMServer"]

DEFAULT_PORT = 8080  # llama-server's
MIN_CTX = 512


class LLMServer:
    """A GGUF model (packaged name, ``.gguf`` path or ``hf:`` spec) behind an HTTP API.

    ``parallel`` requests are decoded together, each in its own slot of ``ctx`` tokens.
    ``prefix_cache`` lets a slot reuse the KV cache of the prompt prefix it shares with its
    previous request: much faster for LAVAD's long shared prompts, but llama.cpp's numbers
    then depend slightly on what the slot served before (the in-process backend's default,
    ``llm_prefix_cache = false``, evaluates every prompt afresh; so does this server's).
    ``deterministic`` (the default) makes a reply independent of the requests decoded beside
    it, so that a run with ``--concurrency 4`` gives exactly the scores (and cache) of a
    sequential one: with llama.cpp's CPU flash attention or its repacked quantised weights
    (CPU "extra" buffer types, whose kernels depend on the batch's shape), a prompt's
    numbers change with where it falls in a batch shared with other slots (measured:
    log-probabilities off by up to 0.35 on SmolLM2 and 0.22 on the 1.5B at 4 in flight);
    both are switched off. The in-process backend keeps both, so this server's
    log-probabilities differ from it by rounding (up to 0.07 measured on SmolLM2; the 1.5B's
    Ped2 scores came out identical, see tests/test_llm_server.py).
    ``port=0`` picks a free port; :attr:`url` says which once started."""

    def __init__(
        self,
        model: str,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        parallel: int = 1,
        token: str | None = None,
        *,
        ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        prefix_cache: bool = False,
        deterministic: bool = True,
        ready_timeout: float = 300.0,
    ) -> None:
        if not 0 <= port <= 65535:
            raise InputError(f"--port {port} is not a TCP port", "Give a number from 1 to 65535")
        if parallel < 1:
            raise InputError(
                f"--parallel {parallel} must be at least 1", "Pass --parallel 1 or more"
            )
        if ctx < MIN_CTX:
            raise InputError(
                f"--ctx {ctx} is too small", f"Pass --ctx {MIN_CTX} or more (default 4096)"
            )
        if threads is not None and threads < 1:
            raise InputError(
                f"--threads {threads} must be at least 1", "Omit it to use the CPU count"
            )
        self.model = model
        self.host = host
        self.port = port
        self.parallel = parallel
        self.token = token or None
        self.ctx = ctx
        self.threads = threads or max(1, min(os.cpu_count() or 1, 8))
        self.seed = seed
        self.prefix_cache = prefix_cache
        self.deterministic = deterministic
        self.ready_timeout = ready_timeout
        self.name = ""  # the served model's name (what /v1/models lists), set by start()
        self.path: Path | None = None
        self._server: Any = None

    # -- addresses -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the OpenAI API (``http://HOST:PORT/v1``)."""
        return f"http://{_url_host(self.host)}:{self.port}/v1"

    @property
    def spec(self) -> str:
        """What to pass to ``--llm`` (``openai:NAME@URL``) to use this server."""
        return f"openai:{self.name}@{self.url}"

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> Self:
        """Check everything, load the model, listen, and return once ``/health`` says ready."""
        if self._server is not None:
            return self
        check_bind(self.host, self.token, exposes="use this LLM server")
        self.path, self.name = resolve_gguf(self.model)  # missing/unknown/not GGUF: ModelError
        if self.port:
            bind_socket(self.host, self.port).close()  # busy port or bad host: InputError
        self._server = self._load(self._params())
        self.port = _port_of(self._server.listening_address, self.port)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop listening and free the model (in-flight requests are cut off)."""
        server, self._server = self._server, None
        del server  # ~Server: stops the HTTP listener, ends the decoding loop, joins both

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------------
    def _params(self) -> Any:
        xlc = import_xllamacpp()
        p = xlc.CommonParams()
        p.model.path = str(self.path)
        p.model_alias = [self.name]
        p.hostnames = [self.host]
        p.port = self.port
        p.api_keys = [self.token] if self.token else []
        p.n_parallel = self.parallel
        p.n_ctx = self.ctx * self.parallel  # split evenly over the slots
        p.n_batch = 512
        p.cpuparams.n_threads = self.threads
        p.cpuparams_batch.n_threads = self.threads
        p.sampling.seed = self.seed
        p.n_gpu_layers = 0
        p.warmup = False
        p.cache_prompt = self.prefix_cache  # a request's own "cache_prompt" overrides it
        if self.deterministic:  # batch-independent kernels (see the class docstring)
            p.flash_attn_type = xlc.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
            p.no_extra_bufts = True
        if not self.prefix_cache:  # no host-memory copies of finished prompts either
            p.cache_ram_mib = 0
            p.cache_idle_slots = False
        p.endpoint_slots = False  # /slots would show other clients' prompts
        p.endpoint_metrics = False
        p.log_json = False
        for attr in ("ui", "webui"):  # no web page: this is an API for langvad workers
            with contextlib.suppress(AttributeError, TypeError):
                setattr(p, attr, False)
        _quiet_llama_logs(p)
        return p

    def _load(self, params: Any) -> Any:
        import xllamacpp as xlc

        try:
            return xlc.Server(params)
        except Exception as e:
            # xllamacpp says only "Failed to init server": it binds first, then loads
            if self.port and _port_busy(self.host, self.port):
                bind_socket(self.host, self.port).close()  # raises the port's InputError
            raise ModelError(
                f"llama.cpp could not load {self.path} ({e})",
                hint=damaged_gguf_hint(self.name, self.path)
                + " (LANGVAD_LLAMA_VERBOSE=1 shows llama.cpp's log)",
            ) from None

    def _wait_ready(self) -> None:
        """Poll ``/health`` (always public) until it answers 200, within ``ready_timeout``."""
        url = f"http://{_url_host(_probe_host(self.host))}:{self.port}/health"
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - local URL
                    if r.status == 200 and json.loads(r.read() or b"{}").get("status") == "ok":
                        return
                    last = f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"  # 503 while loading
            except (OSError, ValueError) as e:
                last = e.__class__.__name__
            if time.monotonic() >= deadline:
                raise ModelError(
                    f"the LLM server for {self.name} was not ready within "
                    f"{self.ready_timeout:g} s ({url}: {last})",
                    hint="the machine may be short of memory or CPU; try a smaller --ctx or model",
                )
            time.sleep(0.1)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _probe_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _port_of(address: str, fallback: int) -> int:
    """The port in xllamacpp's ``listening_address`` (``http://HOST:PORT``)."""
    with contextlib.suppress(ValueError):
        port = urlsplit(str(address)).port
        if port:
            return port
    return fallback


def _port_busy(host: str, port: int) -> bool:
    try:
        bind_socket(host, port).close()
    except InputError:
        return True
    return False
