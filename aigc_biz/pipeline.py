"""YAML batch jobs: load → train (or load a model) → recommend → copy → report → write.

A pipeline file is checked completely before anything runs (unknown steps or keys, missing input
files, steps whose inputs no earlier step produces); each step then calls one function of
:mod:`aigc_biz.api`. See ``pipelines/README.md`` for the file format.

Paths: inputs (``load.source``, a SQLite ``load.db``, ``copy.template``) resolve against the pipeline
file's folder. Outputs (``train.save``, ``load_model.path``, ``report.output``, ``write`` files and
SQLite databases) resolve against ``output_dir``; a relative ``output_dir`` is taken from the current
directory, so an installed, read-only pipeline still writes where the job runs. Without
``output_dir`` outputs resolve against the pipeline file's folder too.

Strings may use ``${NAME}`` and ``${NAME:-default}`` (``$${`` writes a literal ``${``); a value that is
a single placeholder is read as a YAML scalar, so ``epochs: ${EPOCHS:-20}`` gives the number 20.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import yaml

from aigc_biz.data.loading import ROLE_FLAGS
from aigc_biz.errors import ConfigError, InputError
from aigc_biz.redaction import add_secret, is_secret_name, redact, url_secrets

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

TOP_LEVEL_KEYS = ("name", "description", "run_id", "output_dir", "steps")
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*([eE][-+]?[0-9]+)?|-?[0-9]+[eE][-+]?[0-9]+")
_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class PipelineResult:
    """What a run did: one ``{"step", "seconds", "summary"}`` per step, and where outputs went.

    ``outputs`` maps names (``recommendations``, ``copy``, ``report``, ``model``, ``db.recommendations``…)
    to file paths or ``URL#table`` strings with the password hidden. Both are JSON-ready.
    """

    name: str
    run_id: str
    steps: list[dict] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


@dataclass
class PipelineStep:
    """One checked step: its 1-based position, name and options (paths already resolved)."""

    index: int
    name: str
    options: dict

    @property
    def label(self) -> str:
        return f"step {self.index} ({self.name})"

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> ConfigError:
        where = f"{self.label}, key {key!r}" if key else self.label
        return ConfigError(f"{where}: {message}", hint=hint)


@dataclass
class PipelineJob:
    """A checked pipeline file, ready to run."""

    path: Path
    name: str
    run_id: str
    input_dir: Path
    output_dir: Path
    steps: list[PipelineStep]


# --- reading and checking the file ------------------------------------------------------------
def substitute(value: Any, variables: dict[str, str], where: str = "", missing: list | None = None) -> Any:
    """``value`` with ``${NAME}`` / ``${NAME:-default}`` replaced in every string (recursively).

    An unset variable without a default is a ConfigError naming where it is used; with ``missing``
    given, ``(where, NAME)`` pairs are collected there instead, so one error can list them all.
    """
    if isinstance(value, dict):
        return {k: substitute(v, variables, f"{where}.{k}" if where else str(k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, f"{where}[{i}]", missing) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def replace(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in variables:
            if is_secret_name(name):  # shown nowhere from now on: logs, errors, the plan, the report
                add_secret(variables[name])
            return variables[name]
        if default is not None:
            return default
        if missing is None:
            raise ConfigError(
                f"{_describe(where)}: environment variable {name} is not set",
                hint=f"set {name}, or write ${{{name}:-default}}",
            )
        missing.append((where, name))
        return ""

    result = _PLACEHOLDER.sub(replace, value)
    for secret in url_secrets(result):
        add_secret(secret)
    whole = _PLACEHOLDER.fullmatch(value)
    if whole and whole.group(0) != "$${":
        return _scalar(result)
    return result


def _describe(where: str) -> str:
    """``steps[2].train.params.epochs`` -> ``step 3 (train), key 'params.epochs'``."""
    match = re.fullmatch(r"steps\[(\d+)\]\.([^.]+)\.?(.*)", where)
    if match:
        key = f", key {match.group(3)!r}" if match.group(3) else ""
        return f"step {int(match.group(1)) + 1} ({match.group(2)}){key}"
    return f"key {where!r}" if where else "value"


def _scalar(text: str):
    """A lone placeholder's value as a number or boolean when it plainly is one ("007" stays text)."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("pipeline file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the pipeline file: {exc}", file=str(path)) from None
    try:
        _refuse_aliases(text, path)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"not valid YAML: {where}{problem}", file=str(path)) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            "a pipeline file is a mapping with a 'steps' list", file=str(path), hint="see pipelines/README.md"
        )
    return raw


