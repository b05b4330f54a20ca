"""Binding a local HTTP server (``langvad serve``, ``langvad llm-server``): no public bind
without a token, a port in range, and one clear error when the address is taken."""

from __future__ import annotations

import errno
import socket

from langvad.errors import InputError

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_bind(host: str, token: str | None, exposes: str = "read the runs") -> None:
    """Raise :class:`InputError` for a non-local bind without a token."""
    if host not in LOCAL_HOSTS and not token:
        raise InputError(
            f"Refusing to serve on {host} without a token: anyone who can reach it could {exposes}",
            "Pass --token SECRET (or set LANGVAD_TOKEN), or bind to 127.0.0.1",
        )


def check_port(port: int) -> None:
    """Raise :class:`InputError` unless ``port`` is a TCP port (1..65535)."""
    if not 1 <= port <= 65535:
        raise InputError(
            f"--port {port} is not a TCP port", "Give a number from 1 to 65535 (default 8000)"
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; :class:`InputError` when that fails."""
    check_port(port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise _bind_error(host, port, e) from None
    return sock


def _bind_error(host: str, port: int, e: OSError) -> InputError:
    where = f"{host}:{port}"
    if isinstance(e, socket.gaierror):
        return InputError(f"Cannot serve on {where}: unknown host {host!r}", "Check --host")
    if e.errno == errno.EADDRINUSE:
        return InputError(
            f"Cannot serve on {where}: the port is already in use",
            "Stop the program using it or pass another --port",
        )
    if e.errno == errno.EACCES:
        return InputError(
            f"Cannot serve on {where}: not allowed to use port {port}",
            "Pass a --port above 1023",
        )
    if e.errno == errno.EADDRNOTAVAIL:
        return InputError(
            f"Cannot serve on {where}: {host} is not an address of this machine",
            "Pass --host 127.0.0.1 or one of this machine's addresses",
        )
    return InputError(f"Cannot serve on {where}: {e.strerror or e}", "Check --host and --port")
