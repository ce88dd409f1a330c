"""The Detector protocol: both estimators are detectors, explain themselves additively,
and explanations read nothing but the protocol."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble._iforest import _average_path_length

from fraudml.explain.contributions import explain
from fraudml.models import ProfileIsolationForest, RiskClassifier
from fraudml.models.detector import Contributions, Detector
from fraudml.models.estimators import ISOLATION_DEPTH, LOG_ODDS, average_path_length
from fraudml.models.risk import ANOMALY, EntityModel

ROOT = Path(__file__).resolve().parents[1]


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 4))
    X[rng.random(X.shape) < 0.05] = np.nan  # missing inputs: filled by the forest
    y = (np.nan_to_num(X[:, 0]) + rng.normal(scale=0.5, size=300) > 1.0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def forest() -> ProfileIsolationForest:
    return ProfileIsolationForest(n_estimators=30, random_state=0).fit(_data()[0])


@pytest.fixture(scope="module")
def classifier() -> RiskClassifier:
    return RiskClassifier(n_estimators=40, random_state=0).fit(*_data())


def test_both_estimators_are_detectors_after_fit(forest, classifier):
    assert isinstance(forest, Detector) and isinstance(classifier, Detector)
    # the protocol is about methods: something without explain is no detector
    assert not isinstance(object(), Detector)


def test_the_isolation_forest_explains_its_mean_isolation_depth(forest):
    X = _data(1)[0]
    made = forest.explain(X)
    assert isinstance(made, Contributions)
    assert made.values.shape == (len(X), X.shape[1])
    np.testing.assert_allclose(made.values.sum(axis=1) + made.base, made.output, atol=1e-6)
    assert made.direction == -1 and made.what == ISOLATION_DEPTH
    np.testing.assert_array_equal(made.output, forest.isolation_depth(X))
    # the depth is the score inverted: risk = 2 ** (-depth / c(max_samples))
    c = average_path_length(forest.forest_.max_samples_)
    np.testing.assert_allclose(2.0 ** (-made.output / c), forest.risk_score(X), rtol=1e-12)


def test_the_classifier_explains_its_log_odds_before_calibration(classifier):
    X = _data(1)[0]
    made = classifier.explain(X)
    assert made.values.shape == (len(X), X.shape[1])
    np.testing.assert_allclose(made.values.sum(axis=1) + made.base, made.output, atol=1e-6)
    assert made.direction == 1 and made.what == LOG_ODDS
    np.testing.assert_array_equal(made.output, classifier.raw_score(X))
    assert isinstance(made.base, float)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 10, 100, 256, 257, 1000, 10**6])
def test_the_average_path_length_is_scikit_learns(n):
    assert average_path_length(n) == _average_path_length([n])[0]


def test_average_path_length_by_hand():
    assert (average_path_length(1), average_path_length(2)) == (0.0, 1.0)
    # c(3) = 2 H(2) - 4/3 with H(2) ≈ ln 2 + γ
    assert average_path_length(3) == pytest.approx(2 * (np.log(2) + np.euler_gamma) - 4 / 3)


def test_contributions_are_checked_and_frozen():
    made = Contributions(np.zeros((2, 3)), 1.0, np.ones(2), "x", 1)
    with pytest.raises(AttributeError):
        made.base = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="direction must be 1 or -1"):
        Contributions(np.zeros((2, 3)), 1.0, np.ones(2), "x", 0)
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3,\)"):
        Contributions(np.zeros((2, 3)), 1.0, np.ones(3), "x", 1)


def test_pickled_detectors_keep_their_attributes_and_explain(forest, classifier):
    # registered models are pickles of these classes: their fitted state is unchanged
    assert sorted(k for k in vars(forest) if k.endswith("_")) == [
        "forest_",
        "medians_",
        "n_features_in_",
        "offset_",
    ]
    assert sorted(k for k in vars(classifier) if k.endswith("_")) == [
        "best_iteration_",
        "booster_",
        "calibrator_",
        "classes_",
        "n_features_in_",
    ]
    X = _data(2)[0]
    for model in (forest, classifier):
        again = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(again.explain(X).values, model.explain(X).values)


class _Stub:
    """A detector of its own kind: scores are the first input, contributions by hand."""

    def fit(self, X, y=None):
        return self

    def risk_score(self, X):
        return np.asarray(X, dtype=float)[:, 0]

    def explain(self, X):
        X = np.asarray(X, dtype=float)
        return Contributions(X * 0.5, 1.0, X.sum(axis=1) * 0.5 + 1.0, "half the inputs", 1)


def test_explanations_ask_the_detector_and_add_names_and_index():
    model = EntityModel(
        entity="patient",
        anomaly=_Stub(),  # type: ignore[arg-type]
        anomaly_features=["n_claims", "total_amount"],
        anomaly_reference=(0.0, 1.0),
        supervised=None,
        features=[ANOMALY],
        feature_set_version="t",
    )
    assert isinstance(model.anomaly, Detector)
    frame = pd.DataFrame({"n_claims": [2.0, 4.0], "total_amount": [10.0, 0.0]}, index=["a", "b"])
    why = explain(model, frame)
    np.testing.assert_array_equal(why.values, [[1.0, 5.0], [2.0, 0.0]])
    assert (why.base, list(why.output)) == (1.0, [7.0, 3.0])
    assert why.names == ["n_claims", "total_amount"]  # the model's, not the detector's
    assert (why.what, why.direction) == ("half the inputs", 1)
    assert list(why.index) == ["a", "b"]


def test_explanations_do_not_reach_into_the_estimators():
    sources = sorted((ROOT / "src" / "fraudml" / "explain").rglob("*.py"))
    assert sources  # the scan saw the package
    private = re.compile(r"forest_|booster_|max_samples_|sklearn\.ensemble\._")
    offenders = {
        str(p.relative_to(ROOT)): private.findall(p.read_text(encoding="utf-8")) for p in sources
    }
    assert {p: found for p, found in offenders.items() if found} == {}


def test_the_classifier_still_needs_labels():
    with pytest.raises(ValueError, match="requires y to be passed"):
        RiskClassifier(n_estimators=5).fit(_data()[0])
