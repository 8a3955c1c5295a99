"""Saved models as plain folders: JSON, safetensors and Parquet, never pickle.

A saved model is a folder::

    model.json              name, class, hyper-parameters, fitted metadata, versions, data schema, checksums
    ids.json                user and item ids, exactly as strings (leading zeros kept)
    arrays.safetensors      the fitted history (CSR parts) and the model's own arrays (``state.<key>``)
    user_features.parquet   user attributes (only when the data had any)

Loading reads data only (no code runs), checks the format version and every file's SHA-256,
and rebuilds the model through the registry.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as dump_arrays

from aigc_biz._version import __version__
from aigc_biz.errors import AigcBizError, ModelError, OutputError

MODEL_FILE = "model.json"
IDS_FILE = "ids.json"
ARRAYS_FILE = "arrays.safetensors"
USER_FEATURES_FILE = "user_features.parquet"

_STATE_PREFIX = "state."
_HISTORY_KEYS = ("history.data", "history.indices", "history.indptr", "history.shape")


def save_model(model, path: Path) -> Path:
    """Write a fitted ``model`` into folder ``path`` atomically and return ``path``.

    Everything is written into a temporary folder beside ``path`` and renamed into place, so a
    crash never leaves a half-written model. An older saved model at ``path`` is replaced; any
    other existing folder or file is left alone and refused.

    Raises
    ------
    ModelError
        ``path`` exists and is not a saved model, or the model's parameters/state cannot be stored.
    OutputError
        The folder cannot be written (read-only disk, parent is a file...); an older model stays intact.
    """
    from aigc_biz.models.base import FORMAT_VERSION

    model.check_fitted()
    path = Path(path)
    _refuse_to_clobber(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        checksums = {}
        ids = {"user_ids": [str(u) for u in model.user_ids_], "item_ids": [str(t) for t in model.item_ids_]}
        checksums[IDS_FILE] = _write_bytes(tmp / IDS_FILE, json.dumps(ids, ensure_ascii=False).encode("utf-8"))
        checksums[ARRAYS_FILE] = _write_bytes(tmp / ARRAYS_FILE, dump_arrays(_collect_arrays(model)))
        features = model.user_features_
        if len(features.columns):
            _parquet_safe(features).to_parquet(tmp / USER_FEATURES_FILE, index=False)
            checksums[USER_FEATURES_FILE] = _sha256(tmp / USER_FEATURES_FILE)
        manifest = {
            "format_version": FORMAT_VERSION,
            "aigc_biz_version": __version__,
            "model": model.name,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "params": _to_json(model.get_params(), "hyper-parameters", path),
            "meta": _to_json(model._meta(), "fitted metadata", path),
            "schema": {
                "n_users": len(model.user_ids_),
                "n_items": len(model.item_ids_),
                "user_feature_columns": [str(c) for c in features.columns],
            },
            "checksums": checksums,
        }
        _write_bytes(tmp / MODEL_FILE, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        _move_into_place(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write the model ({exc.strerror or exc})", file=str(path)) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_model(path: Path):
    """Rebuild the model saved in folder ``path``.

    Raises
    ------
    ModelError
        ``path`` is not a saved model folder, was written by another format version,
        or one of its files is missing, corrupt or changed since it was saved.
    """
    from aigc_biz.models.base import FORMAT_VERSION
    from aigc_biz.models.registry import get_model_class

    path = Path(path)
    where = str(path)
    if not (path / MODEL_FILE).is_file():
        raise ModelError("not a saved model folder (no model.json)", file=where,
                         hint="save one with `model.save(path)` or `aigc-biz train`")
    try:
        manifest = json.loads((path / MODEL_FILE).read_text(encoding="utf-8"))
        version = manifest["format_version"]
        name, params, meta = manifest["model"], manifest["params"], manifest.get("meta", {})
        schema, checksums = manifest["schema"], manifest["checksums"]
        if not all(isinstance(part, dict) for part in (params, meta, schema, checksums)):
            raise TypeError("params, meta, schema and checksums must be JSON objects")
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"model.json is corrupt ({exc.__class__.__name__}: {exc})", file=where) from None
    if version != FORMAT_VERSION:
        raise ModelError(f"saved with model format {version}, this aigc-biz ({__version__}) reads format "
                         f"{FORMAT_VERSION}", file=where, hint="retrain the model with this version")
    for required in (IDS_FILE, ARRAYS_FILE):
        if required not in checksums:
            raise ModelError(f"model.json lists no checksum for {required}", file=where)
    for filename, expected in checksums.items():
        if Path(filename).name != filename:
            raise ModelError(f"model.json names an unexpected file {filename!r}", file=where)
        if not (path / filename).is_file():
            raise ModelError(f"{filename} is missing", file=where)
        if _sha256(path / filename) != expected:
            raise ModelError(f"{filename} is corrupt or was changed after saving (checksum mismatch)", file=where)

    try:
        cls = get_model_class(str(name))
    except AigcBizError:
        raise ModelError(f"unknown model {name!r} in model.json", file=where) from None
    model = cls()
    try:
        model.set_params(**params)
    except ModelError as exc:
        raise ModelError(exc.message, file=where, hint=exc.hint) from None
    try:
        ids = json.loads((path / IDS_FILE).read_text(encoding="utf-8"))
        arrays = load_arrays((path / ARRAYS_FILE).read_bytes())
        user_ids = np.asarray([str(u) for u in ids["user_ids"]], dtype=object)
        item_ids = np.asarray([str(t) for t in ids["item_ids"]], dtype=object)
        shape = tuple(int(n) for n in arrays["history.shape"])
        history = sp.csr_matrix((arrays["history.data"], arrays["history.indices"], arrays["history.indptr"]),
                                shape=shape)
        if USER_FEATURES_FILE in checksums:
            features = pd.read_parquet(path / USER_FEATURES_FILE)
        else:
            features = pd.DataFrame(index=pd.RangeIndex(len(user_ids)))
    except Exception as exc:  # noqa: BLE001 - safetensors, pyarrow and json each raise their own error types
        raise ModelError(f"cannot read the saved arrays ({exc.__class__.__name__}: {exc})", file=where) from None
    if (shape != (len(user_ids), len(item_ids)) or len(features) != len(user_ids)
            or shape != (schema.get("n_users"), schema.get("n_items"))):
        raise ModelError("ids, history and user attributes disagree on the number of users/items", file=where)
    model.user_ids_ = user_ids
    model.item_ids_ = item_ids
    model.history_ = history.astype(np.float32)
    model.user_features_ = features.reset_index(drop=True)
    state = {key[len(_STATE_PREFIX):]: value for key, value in arrays.items() if key.startswith(_STATE_PREFIX)}
    try:
        model._set_state(state, meta)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"saved state does not fit a {name!r} model ({exc})", file=where) from None
    return model


def check_schema(model, data) -> list[str]:
    """Refuse to apply a fitted ``model`` to ``data`` described differently; return soft warnings.

    Raises
    ------
    ModelError
        The user-attribute columns differ from those the model was fitted with, or none of the
        data's items is known to the model.
    """
    model.check_fitted()
    fitted_cols = [str(c) for c in model.user_features_.columns]
    data_cols = [str(c) for c in data.user_features.columns]
    if set(fitted_cols) != set(data_cols):
        missing = sorted(set(fitted_cols) - set(data_cols))
        extra = sorted(set(data_cols) - set(fitted_cols))
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"new {', '.join(extra)}"] if extra else [])
        raise ModelError(f"user attribute columns differ from those the {model.name!r} model was trained with: "
                         + "; ".join(parts), hint="use the same columns or retrain the model")
    known = set(model.item_ids_)
    shared = sum(1 for t in data.item_ids if t in known)
    if len(data.item_ids) and shared == 0:
        raise ModelError(f"none of the {len(data.item_ids):,} items in the data is known to the "
                         f"{model.name!r} model", hint="is this the same catalogue (same item id column)?")
    warnings = []
    if shared < len(data.item_ids):
        warnings.append(f"{len(data.item_ids) - shared:,} of {len(data.item_ids):,} items are unknown to the "
                        f"model and will never be recommended")
    return warnings


# --- helpers -----------------------------------------------------------------------------------------
def _collect_arrays(model) -> dict[str, np.ndarray]:
    history = sp.csr_matrix(model.history_, dtype=np.float32)
    history.sort_indices()
    arrays = {
        "history.data": np.ascontiguousarray(history.data, dtype=np.float32),
        "history.indices": np.ascontiguousarray(history.indices, dtype=np.int64),
        "history.indptr": np.ascontiguousarray(history.indptr, dtype=np.int64),
        "history.shape": np.asarray(history.shape, dtype=np.int64),
    }
    for key, value in model._state().items():
        value = np.asarray(value)
        if value.dtype == object or value.dtype.kind in "USV":
            raise ModelError(f"state array {key!r} of model {model.name!r} is not numeric",
                             hint="put strings in _meta() instead")
        arrays[_STATE_PREFIX + key] = np.ascontiguousarray(value)
    return arrays


def _parquet_safe(features: pd.DataFrame) -> pd.DataFrame:
    """String column names, and text columns as str or missing (Parquet refuses mixed-type columns)."""
    frame = features.reset_index(drop=True).copy()
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if _is_missing(v) else str(v)).astype(object)
    return frame


def _is_missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _to_json(value, what: str, path: Path):
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"cannot store the model's {what} as JSON ({exc})", file=str(path)) from None


def _refuse_to_clobber(path: Path) -> None:
    if path.is_file() or path.is_symlink():
        raise ModelError("exists and is not a folder; refusing to replace it", file=str(path))
    if path.is_dir() and any(path.iterdir()) and not (path / MODEL_FILE).is_file():
        raise ModelError("folder exists and is not a saved model; refusing to replace it", file=str(path),
                         hint="choose an empty or new folder")


def _move_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; an older folder is moved aside first and removed only afterwards."""
    if not path.exists():
        os.replace(tmp, path)
        return
    old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except OSError:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_bytes(target: Path, payload: bytes) -> str:
    with open(target, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    return hashlib.sha256(payload).hexdigest()


def _sha256(target: Path) -> str:
    digest = hashlib.sha256()
    with open(target, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
