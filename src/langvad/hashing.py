"""Content addresses: the sha256 of a value's canonical JSON (cache keys, config hashes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any) -> str:
    """sha256 of a canonical JSON dump (sorted keys): the content-address of a value."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()
