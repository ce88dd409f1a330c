"""The signal-extremes detector: exact surprises on hand-built columns, and the capacity's
reserve ranking by them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier
from fraudml.models.extremes import SURPRISE, SignalExtremes
from fraudml.models.fusion import anomaly_tail, label_free, reserve_order
from fraudml.models.risk import fit_entity, score_frame, signal_directions

TRAIN = np.array(
    [
        [0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0],
        [2.0, 2.0, 2.0],
        [3.0, 3.0, np.nan],
    ]
)


def test_surprise_is_minus_log_of_the_share_as_far_out_in_the_signals_direction():
    model = SignalExtremes(directions=["high", "low", "both"]).fit(TRAIN)
    rows = np.array([[3.0, 0.0, 2.0], [9.0, -9.0, -9.0], [0.0, 3.0, np.nan]])
    # (count as far out + 1) / (rows with a value + 1)
    expected = -np.log(
        [
            [2 / 5, 2 / 5, min(1.0, 2 * min(2 / 4, 3 / 4))],
            [1 / 5, 1 / 5, 2 * 1 / 4],
            [5 / 5, 5 / 5, 1.0],  # the ordinary direction, and a missing value: no evidence
        ]
    )
    assert model.surprises(rows) == pytest.approx(expected)
    assert model.counts_.tolist() == [4, 4, 3]


def test_the_score_sums_each_rows_largest_surprises_and_explains_itself():
    model = SignalExtremes(top=2).fit(TRAIN[:, :2].repeat(2, axis=0))  # 8 rows, 2 each
    rows = np.array([[9.0, 0.0], [9.0, 9.0], [3.0, 9.0]])
    s = -np.log(np.array([[1 / 9, 9 / 9], [1 / 9, 1 / 9], [3 / 9, 1 / 9]]))
    assert model.risk_score(rows) == pytest.approx(s.sum(axis=1))
    one = SignalExtremes(top=1).fit(TRAIN[:, :2].repeat(2, axis=0))
    assert one.risk_score(rows) == pytest.approx(s.max(axis=1))
    parts = one.explain(rows)
    assert parts.what == SURPRISE and parts.direction == 1 and parts.base == 0.0
    # only the largest surprise counts; ties go to the first column
    expected = np.array([[s[0, 0], 0.0], [s[1, 0], 0.0], [0.0, s[2, 1]]])
    assert parts.values == pytest.approx(expected)
    assert parts.values.sum(axis=1) == pytest.approx(parts.output)
    assert parts.output == pytest.approx(one.risk_score(rows))


def test_a_long_training_window_keeps_quantiles_of_its_values():
    column = np.arange(10_000, dtype=float)[:, None]
    exact = SignalExtremes(top=1, references=20_000).fit(column)
    kept = SignalExtremes(top=1, references=101).fit(column)
    assert len(exact.references_[0]) == 10_000 and len(kept.references_[0]) == 101
    x = np.array([[5_000.0], [9_900.0], [20_000.0]])
    # the same shares to within the grid's resolution (1 / 100 of the rows)
    assert np.exp(-kept.risk_score(x)) == pytest.approx(np.exp(-exact.risk_score(x)), abs=0.011)
    assert kept.counts_.tolist() == [10_000]


def test_predict_flags_the_contamination_share_of_training():
    X = np.random.default_rng(0).normal(size=(200, 3))
    model = SignalExtremes(contamination=0.1).fit(X)
    assert (model.predict(X) == -1).mean() == pytest.approx(0.1, abs=0.02)
    assert np.array_equal(model.predict(X) == -1, model.decision_function(X) < 0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"directions": ["high"]}, "1 entries for 3 columns"),
        ({"directions": ["up", "high", "low"]}, r"directions \['up'\]"),
        ({"top": 0}, "top=0"),
        ({"references": 1}, "references=1"),
        ({"contamination": 0.7}, "contamination=0.7"),
    ],
)
def test_settings_are_checked(params, message):
    with pytest.raises(ValueError, match=message):
        SignalExtremes(**params).fit(TRAIN)


def test_directions_come_from_the_feature_registry():
    assert signal_directions(
        "doctor", ["max_patients_day__peer_z", "n_patients", "not_a_feature"]
    ) == ["high", "high", "both"]


def test_the_reserve_ranks_by_the_extremes_of_a_signal_nobody_labelled():
    """A scheme far out on one signal of twenty, and unlabelled: the forest, spreading its
    splits over every column, ranks it among ordinary noise; the extremes give it the
    novelty that wins the capacity's reserve."""
    rng = np.random.default_rng(1)
    n, noise = 600, 20
    frame = pd.DataFrame(
        rng.normal(0, 1, (n, noise)),
        columns=[f"x{i}" for i in range(noise)],
        index=pd.Index([f"e{i:03d}" for i in range(n)]),
    )
    frame["known"] = rng.normal(0, 1, n)
    frame["rule_severity_score"] = 0.0
    y = pd.Series(0, index=frame.index)
    y.iloc[:30] = 1
    frame.iloc[:30, frame.columns.get_loc("known")] += 4.0  # the labelled scheme
    unlabelled = frame.index[30:36]
    frame.loc[unlabelled, "x0"] = 6.0  # beyond every training value, on one column only
    fit, later = frame.iloc[::2], frame.iloc[1::2]
    columns = ["known", *[f"x{i}" for i in range(noise)]]
    model = fit_entity(
        "patient",
        fit.drop(index=unlabelled, errors="ignore"),
        y.loc[fit.index.difference(unlabelled)],
        later,
        y.loc[later.index],
        anomaly=ProfileIsolationForest(n_estimators=100, random_state=0),
        supervised=RiskClassifier(n_estimators=50, random_state=0),
        features=["known"],
        anomaly_features=columns,
        min_positives=5,
        feature_set_version="test",
    )
    scored = score_frame(model, frame)
    assert model.extremes is not None and model.supervised is not None
    expected = label_free(
        anomaly_tail(
            model.extremes.risk_score(frame[columns].to_numpy()),
            model.extremes_quantiles,
            model.fusion.anomaly_power,
        ),
        scored.rule_part.to_numpy(),
        model.rule_lift,
    )
    assert scored.novelty.to_numpy() == pytest.approx(expected)
    assert scored.signal_score.to_numpy() == pytest.approx(
        model.extremes.risk_score(frame[columns].to_numpy())
    )

    def placed(scores: pd.DataFrame) -> pd.Index:
        order, _ = reserve_order(scores.risk.to_numpy(), scores.novelty.to_numpy(), 40, 0.3)
        return frame.index[order[:40]]

    # 28 places by risk, 12 reserved: the unlabelled scheme takes six of them …
    assert placed(scored).isin(unlabelled).sum() == 6
    assert placed(scored).isin(frame.index[:30]).sum() >= 25
    # … where the forest's tail (a model pickled before the extremes) placed one
    model.extremes = None
    legacy = score_frame(model, frame)
    assert "signal_score" not in legacy
    tail = anomaly_tail(
        legacy.anomaly_score.to_numpy(), model.anomaly_quantiles, model.fusion.anomaly_power
    )
    assert legacy.novelty.to_numpy() == pytest.approx(
        label_free(tail, legacy.rule_part.to_numpy(), model.rule_lift)
    )
    assert placed(legacy).isin(unlabelled).sum() == 1
