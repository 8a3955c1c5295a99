"""Property-based fuzzing of what a user hands the CLI: table files, model folders, pipeline files.

The property, for every input: the command exits 0 or 2; on 2 it prints exactly one ``Error:`` line
and no traceback; on failure it writes nothing (no output file, no temporary file left behind).

Shared by ``tests/test_fuzz.py`` (a bounded, derandomised run in CI) and ``bench/fuzz.py`` (a long run).
Each ``check_*`` function runs one example and raises AssertionError when the property fails.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import assume
from hypothesis import strategies as st
from typer.testing import CliRunner

from aigc_biz.cli import app
from aigc_biz.resources import sample_data_path

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _seed_orders() -> pd.DataFrame:
    orders = pd.read_csv(sample_data_path(), dtype=str)
    return orders.head(60).reset_index(drop=True)


def seed_files() -> dict[str, bytes]:
    """A small valid table in each format the readers take: the seeds the byte mutations start from."""
    orders = _seed_orders()
    csv_bytes = orders.to_csv(index=False).encode("utf-8")
    parquet = io.BytesIO()
    orders.to_parquet(parquet, index=False)
    excel = io.BytesIO()
    orders.to_excel(excel, index=False)
    return {
        ".csv": csv_bytes,
        ".tsv": orders.to_csv(index=False, sep="\t").encode("utf-8"),
        ".csv.gz": gzip.compress(csv_bytes, mtime=0),
        ".parquet": parquet.getvalue(),
        ".xlsx": excel.getvalue(),
    }


# --- strategies ---------------------------------------------------------------------------------
def mutated(seed: bytes, max_edits: int = 6) -> st.SearchStrategy[bytes]:
    """``seed`` with a few byte edits: overwrite, insert, delete, truncate or duplicate a span."""
    edit = st.tuples(
        st.sampled_from(["overwrite", "insert", "delete", "truncate", "duplicate"]),
        st.integers(0, max(len(seed) - 1, 0)),
        st.binary(min_size=1, max_size=16),
        st.integers(1, 256),
    )

    def apply(edits) -> bytes:
        data = bytearray(seed)
        for kind, at, chunk, span in edits:
            at = min(at, len(data))
            if kind == "overwrite":
                data[at : at + len(chunk)] = chunk
            elif kind == "insert":
                data[at:at] = chunk
            elif kind == "delete":
                del data[at : at + span]
            elif kind == "truncate":
                del data[at:]
            else:
                data[at:at] = data[at : at + span]
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=max_edits).map(apply)


#: cells a user table might hold: ids, numbers, dates, empty, odd text
CELLS = st.one_of(
    st.sampled_from(["", "u1", "u2", "007", "i1", "NA", "nan", "-1", "0", "1e308", "inf", "2024-02-30", "=1+1"]),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=12),
)
HEADERS = st.one_of(
    st.sampled_from(["user_id", "item_id", "customer_id", "product_id", "rating", "quantity", "price", "order_time"]),
    st.text(min_size=0, max_size=10),
)


IDS = st.sampled_from(["u1", "u2", "u3", "007", "i1", "i2", "00042", " i3 ", ""])


@st.composite
def tables(draw) -> pd.DataFrame:
    """A small table: mostly a user and an item column of plausible ids plus odd extra columns, sometimes
    random headers altogether (duplicates and blanks included)."""
    if draw(st.booleans()):
        columns = ["user_id", "item_id"] + draw(st.lists(HEADERS, max_size=3))
        cells = [IDS, IDS] + [CELLS] * (len(columns) - 2)
    else:
        columns = draw(st.lists(HEADERS, min_size=1, max_size=5))
        cells = [CELLS] * len(columns)
    rows = draw(st.lists(st.tuples(*cells), max_size=14))
    frame = pd.DataFrame([list(row) for row in rows], columns=range(len(columns)), dtype=object)
    frame.columns = columns
    return frame


def table_bytes(frame: pd.DataFrame, suffix: str) -> bytes | None:
    """``frame`` as a file of ``suffix``; None where the format itself cannot hold it (e.g. duplicate names)."""
    buffer = io.BytesIO()
    try:
        if suffix == ".csv":
            return frame.to_csv(index=False).encode("utf-8", "surrogatepass")
        if suffix == ".parquet":
            frame.to_parquet(buffer, index=False)
        else:
            frame.to_excel(buffer, index=False)
    except Exception:  # the writer refuses: not an input a user could hand us
        return None
    return buffer.getvalue()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@st.composite
def json_mutations(draw, document):
    """``document`` (a JSON value) with a few values replaced by random JSON, or keys dropped."""
    doc = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _walk(doc, path[:-1]), path[-1]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent.pop(key, None)
        else:
            parent[key] = draw(JSON_VALUES)
    return doc


def _paths(value, prefix=()):
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield prefix + (key,)
        if len(prefix) < 5:
            yield from _paths(child, prefix + (key,))


def _walk(value, path):
    for key in path:
        value = value[key]
    return value


STEP_NAMES = ["load", "train", "load_model", "evaluate", "recommend", "copy", "report", "write", "bogus"]
STEP_KEYS = ["source", "db", "table", "model", "params", "save", "top_k", "channel", "output", "recommendations"]
YAML_SCALARS = st.one_of(
    st.sampled_from(["pop", "ease", "out.csv", "orders.csv", "sqlite:///x.db", "${HOME}", "${NOPE}", "$${", "10"]),
    st.integers(-5, 50),
    st.booleans(),
    st.none(),
    st.text(max_size=10),
)


#: a pipeline that runs (beside ``orders.csv``): the seed of the structural mutations
VALID_PIPELINE = {
    "name": "fuzz",
    "run_id": "${RUN_ID:-fuzz}",
    "output_dir": "out",
    "steps": [
        {"load": {"source": "orders.csv", "user_col": "customer_id"}},
        {"train": {"model": "pop", "params": {}, "seed": 0, "save": "models/pop"}},
        {"recommend": {"top_k": 3, "rules": {"max_per_category": 2}}},
        {"copy": {"channel": "sms", "locale": "en", "campaign": "c"}},
        {"report": {"output": "report.html", "locale": "en"}},
        {"write": {"recommendations": "recs.csv", "copy": "copy.csv"}},
        {"write": {"db": "sqlite:///w.db", "recommendations_table": "recs"}},
    ],
}


@st.composite
def pipelines(draw) -> str:
    """Pipeline YAML: the valid pipeline with values replaced or keys dropped, plausible random steps,
    or either one with text edits."""
    import yaml

    if draw(st.booleans()):
        text = yaml.safe_dump(draw(json_mutations(VALID_PIPELINE)), allow_unicode=True)
        if draw(st.integers(0, 3)) == 0:
            text = draw(mutated(text.encode("utf-8"), max_edits=2)).decode("utf-8", "replace")
        return text
    steps = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(STEP_NAMES))
        options = draw(st.dictionaries(st.sampled_from(STEP_KEYS), YAML_SCALARS | JSON_VALUES, max_size=3))
        steps.append({name: options} if draw(st.booleans()) else name)
    document = {"name": draw(st.text(max_size=8)), "steps": steps}
    if draw(st.booleans()):
        document[draw(st.sampled_from(["run_id", "output_dir", "extra"]))] = draw(YAML_SCALARS)
    text = yaml.safe_dump(document, allow_unicode=True)
    if draw(st.booleans()):
        text = draw(mutated(text.encode("utf-8"), max_edits=3)).decode("utf-8", "replace")
    return text


# --- the property -------------------------------------------------------------------------------
def check_cli(args: list[str], *, output: Path | None = None, folder: Path | None = None) -> int:
    """Run the CLI once; AssertionError unless the property holds. Returns the exit code."""
    before = set(os.listdir(folder)) if folder is not None else set()
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=True)
    code = result.exit_code
    text = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"raised {type(result.exception).__name__}: {result.exception}"
    )
    assert code in (0, 2), f"exit {code}: {result.stderr.strip()[-500:]}"
    assert "Traceback" not in text, text[-500:]
    if code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error: ")]
        assert len(errors) == 1, f"expected one Error: line, got {lines[-5:]}"
        assert not errors[0].startswith("Error: unexpected "), errors[0]
        if output is not None:
            assert not output.exists(), f"{output} written although the command failed"
        if folder is not None:
            left = set(os.listdir(folder)) - before
            assert not left, f"left behind on failure: {sorted(left)}"
    return code


def check_table(data: bytes, suffix: str) -> int:
    """Reading ``data`` as a ``suffix`` file: ``inspect``, then ``recommend`` (pop) to a file."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / f"orders{suffix}"
        source.write_bytes(data)
        out_dir = folder / "out"
        out_dir.mkdir()
        check_cli(["inspect", source])
        out = out_dir / "recs.csv"
        return check_cli(["recommend", source, "--model", "pop", "-o", out, "-q"], output=out, folder=out_dir)


