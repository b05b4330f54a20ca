"""``langvad ask RUN_DIR "QUESTION"``: answer a question about a finished run, with times."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from langvad.errors import LangvadError

err = Console(stderr=True)


def ask(
    run_dir: Annotated[Path, typer.Argument(help="run folder holding result.json")],
    question: Annotated[
        str, typer.Argument(help="the question, e.g. 'when does the fight start?'")
    ],
    start: Annotated[
        float | None, typer.Option("--from", help="only this part of the video: from (seconds)")
    ] = None,
    end: Annotated[
        float | None, typer.Option("--to", help="only this part of the video: to (seconds)")
    ] = None,
    llm: Annotated[
        str | None, typer.Option(help="LLM to answer with (default: the run's own LLM)")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="artefact cache file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the answer as JSON")] = False,
) -> None:
    """Answer QUESTION from the run's own evidence (descriptions, detector findings,
    segments): the answer, the time ranges it rests on, and a confidence. "not visible in the
    evidence" when the run's evidence does not say."""
    from langvad.ask import Asker, load_run
    from langvad.store import Store

    try:
        result = load_run(run_dir)
        asker = Asker(llm_spec=llm, store=Store(cache) if cache else None)
        with err.status("answering from the run's evidence", spinner="dots"):
            answer = asker.ask(result, question, start=start, end=end)
    except (LangvadError, KeyboardInterrupt) as e:
        from langvad.cli.fail import _fail

        raise _fail(e) from None
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    typer.echo(answer.answer)
    if answer.ranges:
        spans = ", ".join(f"{_mmss(r.start)}–{_mmss(r.end)}" for r in answer.ranges)
        typer.echo(f"when: {spans}")
    typer.echo(f"confidence: {answer.confidence:.2f}")
    err.print(
        f"from {len(answer.evidence)} evidence item(s); LLM calls {asker.llm_calls} "
        f"(cache hits {asker.cache_hits})"
    )


def _mmss(seconds: float) -> str:
    m, s = divmod(round(max(0.0, seconds)), 60)
    return f"{m:02d}:{s:02d}"