def _refuse_aliases(text: str, path: Path) -> None:
    """ConfigError at the first YAML anchor or alias: ``*ref`` expands during ``${}`` substitution, so a
    few hundred bytes of nested aliases ("billion laughs") would take hours. A pipeline needs none."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise ConfigError(
                f"line {mark.line + 1}, column {mark.column + 1}: YAML anchors and aliases (&name, *name) "
                "are not allowed in a pipeline file",
                file=str(path),
                hint="write the value out, or use ${NAME} variables",
            )


def _parse_steps(raw_steps: Any, path: Path) -> list[PipelineStep]:
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ConfigError("'steps' must be a non-empty list", file=str(path))
    steps = []
    for index, entry in enumerate(raw_steps, start=1):
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(
                f"step {index}: each step is one name with its options, e.g. '- recommend: {{top_k: 10}}'",
                file=str(path),
            )
        name, options = next(iter(entry.items()))
        options = {} if options is None else options
        step = PipelineStep(index, str(name), options)
        if step.name not in STEPS:
            raise ConfigError(
                f"step {index}: unknown step {step.name!r}", file=str(path), hint="steps: " + ", ".join(STEPS)
            )
        if not isinstance(options, dict):
            raise ConfigError(f"{step.label}: options must be a mapping", file=str(path))
        unknown = [k for k in options if k not in STEPS[step.name].keys]
        if unknown:
            raise ConfigError(
                f"{step.label}: unknown key {unknown[0]!r}",
                file=str(path),
                hint="valid: " + ", ".join(STEPS[step.name].keys),
            )
        steps.append(step)
    return steps


def load_pipeline(path: str | Path, *, run_id: str | None = None, env: dict | None = None) -> PipelineJob:
    """Read, substitute and check a pipeline file; ConfigError names the step and key at fault."""
    path = Path(path).resolve()
    raw = _read_yaml(path)
    unknown = [k for k in raw if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise ConfigError(
            f"unknown top-level key {unknown[0]!r}", file=str(path), hint="valid: " + ", ".join(TOP_LEVEL_KEYS)
        )
    variables = {**os.environ, **{str(k): str(v) for k, v in (env or {}).items()}}
    if run_id is not None:  # the caller's run id wins, also where the file says ${RUN_ID}
        variables["RUN_ID"] = run_id
    missing: list[tuple[str, str]] = []
    raw = substitute(raw, variables, missing=missing)
    if missing:
        first_use = {}
        for where, name in missing:
            first_use.setdefault(name, where)
        raise ConfigError(
            "environment variable(s) not set: "
            + "; ".join(f"{name} (first used in {_describe(where)})" for name, where in first_use.items()),
            file=str(path),
            hint="set " + ", ".join(first_use) + ", or write ${NAME:-default} in the file",
        )
    for key in ("name", "description", "run_id", "output_dir"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            raise ConfigError(
                f"top-level key {key!r} must be a text value, got {type(raw[key]).__name__}", file=str(path)
            )
    steps = _parse_steps(raw.get("steps"), path)
    from aigc_biz.io.runs import new_run_id

    job_run_id = run_id or raw.get("run_id") or new_run_id()
    output_dir = raw.get("output_dir")
    output_dir = Path(output_dir).expanduser().resolve() if output_dir else path.parent
    job = PipelineJob(
        path=path,
        name=str(raw.get("name") or path.stem),
        run_id=str(job_run_id),
        input_dir=path.parent,
        output_dir=output_dir,
        steps=steps,
    )
    if len(job.run_id) > 64:
        raise ConfigError(f"run_id is longer than 64 characters: {job.run_id!r}", file=str(path))
    for step in steps:
        try:
            STEPS[step.name].check(step, job)
        except ConfigError as exc:
            raise ConfigError(exc.message, file=str(path), hint=exc.hint) from None
    _check_order(job)
    try:
        _check_paths(job)
    except InputError as exc:
        raise ConfigError(exc.message, file=exc.file, hint=exc.hint) from None
    return job


def _input_path(job: PipelineJob, value, step: PipelineStep, key: str, must_exist: bool = True) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        raise step.error("expected a file path", key)
    path = Path(value).expanduser()
    path = (path if path.is_absolute() else job.input_dir / path).resolve()
    if must_exist and not path.exists():
        raise step.error(f"file not found: {path}", key)
    return path


def _output_path(job: PipelineJob, value, step: PipelineStep, key: str) -> Path:
    if not isinstance(value, (str, Path)) or not str(value):
        raise step.error("expected a file path", key)
    path = Path(value).expanduser()
    return (path if path.is_absolute() else job.output_dir / path).resolve()


def _db_url(value, base: Path, step: PipelineStep, key: str) -> str:
    """The URL with a relative SQLite path made absolute against ``base`` (other URLs unchanged)."""
    import sqlalchemy as sa

    if not isinstance(value, str) or not value:
        raise step.error("expected a SQLAlchemy URL, e.g. sqlite:///warehouse.db", key)
    try:
        url = sa.make_url(value)
    except sa.exc.ArgumentError:
        from aigc_biz.io.sql import safe_url

        raise step.error(f"not a database URL: {safe_url(value)}", key) from None
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
        and not Path(database).is_absolute()
    ):
        url = url.set(database=str((base / database).resolve()))
    return url.render_as_string(hide_password=False)


def _check_load(step: PipelineStep, job: PipelineJob) -> None:
    opts = step.options
    if ("source" in opts) == ("db" in opts):
        raise step.error("give exactly one of 'source' (a file) or 'db' (a SQLAlchemy URL)")
    if "source" in opts:
        opts["source"] = str(_input_path(job, opts["source"], step, "source"))
        for key in ("table", "query"):
            if key in opts:
                raise step.error("only used with 'db'", key)
    else:
        opts["db"] = _db_url(opts["db"], job.input_dir, step, "db")
        if ("table" in opts) == ("query" in opts):
            raise step.error("with 'db', give exactly one of 'table' or 'query'")


def _check_train(step: PipelineStep, job: PipelineJob) -> None:
    opts = step.options
    if "params" in opts and not isinstance(opts["params"], dict):
        raise step.error("expected a mapping of hyper-parameters", "params")
    if "model" in opts and not isinstance(opts["model"], str):
        raise step.error("expected a model name", "model")
    if "save" in opts:
        opts["save"] = str(_output_path(job, opts["save"], step, "save"))


def _check_load_model(step: PipelineStep, job: PipelineJob) -> None:
    if "path" not in step.options:
        raise step.error("missing key", "path")
    path = _output_path(job, step.options["path"], step, "path")
    saved_earlier = any(s.name == "train" and s.options.get("save") == str(path) for s in job.steps[: step.index - 1])
    if not saved_earlier and not path.exists():
        raise step.error(
            f"no saved model at {path}",
            "path",
            hint="model folders resolve against output_dir; run a pipeline with train/save first",
        )
    step.options["path"] = str(path)


def _check_flag(step: PipelineStep, key: str) -> None:
    if key in step.options and not isinstance(step.options[key], bool):
        raise step.error("expected true or false", key)


def _check_evaluate(step: PipelineStep, job: PipelineJob) -> None:
    if "models" in step.options and not isinstance(step.options["models"], list):
        raise step.error("expected a list of model names", "models")
    _check_flag(step, "include_seen")
    if "horizon" in step.options:
        from aigc_biz.data.splits import parse_horizon

        try:
            parse_horizon(step.options["horizon"])
        except InputError as exc:
            raise step.error(exc.message, "horizon", exc.hint) from None
    if "output" in step.options:
        step.options["output"] = str(_output_path(job, step.options["output"], step, "output"))


def _check_recommend(step: PipelineStep, job: PipelineJob) -> None:
    opts = step.options
    if "top_k" in opts and (not isinstance(opts["top_k"], int) or isinstance(opts["top_k"], bool) or opts["top_k"] < 1):
        raise step.error("expected a positive whole number", "top_k")
    if "rules" in opts:
        from aigc_biz.ranking import business_rules

        if not isinstance(opts["rules"], dict):
            raise step.error("expected a mapping of business rules", "rules")
        try:
            business_rules(opts["rules"])
        except InputError as exc:
            raise step.error(exc.message, "rules", exc.hint) from None
        except TypeError as exc:  # a rule given a value of the wrong kind
            raise step.error(str(exc), "rules") from None
    if "users" in opts and not isinstance(opts["users"], (list, str)):
        raise step.error("expected a list of user ids or a file with one id per line", "users")
    if isinstance(opts.get("users"), str):
        opts["users"] = str(_input_path(job, opts["users"], step, "users"))
    _check_flag(step, "include_seen")
    if "candidates" in opts and not isinstance(opts["candidates"], (list, str)):
        raise step.error("expected a list of item ids or a candidates file", "candidates")
    if isinstance(opts.get("candidates"), str):
        opts["candidates"] = str(_input_path(job, opts["candidates"], step, "candidates"))


def _check_copy(step: PipelineStep, job: PipelineJob) -> None:
    if "template" in step.options:
        step.options["template"] = str(_input_path(job, step.options["template"], step, "template"))


def _check_report(step: PipelineStep, job: PipelineJob) -> None:
    if "output" not in step.options:
        raise step.error("missing key", "output")
    step.options["output"] = str(_output_path(job, step.options["output"], step, "output"))


def _check_write(step: PipelineStep, job: PipelineJob) -> None:
    opts = step.options
    frames = ("recommendations", "copy", "metrics")
    if "db" in opts:
        opts["db"] = _db_url(opts["db"], job.output_dir, step, "db")
        for kind in frames:
            if kind in opts:
                raise step.error(f"with 'db', name the table with '{kind}_table'", kind)
        if not any(f"{kind}_table" in opts for kind in frames):
            raise step.error("with 'db', give at least one of " + ", ".join(f"{k}_table" for k in frames))
        from aigc_biz.io.sql import validate_identifier

        for kind in frames:
            if f"{kind}_table" in opts:
                try:
                    validate_identifier(opts[f"{kind}_table"])
                except Exception as exc:
                    raise step.error(str(exc), f"{kind}_table") from None
    else:
        for kind in frames:
            if f"{kind}_table" in opts:
                raise step.error("a table needs 'db'", f"{kind}_table")
        if not any(kind in opts for kind in frames):
            raise step.error("nothing to write: give recommendations, copy or metrics (files) or db")
        from aigc_biz.io.files import format_of

        for kind in frames:
            if kind in opts:
                path = _output_path(job, opts[kind], step, kind)
                try:
                    format_of(path)
                except Exception as exc:
                    raise step.error(str(exc), kind) from None
                opts[kind] = str(path)


def _sqlite_file(url: str) -> str | None:
    import sqlalchemy as sa

    parsed = sa.make_url(url)  # _db_url checked it and made a relative SQLite path absolute
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return None if parsed.database.startswith("file:") else parsed.database
    return None


def _check_paths(job: PipelineJob) -> None:
    """No step writes over the pipeline's inputs (its table, users file, template) or over another
    step's output; a SQLite database may be read and written (other tables)."""
    from aigc_biz.io.files import check_distinct_paths
    from aigc_biz.reporting import report_paths

    inputs: dict[str, str | None] = {}
    outputs: dict[str, str | Path | None] = {}
    databases = []
    for step in job.steps:
        opts = step.options
        if step.name == "load":
            inputs[f"{step.label} source"] = opts.get("source")
            if "db" in opts:
                inputs[f"{step.label} db"] = _sqlite_file(opts["db"])
                databases.append(f"{step.label} db")
        elif step.name in ("recommend", "copy"):
            key = "users" if step.name == "recommend" else "template"
            inputs[f"{step.label} {key}"] = opts.get(key) if isinstance(opts.get(key), str) else None
        elif step.name == "train":
            outputs[f"{step.label} save"] = opts.get("save")
        elif step.name == "evaluate":
            outputs[f"{step.label} output"] = opts.get("output")
        elif step.name == "report":
            html, sidecar = report_paths(opts["output"])
            outputs[f"{step.label} output"], outputs[f"{step.label} output's JSON"] = html, sidecar
        elif step.name == "write":
            for kind in WRITES:
                outputs[f"{step.label} {kind}"] = opts.get(kind)
            if "db" in opts:
                outputs[f"{step.label} db"] = _sqlite_file(opts["db"])
                databases.append(f"{step.label} db")
    check_distinct_paths(inputs, outputs, databases=tuple(databases))


