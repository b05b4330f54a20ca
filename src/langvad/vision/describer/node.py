"""Where the describer's Node.js packages live, and how to install them (pinned, from npm).

The object detector runs TF.js models carried by the npm package ``@vladmandic/human`` in a
Node.js worker. Its packages are installed once into ``<langvad models dir>/node`` (next to the
other model files, see :func:`langvad.models.assets.models_dir`; ``$LANGVAD_NODE_DIR``
overrides) by ``python -m langvad.vision.describer.install`` (called from
``scripts/setup_vision.sh``). Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from langvad.errors import ModelError
from langvad.models.assets import models_dir

# Exact versions: the worker relies on their file layout (dist/human.node-wasm.js, models/).
NPM_PACKAGES: dict[str, str] = {
    "@vladmandic/human": "3.3.6",
    "@tensorflow/tfjs-core": "4.22.0",
    "@tensorflow/tfjs-converter": "4.22.0",
    "@tensorflow/tfjs-backend-wasm": "4.22.0",
}
SETUP_HINT = "run scripts/setup_vision.sh (or: python -m langvad.vision.describer.install)"
WORKER_SCRIPT = Path(__file__).with_name("human_worker.js")
REQUIRED_FILES = (
    "@vladmandic/human/dist/human.node-wasm.js",
    "@vladmandic/human/models/centernet.json",
    "@vladmandic/human/models/centernet.bin",
    "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
    "@tensorflow/tfjs-core/package.json",
    "@tensorflow/tfjs-converter/package.json",
)


def node_dir() -> Path:
    """Folder holding package.json and node_modules (``$LANGVAD_NODE_DIR`` overrides)."""
    env = os.environ.get("LANGVAD_NODE_DIR")
    return Path(env) if env else models_dir() / "node"


def node_executable() -> str:
    """Path of ``node`` (``$LANGVAD_NODE`` overrides); ModelError when there is none."""
    exe = os.environ.get("LANGVAD_NODE") or shutil.which("node")
    if not exe:
        raise ModelError(
            "the scene describer's object detector needs Node.js (node >= 18), "
            "which is not on PATH",
            hint="install Node.js (e.g. apt-get install nodejs) or set LANGVAD_NODE, "
            "or turn objects off (objects=False)",
        )
    return exe


def check_node_modules(root: Path | None = None) -> Path:
    """Return ``node_modules`` if every file the worker needs is there, else ModelError."""
    modules = (root or node_dir()) / "node_modules"
    missing = [f for f in REQUIRED_FILES if not (modules / f).is_file()]
    if missing:
        raise ModelError(
            f"the scene describer's npm packages are missing from {modules} "
            f"(first missing: {missing[0]})",
            hint=SETUP_HINT,
        )
    return modules


def install_node_packages(root: Path | None = None) -> Path:
    """Install the pinned npm packages into ``root`` (default :func:`node_dir`)."""
    target = root or node_dir()
    target.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "langvad-describer-node",
        "private": True,
        "description": "npm packages of langvad's scene describer (installed by langvad)",
        "dependencies": dict(NPM_PACKAGES),
    }
    (target / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    npm = shutil.which("npm")
    if not npm:
        raise ModelError("npm is not on PATH", hint="install Node.js with npm (node >= 18)")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--omit=dev"],
        cwd=target,
        check=True,
    )
    return check_node_modules(target)
