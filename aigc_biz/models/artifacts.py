"""Saved models as plain folders: JSON, safetensors and Parquet, never pickle.

A saved model is a folder::

    model.json              name, class, hyper-parameters, fitted metadata, versions, data schema, checksums
    ids.json                item ids, exactly as strings (leading zeros kept)
    arrays.safetensors      the model's own arrays (``state.<key>``): weights, never the training data

A model holds weights and vocabularies only: it scores whatever interactions it is handed later.
A model folder is untrusted input. Loading reads data only (no code runs), checks the format
version and every file's SHA-256, then every array's dtype, shape and values against the metadata
(CSR bounds, vocabulary sizes, NaN/inf) before the model is rebuilt through the registry: any
violation is a :class:`ModelError` (exit 2), never a crash or a silently empty result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as dump_arrays

from aigc_biz._version import __version__
from aigc_biz.data.interactions import data_schema
from aigc_biz.errors import AigcBizError, ModelError, OutputError

log = logging.getLogger(__name__)

#: tag written into every saved model so a later release can refuse what it cannot read
#: (2: weights and vocabularies only, no training matrix; data schema recorded)
FORMAT_VERSION = 2

MODEL_FILE = "model.json"
IDS_FILE = "ids.json"
ARRAYS_FILE = "arrays.safetensors"

_STATE_PREFIX = "state."


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
    model.check_fitted()
    path = Path(path)
    _recover_swap(path)
    _refuse_to_clobber(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        checksums = {}
        ids = {"item_ids": [str(t) for t in model.item_ids_]}
        checksums[IDS_FILE] = _write_bytes(tmp / IDS_FILE, json.dumps(ids, ensure_ascii=False).encode("utf-8"))
        checksums[ARRAYS_FILE] = _write_bytes(tmp / ARRAYS_FILE, dump_arrays(_collect_arrays(model)))
        manifest = {
            "format_version": FORMAT_VERSION,
            "aigc_biz_version": __version__,
            "model": model.name,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "params": _to_json(model.get_params(), "hyper-parameters", path),
            "meta": _to_json(model._meta(), "fitted metadata", path),
            "schema": {
                "n_items": len(model.item_ids_),
                "user_feature_columns": [str(c) for c in model.user_feature_columns_],
                "data": _to_json(getattr(model, "schema_", {}), "data schema", path),
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
    from aigc_biz.models.registry import get_model_class

    path = Path(path)
    where = str(path)
    _recover_swap(path)
    if not (path / MODEL_FILE).is_file():
        raise ModelError(
            "not a saved model folder (no model.json)",
            file=where,
            hint="save one with `model.save(path)` or `aigc-biz train`",
        )
    try:
        manifest = json.loads((path / MODEL_FILE).read_text(encoding="utf-8"))
        version = manifest["format_version"]
        name, params, meta = manifest["model"], manifest["params"], manifest.get("meta", {})
        schema, checksums = manifest["schema"], manifest["checksums"]
        if not all(isinstance(part, dict) for part in (params, meta, schema, checksums)):
            raise TypeError("params, meta, schema and checksums must be JSON objects")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ModelError(f"model.json is corrupt ({exc.__class__.__name__}: {exc})", file=where) from None
    if version != FORMAT_VERSION:
        raise ModelError(
            f"saved with model format {version}, this aigc-biz ({__version__}) reads format {FORMAT_VERSION}",
            file=where,
            hint="retrain the model with this version",
        )
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
        item_list = ids["item_ids"]
        columns = schema["user_feature_columns"]
        if not isinstance(item_list, list) or not isinstance(columns, list):
            raise TypeError("item ids and user feature columns must be lists")
        item_ids = np.asarray([str(t) for t in item_list], dtype=object)
        user_feature_columns = [str(c) for c in columns]
    except Exception as exc:  # noqa: BLE001 - safetensors and json each raise their own error types
        raise ModelError(f"cannot read the saved arrays ({exc.__class__.__name__}: {exc})", file=where) from None
    if len(item_ids) == 0 or schema.get("n_items") != len(item_ids) or len(set(item_ids)) != len(item_ids):
        raise ModelError("the item vocabulary disagrees with model.json (size or duplicate ids)", file=where)
    for key, value in arrays.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ModelError(f"saved array {key!r} holds NaN or infinite values", file=where)
    model.item_ids_ = item_ids
    model.user_feature_columns_ = user_feature_columns
    model.schema_ = schema.get("data") if isinstance(schema.get("data"), dict) else {}
    state = {key[len(_STATE_PREFIX) :]: value for key, value in arrays.items() if key.startswith(_STATE_PREFIX)}
    try:
        model._set_state(state, meta)
    except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        raise ModelError(f"saved state does not fit a {name!r} model ({exc})", file=where) from None
    return model


def expect_array(state: dict, key: str, shape: tuple, kind: str = "f") -> np.ndarray:
    """``state[key]`` if it has exactly ``shape`` (None = any length) and dtype kind ``kind``, else ValueError."""
    if key not in state:
        raise KeyError(f"array {key!r} is missing")
    value = np.asarray(state[key])
    if (
        value.dtype.kind not in kind
        or value.ndim != len(shape)
        or any(want is not None and got != want for got, want in zip(value.shape, shape))
    ):
        raise ValueError(
            f"array {key!r} has shape {value.shape} and dtype {value.dtype}, expected {shape} of kind {kind!r}"
        )
    return value


def checked_csr(state: dict, prefix: str, shape: tuple[int, int]) -> sp.csr_matrix:
    """A CSR matrix from ``prefix.data/indices/indptr/shape`` after checking every bound against ``shape``.

    scipy trusts its inputs: an out-of-range index would crash the process in a later product.
    """
    saved = tuple(int(n) for n in expect_array(state, f"{prefix}.shape", (2,), "iu"))
    if saved != tuple(shape):
        raise ValueError(f"{prefix} has shape {saved}, expected {tuple(shape)}")
    data = expect_array(state, f"{prefix}.data", (None,), "f")
    indices = expect_array(state, f"{prefix}.indices", (len(data),), "iu").astype(np.int64)
    indptr = expect_array(state, f"{prefix}.indptr", (shape[0] + 1,), "iu").astype(np.int64)
    if indptr[0] != 0 or indptr[-1] != len(data) or (np.diff(indptr) < 0).any():
        raise ValueError(f"{prefix} has an inconsistent row pointer")
    if len(indices) and (indices.min() < 0 or indices.max() >= shape[1]):
        raise ValueError(f"{prefix} has a column index out of range")
    return sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=shape)


def check_schema(model, data) -> list[str]:
    """Refuse to apply a fitted ``model`` to ``data`` described differently; return soft warnings.

    Warnings name each way ``data`` was read differently from the training data (column roles,
    event weights, time decay, returns handling) and count the items the model does not know.

    Raises
    ------
    ModelError
        The user-attribute columns differ from those the model was fitted with, or none of the
        data's items is known to the model.
    """
    model.check_fitted()
    fitted_cols = [str(c) for c in model.user_feature_columns_]
    data_cols = [str(c) for c in data.user_features.columns]
    if set(fitted_cols) != set(data_cols):
        missing = sorted(set(fitted_cols) - set(data_cols))
        extra = sorted(set(data_cols) - set(fitted_cols))
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"new {', '.join(extra)}"] if extra else [])
        raise ModelError(
            f"user attribute columns differ from those the {model.name!r} model was trained with: " + "; ".join(parts),
            hint="use the same columns or retrain the model",
        )
    known = set(model.item_ids_)
    shared = sum(1 for t in data.item_ids if t in known)
    if len(data.item_ids) and shared == 0:
        raise ModelError(
            f"none of the {len(data.item_ids):,} items in the data is known to the {model.name!r} model",
            hint="is this the same catalogue (same item id column)?",
        )
    warnings = schema_differences(getattr(model, "schema_", {}) or {}, data_schema(data))
    if shared < len(data.item_ids):
        warnings.append(
            f"{len(data.item_ids) - shared:,} of {len(data.item_ids):,} items are unknown to the "
            f"model and will never be recommended"
        )
    return warnings


_ROLE_NAMES = {
    "user": "customer column",
    "item": "item column",
    "time": "time column",
    "weight": "weight column",
    "weight_kind": "weight kind",
    "user_attrs": "user attributes",
    "item_attrs": "item attributes",
}


def schema_differences(fitted: dict, current: dict) -> list[str]:
    """One warning per way ``current`` (a :func:`~aigc_biz.data.interactions.data_schema`) differs from ``fitted``."""
    if not fitted:
        return []
    out = []
    old_roles, new_roles = fitted.get("roles") or {}, current.get("roles") or {}
    for key, label in _ROLE_NAMES.items():
        if key in old_roles and old_roles.get(key) != new_roles.get(key):
            out.append(
                f"the data's {label} is {new_roles.get(key)!r}; the model was trained with {old_roles.get(key)!r}"
            )
    for key, label in (
        ("event_weights", "event weights"),
        ("time_decay_days", "time decay (days)"),
        ("returns", "returns handling"),
    ):
        if fitted.get(key) != current.get(key):
            out.append(
                f"the data was read with {label} {current.get(key)!r}; the model was trained with {fitted.get(key)!r}"
            )
    return out


# --- helpers -----------------------------------------------------------------------------------------
def _collect_arrays(model) -> dict[str, np.ndarray]:
    arrays = {}
    for key, value in model._arrays().items():
        value = np.asarray(value)
        if value.dtype == object or value.dtype.kind in "USV":
            raise ModelError(
                f"state array {key!r} of model {model.name!r} is not numeric", hint="put strings in _meta() instead"
            )
        arrays[_STATE_PREFIX + key] = np.ascontiguousarray(value)
    if not arrays:  # safetensors needs at least one tensor
        arrays["n_items"] = np.asarray([len(model.item_ids_)], dtype=np.int64)
    return arrays


def _to_json(value, what: str, path: Path):
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"cannot store the model's {what} as JSON ({exc})", file=str(path)) from None


def _refuse_to_clobber(path: Path) -> None:
    if path.is_file() or path.is_symlink():
        raise ModelError("exists and is not a folder; refusing to replace it", file=str(path))
    if path.is_dir() and any(path.iterdir()) and not (path / MODEL_FILE).is_file():
        raise ModelError(
            "folder exists and is not a saved model; refusing to replace it",
            file=str(path),
            hint="choose an empty or new folder",
        )


def _move_into_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``; an older folder is moved aside first and removed only afterwards.

    Whatever stops the swap between the two renames (an error, SIGTERM from the CLI's handler) puts
    the older folder back; a process killed outright there leaves it aside, and the next
    :func:`load_model` or :func:`save_model` of ``path`` puts it back (:func:`_recover_swap`).
    """
    if not path.exists():
        os.replace(tmp, path)
        return
    old = path.parent / f"{_ASIDE_PREFIX.format(name=path.name)}{uuid.uuid4().hex[:8]}"
    try:
        os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        if old.exists() and not path.exists():
            os.replace(old, path)
        raise
    finally:
        if old.exists() and path.exists():
            shutil.rmtree(old, ignore_errors=True)


#: an older model folder moved aside during a save: ``.NAME.old-XXXXXXXX`` beside it
_ASIDE_PREFIX = ".{name}.old-"


def _recover_swap(path: Path) -> None:
    """Put back the model folder a save moved aside, when the process died before the new one was in place."""
    if path.exists() or path.is_symlink() or not path.parent.is_dir():
        return
    aside = [p for p in path.parent.glob(_ASIDE_PREFIX.format(name=path.name) + "*") if (p / MODEL_FILE).is_file()]
    if not aside:
        return
    newest = max(aside, key=lambda p: p.stat().st_mtime)
    try:
        os.replace(newest, path)
    except OSError:
        return
    log.warning("%s: restored the saved model an interrupted save had moved aside (%s)", path, newest.name)


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
