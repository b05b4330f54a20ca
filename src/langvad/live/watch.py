"""``langvad watch``: one camera, live. Frames come from the stream reader into the frame
buffer; each time a window's frames have arrived the causal detector decides it; segments
that open and close become alerts (events.jsonl, webhooks, MQTT); ``state.json`` says what
the camera is doing now, for ``langvad serve``."""

from __future__ import annotations

import resource
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console

from langvad.engine.runner import Runner
from langvad.fileio import atomic_path, write_atomic
from langvad.live.alerts import AlertHub
from langvad.live.buffer import FrameBuffer
from langvad.live.causal import CausalDetector, Decided
from langvad.live.events import KEYFRAMES_DIR, STATE_FILE, AlertEvent, LiveState
from langvad.live.stream import StreamFrame, StreamReader, StreamSpec, StreamStats
from langvad.result import Explanation, Segment

CURVE_POINTS = 300  # windows kept in state.json's score curve
IMAGE_MARGIN_SECONDS = 6.0  # images kept beyond a window's length
QUEUE_FRAMES = 300  # frames the reader holds while a window is decided (10 s at 30 fps)


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


@dataclass
class WatchStats:
    """What a watch measured (printed at the end, and by the benchmark)."""

    windows: int = 0
    skipped: int = 0  # windows left undecided because detection fell behind
    alerts: int = 0
    stream_seconds: float = 0.0
    detect_seconds: float = 0.0  # wall time spent deciding windows
    wall_seconds: float = 0.0
    frames: int = 0
    dropped: int = 0
    reconnects: int = 0
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (stream s, MiB)
    alert_walls: list[tuple[str, float, float]] = field(default_factory=list)  # id, start, wall

    @property
    def real_time_factor(self) -> float:
        """Stream seconds decided per second of detection work (≥ 1: keeps up)."""
        return self.stream_seconds / self.detect_seconds if self.detect_seconds > 0 else 0.0


