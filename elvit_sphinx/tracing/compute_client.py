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
import multiprocessing.util
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

_pool: ProcessPoolExecutor | None = None
_pool_pid: int | None = None


class ComputeError(RuntimeError):
    """The worker failed; the message is the worker's error, without its traceback."""


def _call(target: str, args: tuple):
    module_name, function_name = target.rsplit(":", 1)
    return getattr(importlib.import_module(module_name), function_name)(*args)


def _ignore_interrupts() -> None:
    # Ctrl-C (or a Jupyter kernel shutting down) reaches the whole process group; the worker
    # is stopped by its parent instead, without printing a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _get_pool() -> ProcessPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_ignore_interrupts)
        _pool_pid = os.getpid()
        # Sphinx's forked -j workers end through multiprocessing's exit function, which joins
        # every non-daemon child, our idle worker included: a hang. Finalizers with an exit
        # priority run before that join, so the pool is shut down first.
        multiprocessing.util.Finalize(None, shutdown, exitpriority=100)
    return _pool


def shutdown() -> None:
    global _pool
    if _pool is not None and _pool_pid == os.getpid():
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool = None


atexit.register(shutdown)


def _kill_pool() -> None:
    # A stuck forward pass cannot be cancelled; end the worker (Python 3.14 has
    # ProcessPoolExecutor.terminate_workers, 3.11 needs its private process table).
    global _pool
    if _pool is not None and _pool_pid == os.getpid():
        for process in list(getattr(_pool, "_processes", {}).values()):
            process.terminate()
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool = None


def run(target: str, *args, timeout: float | None = None):
    """Run ``module:function(*args)`` in the compute process and return its result."""
    global _pool
    try:
        return _get_pool().submit(_call, target, args).result(timeout=timeout)
    except BrokenProcessPool as exc:
        _pool = None
        raise ComputeError(f"the compute process died ({exc}); it is restarted on the next figure") from None
    except TimeoutError:
        _kill_pool()
        raise ComputeError(f"the forward pass took longer than {timeout} s (elvit_compute_timeout)") from None
    except ComputeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the worker's own error, reported as a message
        raise ComputeError(f"{type(exc).__name__}: {exc}") from None
