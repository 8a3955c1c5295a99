"""The ``aigc-biz`` console script (also run by the repository's top-level ``cli.py``).

Ctrl-C is caught from the very start: the console script imports this package first, and the
command line's imports (pandas, torch) take a moment, so an interrupt there is held until they are done,
then one line and exit 130, never a traceback or an abort. :func:`main` then turns SIGTERM and SIGHUP
into :class:`Terminated`.
"""

from __future__ import annotations

import signal
import sys
import threading

from aigc_biz.errors import Terminated

_INTERRUPTED = "Interrupted: nothing half-written was left behind.\n"


def _import_app():
    """``aigc_biz.cli.app`` imported with Ctrl-C held back: an interrupt raised inside a native module's
    initialisation (torch's) aborts the interpreter instead of unwinding, so while the imports run a
    Ctrl-C is only recorded, and acted on once they are done."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        from aigc_biz.cli.app import app

        return app
    pending = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        from aigc_biz.cli.app import app
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        sys.stderr.write(_INTERRUPTED)
        sys.exit(130)
    return app


app = _import_app()


def _terminate(signum, frame):
    raise Terminated(signum, signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP unwind the program like Ctrl-C does (temporary files removed, transactions
    rolled back) instead of killing it on the spot; a signal already ignored (``nohup``) stays ignored."""
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _terminate)


def main() -> None:
    try:
        install_signal_handlers()
        app(prog_name="aigc-biz")
    except KeyboardInterrupt:  # outside a command (click turns one during parsing into "Aborted!")
        sys.stderr.write(_INTERRUPTED)
        sys.exit(130)
    except Terminated as exc:
        sys.stderr.write(f"Stopped by {exc.name}: nothing half-written was left behind.\n")
        sys.exit(128 + exc.signum)


__all__ = ["app", "install_signal_handlers", "main"]
