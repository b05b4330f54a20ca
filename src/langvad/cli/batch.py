"""Detection over many inputs: the input list, shard selection, one run folder per input, and
the summary table (printed, and written as ``summary.csv`` + ``summary.json``).

A batch is several inputs, a folder of inputs (videos, frame folders, captions files; a folder
holding images is one frame-folder input, as before), or any input with ``--shard``/``--ray``.
Each input gets ``--out/<stem>`` (``-2``, ``-3``… when stems repeat), named over the whole
sorted list before any shard is taken, so shards write the same folders as a whole run. One
bad input is a failed row; the others still run."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from langvad.config import Config
from langvad.errors import InputError, LangvadError
from langvad.eval.datasets.base import VIDEO_EXTENSIONS, natural_key
from langvad.fileio import write_atomic
from langvad.source import CAPTION_SUFFIXES
from langvad.video import IMAGE_EXTENSIONS

T = TypeVar("T")
Shard = tuple[int, int]

SHARD_HINT = "give the shard as i/n with 0 <= i < n, e.g. --shard 0/2 and --shard 1/2"


# -- shards ----------------------------------------------------------------------------------
def parse_shard(spec: str | None) -> Shard | None:
    """``"i/n"`` → ``(i, n)``; None stays None. An InputError unless ``0 <= i < n``."""
    if spec is None:
        return None
    m = re.fullmatch(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*", spec)
    if m is None:
        raise InputError(f"--shard {spec[:40]!r} is not of the form i/n", hint=SHARD_HINT)
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise InputError(f"--shard {i}/{n}: the shard index must be 0 <= i < n", hint=SHARD_HINT)
    return i, n


def select_shard(items: Sequence[T], shard: Shard | None, key: Callable[[T], Any]) -> list[T]:
    """``items`` sorted by ``key``, then every n-th from the i-th (round-robin by index): the
    shards ``0/n .. n-1/n`` are disjoint and together hold every item exactly once. No shard:
    all items, in their own order."""
    if shard is None:
        return list(items)
    return sorted(items, key=key)[shard[0] :: shard[1]]


def shard_text(shard: Shard | None) -> str | None:
    return None if shard is None else f"{shard[0]}/{shard[1]}"


# -- inputs ----------------------------------------------------------------------------------
def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def is_frame_folder(folder: Path) -> bool:
    """A folder with image files directly inside: one input (its frames), as before."""
    return folder.is_dir() and any(
        f.suffix.lower() in IMAGE_EXTENSIONS and _visible(f) and f.is_file()
        for f in folder.iterdir()
    )


def folder_inputs(folder: Path) -> list[Path]:
    """The inputs directly inside ``folder``: video and captions files, and frame folders."""
    suffixes = VIDEO_EXTENSIONS | CAPTION_SUFFIXES
    found = [
        p
        for p in folder.iterdir()
        if _visible(p) and ((p.is_file() and p.suffix.lower() in suffixes) or is_frame_folder(p))
    ]
    return sorted(found, key=lambda p: natural_key(p.name))


def _input_folder(p: Path) -> bool:
    """A folder of inputs (not a frame folder) that holds at least one input."""
    return p.is_dir() and not is_frame_folder(p) and bool(folder_inputs(p))


def is_batch(paths: Sequence[Path], *, forced: bool = False) -> bool:
    """Several inputs, a folder of inputs, or ``forced`` (``--shard``/``--ray``)."""
    return forced or len(paths) != 1 or _input_folder(paths[0])


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Every input, folders of inputs opened, sorted (natural order of the absolute path),
    each once. A missing path stays in the list: its run fails with "not found"."""
    found: dict[Path, Path] = {}
    for p in paths:
        if p.is_dir() and not is_frame_folder(p):
            inside = folder_inputs(p)
            if not inside:
                raise InputError(
                    f"folder {p} holds no video, frame folder or captions file",
                    hint="give video files, frame folders or captions files (.txt/.jsonl/.csv)",
                )
            for q in inside:
                found.setdefault(q.resolve(), q)
        else:
            found.setdefault(p.resolve(), p)
    return [found[k] for k in sorted(found, key=lambda r: natural_key(r.as_posix()))]


def run_folders(inputs: Sequence[Path], out: Path) -> list[Path]:
    """``out/<stem>`` for each input, unique (case-insensitively): ``x``, ``x-2``, ``x-3``…"""
    used: set[str] = set()
    dirs = []
    for p in inputs:
        stem = (p.name if p.is_dir() else p.stem).lstrip(".") or "input"
        name, k = stem, 1
        while name.lower() in used:
            k += 1
            name = f"{stem}-{k}"
        used.add(name.lower())
        dirs.append(out / name)
    return dirs


