"""Ctrl-C (SIGINT) and SIGTERM stop a command the same way: as a KeyboardInterrupt, so the cleanup that every
command already does for Ctrl-C (temporary files and folders removed, training keeping its best epoch) also runs
when a process manager or `kill` ends it.

Some places swallow a KeyboardInterrupt, and about one Ctrl-C in three during start-up (while TensorFlow imports,
1.5-3 s in) used to be lost, the command then running to the end with exit 0:
* a garbage-collector callback or a `__del__` method: Python prints "Exception ignored in ..." and carries on.
  JAX, which TensorFlow imports, registers a gc callback, and the collector runs often during imports (and later).
* the initialisation of a compiled module: jaxlib's runs Python code and discards an exception raised in it.
`install` re-sends a signal swallowed either way, from outside the swallowing code, until it lands: at once for the
first kind (Python reports it to `sys.unraisablehook`), and for one raised during an import if the command has
not seen it (`handled`) within SWALLOWED_AFTER_S.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

REDELIVER_S = 0.01  # delay before a signal swallowed in a gc callback or __del__ is sent again
SWALLOWED_AFTER_S = 0.5  # a signal raised during an import and not handled by then was swallowed: sent again

_pending: int | None = None  # a signal raised during an import that the command has not handled yet


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same cleanup runs."""


def _send_later(signum: int, delay: float, unless_handled: bool = False) -> None:
    def send() -> None:
        if not unless_handled or _pending is not None:
            os.kill(os.getpid(), signum)

    timer = threading.Timer(delay, send)
    timer.daemon = True
    timer.start()


def _importing(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _raise(signum, frame) -> None:
    global _pending
    if _importing(frame):  # it may be swallowed: check that the command sees it
        _pending = signum
        _send_later(signum, SWALLOWED_AFTER_S, unless_handled=True)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def reraise_if_interrupted(error: BaseException) -> None:
    """Raise the interruption instead of `error` when a signal arrived during an import that the command has not
    seen: a module whose initialisation the signal broke fails with an error of its own (e.g. ImportError:
    initialization failed), which is the Ctrl-C, not a fault."""
    if _pending is not None and not isinstance(error, KeyboardInterrupt):
        signum = _pending
        handled()
        raise (Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()) from error


def handled() -> None:
    """Called where the command catches the KeyboardInterrupt: the signal was not swallowed."""
    global _pending
    _pending = None


def install() -> None:
    """Make SIGINT and SIGTERM raise (KeyboardInterrupt, Terminated) and re-send any that were swallowed."""
    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)
    previous = sys.unraisablehook

    def unraisable(info) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):  # raised where it could not propagate: try again
            _send_later(signal.SIGTERM if isinstance(info.exc_value, Terminated) else signal.SIGINT, REDELIVER_S)
            return
        previous(info)

    sys.unraisablehook = unraisable


def quiet_worker() -> None:
    """Initialiser for worker processes: the parent handles Ctrl-C and stops them with SIGTERM, which then ends
    a worker at once (no KeyboardInterrupt or BrokenPipe tracebacks from workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
