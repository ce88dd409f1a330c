"""Rank the scored entities of one type and put them in tiers of the auditors' capacity."""

from __future__ import annotations

import pandas as pd

#: the scores sheet: one row per scored entity, in the order the entities were scored
SCORE_COLUMNS = [
    "entity_type",
    "entity_id",
    "claim_kind",
    "score",
    "rank",
    "anomaly_score",
    "supervised",
    "rule_part",
    "model",
    "tier",
]


def risk_ranks(risk: pd.Series) -> pd.Series:
    """Rank of each entity by descending risk.

    Parameters
    ----------
    risk : Series
        Risk per entity, indexed by entity.

    Returns
    -------
    Series
        ``1`` for the riskiest up to ``len(risk)``, indexed like ``risk``. Equal risks
        keep their order in ``risk`` (a stable sort), so identical runs rank alike.
    """
    ordered = risk.sort_values(ascending=False, kind="stable")
    return pd.Series(range(1, len(ordered) + 1), index=ordered.index).reindex(risk.index)


def tier(rank: int, capacity: int) -> str:
    """A: within the auditors' capacity; B: within three times it; C: the rest."""
    return "A" if rank <= capacity else ("B" if rank <= 3 * capacity else "C")


def tiers(ranks: pd.Series, capacity: int) -> pd.Series:
    """The :func:`tier` of each rank.

    Parameters
    ----------
    ranks : Series
        Ranks (1 = riskiest), indexed by entity.
    capacity : int
        Leads the auditors can take for this entity type.

    Returns
    -------
    Series
        ``"A"``, ``"B"`` or ``"C"`` per entity, indexed like ``ranks``.
    """
    return pd.Series([tier(int(r), capacity) for r in ranks], index=ranks.index, dtype="str")


def rank_entities(scored: pd.DataFrame, capacity: int) -> pd.DataFrame:
    """Each scored entity's risk, rank and tier.

    Parameters
    ----------
    scored : DataFrame
        :func:`fraudml.models.risk.score_frame` of one entity type: ``risk``,
        ``anomaly_score``, ``supervised`` and ``rule_part`` per entity.
    capacity : int
        Leads the auditors can take for this entity type (tier A).

    Returns
    -------
    DataFrame
        Indexed like ``scored``: ``score`` (the risk), ``rank``, ``tier``,
        ``anomaly_score``, ``supervised`` and ``rule_part``.
    """
    ranks = risk_ranks(scored["risk"])
    return pd.DataFrame(
        {
            "score": scored["risk"],
            "rank": ranks,
            "tier": tiers(ranks, capacity),
            "anomaly_score": scored["anomaly_score"],
            "supervised": scored["supervised"],
            "rule_part": scored["rule_part"],
        },
        index=scored.index,
    )


def scores_sheet(
    entity: str,
    ranked: pd.DataFrame,
    model: str | pd.Series,
    claim_kind: pd.Series | None = None,
) -> pd.DataFrame:
    """The scores sheet's rows of one lead type, in :data:`SCORE_COLUMNS`.

    Parameters
    ----------
    entity : str
        The lead type, in the labels' vocabulary (``claim`` for stays and visits).
    ranked : DataFrame
        :func:`rank_entities` of the lead type.
    model : str or Series
        The model that scored them, ``name@version`` (per row for claims, whose kinds
        have models of their own).
    claim_kind : Series, optional
        ``stay`` or ``visit`` per claim, indexed like ``ranked``; empty for other types.

    Returns
    -------
    DataFrame
        One row per entity in ``ranked``'s order, numbered from 0; ``entity_id`` as text.
    """
    sheet = pd.DataFrame(
        {
            "entity_type": entity,
            "entity_id": ranked.index.astype(str),
            "claim_kind": per_row(claim_kind, ranked.index),
            "score": ranked["score"].to_numpy(),
            "rank": ranked["rank"].to_numpy(),
            "anomaly_score": ranked["anomaly_score"].to_numpy(),
            "supervised": ranked["supervised"].to_numpy(),
            "rule_part": ranked["rule_part"].to_numpy(),
            "model": per_row(model, ranked.index),
            "tier": ranked["tier"].to_numpy(),
        }
    )
    return sheet[SCORE_COLUMNS]


def per_row(value: object, index: pd.Index) -> object:
    """A per-row Series aligned to ``index`` as values; a scalar (or ``None``) as is."""
    if isinstance(value, pd.Series):
        return value.reindex(index).to_numpy(dtype=object)
    return value
