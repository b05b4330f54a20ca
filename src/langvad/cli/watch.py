"""``langvad watch SOURCE``: the command line of a live camera (see ``langvad.live.watch``)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from langvad.errors import InputError, LangvadError

if TYPE_CHECKING:
    from langvad.live.watch import WatchStats

err = Console(stderr=True)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _camera(config: Path | None, name: str | None, source: str | None) -> tuple[object, str | None]:
    """The camera config (from the file, picked by name when it holds several) and the
    source (the command line's wins)."""
    from langvad.live.camera import CameraConfig, load_cameras

    if config is None:
        return CameraConfig(name=name or "camera"), source
    cams = load_cameras(config)
    if name is None and len(cams) > 1:
        raise InputError(
            f"camera config {config} holds {len(cams)} cameras",
            hint="pick one with --camera NAME: " + ", ".join(c.name for c in cams),
        )
    picked = [c for c in cams if name is None or c.name == name]
    if not picked:
        raise InputError(
            f"camera config {config} has no camera named {name!r}",
            hint="one of: " + ", ".join(c.name for c in cams),
        )
    cam = picked[0]
    return cam, source or cam.source


def watch_cmd(
    source: Annotated[
        str | None,
        typer.Argument(
            help="rtsp://, http(s):// (MJPEG, HLS, MPEG-TS), udp://, /dev/videoN, or a video "
            "file (read at its own frame rate with --realtime); default: the config's source"
        ),
    ] = None,
    camera: Annotated[str | None, typer.Option(help="camera name (picks it in --config)")] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="camera config (JSON/YAML): context, rules, thresholds, experts, sinks"),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="camera folder (default runs/live-CAMERA)")
    ] = None,
    events: Annotated[
        Path | None, typer.Option(help="another events.jsonl to append alerts to")
    ] = None,
    webhook: Annotated[
        list[str] | None, typer.Option(help="POST every alert (JSON) to this URL; repeatable")
    ] = None,
    mqtt: Annotated[
        str | None, typer.Option(help="MQTT broker HOST:PORT (topics langvad/...)")
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            help="stop after this many seconds of stream, or of wall-clock time for a live "
            "source (a camera that sends nothing ends too)"
        ),
    ] = None,
    max_reconnects: Annotated[
        int | None,
        typer.Option(
            help="give up after this many failed connection attempts in a row "
            "(default: retry until stopped)"
        ),
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="read a file at its own frame rate, like a camera")
    ] = False,
    memory: Annotated[
        float, typer.Option(help="seconds of the past a window is judged against")
    ] = 120.0,
    preset: Annotated[str | None, typer.Option(help="prompt preset (default: ucf)")] = None,
    context: Annotated[str | None, typer.Option(help="what is normal at this camera")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="score that opens a segment (default 0.5)")
    ] = None,
    llm: Annotated[str | None, typer.Option(help="LLM name, .gguf path or server")] = None,
    experts: Annotated[
        str | None,
        typer.Option(help="event experts: violence,motion,fall (default), tracks, or none"),
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="artefact cache file (default: in memory, bounded)")
    ] = None,
) -> None:
    """Watch a live camera: decide each window as soon as its frames arrive, alert on
    anomalous segments (events.jsonl, webhooks, MQTT), keep state.json for langvad serve."""
    from langvad.cli.fail import _fail

    try:
        summary = _watch(
            source,
            camera,
            config,
            out_dir,
            events,
            webhook or [],
            mqtt,
            duration,
            realtime,
            memory,
            preset,
            context,
            threshold,
            llm,
            experts,
            cache,
            max_reconnects,
        )
    except (LangvadError, KeyboardInterrupt) as e:
        raise _fail(e) from None
    err.print(summary)


