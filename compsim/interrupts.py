"""Interrupts during a run: Ctrl-C (SIGINT) and SIGTERM stop it cleanly between two chunks.

While :meth:`compsim.Network.run` runs, SIGINT and SIGTERM do not raise where
they land (which could be inside h5py, between a dataset resize and its
write, or inside a finaliser that swallows the exception). A handler records
the signal; after the chunk in progress is drained and flushed, the run
stops: the HDF5 file is closed marked incomplete, holding everything up to the
last chunk, and ``KeyboardInterrupt`` (SIGINT) or ``SystemExit(143)`` (SIGTERM)
is raised. The wait is at most one chunk's wall time. Outside the main
thread (where Python cannot install signal handlers) signals act as usual.
"""
import contextlib
import signal
import threading

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DeferredSignals:
    """Records the first SIGINT/SIGTERM; :meth:`raise_if_signalled` turns it into the usual exception."""

    def __init__(self):
        self.signum = None

    def _handler(self, signum, frame):
        if self.signum is None:
            self.signum = signum

    def raise_if_signalled(self):
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt("compsim: run interrupted (SIGINT) after a complete chunk")
        if self.signum == signal.SIGTERM:
            raise SystemExit(128 + signal.SIGTERM)


@contextlib.contextmanager
def deferred_signals():
    """Within the block, SIGINT and SIGTERM are recorded instead of raised (main thread only)."""
    deferred = DeferredSignals()
    if threading.current_thread() is not threading.main_thread():
        yield deferred
        return
    previous = {s: signal.signal(s, deferred._handler) for s in _SIGNALS}
    try:
        yield deferred
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