def _check_nothing(step: PipelineStep, job: PipelineJob) -> None:
    """A step whose keys need no checking beyond their names."""


def _check_order(job: PipelineJob) -> None:
    """Every step's inputs are made by an earlier step (a plan that cannot work fails before it starts)."""
    made: set[str] = set()
    for step in job.steps:
        spec = STEPS[step.name]
        for need in spec.needs(step.options):
            if need not in made:
                maker = " or ".join(s.name for s in STEPS.values() if need in s.makes)
                raise ConfigError(f"{step.label}: needs the result of an earlier '{maker}' step", file=str(job.path))
        made.update(spec.makes)


# --- running: each step calls the api ----------------------------------------------------------------
def _run_load(api, opts, state, job):
    state["data"] = api.load(opts.get("source"), **{k: v for k, v in opts.items() if k != "source"})
    data = state["data"]
    return f"{data.n_users:,} users x {data.n_items:,} items, {data.nnz:,} interactions"


def _run_train(api, opts, state, job):
    result = api.train_job(
        state["data"],
        model=opts.get("model", "cvae"),
        params=opts.get("params"),
        device=opts.get("device"),
        seed=opts.get("seed"),
        output=opts.get("save"),
    )
    state["model"], state["model_name"] = result.model, result.model.name
    if opts.get("save"):
        state["outputs"]["model"] = opts["save"]
    return f"fitted {result.model.name}" + (f", saved to {opts['save']}" if opts.get("save") else "")