class ModelSeed:
    """A model folder saved once, copied and broken per example."""

    def __init__(self, model: str = "itemknn"):
        self.tmp = tempfile.TemporaryDirectory()
        base = Path(self.tmp.name)
        self.data = base / "orders.csv"
        _seed_orders().to_csv(self.data, index=False)
        self.folder = base / "model"
        code = check_cli(["train", self.data, "--model", model, "-o", self.folder, "-q"])
        assert code == 0, "training the seed model failed"
        self.files = {p.name: p.read_bytes() for p in self.folder.iterdir() if p.is_file()}

    def json_documents(self) -> dict[str, object]:
        return {name: json.loads(data) for name, data in self.files.items() if name.endswith(".json")}

    def check(self, replaced: dict[str, bytes]) -> int:
        """``recommend --model-path`` with the folder's files replaced by ``replaced``."""
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            shutil.copytree(self.folder, folder)
            for name, data in replaced.items():
                (folder / name).write_bytes(data)
            out_dir = Path(tmp) / "out"
            out_dir.mkdir()
            out = out_dir / "recs.csv"
            return check_cli(
                ["recommend", self.data, "--model-path", folder, "-o", out, "-q"], output=out, folder=out_dir
            )

    def close(self) -> None:
        self.tmp.cleanup()


@st.composite
def model_edits(draw, seed: ModelSeed) -> dict[str, bytes]:
    """One file of ``seed``'s folder replaced: a JSON file structurally mutated, or any file's bytes."""
    name = draw(st.sampled_from(sorted(seed.files)))
    if name.endswith(".json") and draw(st.booleans()):
        return {name: json.dumps(draw(json_mutations(seed.json_documents()[name]))).encode("utf-8")}
    return {name: draw(mutated(seed.files[name]))}


@st.composite
def table_files(draw) -> tuple[bytes, str]:
    """``(bytes, suffix)`` of a generated table written as CSV, Parquet or Excel."""
    suffix = draw(st.sampled_from([".csv", ".parquet", ".xlsx"]))
    data = table_bytes(draw(tables()), suffix)
    assume(data is not None)
    return data, suffix


def check_pipeline(text: str) -> int:
    """``run FILE --dry-run`` on pipeline ``text`` (beside a valid orders file)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _seed_orders().to_csv(folder / "orders.csv", index=False)
        path = folder / "job.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return check_cli(["run", path, "--dry-run", "-q"], folder=folder)
