"""Risk estimators with scikit-learn's conventions: an isolation forest for profiles and
a class-weighted, early-stopped, calibrated LightGBM classifier.

Both expose ``risk_score(X)``: a number per row, higher = more suspicious, which is what
ranking, evaluation and the registered models use (an isolation forest has no
``predict_proba``).
"""

from __future__ import annotations

import numpy as np
from lightgbm import LGBMClassifier, early_stopping
from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data


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

    def fit(self, X, y, eval_set: tuple | None = None):
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

    @property
    def feature_importances_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.booster_.booster_.feature_importance(importance_type="gain")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags
