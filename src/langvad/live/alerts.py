"""Alert sinks for live cameras, and the hub that feeds them without holding detection up.

``AlertHub.publish_event`` passes each :class:`AlertEvent` through an :class:`AlertGate`
(de-duplication and cool-down), appends what passes to the :class:`EventLog` (the record of
truth, fsynced), then hands it to the other sinks, which never block: a
:class:`WebhookSink` queues it for its worker threads, an :class:`MqttSink` for paho's
network thread. A failing sink becomes one warning line (the ``warn`` callback); it never
raises into detection, and never costs the event log an event.
"""

from __future__ import annotations

import collections
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langvad.errors import OutputError
from langvad.live.events import EVENTS_FILE, AlertEvent, LiveState
from langvad.live.mqtt import (
    MqttSink,
)
from langvad.live.sink import (
    AlertSink,
    Warn,
    _default_warn,
    _reason,
)

if TYPE_CHECKING:
    from langvad.live.camera import CameraConfig, WebhookConfig

USER_AGENT = "langvad-alerts/1"


# ---------------------------------------------------------------------------------------
# de-duplication and cool-down


@dataclass
class _Event:
    """What the gate knows of one published event."""

    last: AlertEvent  # the last record published for it
    segments: set[str] = field(default_factory=set)  # incoming segment ids still open
    ended: bool = False


class AlertGate:
    """Decides which records are published, and as what (pure logic: stream time only).

    Incoming records describe *segments* (the watcher's ``new`` / ``update`` / ``end`` of each
    segment id); published records describe *events*. The rules:

    1. De-duplication: each segment's ``new`` and ``end`` pass at most once; an ``update``
       or ``end`` after its segment's ``end`` is dropped, and so is an ``update`` whose
       content (all but ``emitted_at``) equals the event's last published record. A given
       event id is published as ``new`` at most once.
    2. Cool-down: a segment that opens (``start_time``) on a camera while that camera's
       latest event is still open, or within ``cooldown_seconds`` after it ended
       (``start_time - end_time <= cooldown_seconds``, overlaps included), raises no new
       alert: it joins that event, published as an ``update`` of the same id (end_time
       None again: the event is re-opened). When the last open segment of an event ends,
       the event's ``end`` is published (again, for a re-opened event: it re-closes it);
       when other segments are still open it is an ``update``.
    3. Records of a joined event keep the event's id, ``start_time`` and ``started_at``,
       the peak ``score``, the union of the evidence, the key frame of the highest score
       and the latest title; ``end`` carries the closing segment's explanation.
    4. An ``update`` or ``end`` whose ``new`` was never seen (the hub started mid-segment)
       opens its segment first, under rule 2, and is published as its own type.

    The gate keeps the last ``memory`` events per camera.
    """

    def __init__(self, cooldown_seconds: float = 30.0, memory: int = 256) -> None:
        self.cooldown_seconds = cooldown_seconds
        self.memory = memory
        self._events: collections.OrderedDict[str, _Event] = collections.OrderedDict()
        self._latest: dict[str, str] = {}  # camera -> id of its latest event
        self._event_of: dict[str, str] = {}  # segment id -> event id
        self._seen: set[tuple[str, str]] = set()  # (segment id, "new" | "end")
        self._closed: set[str] = set()  # segment ids that have ended

    def admit(self, incoming: AlertEvent) -> AlertEvent | None:
        """The record to publish for ``incoming``, or None when nothing is to be published."""
        seg, kind = incoming.id, incoming.type
        if seg in self._closed or (seg, kind) in self._seen:
            return None
        if kind != "update":
            self._seen.add((seg, kind))
        changed = False
        if seg not in self._event_of:
            ev, fresh = self._register(incoming)
            if fresh and kind != "end":
                return incoming
            changed = fresh or ev.ended  # a re-opened event is news
            ev.ended = False
        else:
            found = self._events.get(self._event_of[seg])
            if found is None:  # pragma: no cover - forgotten events have no segment ids
                return incoming
            ev = found
        if kind == "end":
            self._closed.add(seg)
            ev.segments.discard(seg)
            if not ev.segments:
                ev.last = self._merge(ev.last, incoming, "end", incoming.end_time)
                ev.ended = True
                return ev.last
        record = self._merge(ev.last, incoming, "update", None)
        if not changed and _same(record, ev.last):
            return None
        ev.last = record
        return record

    def _register(self, incoming: AlertEvent) -> tuple[_Event, bool]:
        """The event a newly seen segment belongs to, and whether that event is new."""
        seg = incoming.id
        latest = self._events.get(self._latest.get(incoming.camera, ""))
        if latest is not None and self._joins(latest, incoming):
            self._event_of[seg] = latest.last.id
            latest.segments.add(seg)
            return latest, False
        ev = _Event(last=incoming, segments={seg})
        self._events[seg] = ev
        self._event_of[seg] = seg
        self._latest[incoming.camera] = seg
        self._forget()
        return ev, True

    def _joins(self, latest: _Event, incoming: AlertEvent) -> bool:
        if not latest.ended:
            return True
        end = latest.last.end_time
        return end is None or incoming.start_time - end <= self.cooldown_seconds

    @staticmethod
    def _merge(base: AlertEvent, incoming: AlertEvent, kind: str, end: float | None) -> AlertEvent:
        first = base if base.start_time <= incoming.start_time else incoming
        best = incoming if incoming.score > base.score else base
        return AlertEvent(
            id=base.id,
            type=kind,  # type: ignore[arg-type]
            camera=base.camera,
            start_time=first.start_time,
            end_time=end,
            started_at=first.started_at,
            emitted_at=incoming.emitted_at,
            score=max(base.score, incoming.score),
            threshold=incoming.threshold,
            key_frame=best.key_frame or base.key_frame or incoming.key_frame,
            evidence=list(dict.fromkeys([*base.evidence, *incoming.evidence])),
            title=incoming.title or base.title,
            explanation=incoming.explanation if kind == "end" else None,
        )

    def _forget(self) -> None:
        """Drop the oldest closed events beyond ``memory`` per camera (a long-running
        camera must not grow without bound)."""
        per_camera: dict[str, int] = collections.Counter(
            e.last.camera for e in self._events.values()
        )
        for eid in list(self._events):
            ev = self._events[eid]
            if per_camera[ev.last.camera] <= self.memory:
                continue
            if not ev.ended or self._latest.get(ev.last.camera) == eid:
                continue
            per_camera[ev.last.camera] -= 1
            del self._events[eid]
            segs = [s for s, e in self._event_of.items() if e == eid]
            for s in segs:
                del self._event_of[s]
                self._closed.discard(s)
                self._seen.discard((s, "new"))
                self._seen.discard((s, "end"))