def _watch(
    source: str | None,
    camera: str | None,
    config: Path | None,
    out_dir: Path | None,
    events: Path | None,
    webhooks: list[str],
    mqtt: str | None,
    duration: float | None,
    realtime: bool,
    memory: float,
    preset: str | None,
    context: str | None,
    threshold: float | None,
    llm: str | None,
    experts: str | None,
    cache: Path | None,
    max_reconnects: int | None = None,
) -> str:
    from pydantic import ValidationError

    from langvad.engine.runner import Runner
    from langvad.fileio import ensure_writable_dir
    from langvad.live.alerts import AlertHub
    from langvad.live.camera import CameraConfig
    from langvad.live.stream import parse_source
    from langvad.live.watch import Watcher
    from langvad.preflight import check_context, check_specs
    from langvad.store import MemoryStore, Store

    cam, src = _camera(config, camera, source)
    assert isinstance(cam, CameraConfig)
    if src is None:
        raise InputError("no SOURCE given", hint="give a stream address or a config 'source'")
    update: dict[str, object] = {}
    for key, value in (("preset", preset), ("context", context), ("threshold", threshold)):
        if value is not None:
            update[key] = value
    if experts is not None:
        update["experts"] = experts
    if llm is not None:
        update["config"] = {**cam.config, "llm": llm}
    sinks = cam.sinks.model_dump()
    if events is not None:
        sinks["events"] = events
    sinks["webhooks"] = [*sinks["webhooks"], *({"url": u} for u in webhooks)]
    if mqtt is not None:
        sinks["mqtt"] = {**(sinks["mqtt"] or {}), "host": mqtt, "port": None}
    try:
        cam = CameraConfig.model_validate({**cam.model_dump(), **update, "sinks": sinks})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InputError(f"bad watch option {where}: {first['msg']}") from None
    if memory <= 0:
        raise InputError(f"--memory must be > 0 seconds, got {memory}")
    check_limits(duration, max_reconnects)
    if context is not None:
        check_context(context)
    spec = parse_source(src)
    cfg = cam.langvad_config()
    check_specs(cfg, images=True)  # before the models load
    out = out_dir or Path("runs") / f"live-{cam.name}"
    ensure_writable_dir(out)
    store = Store(cache) if cache else MemoryStore()
    runner = Runner(cfg, store=store, progress=False, console=err)
    with err.status("loading models"):
        runner.warm_up()  # a damaged model or an unreachable server fails now
    hub = AlertHub.for_camera(cam, out, warn=lambda line: err.print(f"[yellow]warning:[/] {line}"))
    err.print(f"watching {spec.display} as camera {cam.name!r} → {out}")
    w = Watcher(
        cam.name,
        spec,
        out,
        runner,
        hub,
        high=cam.threshold,
        low=cam.low,
        memory_seconds=memory,
        realtime=realtime,
        duration=duration,
        console=err,
        max_reconnects=max_reconnects,
        max_wall=duration if spec.live or realtime else None,
    )
    previous = {sig: signal.signal(sig, lambda *_: w.stop()) for sig in STOP_SIGNALS}
    try:  # Ctrl+C / SIGTERM end the watch cleanly: open segments close and are explained
        s = w.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return summary_line(cam.name, spec.display, s, w.reader.wall_limited)


def check_limits(duration: float | None, max_reconnects: int | None) -> None:
    if duration is not None and not 0 < duration <= 10 * 365 * 86_400:
        raise InputError(
            f"--duration {duration:g}: must be a positive number of seconds",
            hint="e.g. --duration 60",
        )
    if max_reconnects is not None and not 0 <= max_reconnects <= 1_000_000:
        raise InputError(
            f"--max-reconnects {max_reconnects}: must be 0 or more",
            hint="e.g. --max-reconnects 5 (0: give up at the first failure)",
        )


def summary_line(name: str, display: str, s: WatchStats, wall_limited: bool) -> str:
    """The watch's final line; says plainly when the source never sent a frame."""
    if s.frames == 0:
        why = "in the --duration wall-clock limit" if wall_limited else "before the watch ended"
        return (
            f"{name}: no frame received from {display} {why} "
            f"({s.wall_seconds:.1f} s); check that the camera is on and the address is right"
        )
    speed = (
        f"decided at {s.real_time_factor:.1f}× real time"
        if s.detect_seconds > 0
        else "nothing decided"
    )
    return (
        f"{name}: {s.windows} windows over {s.stream_seconds:.1f} s of stream, "
        f"{s.alerts} alert(s), {s.frames} frames, {s.dropped} dropped, "
        f"{s.reconnects} reconnect(s), {speed}"
    )
