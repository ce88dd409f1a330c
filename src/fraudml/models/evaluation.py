"""Evaluation of fitted models: held-out scores in, metric tables out.

Every ranking of an entity type is judged the same way, with every label known
(hindsight): the risk score, its parts (anomaly, supervised, rules) and the naive
baselines of the entity vocabulary, computed on the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fraudml.entities import CLAIM_KINDS, ENTITIES, lead_capacity
from fraudml.evaluate.metrics import ranking_metrics, recall_at_k_by_scheme
from fraudml.models.fitting import EntityFit
from fraudml.models.frames import labels_as_of, target
from fraudml.models.fusion import reserve_order

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    #: one row per entity type × method: ap, roc_auc, precision_at_k, recall_at_k, …
    metrics: pd.DataFrame
    #: one row per entity type × method × scheme: recall_at_k
    schemes: pd.DataFrame
    #: held-out scores per entity type with ``label`` and ``scheme`` (hindsight)
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)


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


def lead_order(
    scored: pd.DataFrame, k: int, explore_share: float, explore_bar: float = 0.0
) -> pd.Series:
    """The order scoring hands leads over in (:func:`~fraudml.models.fusion.reserve_order`:
    risk, with ``explore_share`` of the capacity ``k`` reserved for label-free evidence of
    at least ``explore_bar``), as a score: the first lead highest."""
    novelty = scored["novelty"] if "novelty" in scored else scored["risk"]
    order, _ = reserve_order(
        scored["risk"].to_numpy(), novelty.to_numpy(), k, explore_share, explore_bar
    )
    value = np.empty(len(order))
    value[order] = np.arange(len(order), 0, -1)
    return pd.Series(value, index=scored.index)


def rankings(
    fit: EntityFit,
    entity: str,
    k: int | None = None,
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> dict[str, pd.Series]:
    """Every ranking of ``fit``'s held-out rows: method name → score. ``leads`` is the
    order leads go to the auditors (``k`` their capacity, ``explore_share`` its
    reserve, ``explore_bar`` the reserve's least evidence); ``risk`` the risk score
    alone; ``extremes`` the signal extremes alone
    (:class:`~fraudml.models.extremes.SignalExtremes`), where the model has them."""
    scored, frame = fit.heldout, fit.frame
    k = ENTITIES[entity].capacity if k is None else k
    methods = {
        "leads": lead_order(scored, k, explore_share, explore_bar),
        "risk": scored["risk"],
        "anomaly": scored["anomaly_score"],
        "rules": frame["rule_severity_score"],
        **baseline_scores(frame, entity),
    }
    if "signal_score" in scored:  # models fitted before the signal extremes have none
        methods["extremes"] = scored["signal_score"]
    if fit.model.supervised is not None or scored["supervised"].notna().any():
        methods["supervised"] = scored["supervised"]
    return methods


def evaluate_entity(
    entity: str,
    fit: EntityFit,
    hindsight: pd.DataFrame,
    k: int,
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Metrics and per-scheme recall@``k`` of every ranking of ``fit``, and its held-out
    scores with ``label`` and ``scheme``."""
    y = target(fit.frame, hindsight).to_numpy()
    scheme = hindsight.scheme.reindex(fit.frame.index)
    methods = rankings(fit, entity, k, explore_share, explore_bar)
    metrics, schemes = judge(entity, methods, y, scheme, k)
    labelled = fit.heldout.assign(label=y, scheme=scheme)
    ap = dict(zip(metrics.method, metrics.ap, strict=True))
    log.info(
        "%-8s AP: leads %.3f, risk %.3f, anomaly %.3f, best baseline %.3f (%d positives of %d)",
        entity,
        ap["leads"],
        ap["risk"],
        ap["anomaly"],
        max(v for m, v in ap.items() if m.startswith("baseline_")),
        int(y.sum()),
        len(y),
    )
    return metrics, schemes, labelled


def judge(
    entity: str, methods: Mapping[str, pd.Series], y: np.ndarray, scheme: pd.Series, k: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ranking metrics and per-scheme recall@``k`` of each of ``methods`` (name → score,
    aligned with ``y`` and ``scheme``), one row per method and per method × scheme."""
    rows, scheme_rows = [], []
    for method, s in methods.items():
        values = s.to_numpy(dtype=float)
        rows.append({"entity": entity, "method": method, **ranking_metrics(y, values, k)})
        for name, r in recall_at_k_by_scheme(y, values, scheme, k).items():
            scheme_rows.append(
                {"entity": entity, "method": method, "scheme": name, "recall_at_k": r}
            )
    return pd.DataFrame(rows), pd.DataFrame(scheme_rows)


def evaluate_claims(
    labelled: Mapping[str, pd.DataFrame],
    frames: Mapping[str, pd.DataFrame],
    k: int,
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stays and visits read together, as scoring ranks them: one scale for a period's
    claims (the risk, the rules and the fund's payment; the anomaly scores of two kinds
    are not on one scale and are not pooled).

    Parameters
    ----------
    labelled : mapping of str to DataFrame
        :func:`evaluate_entity`'s labelled held-out scores of each claim kind.
    frames : mapping of str to DataFrame
        The held-out rows of each claim kind (their ``rule_severity_score`` and
        ``fund_paid``).
    k : int
        The auditors' capacity for claims.
    explore_share : float
        Share of ``k`` reserved for label-free evidence (:func:`lead_order`).
    explore_bar : float
        Least label-free evidence a reserved place takes (:func:`lead_order`).
    """
    kinds = [kind for kind in CLAIM_KINDS if kind in labelled]
    scored = pd.concat([labelled[kind] for kind in kinds])
    rows = pd.concat([frames[kind] for kind in kinds])
    y = scored["label"].to_numpy()
    methods = {
        "leads": lead_order(scored, k, explore_share, explore_bar),
        "risk": scored["risk"],
        "rules": rows["rule_severity_score"],
    }
    if "fund_paid" in rows:
        methods["baseline_fund_paid"] = rows["fund_paid"]
    return judge("claim", methods, y, scored["scheme"], k)


def evaluate(
    fits: Mapping[str, EntityFit],
    labels: pd.DataFrame | None,
    capacity: Mapping[str, int],
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> Evaluation:
    """Judge every fit's held-out scores with every label known; K per entity type is
    the auditors' ``capacity`` (the vocabulary's default where it names none), of which
    ``explore_share`` is reserved for label-free evidence of at least ``explore_bar`` in
    the lead order (method ``leads``, :func:`lead_order`). Claims of every kind are also
    judged together (entity ``claim``), as scoring ranks them."""
    metrics, schemes, scores = [], [], {}
    for entity, fit in fits.items():
        k = int(capacity.get(entity, ENTITIES[entity].capacity))
        m, s, scores[entity] = evaluate_entity(
            entity, fit, labels_as_of(labels, entity, None), k, explore_share, explore_bar
        )
        metrics.append(m)
        schemes.append(s)
    kinds = [kind for kind in CLAIM_KINDS if kind in fits]
    if kinds:
        m, s = evaluate_claims(
            {kind: scores[kind] for kind in kinds},
            {kind: fits[kind].frame for kind in kinds},
            lead_capacity(capacity, "claim", kinds),
            explore_share,
            explore_bar,
        )
        metrics.append(m)
        schemes.append(s)
    return Evaluation(_stacked(metrics), _stacked(schemes), scores)


def _stacked(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
