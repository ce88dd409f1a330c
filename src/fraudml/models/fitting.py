"""Fitting every entity type's models, in the vocabulary's order, apart from evaluation.

One skeleton serves both ways of holding data out: :func:`fit_in_order` walks the entity
types in fitting order (:data:`fraudml.entities.ENTITIES`), gives providers and doctors
their network features from the scores already made, and asks a *fitter* for each type.
A fitter returns an :class:`EntityFit`: the models, the held-out scores evaluation will
judge, and the scores of each window that later owners' network features read.

- :func:`time_fitter`: fit before UNTIL, stop and calibrate on the later slice, hold out
  the evaluation window (what production sees);
- :func:`cv_fitter`: stratified cross-validation by entity for labels without usable
  dates, scores out of fold, registered models refitted on every labelled entity.

Nothing here computes a metric (:mod:`fraudml.models.evaluation` does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from fraudml.entities import ENTITIES, OWNERS
from fraudml.graph.propagation import with_group_labels
from fraudml.models.frames import checked_entities, labels_as_of, model_columns, target
from fraudml.models.network import with_network_features
from fraudml.models.risk import EntityModel, fit_entity, score_frame

log = logging.getLogger(__name__)

#: window name → entity type → its frame
Frames = Mapping[str, Mapping[str, pd.DataFrame]]


@dataclass
class EntityFit:
    """One entity type's fitted models and what they scored."""

    model: EntityModel
    #: the rows evaluation judges (the evaluation window, or the labelled entities)
    frame: pd.DataFrame
    #: their scores from models that never saw them (``score_frame`` columns)
    heldout: pd.DataFrame
    #: window name → every scored row of that window, for owners' network features
    window_scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: a few rows of the model's input (the example logged with the model)
    example: pd.DataFrame | None = None


#: entity type and its frames per window → its fit, or ``None`` when it has nothing to fit
Fitter = Callable[[str, Mapping[str, pd.DataFrame]], "EntityFit | None"]


def fit_in_order(windows: Frames, fitter: Fitter) -> tuple[dict[str, EntityFit], Frames]:
    """Fit every entity type ``windows`` holds, claims and patients before their owners
    (types no window holds are not asked for).

        Returns the fits and the windows' frames as the owners saw them (with network
        features). Neither argument is changed.
    """
    frames: dict[str, Mapping[str, pd.DataFrame]] = dict(windows)
    seen: dict[str, dict[str, pd.DataFrame]] = {w: {} for w in frames}
    fits: dict[str, EntityFit] = {}
    networked = False
    for entity in ENTITIES:
        if entity in OWNERS and not networked:
            frames = {w: with_network_features(dict(f), seen[w]) for w, f in frames.items()}
            networked = True
        mine = {w: f[entity] for w, f in frames.items() if entity in f}
        if not mine:  # the data gives no profiles of this type (no doctor ids, say)
            continue
        fit = fitter(entity, mine)
        if fit is None:
            continue
        if fit.model.note:
            log.warning("%s: %s", entity, fit.model.note)
        fits[entity] = fit
        for w, scores in fit.window_scores.items():
            seen[w][entity] = scores
    return fits, frames


def withheld_entities(
    labels: pd.DataFrame | None, entity: str, schemes: Collection[str]
) -> pd.Index:
    """Ids of ``entity`` labelled positive for one of ``schemes`` at any date."""
    if labels is None or labels.empty or not schemes:
        return pd.Index([], dtype=object)
    mine = labels[
        (labels.entity_type == ENTITIES[entity].label_type)
        & (labels.label == 1)
        & labels.scheme.isin(list(schemes))
    ]
    return pd.Index(mine.entity_id.astype(str).unique())


