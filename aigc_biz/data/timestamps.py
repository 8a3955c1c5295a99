"""Parse a column of date/time strings written in whichever common format a business system exports.

Recognised: ISO (``2023-01-05 10:31``, ``2023/01/05``, ``2023-01-05T10:31:00Z``, ``20230105``), US
(``12/1/2010 8:26`` as in the UCI Online Retail data), day-first (``05/01/2023``, ``05.01.2023``),
Unix seconds or milliseconds, and Chinese (``2023年1月5日``, ``2023年1月5日 10:31``, ``2023年1月5日10时31分``).
The format is chosen once per column (the one that reads most of a sample), so ``01/02/2023`` is never
read one way in one row and the other way in the next. Time zones are converted to UTC and dropped.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["parse_timestamps", "timestamp_parser", "time_sample", "SUPPORTED_FORMATS"]

SUPPORTED_FORMATS = ("2023-01-05 10:31", "12/1/2010 8:26", "05.01.2023", "unix seconds", "2023年1月5日")

_US = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y")
_DAY_FIRST = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)
_UNIX = re.compile(r"^\d{9,13}(\.\d+)?$")
_CHINESE = re.compile(
    r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?\s*"
    r"(?:(\d{1,2})\s*[:时]\s*(\d{1,2})\s*(?:[:分]\s*(?:(\d{1,2})\s*秒?)?)?)?\s*$"
)
#: distinct values a column's format is chosen on
TIME_SAMPLE = 2000


def parse_timestamps(values: pd.Series, parser=None) -> pd.Series:
    """``values`` (strings, NA allowed) as naive ``datetime64[ns]``; NaT where a value cannot be read.

    ``parser`` (from :func:`timestamp_parser`) fixes the format, for a column read in parts; by default
    it is chosen on ``values``' own first distinct values.

    Examples
    --------
    >>> parse_timestamps(pd.Series(["12/1/2010 8:26", "1/12/2011 17:05"])).dt.strftime("%Y-%m-%d %H:%M").tolist()
    ['2010-12-01 08:26', '2011-01-12 17:05']
    """
    text = values.astype("str").str.strip()
    if parser is None:
        parser = timestamp_parser(time_sample(text))
    if parser is _UNREADABLE:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    return parser(text).astype("datetime64[ns]")


def time_sample(values: pd.Series, limit: int = TIME_SAMPLE) -> list[str]:
    """The first ``limit`` distinct present values, stripped: what :func:`timestamp_parser` chooses on."""
    return values.astype("str").str.strip().dropna().drop_duplicates().head(limit).tolist()


def timestamp_parser(sample: list[str]):
    """The parser that reads most of ``sample`` (the first that reads all of it); unreadable -> NaT throughout."""
    if len(sample) == 0:
        return _UNREADABLE
    sample = pd.Series(sample, dtype="str")
    parsers = (_parse_unix, _parse_chinese, _parse_iso, _formats_parser(_US), _formats_parser(_DAY_FIRST))
    best, best_rate = None, -1.0
    for parser in parsers:
        rate = float(parser(sample).notna().mean())
        if rate > best_rate:
            best, best_rate = parser, rate
        if rate == 1.0:
            break
    return _UNREADABLE if best_rate == 0.0 else best


def _unreadable(text: pd.Series) -> pd.Series:
    return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")


_UNREADABLE = _unreadable


def _naive(parsed: pd.Series) -> pd.Series:
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _parse_iso(text: pd.Series) -> pd.Series:
    # only strings that start like a year; ISO8601 mode would otherwise accept bare numbers
    looks_iso = text.str.match(r"^\d{4}[-/.]?\d{1,2}", na=False)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if looks_iso.any():
        parsed = pd.to_datetime(text[looks_iso], format="ISO8601", errors="coerce", utc=True)
        out[looks_iso] = _naive(parsed).astype("datetime64[ns]")
    return out


def _formats_parser(formats):
    def parse(text: pd.Series) -> pd.Series:
        out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        for fmt in formats:
            missing = out.isna() & text.notna()
            if not missing.any():
                break
            out[missing] = pd.to_datetime(text[missing], format=fmt, errors="coerce").astype("datetime64[ns]")
        return out

    return parse


def _parse_unix(text: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    numeric = text.str.match(_UNIX, na=False)
    if not numeric.any():
        return out
    seconds = pd.to_numeric(text[numeric], errors="coerce")
    # 13-digit values are milliseconds (JavaScript, many tracking tools)
    seconds = seconds.where(seconds < 1e11, seconds / 1000.0)
    out[numeric] = pd.to_datetime(seconds, unit="s", errors="coerce").astype("datetime64[ns]")
    return out


def _parse_chinese(text: pd.Series) -> pd.Series:
    parts = text.str.extract(_CHINESE)
    ok = parts[0].notna()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if not ok.any():
        return out
    p = parts[ok].fillna("0").astype(np.int64)
    frame = pd.DataFrame({"year": p[0], "month": p[1], "day": p[2], "hour": p[3], "minute": p[4], "second": p[5]})
    out[ok] = pd.to_datetime(frame, errors="coerce").astype("datetime64[ns]")
    return out