def _run_load_model(api, opts, state, job):
    state["model"] = api.load_model(opts["path"], state.get("data"))
    state["model_name"] = state["model"].name
    return f"loaded {state['model_name']} from {opts['path']}"


def _run_evaluate(api, opts, state, job):
    kwargs = {k: opts[k] for k in ("models", "split", "horizon", "include_seen", "ks", "seed", "params") if k in opts}
    result = api.evaluate_job(state["data"], json_path=opts.get("output"), run_id=job.run_id, **kwargs)
    state["leaderboard"] = result.leaderboard
    if "json" in result.outputs:
        state["outputs"]["leaderboard"] = str(result.outputs["json"])
    return f"winner {result.leaderboard.winner}"


def _users(value) -> list[str] | None:
    """The ``users`` key: a list of ids, or a text file with one id per line."""
    if value is None or isinstance(value, list):
        return None if value is None else [str(v) for v in value]
    return [line.strip() for line in Path(value).read_text(encoding="utf-8").splitlines() if line.strip()]


def _run_recommend(api, opts, state, job):
    result = api.recommend_job(
        state["data"],
        model=opts.get("model", state.get("model")),
        params=opts.get("params"),
        top_k=opts.get("top_k", 10),
        users=_users(opts.get("users")),
        rules=opts.get("rules"),
        candidates=opts.get("candidates"),
        include_seen=opts.get("include_seen"),
        run_id=job.run_id,
    )
    state["recs"], state["model_name"] = result.recs, result.model.name
    return f"{result.customers:,} customers, {len(result.recs):,} rows"


