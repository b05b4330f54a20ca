"""Native stderr goes to the log file; Python's stderr keeps the terminal; --verbose keeps all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os, sys
from pathlib import Path
from langvad.native_logs import quiet_native_logs
print(quiet_native_logs(Path(sys.argv[1])), file=sys.stderr)
os.write(2, b"W0000 00:00:1.0 1 inference_feedback_manager.cc:114] native noise\\n")
print("progress from python", file=sys.stderr)
print(os.environ.get("GLOG_minloglevel"))
"""


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "native.log")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_native_stderr_goes_to_the_log_file(tmp_path: Path) -> None:
    r = _run(tmp_path, LANGVAD_VERBOSE="0")
    assert r.returncode == 0, r.stderr
    assert "progress from python" in r.stderr
    assert "inference_feedback_manager" not in r.stderr
    log = (tmp_path / "native.log").read_text()
    assert "native noise" in log and log.startswith("--- langvad pid")
    assert r.stdout.strip() == "2"  # glog's level set for libraries loaded later


def test_verbose_keeps_native_logs_on_the_console(tmp_path: Path) -> None:
    r = _run(tmp_path, LANGVAD_VERBOSE="1")
    assert r.returncode == 0, r.stderr
    assert "native noise" in r.stderr and "progress from python" in r.stderr
    assert not (tmp_path / "native.log").exists()
