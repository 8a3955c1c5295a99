"""What every command shares: one-line errors and exit codes, progress on stderr, option types."""
from __future__ import annotations

import functools
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from aigc_biz.errors import AigcBizError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


def handle_errors(func):
    """Turn library errors into ``Error: …`` on stderr and the error's exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except AigcBizError as exc:
            err_console.print(f"Error: {exc.one_line()}", markup=False)
            raise typer.Exit(code=exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("Interrupted: nothing half-written was left behind.", markup=False)
            raise typer.Exit(code=130) from None
        except Exception as exc:  # an unexpected bug: one line unless asked for the traceback
            if os.environ.get("AIGC_BIZ_DEBUG"):
                raise
            err_console.print(f"Error: unexpected {type(exc).__name__}: {exc} "
                              "(set AIGC_BIZ_DEBUG=1 to see the traceback)", markup=False)
            raise typer.Exit(code=1) from None

    return wrapper


def info(message: str, quiet: bool) -> None:
    """A human line on stderr (stdout stays clean for --json)."""
    if not quiet:
        err_console.print(message, markup=False)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def progress_bar(description: str, total: int | None, quiet: bool):
    """Yield ``advance(n)``: a rich bar when stderr is a terminal, otherwise nothing is drawn."""
    if quiet or not err_console.is_terminal:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


@contextmanager
def training_progress(model: str, quiet: bool):
    """Yield a callback for training dicts (epoch, epochs, loss, val_ndcg): a bar on terminals, log lines otherwise."""
    start = time.perf_counter()
    if quiet:
        yield lambda d: None
        return
    if not err_console.is_terminal:
        def log(d: dict) -> None:
            parts = [f"epoch {d.get('epoch')}/{d.get('epochs')}"]
            if d.get("loss") is not None:
                parts.append(f"loss {d['loss']:.4g}")
            if d.get("val_ndcg") is not None:
                parts.append(f"val NDCG {d['val_ndcg']:.4f}")
            err_console.print(f"[{model}] " + ", ".join(parts), markup=False)
        yield log
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("training {task.fields[model]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=err_console,
                  transient=True) as bar:
        task = bar.add_task("train", total=None, model=model, stats="")

        def update(d: dict) -> None:
            stats = []
            if d.get("loss") is not None:
                stats.append(f"loss {d['loss']:.4g}")
            if d.get("val_ndcg") is not None:
                stats.append(f"val NDCG {d['val_ndcg']:.4f}")
            bar.update(task, total=d.get("epochs"), completed=d.get("epoch", 0), stats=", ".join(stats))

        yield update
    info(f"trained {model} in {time.perf_counter() - start:.1f} s", quiet)


def split_list(value: Optional[str]) -> list[str] | None:
    """``"a,b , c"`` -> ["a", "b", "c"]; None stays None."""
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


# --- option types shared by several commands -------------------------------------------------------
DataArg = Annotated[Optional[str], typer.Argument(
    help="Behaviour table: .csv/.tsv/.txt, .parquet, .xlsx, or a SQLAlchemy URL (with --table/--query).",
    show_default=False)]
DbOpt = Annotated[Optional[str], typer.Option("--db", help="Read from this SQLAlchemy URL instead of a file.",
                                              envvar="AIGC_BIZ_DB_URL", show_envvar=True)]
TableOpt = Annotated[Optional[str], typer.Option("--table", help="Table to read (with a URL or --db).")]
QueryOpt = Annotated[Optional[str], typer.Option("--query", help="SELECT to read (with a URL or --db).")]
UserColOpt = Annotated[Optional[str], typer.Option("--user-col", help="Column of customer ids (default: detected).")]
ItemColOpt = Annotated[Optional[str], typer.Option("--item-col", help="Column of item ids (default: detected).")]
TimeColOpt = Annotated[Optional[str], typer.Option("--time-col", help="Timestamp column (default: detected).")]
WeightColOpt = Annotated[Optional[str], typer.Option(
    "--weight-col", help="Rating, quantity, revenue or event-type column (default: detected).")]
UserAttrsOpt = Annotated[Optional[str], typer.Option(
    "--user-attrs", help="Comma-separated customer attribute columns (segment, region…).")]
ItemAttrsOpt = Annotated[Optional[str], typer.Option(
    "--item-attrs", help="Comma-separated item attribute columns (title, category, price…).")]
EventWeightsOpt = Annotated[Optional[str], typer.Option(
    "--event-weights", help="Weights per event type, e.g. 'view=1,cart=3,purchase=5'.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and --json).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]


def parse_event_weights(value: Optional[str]) -> dict | None:
    from aigc_biz.errors import InputError
    if not value:
        return None
    weights = {}
    for pair in split_list(value) or []:
        key, sep, raw = pair.partition("=")
        try:
            weights[key.strip()] = float(raw)
        except ValueError:
            raise InputError(f"--event-weights entry {pair!r} is not name=number") from None
        if not sep:
            raise InputError(f"--event-weights entry {pair!r} is not name=number")
    return weights


def load_data(data, db, table, query, user_col, item_col, time_col, weight_col, user_attrs, item_attrs,
              event_weights, quiet):
    """The shared ``load`` call of every command that reads a behaviour table."""
    from aigc_biz import api
    start = time.perf_counter()
    loaded = api.load(data, db=db, table=table, query=query, user_col=user_col, item_col=item_col,
                      time_col=time_col, weight_col=weight_col, user_attrs=split_list(user_attrs),
                      item_attrs=split_list(item_attrs), event_weights=parse_event_weights(event_weights))
    info(f"Loaded {loaded.nnz:,} interactions: {loaded.n_users:,} customers x {loaded.n_items:,} items "
         f"({time.perf_counter() - start:.1f} s)", quiet)
    for warning in loaded.warnings:
        info(f"Warning: {warning}", quiet)
    return loaded


def display_path(path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(Path(path).resolve())
