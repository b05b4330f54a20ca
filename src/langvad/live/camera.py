"""Camera config files for ``langvad watch``: what each camera is, how it is judged, where
its alerts go.

A file (``.yaml``, ``.yml`` or ``.json``) holds one camera, or ``cameras: [...]``::

    name: loading-dock
    source: rtsp://127.0.0.1:8554/dock      # optional: the command line's SOURCE wins
    preset: ucf
    profile: fast
    context: "loading dock; trucks at night are normal"
    rules: dock-rules.md                     # relative to this file
    threshold: 0.6                           # opens a segment ...
    hysteresis: 0.1                          # ... which closes below 0.6 - 0.1
    min_event_seconds: 2
    cooldown_seconds: 30
    experts: [violence, fall]                # or "none"
    config: {window_seconds: 8}              # any other langvad Config field
    sinks:
      events: /var/log/langvad/all.jsonl     # optional: a copy of DIR/events.jsonl
      webhooks: [{url: "http://127.0.0.1:8123/api/webhook/dock", retries: 3}]
      mqtt: {host: "127.0.0.1:1883", topic_prefix: langvad}

Unknown keys are refused; any problem is one :class:`InputError` naming the file and the
field. :func:`parse_host_port` is shared with the command line (``--mqtt HOST:PORT``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from langvad.config import PRESET_PROMPTS, Config, describe_errors, preset_config
from langvad.errors import InputError
from langvad.userfiles import read_text_file

MAX_CAMERA_FILE_BYTES = 1024 * 1024
DEFAULT_MQTT_PORT = 1883
SUFFIXES = (".yaml", ".yml", ".json")
# camera names enter MQTT topics, event ids and key frame file names
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# set at the camera level, not in `config`
_CAMERA_LEVEL = {
    "preset": "preset",
    "profile": "profile",
    "threshold": "threshold",
    "hysteresis": "hysteresis",
    "segmentation": "threshold",
    "min_segment_seconds": "min_event_seconds",
    "experts": "experts",
}


def parse_host_port(
    text: str, default_port: int = DEFAULT_MQTT_PORT, what: str = "MQTT address"
) -> tuple[str, int]:
    """``"127.0.0.1:1883"`` → ``("127.0.0.1", 1883)``; ``"broker"`` → the default port;
    IPv6 as ``"[::1]:1883"`` or a bare ``"::1"``. Anything else is one :class:`InputError`."""

    def bad(why: str) -> InputError:
        return InputError(f"{what} {text!r}: {why}", hint="write HOST:PORT, e.g. 127.0.0.1:1883")

    if not isinstance(text, str) or not text.strip():
        raise bad("empty")
    s = text.strip()
    if "://" in s or "/" in s or any(c.isspace() for c in s):
        raise bad("expected HOST or HOST:PORT, not a URL or a path")
    host, port_text = s, ""
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise bad("unclosed '['")
        host, rest = s[1:end], s[end + 1 :]
        if rest and not rest.startswith(":"):
            raise bad(f"unexpected {rest!r} after the address")
        port_text = rest[1:] if rest else ""
        if not _is_ipv6(host):
            raise bad(f"{host!r} is not an IPv6 address")
    elif s.count(":") > 1:
        if not _is_ipv6(s):
            raise bad("too many ':' (write an IPv6 address as [ADDR]:PORT)")
    elif ":" in s:
        host, port_text = s.split(":", 1)
        if not host:
            raise bad("no host before ':'")
    if port_text or s.endswith(":"):
        if not port_text.isdigit():
            raise bad(f"port {port_text!r} is not a number")
        port = int(port_text)
    else:
        port = default_port
    if not 1 <= port <= 65535:
        raise bad(f"port {port} is outside 1-65535")
    return host, port


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _resolve(path: Path | None, info: ValidationInfo) -> Path | None:
    """A relative path is taken from the config file's folder (``context["base_dir"]``)."""
    if path is None or path.is_absolute():
        return path
    base = (info.context or {}).get("base_dir")
    return Path(base) / path if base is not None else path


