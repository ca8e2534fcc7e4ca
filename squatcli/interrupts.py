"""Ctrl-C (SIGINT) and SIGTERM stop a command the same way: as a KeyboardInterrupt, so the cleanup that every
command already does for Ctrl-C (temporary files and folders removed, training keeping its best epoch) also runs
when a process manager or `kill` ends it.

A KeyboardInterrupt raised while Python runs a garbage-collector callback or a `__del__` method cannot propagate:
Python prints "Exception ignored in ..." and carries on. JAX, which TensorFlow imports, registers such a gc
callback, and the garbage collector runs often while TensorFlow imports, so about one Ctrl-C in three during
start-up used to be swallowed and the command ran to the end. `install` re-sends a signal swallowed that way a
moment later, from outside the callback, until it lands.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

REDELIVER_S = 0.01  # delay before a swallowed signal is sent again


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same cleanup runs."""


def _raise(signum, frame) -> None:
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def install() -> None:
    """Make SIGINT and SIGTERM raise (KeyboardInterrupt, Terminated) and re-send any that were swallowed."""
    signal.signal(signal.SIGINT, _raise)
    signal.signal(signal.SIGTERM, _raise)
    previous = sys.unraisablehook

    def unraisable(info) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):  # raised where it could not propagate: try again
            signum = signal.SIGTERM if isinstance(info.exc_value, Terminated) else signal.SIGINT
            timer = threading.Timer(REDELIVER_S, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timer.start()
            return
        previous(info)

    sys.unraisablehook = unraisable


def quiet_worker() -> None:
    """Initialiser for worker processes: the parent handles Ctrl-C and stops them with SIGTERM, which then ends
    a worker at once (no KeyboardInterrupt or BrokenPipe tracebacks from workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
