"""The provider network (providers sharing physicians): the neighbour version of label
propagation, exact on hand-built graphs and never reading an entity's own label, and the
real-data page's per-fold network features, which let only training labels reach a
held-out provider."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudml.graph.propagation import NEIGHBOUR_FLAGGED, entity_fold, neighbour_flagged_share


def _edges(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["src", "dst", "weight"])


def test_neighbour_share_is_weighted_undirected_and_skips_the_entity_itself():
    edges = _edges(
        [
            ("a", "b", 2),
            ("a", "c", 1),
            ("c", "b", 3),  # listed the other way round: the graph is undirected
            ("c", "d", 1),
            ("d", "d", 5),  # a self-loop never counts
        ]
    )
    ids = pd.Index(["a", "b", "c", "d", "e"])  # e has no edge
    share = neighbour_flagged_share(edges, pd.Index(["b", "d"]), ids, out_of_fold=False)
    assert share.name == NEIGHBOUR_FLAGGED
    assert share.index.tolist() == ids.tolist()
    assert share.to_dict() == pytest.approx({"a": 2 / 3, "b": 0.0, "c": 4 / 5, "d": 0.0, "e": 0.0})


def test_out_of_fold_neighbour_share_counts_other_folds_only():
    ids = pd.Index(["P1", "P2", "P3", "P4"])
    assert entity_fold(ids).tolist() == [3, 4, 1, 3]  # P1 and P4 share a fold
    edges = _edges([("P1", "P4", 5), ("P1", "P2", 1), ("P1", "P3", 3), ("P2", "P3", 2)])
    positives = pd.Index(["P2", "P4"])
    plain = neighbour_flagged_share(edges, positives, ids, out_of_fold=False)
    oof = neighbour_flagged_share(edges, positives, ids, out_of_fold=True)
    # P1: P4 (positive, weight 5) is of its own fold, so out of fold only P2 and P3 count
    assert plain.to_dict() == pytest.approx({"P1": 6 / 9, "P2": 0.0, "P3": 2 / 5, "P4": 0.0})
    assert oof.to_dict() == pytest.approx({"P1": 1 / 4, "P2": 0.0, "P3": 2 / 5, "P4": 0.0})
    # one fold: every neighbour is of the entity's own fold, nothing counts
    assert (neighbour_flagged_share(edges, positives, ids, out_of_fold=True, folds=1) == 0).all()


def _random_graph(n: int, m: int, seed: int) -> tuple[pd.Index, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"p{i:03d}" for i in range(n)])
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    edges = _edges(
        [
            (ids[s], ids[d], float(w))
            for s, d, w in zip(src, dst, rng.integers(1, 5, m), strict=True)
            if s != d
        ]
    )
    return ids, edges


def test_neighbour_share_never_reads_an_entitys_own_label():
    """Flip each entity's own label: its share must not move (out of fold and plain
    alike), whoever else is labelled; flipping a neighbour's label does move it."""
    ids, edges = _random_graph(120, 400, seed=0)
    rng = np.random.default_rng(1)
    positives = ids[rng.random(len(ids)) < 0.3]
    for oof in (True, False):
        base = neighbour_flagged_share(edges, positives, ids, out_of_fold=oof)
        for i in ids[:40]:
            flipped = positives.drop(i) if i in positives else positives.append(pd.Index([i]))
            again = neighbour_flagged_share(edges, flipped, ids, out_of_fold=oof)
            assert again[i] == base[i]
            neighbours = set(edges.dst[edges.src == i]) | set(edges.src[edges.dst == i])
            if not oof and neighbours:  # the label is read by the entity's neighbours
                assert (again[list(neighbours)] != base[list(neighbours)]).any()


def test_fold_network_features_let_only_training_labels_reach_the_test_fold():
    """The real-data page's network features for one cross-validation fold: the held-out
    providers' features (and the training providers') stay the same whatever the
    held-out providers' labels are; a training provider never reads its own label."""
    from fraudml.evaluate.real_data import (
        PHYSICIAN_NETWORK_FEATURES,
        PhysicianNetwork,
        fold_network_features,
    )
    from fraudml.graph.communities import leiden_groups

    ids, edges = _random_graph(90, 300, seed=2)
    net = PhysicianNetwork(edges, leiden_groups(edges))
    rng = np.random.default_rng(3)
    y = pd.Series((rng.random(len(ids)) < 0.3).astype(int), index=ids)
    train_idx, test_idx = np.arange(60), np.arange(60, 90)
    base = fold_network_features(net, y, train_idx, test_idx)
    assert base.columns.tolist() == list(PHYSICIAN_NETWORK_FEATURES)
    assert base.index.tolist() == ids.tolist()
    # the held-out labels turned around, all at once and one by one: nothing moves
    flipped = y.copy()
    flipped.iloc[test_idx] = 1 - flipped.iloc[test_idx]
    pd.testing.assert_frame_equal(fold_network_features(net, flipped, train_idx, test_idx), base)
    for i in test_idx[:10]:
        one = y.copy()
        one.iloc[i] = 1 - one.iloc[i]
        pd.testing.assert_frame_equal(fold_network_features(net, one, train_idx, test_idx), base)
    # a training provider's own label never reaches its own features
    for i in train_idx[:20]:
        one = y.copy()
        one.iloc[i] = 1 - one.iloc[i]
        again = fold_network_features(net, one, train_idx, test_idx)
        pd.testing.assert_series_equal(again.iloc[i], base.iloc[i])
    # label-free parts: the Leiden group's size and the weighted degree
    degree = pd.concat([edges.groupby("src").weight.sum(), edges.groupby("dst").weight.sum()])
    degree = degree.groupby(level=0).sum().reindex(ids, fill_value=0.0)
    assert base["net_physician_degree"].tolist() == degree.astype(float).tolist()
    sizes = net.groups.set_index("member_id").group_size.reindex(ids, fill_value=0)
    assert base["net_physician_group_size"].tolist() == sizes.astype(float).tolist()
