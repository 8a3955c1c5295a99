"""Option groups every command shares, defined once: where the data is, its column roles, business
rules, warehouse output and how much to print.

A command declares only its own options and lists the groups it offers::

    @app.command()
    @handle_errors
    @with_groups(SOURCE, ROLES, SHOW)
    def inspect(data: DataArg = None, load: dict = None, json_out: bool = False, quiet: bool = False): ...

:func:`with_groups` adds each group's options to the command's signature (so Typer shows them in
``--help``) and hands a group with ``into`` to the command as one dict of api keyword arguments,
unset options left out; a group without ``into`` passes its options one by one.
"""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, List, Optional

import typer

# --- single options ---------------------------------------------------------------------------------
DataArg = Annotated[
    Optional[str],
    typer.Argument(
        help="Behaviour table: .csv/.tsv/.txt, .parquet, .xlsx, or a SQLAlchemy URL (with --table/--query).",
        show_default=False,
    ),
]
DataOpt = Annotated[
    Optional[str],
    typer.Option(
        "--data", help="The behaviour table (customer and item details): a file, or a URL with --table/--query."
    ),
]
DbOpt = Annotated[
    Optional[str],
    typer.Option(
        "--db", help="Read from this SQLAlchemy URL instead of a file.", envvar="AIGC_BIZ_DB_URL", show_envvar=True
    ),
]
TableOpt = Annotated[Optional[str], typer.Option("--table", help="Table to read (with a URL or --db).")]
QueryOpt = Annotated[Optional[str], typer.Option("--query", help="SELECT to read (with a URL or --db).")]
SheetOpt = Annotated[
    Optional[str],
    typer.Option("--sheet", help="Excel sheet to read: its name or 0-based position (default: the first)."),
]
UserColOpt = Annotated[Optional[str], typer.Option("--user-col", help="Column of customer ids (default: detected).")]
ItemColOpt = Annotated[Optional[str], typer.Option("--item-col", help="Column of item ids (default: detected).")]
TimeColOpt = Annotated[Optional[str], typer.Option("--time-col", help="Timestamp column (default: detected).")]
WeightColOpt = Annotated[
    Optional[str],
    typer.Option("--weight-col", help="Rating, quantity, revenue or event-type column (default: detected)."),
]
UserAttrsOpt = Annotated[
    Optional[str], typer.Option("--user-attrs", help="Comma-separated customer attribute columns (segment, region…).")
]
ItemAttrsOpt = Annotated[
    Optional[str],
    typer.Option("--item-attrs", help="Comma-separated item attribute columns (title, category, price…)."),
]
EventWeightsOpt = Annotated[
    Optional[str], typer.Option("--event-weights", help="Weights per event type, e.g. 'view=1,cart=3,purchase=5'.")
]
CandidatesOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--candidates",
        help="CSV of item ids that may be recommended (first column or item_id); with "
        "title/category/price columns, ids the model does not know are scored as new products.",
    ),
]
ExcludeCategoriesOpt = Annotated[
    Optional[str], typer.Option("--exclude-categories", help="Comma-separated categories never to recommend.")
]
MaxPerCategoryOpt = Annotated[
    Optional[int],
    typer.Option("--max-per-category", help="At most this many items of one category per customer.", min=1),
]
MinPriceOpt = Annotated[Optional[float], typer.Option("--min-price", help="Lowest item price allowed.")]
MaxPriceOpt = Annotated[Optional[float], typer.Option("--max-price", help="Highest item price allowed.")]
IncludeSeenOpt = Annotated[
    bool, typer.Option("--include-seen", help="Allow items the customer already bought (default: excluded).")
]
OutDbOpt = Annotated[
    Optional[str],
    typer.Option("--out-db", help="Also write to this SQLAlchemy URL (one transaction).", envvar="AIGC_BIZ_OUT_DB_URL"),
]
RunIdOpt = Annotated[
    Optional[str],
    typer.Option("--run-id", help="Rows of this run replace earlier rows with the same id (default: the UTC time)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (and --json).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="trend (default: cvae mixed with what sells now), cvae, ease, itemknn, pop, cgan, sasrec, "
        "buyagain, blend, diffrec, ldiffrec or giffcf.",
    ),
]
ParamOpt = Annotated[
    Optional[List[str]],
    typer.Option("--param", "-p", help="Model hyper-parameter key=value (repeatable), e.g. -p epochs=30."),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (training and splits are repeatable).")]

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where to score: local (this process) or spark (needs --model-path, -o DIR.parquet and the "
        "[spark] extra).",
    ),
]
SparkMasterOpt = Annotated[
    Optional[str],
    typer.Option(
        "--spark-master",
        help="Spark master URL for --engine spark (default local[*]), e.g. local[4], yarn, spark://host:7077.",
        envvar="AIGC_BIZ_SPARK_MASTER",
        show_envvar=True,
    ),
]


