"""Run metadata of a report: package versions, platform, data fingerprint, time."""

from __future__ import annotations

import hashlib
import platform
from datetime import datetime, timezone
from importlib import metadata as package_metadata

import numpy as np

from aigc_biz._version import __version__
from aigc_biz.data import Interactions
from aigc_biz.redaction import redact

_PACKAGES = ("torch", "pandas", "numpy", "scipy", "matplotlib", "jinja2")


def package_version(name: str) -> str | None:
    """Installed version of a distribution, read from its metadata (the package is not imported)."""
    try:
        return package_metadata.version(name)
    except package_metadata.PackageNotFoundError:
        return None


def data_fingerprint(data: Interactions) -> str:
    """sha256 of the CSR arrays and the id lists: equal for equal interactions, whatever the source file.

    Arrays are hashed in fixed dtypes and byte order, ids as UTF-8 joined by NUL, so the value does
    not depend on the platform.
    """
    digest = hashlib.sha256()
    matrix = data.matrix
    digest.update(np.asarray(matrix.shape, dtype="<i8").tobytes())
    digest.update(np.asarray(matrix.indptr, dtype="<i8").tobytes())
    digest.update(np.asarray(matrix.indices, dtype="<i8").tobytes())
    digest.update(np.asarray(matrix.data, dtype="<f4").tobytes())
    for ids in (data.user_ids, data.item_ids):
        digest.update(b"\x1e")
        digest.update("\x00".join(str(i) for i in ids).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def default_meta(data: Interactions) -> dict:
    """The metadata a report records when the caller gives none."""
    versions = {"aigc_biz": __version__, "python": platform.python_version()}
    versions.update({name: package_version(name) for name in _PACKAGES})
    return {
        "versions": versions,
        "platform": platform.platform(),
        "data_source": data.source or None,
        "data_fingerprint": data_fingerprint(data),
        "report_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def merge_meta(data: Interactions, meta: dict | None) -> dict:
    """The caller's metadata, with every default key it lacks filled in (the caller's values win)."""
    merged = default_meta(data)
    for key, value in (meta or {}).items():
        if key == "versions" and isinstance(value, dict):
            merged["versions"] = {**merged["versions"], **value}
        else:
            merged[str(key)] = value
    return _redacted(merged)


def _redacted(value):
    """Strings in the metadata with URLs masked and secret values blanked: the report is shared."""
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    return redact(value) if isinstance(value, str) else value