def rss_mib() -> float:
    """Current resident memory (Linux /proc; the peak where that is missing)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Watcher:
    """Runs one camera until the stream ends, ``duration`` passes or ``stop`` is called."""

    def __init__(
        self,
        name: str,
        spec: StreamSpec,
        out: Path,
        runner: Runner,
        hub: AlertHub,
        *,
        high: float,
        low: float,
        memory_seconds: float,
        realtime: bool = False,
        duration: float | None = None,
        max_side: int = 480,
        console: Console | None = None,
        on_window: Callable[[Decided], None] | None = None,
        max_reconnects: int | None = None,
        max_wall: float | None = None,
    ) -> None:
        self.name, self.spec, self.out = name, spec, out
        self.runner, self.hub = runner, hub
        self.console = console or Console(stderr=True)
        self.on_window = on_window
        self.on_frame: Callable[[StreamFrame], None] | None = None  # benchmarks' hook
        c = runner.config
        self.started = time.time()
        self.first_wall = self.started  # wall time of stream time 0 (set by the first frame)
        self.buffer = FrameBuffer(
            name,
            memory_seconds=memory_seconds + c.window_seconds + 5.0,
            image_seconds=c.window_seconds + IMAGE_MARGIN_SECONDS,
            session=iso(self.started),
        )
        self.reader = StreamReader(
            spec,
            max_side=max_side,
            realtime=realtime,
            duration=duration,
            queue_size=QUEUE_FRAMES,
            on_event=self._stream_event,
            max_reconnects=max_reconnects,
            max_wall=max_wall,
        )
        self.high, self.low, self.memory_seconds = high, low, memory_seconds
        self.detector: CausalDetector | None = None
        self.stats = WatchStats()
        self.curve: deque[tuple[float, float]] = deque(maxlen=CURVE_POINTS)
        self.open_event: AlertEvent | None = None
        self.status = "starting"
        self.message: str | None = None
        # explanations are asked for here while detection goes on; a closed segment's
        # "end" alert (with its explanation) is published from this thread
        self._explainer = ThreadPoolExecutor(1, thread_name_prefix=f"langvad-explain-{name}")
        self._explaining: list[Future[None]] = []
        (out / KEYFRAMES_DIR).mkdir(parents=True, exist_ok=True)

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> WatchStats:
        t0 = time.perf_counter()
        self._write_state()
        try:
            with self.reader:
                for fr in self.reader:
                    self.buffer.add(fr.time, fr.rgb)
                    if self.on_frame is not None:
                        self.on_frame(fr)
                    if self.detector is None:
                        self.detector = self._detector()
                        self.first_wall = fr.wall - fr.time
                    while self.detector.ready(self.buffer.now):
                        self._decide_next()
                self._finish(ended=True)
        except BaseException:
            self._finish(ended=False)
            raise
        finally:
            self.stats.wall_seconds = time.perf_counter() - t0
            self._count(self.reader.stats)
        return self.stats

    def stop(self) -> None:
        self.reader.stop()

    def _detector(self) -> CausalDetector:
        fps = self.reader.stats.fps or 25.0
        self.buffer.fps = fps
        return CausalDetector(
            self.runner,
            fps=fps,
            high=self.high,
            low=self.low,
            memory_seconds=self.memory_seconds,
            defer_explanations=True,
        )

    def _decide_next(self, last_time: float | None = None) -> None:
        assert self.detector is not None
        if self._frames_gone():
            self.detector.skip()
            return
        got = self.detector.decide(self.buffer, last_time=last_time)
        if got is None:
            return
        self.stats.windows += 1
        self.stats.detect_seconds += got.seconds
        self.stats.stream_seconds = self.buffer.now
        self.curve.append((round(got.window.centre_time, 3), round(got.score, 4)))
        for seg in got.opened:
            self._open(seg, got)
        for seg in got.closed:
            self._close(seg)
        self._reap()
        if self.stats.windows % 5 == 1:
            self.stats.rss_mib.append((round(self.buffer.now, 1), round(rss_mib(), 1)))
        self._count(self.reader.stats)
        self._write_state()
        if self.on_window is not None:
            self.on_window(got)

    def _frames_gone(self) -> bool:
        """The next window's first frames left the buffer: detection fell behind the
        stream. The window is skipped (counted, and said once per skip) to catch up."""
        assert self.detector is not None
        need = max(self.detector.centre_time() - self.detector.half, self.buffer.first_time)
        if need >= self.buffer.oldest_image_time - 1e-6:
            return False
        self.stats.skipped += 1
        self.message = (
            f"detection fell behind the stream: window at {self.detector.centre_time():.1f}s "
            f"skipped ({self.stats.skipped} so far)"
        )
        self.console.print(f"[yellow]warning:[/] {self.name}: {self.message}")
        return True

    def _finish(self, *, ended: bool) -> None:
        """The stream ended (or the watch was stopped): the windows whose centre has
        arrived are decided with what there is, and an open segment closes."""
        if self.detector is not None and ended:
            while self.detector.centre_time() <= self.buffer.now:
                self._decide_next(last_time=self.buffer.now)
        if self.detector is not None:
            for seg in self.detector.finish():
                self._close(seg)
        try:
            self._explainer.shutdown(wait=True)  # every closed segment's "end" is out
            self._reap()
        finally:
            self.status = "ended" if ended else "failed"
            self._write_state()
            self.hub.close()

    # -- alerts ---------------------------------------------------------------------------
    def _evidence(self, got: Decided) -> list[str]:
        w = got.window
        items = list(w.facts)
        if w.judged and w.judged.get("item") and w.judged.get("p", 0) >= 0.5:
            items.append(f'described as "{w.judged["item"]}"')
        return items

    def _open(self, seg: Segment, got: Decided) -> None:
        event_id = f"{self.name}-{round(seg.start_time * 1000)}"
        key = self._key_frame(event_id, got.window.centre_frame)
        now = time.time()
        event = AlertEvent(
            id=event_id,
            type="new",
            camera=self.name,
            start_time=seg.start_time,
            started_at=iso(self.first_wall + seg.start_time),
            emitted_at=iso(now),
            score=min(1.0, max(0.0, seg.peak_score)),
            threshold=self.high,
            key_frame=key,
            evidence=self._evidence(got),
        )
        published = self.hub.publish_event(event)
        self.open_event = published or event
        if published is not None and published.type == "new":
            self.stats.alerts += 1
            self.stats.alert_walls.append((event_id, seg.start_time, now))
        self.console.print(
            f"[bold red]alert[/] {self.name} at {seg.start_time:.1f}s "
            f"(score {seg.peak_score:.2f}): {'; '.join(event.evidence) or 'language score'}"
        )

    def _close(self, seg: Segment) -> None:
        """The segment closed: its "end" alert goes out with its explanation, which is asked
        for in the explainer thread while detection goes on (the "new" alert went out
        when it opened)."""
        opened = self.open_event
        if opened is None:
            return
        self.open_event = None
        later = self.detector.take_explanation(seg) if self.detector is not None else None
        if later is None:
            self._end(opened, seg, seg.explanation)
            return
        self._explaining.append(self._explainer.submit(lambda: self._end(opened, seg, later())))

    def _reap(self) -> None:
        """Raise the first failure of a finished explanation (a failing event log)."""
        done, pending = [], []
        for f in self._explaining:  # one look per future: one that ends meanwhile stays
            (done if f.done() else pending).append(f)
        self._explaining = pending
        for f in done:
            f.result()

    def _end(self, opened: AlertEvent, seg: Segment, x: Explanation | None) -> None:
        event = opened.model_copy(
            update={
                "type": "end",
                "end_time": seg.end_time,
                "emitted_at": iso(time.time()),
                "score": min(1.0, max(opened.score, seg.peak_score)),
                "title": x.title if x else None,
                "explanation": x.model_dump(mode="json") if x else None,
            }
        )
        self.hub.publish_event(event)
        what = f": {x.title}" if x else ""
        self.console.print(f"[bold]ended[/] {self.name} at {seg.end_time:.1f}s{what}")

    def _key_frame(self, event_id: str, frame: int) -> str | None:
        rgb = self.buffer.image(frame)
        if rgb is None:
            return None
        rel = f"{KEYFRAMES_DIR}/{event_id}.jpg"
        with atomic_path(self.out / rel) as tmp:
            Image.fromarray(np.ascontiguousarray(rgb)).save(tmp, format="JPEG", quality=85)
        return rel

    # -- state ----------------------------------------------------------------------------
    def _stream_event(self, line: str) -> None:
        low = line.lower()
        if "reconnected" in low or "connected" in low and "dis" not in low:
            self.status = "connected"
        elif "dropped" in low or "reconnecting" in low or "cannot" in low:
            self.status = "reconnecting"
        self.message = line
        self.console.print(f"[cyan]{self.name}[/] {line}")
        self._count(self.reader.stats)
        self._write_state()

    def _count(self, s: StreamStats) -> None:
        self.stats.frames = s.frames
        self.stats.dropped = s.dropped_queue + s.dropped_source
        self.stats.reconnects = s.reconnects

    def state(self) -> LiveState:
        times = [t for t, _ in self.curve]
        return LiveState(
            camera=self.name,
            source=self.spec.display,
            status=self.status,  # type: ignore[arg-type]
            started_at=iso(self.started),
            updated_at=iso(time.time()),
            fps=round(self.buffer.fps, 3),
            frames=self.stats.frames,
            dropped=self.stats.dropped,
            reconnects=self.stats.reconnects,
            times=times,
            scores=[s for _, s in self.curve],
            high=self.high,
            low=self.low,
            open_event=self.open_event.id if self.open_event else None,
            message=self.message,
        )

    def _write_state(self) -> None:
        state = self.state()
        write_atomic(self.out / STATE_FILE, state.model_dump_json(indent=1))
        self.hub.publish_state(state)
