"""Content-addressed cache of traces, training steps and view data. Never imports torch.

A key hashes everything that affects the output: model fingerprint, image bytes, options and
schema numbers. Files are written to a temporary name and ``os.replace``-d into place, so a
parallel reader sees either nothing or the whole file. Entries are never deleted at build end.
"""

from __future__ import annotations

import contextlib
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

    def step_path(self, key: str) -> str:
        return os.path.join(self.root, "steps", f"{key}.npz")

    def view_path(self, key: str) -> str:
        return os.path.join(self.root, "views", f"{key}.json")

    def load_trace(self, key: str) -> Trace | None:
        """The cached trace, or None if absent. Raises ValueError if the entry is corrupt."""
        return _load_record(self.trace_path(key))

    def load_step(self, key: str) -> Trace | None:
        """The cached training step, or None if absent. Raises ValueError if it is corrupt."""
        return _load_record(self.step_path(key))

    @contextlib.contextmanager
    def lock(self, key: str):
        """An exclusive lock on ``key`` across processes (POSIX flock; none elsewhere): Sphinx's
        -j readers and notebook kernels may ask for the same entry at once; one computes, the
        others wait for it and then read its result."""
        try:
            import fcntl
        except ImportError:  # Windows: at worst two processes compute the same entry
            yield
            return
        folder = os.path.join(self.root, "traces")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{key}.lock"), "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def log_compute(self, key: str, image_name: str, result: dict) -> None:
        """One line per forward pass or training step actually run (compute-log.jsonl): the
        rebuild tests and `nox -s bench` read it."""
        os.makedirs(self.root, exist_ok=True)
        with open(os.path.join(self.root, "compute-log.jsonl"), "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"key": key, "image": image_name, "pid": os.getpid(),
                                     **{k: v for k, v in result.items() if k != "mismatches"},
                                     "mismatches": len(result["mismatches"])}) + "\n")

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


def _load_record(path: str) -> Trace | None:
    if not os.path.exists(path):
        return None
    return Trace.load(path)
