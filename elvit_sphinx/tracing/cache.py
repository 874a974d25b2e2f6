"""Content-addressed cache of traces and view data. Never imports torch.

A key hashes everything that affects the output: model fingerprint, image bytes, options and
schema numbers. Files are written to a temporary name and ``os.replace``-d into place, so a
parallel reader sees either nothing or the whole file. Entries are never deleted at build end.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

from elvit_sphinx.tracing.trace_data import TRACE_SCHEMA, Trace


def make_key(*parts) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def trace_key(model_fingerprint: str, image_sha256: str, max_pixels: int) -> str:
    return make_key("trace", TRACE_SCHEMA, model_fingerprint, image_sha256, max_pixels)


class Cache:
    def __init__(self, root: str):
        self.root = root

    def trace_path(self, key: str) -> str:
        return os.path.join(self.root, "traces", f"{key}.npz")

    def view_path(self, key: str) -> str:
        return os.path.join(self.root, "views", f"{key}.json")

    def load_trace(self, key: str) -> Trace | None:
        """The cached trace, or None if absent. Raises ValueError if the entry is corrupt."""
        path = self.trace_path(key)
        if not os.path.exists(path):
            return None
        return Trace.load(path)

    def discard(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def read_text(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write atomically: a parallel reader sees the old file or the whole new one."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes files private; cached files are copied to the site
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
