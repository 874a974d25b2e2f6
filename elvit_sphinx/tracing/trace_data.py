"""The recorded forward pass as plain data: named NumPy arrays plus the model's geometry.

Shared by the compute worker (which writes it) and the Sphinx side and notebook cells (which
read it); it imports NumPy only. On disk a trace is one uncompressed ``.npz`` whose arrays are
read lazily, so a view that needs two tensors reads two tensors.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

#: Bump when the names, shapes or meaning of recorded arrays change: it is part of cache keys.
TRACE_SCHEMA = 2
_META_KEY = "__meta__"


@dataclass(frozen=True)
class TraceConfig:
    """Geometry and provenance of the traced model and image: every number the book prints."""

    image_size: int
    patch_size: int
    num_channels: int
    hidden_size: int
    num_heads: int
    num_layers: int
    intermediate_size: int
    layer_norm_eps: float
    id2label: dict[int, str]
    model_label: str
    model_fingerprint: str
    trained: bool
    image_name: str
    image_sha256: str
    image_conversions: list[str] = field(default_factory=list)
    image_original_size: tuple[int, int] = (0, 0)
    image_mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    image_std: tuple[float, ...] = (0.5, 0.5, 0.5)
    #: The folder the weights were loaded from ("" for the untrained embedded model, and in
    #: traces written before this field existed): what lets a later computation on the same
    #: model (the training step of :mod:`elvit_sphinx.tracing.steps`) find it from the trace alone.
    model_path: str = ""

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    @property
    def num_tokens(self) -> int:
        return self.num_patches + 1

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    def to_json(self) -> str:
        data = asdict(self)
        data["id2label"] = {str(k): v for k, v in self.id2label.items()}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TraceConfig:
        data = json.loads(text)
        data["id2label"] = {int(k): v for k, v in data["id2label"].items()}
        data["image_original_size"] = tuple(data["image_original_size"])
        data["image_mean"] = tuple(data["image_mean"])
        data["image_std"] = tuple(data["image_std"])
        return cls(**data)


class Trace(Mapping[str, np.ndarray]):
    """Named intermediates of one forward pass (``trace[name]``, ``trace.names()``)."""

    def __init__(self, arrays: Mapping[str, np.ndarray], config: TraceConfig):
        self._arrays = arrays
        self.config = config

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            raise KeyError(f"no tensor named {name!r} in this trace; see trace.names()") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def names(self) -> list[str]:
        return [n for n in self._arrays.keys() if n != _META_KEY]

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a parallel reader sees the old file or the whole new one."""
        path = os.fspath(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                meta = np.frombuffer(self.config.to_json().encode(), dtype=np.uint8)
                np.savez(handle, **{_META_KEY: meta}, **{n: self[n] for n in self.names()})
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trace:
        """Open a saved trace; arrays are read on first access. Raises ValueError if corrupt."""
        try:
            npz = np.load(os.fspath(path), allow_pickle=False)
            config = TraceConfig.from_json(bytes(npz[_META_KEY]).decode())
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError,
                TypeError, EOFError) as exc:
            raise ValueError(f"corrupt trace file {path}: {exc}") from None
        return cls(npz, config)

    def block(self, index: int, part: str) -> np.ndarray:
        return self[f"encoder.layer.{index}.{part}"]
