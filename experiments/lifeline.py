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
from collections.abc import Iterator

#: Linux prctl option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
#: The name of the thread that ends a worker whose parent died (:func:`die_with_parent`).
WATCHDOG = "parent-watchdog"


def worker_init(parent: int) -> None:
    """Set up a pool worker: ignore Ctrl-C (the parent handles it), end on SIGTERM, and die when ``parent`` dies.

    A forked worker inherits its parent's handlers (within
    :func:`interrupts_handled`, SIGTERM raises :class:`Terminated`), so they
    are reset here: the parent stops its workers with SIGTERM.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.unraisablehook = sys.__unraisablehook__
    _received.clear()
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

    threading.Thread(target=watch, name=WATCHDOG, daemon=True).start()


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM; handled like Ctrl-C."""


#: The interrupts received within :func:`interrupts_handled` (or deferred), oldest first.
_received: list[type[KeyboardInterrupt]] = []
#: How many :func:`interrupts_handled` blocks are open (0 or 1: the command line opens one).
_handled_depth = 0


def _on_sigterm(signum, frame) -> None:
    _received.append(Terminated)
    raise Terminated()


def _on_sigint(signum, frame) -> None:
    _received.append(KeyboardInterrupt)
    raise KeyboardInterrupt()


def _keep_lost_interrupts(unraisable) -> None:
    """``sys.unraisablehook`` while interrupts are handled: a lost interrupt waits silently for :func:`check_interrupted`.

    Python cannot raise an exception out of a ``__del__`` method, a weakref
    or garbage-collector callback, or Python code that C calls back into
    (llvmlite's object-cache hook while Numba compiles); it hands it to this
    hook, whose default prints "Exception ignored in ..." with a traceback.
    An interrupt that lands there is already recorded by its handler and is
    not printed; any other exception goes to the hook that was there before.
    """
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    _previous_unraisablehook(unraisable)


_previous_unraisablehook = sys.unraisablehook


class HandledInterrupts:
    """What :func:`interrupts_handled` yields: the interrupts its block received, kept after the
    block ends (the module forgets them then, so a later sweep in the same process starts afresh)."""

    def __init__(self) -> None:
        self.received: list[type[KeyboardInterrupt]] = []

    def kind(self) -> type[KeyboardInterrupt] | None:
        """:class:`Terminated` if SIGTERM came within the block, else ``KeyboardInterrupt`` if
        Ctrl-C came, else None (as :func:`interrupt_received` says within it)."""
        return _strongest(self.received)


@contextlib.contextmanager
def interrupts_handled() -> Iterator[HandledInterrupts]:
    """Within the block, SIGTERM is handled like Ctrl-C (it raises :class:`Terminated`), every
    interrupt is recorded, and one that lands where Python cannot raise it waits for :func:`check_interrupted`.

    An exception raised by a signal handler can be lost (when it lands in a
    ``__del__`` method, say) or turned into another exception (an extension
    module whose import it interrupts raises ``ImportError``), so long loops
    also call :func:`check_interrupted` and the caller can ask
    :func:`interrupt_received` within the block, or the :class:`HandledInterrupts`
    it yields after it.  The previous signal handlers and
    ``sys.unraisablehook`` come back at the end, and the interrupts recorded are
    forgotten by the module (code run after the block, a library's sweep in the
    same process, sees none).
    """
    global _previous_unraisablehook, _handled_depth
    handled = HandledInterrupts()
    _received.clear()
    previous_term = signal.signal(signal.SIGTERM, _on_sigterm)  # (raises ValueError outside the main thread)
    previous_int = signal.signal(signal.SIGINT, _on_sigint)
    _previous_unraisablehook, sys.unraisablehook = sys.unraisablehook, _keep_lost_interrupts
    _handled_depth += 1
    try:
        yield handled
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
        sys.unraisablehook = _previous_unraisablehook
        _handled_depth -= 1
        handled.received = _received[:]
        _received.clear()


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Within the block, Ctrl-C and SIGTERM raise nothing: for a stop that must finish once
    begun (a sweep's workers ended, its manifest written), which a second Ctrl-C would
    otherwise cut short.  Within :func:`interrupts_handled` (the command line) they are recorded
    for :func:`interrupt_received` and the next :func:`check_interrupted`; outside it (a
    library's caller) each is sent again as the block ends, to the handlers that were there
    before (Python's own raises ``KeyboardInterrupt``).  Outside the main thread (where signal
    handlers cannot be set) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    record = _handled_depth > 0
    came: list[int] = []

    def note(signum, frame) -> None:
        if record:
            _received.append(Terminated if signum == signal.SIGTERM else KeyboardInterrupt)
        elif signum not in came:
            came.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in came:
            signal.raise_signal(signum)


def interrupt_received() -> type[KeyboardInterrupt] | None:
    """:class:`Terminated` if SIGTERM came within :func:`interrupts_handled`, else ``KeyboardInterrupt``
    if Ctrl-C came, else None."""
    return _strongest(_received)


def _strongest(received: list[type[KeyboardInterrupt]]) -> type[KeyboardInterrupt] | None:
    if Terminated in received:
        return Terminated
    return KeyboardInterrupt if received else None


def check_interrupted() -> None:
    """Raise the interrupt that came (see :func:`interrupt_received`), even if its exception was lost."""
    kind = interrupt_received()
    if kind is not None:
        raise kind()