def _run_copy(api, opts, state, job):
    result = api.copy_job(state["recs"], state.get("data"), run_id=job.run_id, **opts)
    state["copy"] = result.copy
    return f"{len(result.copy.frame):,} {opts.get('channel', 'sms')} messages"


def _run_report(api, opts, state, job):
    copy = state.get("copy")
    result = api.report_job(
        state["data"],
        opts["output"],
        recs=state.get("recs"),
        leaderboard=state.get("leaderboard"),
        copy=copy.frame if copy is not None else None,
        locale=opts.get("locale", "en"),
        meta={"pipeline": job.name, "run_id": job.run_id},
    )
    state["outputs"]["report"] = str(result.html_path)
    return f"wrote {state['outputs']['report']}"


def metrics_frame(leaderboard) -> "pd.DataFrame":
    """A leaderboard as rows ``model, metric, k, mean, low, high`` (the ``metrics`` table kind)."""
    from aigc_biz.evaluation.leaderboard import metrics_rows

    return metrics_rows(leaderboard)


#: what a write step can write -> the state entry that holds it
WRITES = {"recommendations": "recs", "copy": "copy", "metrics": "leaderboard"}


def _frame_for(kind: str, state):
    if kind == "recommendations":
        return state["recs"]
    if kind == "copy":
        return state["copy"].frame
    return metrics_frame(state["leaderboard"])


