"""Running the forward pass in a *spawned* process, so the Sphinx process never starts torch.

Sphinx forks its ``-j`` workers; a process whose OpenMP pool torch has started can deadlock
its forked children (measured here: a hang under ``-j 2``). A spawned process starts clean, and
one pool per Sphinx process (re-created after a fork, since the pid changes) keeps the model
loaded across images. Functions are named as strings so that this module never imports
torch-importing code.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

_pool: ProcessPoolExecutor | None = None
_pool_pid: int | None = None


class ComputeError(RuntimeError):
    """The worker failed; the message is the worker's error, without its traceback."""


def _call(target: str, args: tuple):
    module_name, function_name = target.rsplit(":", 1)
    return getattr(importlib.import_module(module_name), function_name)(*args)


def _get_pool() -> ProcessPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        _pool_pid = os.getpid()
    return _pool


def shutdown() -> None:
    global _pool
    if _pool is not None and _pool_pid == os.getpid():
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool = None


atexit.register(shutdown)


def run(target: str, *args, timeout: float | None = None):
    """Run ``module:function(*args)`` in the compute process and return its result."""
    global _pool
    try:
        return _get_pool().submit(_call, target, args).result(timeout=timeout)
    except BrokenProcessPool as exc:
        _pool = None
        raise ComputeError(f"the compute process died ({exc}); it is restarted on the next figure") from None
    except TimeoutError:
        shutdown()
        raise ComputeError(f"the forward pass took longer than {timeout} s (elvit_compute_timeout)") from None
    except ComputeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the worker's own error, reported as a message
        raise ComputeError(f"{type(exc).__name__}: {exc}") from None
