"""The risk score's fusion: exact values of the channels, and a scheme nobody labelled
still ranking high through its anomaly (the supervised model cannot zero it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudml.errors import SettingError
from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier
from fraudml.models.fusion import (
    Fusion,
    anomaly_tail,
    fuse,
    label_free,
    reserve_order,
    reserved_slots,
    score_quantiles,
)
from fraudml.models.risk import fit_entity, score_frame
from fraudml.scoring.rank import lead_ranks, rank_entities


def test_the_tail_reads_the_training_distribution():
    q = score_quantiles(np.arange(11, dtype=float))  # 0 … 10: F is linear
    assert anomaly_tail(np.array([-1.0, 0.0, 5.0, 10.0, 99.0]), q, 1.0) == pytest.approx(
        [0.0, 0.0, 0.5, 1.0, 1.0]
    )
    assert anomaly_tail(np.array([5.0, 9.0]), q, 8.0) == pytest.approx([0.5**8, 0.9**8])
    # many equal training scores: a score equal to them reads their upper share
    tied = score_quantiles(np.array([1.0] * 9 + [2.0]))
    assert anomaly_tail(np.array([1.0]), tied, 1.0)[0] == pytest.approx(8 / 9, abs=2e-3)


def test_the_noisy_or_of_the_channels():
    out = fuse(
        np.array([0.0, 0.5, 0.0]),
        np.array([0.0, 0.0, 0.4]),
        np.array([0.0, 0.0, 0.5]),
        np.array([0.0, 0.5, 1.0]),
        rule_lift=0.5,
    )
    assert out == pytest.approx([0.0, 1 - 0.5 * 0.75, 1 - 0.6 * 0.5 * 0.5])


def test_settings_are_checked():
    with pytest.raises(SettingError, match=r"fusion\.anomaly_weight"):
        Fusion(anomaly_weight=1.5)
    with pytest.raises(SettingError, match=r"fusion\.anomaly_power"):
        Fusion(anomaly_power=0)


@pytest.fixture
def world():
    """400 entities; 20 positives of a labelled scheme (high ``known``) and 5 of a scheme
    nobody labelled (far out in ``unknown``, unlabelled)."""
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame(
        {"known": rng.normal(0, 1, n), "unknown": rng.normal(0, 1, n), "rule_severity_score": 0.0},
        index=pd.Index([f"e{i:03d}" for i in range(n)]),
    )
    y = pd.Series(0, index=frame.index)
    y.iloc[:20] = 1
    frame.iloc[:20, 0] += 4.0
    frame.iloc[20:25, 1] += 8.0  # the unlabelled scheme
    return frame, y


def test_a_scheme_without_labels_keeps_its_anomaly_ranking(world):
    frame, y = world
    fit, later = frame.iloc[::2], frame.iloc[1::2]
    model = fit_entity(
        "patient",
        fit,
        y.loc[fit.index],
        later,
        y.loc[later.index],
        anomaly=ProfileIsolationForest(n_estimators=100, random_state=0),
        supervised=RiskClassifier(n_estimators=50, random_state=0),
        features=["known"],
        anomaly_features=["known", "unknown"],
        min_positives=5,
        feature_set_version="test",
    )
    assert model.supervised is not None and model.fusion == Fusion()
    scored = score_frame(model, frame)
    unlabelled = frame.index[20:25]
    rank = scored.risk.rank(ascending=False)
    # the supervised model gives the unlabelled scheme almost nothing …
    assert scored.supervised[unlabelled].max() < 0.2
    # … yet it ranks within the top 10% through its anomaly channel, which stays alive
    # (with the shipped weights: near the full anomaly weight each)
    assert (rank[unlabelled] <= 40).all()
    assert (scored.anomaly_part[unlabelled] > 0.8 * Fusion().anomaly_weight).all()
    # the labelled scheme is still found
    assert rank[frame.index[:20]].median() <= 40
    # without fusion (a model registered before it), the same entities fall behind
    model.fusion = None
    legacy = score_frame(model, frame).risk.rank(ascending=False)
    assert legacy[unlabelled].median() > rank[unlabelled].median()


def test_label_free_evidence_is_the_tail_at_full_weight_with_the_rules():
    out = label_free(np.array([0.0, 0.5, 0.5]), np.array([0.0, 0.0, 1.0]), rule_lift=0.5)
    assert out == pytest.approx([0.0, 0.5, 1 - 0.5 * 0.5])


def test_the_reserve_takes_its_share_of_the_capacity_after_the_riskiest():
    assert [reserved_slots(k, 0.3) for k in (1, 5, 10, 100, 200)] == [0, 1, 3, 30, 60]
    risk = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.05, 0.04])
    novelty = np.array([0.9, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8])
    order, reserved = reserve_order(risk, novelty, capacity=5, share=0.4)
    # three by risk (0, 1, 2), then the two highest novelties left (6, 5): the most novel
    # entity 0 is already in; then the rest of the risk order
    assert order.tolist() == [0, 1, 2, 6, 5, 3, 4]
    assert reserved.tolist() == [False, False, False, False, False, True, True]
    # no share, or no label-free evidence outside the head: the risk order
    assert reserve_order(risk, novelty, 5, 0.0)[0].tolist() == list(range(7))
    quiet = np.zeros(7)
    assert reserve_order(risk, quiet, 5, 0.4)[0].tolist() == list(range(7))


def test_the_reserve_takes_only_evidence_above_its_bar_and_gives_the_rest_back():
    risk = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.05, 0.04])
    novelty = np.array([0.9, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8])
    # two reserved places; only entity 6 reaches the bar 0.5: it takes one, and the
    # other goes back to the risk order (3), before the rest (4, 5)
    order, reserved = reserve_order(risk, novelty, capacity=5, share=0.4, bar=0.5)
    assert order.tolist() == [0, 1, 2, 6, 3, 4, 5]
    assert reserved.tolist() == [False] * 6 + [True]
    # the bar is inclusive: 0.8 reaches a bar of 0.8
    assert reserve_order(risk, novelty, 5, 0.4, bar=0.8)[1].tolist() == [False] * 6 + [True]
    # nothing reaches the bar: the risk order, nothing reserved
    order, reserved = reserve_order(risk, novelty, 5, 0.4, bar=0.85)
    assert order.tolist() == list(range(7)) and not reserved.any()
    # scoring ranks with the same bar
    scored = pd.DataFrame(
        {"risk": risk, "novelty": novelty, "anomaly_score": 0.0, "supervised": 0.5},
        index=pd.Index([f"e{i}" for i in range(7)]),
    ).assign(rule_part=0.0)
    ranked = rank_entities(scored, capacity=5, explore_share=0.4, explore_bar=0.5)
    assert ranked["rank"].tolist() == [1, 2, 3, 5, 6, 7, 4]
    assert ranked["reserve"].tolist() == [False] * 6 + [True]


def test_ranks_keep_the_reserve_in_place_through_money_tie_breaks():
    scored = pd.DataFrame(
        {
            "risk": [0.9, 0.8, 0.8, 0.1],
            "novelty": [0.0, 0.0, 0.0, 0.7],
            "anomaly_score": 0.0,
            "supervised": 0.5,
            "rule_part": 0.0,
        },
        index=pd.Index(["a", "b", "c", "d"]),
    )
    ranked = rank_entities(scored, capacity=2, explore_share=0.5)
    assert ranked["rank"].tolist() == [1, 3, 4, 2]
    assert ranked["reserve"].tolist() == [False, False, False, True]
    # money breaks the tie of b and c; d keeps the reserved place
    money = pd.Series([0.0, 1.0, 5.0, 0.0], index=scored.index)
    ranks = lead_ranks(
        ranked["score"],
        money,
        pd.Series(scored.index, index=scored.index),
        ranked["novelty"],
        ranked["reserve"],
        ranked["rank"],
    )
    assert ranks.tolist() == [1, 4, 3, 2]