def _run_write(api, opts, state, job):
    from aigc_biz.io.sql import safe_url

    written = []
    for kind in WRITES:
        frame = None
        if opts.get(kind):
            frame = _frame_for(kind, state)
            api.write(frame, path=opts[kind])
            state["outputs"][kind] = opts[kind]
        elif opts.get(f"{kind}_table"):
            frame = _frame_for(kind, state)
            table = opts[f"{kind}_table"]
            api.write(
                frame,
                db=opts["db"],
                table=table,
                run_id=job.run_id,
                kind=kind,
                model=state.get("model_name") if kind == "recommendations" else None,
            )
            state["outputs"][f"db.{kind}"] = f"{safe_url(opts['db'])}#{table}"
        if frame is not None:
            written.append(f"{len(frame):,} {kind} rows")
    return ", ".join(written)


def _needs(*names: str) -> Callable[[dict], tuple[str, ...]]:
    return lambda options: names


@dataclass(frozen=True)
class StepSpec:
    """Everything about one kind of step, so a new step is one entry in :data:`STEPS`.

    Attributes
    ----------
    name : str
        The step's name in the YAML file.
    keys : tuple of str
        The options it accepts (any other key is a ConfigError naming the step).
    check : callable
        ``check(step, job)`` validates the options and resolves their paths, before anything runs.
    needs : callable
        ``needs(options)`` -> what earlier steps must have made ("data", "model", "recs", "copy", "leaderboard").
    makes : tuple of str
        What it leaves for later steps.
    run : callable
        ``run(api, options, state, job)`` -> a one-line summary; it calls :mod:`aigc_biz.api`.
    """

    name: str
    keys: tuple[str, ...]
    run: Callable[[Any, dict, dict, PipelineJob], str]
    check: Callable[[PipelineStep, PipelineJob], None] = _check_nothing
    needs: Callable[[dict], Iterable[str]] = _needs()
    makes: tuple[str, ...] = ()


#: step name -> its spec, in the order the README lists them
STEPS: dict[str, StepSpec] = {
    spec.name: spec
    for spec in (
        StepSpec("load", ("source", "db", "table", "query") + ROLE_FLAGS, _run_load, _check_load, makes=("data",)),
        StepSpec(
            "train", ("model", "params", "device", "seed", "save"), _run_train, _check_train, _needs("data"), ("model",)
        ),
        StepSpec("load_model", ("path",), _run_load_model, _check_load_model, makes=("model",)),
        StepSpec(
            "evaluate",
            ("models", "split", "horizon", "include_seen", "ks", "seed", "params", "output"),
            _run_evaluate,
            _check_evaluate,
            _needs("data"),
            ("leaderboard",),
        ),
        StepSpec(
            "recommend",
            ("top_k", "users", "rules", "candidates", "include_seen", "model", "params"),
            _run_recommend,
            _check_recommend,
            lambda opts: ("data",) if "model" in opts else ("data", "model"),
            ("recs",),
        ),
        StepSpec(
            "copy",
            ("channel", "locale", "campaign", "template", "strict", "max_items", "forbidden_words"),
            _run_copy,
            _check_copy,
            _needs("recs"),
            ("copy",),
        ),
        StepSpec("report", ("output", "locale"), _run_report, _check_report, _needs("data")),
        StepSpec(
            "write",
            tuple(WRITES) + ("db",) + tuple(f"{kind}_table" for kind in WRITES),
            _run_write,
            _check_write,
            lambda opts: [made for kind, made in WRITES.items() if kind in opts or f"{kind}_table" in opts],
        ),
    )
}


