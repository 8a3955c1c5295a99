"""What a synthetic table gives away about the real customers, measured (not promised).

Measured here:

- **real ids and names in the output**: synthetic customer ids (and names) equal to a real one; the
  synthesizer makes them new, and this counts to prove it;
- **distance to the closest real record** (DCR): for each synthetic customer, ``1 - cosine`` between their
  set of items and the most similar real customer's; beside it the same for real customers left out of
  the fit, which is how close an unrelated real customer naturally is;
- **copied rows**: synthetic rows whose item and timestamp equal a row of the synthetic customer's
  closest real customer (the issue's "same customer, item and time"); and, stricter, of any real customer;
- **membership inference**: fit on half of the customers, then try to tell those (members) from the other
  half by how close each is to its nearest synthetic customer; the AUC of that attack is 0.5 when the
  synthetic table says nothing about who was in the training data, 1.0 when it gives everyone away.

Not guaranteed: this is **no differential privacy**. A real customer with a rare combination of
attributes and items can still be close to a synthetic one, and the attributes of every real combination
that exists are reproduced on purpose (drawn jointly). A synthetic customer's taste mix is drawn around
the mean mix of the real customers with the same attributes (at least five; fewer and the attributes are
relaxed), so a small group's mean says something about those few customers' tastes. The ``noise``
setting makes the draws coarser; the figures above say how much it helps on a given table.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aigc_biz.synth.source import SourceTable

__all__ = ["privacy_figures", "membership_inference", "nearest_real"]

_CHUNK = 2048


def _customer_matrix(table: SourceTable, vocabulary: dict) -> tuple[np.ndarray, sp.csr_matrix]:
    keep = ~table.is_return
    users, user_pos = np.unique(table.user[keep], return_inverse=True)
    items = np.array([vocabulary[t] for t in table.item[keep]], dtype=np.int64)
    matrix = sp.csr_matrix(
        (np.ones(len(items), dtype=np.float32), (user_pos, items)), shape=(len(users), len(vocabulary))
    )
    matrix.data[:] = 1.0
    return users, matrix


def nearest_real(synthetic: sp.csr_matrix, real: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``synthetic``, the closest row of ``real`` by cosine of item sets, and ``1 - cosine``."""
    norm_s = np.sqrt(np.asarray(synthetic.multiply(synthetic).sum(axis=1)).ravel())
    norm_r = np.sqrt(np.asarray(real.multiply(real).sum(axis=1)).ravel())
    real_t = sp.csr_matrix(real.T)
    best = np.zeros(synthetic.shape[0], dtype=np.int64)
    distance = np.ones(synthetic.shape[0], dtype=np.float64)
    for start in range(0, synthetic.shape[0], _CHUNK):
        stop = min(start + _CHUNK, synthetic.shape[0])
        dots = (synthetic[start:stop] @ real_t).toarray()
        cos = dots / np.maximum(np.outer(norm_s[start:stop], norm_r), 1e-12)
        best[start:stop] = cos.argmax(axis=1)
        distance[start:stop] = 1.0 - cos.max(axis=1)
    return best, np.clip(distance, 0.0, 1.0)


def _vocabulary(*tables: SourceTable) -> dict:
    return {t: i for i, t in enumerate(sorted(set().union(*(set(t.item) for t in tables))))}


def privacy_figures(real: SourceTable, synthetic: SourceTable, holdout: SourceTable | None = None) -> dict:
    """Ids, names, DCR and copied rows of ``synthetic`` against ``real`` (see the module text).

    ``holdout``: real customers not used in the fit, for the DCR baseline.
    """
    vocabulary = _vocabulary(real, synthetic, *([holdout] if holdout is not None else []))
    real_users, real_matrix = _customer_matrix(real, vocabulary)
    syn_users, syn_matrix = _customer_matrix(synthetic, vocabulary)
    nearest, distance = nearest_real(syn_matrix, real_matrix)
    out = {
        "synthetic_customers": int(len(np.unique(synthetic.user))),
        "real_ids_in_output": int(np.isin(np.unique(synthetic.user), np.unique(real.user)).sum()),
        "dcr_median": float(np.median(distance)),
        "dcr_p05": float(np.quantile(distance, 0.05)),
        "identical_item_sets": float(np.mean((distance < 1e-9) & (np.diff(syn_matrix.indptr) >= 2))),
    }
    name = real.roles.user_name
    if name and name in synthetic.raw.columns:
        real_names = set(real.raw[name].dropna().astype(str))
        out["real_names_in_output"] = int(
            synthetic.raw[name].dropna().astype(str).drop_duplicates().isin(real_names).sum()
        )
    if holdout is not None:
        _, held_matrix = _customer_matrix(holdout, vocabulary)
        _, held_distance = nearest_real(held_matrix, real_matrix)
        out["dcr_median_holdout"] = float(np.median(held_distance))
        out["dcr_p05_holdout"] = float(np.quantile(held_distance, 0.05))
    out.update(_copied_rows(real, synthetic, real_users, syn_users, nearest))
    return out


def _copied_rows(real, synthetic, real_users, syn_users, nearest) -> dict:
    if real.time is None:
        return {"copied_rows": None, "copied_rows_any_customer": None}
    closest = dict(zip(syn_users, real_users[nearest]))
    syn = pd.DataFrame(
        {"u": pd.Series(synthetic.user).map(closest).to_numpy(), "i": synthetic.item, "t": synthetic.time}
    )
    real_rows = pd.DataFrame({"u": real.user, "i": real.item, "t": real.time}).drop_duplicates()
    same_customer = syn.merge(real_rows, on=["u", "i", "t"], how="left", indicator=True)["_merge"] == "both"
    any_customer = syn[["i", "t"]].merge(real_rows[["i", "t"]].drop_duplicates(), how="left", indicator=True)
    return {
        "copied_rows": float(same_customer.mean()) if len(syn) else 0.0,
        "copied_rows_any_customer": float((any_customer["_merge"] == "both").mean()) if len(syn) else 0.0,
    }


def membership_inference(
    table: SourceTable, synthesize: Callable[[SourceTable, int], SourceTable], seed: int = 0
) -> dict:
    """AUC of telling training customers from held-out ones by the distance to the nearest synthetic one.

    ``synthesize(train_table, n_customers)`` fits a synthesizer on the training half and returns its
    sample (read back as a table). 0.5 = the attack does no better than a coin.
    """
    users = np.unique(table.user)
    rng = np.random.default_rng(seed)
    member = rng.random(len(users)) < 0.5
    in_train = np.isin(table.user, users[member])
    train, held = table.subset(in_train), table.subset(~in_train)
    synthetic = synthesize(train, int(member.sum()))
    vocabulary = _vocabulary(table, synthetic)
    _, syn_matrix = _customer_matrix(synthetic, vocabulary)
    _, train_matrix = _customer_matrix(train, vocabulary)
    _, held_matrix = _customer_matrix(held, vocabulary)
    _, d_member = nearest_real(train_matrix, syn_matrix)
    _, d_other = nearest_real(held_matrix, syn_matrix)
    _, d_baseline = nearest_real(held_matrix, train_matrix)
    return {
        "auc": _auc(-d_member, -d_other),
        "members": int(len(d_member)),
        "non_members": int(len(d_other)),
        "dcr_median_members": float(np.median(d_member)),
        "dcr_median_non_members": float(np.median(d_other)),
        "dcr_median_real_baseline": float(np.median(d_baseline)),
    }


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a member > score of a non-member), ties counted half (Mann-Whitney)."""
    scores = np.concatenate([positive, negative])
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    n_pos, n_neg = len(positive), len(negative)
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