def time_fitter(
    labels: pd.DataFrame | None,
    until: datetime,
    *,
    withhold: Collection[str] = (),
    **fit_kwargs: Any,
) -> Fitter:
    """A fitter on the windows ``fit``, ``later`` and ``evaluation`` of a time split,
    learning from the labels decided before ``until``.

    ``withhold`` names schemes whose labels the models must not learn from, to measure
    how a scheme nobody has labelled yet is found: its labelled entities are left out of
    the fitting window and the later slice (neither positives nor negatives), and are
    still scored and judged in the evaluation window.
    """

    def fit_one(entity: str, frames: Mapping[str, pd.DataFrame]) -> EntityFit | None:
        fit, evaluation = frames.get("fit"), frames.get("evaluation")
        if fit is None or fit.empty or evaluation is None:
            log.warning("%s: no profiles in the fitting or evaluation window; skipped", entity)
            return None
        later = frames["later"]
        hidden = withheld_entities(labels, entity, withhold)
        known = labels_as_of(labels, entity, until)
        # group members' labels known by UNTIL (the withheld never): out of fold where
        # the model learns, every other member's elsewhere, as scoring will see them
        spread = known.index.difference(hidden)
        whole_fit = with_group_labels(frames["fit"], spread, out_of_fold=True)
        later = with_group_labels(later, spread, out_of_fold=False)
        evaluation = with_group_labels(evaluation, spread, out_of_fold=False)
        fit = whole_fit
        if len(hidden):
            fit, later = fit[~fit.index.isin(hidden)], later[~later.index.isin(hidden)]
        features, anomaly_features = model_columns(fit, entity)
        model = fit_entity(
            entity,
            fit,
            target(fit, known),
            later,
            target(later, known),
            features=features,
            anomaly_features=anomaly_features,
            **fit_kwargs,
        )
        # owners' network features read every row of a window, the withheld included
        scored = {"fit": score_frame(model, whole_fit)}
        if not frames["later"].empty:
            scored["later"] = score_frame(
                model, with_group_labels(frames["later"], spread, out_of_fold=False)
            )
        scored["evaluation"] = score_frame(model, evaluation)
        return EntityFit(
            model,
            evaluation,
            scored["evaluation"],
            scored,
            fit[model.inputs].head(5),
        )

    return fit_one


def cv_fitter(labels: pd.DataFrame | None, *, folds: int, seed: int, **fit_kwargs: Any) -> Fitter:
    """A fitter on the single window ``all``: stratified ``folds``-fold cross-validation
    by entity, every labelled entity scored out of fold.

    With explicit negatives (checked and found clean), the unlabelled are unknown, not
    clean: models learn from and are judged on the checked entities only, and score all.
    Each fold holds out a stratified fifth of its training part for early stopping and
    calibration; the registered model is fitted the same way on every labelled entity.
    """

    def fit_one(entity: str, frames: Mapping[str, pd.DataFrame]) -> EntityFit | None:
        every = frames.get("all")
        if every is None or every.empty:
            return None
        # undated labels: every member's label is a training label, so always out of fold
        every = with_group_labels(every, labels_as_of(labels, entity, None).index, out_of_fold=True)
        checked = checked_entities(labels, entity)
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
        y = target(frame, labels_as_of(labels, entity, None))
        kwargs = dict(features=features, anomaly_features=anomaly_features, **fit_kwargs)
        oof = []
        for train_idx, test_idx in entity_folds(y, folds, seed):
            part, y_part = frame.iloc[train_idx], y.iloc[train_idx]
            fit_idx, later_idx = inner_split(y_part, seed)
            model = fit_entity(
                entity,
                part.iloc[fit_idx],
                y_part.iloc[fit_idx],
                part.iloc[later_idx],
                y_part.iloc[later_idx],
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
        heldout = pd.concat(oof).reindex(frame.index) if oof else score_frame(model, frame)
        # owners' network features read every entity's score: the out-of-fold ones where
        # known, the final model's for the unlabelled
        rest = every[~every.index.isin(frame.index)]
        network = pd.concat([heldout, score_frame(model, rest)]) if len(rest) else heldout
        return EntityFit(model, frame, heldout, {"all": network}, frame[model.inputs].head(5))

    return fit_one


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
