"""Which ``Host:`` a local web server answers, and how long its token must be.

A server on 127.0.0.1 without a token is reachable by any web page the user opens through DNS
rebinding: the page's own name is re-pointed at 127.0.0.1, and its requests then carry
``Host: evil.example``. Answering only the bound address and the names the user allows
(``--allow-host``) closes that door. A wildcard bind (0.0.0.0, ::) always has a token."""

from __future__ import annotations

from collections.abc import Iterable

from langvad.errors import InputError

LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
MIN_TOKEN_CHARS = 16


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The host names a server bound to ``bind`` answers; None: any (a wildcard bind, which
    is guarded by its token, unless names are given)."""
    names = {normal_host(n) for n in extra if n.strip()}
    bind = normal_host(bind)
    if bind in WILDCARDS:
        return frozenset(names | LOCAL_NAMES) if names else None
    names.add(bind)
    if bind in LOCAL_NAMES:
        names |= LOCAL_NAMES
    return frozenset(names)


def normal_host(value: str) -> str:
    """``Example.COM:8000`` → ``example.com``; ``[::1]:8000`` → ``::1``."""
    v = value.strip().lower()
    if v.startswith("["):
        return v[1 : v.find("]")] if "]" in v else v
    if v.count(":") == 1:
        v = v.split(":", 1)[0]
    return v.rstrip(".")


def host_allowed(header: str | None, allowed: frozenset[str] | None) -> bool:
    if allowed is None:
        return True
    return bool(header) and normal_host(header or "") in allowed


def check_token(token: str | None, flag: str = "--token") -> None:
    """A token of at least MIN_TOKEN_CHARS characters (it is all that guards the server)."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise InputError(
            f"{flag} is {len(token)} characters long: at least {MIN_TOKEN_CHARS} are needed",
            'use a long random secret, e.g. --token $(python -c "import secrets; '
            'print(secrets.token_urlsafe(24))")',
        )
