"""What every command shares: one-line errors and exit codes, human lines and progress on stderr."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
from pathlib import Path

import typer
from rich.console import Console

from aigc_biz.errors import AigcBizError, Terminated, unexpected_line

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)
#: C0 controls but tab and newline, DEL, C1 controls (ESC and CSI start terminal escapes) and the
#: bidirectional overrides that make text display in another order than it reads
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """``text`` safe to print on a terminal: control characters shown as ``\\x1b``-style escapes.

    Column names, ids and message bodies come from the user's files; printed raw, an ESC sequence
    in one could clear the screen, retitle the window or hide lines.
    """
    return _CONTROLS.sub(
        lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else f"\\u{ord(m.group(0)):04x}", str(text)
    )


def handle_errors(func):
    """Turn library errors into ``Error: …`` on stderr and the error's exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except AigcBizError as exc:
            err_console.print(printable(f"Error: {exc.one_line()}"), markup=False)
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted: nothing half-written was left behind.", markup=False)
            raise typer.Exit(code=130) from None
        except Terminated as exc:  # SIGTERM/SIGHUP, see aigc_biz.cli.install_signal_handlers
            err_console.print(f"Stopped by {exc.name}: nothing half-written was left behind.", markup=False)
            raise typer.Exit(code=128 + exc.signum) from None
        except Exception as exc:  # an unexpected bug: one line unless asked for the traceback
            if os.environ.get("AIGC_BIZ_DEBUG"):
                raise
            err_console.print(
                printable(f"Error: {unexpected_line(exc)} (set AIGC_BIZ_DEBUG=1 to see the traceback)"),
                markup=False,
            )
            raise typer.Exit(code=1) from None

    return wrapper


def info(message: str, quiet: bool) -> None:
    """A human line on stderr (stdout stays clean for --json)."""
    if not quiet:
        err_console.print(printable(message), markup=False)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


class TerminalObserver:
    """What a job says, on stderr: lines, warnings, and progress bars when stderr is a terminal.

    Implements :class:`aigc_biz.api.Observer`; use it as a context manager so a bar still drawn at the
    end is cleared. Training epochs are log lines when stderr is not a terminal (cron, CI logs).
    """

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = None
        self._task = None
        self._name = None
        self._started = time.perf_counter()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def info(self, message: str) -> None:
        info(message, self.quiet)

    def warning(self, message: str) -> None:
        info(f"Warning: {message}", self.quiet)

    def epoch(self, model: str, stats: dict) -> None:
        if self.quiet:
            return
        if "restart_kept" in stats:  # the end of a fit with restarts: which seed was kept, and why
            self._close()
            others = [s for s in stats["restart_scores"] if s["seed"] != stats["restart_kept"]]
            kept = next(s for s in stats["restart_scores"] if s["seed"] == stats["restart_kept"])
            err_console.print(
                f"[{model}] kept seed {kept['seed']} of {len(stats['restart_scores'])} restarts: val NDCG "
                f"{kept['best_val_ndcg']:.4f} at epoch {kept['best_epoch']} ("
                + ", ".join(f"seed {s['seed']}: {s['best_val_ndcg']:.4f}" for s in others)
                + ")",
                markup=False,
            )
            if stats.get("ensemble_val_ndcg") is not None:  # restart_combine=mean or select: several kept
                n, averaged = len(stats["restart_scores"]), stats["restarts_averaged"]
                which = (
                    f"the {n} restarts"
                    if len(averaged) == n
                    else f"{len(averaged)} of the {n} restarts (seeds {', '.join(map(str, averaged))})"
                )
                err_console.print(
                    f"[{model}] scoring with the mean of {which}: val NDCG {stats['ensemble_val_ndcg']:.4f}",
                    markup=False,
                )
            return
        if "epoch" not in stats:  # a closed-form fit reports its item blocks (itemknn) or only that it is done
            done, total = stats.get("items_done"), stats.get("n_items")
            if err_console.is_terminal and done is not None:
                self._open(f"fitting {model} (items)", total)
                self._bar.update(self._task, total=total, completed=done, stats="")
            elif done is None or done == total:
                err_console.print(f"[{model}] fitted" + (f" on {total:,} items" if total else ""), markup=False)
            return
        parts = []
        if stats.get("loss") is not None:
            parts.append(f"loss {stats['loss']:.4g}")
        if stats.get("val_ndcg") is not None:
            parts.append(f"val NDCG {stats['val_ndcg']:.4f}")
        if stats.get("restarts"):
            model = f"{model} seed {stats['seed']}, restart {stats['restart']}/{stats['restarts']}"
        if not err_console.is_terminal:
            err_console.print(
                f"[{model}] " + ", ".join([f"epoch {stats.get('epoch')}/{stats.get('epochs')}"] + parts), markup=False
            )
            return
        self._open(f"training {model}", stats.get("epochs"))
        self._bar.update(self._task, total=stats.get("epochs"), completed=stats.get("epoch", 0), stats=", ".join(parts))

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        if self.quiet or not err_console.is_terminal:
            return
        self._open(task, total)
        self._bar.advance(self._task, n)

    def _open(self, name: str, total: int | None) -> None:
        """One bar at a time: a new task closes the bar of the one before."""
        if self._name == name:
            return
        self._close()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(name, total=total, stats="")
        self._name, self._started = name, time.perf_counter()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            info(f"{self._name} took {time.perf_counter() - self._started:.1f} s", self.quiet)
        self._bar = self._task = self._name = None


def shown(outputs: dict) -> dict:
    """Outputs for people and --json: file paths relative to the current folder, table names as they are."""
    return {key: display_path(value) if isinstance(value, Path) else value for key, value in outputs.items()}


def display_path(path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(Path(path).resolve())
