"""``langvad serve`` against DNS rebinding (issue 29): it answers only the bound address and
the names it is told to allow, and its token is long enough to guard it. Also: a file given
as the runs folder, and the llm-server's bind warning that names what it exposes."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from langvad.errors import InputError
from langvad.serve import check_bind, create_app
from langvad.serve.hostcheck import MIN_TOKEN_CHARS, allowed_hosts, check_token, host_allowed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return run_cli(*args, cache=None, timeout=timeout, drop_env=("LANGVAD_TOKEN",))


@contextlib.contextmanager
def serving(runs: Path, *extra: str) -> Iterator[int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "LANGVAD_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "langvad.cli", "serve", str(runs), "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _get(port: int, host: str) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest("GET", "/", skip_host=True)
    c.putheader("Host", host)
    c.endheaders()
    status = c.getresponse().status
    c.close()
    return status


def test_serve_refuses_a_foreign_host_header(tmp_path: Path) -> None:
    with serving(tmp_path) as port:
        assert _get(port, f"127.0.0.1:{port}") == 200
        assert _get(port, f"localhost:{port}") == 200
        for foreign in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", ""):
            assert _get(port, foreign) == 421, foreign


def test_allow_host_adds_a_name(tmp_path: Path) -> None:
    with serving(tmp_path, "--allow-host", "box.lan") as port:
        assert _get(port, f"box.lan:{port}") == 200
        assert _get(port, "evil.example") == 421


@pytest.mark.parametrize("token", ["a", "short-token", "x" * (MIN_TOKEN_CHARS - 1)])
def test_short_token_is_refused_and_not_printed(tmp_path: Path, token: str) -> None:
    r = _cli("serve", str(tmp_path), "--port", str(_free_port()), "--token", token)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    said = " ".join(r.stderr.split())
    assert f"at least {MIN_TOKEN_CHARS} are needed" in said and f"?token={token}" not in said


def test_a_file_given_to_serve_says_file(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    f.write_text("{}")
    r = _cli("serve", str(f), "--port", str(_free_port()))
    assert r.returncode == 2 and "is a file, not a folder of runs" in " ".join(r.stderr.split())


def test_llm_server_bind_message_names_the_llm_server() -> None:
    with pytest.raises(InputError) as e:
        check_bind("0.0.0.0", None, exposes="use this LLM server")
    assert "use this LLM server" in e.value.message and "runs" not in e.value.message


_name = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True)


@given(_name, st.integers(1, 65535))
def test_only_local_names_pass_a_local_bind(name: str, port: int) -> None:
    allowed = allowed_hosts("127.0.0.1")
    ok = host_allowed(f"{name}:{port}", allowed)
    assert ok == (name == "localhost")


@given(_name)
def test_allowed_names_pass_case_and_port_insensitive(name: str) -> None:
    allowed = allowed_hosts("127.0.0.1", [name])
    assert host_allowed(name.upper() + ":8000", allowed)
    assert host_allowed("[::1]:8000", allowed) and host_allowed("127.0.0.1", allowed)
    assert allowed_hosts("0.0.0.0") is None  # a wildcard bind: the token guards it


def test_create_app_checks_host_with_the_test_client(tmp_path: Path) -> None:
    app = create_app(tmp_path, hosts=allowed_hosts("127.0.0.1"))
    assert TestClient(app, base_url="http://evil.example").get("/").status_code == 421
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/").status_code == 200


def test_token_length() -> None:
    check_token(None)
    check_token("k" * MIN_TOKEN_CHARS)
    with pytest.raises(InputError, match="--token is 1 characters"):
        check_token("a")