# -- one input -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One input of a batch and where its run goes."""

    input: Path
    run_dir: Path
    config: Config
    report: bool = True


@dataclass
class Row:
    """One line of the summary table."""

    input: str
    run_folder: str
    frames: int | None = None
    duration: float | None = None
    segments: int | None = None
    peak_score: float | None = None
    auc: float | None = None
    wall_seconds: float = 0.0
    status: str = "ok"
    error: str = ""


def one_line(e: BaseException) -> str:
    text = str(e) if isinstance(e, LangvadError) else f"{type(e).__name__}: {e}"
    return " ".join(text.split())[:500]


def failed(job: Job, error: str, wall: float = 0.0) -> Row:
    return Row(str(job.input), "", wall_seconds=round(wall, 2), status="failed", error=error)


def detect_one(job: Job, models: Any, store: Any, console: Console, progress: bool) -> Row:
    """Run one input into its run folder; any error is a failed row, never an exception.
    ``models`` (:class:`~langvad.eval.harness.SharedModels`) keeps the models for the next."""
    from langvad.api import detect as run_detect
    from langvad.cli.outputs import EarlyWriter, write_run

    t0 = time.perf_counter()
    runner = None
    try:
        runner = models.runner(job.config, store, console)
        runner.progress = progress
        early = EarlyWriter(job.run_dir, job.report, quiet=True)
        result = run_detect(job.input, job.config, runner=runner, on_scored=early)
        write_run(result, job.run_dir, job.report, early.video)
    except Exception as e:  # one bad input must not stop the others
        return failed(job, one_line(e), time.perf_counter() - t0)
    finally:
        if runner is not None:
            models.keep(runner)
    auc = result.metrics.get("auc")
    return Row(
        input=str(job.input),
        run_folder=str(job.run_dir),
        frames=result.n_frames,
        duration=round(result.n_frames / result.fps, 3) if result.fps else None,
        segments=len(result.segments),
        peak_score=round(max(result.scores), 4) if result.scores else None,
        auc=None if auc is None or math.isnan(auc) else round(auc, 4),
        wall_seconds=round(time.perf_counter() - t0, 2),
    )


_WORKER: dict[str, Any] = {}  # in a Ray worker: the store and models, kept between tasks


def detect_in_worker(job: Job, store_path: str) -> Row:
    """A Ray task: :func:`detect_one` with this worker process's store and models.

    The LLM keeps the config's thread count (``--threads``; by default the machine's, as
    without Ray), not the task's CPUs: llama.cpp's numbers depend slightly on its thread
    count, and the shared cache's keys do not, so a result must not depend on where it ran."""
    from langvad.eval.harness import SharedModels
    from langvad.store import Store

    if _WORKER.get("path") != store_path:
        _WORKER.update(path=store_path, store=Store(store_path), models=SharedModels())
    quiet = Console(stderr=True, quiet=True)
    return detect_one(job, _WORKER["models"], _WORKER["store"], quiet, progress=False)


# -- the batch -------------------------------------------------------------------------------
def refuse_per_input_files(**files: Path | None) -> None:
    """``--captions``/``--labels`` name one input's file: refused with several inputs."""
    for flag, value in files.items():
        if value is not None:
            raise InputError(
                f"--{flag} belongs to one input, but this run has several (or --shard/--ray)",
                hint=f"run that input alone with --{flag}, or give captions files as the inputs",
            )


def plan(
    paths: Sequence[Path], out: Path, config: Config, shard: Shard | None, report: bool
) -> list[Job]:
    """The jobs of this shard (run folders named over all inputs, before the shard)."""
    inputs = expand_inputs(paths)
    jobs = [
        Job(p, d, config, report) for p, d in zip(inputs, run_folders(inputs, out), strict=True)
    ]
    return select_shard(jobs, shard, key=lambda j: natural_key(j.input.resolve().as_posix()))


