"""Guilt by association: known labels spread to the other members of a group.

A patient whose fellow group members were already found to swipe cards is more likely to
swipe too. The propagated feature is the share of a member's *other* group members with
a positive label known as of the window (labels are never used before their date; the
caller passes the labels it may know).

No entity ever sees its own label. When training, the share is also *out of fold*:
entities are split into folds by a hash of their id, and a member's share counts only
members of other folds, so a model cannot learn to read its own label back through the
group (with a plain leave-one-out share, a group's total minus the member's own label
would still encode it).

:func:`neighbour_flagged_share` is the same over a weighted graph's direct neighbours
(providers sharing physicians, say): the weighted share of an entity's neighbours known
positive, out of fold when training, never counting the entity itself.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

#: the propagated feature's column (a ``net_`` column: supervised model only)
GROUP_FLAGGED = "net_group_flagged_share"
#: folds of the out-of-fold share when training
FOLDS = 5


def entity_fold(ids: pd.Index, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each id's fold, from a hash of the id (the same in every run and every window)."""
    return np.array(
        [
            int(hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=4).hexdigest(), 16) % folds
            for i in ids.astype(str)
        ],
        dtype=np.int64,
    )


def group_flagged_share(
    groups: pd.Series, positives: pd.Index, *, out_of_fold: bool, folds: int = FOLDS
) -> pd.Series:
    """For each entity of ``groups`` (entity id → group id, missing when in none): the
    share of the other members of its group known positive (``positives``).

    With ``out_of_fold``, only members of other folds (:func:`entity_fold`) count, in the
    numerator and the denominator; an entity in no group, or with no counted member, gets
    0. Returns a float series on ``groups``' index.
    """
    frame = pd.DataFrame(
        {
            "group": groups.to_numpy(),
            "pos": groups.index.isin(positives).astype(float),
        },
        index=groups.index,
    )
    out = pd.Series(0.0, index=groups.index, name=GROUP_FLAGGED)
    inside = frame[frame.group.notna()]
    if inside.empty:
        return out
    if not out_of_fold:
        total = inside.groupby("group")["pos"].transform("sum") - inside.pos
        count = inside.groupby("group")["pos"].transform("size") - 1
    else:
        fold = entity_fold(inside.index, folds)
        inside = inside.assign(fold=fold)
        by_group = inside.groupby("group")["pos"]
        by_fold = inside.groupby(["group", "fold"])["pos"]
        total = by_group.transform("sum") - by_fold.transform("sum")
        count = by_group.transform("size") - by_fold.transform("size")
    share = (total / count.where(count > 0)).fillna(0.0)
    out.loc[inside.index] = share.to_numpy(float)
    return out


def with_group_labels(
    frame: pd.DataFrame, positives: pd.Index, *, out_of_fold: bool
) -> pd.DataFrame:
    """``frame`` (a patient frame with its ``group_id`` column) with
    :data:`GROUP_FLAGGED`; unchanged when it has no ``group_id``."""
    if "group_id" not in frame.columns:
        return frame
    out = frame.copy()
    out[GROUP_FLAGGED] = group_flagged_share(frame["group_id"], positives, out_of_fold=out_of_fold)
    return out


#: the neighbour version's column (a ``net_`` column: supervised model only)
NEIGHBOUR_FLAGGED = "net_neighbour_flagged_share"


def neighbour_flagged_share(
    edges: pd.DataFrame,
    positives: pd.Index,
    ids: pd.Index,
    *,
    out_of_fold: bool,
    folds: int = FOLDS,
) -> pd.Series:
    """For each of ``ids``: the weighted share of its neighbours in ``edges`` (``src``,
    ``dst``, ``weight``; undirected) known positive (``positives``), that is the weight
    of its edges to positive neighbours over the weight of all its counted edges.

    The entity itself never counts (a self-loop is dropped), nor, with ``out_of_fold``,
    any neighbour of its own fold (:func:`entity_fold`), in the numerator and the
    denominator alike. An id with no counted neighbour gets 0. Returns a float series
    indexed by ``ids`` (as text).
    """
    ids = pd.Index(ids).astype(str)
    out = pd.Series(0.0, index=ids, name=NEIGHBOUR_FLAGGED)
    if edges.empty or ids.empty:
        return out
    src = edges["src"].astype(str).to_numpy()
    dst = edges["dst"].astype(str).to_numpy()
    weight = edges["weight"].to_numpy(float)
    pairs = pd.DataFrame(
        {
            "node": np.concatenate([src, dst]),
            "other": np.concatenate([dst, src]),
            "w": np.concatenate([weight, weight]),
        }
    )
    pairs = pairs[(pairs.node != pairs.other) & pairs.node.isin(ids)]
    if out_of_fold and len(pairs):
        seen = pd.Index(pd.unique(np.concatenate([pairs.node, pairs.other])))
        fold = pd.Series(entity_fold(seen, folds), index=seen)
        pairs = pairs[pairs.node.map(fold).to_numpy() != pairs.other.map(fold).to_numpy()]
    if pairs.empty:
        return out
    pairs = pairs.assign(pos=pairs.w * pairs.other.isin(pd.Index(positives).astype(str)))
    per = pairs.groupby("node")[["pos", "w"]].sum()
    share = (per.pos / per.w.where(per.w > 0)).fillna(0.0)
    out.loc[share.index] = share.to_numpy(float)
    return out