class _Runners(MutableMapping):
    """step name -> its ``run``: a view of :data:`STEPS`; setting one swaps that step's run (tests do)."""

    def __getitem__(self, name: str) -> Callable:
        return STEPS[name].run

    def __setitem__(self, name: str, run: Callable) -> None:
        STEPS[name] = dataclasses.replace(STEPS[name], run=run)

    def __delitem__(self, name: str) -> None:
        raise TypeError("a step cannot be removed; replace its run instead")

    def __iter__(self):
        return iter(STEPS)

    def __len__(self) -> int:
        return len(STEPS)


STEP_RUNNERS = _Runners()


def _plan(step: PipelineStep) -> str:
    """The step's options as one line, URLs masked and secret values blanked."""
    return redact(", ".join(f"{k}={v}" for k, v in step.options.items())) or "defaults"


def run_pipeline(
    path: str | Path,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
    env: dict | None = None,
    log: logging.Logger | None = None,
    verbs: Any = None,
) -> PipelineResult:
    """Run the pipeline file at ``path``, step by step (:func:`aigc_biz.api.run` is the entry that calls this).

    Parameters
    ----------
    path : str or Path
        The YAML file.
    run_id : str, optional
        Overrides the file's ``run_id`` (rows of an earlier run with this id are replaced); the file
        sees it as ``${RUN_ID}``, whatever the environment says.
    dry_run : bool
        Check the file (keys, input files, step order) and return the plan; run nothing.
    env : dict, optional
        Variables for ``${...}`` substitution, on top of ``os.environ``.
    log : logging.Logger, optional
        Where step progress goes (default: the ``aigc_biz.pipeline`` logger).
    verbs : module or object
        What each step calls (``verbs.load``, ``verbs.train``…): :mod:`aigc_biz.api`, handed in by
        :func:`aigc_biz.api.run` so that this module never imports the API above it. Needed unless
        ``dry_run``.

    Returns
    -------
    PipelineResult

    Raises
    ------
    ConfigError
        The file is wrong: bad YAML, unknown step or key (named with the step's number), missing input.
    AigcBizError
        A step failed: the library's own error (InputError, ModelError, OutputError…), unchanged.
    """
    out = log if log is not None else logger
    job = load_pipeline(path, run_id=run_id, env=env)
    result = PipelineResult(name=job.name, run_id=job.run_id, dry_run=dry_run)
    context = {"pipeline": job.name, "run_id": job.run_id}
    if dry_run:
        for step in job.steps:
            result.steps.append({"step": step.name, "seconds": 0.0, "summary": "planned: " + _plan(step)})
            out.info(
                "%s: planned: %s", step.label, _plan(step), extra={**context, "step": step.name, "index": step.index}
            )
        return result
    if verbs is None:
        raise TypeError("run_pipeline needs verbs=aigc_biz.api to run steps; call aigc_biz.api.run(path)")
    api = verbs
    state: dict[str, Any] = {"outputs": result.outputs}
    total = time.perf_counter()
    out.info("pipeline %s started, run_id %s, %d steps", job.name, job.run_id, len(job.steps), extra=context)
    for step in job.steps:
        started = time.perf_counter()
        fields = {**context, "step": step.name, "index": step.index}
        out.info("%s started", step.label, extra=fields)
        try:
            summary = STEPS[step.name].run(api, step.options, state, job)
        except Exception as exc:
            seconds = time.perf_counter() - started
            out.error(
                "%s failed after %.2f s: %s", step.label, seconds, exc, extra={**fields, "seconds": round(seconds, 3)}
            )
            if hasattr(exc, "add_note"):
                exc.add_note(f"in {step.label} of pipeline {job.path}")
            raise
        seconds = time.perf_counter() - started
        result.steps.append({"step": step.name, "seconds": round(seconds, 3), "summary": summary})
        out.info("%s done in %.2f s: %s", step.label, seconds, summary, extra={**fields, "seconds": round(seconds, 3)})
    out.info(
        "pipeline %s finished in %.2f s",
        job.name,
        time.perf_counter() - total,
        extra={**context, "seconds": round(time.perf_counter() - total, 3)},
    )
    return result
