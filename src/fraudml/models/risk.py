"""One risk score per entity type, from an anomaly model, a supervised model and rules.

Models fitted by this version fuse their channels by a noisy-OR
(:mod:`fraudml.models.fusion`): the supervised probability, the anomaly score's tail
against the training window, an owner's claim risk and the rule part, none of which can
drive another to zero weight. Models registered before carry no :class:`Fusion` and keep
the formula they were evaluated with ("legacy")::

    risk = 1 − (1 − base) · (1 − rule_lift · rule_part)

with ``base`` the supervised probability where one was trained, else the anomaly level
(the score standardised against the training window, median and 1.4826 × MAD, through a
logistic curve) combined for owners with their claims' mean risk.

In both, ``rule_part = 1 − exp(−rule_severity_score)`` grows with the entity's rule hits
weighted by severity (one definite high-severity hit gives 0.63), and ``rule_lift`` is
0.5 (``RULE_LIFT``). In cross-validation (labels for a whole period, complete) it is
instead the value of ``RULE_LIFTS`` with the best average precision on the held-out part
early stopping and calibration use, so rules are not counted twice where the labels say
they add nothing. Not in time-based training: there the later slice's labels are the
ones known by UNTIL, fraud found later is missing from them, and rules that catch it
would look like false alarms.

Every step is a plain function of data frames; fitted objects live in
:class:`EntityModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from fraudml.entities import ENTITIES
from fraudml.features import FEATURES
from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier
from fraudml.models.extremes import SignalExtremes
from fraudml.models.fusion import Fusion, anomaly_tail, fuse, label_free, score_quantiles

RULE_LIFT = 0.5
#: The currency of models registered before the training data's currency was recorded:
#: every dataset was in yuan then.
LEGACY_CURRENCY = "CNY"
#: The rule lifts tried when a supervised model is fitted (ties go to the larger lift).
RULE_LIFTS = (0.0, 0.25, 0.5)
ANOMALY = "anomaly_score"


@dataclass
class EntityModel:
    """The fitted models of one entity type and the columns they read."""

    entity: str
    anomaly: ProfileIsolationForest
    anomaly_features: list[str]
    #: training-window anomaly scores: median and robust scale
    anomaly_reference: tuple[float, float]
    supervised: RiskClassifier | None
    #: supervised inputs (the anomaly score is the last one)
    features: list[str]
    feature_set_version: str
    #: why there is no supervised model, when there is none
    note: str = ""
    params: dict = field(default_factory=dict)
    #: weight of the rule part in ``risk`` (see the module docstring)
    rule_lift: float = RULE_LIFT
    #: ISO 4217 code of the training data's money: amounts, caps and peer levels are
    #: learnt in it. A model pickled before this field existed reads the class default.
    currency: str = LEGACY_CURRENCY
    #: the channels' weights; ``None`` (models pickled before fusion) keeps the legacy
    #: formula of the module docstring
    fusion: Fusion | None = None
    #: quantiles of the training window's anomaly scores (the anomaly channel's scale)
    anomaly_quantiles: np.ndarray | None = None
    #: each row's most extreme signals, on the anomaly model's columns: what the
    #: capacity's reserve ranks by; ``None`` (models pickled before it) ranks the reserve
    #: by the anomaly tail
    extremes: SignalExtremes | None = None
    #: quantiles of the training window's :attr:`extremes` scores
    extremes_quantiles: np.ndarray | None = None

    @property
    def inputs(self) -> list[str]:
        """Columns a frame must hold to be scored."""
        cols = dict.fromkeys(self.anomaly_features)
        cols.update(dict.fromkeys(f for f in self.features if f != ANOMALY))
        cols["rule_severity_score"] = None
        if self.supervised is None and ENTITIES[self.entity].owner:
            cols["net_claim_risk"] = None
        return list(cols)


def signal_directions(entity: str, columns: list[str]) -> list[str]:
    """The suspicious direction of each model column (``name`` or ``name__peer_z``),
    from the feature registry; ``"both"`` for a column it does not know."""
    known = {f.name: f.direction for f in FEATURES if f.entity == entity}
    return [known.get(c.split("__", 1)[0], "both") for c in columns]


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"model input columns missing from the frame: {', '.join(missing)}")
    return frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)


def fit_entity(
    entity: str,
    fit: pd.DataFrame,
    y_fit: pd.Series,
    later: pd.DataFrame,
    y_later: pd.Series,
    *,
    anomaly: ProfileIsolationForest,
    supervised: RiskClassifier,
    features: list[str],
    anomaly_features: list[str],
    min_positives: int,
    feature_set_version: str,
    rule_lift: float | None = RULE_LIFT,
    currency: str = LEGACY_CURRENCY,
    fusion: Fusion | None = None,
) -> EntityModel:
    """Fit the anomaly model on ``fit`` and, when both slices hold enough positives, the
    supervised model on ``fit`` with ``later`` (the following time slice) for early
    stopping and calibration. ``rule_lift=None`` chooses the lift on ``later`` (only
    where its labels are complete: see the module docstring). ``currency`` is the
    training data's (the model refuses data in another). ``fusion`` weighs the risk
    score's channels (:class:`~fraudml.models.fusion.Fusion`; ``None`` takes its
    defaults)."""
    behaviour = _matrix(fit, anomaly_features)
    forest = clone(anomaly).fit(behaviour)
    seen = forest.risk_score(behaviour)
    extremes = SignalExtremes(directions=signal_directions(entity, anomaly_features))
    extremes.fit(behaviour)
    median = float(np.median(seen))
    scale = max(float(np.median(np.abs(seen - median))) * 1.4826, 1e-6)
    reference = (median, scale)
    model = EntityModel(
        entity=entity,
        anomaly=forest,
        anomaly_features=anomaly_features,
        anomaly_reference=reference,
        supervised=None,
        features=[*features, ANOMALY],
        feature_set_version=feature_set_version,
        currency=currency,
        fusion=fusion or Fusion(),
        anomaly_quantiles=score_quantiles(seen),
        extremes=extremes,
        extremes_quantiles=score_quantiles(extremes.risk_score(behaviour, training=True)),
    )
    n_fit, n_later = int(y_fit.sum()), int(y_later.sum())
    if n_fit < min_positives or n_later < 1:
        model.note = (
            f"no supervised model: {n_fit} labelled positives in the fitting window and "
            f"{n_later} in the later slice (need {min_positives} and 1); the anomaly "
            "score ranks this entity type"
        )
        return model
    X_fit = np.column_stack(
        [_matrix(fit, features), forest.risk_score(_matrix(fit, anomaly_features))]
    )
    X_later = np.column_stack(
        [_matrix(later, features), forest.risk_score(_matrix(later, anomaly_features))]
    )
    model.supervised = clone(supervised).fit(
        X_fit, y_fit.to_numpy(), eval_set=(X_later, y_later.to_numpy())
    )
    model.rule_lift = choose_rule_lift(model, later, y_later) if rule_lift is None else rule_lift
    return model


def choose_rule_lift(model: EntityModel, later: pd.DataFrame, y_later: pd.Series) -> float:
    """The lift of :data:`RULE_LIFTS` whose ``risk`` ranks the later slice best (average
    precision; ties go to the larger lift)."""
    from sklearn.metrics import average_precision_score

    parts = score_frame(model, later)
    rule = parts["rule_part"].to_numpy()
    # the risk without its rule part (rule_part is the last channel of either formula)
    base = 1.0 - (1.0 - parts["risk"].to_numpy()) / (1.0 - model.rule_lift * rule)
    best, best_ap = RULE_LIFT, -1.0
    for lift in sorted(RULE_LIFTS, reverse=True):
        ap = average_precision_score(y_later.to_numpy(), 1.0 - (1.0 - base) * (1.0 - lift * rule))
        if ap > best_ap + 1e-12:
            best, best_ap = lift, ap
    return float(best)


def score_frame(model: EntityModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Per entity: anomaly score and level, supervised probability (NaN without a
    supervised model), rule part, the combined ``risk``, ``signal_score`` (the sum of the
    largest surprises, :class:`~fraudml.models.extremes.SignalExtremes`; absent for a
    model pickled before them) and ``novelty``, the label-free evidence the capacity's
    reserve ranks by (:func:`fraudml.models.fusion.reserve_order`): the signal score's
    tail against the training window with the rule part, or the risk itself where no
    supervised model was trained."""
    behaviour = _matrix(frame, model.anomaly_features)  # read by the forest and the extremes
    anomaly = model.anomaly.risk_score(behaviour)
    median, scale = model.anomaly_reference
    level = 1.0 / (1.0 + np.exp(-(anomaly - median) / scale))
    out = pd.DataFrame({"anomaly_score": anomaly, "anomaly_level": level}, index=frame.index)
    if model.supervised is not None:
        out["supervised"] = model.supervised.risk_score(supervised_inputs(model, frame, anomaly))
    else:
        out["supervised"] = np.nan
    network = (
        frame["net_claim_risk"].fillna(0).to_numpy(dtype=float)
        if model.supervised is None and "net_claim_risk" in frame
        else np.zeros(len(frame))
    )
    severity = (
        frame["rule_severity_score"].fillna(0).to_numpy(dtype=float)
        if "rule_severity_score" in frame
        else np.zeros(len(frame))
    )
    out["rule_part"] = rule = 1.0 - np.exp(-np.asarray(severity, dtype=float))
    fusion = getattr(model, "fusion", None)
    if fusion is None:  # a model registered before fusion: the formula it was judged by
        base = out["supervised"].to_numpy() if model.supervised is not None else level
        base = 1.0 - (1.0 - base) * (1.0 - network)
        out["risk"] = 1.0 - (1.0 - base) * (1.0 - model.rule_lift * rule)
        out["novelty"] = out["risk"]  # nothing apart from the labels to reserve for
        return out
    tail = anomaly_tail(anomaly, model.anomaly_quantiles, fusion.anomaly_power)
    out["anomaly_part"] = fusion.weight(model.supervised is not None) * tail
    supervised = out["supervised"].fillna(0.0).to_numpy()
    out["risk"] = fuse(supervised, out["anomaly_part"].to_numpy(), network, rule, model.rule_lift)
    # the reserve's ranking (fusion.reserve_order): without a supervised model the risk
    # is label-free already
    extremes = getattr(model, "extremes", None)
    if extremes is not None:
        out["signal_score"] = extremes.risk_score(behaviour)
    if model.supervised is None:
        out["novelty"] = out["risk"]
    else:
        if extremes is not None:  # else a model pickled before them: the forest's tail
            tail = anomaly_tail(
                out["signal_score"].to_numpy(), model.extremes_quantiles, fusion.anomaly_power
            )
        out["novelty"] = label_free(tail, rule, model.rule_lift)
    return out


def supervised_inputs(
    model: EntityModel, frame: pd.DataFrame, anomaly: np.ndarray | None = None
) -> np.ndarray:
    """The supervised model's input matrix for ``frame``: features, then anomaly score."""
    if anomaly is None:
        anomaly = model.anomaly.risk_score(_matrix(frame, model.anomaly_features))
    return np.column_stack([_matrix(frame, model.features[:-1]), anomaly])
