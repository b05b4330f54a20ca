"""Read a PyTorch checkpoint of tensors into numpy arrays, without PyTorch.

Supports both serialisation formats ``torch.save`` has used: the legacy stream (a run of pickles
followed by the raw storages, PyTorch < 1.6) and the zip archive (``archive/data.pkl`` plus
``archive/data/<key>``). Only plain containers of tensors are understood (a state dict), which is
what model weight packages ship; anything else is refused.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass
class _Storage:
    dtype: np.dtype
    key: str
    data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        assert self.storage.data is not None, f"storage {self.storage.key} was never read"
        flat = self.storage.data
        if not self.size:
            return flat[self.offset : self.offset + 1].reshape(()).copy()
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


class _StorageType:
    def __init__(self, name: str) -> None:
        if name not in _DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage type torch.{name}")
        self.dtype = _DTYPES[name]


def _rebuild_tensor_v2(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _LazyTensor:
    return _LazyTensor(storage, int(offset), tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Unpickler that only builds tensors, storages and plain containers."""

    def __init__(self, f: io.BufferedIOBase, storages: dict[str, _Storage]) -> None:
        super().__init__(f)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weight file")

    def persistent_load(self, pid: Any) -> _Storage:
        # legacy: ('storage', type, key, location, numel, view_metadata)
        # zip:    ('storage', type, key, location, numel)
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        stype, key = pid[1], str(pid[2])
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        dtype = stype.dtype if isinstance(stype, _StorageType) else np.dtype("<f4")
        return self.storages.setdefault(key, _Storage(dtype, key))


def _materialise(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.materialise()
    if isinstance(obj, dict):
        return OrderedDict((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def _load_legacy(f: io.BufferedIOBase) -> Any:
    magic = pickle.load(f)
    if magic != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch checkpoint (bad magic number)")
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info
    storages: dict[str, _Storage] = {}
    result = _Unpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        st = storages[str(key)]
        (numel,) = struct.unpack("<q", f.read(8))
        raw = f.read(numel * st.dtype.itemsize)
        if len(raw) != numel * st.dtype.itemsize:
            raise ValueError(f"checkpoint truncated in storage {key}")
        st.data = np.frombuffer(raw, dtype=st.dtype)
    return result


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl") or n == "data.pkl")
        prefix = pkl[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        result = _Unpickler(io.BytesIO(zf.read(pkl)), storages).load()  # type: ignore[arg-type]
        for key, st in storages.items():
            st.data = np.frombuffer(zf.read(f"{prefix}data/{key}"), dtype=st.dtype)
    return result


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return ``{name: array}`` for a checkpoint that holds a (possibly nested) dict of tensors."""
    p = Path(path)
    if zipfile.is_zipfile(p):
        raw = _load_zip(p)
    else:
        with p.open("rb") as f:
            raw = _load_legacy(f)  # type: ignore[arg-type]
    out = _materialise(raw)
    if not isinstance(out, dict):
        raise ValueError(f"{p} holds a {type(out).__name__}, not a dict of tensors")
    return dict(out)
