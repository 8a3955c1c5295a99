"""Fuzzing the readers, model folders and pipeline files (issue 15, "stay fixed").

A bounded, derandomised number of examples per target, so CI tries the same inputs every run and
all of this stays well under 30 s; ``python bench/fuzz.py`` runs the same targets for longer with
fresh examples. The property (see ``tests/fuzzing.py``): exit 0 or 2, one ``Error:`` line, no
traceback, nothing written on failure.
"""

from __future__ import annotations

import pytest
from fuzzing import ModelSeed, check_pipeline, check_table, model_edits, mutated, pipelines, seed_files, table_files
from hypothesis import given, settings
from hypothesis import strategies as st

SEEDS = seed_files()
#: examples per target in CI; every example runs the CLI once or twice in-process
EXAMPLES = 10


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_mutated_table_files_exit_0_or_2_with_one_line(suffix, data):
    check_table(data.draw(mutated(SEEDS[suffix])), suffix)


@settings(max_examples=EXAMPLES)
@given(example=table_files())
def test_generated_tables_exit_0_or_2_with_one_line(example):
    check_table(*example)


@pytest.fixture(scope="module")
def model_seed():
    seed = ModelSeed("itemknn")
    yield seed
    seed.close()


@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_broken_model_folders_exit_0_or_2_with_one_line(model_seed, data):
    model_seed.check(data.draw(model_edits(model_seed)))


@settings(max_examples=EXAMPLES * 2)
@given(text=pipelines())
def test_pipeline_files_exit_0_or_2_with_one_line(text):
    check_pipeline(text)
