"""Run ids: what names one batch run in files, tables and logs."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone


def new_run_id() -> str:
    """A run id for a run that names none: the UTC time and a random suffix, e.g. ``20261123T020000Z-3f9a1c2b``.

    The suffix keeps two jobs started in the same second apart: with the time alone, the second
    job's write replaced the first one's rows (a run's rows are replaced by run id).
    """
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)
