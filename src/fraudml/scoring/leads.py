"""Choose the leads of one entity type, lay out their rows of the leads sheet, and put the
leads in the order auditors work them, with money at stake and tiers."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from fraudml.scoring.rank import (
    TierRule,
    lead_ranks,
    money_at_stake,
    per_row,
    priority_tiers,
)

#: the leads sheet: the lead's score, then why (reasons), then its rule evidence
LEAD_COLUMNS = [
    "entity_type",
    "entity_id",
    "claim_kind",
    "score",
    "rank",
    "tier",
    "reserve",
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
            "reserve": ranked["reserve"].to_numpy(dtype=bool) if "reserve" in ranked else False,
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


#: money columns :func:`prioritise` adds to the scores and leads sheets
MONEY_COLUMNS = ["money_at_stake", "rule_amount", "model_amount"]
#: the order an audit team works the lead types in
WORK_ORDER = ("provider", "group", "doctor", "patient", "claim")


def prioritise(
    scores: pd.DataFrame,
    leads: pd.DataFrame,
    fund_paid: Mapping[str, pd.Series],
    rule: TierRule | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scores and leads sheets with money at stake, distinct ranks and tiers from
    calibrated risk and money at stake.

    Parameters
    ----------
    scores : DataFrame
        The scores sheet (:data:`fraudml.scoring.rank.SCORE_COLUMNS`).
    leads : DataFrame
        The leads sheet (:data:`LEAD_COLUMNS`), with ``rule_amount``.
    fund_paid : mapping of str to Series
        Fund paid in the period per lead type, indexed by entity id as text.
    rule : TierRule, optional
        Tier thresholds.

    Returns
    -------
    scores, leads : DataFrame
        Copies with ``rank`` re-set by :func:`fraudml.scoring.rank.lead_ranks` (score,
        then money at stake, then id), ``tier`` by
        :func:`fraudml.scoring.rank.priority_tiers`, and :data:`MONEY_COLUMNS` (the scores
        sheet's rule amount is the lead's, 0 for the others); rows in their order.
    """
    if scores.empty:
        return scores.copy(), leads.copy()
    rule = rule or TierRule()
    ruled = (
        leads.set_index(["entity_type", "entity_id"])["rule_amount"]
        if len(leads) and "rule_amount" in leads
        else pd.Series(dtype=float)
    )
    parts = []
    for entity, g in scores.groupby("entity_type", sort=False):
        ids = g.entity_id.astype(str)
        paid = fund_paid.get(str(entity), pd.Series(dtype=float))
        paid = pd.Series(paid.reindex(ids.to_numpy()).to_numpy(dtype=float), index=g.index)
        amounts = pd.Series(
            ruled.reindex(pd.MultiIndex.from_arrays([g.entity_type, ids])).to_numpy(dtype=float)
            if len(ruled)
            else 0.0,
            index=g.index,
        )
        money = money_at_stake(g.score, paid, amounts)
        ranks = lead_ranks(
            g.score, money.money_at_stake, ids, g.get("novelty"), g.get("reserve"), g.get("rank")
        )
        tiers_ = priority_tiers(g.score, money.money_at_stake, money.rule_amount, rule)
        parts.append(money.assign(rank=ranks, tier=tiers_))
    extra = pd.concat(parts).reindex(scores.index)
    new_scores = scores.assign(rank=extra["rank"].astype("int64"), tier=extra["tier"])
    new_scores = new_scores.assign(**{c: extra[c] for c in MONEY_COLUMNS if c != "rule_amount"})
    new_scores["rule_amount"] = extra["rule_amount"]
    if leads.empty:
        return new_scores, leads.copy()
    key = new_scores.set_index(["entity_type", "entity_id"])
    at = pd.MultiIndex.from_arrays([leads.entity_type, leads.entity_id.astype(str)])
    new_leads = leads.copy()
    for c in ("rank", "tier", "money_at_stake", "model_amount"):
        new_leads[c] = key[c].reindex(at).to_numpy()
    return new_scores, new_leads


def work_order(leads: pd.DataFrame) -> pd.DataFrame:
    """The leads in the order an audit team works them (:data:`WORK_ORDER`, other types
    after), each type by rank; the index kept."""
    if leads.empty:
        return leads
    pos = {t: i for i, t in enumerate(WORK_ORDER)}
    order = leads.entity_type.map(lambda t: pos.get(t, len(pos)))
    return leads.assign(_o=order).sort_values(["_o", "rank"], kind="stable").drop(columns="_o")
