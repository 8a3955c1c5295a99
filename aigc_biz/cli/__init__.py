"""The ``aigc-biz`` console script (also run by the repository's top-level ``cli.py``).

Ctrl-C is caught from the very start: the console script imports this package first, and the
command line's imports (pandas, torch) take a moment, so an interrupt there is one line and exit
130 too, never a traceback. :func:`main` then turns SIGTERM and SIGHUP into :class:`Terminated`.
"""

from __future__ import annotations

import signal
import sys

from aigc_biz.errors import Terminated

_INTERRUPTED = "Interrupted: nothing half-written was left behind.\n"


def _swallowed_interrupts(hook):
    """An unraisable hook that keeps a Ctrl-C the import machinery would only report as "Exception ignored"."""
    caught = []

    def keep(info):
        if isinstance(info.exc_value, KeyboardInterrupt):
            caught.append(info.exc_value)
        else:
            hook(info)

    return keep, caught


_previous_hook = sys.unraisablehook
_hook, _caught = _swallowed_interrupts(_previous_hook)
sys.unraisablehook = _hook
try:
    from aigc_biz.cli.app import app

    if _caught:
        raise _caught[0]
except KeyboardInterrupt:
    sys.stderr.write(_INTERRUPTED)
    sys.exit(130)
finally:
    if sys.unraisablehook is _hook:
        sys.unraisablehook = _previous_hook


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
