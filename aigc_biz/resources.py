"""Where the bundled templates, pipelines and sample data live.

In a wheel they are copied to ``aigc_biz/_resources/`` (see pyproject's force-include); in a source
checkout or an editable install they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("templates", "copy")``."""
    for root in (_PKG / "_resources", _PKG.parent):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError("bundled resource not found: " + "/".join(parts))


def sample_data_path() -> Path:
    """The bundled sample order table (CSV)."""
    return resource_path("sample_data", "retail_orders.csv")
