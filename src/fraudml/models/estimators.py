"""Risk estimators with scikit-learn's conventions: an isolation forest for profiles and
a class-weighted, early-stopped, calibrated LightGBM classifier.

Both are :class:`~fraudml.models.detector.Detector` objects: ``risk_score(X)`` gives a
number per row, higher = more suspicious, which is what ranking, evaluation and the
registered models use (an isolation forest has no ``predict_proba``); ``explain(X)``
gives SHAP contributions to the output each one explains.

Registered models are pickles of these classes: add methods, never rename attributes.
"""

from __future__ import annotations

import warnings

import numpy as np
from lightgbm import LGBMClassifier, early_stopping
from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from fraudml.models.detector import Contributions

#: what :meth:`ProfileIsolationForest.explain` explains (lower = more abnormal)
ISOLATION_DEPTH = "mean isolation depth of the isolation forest (lower = more abnormal)"
#: what :meth:`RiskClassifier.explain` explains (higher = more suspicious)
LOG_ODDS = "log-odds of the supervised model (LightGBM, before calibration)"


def average_path_length(n_samples: int) -> float:
    """Average path length of an unsuccessful search in a binary search tree of
    ``n_samples`` points: the isolation forest's normalising constant ``c(n)``.

    ``c(n) = 2 H(n - 1) - 2 (n - 1) / n`` with the harmonic number
    ``H(i) ≈ ln(i) + γ`` (Euler's constant), and ``c(2) = 1``, ``c(n) = 0`` for
    ``n <= 1`` (Liu, Ting and Zhou, *Isolation Forest*, 2008, section 2). An isolation
    forest's score is ``s = 2 ** (-depth / c(max_samples))``.

    Written out (the same operations, so the same value, as scikit-learn's private
    helper) rather than imported from scikit-learn's internals, which may change.

    Parameters
    ----------
    n_samples : int
        Points the tree was grown on (the forest's ``max_samples_``).

    Returns
    -------
    float
        ``c(n_samples)``.
    """
    if n_samples <= 1:
        return 0.0
    if n_samples == 2:
        return 1.0
    n = float(n_samples)
    return float(2.0 * (np.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n)


class ProfileIsolationForest(OutlierMixin, BaseEstimator):
    """Isolation forest over profile features, with missing values set to the median.

    Parameters
    ----------
    n_estimators, max_samples, max_features
        As in :class:`sklearn.ensemble.IsolationForest`.
    contamination
        Only used by :meth:`predict`; ranking uses :meth:`risk_score`.
    random_state
        Seed; the same seed and data give the same scores.

    Attributes
    ----------
    forest_ : IsolationForest
    medians_ : ndarray of shape (n_features,)
        Fill values for missing inputs, learnt in ``fit``.
    """

    def __init__(
        self,
        n_estimators: int = 200,
        max_samples: int | float | str = "auto",
        max_features: float = 1.0,
        contamination: float | str = "auto",
        random_state: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X, y=None):
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(X, axis=0) if len(X) else np.zeros(X.shape[1])
        self.medians_ = np.where(np.isnan(medians), 0.0, medians)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            contamination=self.contamination,
            random_state=self.random_state,
        ).fit(self._fill(X))
        self.offset_ = self.forest_.offset_
        return self

    def _fill(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), self.medians_, X)

    def _checked(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self._fill(X)

    def score_samples(self, X) -> np.ndarray:
        """Isolation forest's score: lower = more abnormal (scikit-learn's sign)."""
        X = self._checked(X)
        return self.forest_.score_samples(X)

    def decision_function(self, X) -> np.ndarray:
        X = self._checked(X)
        return self.forest_.decision_function(X)

    def predict(self, X) -> np.ndarray:
        X = self._checked(X)
        return self.forest_.predict(X)

    def risk_score(self, X) -> np.ndarray:
        """Anomaly score in (0, 1]: higher = more abnormal (``-score_samples``)."""
        return -self.score_samples(X)

    def transformed(self, X) -> np.ndarray:
        """The model's actual input (missing values filled): what SHAP should explain."""
        return self._checked(X)

    def isolation_depth(self, X) -> np.ndarray:
        """Mean isolation depth per row: the average number of splits, over the trees,
        that isolate the row (with :func:`average_path_length` for the points left in its
        leaf); lower = more abnormal. ``risk_score == 2 ** (-depth / c(max_samples))``."""
        return self._depth(self._checked(X))

    def _depth(self, filled: np.ndarray) -> np.ndarray:
        # scikit-learn's score_samples is -(2 ** (-depth / c)), so depth = -c * log2(-score)
        c = average_path_length(self.forest_.max_samples_)
        return -c * np.log2(-self.forest_.score_samples(filled))

    def explain(self, X) -> Contributions:
        """SHAP contributions to the mean isolation depth (:meth:`isolation_depth`) of
        each row, on the model's actual inputs (missing values filled with the medians).

        The depth, not the score, because that is what the forest's trees add up:
        contributions plus the base value equal the depth.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Profile rows, missing values allowed.

        Returns
        -------
        Contributions
            ``output`` the depth per row; ``direction`` -1 (a lower depth is more
            abnormal).
        """
        import shap  # slow to import: only where leads are explained

        filled = self._checked(X)
        explainer = shap.TreeExplainer(self.forest_)
        values = np.asarray(explainer.shap_values(filled))
        base = float(np.atleast_1d(explainer.expected_value)[0])
        return Contributions(values, base, self._depth(filled), ISOLATION_DEPTH, -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class RiskClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM with class weights, early stopping on a later slice, calibrated output.

    Fit on rows in time order: the last ``validation_fraction`` of them (or an explicit
    ``eval_set``) is the later slice used to stop boosting and to calibrate the
    probabilities. Class weights, not resampling: resampling tends to hurt average
    precision on rare fraud.

    Parameters
    ----------
    num_leaves, learning_rate, n_estimators, min_child_samples, subsample,
    colsample_bytree, reg_lambda
        LightGBM settings.
    class_weight
        ``"balanced"`` or ``None``.
    early_stopping_rounds
        Rounds without improvement of the later slice's log loss before stopping.
    validation_fraction
        Share of the (time-ordered) rows held out when no ``eval_set`` is given.
    calibration
        ``"sigmoid"`` (Platt), ``"isotonic"`` or ``None``.
    random_state
        Seed; training is deterministic for a seed.

    Attributes
    ----------
    booster_ : LGBMClassifier
    calibrator_ : fitted calibrator or None
    best_iteration_ : int
    classes_ : ndarray
    """

    def __init__(
        self,
        num_leaves: int = 31,
        learning_rate: float = 0.05,
        n_estimators: int = 400,
        min_child_samples: int = 10,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        class_weight: str | None = "balanced",
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.25,
        calibration: str | None = "sigmoid",
        random_state: int | None = None,
        n_jobs: int = 2,
    ):
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.n_estimators = n_estimators
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.class_weight = class_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _booster(self) -> LGBMClassifier:
        return LGBMClassifier(
            num_leaves=self.num_leaves,
            learning_rate=self.learning_rate,
            n_estimators=self.n_estimators,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1 else 0,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            class_weight=self.class_weight,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            deterministic=True,
            force_col_wise=True,
            verbose=-1,
        )

    def fit(self, X, y=None, eval_set: tuple | None = None):
        # y is required: the None default only matches the Detector protocol's signature,
        # and validate_data refuses y=None for a classifier (scikit-learn's message)
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {kind}."
            )
        self.classes_ = unique_labels(y)
        if len(self.classes_) != 2:
            n = len(self.classes_)
            raise ValueError(
                f"RiskClassifier is binary (fraud or not): it needs exactly two classes, got "
                f"{n} class{'es' if n != 1 else ''} ({list(self.classes_)})"
            )
        target = (y == self.classes_[1]).astype(int)
        if eval_set is not None:
            X_fit, y_fit = X, target
            X_val = validate_data(
                self, eval_set[0], reset=False, ensure_all_finite="allow-nan", dtype=np.float64
            )
            y_val = (np.asarray(eval_set[1]) == self.classes_[1]).astype(int)
        else:
            cut = round(len(X) * (1 - self.validation_fraction))
            X_fit, y_fit, X_val, y_val = X[:cut], target[:cut], X[cut:], target[cut:]
        usable = len(np.unique(y_fit)) == 2 and len(np.unique(y_val)) == 2
        booster = self._booster()
        if usable and self.early_stopping_rounds:
            booster.fit(
                X_fit,
                y_fit,
                eval_X=(X_val,),
                eval_y=(y_val,),
                callbacks=[early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            self.best_iteration_ = int(booster.best_iteration_ or self.n_estimators)
        else:
            # no later slice with both classes: train on everything, no stopping
            X_val, y_val = X, target
            booster.fit(X, target)
            self.best_iteration_ = self.n_estimators
        self.booster_ = booster
        raw = self._raw(X_val)
        self.calibrator_ = None
        if self.calibration == "sigmoid" and len(np.unique(y_val)) == 2:
            self.calibrator_ = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y_val)
        elif self.calibration == "isotonic" and len(np.unique(y_val)) == 2:
            self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(
                raw, y_val
            )
        return self

    def _raw(self, X: np.ndarray) -> np.ndarray:
        """The booster's log-odds (what SHAP's tree contributions add up to)."""
        return self.booster_.predict(X, raw_score=True, num_iteration=self.best_iteration_)

    def raw_score(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self._raw(X)

    def predict_proba(self, X) -> np.ndarray:
        raw = self.raw_score(X)
        if isinstance(self.calibrator_, LogisticRegression):
            p = self.calibrator_.predict_proba(raw.reshape(-1, 1))[:, 1]
        elif isinstance(self.calibrator_, IsotonicRegression):
            p = self.calibrator_.predict(raw)
        else:
            p = 1.0 / (1.0 + np.exp(-raw))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]

    def risk_score(self, X) -> np.ndarray:
        """Calibrated probability of the positive class."""
        return self.predict_proba(X)[:, 1]

    def explain(self, X) -> Contributions:
        """SHAP contributions to the booster's log-odds (:meth:`raw_score`) of each row.

        The log-odds before calibration, because that is what the trees add up; the
        calibration is monotone, so the order of reasons is the same.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows as in :meth:`fit`, missing values allowed.

        Returns
        -------
        Contributions
            ``output`` the log-odds per row; ``direction`` 1 (higher is more suspicious).
        """
        import shap  # slow to import: only where leads are explained

        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        explainer = shap.TreeExplainer(self.booster_.booster_)
        with warnings.catch_warnings():
            # shap tells every caller, on every call, that its output for LightGBM's binary
            # classifiers changed shape once; the list case is handled below
            warnings.filterwarnings("ignore", "LightGBM binary classifier", UserWarning)
            values = explainer.shap_values(X)
        base = explainer.expected_value
        if isinstance(values, list):  # one array per class in some shap versions
            values, base = values[-1], np.atleast_1d(base)[-1]
        base = float(np.atleast_1d(base)[-1])
        return Contributions(np.asarray(values), base, self._raw(X), LOG_ODDS, 1)

    @property
    def feature_importances_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.booster_.booster_.feature_importance(importance_type="gain")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags
