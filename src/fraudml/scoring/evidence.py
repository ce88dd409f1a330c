"""The rule evidence of leads: their hits in a fixed order, a summary per lead and the
evidence sheet."""

from __future__ import annotations

import pandas as pd

from fraudml.rulebase import HIT_COLUMNS

#: evidence claims listed per lead (the first ones in :func:`ordered_hits` order)
MAX_EVIDENCE_CLAIMS = 20
#: how hits are ordered before any cap: the largest amounts first, then by claim, fee
#: line and rule (the engine returns them in no fixed order); the other columns, in
#: this order, settle what remains, so that identical runs keep identical hits
HIT_ORDER: tuple[tuple[str, bool], ...] = (
    ("amount", False),
    ("claim_id", True),
    ("line_no", True),
    ("rule_id", True),
    ("entity_type", True),
    ("entity_id", True),
)

#: the evidence sheet: the lead, then each hit's rule, claim, amount and text
EVIDENCE_COLUMNS = [
    "lead_type",
    "lead_id",
    *(c for c in HIT_COLUMNS if c not in ("family", "entity_type", "entity_id")),
]

#: per lead: how many hits, which rules, their amount and the claims to pull
SUMMARY_COLUMNS = ["rule_hits", "rule_ids", "rule_amount", "evidence_claims"]


def ordered_hits(hits: pd.DataFrame) -> pd.DataFrame:
    """``hits`` in :data:`HIT_ORDER` (missing values last), renumbered from 0."""
    first = [c for c, _ in HIT_ORDER if c in hits.columns]
    by = [*first, *(c for c in hits.columns if c not in first)]
    ascending = [dict(HIT_ORDER).get(c, True) for c in by]
    ordered = hits.sort_values(by, ascending=ascending, na_position="last", kind="stable")
    return ordered.reset_index(drop=True)


def evidence_claims(lead_hits: pd.DataFrame, cap: int = MAX_EVIDENCE_CLAIMS) -> list[str]:
    """The distinct claims of a lead's (ordered) hits, the first ``cap`` of them."""
    return list(dict.fromkeys(lead_hits.claim_id.dropna().astype(str)))[:cap]


def leads_hits(hits: pd.DataFrame, key: str, leads: pd.Index) -> pd.DataFrame:
    """The hits that concern ``leads``.

    Parameters
    ----------
    hits : DataFrame
        Rule hits (:data:`fraudml.rulebase.HIT_COLUMNS`), in :func:`ordered_hits` order.
    key : str
        The column of ``hits`` naming the leads' entity (``patient_id``, ``claim_id``…).
    leads : Index
        The leads of one entity type.

    Returns
    -------
    DataFrame
        The hits whose ``key`` is a lead, in ``hits``' order (no rows when ``hits`` has
        no ``key`` column).
    """
    if key not in hits:
        return hits.iloc[0:0]
    return hits[hits[key].isin(leads)]


def hit_summary(
    hits: pd.DataFrame, key: str, leads: pd.Index, cap: int = MAX_EVIDENCE_CLAIMS
) -> pd.DataFrame:
    """What the rules found on each lead.

    Parameters
    ----------
    hits : DataFrame
        The leads' hits (:func:`leads_hits`), in :func:`ordered_hits` order.
    key : str
        The column of ``hits`` naming the lead.
    leads : Index
        The leads; a lead without hits gets zero hits and empty texts.
    cap : int
        Claims listed per lead (:func:`evidence_claims`).

    Returns
    -------
    DataFrame
        Indexed by ``leads`` in their order, in :data:`SUMMARY_COLUMNS`: ``rule_hits``
        (count), ``rule_ids`` (the distinct rules, sorted, comma-separated),
        ``rule_amount`` (sum of the hits' amounts, rounded to cents) and
        ``evidence_claims`` (the first ``cap`` distinct claims, comma-separated).
    """
    none = hits.iloc[0:0]
    by_lead = hits.groupby(key) if key in hits else None
    rows = []
    for lead in leads:
        mine = by_lead.get_group(lead) if by_lead is not None and lead in by_lead.groups else none
        rows.append(
            {
                "rule_hits": len(mine),
                "rule_ids": ",".join(sorted(set(mine.rule_id))),
                "rule_amount": round(float(mine.amount.sum()), 2),
                "evidence_claims": ",".join(evidence_claims(mine, cap)),
            }
        )
    return pd.DataFrame(rows, index=leads, columns=SUMMARY_COLUMNS)


def evidence_sheet(entity: str, hits: pd.DataFrame, key: str) -> pd.DataFrame:
    """The evidence sheet's rows of one entity type's leads, in :data:`EVIDENCE_COLUMNS`.

    Parameters
    ----------
    entity : str
        The leads' entity type (``lead_type``).
    hits : DataFrame
        The leads' hits (:func:`leads_hits`), in :func:`ordered_hits` order.
    key : str
        The column of ``hits`` naming the lead (``lead_id``, as text).

    Returns
    -------
    DataFrame
        One row per hit, in ``hits``' order and index.
    """
    return hits.assign(lead_type=entity, lead_id=hits[key].astype(str))[EVIDENCE_COLUMNS]
