"""Atomic file writers: old output intact on failure, spreadsheet formulas neutralised, ids round-trip."""

from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigc_biz.errors import InputError, OutputError
from aigc_biz.io import files
from aigc_biz.io.files import read_recs, write_frame, write_json, write_text


class Explodes:
    """A cell whose serialisation fails midway through writing the frame."""

    def __str__(self):
        raise RuntimeError("cannot serialise this cell")

    __repr__ = __str__


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["007", "12345678901234567890", "用户"],
            "rank": [1, 2, 3],
            "item_id": ["00042", "NA", "连衣裙"],
            "score": [-1.5, 0.0, 2.25],
            "title": ["红色连衣裙", None, "=1+1"],
        }
    )


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl", "json"])
def test_round_trip_keeps_ids_as_text(tmp_path, ext):
    path = write_frame(sample(), tmp_path / "deep" / "folder" / f"recs.{ext}")
    back = read_recs(path)
    assert back["user_id"].tolist() == ["007", "12345678901234567890", "用户"]
    assert back["item_id"].tolist() == ["00042", "NA", "连衣裙"]
    assert back["score"].tolist() == [-1.5, 0.0, 2.25]
    assert back["title"].tolist()[::2] == ["红色连衣裙", "=1+1"] and pd.isna(back["title"][1])
    assert [p.name for p in path.parent.iterdir()] == [f"recs.{ext}"]  # no temporary file left


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl", "json"])
def test_failed_write_leaves_old_file_byte_identical(tmp_path, ext):
    path = write_frame(sample(), tmp_path / f"recs.{ext}")
    before = path.read_bytes()
    broken = sample().astype({"title": object})
    broken.loc[2, "title"] = Explodes()
    with pytest.raises(Exception, match="cannot serialise|Explodes|not supported|Conversion"):
        write_frame(broken, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [f"recs.{ext}"]


def test_failed_replace_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = write_text("old report", tmp_path / "report.html")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OutputError, match="earlier file is unchanged"):
        write_text("new report", path)
    with pytest.raises(OutputError):
        write_frame(sample(), tmp_path / "recs.csv")
    assert path.read_text() == "old report"
    assert sorted(os.listdir(tmp_path)) == ["report.html"]


def test_new_file_gets_ordinary_permissions(tmp_path):
    path = write_json({"a": 1}, tmp_path / "x.json")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    path.chmod(0o640)
    write_json({"a": 2}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_csv_formulas_are_neutralised_in_text_columns_only(tmp_path):
    frame = pd.DataFrame(
        {
            "user_id": ["=SUM(A1)", "+1", "-x", "@cmd", "\tTAB", "\rCR", "'q", "ok", "a=b"],
            "score": [-1.5, 1, 2, 3, 4, 5, 6, 7, 8],
            "rank": [-1, 1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    path = write_frame(frame, tmp_path / "recs.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert raw["user_id"].tolist() == ["'=SUM(A1)", "'+1", "'-x", "'@cmd", "'\tTAB", "'\rCR", "''q", "ok", "a=b"]
    assert raw["score"].tolist()[0] == "-1.5" and raw["rank"].tolist()[0] == "-1"
    assert read_recs(path)["user_id"].tolist() == frame["user_id"].tolist()


def test_csv_is_utf8_with_optional_bom(tmp_path):
    plain = write_frame(sample(), tmp_path / "a.csv").read_bytes()
    excel = write_frame(sample(), tmp_path / "b.csv", bom=True).read_bytes()
    assert not plain.startswith(b"\xef\xbb\xbf") and "用户".encode() in plain
    assert excel == b"\xef\xbb\xbf" + plain
    assert read_recs(tmp_path / "b.csv")["user_id"].tolist() == sample()["user_id"].tolist()


def test_format_from_extension_or_argument(tmp_path):
    with pytest.raises(InputError, match="extension"):
        write_frame(sample(), tmp_path / "recs.xlsx")
    with pytest.raises(InputError, match="format"):
        write_frame(sample(), tmp_path / "recs.csv", fmt="xml")
    path = write_frame(sample(), tmp_path / "recs.out", fmt="jsonl")
    assert read_recs(path, fmt="jsonl")["user_id"].tolist() == sample()["user_id"].tolist()
    with pytest.raises(InputError, match="not found"):
        read_recs(tmp_path / "missing.csv")


def test_write_json_handles_numpy_and_nan(tmp_path):
    import numpy as np

    path = write_json(
        {
            "n": np.int64(3),
            "x": np.float32(0.5),
            "bad": float("nan"),
            "arr": np.arange(2),
            "when": pd.Timestamp("2026-11-23"),
            "名": "值",
        },
        tmp_path / "m.json",
    )
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "n": 3,
        "x": 0.5,
        "bad": None,
        "arr": [0, 1],
        "when": "2026-11-23T00:00:00",
        "名": "值",
    }


def test_unwritable_folder_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        write_text("x", blocker / "sub" / "out.txt")


ids = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_ids=st.lists(ids, min_size=1, max_size=8), ext=st.sampled_from(["csv", "parquet"]))
def test_any_text_id_round_trips(tmp_path, user_ids, ext):
    frame = pd.DataFrame(
        {
            "user_id": user_ids,
            "rank": range(1, len(user_ids) + 1),
            "item_id": [u[::-1] for u in user_ids],
            "score": [-0.5] * len(user_ids),
        }
    )
    back = read_recs(write_frame(frame, tmp_path / f"recs.{ext}"))
    assert back["user_id"].tolist() == user_ids
    assert back["item_id"].tolist() == frame["item_id"].tolist()
    assert back["rank"].tolist() == frame["rank"].tolist()


def test_write_json_turns_every_odd_value_into_plain_json(tmp_path):
    # the one converter (aigc_biz.json_safe) behind reports, leaderboards, saved params and logs
    import json as _json
    from datetime import date

    import numpy as np
    import pandas as pd

    from aigc_biz.io.files import write_json

    path = write_json(
        {
            "n": np.int32(2),
            "x": np.float32(0.5),
            "bad": [float("inf"), pd.NA, pd.NaT],
            "when": date(2024, 1, 2),
            "at": np.datetime64("2024-01-02T03:04:05"),
            "flag": np.bool_(True),
            "pair": (1, "a"),
            7: {"nested": np.array([1, 2])},
        },
        tmp_path / "x.json",
    )
    assert _json.loads(path.read_text(encoding="utf-8")) == {
        "n": 2,
        "x": 0.5,
        "bad": [None, None, None],
        "when": "2024-01-02",
        "at": "2024-01-02T03:04:05",
        "flag": True,
        "pair": [1, "a"],
        "7": {"nested": [1, 2]},
    }
