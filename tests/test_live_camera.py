"""Camera config files: valid JSON / YAML / multi-camera files, and every bad file is one
InputError naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langvad.errors import InputError
from langvad.live.camera import CameraConfig, MqttConfig, load_cameras, parse_host_port

RULES = (
    "# Scene\nA loading dock.\n\n# Normal\n- trucks parking\n\n"
    "# Abnormal\n- a person climbing the fence\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_camera_with_sinks_and_relative_rules(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf" / "dock.md", RULES)
    p = write(
        tmp_path / "conf" / "dock.yaml",
        """
name: dock
source: rtsp://127.0.0.1:8554/dock
preset: ped2
profile: fast
rules: dock.md
context: "  loading dock at night  "
threshold: 0.7
hysteresis: 0.2
min_event_seconds: 3
experts: none
config: {window_seconds: 8, prompts: {question: "Anything odd?"}}
sinks:
  events: logs/dock.jsonl
  webhooks:
    - url: http://127.0.0.1:9000/hook
      timeout_seconds: 2
      retries: 1
      headers: {Authorization: Bearer x}
  mqtt: {host: "127.0.0.1:1884", topic_prefix: site/cams, username: u, password: p}
""",
    )
    [cam] = load_cameras(p)
    assert cam.name == "dock" and cam.source == "rtsp://127.0.0.1:8554/dock"
    assert cam.rules == tmp_path / "conf" / "dock.md"
    assert cam.sinks.events == tmp_path / "conf" / "logs" / "dock.jsonl"
    assert cam.cooldown_seconds == 30 and cam.low == pytest.approx(0.5)
    assert cam.sinks.mqtt is not None
    assert (cam.sinks.mqtt.host, cam.sinks.mqtt.port) == ("127.0.0.1", 1884)
    assert cam.sinks.webhooks[0].retries == 1
    cfg = cam.langvad_config()
    assert cfg.preset == "ped2" and cfg.profile == "fast"
    assert cfg.threshold == 0.7 and cfg.hysteresis == 0.2 and cfg.segmentation == "threshold"
    assert cfg.min_segment_seconds == 3 and cfg.experts == [] and cfg.window_seconds == 8
    assert cfg.prompts.abnormal == ("a person climbing the fence",)
    assert cfg.prompts.scene == "loading dock at night"  # context wins over the rules' scene
    assert cfg.prompts.question == "Anything odd?"
    assert cfg.prompts.context  # the preset's other prompts kept


def test_json_camera_defaults_match_the_cli(tmp_path: Path) -> None:
    p = write(tmp_path / "cam.json", json.dumps({"name": "front", "experts": ["fall"]}))
    [cam] = load_cameras(p)
    assert cam.sinks.webhooks == [] and cam.sinks.mqtt is None and cam.sinks.events is None
    cfg = cam.langvad_config()
    from langvad.config import preset_config

    plain = preset_config("ucf", None, experts=["fall"])
    assert cfg.experts == ["fall"] and cfg.prompts == plain.prompts
    assert cfg.window_seconds == plain.window_seconds and cfg.score_mode == plain.score_mode


def test_multi_camera_file(tmp_path: Path) -> None:
    p = write(
        tmp_path / "cams.yml",
        """
cameras:
  - {name: a, threshold: 0.6, sinks: {mqtt: {host: 127.0.0.1, port: 1900}}}
  - {name: b, experts: "violence,fall", cooldown_seconds: 0}
""",
    )
    a, b = load_cameras(p)
    assert a.sinks.mqtt is not None and a.sinks.mqtt.port == 1900
    assert b.experts == ["violence", "fall"] and b.cooldown_seconds == 0


@pytest.mark.parametrize(
    "text, default, expected",
    [
        ("127.0.0.1:1883", 1883, ("127.0.0.1", 1883)),
        ("broker", 1999, ("broker", 1999)),
        ("[::1]:1884", 1883, ("::1", 1884)),
        ("::1", 1883, ("::1", 1883)),
    ],
)
def test_parse_host_port(text: str, default: int, expected: tuple[str, int]) -> None:
    assert parse_host_port(text, default) == expected


@pytest.mark.parametrize(
    "text", ["", "host:", "host:x", "host:0", "host:70000", ":1883", "mqtt://h:1", "a:b:c", "[::1"]
)
def test_parse_host_port_refuses(text: str) -> None:
    with pytest.raises(InputError, match="MQTT address"):
        parse_host_port(text)


def test_mqtt_port_conflict() -> None:
    assert MqttConfig(host="h", port=1884).port == 1884
    with pytest.raises(ValueError, match="port"):
        MqttConfig(host="h:1883", port=1884)


BAD = {
    "bad yaml": ("c.yaml", "name: a\nthreshold: [0.5\n", "not valid YAML"),
    "bad json": ("c.json", '{"name": "a",}', "not valid JSON"),
    "empty": ("c.yaml", "", "holds nothing"),
    "a list": ("c.yaml", "- a\n- b\n", "expected a mapping"),
    "unknown key": ("c.yaml", "name: a\nthreshhold: 0.5\n", "threshhold"),
    "unknown sink key": ("c.yaml", "name: a\nsinks: {smtp: x}\n", "sinks.smtp"),
    "threshold 2": ("c.yaml", "name: a\nthreshold: 2\n", "threshold"),
    "no name": ("c.json", '{"preset": "ucf"}', "name"),
    "bad name": ("c.yaml", "name: 'a/b'\n", "name"),
    "webhook ftp": (
        "c.yaml",
        "name: a\nsinks: {webhooks: [{url: 'ftp://127.0.0.1/x'}]}\n",
        "sinks.webhooks.0.url",
    ),
    "bad host:port": ("c.yaml", "name: a\nsinks: {mqtt: {host: '127.0.0.1:eighty'}}\n", "host"),
    "wildcard prefix": (
        "c.yaml",
        "name: a\nsinks: {mqtt: {host: h, topic_prefix: 'a/#'}}\n",
        "topic_prefix",
    ),
    "unknown preset": ("c.yaml", "name: a\npreset: nope\n", "unknown preset"),
    "unknown expert": ("c.yaml", "name: a\nexperts: [laser]\n", "laser"),
    "bad config key": ("c.yaml", "name: a\nconfig: {window_secs: 3}\n", "window_secs"),
    "bad config value": ("c.yaml", "name: a\nconfig: {window_seconds: -1}\n", "window_seconds"),
    "camera-level key in config": ("c.yaml", "name: a\nconfig: {threshold: 0.3}\n", "threshold"),
    "missing rules": ("c.yaml", "name: a\nrules: nowhere.md\n", "nowhere.md"),
    "two cameras one name": ("c.yaml", "cameras: [{name: a}, {name: a}]\n", "two cameras"),
    "no cameras": ("c.yaml", "cameras: []\n", "cameras"),
    "suffix": ("c.toml", "name = 'a'\n", ".toml"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_are_one_input_error_naming_the_file(tmp_path: Path, case: str) -> None:
    name, text, expect = BAD[case]
    p = write(tmp_path / name, text)
    with pytest.raises(InputError) as info:
        load_cameras(p)
    message = info.value.message
    assert str(p) in message and expect in message, message
    assert "\n" not in message and info.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as info:
        load_cameras(tmp_path / "none.yaml")
    assert str(tmp_path / "none.yaml") in info.value.message


def test_direct_construction_keeps_paths_relative_to_cwd() -> None:
    cam = CameraConfig(name="x", rules=Path("r.md"))
    assert cam.rules == Path("r.md")
