"""``langvad llm-server``: serve one GGUF model over an OpenAI-compatible HTTP API, so that
many ``langvad`` workers share one loaded model (``--llm openai:NAME@URL``).

The line to use (``openai:NAME@URL``) is printed alone on stdout once the model is loaded and
the port answers; everything else goes to stderr. Ctrl+C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.console import Console

from langvad.config import DEFAULT_LLM
from langvad.errors import LangvadError
from langvad.models.llm_server import DEFAULT_PORT, LLMServer
from langvad.serve.hostcheck import check_token

__all__ = ["llm_server"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
err = Console(stderr=True)


def llm_server(
    model: Annotated[
        str, typer.Option(help="packaged model name, .gguf path or hf:OWNER/REPO/FILE.gguf")
    ] = DEFAULT_LLM,
    host: Annotated[
        str, typer.Option(help="address to bind; anything but localhost needs --token")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = DEFAULT_PORT,
    parallel: Annotated[
        int, typer.Option(help="requests decoded together (slots), each with --ctx tokens")
    ] = 1,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="LANGVAD_TOKEN",
            help="API key (16+ characters) every request must carry as "
            "'Authorization: Bearer TOKEN' (clients: set LANGVAD_API_KEY)",
        ),
    ] = None,
    ctx: Annotated[int, typer.Option(help="context size of each slot, in tokens")] = 4096,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads (default: CPU count, at most 8)")
    ] = None,
) -> None:
    """Serve a GGUF LLM over an OpenAI-compatible API (/v1/chat/completions, /v1/models,
    /health) for `langvad detect --llm openai:NAME@URL`."""
    try:
        check_token(token)  # before the model loads: a short key guards nothing
        server = LLMServer(model, host, port, parallel, token, ctx=ctx, threads=threads)
        with err.status(f"loading {model}", spinner="dots"):
            server.start()
    except LangvadError as e:
        from langvad.cli.fail import _fail

        raise _fail(e) from None
    except KeyboardInterrupt:
        err.print("interrupted before the model was served")
        raise typer.Exit(130) from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
    try:
        slots = f"{parallel} parallel slot{'s' if parallel > 1 else ''} of {ctx} tokens"
        err.print(f"serving {server.name} at [bold]{server.url}[/] ({slots}; Ctrl+C to stop)")
        if server.token:
            err.print("clients must send the token: set LANGVAD_API_KEY to it")
        typer.echo(server.spec)  # stdout: the --llm value, alone, for scripts
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    err.print("stopped")


def main() -> None:  # pragma: no cover - ``python -m langvad.cli.llm_server``
    app = typer.Typer(add_completion=False)
    app.command()(llm_server)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