def run_jobs(
    jobs: Sequence[Job],
    *,
    store: Any,
    console: Console,
    progress: bool,
    ray: str | None = None,
    task_cpus: float = 1.0,
) -> list[Row]:
    """Every job, in order: here one after the other (models loaded once), or as Ray tasks."""

    def announce(k: int, row: Row) -> None:
        what = "[green]ok[/]" if row.status == "ok" else f"[red]failed[/]: {escape(row.error)}"
        where = f" → {escape(row.run_folder)}" if row.run_folder else ""
        console.print(f"[{k}/{len(jobs)}] {escape(row.input)}{where}: {what}", soft_wrap=True)

    if ray is not None and jobs:  # an empty shard starts no cluster
        from langvad.scale import Outcome, ray_session, run_tasks

        # workers may run in another folder: absolute paths there, the user's in the table
        remote = [replace(j, input=j.input.absolute(), run_dir=j.run_dir.absolute()) for j in jobs]
        cache = str(Path(store.path).absolute())
        args = [(job, cache) for job in remote]
        names = [str(j.input) for j in jobs]
        done = 0

        def row_of(k: int, o: Outcome) -> Row:
            if o.error is not None:
                return failed(jobs[k], one_line(o.error))
            run_folder = str(jobs[k].run_dir) if o.value.run_folder else ""
            return replace(o.value, input=str(jobs[k].input), run_folder=run_folder)

        def on_done(k: int, o: Outcome) -> None:
            nonlocal done
            done += 1
            announce(done, row_of(k, o))

        with ray_session(ray, console):
            outcomes = run_tasks(
                detect_in_worker, args, names=names, task_cpus=task_cpus, on_done=on_done
            )
        return [row_of(k, o) for k, o in enumerate(outcomes)]
    from langvad.eval.harness import SharedModels

    models = SharedModels()
    rows = []
    for k, job in enumerate(jobs, 1):
        rows.append(detect_one(job, models, store, console, progress))
        announce(k, rows[-1])
    return rows


def detect_batch(
    paths: Sequence[Path],
    config: Config,
    out: Path,
    *,
    store: Any,
    shard: str | None,
    ray: str | None,
    task_cpus: float,
    report: bool,
    progress: bool,
    console: Console,
    stdout: Console,
) -> int:
    """``langvad detect`` over many inputs; the exit code (2 when any input failed)."""
    where = parse_shard(shard)
    if ray is not None:
        from langvad.scale import check_task_cpus, require_ray

        require_ray(ray)
        check_task_cpus(task_cpus)
    jobs = plan(paths, out, config, where, report)
    if not jobs:
        console.print(f"no input in shard {shard_text(where)} ({len(expand_inputs(paths))} in all)")
    rows = run_jobs(
        jobs, store=store, console=console, progress=progress, ray=ray, task_cpus=task_cpus
    )
    paths_written = write_summary(rows, out, where)
    print_summary(rows, stdout, where)
    stdout.print("wrote " + ", ".join(str(p) for p in paths_written.values()), soft_wrap=True)
    return 2 if any(r.status != "ok" for r in rows) else 0


# -- the summary -----------------------------------------------------------------------------
COLUMNS = [f.name for f in fields(Row)]


def summary_paths(out: Path, shard: Shard | None) -> dict[str, Path]:
    """``summary.csv``/``.json``; a shard's are ``summary.shard-I-of-N.*`` (shards may share
    ``--out`` and must not overwrite each other's table)."""
    stem = "summary" if shard is None else f"summary.shard-{shard[0]}-of-{shard[1]}"
    return {"csv": out / f"{stem}.csv", "json": out / f"{stem}.json"}


def write_summary(rows: Sequence[Row], out: Path, shard: Shard | None) -> dict[str, Path]:
    paths = summary_paths(out, shard)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if v is None else v for k, v in asdict(r).items()})
    doc = {
        "shard": shard_text(shard),
        "inputs": len(rows),
        "ok": sum(r.status == "ok" for r in rows),
        "failed": sum(r.status != "ok" for r in rows),
        "rows": [asdict(r) for r in rows],
    }
    write_atomic(paths["csv"], buf.getvalue())
    write_atomic(paths["json"], json.dumps(doc, indent=2))
    return paths


def print_summary(rows: Sequence[Row], console: Console, shard: Shard | None = None) -> None:
    n_failed = sum(r.status != "ok" for r in rows)
    title = f"{len(rows)} inputs, {n_failed} failed" + (
        f" (shard {shard_text(shard)})" if shard else ""
    )
    t = Table(title=title)
    for col in ("input", "run folder"):  # names wrap, never cut to "Fighti…"
        t.add_column(col, justify="left", overflow="fold", min_width=min(24, len(col) + 14))
    for col in ("frames", "duration s", "segments", "peak", "AUC", "wall s"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("status", overflow="fold")

    def num(v: float | int | None, fmt: str = "{}") -> str:
        return "–" if v is None else fmt.format(v)

    for r in rows:
        status = "[green]ok[/]" if r.status == "ok" else f"[red]failed[/]: {escape(r.error)}"
        t.add_row(
            escape(Path(r.input).name),
            escape(Path(r.run_folder).name) if r.run_folder else "–",
            num(r.frames),
            num(r.duration, "{:.1f}"),
            num(r.segments),
            num(r.peak_score, "{:.2f}"),
            num(r.auc, "{:.4f}"),
            f"{r.wall_seconds:.1f}",
            status,
        )
    console.print(t)
