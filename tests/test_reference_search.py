"""The quick-model search of the real-data page and the paired AP comparison: exact
values on hand-built frames, invariants on generated ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from fraudml.evaluate.metrics import paired_difference
from fraudml.evaluate.reference_search import (
    _stratified_share,
    aggregate_pool,
    learning_curve,
    subset_search,
)
from fraudml.models.training import entity_folds


def test_aggregate_pool_on_a_hand_built_frame():
    t = pd.Timestamp
    claims = pd.DataFrame(
        {
            "provider_id": ["P1", "P1", "P2"],
            "patient_id": ["A", "B", "A"],
            "doctor_id": ["D1", "D1", None],
            "operating_doctor_id": ["D2", None, None],
            "other_doctor_id": [None, None, None],
            "admit_time": [t("2009-01-01"), t("2009-02-01"), t("2009-03-01")],
            "discharge_time": [t("2009-01-05"), t("2009-02-11"), t("2009-03-03")],
            "fund_paid": [1000.0, 3000.0, 500.0],
            "cash_paid": [100.0, 0.0, 50.0],
            "diagnosis_code": ["4019", "V57", "4019"],
            "drg_code": ["201", "201", "300"],
        }
    )
    patients = pd.DataFrame(
        {
            "patient_id": ["A", "B"],
            "birth_date": [pd.Timestamp("1939-01-01").date(), pd.Timestamp("1949-02-01").date()],
            "death_date": [None, pd.Timestamp("2009-06-01").date()],
            "n_chronic_conditions": [2, 5],
        }
    )
    pool = aggregate_pool(claims, patients)
    assert list(pool.index) == ["P1", "P2"]
    p1, p2 = pool.loc["P1"], pool.loc["P2"]
    assert (p1.n_claims, p1.fund_paid_sum, p1.fund_paid_mean, p1.fund_paid_max) == (
        2,
        4000,
        2000,
        3000,
    )
    assert (p1.los_sum, p1.los_max, p2.los_mean) == (14, 10, 2)
    assert (p1.distinct_patient_id, p1.distinct_doctor_id, p1.distinct_drg_code) == (2, 1, 1)
    assert (p1.has_operating_sum, p1.patient_died_sum, p1.chronic_conditions_mean) == (1, 1, 3.5)
    # patient A is seen at both providers, B at P1 only; D1 works at P1 only
    assert (p1.patient_providers_max, p1.patient_providers_mean, p2.patient_claims_max) == (
        2,
        1.5,
        2,
    )
    assert p1.doctor_providers_max == 1 and np.isnan(p2.doctor_claims_max)
    assert (p1.patient_age_max, p1.patient_age_mean) == pytest.approx((70.0, 65.0), abs=0.01)


def _generated(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    y = pd.Series((rng.random(n) < 0.25).astype(int), index=[f"P{i:04d}" for i in range(n)])
    X = pd.DataFrame(
        {
            "signal": y * 2.0 + rng.normal(size=n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
        },
        index=y.index,
    )
    return X, y


def test_subset_search_ranks_subsets_with_the_signal_first():
    X, y = _generated()
    folds = entity_folds(y, 3, seed=0)
    found = subset_search(X, y, folds, n_subsets=4, size=2, seed=0)
    assert len(found) == 4 * 2 and set(found.learner) == {"default", "shallow"}
    assert found.ap.is_monotonic_decreasing
    assert all(len(c.split(", ")) == 2 for c in found.inputs)
    has = found.inputs.str.contains("signal")
    assert has.any() and (~has).any()  # this seed draws both kinds of subset
    assert found.ap[has].min() > found.ap[~has].max()
    # the same seed and folds give the same table
    pd.testing.assert_frame_equal(found, subset_search(X, y, folds, 4, size=2, seed=0))


def test_learning_curve_cuts_only_the_training_folds():
    X, y = _generated()
    folds = entity_folds(y, 4, seed=1)
    curve = learning_curve(X, y, folds, (0.5, 1.0), {"n_estimators": 20}, seed=0)
    full = np.mean([len(train) for train, _ in folds])
    assert curve.fraction.tolist() == [0.5, 1.0]
    assert curve.train_rows.iloc[1] == full
    assert curve.train_rows.iloc[0] == pytest.approx(full / 2, abs=1)
    assert curve.ap.between(0, 1).all() and curve.ap.iloc[1] > 0.6


def test_stratified_share_keeps_each_class():
    y = np.array([1] * 10 + [0] * 30)
    kept = _stratified_share(y, 0.5, np.random.default_rng(0))
    assert (y[kept] == 1).sum() == 5 and (y[kept] == 0).sum() == 15
    assert len(np.unique(kept)) == len(kept)
    assert (y[_stratified_share(y, 0.01, np.random.default_rng(0))] == 1).sum() == 1
    with pytest.raises(ValueError, match="fraction"):
        _stratified_share(y, 0.0, np.random.default_rng(0))


def test_paired_difference_exact_and_bounds():
    y = np.array([1, 0, 1, 0])
    a = np.array([0.9, 0.8, 0.7, 0.1])  # AP (1 + 2/3) / 2
    b = np.array([0.1, 0.9, 0.8, 0.2])  # AP (1/2 + 2/4) / 2
    d = paired_difference(y, a, b, n_boot=200, seed=0)
    assert d["diff"] == pytest.approx(5 / 6 - 1 / 2)
    assert d["lo"] <= d["diff"] <= d["hi"]
    same = paired_difference(y, a, a, n_boot=50)
    assert (same["diff"], same["lo"], same["hi"], same["share_a_better"]) == (0, 0, 0, 0)


def test_paired_difference_on_generated_scores():
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.2).astype(int)
    good = y + rng.normal(scale=0.5, size=600)
    poor = y + rng.normal(scale=2.0, size=600)
    d = paired_difference(y, good, poor, n_boot=300, seed=1)
    expected = average_precision_score(y, good) - average_precision_score(y, poor)
    assert d["diff"] == pytest.approx(expected)
    assert d["lo"] > 0 and d["share_a_better"] == 1.0
    flipped = paired_difference(y, poor, good, n_boot=300, seed=1)
    assert flipped["hi"] < 0 and flipped["share_a_better"] == 0.0
    with pytest.raises(ValueError, match="both classes"):
        paired_difference(np.zeros(5), good[:5], poor[:5])
