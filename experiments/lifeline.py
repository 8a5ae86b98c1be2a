"""Worker processes that die with their parent (standard library only, so it loads at once).

A worker's initializer is imported before anything else the worker loads,
so this module imports nothing heavy: a worker is tied to its parent within
moments of starting, not after the model's libraries have loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

#: Linux prctl option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def worker_init(parent: int) -> None:
    """Set up a pool worker: ignore Ctrl-C (the parent handles it) and die when ``parent`` dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """End this process when process ``parent`` ends, even by SIGKILL.

    On Linux the kernel sends SIGKILL at the parent's death
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere, and as a back-up, a watchdog
    thread checks every second whether ``parent`` is still this process's parent.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM; handled like Ctrl-C."""


_terminated = threading.Event()


def _on_sigterm(signum, frame) -> None:
    _terminated.set()
    if not _called_back_from_c(frame):
        raise Terminated()


#: Python code that C calls back into: an exception raised there is printed ("Exception ignored on
#: calling ctypes callback function", with a traceback) and lost.  Numba's compiler calls llvmlite's
#: object-cache hook this way, so SIGTERM during a first compile would land there.
CALLBACK_SOURCES = ("llvmlite",)


def _called_back_from_c(frame) -> bool:
    """Whether ``frame`` runs inside a callback from C, where the exception must wait for :func:`check_terminated`."""
    while frame is not None:
        if any(part in frame.f_code.co_filename for part in CALLBACK_SOURCES):
            return True
        frame = frame.f_back
    return False


def handle_sigterm() -> object:
    """Treat SIGTERM like Ctrl-C from now on (raise :class:`Terminated`); returns the previous handler.

    An exception raised by a signal handler can be lost (when it lands in a
    ``__del__`` method, say), so long loops also call :func:`check_terminated`.
    """
    _terminated.clear()
    return signal.signal(signal.SIGTERM, _on_sigterm)


def check_terminated() -> None:
    """Raise :class:`Terminated` if SIGTERM came (even if the handler's exception was lost)."""
    if _terminated.is_set():
        raise Terminated()