# --- groups -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptionGroup:
    """Options offered together; with ``into``, the command gets them as one dict named ``into``."""

    params: tuple[inspect.Parameter, ...]
    into: str | None = None


def _group(into: str | None, panel: str | None = None, **options: tuple[Any, Any]) -> OptionGroup:
    """``name=(Annotated type, default)`` pairs as keyword-only parameters, shown under ``panel`` in --help."""
    params = []
    for name, (kind, default) in options.items():
        if panel is not None:
            base, info = typing.get_args(kind)
            info = copy.copy(info)
            info.rich_help_panel = panel
            kind = Annotated[base, info]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default))
    return OptionGroup(tuple(params), into)


#: where to read from besides a file: a database URL with a table or a query, or an Excel sheet (api.load's
#: db/table/query/sheet)
SOURCE = _group(
    "load", "Data source", db=(DbOpt, None), table=(TableOpt, None), query=(QueryOpt, None), sheet=(SheetOpt, None)
)
#: which column plays which role (api.load's role flags)
ROLES = _group(
    "load",
    "Column roles",
    user_col=(UserColOpt, None),
    item_col=(ItemColOpt, None),
    time_col=(TimeColOpt, None),
    weight_col=(WeightColOpt, None),
    user_attrs=(UserAttrsOpt, None),
    item_attrs=(ItemAttrsOpt, None),
    event_weights=(EventWeightsOpt, None),
)
#: what may be recommended (api.business_rules)
RULES = _group(
    "rules",
    "Business rules",
    candidates=(CandidatesOpt, None),
    exclude_categories=(ExcludeCategoriesOpt, None),
    max_per_category=(MaxPerCategoryOpt, None),
    min_price=(MinPriceOpt, None),
    max_price=(MaxPriceOpt, None),
    include_seen=(IncludeSeenOpt, False),
)
#: where the scoring runs (api.recommend_job's engine, spark_master)
ENGINE = _group("engine", "Engine", engine=(EngineOpt, "local"), spark_master=(SparkMasterOpt, None))
#: how much to print
SHOW = _group(None, json_out=(JsonOpt, False), quiet=(QuietOpt, False))


def output(default: str, help: str) -> OptionGroup:
    """``-o/--output`` with this command's default and meaning, passed as ``output``."""
    return _group(None, output=(Annotated[Path, typer.Option("--output", "-o", help=help)], Path(default)))


def warehouse(table: str) -> OptionGroup:
    """``--out-db``, ``--out-table`` (default ``table``) and ``--run-id``, passed as dict ``warehouse``."""
    return _group(
        "warehouse",
        "Warehouse output",
        out_db=(OutDbOpt, None),
        out_table=(Annotated[str, typer.Option("--out-table", help="Table for --out-db.")], table),
        run_id=(RunIdOpt, None),
    )


def with_groups(*groups: OptionGroup):
    """Add the groups' options to a command; see the module docstring."""

    def decorate(func):
        hints = typing.get_type_hints(func, include_extras=True)
        # the command names the grouped dicts and passed-through options too; the groups declare them
        declared = {g.into for g in groups if g.into} | {p.name for g in groups for p in g.params}
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(func).parameters.values()
            if p.name not in declared
        ]
        params = own + [p for g in groups for p in g.params]

        @functools.wraps(func)
        def command(**kwargs):
            for group in groups:
                if group.into:
                    values = {p.name: kwargs.pop(p.name) for p in group.params}
                    kwargs.setdefault(group.into, {}).update({k: v for k, v in values.items() if v is not None})
            return func(**kwargs)

        # Typer reads the options from the signature; the grouped dicts are not options themselves
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
