"""Generalisation: how the models do on what they were not tuned on (issue 16).

Two measurements, each a table built from evaluation results:

- **A shifted city** — models fitted on one synthetic city, judged on the evaluation
  window of another whose behaviour differs (seed, prevalences, subtlety, start dates,
  prices, provider mix): :func:`headline_table` sets its AP per entity type beside the
  in-sample AP and the best naive baseline of each.
- **Leave one scheme out** — one training run per scheme with that scheme's labels
  withheld (:func:`fraudml.models.fitting.time_fitter`), judged with every label:
  :func:`withheld_table` gives each scheme's recall@K at its own level
  (:func:`own_levels`) beside its in-sample recall.

Runs come in as frames and go out as evaluations (:func:`fit_and_evaluate`,
:func:`score_elsewhere`); everything else turns the frames of an
:class:`~fraudml.models.evaluation.Evaluation` into tables.
Nothing here reads or writes a file (:mod:`fraudml.evaluate.quality` does).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from fraudml.entities import CLAIM_KINDS, ENTITIES
from fraudml.graph import WindowGraph
from fraudml.graph.groups import (
    DOCTOR_GROUP_FEATURES,
    PATIENT_GROUP_FEATURES,
    PROVIDER_GROUP_FEATURES,
)
from fraudml.graph.propagation import GROUP_FLAGGED, with_group_labels
from fraudml.models.evaluation import Evaluation, evaluate
from fraudml.models.fitting import EntityFit, Frames, fit_in_order, time_fitter
from fraudml.models.frames import labels_as_of
from fraudml.models.risk import score_frame
from fraudml.scoring.groups import group_scores

#: The method whose figures the tables lead with, and the isolation forest beside it.
#: ``leads`` is the order scoring hands leads over in: the risk score with the capacity's
#: reserve for label-free evidence (:func:`fraudml.models.evaluation.lead_order`).
FULL_STACK, FOREST, EXTREMES = "leads", "anomaly", "extremes"
BASELINE_PREFIX = "baseline_"


def _order(entity: str) -> int:
    """Position of ``entity`` in fitting order; types outside the vocabulary (a pooled
    ``claim`` row, say) come after every known one."""
    return ENTITIES[entity].order if entity in ENTITIES else len(ENTITIES)


__all__ = [
    "best_baseline",
    "deduction_coverage",
    "fit_and_evaluate",
    "headline_table",
    "own_levels",
    "scheme_positives",
    "score_elsewhere",
    "unfound",
    "withheld_levels",
    "withheld_table",
]


def fit_and_evaluate(
    windows: Frames,
    fit_labels: pd.DataFrame | None,
    until: datetime,
    *,
    judge_labels: pd.DataFrame | None,
    capacity: Mapping[str, int],
    withhold: Collection[str] = (),
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
    **fit_kwargs: Any,
) -> tuple[dict[str, EntityFit], Evaluation]:
    """Fit on ``windows`` and judge the evaluation window, as
    :func:`~fraudml.models.training.train_and_evaluate` does, from frames made once.

    Parameters
    ----------
    windows : mapping
        ``fit``, ``later`` and ``evaluation`` → entity type → frame
        (:func:`fraudml.models.frames.frames_and_hits`). The evaluation frames may come
        from another dataset than the fitting ones (a shifted city).
    fit_labels : DataFrame or None
        The labels the models learn from (those decided before ``until``).
    until : datetime
        The time split's UNTIL.
    judge_labels : DataFrame or None
        The labels the evaluation window is judged with, every one known (hindsight):
        ``fit_labels`` in-sample, the other city's on a shifted city.
    capacity : mapping
        K per entity type.
    withhold : collection of str
        Schemes whose labelled entities stay out of fitting (neither positive nor
        negative) and are judged all the same.
    explore_share : float
        Share of each capacity the lead order reserves for label-free evidence.
    explore_bar : float
        Least label-free evidence a reserved place takes.
    **fit_kwargs
        ``anomaly``, ``supervised``, ``min_positives``, ``feature_set_version``,
        ``currency``: as :func:`~fraudml.models.fitting.time_fitter` takes them.

    Returns
    -------
    fits : dict
        Entity type → :class:`~fraudml.models.fitting.EntityFit`.
    evaluation : Evaluation
        Metrics and per-scheme recall@K of every ranking.
    """
    fitter = time_fitter(fit_labels, until, withhold=withhold, **fit_kwargs)
    fits, _ = fit_in_order(windows, fitter)
    return fits, evaluate(fits, judge_labels, capacity, explore_share, explore_bar)


def score_elsewhere(
    fits: Mapping[str, EntityFit],
    frames: Mapping[str, pd.DataFrame],
    labels: pd.DataFrame | None,
    capacity: Mapping[str, int],
    until: datetime | None = None,
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> tuple[dict[str, EntityFit], Evaluation]:
    """Judge fitted models on another dataset's evaluation window, without refitting.

    The entity types are walked in fitting order (:func:`fit_in_order`), so providers'
    and doctors' network features come from the new window's claim and patient scores,
    as they would in a run fitted afresh on the same data.

    Parameters
    ----------
    fits : mapping
        Entity type → fit of the models to reuse (:func:`fit_and_evaluate`).
    frames : mapping
        Entity type → frame of the window to score (another city's, say).
    labels : DataFrame or None
        That dataset's labels, every one known (hindsight).
    capacity : mapping
        K per entity type.
    until : datetime, optional
        That dataset's UNTIL: fellow group members' labels decided before it reach the
        propagated group feature (:mod:`fraudml.graph.propagation`), as scoring there
        would see them; ``None`` lets every label reach it.
    explore_share : float
        Share of each capacity the lead order reserves for label-free evidence.
    explore_bar : float
        Least label-free evidence a reserved place takes.

    Returns
    -------
    fits : dict
        Entity type → fit holding the reused model and the new window's scores.
    evaluation : Evaluation
        Metrics and per-scheme recall@K on the new window.
    """

    def reuse(entity: str, mine: Mapping[str, pd.DataFrame]) -> EntityFit | None:
        fitted, frame = fits.get(entity), mine.get("evaluation")
        if fitted is None or frame is None:
            return None
        known = labels_as_of(labels, entity, until).index
        frame = with_group_labels(frame, known, out_of_fold=False)
        scored = score_frame(fitted.model, frame)
        return EntityFit(fitted.model, frame, scored, {"evaluation": scored}, fitted.example)

    scored, _ = fit_in_order({"evaluation": frames}, reuse)
    return scored, evaluate(scored, labels, capacity, explore_share, explore_bar)


def scheme_positives(scores: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Labelled positives of each scheme among each entity type's held-out rows.

    Parameters
    ----------
    scores : mapping
        Entity type → held-out scores with ``label`` and ``scheme``
        (:attr:`Evaluation.scores <fraudml.models.evaluation.Evaluation.scores>`).

    Returns
    -------
    DataFrame
        Columns ``entity``, ``scheme``, ``positives``; entity types in fitting order,
        schemes sorted; only pairs with at least one positive.
    """
    rows = []
    for entity in sorted(scores, key=_order):
        frame = scores[entity]
        mine = frame[(frame["label"] == 1) & frame["scheme"].notna()]
        for scheme, n in mine.groupby("scheme").size().sort_index().items():
            rows.append({"entity": entity, "scheme": str(scheme), "positives": int(n)})
    return pd.DataFrame(rows, columns=["entity", "scheme", "positives"])


#: positives an entity-level type (patient, provider, doctor) needs to be a scheme's own
#: level: below, recall@K there is 0 or 1 by one entity, and the claims say more
MIN_ENTITY_POSITIVES = 3


def own_levels(positives: pd.DataFrame) -> pd.DataFrame:
    """Each scheme's own level: the entity the bureau acts on (a patient, a provider, a
    doctor) holding most of its positives, if one holds at least
    :data:`MIN_ENTITY_POSITIVES`; else the claim kind holding most. Claims outnumber
    entities by far (every phantom visit is a labelled claim), so by count alone nearly
    every scheme would be judged at the visit level, where K is a small share of them.

    Parameters
    ----------
    positives : DataFrame
        :func:`scheme_positives` of the evaluation window.

    Returns
    -------
    DataFrame
        One row per scheme (sorted): ``scheme``, ``entity``, ``positives``. A tie goes
        to the type fitted first (:data:`fraudml.entities.ENTITIES`), so the choice is
        the same from run to run.
    """
    if positives.empty:
        return pd.DataFrame(columns=["scheme", "entity", "positives"])
    entity_level = ~positives.entity.isin(CLAIM_KINDS)
    ranked = positives.assign(
        order=positives.entity.map(_order),
        acted_on=(entity_level & (positives.positives >= MIN_ENTITY_POSITIVES)).astype(int),
    )
    ranked = ranked.sort_values(
        ["scheme", "acted_on", "positives", "order"], ascending=[True, False, False, True]
    )
    first = ranked.drop_duplicates("scheme")
    return first[["scheme", "entity", "positives"]].reset_index(drop=True)


def best_baseline(values: pd.Series) -> tuple[str | None, float]:
    """The best naive baseline among ``values``.

    Parameters
    ----------
    values : Series
        Method → figure (AP, recall@K …) of one entity type; methods named
        ``baseline_*`` are the naive rankings, the others are ignored.

    Returns
    -------
    name : str or None
        The baseline's name without its ``baseline_`` prefix (``None`` without any).
    value : float
        Its figure (NaN without any, or when every baseline's is NaN).
    """
    base = values[[m for m in values.index if str(m).startswith(BASELINE_PREFIX)]].dropna()
    if base.empty:
        return None, float("nan")
    name = str(base.idxmax())  # the first of equals, in the order given
    return name[len(BASELINE_PREFIX) :], float(base[name])


def headline_table(
    in_sample: pd.DataFrame, shifted: pd.DataFrame, heldout: pd.DataFrame | None = None
) -> pd.DataFrame:
    """AP per entity type in-sample and on the shifted city, each beside its best baseline.

    Parameters
    ----------
    in_sample, shifted : DataFrame
        :attr:`Evaluation.metrics <fraudml.models.evaluation.Evaluation.metrics>` of the
        in-sample run and of the shifted city (rows entity × method with ``ap``,
        ``positives``, ``n``).
    heldout : DataFrame, optional
        The same for a third city (side ``heldout``).

    Returns
    -------
    DataFrame
        One row per entity type (in fitting order) with, for ``side`` in ``in_sample`` and
        ``shifted``: ``{side}_ap`` (full stack), ``{side}_baseline`` (the best baseline's
        name), ``{side}_baseline_ap``, ``{side}_positives``, ``{side}_n``. A type one side
        lacks has NaN (and ``None``) there.
    """
    sides = [("in_sample", in_sample), ("shifted", shifted)]
    if heldout is not None:
        sides.append(("heldout", heldout))
    entities = set().union(*(set(m.get("entity", ())) for _, m in sides))
    rows = []
    for entity in sorted(entities, key=lambda e: (_order(e), e)):
        row: dict[str, Any] = {"entity": entity}
        for side, metrics in sides:
            mine = (
                metrics[metrics.entity == entity].set_index("method")
                if len(metrics)
                else pd.DataFrame(columns=["ap", "positives", "n"])
            )
            name, ap = best_baseline(mine["ap"]) if len(mine) else (None, float("nan"))
            has = FULL_STACK in mine.index
            row |= {
                f"{side}_ap": float(mine.at[FULL_STACK, "ap"]) if has else float("nan"),
                f"{side}_baseline": name,
                f"{side}_baseline_ap": ap,
                f"{side}_positives": int(mine.at[FULL_STACK, "positives"]) if has else 0,
                f"{side}_n": int(mine.at[FULL_STACK, "n"]) if has else 0,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def scheme_recall(schemes: pd.DataFrame, entity: str, scheme: str) -> pd.Series:
    """Method → recall@K of ``scheme`` at ``entity`` in one run's per-scheme table."""
    if schemes.empty:
        return pd.Series(dtype=float)
    mine = schemes[(schemes.entity == entity) & (schemes.scheme == scheme)]
    return mine.set_index("method")["recall_at_k"].astype(float)


def withheld_levels(withheld: Mapping[str, pd.DataFrame], in_sample: pd.DataFrame) -> pd.DataFrame:
    """The full stack's recall@K of each withheld scheme at every level it has positives,
    beside the same figure with every label known.

    Parameters
    ----------
    withheld : mapping
        Scheme → the per-scheme table (entity, method, scheme, recall_at_k) of the run
        that withheld that scheme's labels.
    in_sample : DataFrame
        The per-scheme table of the in-sample run.

    Returns
    -------
    DataFrame
        Columns ``scheme``, ``entity``, ``recall_at_k`` (withheld) and ``known``
        (in-sample; NaN where that run has no figure): schemes sorted, entity types in
        fitting order.
    """
    rows = []
    for scheme in sorted(withheld):
        table = withheld[scheme]
        if table.empty:
            continue
        mine = table[(table.scheme == scheme) & (table.method == FULL_STACK)]
        for r in sorted(mine.itertuples(), key=lambda r: _order(r.entity)):
            known = scheme_recall(in_sample, r.entity, scheme).get(FULL_STACK, float("nan"))
            rows.append(
                {
                    "scheme": scheme,
                    "entity": r.entity,
                    "recall_at_k": float(r.recall_at_k),
                    "known": float(known),
                }
            )
    return pd.DataFrame(rows, columns=["scheme", "entity", "recall_at_k", "known"])


def unfound(levels: pd.DataFrame) -> list[str]:
    """Schemes the full stack finds at no level when their labels are withheld.

    Parameters
    ----------
    levels : DataFrame
        :func:`withheld_levels`.

    Returns
    -------
    list of str
        Sorted schemes whose withheld recall@K is zero (or undefined) at every level
        they have positives.
    """
    if levels.empty:
        return []
    best = levels.groupby("scheme")["recall_at_k"].max()
    return sorted(best[best.fillna(0) == 0].index)


def deduction_coverage(
    labels: pd.DataFrame | None, definite_claims: Collection[str], claims: Collection[str]
) -> pd.Series:
    """Per scheme, the share of its labelled positive claims among ``claims`` that the
    deduction list holds (a definite rule hit), labels never read by the rules.

    Parameters
    ----------
    labels : DataFrame or None
        The labels (``entity_type``, ``entity_id``, ``label``, ``scheme``).
    definite_claims : collection of str
        Claims with a definite rule hit in the window (the deduction list's claims).
    claims : collection of str
        Every claim of the window (stays and visits).

    Returns
    -------
    Series
        Scheme → share (0 … 1), for the schemes with labelled claims in the window.

    Examples
    --------
    >>> labels = pd.DataFrame({"entity_type": "claim", "entity_id": ["a", "b", "c"],
    ...                        "label": 1, "scheme": ["x", "x", "y"]})
    >>> deduction_coverage(labels, {"a"}, {"a", "b", "c"}).to_dict()
    {'x': 0.5, 'y': 0.0}
    """
    if labels is None or labels.empty:
        return pd.Series(dtype=float)
    mine = labels[
        (labels.label == 1)
        & (labels.entity_type == "claim")
        & labels.entity_id.astype(str).isin({str(c) for c in claims})
        & labels.scheme.notna()
    ].drop_duplicates(["scheme", "entity_id"])
    found = mine.entity_id.astype(str).isin({str(c) for c in definite_claims})
    return found.groupby(mine.scheme).mean().astype(float).sort_index()


def withheld_table(
    withheld: Mapping[str, pd.DataFrame],
    in_sample: pd.DataFrame,
    levels: pd.DataFrame,
    capacity: Mapping[str, int],
    elsewhere: Mapping[str, Mapping[str, pd.DataFrame]] | None = None,
) -> pd.DataFrame:
    """Each scheme's recall@K at its own level with its labels withheld, beside its
    in-sample recall.

    Parameters
    ----------
    withheld : mapping
        Scheme → the per-scheme table of the run that withheld it (entity, method,
        scheme, recall_at_k).
    in_sample : DataFrame
        The per-scheme table of the in-sample run (every scheme's labels known).
    levels : DataFrame
        :func:`own_levels`: scheme, entity, positives.
    capacity : mapping
        K per entity type (shown beside the positives: recall@K cannot pass K/positives).
    elsewhere : mapping, optional
        World name → scheme → the per-scheme table of the same withheld fits scoring
        another city: each world adds a column of that name (the full stack's recall at
        the same level there; NaN where the scheme has no positives there).

    Returns
    -------
    DataFrame
        One row per scheme of ``levels``: ``scheme``, ``entity``, ``positives``, ``k``,
        ``full_stack``, ``forest``, ``extremes`` (the signal extremes alone), ``baseline``
        (the best one's name), ``baseline_recall``
        (withheld run), ``in_sample`` (full stack, labels known), then one column per
        world of ``elsewhere``. A scheme without a run has NaN figures.
    """
    elsewhere = elsewhere or {}
    rows = []
    for r in levels.itertuples():
        mine = scheme_recall(withheld.get(r.scheme, pd.DataFrame()), r.entity, r.scheme)
        known = scheme_recall(in_sample, r.entity, r.scheme)
        name, base = best_baseline(mine)
        rows.append(
            {
                "scheme": r.scheme,
                "entity": r.entity,
                "positives": int(r.positives),
                "k": int(capacity.get(r.entity, ENTITIES[r.entity].capacity)),
                "full_stack": float(mine.get(FULL_STACK, float("nan"))),
                "forest": float(mine.get(FOREST, float("nan"))),
                "extremes": float(mine.get(EXTREMES, float("nan"))),
                "baseline": name,
                "baseline_recall": base,
                "in_sample": float(known.get(FULL_STACK, float("nan"))),
                **{
                    world: float(
                        scheme_recall(tables.get(r.scheme, pd.DataFrame()), r.entity, r.scheme).get(
                            FULL_STACK, float("nan")
                        )
                    )
                    for world, tables in elsewhere.items()
                },
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "scheme",
            "entity",
            "positives",
            "k",
            "full_stack",
            "forest",
            "extremes",
            "baseline",
            "baseline_recall",
            "in_sample",
            *elsewhere,
        ],
    )


#: schemes whose detection the network (fraudml.graph) is meant to lift (issue 17)
NETWORK_SCHEMES = ("gang_swiping", "phantom_billing", "card_lending")


def network_columns(frame: pd.DataFrame) -> list[str]:
    """The columns :mod:`fraudml.graph` adds to a frame: the group features (with their
    peer columns), the propagated group labels and ``group_id``."""
    names = {*PATIENT_GROUP_FEATURES, *PROVIDER_GROUP_FEATURES, *DOCTOR_GROUP_FEATURES}
    return [
        c for c in frame.columns if c.split("__", 1)[0] in names or c in (GROUP_FLAGGED, "group_id")
    ]


def frames_without_network(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """One window's frames with every column of :func:`network_columns` dropped: what the
    models saw before the network existed."""
    return {e: f.drop(columns=network_columns(f)) for e, f in frames.items()}


def without_network(windows: Frames) -> dict[str, dict[str, pd.DataFrame]]:
    """:func:`frames_without_network` of every window."""
    return {w: frames_without_network(frames) for w, frames in windows.items()}


def group_lead_recall(
    graph: WindowGraph, patient_risk: pd.Series, positives: pd.Index, k: int
) -> tuple[float, int]:
    """Share of ``positives`` (patients) among the members of the top ``k`` groups of
    ``graph``, ranked by their score as scoring ranks group leads
    (:func:`fraudml.scoring.groups.group_scores`), and the number of those groups'
    members."""
    members = graph.members
    if members.empty or len(positives) == 0:
        return 0.0, 0
    ranked = group_scores(graph, patient_risk).risk.sort_values(ascending=False, kind="stable")
    inside = members[members.group_id.isin(ranked.index[:k])].member_id
    found = pd.Index(positives).isin(inside.to_numpy()).sum()
    return float(found) / len(positives), len(inside)
