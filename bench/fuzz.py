"""The long fuzzing run: fresh random examples for every target, failures counted instead of stopping.

    python bench/fuzz.py                       # 300 examples per target
    python bench/fuzz.py --examples 3000 --targets csv,model --save out/fuzz

Targets: csv, tsv, csv.gz, parquet, xlsx (byte mutations of a valid file), tables (generated tables in
csv, parquet and xlsx), model:NAME (broken folders of a saved model: mutated JSON and arrays),
pipeline (pipeline YAML, --dry-run).
The property is that of tests/test_fuzz.py (see tests/fuzzing.py): exit 0 or 2, one ``Error:`` line,
no traceback, nothing written on failure. Prints, per target, the examples run, how many exited 0
and 2, the failures found (distinct messages) and the seconds taken; ``--save`` keeps each failing
input as a file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fuzzing import ModelSeed, check_pipeline, check_table, model_edits, mutated, pipelines, seed_files, table_files  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TARGETS = ("csv", "tsv", "csv.gz", "parquet", "xlsx", "tables", "model:itemknn", "model:ease", "model:pop", "pipeline")


class Tally:
    def __init__(self, name: str, save: Path | None):
        self.name, self.save = name, save
        self.runs = self.ok = self.refused = 0
        self.failures: dict[str, int] = {}
        self.started = time.perf_counter()

    def run(self, check, data: bytes | str, suffix: str, *args) -> None:
        self.runs += 1
        try:
            code = check(data, *args)
        except AssertionError as exc:
            message = str(exc).splitlines()[0][:300] if str(exc) else "AssertionError"
            self.failures[message] = self.failures.get(message, 0) + 1
            if self.save is not None:
                raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
                self.save.mkdir(parents=True, exist_ok=True)
                (self.save / f"{self.name}-{hashlib.sha1(raw).hexdigest()[:10]}{suffix}").write_bytes(raw)
            return
        if code == 0:
            self.ok += 1
        else:
            self.refused += 1

    def report(self) -> str:
        seconds = time.perf_counter() - self.started
        lines = [
            f"{self.name:13s} examples {self.runs:5d}  exit0 {self.ok:5d}  exit2 {self.refused:5d}  "
            f"failures {sum(self.failures.values()):4d} ({len(self.failures)} distinct)  {seconds:7.1f} s"
        ]
        lines += [f"    {n:4d} x {message}" for message, n in sorted(self.failures.items(), key=lambda kv: -kv[1])]
        return "\n".join(lines)


def run_target(name: str, examples: int, save: Path | None) -> Tally:
    tally = Tally(name, save)
    options = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    if name in ("csv", "tsv", "csv.gz", "parquet", "xlsx"):
        seed = seed_files()[f".{name}"]

        @options
        @given(data=mutated(seed))
        def body(data):
            tally.run(check_table, data, f".{name}", f".{name}")

    elif name == "tables":

        @options
        @given(example=table_files())
        def body(example):
            tally.run(check_table, example[0], example[1], example[1])

    elif name.startswith("model"):
        model = ModelSeed(name.partition(":")[2] or "itemknn")

        def check_model(data, file_name):
            return model.check({file_name: data})

        @options
        @given(edit=st.data())
        def body(edit):
            ((file_name, data),) = edit.draw(model_edits(model)).items()
            tally.run(check_model, data, "-" + file_name, file_name)

    else:

        @options
        @given(text=pipelines())
        def body(text):
            tally.run(check_pipeline, text, ".yaml")

    body()
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=300, help="examples per target")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated: " + ", ".join(TARGETS))
    parser.add_argument("--save", type=Path, default=None, help="folder for failing inputs")
    args = parser.parse_args()
    total_failures = 0
    print(f"fuzzing {args.targets} with {args.examples} examples each (property: exit 0/2, one line, nothing written)")
    for name in args.targets.split(","):
        tally = run_target(name.strip(), args.examples, args.save)
        print(tally.report(), flush=True)
        total_failures += sum(tally.failures.values())
    print(f"failures found: {total_failures}; load average {os.getloadavg()[0]:.2f}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
