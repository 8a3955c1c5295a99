"""The ``aigc-biz`` command line: each command parses options, calls the library, prints, exits."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from aigc_biz._version import __version__
from aigc_biz.cli.common import (DataArg, DbOpt, EventWeightsOpt, ItemAttrsOpt, ItemColOpt, JsonOpt, QueryOpt,
                                 QuietOpt, TableOpt, TimeColOpt, UserAttrsOpt, UserColOpt, WeightColOpt,
                                 display_path, emit_json, handle_errors, info, load_data, progress_bar,
                                 split_list, training_progress)

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
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
):
    """Personalised recommendations, marketing copy and analyst reports from a user-behaviour table."""


ModelOpt = Annotated[str, typer.Option("--model", "-m", help="pop, itemknn, ease, cvae or cgan.")]
ParamOpt = Annotated[Optional[List[str]], typer.Option(
    "--param", "-p", help="Model hyper-parameter key=value (repeatable), e.g. -p epochs=30.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (training and splits are repeatable).")]
RunIdOpt = Annotated[Optional[str], typer.Option(
    "--run-id", help="Rows of this run replace earlier rows with the same id (default: a timestamp).")]
OutDbOpt = Annotated[Optional[str], typer.Option(
    "--out-db", help="Also write to this SQLAlchemy URL (one transaction).", envvar="AIGC_BIZ_OUT_DB_URL")]


def _run_id(run_id: Optional[str]) -> str:
    return run_id or time.strftime("%Y%m%dT%H%M%S")


@app.command(epilog="Examples:\n\n"
             "  aigc-biz inspect sample_data/retail_orders.csv\n\n"
             "  aigc-biz inspect orders.xlsx --user-col 会员ID --json\n\n"
             "  aigc-biz inspect sqlite:///shop.db --table orders")
@handle_errors
def inspect(data: DataArg = None, db: DbOpt = None, table: TableOpt = None, query: QueryOpt = None,
            user_col: UserColOpt = None, item_col: ItemColOpt = None, time_col: TimeColOpt = None,
            weight_col: WeightColOpt = None, user_attrs: UserAttrsOpt = None, item_attrs: ItemAttrsOpt = None,
            event_weights: EventWeightsOpt = None, json_out: JsonOpt = False, quiet: QuietOpt = False):
    """Show detected column roles, size, sparsity, date range and data warnings."""
    from aigc_biz import api
    loaded = load_data(data, db, table, query, user_col, item_col, time_col, weight_col, user_attrs, item_attrs,
                       event_weights, quiet=True)
    summary = api.inspect(loaded)
    if json_out:
        emit_json(summary)
        return
    from aigc_biz.cli.render import print_profile
    print_profile(summary)


@app.command(epilog="Examples:\n\n"
             "  aigc-biz recommend sample_data/retail_orders.csv -o out/recs.csv\n\n"
             "  aigc-biz recommend orders.csv --model ease --top-k 20 --max-per-category 2 -o recs.parquet\n\n"
             "  aigc-biz recommend orders.csv --copy sms --locale zh --report out/report.html -o out/recs.csv\n\n"
             "  aigc-biz recommend orders.csv --model-path models/cvae --out-db sqlite:///dw.db "
             "--out-table recommendations --run-id 2026-11-23")
@handle_errors
def recommend(
    data: DataArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write: .csv, .parquet or .jsonl.")]
    = Path("out/recommendations.csv"),
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Items per customer.", min=1)] = 10,
    model: ModelOpt = "cvae",
    param: ParamOpt = None,
    model_path: Annotated[Optional[Path], typer.Option(
        "--model-path", help="Score with a model saved by `aigc-biz train` (no retraining).")] = None,
    save_model: Annotated[Optional[Path], typer.Option("--save-model", help="Also save the fitted model here.")]
    = None,
    device: DeviceOpt = "auto", seed: SeedOpt = 0,
    users: Annotated[Optional[Path], typer.Option(
        "--users", help="CSV of customer ids (+ attributes) to score; new ids are cold-start customers.")] = None,
    candidates: Annotated[Optional[Path], typer.Option(
        "--candidates", help="CSV of item ids that may be recommended (first column or item_id).")] = None,
    exclude_categories: Annotated[Optional[str], typer.Option(
        "--exclude-categories", help="Comma-separated categories never to recommend.")] = None,
    max_per_category: Annotated[Optional[int], typer.Option(
        "--max-per-category", help="At most this many items of one category per customer.", min=1)] = None,
    min_price: Annotated[Optional[float], typer.Option("--min-price", help="Lowest item price allowed.")] = None,
    max_price: Annotated[Optional[float], typer.Option("--max-price", help="Highest item price allowed.")] = None,
    include_seen: Annotated[bool, typer.Option(
        "--include-seen", help="Allow items the customer already bought (default: excluded).")] = False,
    copy: Annotated[Optional[str], typer.Option("--copy", help="Also write marketing copy: sms, push or email.")]
    = None,
    locale: Annotated[str, typer.Option("--locale", help="zh or en (copy and report).")] = "zh",
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name (A/B assignment key).")] = "default",
    currency: Annotated[Optional[str], typer.Option(
        "--currency", help="Currency symbol for prices in the copy (default: ¥ for zh, $ for en).")] = None,
    copy_output: Annotated[Optional[Path], typer.Option("--copy-output", help="Copy file (default: beside -o).")]
    = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Also write an HTML report here.")] = None,
    out_db: OutDbOpt = None,
    out_table: Annotated[str, typer.Option("--out-table", help="Table for --out-db.")] = "recommendations",
    run_id: RunIdOpt = None,
    db: DbOpt = None, table: TableOpt = None, query: QueryOpt = None,
    user_col: UserColOpt = None, item_col: ItemColOpt = None, time_col: TimeColOpt = None,
    weight_col: WeightColOpt = None, user_attrs: UserAttrsOpt = None, item_attrs: ItemAttrsOpt = None,
    event_weights: EventWeightsOpt = None,
    json_out: JsonOpt = False, quiet: QuietOpt = False,
):
    """Recommend top-K not-yet-bought items for every customer (default model: cvae)."""
    from aigc_biz import api
    from aigc_biz.models.registry import parse_params
    from aigc_biz.ranking import BusinessRules
    started = time.perf_counter()
    quiet = quiet or json_out
    loaded = load_data(data, db, table, query, user_col, item_col, time_col, weight_col, user_attrs, item_attrs,
                       event_weights, quiet)
    if model_path is not None:
        fitted = api.load_model(model_path, loaded)
        info(f"Loaded model {fitted.name} from {display_path(model_path)}", quiet)
        for warning in fitted.schema_warnings_:
            info(f"Warning: {warning}", quiet)
    else:
        with training_progress(model, quiet) as on_epoch:
            fitted = api.train(loaded, model, parse_params(param), device=device, seed=seed, save=save_model,
                               progress=on_epoch)
    from aigc_biz.cli.render import read_id_list
    user_ids, context = (None, None)
    if users is not None:
        user_ids, context = read_id_list(users, "user_id")
    rules = BusinessRules(exclude_seen=not include_seen,
                          candidates=None if candidates is None else read_id_list(candidates, "item_id")[0],
                          exclude_categories=split_list(exclude_categories) or [],
                          max_per_category=max_per_category, min_price=min_price, max_price=max_price)
    n_users = loaded.n_users if user_ids is None else len(user_ids)
    with progress_bar("recommending", n_users, quiet) as advance:
        recs = api.recommend(loaded, fitted, top_k=top_k, users=user_ids, rules=rules, context=context,
                             progress=advance)
    for warning in recs.attrs.get("warnings", []):
        info(f"Warning: {warning}", quiet)
    written = {"recommendations": display_path(api.write(recs, path=output))}
    run = _run_id(run_id)
    if out_db:
        api.write(recs, db=out_db, table=out_table, run_id=run, kind="recommendations", model=fitted.name)
        written["recommendations_table"] = out_table
    customers = int(recs["user_id"].nunique())
    short = int((recs.groupby("user_id").size() < top_k).sum()) + (n_users - customers)
    summary = {"model": fitted.name, "customers": customers, "customers_short_of_k": short, "rows": int(len(recs)),
               "top_k": top_k, "run_id": run, "outputs": written}
    copy_frame = None
    if copy:
        result = api.copy(recs, loaded, channel=copy, locale=locale, campaign=campaign, currency=currency)
        copy_frame = result.frame
        target = copy_output or output.with_name(output.stem + f"_copy_{copy}.csv")
        written["copy"] = display_path(api.write(copy_frame, path=target))
        if out_db:
            api.write(copy_frame, db=out_db, table="marketing_copy", run_id=run, kind="copy")
        summary["copy_messages"] = int(len(copy_frame))
    if report is not None:
        meta = {"model": fitted.name, "parameters": fitted.get_params(), "seed": seed, "top_k": top_k,
                "device": str(getattr(fitted, "device_", "cpu"))}
        result = api.report(loaded, report, recs=recs, copy=copy_frame, locale=locale, meta=meta)
        written["report"] = display_path(result.html_path)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if json_out:
        emit_json(summary)
    else:
        note = f"; {short:,} with fewer than {top_k} eligible items" if short else ""
        info(f"Wrote {summary['rows']:,} recommendations (top {top_k} for {summary['customers']:,} customers{note}, "
             f"model {fitted.name}) to {written['recommendations']} in {summary['seconds']:.1f} s", quiet)
        for key, value in written.items():
            if key != "recommendations":
                info(f"Wrote {key.replace('_', ' ')}: {value}", quiet)


@app.command(epilog="Examples:\n\n"
             "  aigc-biz train sample_data/retail_orders.csv --model cvae -o models/cvae\n\n"
             "  aigc-biz train orders.csv --model ease -p l2=300 -o models/ease\n\n"
             "  aigc-biz train orders.csv --model cvae --checkpoint-dir ckpt --resume -o models/cvae\n\n"
             "  aigc-biz train orders_dec.csv --model cvae --warm-start models/cvae -o models/cvae-dec")
@handle_errors
def train(
    data: DataArg = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to save the fitted model in.")]
    = Path("models/model"),
    model: ModelOpt = "cvae", param: ParamOpt = None, device: DeviceOpt = "auto", seed: SeedOpt = 0,
    checkpoint_dir: Annotated[Optional[Path], typer.Option(
        "--checkpoint-dir", help="Save a checkpoint every epoch here (neural models).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint in --checkpoint-dir.")]
    = False,
    warm_start: Annotated[Optional[Path], typer.Option(
        "--warm-start", help="Continue from the model saved in this folder on the new data (same --model; "
                             "cvae/cgan keep their weights, ease/itemknn/pop refit).")] = None,
    db: DbOpt = None, table: TableOpt = None, query: QueryOpt = None,
    user_col: UserColOpt = None, item_col: ItemColOpt = None, time_col: TimeColOpt = None,
    weight_col: WeightColOpt = None, user_attrs: UserAttrsOpt = None, item_attrs: ItemAttrsOpt = None,
    event_weights: EventWeightsOpt = None, json_out: JsonOpt = False, quiet: QuietOpt = False,
):
    """Fit a model and save it (weights in safetensors, metadata in JSON: loading never runs code)."""
    from aigc_biz import api
    from aigc_biz.models.registry import parse_params
    quiet = quiet or json_out
    started = time.perf_counter()
    loaded = load_data(data, db, table, query, user_col, item_col, time_col, weight_col, user_attrs, item_attrs,
                       event_weights, quiet)
    with training_progress(model, quiet) as on_epoch:
        fitted = api.train(loaded, model, parse_params(param), device=device, seed=seed, save=output,
                           checkpoint_dir=checkpoint_dir, resume=resume, progress=on_epoch,
                           warm_start=warm_start)
    summary = {"model": fitted.name, "params": fitted.get_params(), "path": display_path(output),
               "seconds": round(time.perf_counter() - started, 2)}
    if json_out:
        emit_json(summary)
    else:
        info(f"Saved {fitted.name} to {summary['path']} ({summary['seconds']:.1f} s)", quiet)


@app.command(epilog="Examples:\n\n"
             "  aigc-biz evaluate sample_data/retail_orders.csv\n\n"
             "  aigc-biz evaluate orders.csv --models pop,ease,cvae --split temporal --json-out out/eval.json\n\n"
             "  aigc-biz evaluate orders.csv --report out/report.html --out-db sqlite:///dw.db --run-id r1")
@handle_errors
def evaluate(
    data: DataArg = None,
    models: Annotated[str, typer.Option("--models", help="Comma-separated models to compare.")]
    = "pop,itemknn,ease,cvae,cgan",
    split: Annotated[str, typer.Option("--split", help="random, temporal or users.")] = "random",
    k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated.")] = "10,20,50",
    param: ParamOpt = None, seed: SeedOpt = 0,
    json_path: Annotated[Optional[Path], typer.Option("--json-out", help="Write the leaderboard JSON here.")]
    = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Also write an HTML report here.")] = None,
    locale: Annotated[str, typer.Option("--locale", help="Report language: en or zh.")] = "en",
    out_db: OutDbOpt = None,
    out_table: Annotated[str, typer.Option("--out-table", help="Table for --out-db.")] = "metrics",
    run_id: RunIdOpt = None,
    db: DbOpt = None, table: TableOpt = None, query: QueryOpt = None,
    user_col: UserColOpt = None, item_col: ItemColOpt = None, time_col: TimeColOpt = None,
    weight_col: WeightColOpt = None, user_attrs: UserAttrsOpt = None, item_attrs: ItemAttrsOpt = None,
    event_weights: EventWeightsOpt = None, json_out: JsonOpt = False, quiet: QuietOpt = False,
):
    """Compare models on a hold-out split: Recall, NDCG, MAP, hit rate, coverage… with 95% intervals.

    -p takes model.key=value to tune one model, e.g. -p cvae.epochs=20.
    """
    from aigc_biz import api
    from aigc_biz.cli.render import print_leaderboard, split_model_params
    quiet = quiet or json_out
    loaded = load_data(data, db, table, query, user_col, item_col, time_col, weight_col, user_attrs, item_attrs,
                       event_weights, quiet)
    names = split_list(models) or []
    with progress_bar("evaluating", len(names), quiet) as advance:
        board = api.evaluate(loaded, names, split=split, ks=[int(x) for x in split_list(k) or []], seed=seed,
                             params=split_model_params(param), progress=lambda *_: advance(1))
    result = board.to_dict()
    if json_path is not None:
        from aigc_biz.io.files import write_json
        write_json(result, json_path)
        info(f"Wrote leaderboard JSON: {display_path(json_path)}", quiet)
    if out_db:
        from aigc_biz.evaluation import metrics_rows
        api.write(metrics_rows(result), db=out_db, table=out_table, run_id=_run_id(run_id), kind="metrics")
    if report is not None:
        api.report(loaded, report, leaderboard=result, locale=locale)
        info(f"Wrote report: {display_path(report)}", quiet)
    if json_out:
        emit_json(result)
    else:
        print_leaderboard(result)


@app.command(name="copy", epilog="Examples:\n\n"
             "  aigc-biz copy out/recs.csv --data sample_data/retail_orders.csv --channel sms --locale zh "
             "-o out/sms.csv\n\n"
             "  aigc-biz copy out/recs.csv --data orders.csv --channel email --locale en --preview 3 -o out/email.jsonl\n\n"
             "  aigc-biz copy out/recs.csv --data orders.csv --template my_sms.j2 --strict -o out/sms.csv")
@handle_errors
def copy_cmd(
    recs: Annotated[Path, typer.Argument(help="Recommendations file written by `aigc-biz recommend`.")],
    data: Annotated[Optional[str], typer.Option("--data", help="The behaviour table (customer and item details).")]
    = None,
    channel: Annotated[str, typer.Option("--channel", help="sms, push or email.")] = "sms",
    locale: Annotated[str, typer.Option("--locale", help="zh or en.")] = "zh",
    template: Annotated[Optional[Path], typer.Option("--template", help="Your own Jinja2 template (sandboxed).")]
    = None,
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name (A/B assignment key).")] = "default",
    strict: Annotated[bool, typer.Option("--strict", help="Drop messages that break a channel rule.")] = False,
    currency: Annotated[Optional[str], typer.Option(
        "--currency", help="Currency symbol for prices, e.g. '¥' in English copy about CNY prices "
        "(default: ¥ for zh, $ for en; never converted).")] = None,
    preview: Annotated[int, typer.Option("--preview", help="Print this many rendered messages.")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help=".csv, .jsonl or .parquet")]
    = Path("out/copy.csv"),
    out_db: OutDbOpt = None,
    out_table: Annotated[str, typer.Option("--out-table", help="Table for --out-db.")] = "marketing_copy",
    run_id: RunIdOpt = None,
    json_out: JsonOpt = False, quiet: QuietOpt = False,
):
    """Write a personalised SMS, push or email message for every customer in a recommendations file."""
    from aigc_biz import api
    from aigc_biz.io.files import read_recs
    quiet = quiet or json_out
    loaded = load_data(data, None, None, None, None, None, None, None, None, None, None, quiet) if data else None
    started = time.perf_counter()
    result = api.copy(read_recs(recs), loaded, channel=channel, locale=locale, campaign=campaign,
                      template=template, strict=strict, currency=currency)
    seconds = time.perf_counter() - started
    path = api.write(result.frame, path=output)
    if out_db:
        api.write(result.frame, db=out_db, table=out_table, run_id=_run_id(run_id), kind="copy")
    summary = {"messages": int(len(result.frame)), "dropped": int(result.dropped), "output": display_path(path),
               "variants": {str(k): int(v) for k, v in result.variant_counts.items()},
               "rule_counts": {str(k): int(v) for k, v in result.rule_counts.items()},
               "messages_per_second": round(len(result.frame) / seconds, 1) if seconds > 0 else None}
    if preview and not json_out:
        from aigc_biz.copywriting import preview as render_preview
        typer.echo(render_preview(result, preview))
    if json_out:
        emit_json(summary)
    else:
        info(f"Wrote {summary['messages']:,} {channel} messages to {summary['output']}"
             + (f" ({summary['dropped']} dropped by --strict)" if strict else ""), quiet)
        if summary["rule_counts"]:
            info("Rule warnings: " + ", ".join(f"{k} {v}" for k, v in summary["rule_counts"].items()), quiet)


@app.command(epilog="Examples:\n\n"
             "  aigc-biz report --data sample_data/retail_orders.csv --recs out/recs.csv -o out/report.html\n\n"
             "  aigc-biz report --data orders.csv --eval out/eval.json --copy out/sms.csv --locale zh -o report.html")
@handle_errors
def report(
    data: Annotated[str, typer.Option("--data", help="The behaviour table.")],
    recs: Annotated[Optional[Path], typer.Option("--recs", help="Recommendations file.")] = None,
    eval_json: Annotated[Optional[Path], typer.Option("--eval", help="Leaderboard JSON from evaluate --json-out.")]
    = None,
    copy_file: Annotated[Optional[Path], typer.Option("--copy", help="Copy file from `aigc-biz copy`.")] = None,
    locale: Annotated[str, typer.Option("--locale", help="en or zh.")] = "en",
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")]
    = Path("out/report.html"),
    json_out: JsonOpt = False, quiet: QuietOpt = False,
):
    """Build one self-contained HTML report (opens offline) plus a JSON of its figures."""
    import json as _json
    from aigc_biz import api
    from aigc_biz.errors import InputError
    from aigc_biz.io.files import read_recs
    quiet = quiet or json_out
    loaded = load_data(data, None, None, None, None, None, None, None, None, None, None, quiet)
    board = None
    if eval_json is not None:
        try:
            board = _json.loads(Path(eval_json).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read leaderboard JSON: {exc}", file=str(eval_json)) from None
    result = api.report(loaded, output, recs=read_recs(recs) if recs else None, leaderboard=board,
                        copy=read_recs(copy_file) if copy_file else None, locale=locale)
    summary = {"html": display_path(result.html_path), "json": display_path(result.json_path),
               "bytes": int(result.bytes), "seconds": round(result.seconds, 2)}
    if json_out:
        emit_json(summary)
    else:
        info(f"Wrote report {summary['html']} ({summary['bytes'] / 1024:.0f} KiB, {summary['seconds']:.1f} s)", quiet)


@app.command(epilog="Examples:\n\n"
             "  aigc-biz run pipelines/nightly_demo.yaml\n\n"
             "  RUN_ID=2026-11-23 aigc-biz run pipelines/warehouse_template.yaml --log-json\n\n"
             "  aigc-biz run my_job.yaml --dry-run")
@handle_errors
def run(
    pipeline: Annotated[Path, typer.Argument(help="A pipeline YAML file (see pipelines/README.md).")],
    run_id: RunIdOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file and show the steps; run nothing.")]
    = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line (log collectors).")]
    = False,
    json_out: JsonOpt = False, quiet: QuietOpt = False,
):
    """Run a batch job: load → train or load a model → recommend → copy → report → write."""
    from aigc_biz import api
    from aigc_biz.logging_setup import configure_logging
    configure_logging(json_lines=log_json, quiet=quiet)
    result = api.run(pipeline, run_id=run_id, dry_run=dry_run)
    if json_out:
        emit_json({"steps": result.steps, "outputs": result.outputs})
