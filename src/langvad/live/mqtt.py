"""Alerts over MQTT: one topic per camera, QoS 1, reconnects with backoff (an AlertSink)."""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from langvad.errors import LangvadError
from langvad.live.events import AlertEvent, LiveState
from langvad.live.sink import (
    Warn,
    _default_warn,
    _reason,
)

if TYPE_CHECKING:
    from langvad.live.camera import MqttConfig


def _topic_part(name: str) -> str:
    return "".join("_" if c in "/+#\0" else c for c in name) or "_"


class MqttSink:
    """Publishes alerts and camera state to an MQTT broker (paho-mqtt 2, in the background).

    Topics under ``prefix``: ``available`` ("online" / "offline", retained; "offline" is the
    last will), ``events`` and ``<camera>/events`` (QoS 1, Frigate-style
    ``{"type", "before", "after"}``, ``before`` only when the event had an earlier record),
    ``<camera>/state`` (the LiveState, retained) and ``<camera>/score`` (the latest window
    score, retained). Connection and reconnection (``reconnect_delay`` back-off) happen on
    paho's thread: publishing never blocks. While the broker is away, events wait in paho's
    queue (at most ``max_queued`` messages; more are dropped and counted) and go out on
    reconnect, the latest state is re-published on every connect, and the outage and the
    recovery are each one ``warn`` line."""

    def __init__(
        self,
        cfg: MqttConfig,
        *,
        client_id: str | None = None,
        warn: Warn | None = None,
        max_queued: int = 1000,
        reconnect_delay: tuple[float, float] = (1.0, 30.0),
        keepalive: int = 30,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as e:  # pragma: no cover - paho is a dependency of watch
            raise LangvadError(
                "MQTT alerts need the paho-mqtt package", hint="pip install 'paho-mqtt>=2'"
            ) from e
        self.cfg = cfg
        self.prefix = cfg.topic_prefix
        self.dropped = 0
        self._warn = warn or _default_warn
        self._lock = threading.Lock()
        self._down_reported = False
        self._connected = threading.Event()
        self._last_state: LiveState | None = None
        self._records: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._ack_lock = threading.Lock()  # never held while calling paho (it holds its own)
        self._unacked: set[int] = set()  # mids of QoS 1 messages the broker has not acked
        self._acked_early: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._mqtt = mqtt
        cid = client_id or cfg.client_id or f"langvad-{uuid.uuid4().hex[:12]}"
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid)
        if cfg.username is not None:
            self._client.username_pw_set(cfg.username, cfg.password)
        self._client.will_set(self.topic("available"), "offline", qos=1, retain=True)
        self._client.max_queued_messages_set(max_queued)
        self._client.reconnect_delay_set(reconnect_delay[0], reconnect_delay[1])  # type: ignore[arg-type]
        self._client.connect_timeout = 5.0
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_publish = self._on_publish
        assert cfg.port is not None
        self._client.connect_async(cfg.host, cfg.port, keepalive=keepalive)
        self._client.loop_start()

    def topic(self, *parts: str) -> str:
        return "/".join([self.prefix, *(_topic_part(p) for p in parts)])

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def pending(self) -> int:
        """Events (QoS 1 messages) published here and not yet acknowledged by the broker."""
        with self._ack_lock:
            return len(self._unacked)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # paho's thread ------------------------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._outage(f"refused the connection ({reason})")
            return
        client.publish(self.topic("available"), "online", qos=1, retain=True)
        self._connected.set()  # first: a state published from now on is sent at once
        with self._lock:
            state = self._last_state
            recovered, self._down_reported = self._down_reported, False
        if state is not None:
            self._send_state(state)
        if recovered:
            self._warn(f"MQTT broker {self.cfg.address}: connected again")

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()
        if reason.is_failure:
            self._outage(f"connection lost ({reason})")

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._ack_lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:  # acked before _publish saw its mid (or a QoS 0 message, written out)
                self._acked_early[mid] = None
                while len(self._acked_early) > 1024:
                    self._acked_early.popitem(last=False)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._connected.clear()
        self._outage("cannot connect")

    def _outage(self, why: str) -> None:
        with self._lock:
            if self._down_reported:
                return
            self._down_reported = True
        self._warn(
            f"MQTT broker {self.cfg.address}: {why}; alerts are queued and sent when it is back"
        )

    # the caller's thread ------------------------------------------------------------------

    def publish_event(self, event: AlertEvent) -> None:
        after = event.model_dump(mode="json")
        with self._lock:
            before = self._records.pop(event.id, None)
            self._records[event.id] = after
            while len(self._records) > 256:
                self._records.popitem(last=False)
        message: dict[str, Any] = {"type": event.type}
        if before is not None:
            message["before"] = before
        message["after"] = after
        payload = json.dumps(message, ensure_ascii=False)
        for topic in (self.topic("events"), self.topic(event.camera, "events")):
            self._publish(topic, payload, qos=1, retain=False)

    def publish_state(self, state: LiveState) -> None:
        with self._lock:
            self._last_state = state
        if self._connected.is_set():  # otherwise the next connect sends the latest
            self._send_state(state)

    def _send_state(self, state: LiveState) -> None:
        self._publish(self.topic(state.camera, "state"), state.model_dump_json(), 0, True)
        if state.scores:
            score = f"{state.scores[-1]:.4g}"
            self._publish(self.topic(state.camera, "score"), score, 0, True)

    def _publish(self, topic: str, payload: str, qos: int, retain: bool) -> None:
        try:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, OSError) as e:
            self._warn(f"MQTT {topic}: not published ({_reason(e)})")
            return
        if info.rc == self._mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
            if self.dropped == 1:
                self._warn(f"MQTT broker {self.cfg.address}: queue full, dropping alerts")
        elif qos:
            with self._ack_lock:
                if info.mid in self._acked_early:
                    del self._acked_early[info.mid]
                else:
                    self._unacked.add(info.mid)

    def close(self, timeout: float = 2.0) -> None:
        """Say "offline" (a clean disconnect sends no last will), then stop paho's thread;
        gives up after ``timeout`` seconds (the thread is a daemon)."""
        deadline = time.monotonic() + timeout
        if self._connected.is_set():
            info = self._client.publish(self.topic("available"), "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(max(0.0, (deadline - time.monotonic()) / 2))
        stopper = threading.Thread(target=self._stop, daemon=True)
        stopper.start()
        stopper.join(max(0.0, deadline - time.monotonic()))

    def _stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
