"""Choose the leads of one entity type and lay out their rows of the leads sheet."""

from __future__ import annotations

import pandas as pd

from fraudml.scoring.rank import per_row

#: the leads sheet: the lead's score, then why (reasons), then its rule evidence
LEAD_COLUMNS = [
    "entity_type",
    "entity_id",
    "claim_kind",
    "score",
    "rank",
    "tier",
    "model",
    "reasons_zh",
    "reasons_en",
    "reasons_json",
    "rule_hits",
    "rule_ids",
    "rule_amount",
    "evidence_claims",
]


def definite_violations(frame: pd.DataFrame) -> pd.Series:
    """Whether each entity has at least one definite rule violation.

    Parameters
    ----------
    frame : DataFrame
        Profiles of one entity type, with ``rule_definite_hits`` where rules ran.

    Returns
    -------
    Series of bool
        Indexed like ``frame``; all ``False`` without a ``rule_definite_hits`` column.
    """
    if "rule_definite_hits" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["rule_definite_hits"] > 0


def choose_leads(ranks: pd.Series, capacity: int, definite: pd.Series | None = None) -> pd.Index:
    """The entities to hand to the auditors.

    Parameters
    ----------
    ranks : Series
        Rank per entity (1 = riskiest).
    capacity : int
        Leads the auditors can take for this entity type: the top ``capacity`` ranks.
    definite : Series of bool, optional
        Entities with a definite rule violation (:func:`definite_violations`): leads
        whatever their rank, since a definite violation is worth an audit on its own.
        ``None`` leaves them to their rank.

    Returns
    -------
    Index
        The leads, in the order of ``ranks``.
    """
    chosen = ranks <= capacity
    if definite is not None:
        chosen |= definite.reindex(ranks.index, fill_value=False).astype(bool)
    return ranks.index[chosen.to_numpy()]


def lead_table(
    entity: str,
    model: str | pd.Series,
    ranked: pd.DataFrame,
    reasons: pd.DataFrame,
    hits: pd.DataFrame,
    claim_kind: pd.Series | None = None,
) -> pd.DataFrame:
    """The leads sheet's rows of one lead type, in :data:`LEAD_COLUMNS`.

    Parameters
    ----------
    entity : str
        The lead type, in the labels' vocabulary (``claim`` for stays and visits).
    model : str or Series
        The model that scored it, ``name@version`` (per lead for claims).
    ranked : DataFrame
        :func:`fraudml.scoring.rank.rank_entities` of the leads (``score``, ``rank``,
        ``tier``), indexed by lead; its order is the rows' order.
    reasons : DataFrame
        :func:`fraudml.scoring.reasons.lead_reasons` of the leads.
    hits : DataFrame
        :func:`fraudml.scoring.evidence.hit_summary` of the leads.
    claim_kind : Series, optional
        ``stay`` or ``visit`` per claim lead; empty for other types.

    Returns
    -------
    DataFrame
        One row per lead, numbered from 0; ``entity_id`` as text.
    """
    leads = ranked.index
    reasons, hits = reasons.reindex(leads), hits.reindex(leads)
    return pd.DataFrame(
        {
            "entity_type": entity,
            "entity_id": leads.astype(str),
            "claim_kind": per_row(claim_kind, leads),
            "score": ranked["score"].to_numpy(),
            "rank": ranked["rank"].to_numpy(),
            "tier": ranked["tier"].to_numpy(),
            "model": per_row(model, leads),
            "reasons_zh": reasons["reasons_zh"].to_numpy(),
            "reasons_en": reasons["reasons_en"].to_numpy(),
            "reasons_json": reasons["reasons_json"].to_numpy(),
            "rule_hits": hits["rule_hits"].to_numpy(),
            "rule_ids": hits["rule_ids"].to_numpy(),
            "rule_amount": hits["rule_amount"].to_numpy(),
            "evidence_claims": hits["evidence_claims"].to_numpy(),
        },
        columns=LEAD_COLUMNS,
    )