class WebhookConfig(BaseModel):
    """One URL every alert is POSTed to (JSON body: the AlertEvent)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    url: str
    timeout_seconds: float = Field(5.0, gt=0, le=120)
    retries: int = Field(3, ge=0, le=10, description="attempts after the first one")
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        if not parts.hostname:
            raise ValueError("has no host")
        try:
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as e:
            raise ValueError(f"bad port in {url!r}") from e
        return url.strip()

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for k, v in headers.items():
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", k):
                raise ValueError(f"bad header name {k!r}")
            if "\r" in v or "\n" in v:
                raise ValueError(f"header {k!r} has a line break")
        return headers


class MqttConfig(BaseModel):
    """The MQTT broker alerts and the camera state are published to.

    ``host`` may carry the port (``"127.0.0.1:1883"``); ``port`` alone works too."""

    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(None, ge=1, le=65535, description="default: host's, or 1883")
    host: str = Field(description="HOST or HOST:PORT")
    topic_prefix: str = "langvad"
    username: str | None = None
    password: str | None = None
    client_id: str | None = Field(None, description="default: langvad-<camera>")

    @field_validator("host")
    @classmethod
    def _host_port(cls, host: str, info: ValidationInfo) -> str:
        port = info.data.get("port")
        try:
            _, parsed = parse_host_port(host, default_port=port or DEFAULT_MQTT_PORT)
        except InputError as e:
            raise ValueError(e.message) from None
        if port is not None and parsed != port:
            raise ValueError(f"{host!r} gives port {parsed} but port is {port}")
        return host

    @model_validator(mode="after")
    def _split_host(self) -> MqttConfig:
        self.host, self.port = parse_host_port(self.host, self.port or DEFAULT_MQTT_PORT)
        return self

    @field_validator("topic_prefix")
    @classmethod
    def _topic(cls, prefix: str) -> str:
        if not prefix or prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
            raise ValueError(f"{prefix!r} is not a topic prefix (e.g. 'langvad' or 'site/cams')")
        if any(c in prefix for c in "+#\0"):
            raise ValueError("must not contain the wildcards '+' or '#'")
        return prefix

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class SinksConfig(BaseModel):
    """Where alerts go besides ``DIR/events.jsonl`` (always written: the record of truth)."""

    model_config = ConfigDict(extra="forbid")

    events: Path | None = Field(
        None, description="another events log to append to (e.g. one for all cameras)"
    )
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    mqtt: MqttConfig | None = None

    @field_validator("events")
    @classmethod
    def _events_path(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(path, info)


class CameraConfig(BaseModel):
    """One camera: its detection settings (:meth:`langvad_config`) and its alert sinks."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    source: str | None = Field(None, description="stream address; the command line's wins")
    preset: str = "ucf"
    profile: str | None = None
    context: str | None = Field(None, description="what is normal where the camera is")
    rules: Path | None = Field(None, description="rules Markdown file (langvad induce)")
    threshold: float = Field(0.5, ge=0, le=1, description="score that opens a segment")
    hysteresis: float = Field(0.1, ge=0, le=0.5, description="low = threshold − hysteresis")
    min_event_seconds: float = Field(1.0, ge=0)
    cooldown_seconds: float = Field(30.0, ge=0)
    experts: list[str] | None = Field(None, description="None: the default experts")
    config: dict[str, Any] = Field(default_factory=dict, description="other Config fields")
    sinks: SinksConfig = Field(default_factory=SinksConfig)

    @field_validator("name")
    @classmethod
    def _topic_safe(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(
                f"{name!r} is not a camera name (letters, digits, '-' and '_', at most 64)"
            )
        return name

    @field_validator("experts", mode="before")
    @classmethod
    def _expert_names(cls, value: object) -> object:
        """``"none"`` (or ``[]``) → no experts; ``"violence,fall"`` → the names."""
        if isinstance(value, str):
            names = [n.strip() for n in value.split(",") if n.strip()]
            return [] if names in ([], ["none"]) else names
        return value

    @field_validator("rules")
    @classmethod
    def _rules_path(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(path, info)

    @field_validator("config")
    @classmethod
    def _no_camera_level_keys(cls, data: dict[str, Any]) -> dict[str, Any]:
        for key, where in _CAMERA_LEVEL.items():
            if key in data:
                raise ValueError(f"set {where!r} at the camera level, not in config ({key!r})")
        return data

    @property
    def low(self) -> float:
        """The score under which an open segment closes."""
        return max(0.0, self.threshold - self.hysteresis)

    def langvad_config(self) -> Config:
        """The detection Config, built the way ``langvad detect`` builds it: the preset and
        profile (:func:`preset_config`) with ``config``'s overrides, then the rules file, then
        the context as the scene text. The segment threshold is fixed (no per-video Otsu)."""
        overrides = dict(self.config)
        if isinstance(overrides.get("prompts"), dict):  # merged over the preset's, as load_config
            base = PRESET_PROMPTS.get(self.preset)
            overrides["prompts"] = {**(base.model_dump() if base else {}), **overrides["prompts"]}
        overrides.update(
            threshold=self.threshold,
            hysteresis=self.hysteresis,
            segmentation="threshold",
            min_segment_seconds=self.min_event_seconds,
            experts=self.experts,
        )
        cfg = preset_config(self.preset, self.profile, **overrides)
        if self.rules is not None:
            from langvad.rules import load_rules, with_rules

            cfg = with_rules(cfg, load_rules(self.rules))
        if self.context is not None and self.context.strip():
            cfg = cfg.model_copy(
                update={"prompts": cfg.prompts.model_copy(update={"scene": self.context.strip()})}
            )
        return cfg


class _CameraList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cameras: list[CameraConfig] = Field(min_length=1)


def load_cameras(path: str | Path) -> list[CameraConfig]:
    """The cameras of a config file (one camera, or ``cameras: [...]``), each checked down
    to its detection Config (rules file read, overrides validated). Any problem is one
    :class:`InputError` naming the file and the field."""
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        raise InputError(
            f"camera config file {p}: unknown type {p.suffix or '(no suffix)'!r}",
            hint="name it .yaml, .yml or .json",
        )
    data = _read_mapping(p)
    context = {"base_dir": p.parent}
    try:
        if "cameras" in data:
            cameras = _CameraList.model_validate(data, context=context).cameras
        else:
            cameras = [CameraConfig.model_validate(data, context=context)]
    except ValidationError as e:
        raise InputError(
            f"camera config file {p}: {describe_errors(e)}", hint="fix the field named above"
        ) from None
    names = [c.name for c in cameras]
    for name in names:
        if names.count(name) > 1:
            raise InputError(
                f"camera config file {p}: two cameras are named {name!r}",
                hint="give each camera its own name",
            )
    for cam in cameras:
        try:
            cam.langvad_config()
        except InputError as e:
            raise InputError(
                f"camera config file {p}: camera {cam.name!r}: {e.message}", hint=e.hint
            ) from None
    return cameras


def _read_mapping(p: Path) -> dict[str, Any]:
    _, text = read_text_file(p, "camera config file", max_bytes=MAX_CAMERA_FILE_BYTES)
    kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
    try:
        data = json.loads(text) if kind == "JSON" else _yaml_load(p, text)
    except (ValueError, RecursionError) as e:  # JSON and YAML syntax errors are ValueErrors
        where = _where(e) if isinstance(e, json.JSONDecodeError | _YamlError) else ""
        raise InputError(
            f"camera config file {p} is not valid {kind}{where or f' ({type(e).__name__})'}",
            hint="fix the file",
        ) from None
    if not isinstance(data, dict):
        got = "nothing" if data is None else f"a {type(data).__name__}"
        raise InputError(
            f"camera config file {p} holds {got}, expected a mapping of camera settings",
            hint="write 'name: ...' and the other settings, or 'cameras: [...]'",
        )
    return data


class _YamlError(ValueError):
    """A YAML syntax error, with its place."""

    def __init__(self, e: Exception) -> None:
        super().__init__(str(e))
        self.problem_mark = getattr(e, "problem_mark", None)
        self.problem = getattr(e, "problem", None)


def _yaml_load(p: Path, text: str) -> object:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML comes with the live extras
        raise InputError(
            f"camera config file {p}: reading YAML needs PyYAML",
            hint="pip install pyyaml, or write the file as .json",
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise _YamlError(e) from None


def _where(e: Exception) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f" (line {e.lineno}, column {e.colno}: {e.msg})"
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or "syntax error"
    if mark is not None:
        return f" (line {mark.line + 1}, column {mark.column + 1}: {problem})"
    return f" ({problem})"
