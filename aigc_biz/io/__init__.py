"""Writing results: atomic files (:mod:`aigc_biz.io.files`) and SQL tables in one transaction per run
(:mod:`aigc_biz.io.sql`). Reading tables lives in :mod:`aigc_biz.data`."""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "write_frame": "files",
    "write_json": "files",
    "write_text": "files",
    "read_recs": "files",
    "WriteResult": "sql",
    "make_engine": "sql",
    "safe_url": "sql",
    "validate_identifier": "sql",
    "write_table": "sql",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    # lazy: writing a CSV should not import SQLAlchemy
    if name in _EXPORTS:
        return getattr(import_module(f"aigc_biz.io.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'aigc_biz.io' has no attribute {name!r}")