def _same(a: AlertEvent, b: AlertEvent) -> bool:
    return a.model_dump(exclude={"emitted_at"}) == b.model_dump(exclude={"emitted_at"})


# ---------------------------------------------------------------------------------------
# the event log


class EventLog:
    """Appends each event as one JSON line to ``events.jsonl`` and fsyncs it before
    returning: the record of truth. A write failure raises :class:`OutputError`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            created = not self.path.exists()
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            if created:  # make the new file's name durable too
                _fsync_dir(self.path.parent)
        except OSError as e:
            raise OutputError(
                f"cannot open {self.path}: {e.strerror or e}",
                hint="make the folder writable or choose another --out",
            ) from None

    def publish_event(self, event: AlertEvent) -> None:
        line = event.model_dump_json() + "\n"
        with self._lock:
            try:
                self._file.write(line)
                self._file.flush()
                os.fsync(self._file.fileno())
            except (OSError, ValueError) as e:
                raise OutputError(
                    f"cannot write {self.path}: {getattr(e, 'strerror', None) or e}",
                    hint="free disk space or choose another --out",
                ) from None

    def publish_state(self, state: LiveState) -> None:
        """The state goes to ``state.json`` (written by the watcher), not here."""

    def close(self, timeout: float = 2.0) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_events(path: str | Path) -> list[AlertEvent]:
    """The events of an ``events.jsonl`` (a torn last line is skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(AlertEvent.model_validate_json(line))
            except ValueError:
                continue
    return out


# ---------------------------------------------------------------------------------------
# webhooks


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer (3xx), not followed with a changed method


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class _PermanentFailure(Exception):
    """A 4xx answer: sending the same request again will not help."""


class _WebhookWorker:
    """One URL: a bounded queue (the oldest dropped when full) and one daemon thread."""

    def __init__(
        self,
        hook: WebhookConfig,
        queue_size: int,
        backoff: Callable[[int], float],
        warn: Warn,
    ) -> None:
        self.hook = hook
        self.dropped = 0
        self.delivered = 0
        self.failed = 0
        self._backoff = backoff
        self._warn = warn
        self._queue: collections.deque[bytes] = collections.deque()
        self._size = queue_size
        self._cond = threading.Condition()
        self._busy = False
        self._stop = threading.Event()
        self._drop_reported = False
        self._thread = threading.Thread(
            target=self._run, name=f"langvad-webhook-{hook.url[:40]}", daemon=True
        )
        self._thread.start()

    def put(self, body: bytes) -> None:
        with self._cond:
            if self._stop.is_set():
                return
            if len(self._queue) >= self._size:
                self._queue.popleft()
                self.dropped += 1
                if not self._drop_reported:
                    self._drop_reported = True
                    self._warn(
                        f"webhook {self.hook.url}: queue full ({self._size}), "
                        "dropping the oldest alerts"
                    )
            self._queue.append(body)
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                body = self._queue.popleft()
                self._busy = True
            try:
                self._deliver(body)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, body: bytes) -> None:
        error, made = "", 0
        for attempt in range(1 + self.hook.retries):
            if attempt and self._stop.wait(self._backoff(attempt - 1)):
                break
            made += 1
            try:
                self._post(body)
            except _PermanentFailure as e:
                error = str(e)
                break
            except Exception as e:  # noqa: BLE001  (any failure is one warning line)
                error = _reason(e)
                continue
            self.delivered += 1
            self._drop_reported = False
            return
        self.failed += 1
        tries = f"{made} attempt{'s' if made != 1 else ''}"
        self._warn(f"webhook {self.hook.url}: alert not delivered after {tries} ({error})")

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        headers.update(self.hook.headers)
        req = urllib.request.Request(self.hook.url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(req, timeout=self.hook.timeout_seconds) as resp:
                resp.read(65536)
        except urllib.error.HTTPError as e:
            e.close()
            if 400 <= e.code < 500 and e.code not in (408, 425, 429):
                raise _PermanentFailure(_reason(e)) from None
            raise

    def close(self, deadline: float) -> None:
        with self._cond:
            while (self._queue or self._busy) and time.monotonic() < deadline:
                self._cond.wait(max(0.0, min(0.05, deadline - time.monotonic())))
            left = len(self._queue) + int(self._busy)
            self._stop.set()
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if left:
            self._warn(f"webhook {self.hook.url}: {left} alert(s) not sent at close")


def exponential_backoff(base: float = 1.0, cap: float = 30.0) -> Callable[[int], float]:
    """Delay before retry ``n`` (0-based): ``base * 2**n``, at most ``cap`` seconds."""
    return lambda n: min(cap, base * (2**n))


class WebhookSink:
    """POSTs each event (its JSON) to every URL from a background worker per URL.

    Each worker has a bounded queue (``queue_size``; when full the oldest is dropped and
    counted in :attr:`dropped`), a per-request timeout, and ``retries`` more attempts with
    exponential back-off (``backoff(n)`` seconds before retry ``n``) on network errors, 5xx,
    408 and 429; other 4xx answers are final. An undelivered alert is one ``warn`` line.
    Environment proxies are not used and redirects are not followed."""

    def __init__(
        self,
        hooks: Sequence[WebhookConfig],
        *,
        queue_size: int = 100,
        backoff: Callable[[int], float] | None = None,
        warn: Warn | None = None,
    ) -> None:
        warn = warn or _default_warn
        backoff = backoff or exponential_backoff()
        self._workers = [_WebhookWorker(h, queue_size, backoff, warn) for h in hooks]

    @property
    def dropped(self) -> int:
        return sum(w.dropped for w in self._workers)

    @property
    def delivered(self) -> int:
        return sum(w.delivered for w in self._workers)

    @property
    def failed(self) -> int:
        return sum(w.failed for w in self._workers)

    def publish_event(self, event: AlertEvent) -> None:
        body = event.model_dump_json().encode("utf-8")
        for w in self._workers:
            w.put(body)

    def publish_state(self, state: LiveState) -> None:
        """Webhooks get alerts only."""

    def idle(self) -> bool:
        """Nothing queued and nothing being sent."""
        return all(w.idle() for w in self._workers)

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued for up to ``timeout`` seconds, then stop the workers."""
        deadline = time.monotonic() + timeout
        for w in self._workers:
            w.close(deadline)


# ---------------------------------------------------------------------------------------
# MQTT


# ---------------------------------------------------------------------------------------
# the hub


class AlertHub:
    """Gates each event (:class:`AlertGate`), appends it to the event log, then fans it out
    to the other sinks; fans states out to all. Thread-safe. A sink that raises becomes a
    ``warn`` line and the others still get the event; only a failing event log raises, after
    the other sinks have the event, so that the watcher can stop with one clear error."""

    def __init__(
        self,
        log: EventLog | None,
        sinks: Sequence[AlertSink] = (),
        *,
        gate: AlertGate | None = None,
        cooldown_seconds: float = 30.0,
        warn: Warn | None = None,
    ) -> None:
        self.log = log
        self.sinks = list(sinks)
        self.gate = gate or AlertGate(cooldown_seconds)
        self._warn = warn or _default_warn
        self._lock = threading.Lock()

    @classmethod
    def for_camera(
        cls, camera: CameraConfig, out_dir: str | Path, *, warn: Warn | None = None
    ) -> AlertHub:
        """The hub of a camera config: ``DIR/events.jsonl`` (the record of truth), and as
        sinks the extra events log (``sinks.events``), webhooks and MQTT broker. A file that
        cannot be opened is an :class:`OutputError` now, not at the first alert."""
        log = EventLog(Path(out_dir) / EVENTS_FILE)
        sinks: list[AlertSink] = []
        if camera.sinks.events is not None:
            sinks.append(EventLog(camera.sinks.events))
        if camera.sinks.webhooks:
            sinks.append(WebhookSink(camera.sinks.webhooks, warn=warn))
        if camera.sinks.mqtt is not None:
            cid = camera.sinks.mqtt.client_id or f"langvad-{camera.name}"
            sinks.append(MqttSink(camera.sinks.mqtt, client_id=cid, warn=warn))
        return cls(log, sinks, cooldown_seconds=camera.cooldown_seconds, warn=warn)

    def publish_event(self, event: AlertEvent) -> AlertEvent | None:
        """Publish ``event`` as the gate rewrites it; the published record, or None."""
        with self._lock:
            record = self.gate.admit(event)
            if record is None:
                return None
            failure: OutputError | None = None
            if self.log is not None:
                try:
                    self.log.publish_event(record)
                except OutputError as e:
                    failure = e
            for sink in self.sinks:
                self._guard(sink, "event not published", lambda s=sink: s.publish_event(record))
        if failure is not None:
            raise failure
        return record

    def publish_state(self, state: LiveState) -> None:
        with self._lock:
            for sink in self.sinks:
                self._guard(sink, "state not published", lambda s=sink: s.publish_state(state))

    def _guard(self, sink: AlertSink, what: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as e:  # noqa: BLE001  (a sink never stops detection)
            self._warn(f"alert sink {type(sink).__name__}: {what} ({_reason(e)})")

    def close(self, timeout: float = 2.0) -> None:
        """Close every sink (sharing ``timeout``), the event log last."""
        deadline = time.monotonic() + timeout
        for sink in self.sinks:
            self._guard(
                sink, "not closed", lambda s=sink: s.close(max(0.0, deadline - time.monotonic()))
            )
        if self.log is not None:
            self.log.close()
