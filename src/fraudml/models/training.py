"""Train every model the data allows and evaluate it on the following window.

Time-based, never a random row split: models are fitted on profiles of the window before
``until`` (minus the label-delay gap) with the labels decided before ``until``; early
stopping and calibration use the slice just before the gap; evaluation uses the window
from ``until`` on, judged with every label known (hindsight), next to naive baselines
computed in the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from fraudml.entities import ENTITIES, OWNERS
from fraudml.errors import TrainingError
from fraudml.evaluate.metrics import ranking_metrics, recall_at_k_by_scheme
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.io.load import Dataset
from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier
from fraudml.models.frames import (
    checked_entities,
    entity_frames,
    frames_and_hits,
    labels_as_of,
    model_columns,
    target,
)
from fraudml.models.network import with_network_features
from fraudml.models.risk import EntityModel, fit_entity, score_frame, supervised_inputs
from fraudml.rulebase import Rule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeSplit:
    """``[start, fit_end)`` fits, ``[fit_end, label_end)`` stops and calibrates, labels
    are those decided before ``until``; ``[until, eval_end)`` evaluates."""

    start: datetime
    fit_end: datetime
    label_end: datetime
    until: datetime
    eval_end: datetime | None

    @property
    def fit(self) -> Window:
        return Window(self.start, self.fit_end)

    @property
    def later(self) -> Window:
        return Window(self.fit_end, self.label_end)

    @property
    def evaluation(self) -> Window:
        return Window(self.until, self.eval_end)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "start": self.start.date().isoformat(),
            "fit_end": self.fit_end.date().isoformat(),
            "label_end": self.label_end.date().isoformat(),
            "until": self.until.date().isoformat(),
            "eval_end": self.eval_end.date().isoformat() if self.eval_end else None,
        }


def time_split(
    data_start: datetime,
    data_end: datetime,
    until: datetime | None,
    *,
    validation_days: int,
    gap_days: int,
    eval_days: int | None,
) -> TimeSplit:
    """The split for data spanning ``[data_start, data_end]``; without ``until``, the
    first two thirds of the period train and the rest evaluates."""
    start = datetime.combine(data_start.date(), datetime.min.time())
    if until is None:
        until = start + (data_end - start) * 2 / 3
        until = datetime.combine(until.date(), datetime.min.time())
    label_end = until - timedelta(days=gap_days)
    fit_end = label_end - timedelta(days=validation_days)
    if fit_end <= start:
        raise ValueError(
            f"UNTIL={until.date()} leaves no fitting window after the {validation_days}-day "
            f"validation slice and {gap_days}-day label gap (data start {start.date()})"
        )
    eval_end = until + timedelta(days=eval_days) if eval_days else None
    return TimeSplit(start, fit_end, label_end, until, eval_end)


def admit_span(ds: Dataset) -> tuple[datetime, datetime] | None:
    """The first and last ``admit_time`` of the accepted claims; ``None`` without claims."""
    claims = ds.table("claims")
    first, last = claims.admit_time.min().execute(), claims.admit_time.max().execute()
    if first is None or pd.isna(first):
        return None
    return pd.Timestamp(first).to_pydatetime(), pd.Timestamp(last).to_pydatetime()


def span_text(span: tuple[datetime, datetime]) -> str:
    """``2024-01-01 to 2024-12-31`` (days are enough to choose FROM and UNTIL by)."""
    return f"{span[0].date().isoformat()} to {span[1].date().isoformat()}"


def _day(moment: datetime) -> str:
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat(" ", "minutes")


def window_text(window: Window) -> str:
    """``2024-01-01 … 2024-09-01``, with an open side named as such."""
    start = _day(window.start) if window.start else "start of data"
    end = _day(window.end) if window.end else "end of data"
    return f"{start} … {end}"


def claims_in(ds: Dataset, window: Window) -> int:
    """How many accepted claims are admitted in ``window``."""
    claims = ds.table("claims")
    return int(claims.filter(window.holds(claims.admit_time)).count().execute())


def require_claims(ds: Dataset) -> tuple[datetime, datetime]:
    """The claims' admit_time span; :class:`TrainingError` when there are none (a dataset
    of patients and providers only validates, but there is nothing to learn from)."""
    span = admit_span(ds)
    if span is None:
        raise TrainingError(
            "the dataset holds no accepted claims (no admit_time span), so there is nothing "
            "to fit or evaluate"
        )
    return span


def check_time_split(ds: Dataset, split: TimeSplit) -> None:
    """Refuse a split one of whose parts holds no claims: the fitting window (the models'
    rows), the validation slice (early stopping and calibration) and the evaluation
    window. Each would otherwise fail minutes later, or train on nothing in silence."""
    parts = {
        "fitting window": split.fit,
        "validation slice": split.later,
        "evaluation window": split.evaluation,
    }
    for part, window in parts.items():
        if claims_in(ds, window):
            continue
        listed = ", ".join(f"{name} {window_text(w)}" for name, w in parts.items())
        raise TrainingError(
            f"the {part} {window_text(window)} holds no claims (split: {listed}); the data's "
            f"admit_time spans {span_text(require_claims(ds))}. Set UNTIL (period.end) where "
            "claims lie on both sides of it, or shorten evaluate.validation_days / "
            "evaluate.label_delay_days"
        )


def plan_time_split(
    ds: Dataset,
    since: datetime | None,
    until: datetime | None,
    *,
    validation_days: int,
    gap_days: int,
    eval_days: int | None,
) -> TimeSplit:
    """The time split of ``ds`` (:func:`time_split` over its claims' span), checked by
    :func:`check_time_split`; :class:`TrainingError` says why it cannot train."""
    span = require_claims(ds)
    try:
        split = time_split(
            since or span[0],
            span[1],
            until,
            validation_days=validation_days,
            gap_days=gap_days,
            eval_days=eval_days,
        )
    except ValueError as exc:
        raise TrainingError(f"{exc}; the data's admit_time spans {span_text(span)}") from None
    check_time_split(ds, split)
    return split


def baseline_scores(frame: pd.DataFrame, entity: str) -> dict[str, pd.Series]:
    """The naive rankings of ``entity`` that ``frame`` can give (a baseline over a
    feature the data lacks, such as fee lines, is left out)."""
    out = {}
    for name, columns in ENTITIES[entity].baselines.items():
        if not set(columns) <= set(frame.columns):
            continue
        out[f"baseline_{name}"] = frame[columns[0]]
        for column in columns[1:]:
            out[f"baseline_{name}"] = out[f"baseline_{name}"] * frame[column]
    return out


@dataclass
class TrainingResult:
    #: the time split (``None`` in cross-validation mode)
    split: TimeSplit | None
    models: dict[str, EntityModel]
    #: one row per entity type × method: ap, roc_auc, precision_at_k, recall_at_k, …
    metrics: pd.DataFrame
    #: one row per entity type × method × scheme: recall_at_k
    schemes: pd.DataFrame
    #: evaluation-window scores per entity type (for curves and inspection)
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: a few rows of each entity type's model input (the logged input example)
    examples: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: the supervised models' evaluation inputs (for SHAP summaries)
    explain_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    #: "time" (train before UNTIL, evaluate after) or "cv" (cross-validation by entity)
    mode: str = "time"
    #: features the data could not give: entity → feature → why
    dropped: dict[str, dict[str, str]] = field(default_factory=dict)


def train_and_evaluate(
    ds: Dataset,
    rules: Sequence[Rule],
    split: TimeSplit,
    *,
    anomaly: ProfileIsolationForest,
    supervised: RiskClassifier,
    capacity: dict[str, int],
    min_positives: int,
) -> TrainingResult:
    """Fit per entity type on ``split`` and evaluate on its evaluation window
    (:class:`TrainingError` when a part of the split holds no claims)."""
    check_time_split(ds, split)
    labels = ds.table("labels").to_pandas() if "labels" in ds else None
    log.info("profiles for the fitting window %s … %s", split.start.date(), split.fit_end.date())
    fit_frames, _, dropped = frames_and_hits(ds, split.fit, rules)
    log.info("profiles for the later slice %s … %s", split.fit_end.date(), split.label_end.date())
    later_frames = entity_frames(ds, split.later, rules)
    log.info("profiles for the evaluation window from %s", split.until.date())
    eval_frames = entity_frames(ds, split.evaluation, rules)

    models: dict[str, EntityModel] = {}
    rows, scheme_rows, scores, examples, explain = [], [], {}, {}, {}
    #: each window's scores so far, for the network features of providers and doctors
    window_scores: dict[str, dict[str, pd.DataFrame]] = {"fit": {}, "later": {}}
    networked = False
    for entity in ENTITIES:
        if entity in OWNERS and not networked:
            fit_frames = with_network_features(fit_frames, window_scores["fit"])
            later_frames = with_network_features(later_frames, window_scores["later"])
            eval_frames = with_network_features(eval_frames, scores)
            networked = True
        if entity not in fit_frames or fit_frames[entity].empty or entity not in eval_frames:
            log.warning("%s: no profiles in the fitting or evaluation window; skipped", entity)
            continue
        fit, later, evaluation = fit_frames[entity], later_frames[entity], eval_frames[entity]
        features, anomaly_features = model_columns(fit, entity)
        known = labels_as_of(labels, entity, split.until)
        model = fit_entity(
            entity,
            fit,
            target(fit, known),
            later,
            target(later, known),
            anomaly=anomaly,
            supervised=supervised,
            features=features,
            anomaly_features=anomaly_features,
            min_positives=min_positives,
            feature_set_version=FEATURE_SET_VERSION,
            currency=ds.currency,
        )
        if model.note:
            log.warning("%s: %s", entity, model.note)
        models[entity] = model
        examples[entity] = fit[model.inputs].head(5)
        window_scores["fit"][entity] = score_frame(model, fit)
        if not later.empty:
            window_scores["later"][entity] = score_frame(model, later)

        hindsight = labels_as_of(labels, entity, None)
        scored = score_frame(model, evaluation)
        _evaluate(entity, model, evaluation, scored, hindsight, capacity, rows, scheme_rows)
        if model.supervised is not None:
            explain[entity] = supervised_inputs(model, evaluation, scored["anomaly_score"])
        scores[entity] = scored
    return TrainingResult(
        split,
        models,
        pd.DataFrame(rows),
        pd.DataFrame(scheme_rows),
        scores,
        examples,
        explain,
        dropped=dropped,
    )


def _evaluate(
    entity: str,
    model: EntityModel,
    frame: pd.DataFrame,
    scored: pd.DataFrame,
    hindsight: pd.DataFrame,
    capacity: dict[str, int],
    rows: list[dict],
    scheme_rows: list[dict],
) -> None:
    """Metrics of every ranking of ``frame`` (risk, its parts, baselines), appended to
    ``rows`` and ``scheme_rows``; ``scored`` gains the label and scheme."""
    y = target(frame, hindsight).to_numpy()
    scheme = hindsight.scheme.reindex(frame.index)
    methods = {
        "risk": scored["risk"],
        "anomaly": scored["anomaly_score"],
        "rules": frame["rule_severity_score"],
        **baseline_scores(frame, entity),
    }
    if model.supervised is not None or scored["supervised"].notna().any():
        methods["supervised"] = scored["supervised"]
    k = int(capacity.get(entity, 100))
    for method, s in methods.items():
        m = ranking_metrics(y, s.to_numpy(dtype=float), k)
        rows.append({"entity": entity, "method": method, **m})
        for name, r in recall_at_k_by_scheme(y, s.to_numpy(dtype=float), scheme, k).items():
            scheme_rows.append(
                {"entity": entity, "method": method, "scheme": name, "recall_at_k": r}
            )
    scored["label"] = y
    scored["scheme"] = scheme
    best = {r["method"]: r["ap"] for r in rows if r["entity"] == entity}
    log.info(
        "%-8s AP: risk %.3f, anomaly %.3f, best baseline %.3f (%d positives of %d)",
        entity,
        best["risk"],
        best["anomaly"],
        max(v for m, v in best.items() if m.startswith("baseline_")),
        int(y.sum()),
        len(y),
    )


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
) -> TrainingResult:
    """Stratified cross-validation by entity over the whole period.

    Only for data whose labels carry no usable dates (a fraud list for a whole period):
    every entity is scored by models that never saw its label (out of fold), metrics are
    computed on those scores, and the registered models are then fitted on all entities.
    Each fold holds out a stratified fifth of its training part for early stopping and
    calibration. Time-based evaluation stays the default: it is what production sees.
    """
    log.warning(
        "evaluation by stratified %d-fold cross-validation over entities: a mode for data "
        "without usable label dates; scores can be optimistic where fraud drifts over time",
        folds,
    )
    labels = ds.table("labels").to_pandas() if "labels" in ds else None
    frames, _, dropped = frames_and_hits(ds, Window(), rules)
    models: dict[str, EntityModel] = {}
    rows, scheme_rows, scores, examples, explain = [], [], {}, {}, {}
    #: every entity's score, for the network features of providers and doctors
    network: dict[str, pd.DataFrame] = {}
    networked = False
    for entity in ENTITIES:
        if entity in OWNERS and not networked:
            frames = with_network_features(frames, network)
            networked = True
        if entity not in frames or frames[entity].empty:
            continue
        every = frames[entity]
        checked = checked_entities(labels, entity)
        # With explicit negatives (checked and clean), the unlabelled are unknown, not
        # clean: models learn from and are measured on the checked entities only.
        frame = every[every.index.isin(checked)] if checked is not None else every
        if checked is not None:
            log.info(
                "%s: %s of %s entities carry a label (0 or 1); models learn from and are "
                "measured on those, and score all",
                entity,
                f"{len(frame):,}",
                f"{len(every):,}",
            )
        features, anomaly_features = model_columns(every, entity)
        hindsight = labels_as_of(labels, entity, None)
        y = target(frame, hindsight)
        kwargs = dict(
            anomaly=anomaly,
            supervised=supervised,
            features=features,
            anomaly_features=anomaly_features,
            min_positives=min_positives,
            feature_set_version=FEATURE_SET_VERSION,
            rule_lift=None,  # chosen on the held-out part: its labels are complete here
            currency=ds.currency,
        )
        oof = []
        for train_idx, test_idx in entity_folds(y, folds, seed):
            fit_idx, later_idx = inner_split(y.iloc[train_idx], seed)
            part = frame.iloc[train_idx]
            model = fit_entity(
                entity,
                part.iloc[fit_idx],
                y.iloc[train_idx].iloc[fit_idx],
                part.iloc[later_idx],
                y.iloc[train_idx].iloc[later_idx],
                **kwargs,
            )
            oof.append(score_frame(model, frame.iloc[test_idx]))
        fit_idx, later_idx = inner_split(y, seed)
        model = fit_entity(
            entity,
            frame.iloc[fit_idx],
            y.iloc[fit_idx],
            frame.iloc[later_idx],
            y.iloc[later_idx],
            **kwargs,
        )
        if model.note:
            log.warning("%s: %s", entity, model.note)
        models[entity] = model
        examples[entity] = frame[model.inputs].head(5)
        scored = pd.concat(oof).reindex(frame.index) if oof else score_frame(model, frame)
        _evaluate(entity, model, frame, scored, hindsight, capacity, rows, scheme_rows)
        if model.supervised is not None:
            explain[entity] = supervised_inputs(model, frame)
        # Network features of providers and doctors read every entity's score: the
        # out-of-fold ones where known, the final model's for the unlabelled.
        scores[entity] = scored
        rest = every[~every.index.isin(frame.index)]
        network[entity] = pd.concat([scored, score_frame(model, rest)]) if len(rest) else scored
    return TrainingResult(
        None,
        models,
        pd.DataFrame(rows),
        pd.DataFrame(scheme_rows),
        scores,
        examples,
        explain,
        mode="cv",
        dropped=dropped,
    )


def entity_folds(y: pd.Series, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stratified folds of cross-validation by entity (positions into ``y``); none
    when a class has fewer than two members. Rows must come in a fixed order (sorted by
    id) for the folds to be the same from run to run and between methods."""
    n_splits = int(min(folds, y.sum(), (1 - y).sum()))
    if n_splits < 2:
        return []
    outer = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(outer.split(np.zeros(len(y)), y))


def inner_split(y: pd.Series, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a stratified 80/20 split (all rows fit when a class is too rare)."""
    every = np.arange(len(y))
    if y.sum() < 2 or (1 - y).sum() < 2:
        return every, every
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    fit_idx, later_idx = next(splitter.split(np.zeros(len(y)), y))
    return np.sort(fit_idx), np.sort(later_idx)
