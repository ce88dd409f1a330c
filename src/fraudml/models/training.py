"""Train every model the data allows and evaluate it on data it never saw.

Two ways of holding data out, one skeleton (:mod:`fraudml.models.fitting`):

- :func:`train_and_evaluate` (the default): time-based, never a random row split. Models
  are fitted on profiles of the window before ``until`` (minus the label-delay gap) with
  the labels decided before ``until``; early stopping and calibration use the slice just
  before the gap; evaluation uses the window from ``until`` on (:mod:`.split`).
- :func:`cross_validate`: stratified cross-validation by entity, for labels without
  usable dates.

Both judge the held-out scores with every label known (hindsight), next to naive
baselines computed in the same run (:mod:`fraudml.models.evaluation`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fraudml.features import FEATURE_SET_VERSION
from fraudml.io.load import Dataset
from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier
from fraudml.models.evaluation import Evaluation, baseline_scores, evaluate
from fraudml.models.fitting import (
    EntityFit,
    cv_fitter,
    entity_folds,
    fit_in_order,
    inner_split,
    time_fitter,
)
from fraudml.models.frames import frames_and_hits
from fraudml.models.fusion import Fusion
from fraudml.models.risk import EntityModel, supervised_inputs
from fraudml.models.split import (
    TimeSplit,
    admit_span,
    check_time_split,
    claims_in,
    plan_time_split,
    require_claims,
    span_text,
    time_split,
    window_text,
)
from fraudml.rulebase import Rule
from fraudml.window import Window

log = logging.getLogger(__name__)

__all__ = [
    "TimeSplit",
    "TrainingResult",
    "admit_span",
    "baseline_scores",
    "check_time_split",
    "claims_in",
    "cross_validate",
    "entity_folds",
    "inner_split",
    "plan_time_split",
    "require_claims",
    "span_text",
    "time_split",
    "train_and_evaluate",
    "window_text",
]


@dataclass
class TrainingResult:
    #: the time split (``None`` in cross-validation mode)
    split: TimeSplit | None
    models: dict[str, EntityModel]
    #: one row per entity type × method: ap, roc_auc, precision_at_k, recall_at_k, …
    metrics: pd.DataFrame
    #: one row per entity type × method × scheme: recall_at_k
    schemes: pd.DataFrame
    #: held-out scores per entity type with label and scheme (for curves and inspection)
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: a few rows of each entity type's model input (the logged input example)
    examples: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: the supervised models' inputs on the held-out rows (for SHAP summaries)
    explain_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    #: "time" (train before UNTIL, evaluate after) or "cv" (cross-validation by entity)
    mode: str = "time"
    #: features the data could not give: entity → feature → why
    dropped: dict[str, dict[str, str]] = field(default_factory=dict)


def result_of(
    fits: dict[str, EntityFit],
    evaluation: Evaluation,
    split: TimeSplit | None,
    mode: str,
    dropped: dict[str, dict[str, str]],
) -> TrainingResult:
    """The fits and their evaluation as one :class:`TrainingResult`."""
    return TrainingResult(
        split,
        {e: f.model for e, f in fits.items()},
        evaluation.metrics,
        evaluation.schemes,
        evaluation.scores,
        {e: f.example for e, f in fits.items() if f.example is not None},
        {
            e: supervised_inputs(f.model, f.frame)
            for e, f in fits.items()
            if f.model.supervised is not None
        },
        mode=mode,
        dropped=dropped,
    )


def _labels(ds: Dataset) -> pd.DataFrame | None:
    return ds.table("labels").to_pandas() if "labels" in ds else None


def train_and_evaluate(
    ds: Dataset,
    rules: Sequence[Rule],
    split: TimeSplit,
    *,
    anomaly: ProfileIsolationForest,
    supervised: RiskClassifier,
    capacity: dict[str, int],
    min_positives: int,
    withhold: Sequence[str] = (),
    fusion: Fusion | None = None,
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> TrainingResult:
    """Fit per entity type on ``split`` and evaluate on its evaluation window
    (:class:`TrainingError` when a part of the split holds no claims). ``withhold`` names
    schemes whose labels are kept from the models (:func:`~fraudml.models.fitting.time_fitter`)
    and judged all the same; ``explore_share`` of each capacity is the lead order's
    reserve for label-free evidence of at least ``explore_bar``
    (:func:`~fraudml.models.evaluation.lead_order`)."""
    check_time_split(ds, split)
    labels = _labels(ds)
    log.info("profiles for the fitting window %s … %s", split.start.date(), split.fit_end.date())
    fit_frames, _, dropped = frames_and_hits(ds, split.fit, rules)
    log.info("profiles for the later slice %s … %s", split.fit_end.date(), split.label_end.date())
    later_frames, _, _ = frames_and_hits(ds, split.later, rules)
    log.info("profiles for the evaluation window from %s", split.until.date())
    eval_frames, _, _ = frames_and_hits(ds, split.evaluation, rules)
    fitter = time_fitter(
        labels,
        split.until,
        withhold=withhold,
        anomaly=anomaly,
        supervised=supervised,
        min_positives=min_positives,
        feature_set_version=FEATURE_SET_VERSION,
        currency=ds.currency,
        fusion=fusion,
    )
    windows = {"fit": fit_frames, "later": later_frames, "evaluation": eval_frames}
    fits, _ = fit_in_order(windows, fitter)
    evaluation = evaluate(fits, labels, capacity, explore_share, explore_bar)
    return result_of(fits, evaluation, split, "time", dropped)


def cross_validate(
    ds: Dataset,
    rules: Sequence[Rule],
    *,
    folds: int,
    seed: int,
    anomaly: ProfileIsolationForest,
    supervised: RiskClassifier,
    capacity: dict[str, int],
    min_positives: int,
    fusion: Fusion | None = None,
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> TrainingResult:
    """Stratified cross-validation by entity over the whole period.

    Only for data whose labels carry no usable dates (a fraud list for a whole period):
    every entity is scored by models that never saw its label (out of fold), metrics are
    computed on those scores, and the registered models are then fitted on all entities
    (:func:`fraudml.models.fitting.cv_fitter`). Time-based evaluation stays the default:
    it is what production sees.
    """
    log.warning(
        "evaluation by stratified %d-fold cross-validation over entities: a mode for data "
        "without usable label dates; scores can be optimistic where fraud drifts over time",
        folds,
    )
    labels = _labels(ds)
    frames, _, dropped = frames_and_hits(ds, Window(), rules)
    fitter = cv_fitter(
        labels,
        folds=folds,
        seed=seed,
        anomaly=anomaly,
        supervised=supervised,
        min_positives=min_positives,
        feature_set_version=FEATURE_SET_VERSION,
        rule_lift=None,  # chosen on the held-out part: its labels are complete here
        currency=ds.currency,
        fusion=fusion,
    )
    fits, _ = fit_in_order({"all": frames}, fitter)
    evaluation = evaluate(fits, labels, capacity, explore_share, explore_bar)
    return result_of(fits, evaluation, None, "cv", dropped)
