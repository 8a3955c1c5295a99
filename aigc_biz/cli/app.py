"""The ``aigc-biz`` command line: each command parses its options, calls one function of
:mod:`aigc_biz.api`, prints what it did and exits (tests/test_cli_thin.py keeps it that way).

Options shared by several commands (data source, column roles, business rules, warehouse output,
--json/--quiet) are defined once in :mod:`aigc_biz.cli.options` and added with ``with_groups``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aigc_biz import api
from aigc_biz._version import __version__
from aigc_biz.cli.common import TerminalObserver, display_path, emit_json, handle_errors, info, printable, shown
from aigc_biz.cli.options import (
    ENGINE,
    ROLES,
    RULES,
    SHOW,
    SOURCE,
    DataArg,
    DataOpt,
    DeviceOpt,
    ModelOpt,
    ParamOpt,
    RunIdOpt,
    SeedOpt,
    output,
    warehouse,
    with_groups,
)

app = typer.Typer(
    name="aigc-biz",
    help="Personalised recommendations, marketing copy and analyst reports from a user-behaviour table.",
    epilog="Start with:  aigc-biz recommend orders.csv -o out/recs.csv   (see README.md)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        typer.echo(f"aigc-biz {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
):
    """Personalised recommendations, marketing copy and analyst reports from a user-behaviour table."""


@app.command(
    epilog="Examples:\n\n"
    "  aigc-biz inspect sample_data/retail_orders.csv\n\n"
    "  aigc-biz inspect orders.xlsx --user-col 会员ID --json\n\n"
    "  aigc-biz inspect sqlite:///shop.db --table orders"
)
@handle_errors
@with_groups(SOURCE, ROLES, SHOW)
def inspect(data: DataArg = None, load: dict = None, json_out: bool = False, quiet: bool = False):
    """Show detected column roles, size, sparsity, date range and data warnings."""
    summary = api.inspect(data, **load)
    if json_out:
        emit_json(summary)
        return
    from aigc_biz.cli.render import print_profile

    print_profile(summary)


@app.command(
    epilog="Examples:\n\n"
    "  aigc-biz recommend sample_data/retail_orders.csv -o out/recs.csv\n\n"
    "  aigc-biz recommend orders.csv --model ease --top-k 20 --max-per-category 2 -o recs.parquet\n\n"
    "  aigc-biz recommend orders.csv --copy sms --locale zh --report out/report.html -o out/recs.csv\n\n"
    "  aigc-biz recommend orders.csv --model-path models/cvae --out-db sqlite:///dw.db "
    "--out-table recommendations --run-id 2026-11-23\n\n"
    "  aigc-biz recommend orders.csv --model-path models/itemknn --engine spark --spark-master local[4] "
    "-o out/recs.parquet"
)
@handle_errors
@with_groups(
    output("out/recommendations.csv", "Where to write: .csv, .parquet or .jsonl (--engine spark: a .parquet folder)."),
    RULES,
    warehouse("recommendations"),
    ENGINE,
    SOURCE,
    ROLES,
    SHOW,
)
def recommend(
    data: DataArg = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Items per customer.", min=1)] = 10,
    model: ModelOpt = "trend",
    param: ParamOpt = None,
    model_path: Annotated[
        Optional[Path],
        typer.Option("--model-path", help="Score with a model saved by `aigc-biz train` (no retraining)."),
    ] = None,
    save_model: Annotated[Optional[Path], typer.Option("--save-model", help="Also save the fitted model here.")] = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    users: Annotated[
        Optional[Path],
        typer.Option("--users", help="CSV of customer ids (+ attributes) to score; new ids are cold-start customers."),
    ] = None,
    copy: Annotated[
        Optional[str], typer.Option("--copy", help="Also write marketing copy: sms, push or email.")
    ] = None,
    locale: Annotated[str, typer.Option("--locale", help="zh or en (copy and report).")] = "zh",
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name (A/B assignment key).")] = "default",
    currency: Annotated[
        Optional[str],
        typer.Option("--currency", help="Currency symbol for prices in the copy (default: ¥ for zh, $ for en)."),
    ] = None,
    copy_output: Annotated[
        Optional[Path], typer.Option("--copy-output", help="Copy file (default: beside -o).")
    ] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Also write an HTML report here.")] = None,
    output: Path = None,
    rules: dict = None,
    warehouse: dict = None,
    engine: dict = None,
    load: dict = None,
    json_out: bool = False,
    quiet: bool = False,
):
    """Recommend top-K not-yet-bought items for every customer (default model: cvae)."""
    quiet = quiet or json_out
    with TerminalObserver(quiet) as observer:
        result = api.recommend_job(
            data,
            model=model,
            params=param,
            model_path=model_path,
            save_model=save_model,
            device=device,
            seed=seed,
            top_k=top_k,
            users=users,
            output=output,
            copy_channel=copy,
            copy_output=copy_output,
            locale=locale,
            campaign=campaign,
            currency=currency,
            report_path=report,
            observer=observer,
            **rules,
            **warehouse,
            **engine,
            **load,
        )
    summary = {**result.summary(), "outputs": shown(result.outputs)}
    if json_out:
        emit_json(summary)
        return
    short = result.customers_short_of_k
    note = f"; {short:,} with fewer than {top_k} eligible items" if short else ""
    info(
        f"Wrote {summary['rows']:,} recommendations (top {top_k} for {summary['customers']:,} customers{note}, "
        f"model {summary['model']}) to {summary['outputs']['recommendations']} in {summary['seconds']:.1f} s",
        quiet,
    )
    for key, value in summary["outputs"].items():
        if key != "recommendations":
            info(f"Wrote {key.replace('_', ' ')}: {value}", quiet)


@app.command(
    epilog="Examples:\n\n"
    "  aigc-biz train sample_data/retail_orders.csv --model cvae -o models/cvae\n\n"
    "  aigc-biz train orders.csv --model ease -p l2=300 -o models/ease\n\n"
    "  aigc-biz train orders.csv --model cvae --checkpoint-dir ckpt --resume -o models/cvae\n\n"
    "  aigc-biz train orders_dec.csv --model cvae --warm-start models/cvae -o models/cvae-dec\n\n"
    "  torchrun --nproc_per_node 2 -m aigc_biz.cli train orders.csv --model cvae -o models/cvae"
)
@handle_errors
@with_groups(output("models/model", "Folder to save the fitted model in."), SOURCE, ROLES, SHOW)
def train(
    data: DataArg = None,
    model: ModelOpt = "trend",
    param: ParamOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    checkpoint_dir: Annotated[
        Optional[Path], typer.Option("--checkpoint-dir", help="Save a checkpoint every epoch here (neural models).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint in --checkpoint-dir.")] = False,
    warm_start: Annotated[
        Optional[Path],
        typer.Option(
            "--warm-start",
            help="Continue from the model saved in this folder on the new data (same --model; "
            "cvae/cgan keep their weights, ease/itemknn/pop refit).",
        ),
    ] = None,
    augment: Annotated[
        Optional[float],
        typer.Option(
            "--augment",
            help="Also train on RATIO synthetic customers per real one, drawn for sparse segments "
            "(see bench/RESULTS.md: measure whether it helps your table).",
            min=0.0,
        ),
    ] = None,
    output: Path = None,
    load: dict = None,
    json_out: bool = False,
    quiet: bool = False,
):
    """Fit a model and save it (weights in safetensors, metadata in JSON: loading never runs code)."""
    quiet = quiet or json_out
    with TerminalObserver(quiet) as observer:
        result = api.train_job(
            data,
            model=model,
            params=param,
            output=output,
            device=device,
            seed=seed,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            warm_start=warm_start,
            augment_ratio=augment,
            observer=observer,
            **load,
        )
    if result.rank:  # under torchrun rank 0 saved the model and reports for every process
        return
    summary = {**result.summary(), "path": display_path(output)}
    if json_out:
        emit_json(summary)
    else:
        info(f"Saved {summary['model']} to {summary['path']} ({summary['seconds']:.1f} s)", quiet)


@app.command(
    epilog="Examples:\n\n"
    "  aigc-biz evaluate sample_data/retail_orders.csv\n\n"
    "  aigc-biz evaluate orders.csv --models pop,ease,cvae --split temporal --json-out out/eval.json\n\n"
    "  aigc-biz evaluate orders.csv --report out/report.html --out-db sqlite:///dw.db --run-id r1"
)
@handle_errors
@with_groups(warehouse("metrics"), SOURCE, ROLES, SHOW)
def evaluate(
    data: DataArg = None,
    models: Annotated[
        str, typer.Option("--models", help="Comma-separated models to compare.")
    ] = "pop,itemknn,ease,cvae,cgan",
    split: Annotated[str, typer.Option("--split", help="random, temporal, users or leave-last-out.")] = "random",
    horizon: Annotated[
        Optional[str],
        typer.Option("--horizon", help="With --split temporal: test on the last period, e.g. 30d (train before it)."),
    ] = None,
    include_seen: Annotated[
        bool, typer.Option("--include-seen", help="With --horizon: score next-period purchases, buying again included.")
    ] = False,
    k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated.")] = "10,20,50",
    param: ParamOpt = None,
    seed: SeedOpt = 0,
    json_path: Annotated[Optional[Path], typer.Option("--json-out", help="Write the leaderboard JSON here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Also write an HTML report here.")] = None,
    locale: Annotated[str, typer.Option("--locale", help="Report language: en or zh.")] = "en",
    warehouse: dict = None,
    load: dict = None,
    json_out: bool = False,
    quiet: bool = False,
):
    """Compare models on a hold-out split: Recall, NDCG, MAP, hit rate, coverage… with 95% intervals.

    -p takes model.key=value to tune one model, e.g. -p cvae.epochs=20.
    """
    quiet = quiet or json_out
    with TerminalObserver(quiet) as observer:
        result = api.evaluate_job(
            data,
            models=models,
            split=split,
            horizon=horizon,
            include_seen=include_seen,
            ks=k,
            seed=seed,
            params=param,
            json_path=json_path,
            report_path=report,
            locale=locale,
            observer=observer,
            **warehouse,
            **load,
        )
    for key, value in shown(result.outputs).items():
        if key in ("json", "report"):
            info(f"Wrote {'leaderboard JSON' if key == 'json' else key}: {value}", quiet)
    if json_out:
        emit_json(result.summary())
    elif not quiet:
        from aigc_biz.cli.render import print_leaderboard

        print_leaderboard(result.summary())


@app.command(
    name="copy",
    epilog="Examples:\n\n"
    "  aigc-biz copy out/recs.csv --data sample_data/retail_orders.csv --channel sms --locale zh "
    "-o out/sms.csv\n\n"
    "  aigc-biz copy out/recs.csv --data orders.csv --channel email --locale en --preview 3 -o out/email.jsonl\n\n"
    "  aigc-biz copy out/recs.csv --data orders.csv --template my_sms.j2 --strict -o out/sms.csv",
)
@handle_errors
@with_groups(output("out/copy.csv", ".csv, .jsonl or .parquet"), warehouse("marketing_copy"), SOURCE, ROLES, SHOW)
def copy_cmd(
    recs: Annotated[Path, typer.Argument(help="Recommendations file written by `aigc-biz recommend`.")],
    data: DataOpt = None,
    channel: Annotated[str, typer.Option("--channel", help="sms, push or email.")] = "sms",
    locale: Annotated[str, typer.Option("--locale", help="zh or en.")] = "zh",
    template: Annotated[
        Optional[Path], typer.Option("--template", help="Your own Jinja2 template (sandboxed).")
    ] = None,
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name (A/B assignment key).")] = "default",
    strict: Annotated[bool, typer.Option("--strict", help="Drop messages that break a channel rule.")] = False,
    currency: Annotated[
        Optional[str],
        typer.Option(
            "--currency",
            help="Currency symbol for prices, e.g. '¥' in English copy about CNY prices "
            "(default: ¥ for zh, $ for en; never converted).",
        ),
    ] = None,
    preview: Annotated[int, typer.Option("--preview", help="Print this many rendered messages.")] = 0,
    output: Path = None,
    warehouse: dict = None,
    load: dict = None,
    json_out: bool = False,
    quiet: bool = False,
):
    """Write a personalised SMS, push or email message for every customer in a recommendations file."""
    quiet = quiet or json_out
    with TerminalObserver(quiet) as observer:
        result = api.copy_job(
            recs,
            data,
            channel=channel,
            locale=locale,
            campaign=campaign,
            template=template,
            strict=strict,
            currency=currency,
            preview=0 if json_out else preview,
            output=output,
            observer=observer,
            **warehouse,
            **load,
        )
    summary = {**result.summary(), "output": display_path(result.outputs["copy"])}
    if result.preview:
        typer.echo(printable(result.preview))
    if json_out:
        emit_json(summary)
    else:
        info(
            f"Wrote {summary['messages']:,} {channel} messages to {summary['output']}"
            + (f" ({summary['dropped']} dropped by --strict)" if strict else ""),
            quiet,
        )
        if summary["rule_counts"]:
            info("Rule warnings: " + ", ".join(f"{k} {v}" for k, v in summary["rule_counts"].items()), quiet)


@app.command(
    epilog="Examples:\n\n"
    "  aigc-biz report --data sample_data/retail_orders.csv --recs out/recs.csv -o out/report.html\n\n"
    "  aigc-biz report --data orders.csv --eval out/eval.json --copy out/sms.csv --locale zh -o report.html"
)
@handle_errors
@with_groups(output("out/report.html", "The HTML file to write."), SOURCE, ROLES, SHOW)
def report(
    data: DataOpt = None,
    recs: Annotated[Optional[Path], typer.Option("--recs", help="Recommendations file.")] = None,
    eval_json: Annotated[
        Optional[Path], typer.Option("--eval", help="Leaderboard JSON from evaluate --json-out.")
    ] = None,
    copy_file: Annotated[Optional[Path], typer.Option("--copy", help="Copy file from `aigc-biz copy`.")] = None,
    locale: Annotated[str, typer.Option("--locale", help="en or zh.")] = "en",
    output: Path = None,
    load: dict = None,
    json_out: bool = False,
    quiet: bool = False,
):
    """Build one self-contained HTML report (opens offline) plus a JSON of its figures."""
    quiet = quiet or json_out
    with TerminalObserver(quiet) as observer:
        result = api.report_job(
            data, output, recs=recs, leaderboard=eval_json, copy=copy_file, locale=locale, observer=observer, **load
        )
    summary = {
        "html": display_path(result.html_path),
        "json": display_path(result.json_path),
        "bytes": int(result.bytes),
        "seconds": round(result.seconds, 2),
    }
    if json_out:
        emit_json(summary)
    else:
        info(f"Wrote report {summary['html']} ({summary['bytes'] / 1024:.0f} KiB, {summary['seconds']:.1f} s)", quiet)


@app.command(
    epilog="Examples:\n\n"
    "  aigc-biz synth sample_data/retail_orders.csv -o out/synth.csv --report out/synth.html\n\n"
    "  aigc-biz synth orders.csv -o synth.csv --customers 10000 --seed 7 --noise 0.3"
)
@handle_errors
@with_groups(
    output("out/synth.csv", "The synthetic table: .csv (the input's formats), .parquet or .jsonl."), SOURCE, ROLES, SHOW
)
def synth(
    data: DataArg = None,
    customers: Annotated[
        Optional[int],
        typer.Option("--customers", help="Invented customers to make (default: as many as the input).", min=1),
    ] = None,
    seed: SeedOpt = 0,
    noise: Annotated[
        float,
        typer.Option(
            "--noise", help="0..1: coarser draws for stronger protection, at some cost in fidelity.", min=0.0, max=1.0
        ),
    ] = 0.0,
    report: Annotated[
        Optional[Path], typer.Option("--report", help="Also write a quality and privacy report (HTML + JSON) here.")
    ] = None,
    param: ParamOpt = None,
    output: Path = None,
    load: dict = None,
    json_out: bool = False,
    quiet: bool = False,
):
    """Write a synthetic copy of a behaviour table: invented customers who behave like the real ones.

    Same columns and formats as the input; new ids and names; orders drawn from the engine's item-item
    model conditioned on each customer's attributes. Not differential privacy: see the report's figures.
    """
    quiet = quiet or json_out
    result = api.synth(data, output, customers=customers, seed=seed, noise=noise, report=report, params=param, **load)
    summary = result.summary()
    if json_out:
        emit_json(summary)
        return
    info(
        f"Wrote {summary['rows']:,} rows for {summary['customers']:,} invented customers to "
        f"{display_path(output)} in {summary['seconds']:.1f} s",
        quiet,
    )
    if report is not None:
        info(
            f"Wrote report {display_path(report)}: real ids in output {summary['real_ids_in_output']}, "
            f"copied rows {summary['copied_rows']:.2%}, TSTR {summary.get('tstr_ratio') or 0:.0%} of real, "
            f"membership AUC {summary['membership_auc']:.2f}",
            quiet,
        )


@app.command(
    epilog="Examples:\n\n"
    "  aigc-biz run pipelines/nightly_demo.yaml\n\n"
    "  RUN_ID=2026-11-23 aigc-biz run pipelines/warehouse_template.yaml --log-json\n\n"
    "  aigc-biz run my_job.yaml --dry-run"
)
@handle_errors
@with_groups(SHOW)
def run(
    pipeline: Annotated[Path, typer.Argument(help="A pipeline YAML file (see pipelines/README.md).")],
    run_id: RunIdOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file and show the steps; run nothing.")] = False,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object per line (log collectors).")
    ] = False,
    json_out: bool = False,
    quiet: bool = False,
):
    """Run a batch job: load → train or load a model → recommend → copy → report → write."""
    result = api.run(pipeline, run_id=run_id, dry_run=dry_run, log_format="json" if log_json else "text", quiet=quiet)
    if json_out:
        emit_json({"steps": result.steps, "outputs": result.outputs})
