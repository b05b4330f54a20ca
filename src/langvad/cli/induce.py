"""``langvad induce``: write a camera's rules of normality from its normal footage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from langvad.errors import InputError, LangvadError, LLMError
from langvad.fileio import write_atomic
from langvad.messages import llm_calls_text

MAX_ITEMS = 100  # normal items kept / abnormal events asked for: more is a typo

err = Console(stderr=True)
out = Console()


def induce(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS...", help="normal footage: video files, frame folders or captions files"
        ),
    ],
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="rules file to write (Markdown; default: INPUT.rules.md beside the first input)",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="start from a preset's rules (its abnormal list comes first)"),
    ] = None,
    scene: Annotated[
        str | None, typer.Option(help="what the camera films (else the LLM writes it)")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="frame rate of captions-only inputs")] = None,
    per_second: Annotated[
        float, typer.Option(help="frames described per second of video (videos only)")
    ] = 1.0,
    max_normal: Annotated[int, typer.Option(help="most normal items to keep (0..100)")] = 12,
    n_abnormal: Annotated[
        int, typer.Option(help="abnormal events to ask the LLM for (1..100)")
    ] = 8,
    llm: Annotated[str | None, typer.Option(help="LLM name, .gguf path or spec")] = None,
    cache: Annotated[Path | None, typer.Option(help="artefact cache file")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Induce rules (scene, normal, abnormal) from NORMAL footage and write them as an editable
    Markdown file; read it, edit it, then pass it to detect or eval with --rules FILE."""
    from langvad.config import preset_config
    from langvad.engine.runner import Runner
    from langvad.rules import Rules, parse_rules, render_rules, rules_of_config
    from langvad.source import open_source
    from langvad.stages.induce import induce_rules
    from langvad.stages.windows import centre_frames_by_fps
    from langvad.store import Store

    try:
        if per_second <= 0:
            raise InputError("--per-second must be > 0", hint="e.g. --per-second 1")
        for flag, value, low, example in (
            ("--max-normal", max_normal, 0, 12),
            ("--n-abnormal", n_abnormal, 1, 8),
        ):
            if not low <= value <= MAX_ITEMS:
                raise InputError(
                    f"{flag} {value}: must be between {low} and {MAX_ITEMS}",
                    hint=f"e.g. {flag} {example}",
                )
        out_path = out_path or default_rules_path(inputs[0])
        _check_writable(out_path)
        sources = [open_source(p, None, fps) for p in inputs]  # every input checked first
        cfg = preset_config(preset or "ucf", None, llm=llm)
        base: Rules | None = rules_of_config(cfg) if preset else None
        runner = Runner(cfg, store=Store(cache) if cache else None, progress=not quiet)
        descriptions: list[str] = []
        for src in sources:
            if src.captions is not None:
                descriptions += [t for t in src.captions.per_frame if t]
            else:
                frames = centre_frames_by_fps(list(src.timestamps), per_second)
                got = runner.describe(src, frames)
                descriptions += [got[f] for f in frames]
        if not descriptions:
            raise InputError("the inputs hold no description", hint="give normal footage")

        def chat(messages: list[dict[str, str]], max_tokens: int) -> str:
            return runner.chat("induce", messages, max_tokens)

        rules = induce_rules(
            descriptions,
            embed=runner.embed,
            chat=chat,
            base=base,
            scene=scene or "",
            max_normal=max_normal,
            n_abnormal=n_abnormal,
        )
        if not rules.abnormal:
            raise LLMError(
                "the LLM proposed no abnormal event that differs from the normal footage",
                hint="start from a preset (--preset) or write the '# Abnormal' list yourself",
            )
        header = (
            f"induced by langvad from {len(descriptions)} descriptions of "
            f"{len(sources)} input(s); edit freely, then use --rules {out_path.name}"
        )
        text = render_rules(rules, header=header)
        parse_rules(text, source=str(out_path))  # what we write reads back
        write_atomic(out_path, text)
    except (LangvadError, KeyboardInterrupt) as e:
        from langvad.cli.fail import _fail

        raise _fail(e) from None
    out.print(text)
    out.print(
        f"wrote {out_path} ({len(rules.normal)} normal, {len(rules.abnormal)} abnormal); "
        + llm_calls_text(runner.usage.llm_calls, runner.usage.cache_hits)
    )


def default_rules_path(first_input: Path) -> Path:
    """Where induce writes when not told: ``NAME.rules.md`` beside the first input (never
    into the current folder by surprise)."""
    p = Path(first_input)
    name = p.name.rstrip("/") or "rules"
    stem = name if p.is_dir() else p.stem
    return p.parent / f"{stem}.rules.md"


def _check_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"--out {path} is a folder", hint="name a file, e.g. rules.md")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise InputError(
            f"cannot write {path}: folder {parent} does not exist or is not writable",
            hint="create the folder or choose another --out",
        )
