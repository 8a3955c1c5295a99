"""Run ids: what names one batch run in files, tables and logs."""

from __future__ import annotations

from datetime import datetime, timezone


def new_run_id() -> str:
    """A run id for a run that names none: the UTC time, e.g. ``20261123T020000Z`` (CLI and pipelines)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
