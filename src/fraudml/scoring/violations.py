"""Definite violations (明确违规) as their own output: the deduction list (扣款清单).

A definite violation needs no audit to be acted on: the rule base shows it from the
claim itself (an item outside its catalog restriction, a trace code settled twice). It
goes to the bureau's deduction list with claim, line, rule and amount, totalled per
provider, instead of flooding the auditors' lead list; it still raises its entities'
risk through the rule part of the score.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fraudml.rulebase import Rule

#: the deduction list: one row per definite hit
VIOLATION_COLUMNS = [
    "provider_id",
    "claim_id",
    "line_no",
    "patient_id",
    "doctor_id",
    "rule_id",
    "rule_zh",
    "rule_en",
    "severity",
    "occurred",
    "amount",
    "message_zh",
    "message_en",
]
#: the deduction list totalled per provider
DEDUCTION_COLUMNS = ["provider_id", "claims", "lines", "hits", "amount"]


def violations_sheet(hits: pd.DataFrame, rules: Sequence[Rule]) -> pd.DataFrame:
    """Every definite hit of the period, in :data:`VIOLATION_COLUMNS`.

    Parameters
    ----------
    hits : DataFrame
        Rule hits (:data:`fraudml.rulebase.HIT_COLUMNS`), in
        :func:`fraudml.scoring.evidence.ordered_hits` order (kept).
    rules : sequence of Rule
        The rules that ran (their names, in both languages).

    Returns
    -------
    DataFrame
        The hits whose result is ``definite``, numbered from 0.
    """
    names = {r.id: r.name for r in rules}
    mine = hits[hits.result == "definite"] if "result" in hits else hits.iloc[0:0]
    out = pd.DataFrame(
        {
            "provider_id": mine.get("provider_id"),
            "claim_id": mine.get("claim_id"),
            "line_no": mine.get("line_no"),
            "patient_id": mine.get("patient_id"),
            "doctor_id": mine.get("doctor_id"),
            "rule_id": mine.get("rule_id"),
            "rule_zh": [names[r].zh if r in names else r for r in mine.get("rule_id", [])],
            "rule_en": [names[r].en if r in names else r for r in mine.get("rule_id", [])],
            "severity": mine.get("severity"),
            "occurred": mine.get("occurred"),
            "amount": mine.get("amount"),
            "message_zh": mine.get("message_zh"),
            "message_en": mine.get("message_en"),
        },
        columns=VIOLATION_COLUMNS,
        index=mine.index,
    )
    return out.reset_index(drop=True)


def claim_deductions(violations: pd.DataFrame) -> pd.DataFrame:
    """What each claim with a definite violation would have deducted, counted once.

    Two rules may find the same fee line (a drug over its price cap and outside its age
    range): the line is deducted once, at the larger amount. A claim-level violation (no
    line) deducts its amount; where a claim has both, the larger of the claim-level
    amount and the sum of its lines is taken, since each covers the other.

    Returns
    -------
    DataFrame
        One row per claim: ``provider_id``, ``claim_id``, ``lines`` (distinct fee lines),
        ``hits`` and ``amount``.
    """
    if violations.empty:
        return pd.DataFrame(columns=["provider_id", "claim_id", "lines", "hits", "amount"])
    v = violations.assign(amount=violations.amount.fillna(0.0).astype(float))
    on_lines = v[v.line_no.notna()]
    per_line = on_lines.groupby(["claim_id", "line_no"]).amount.max()
    lines = per_line.groupby(level="claim_id").agg(["sum", "size"])
    on_claims = v[v.line_no.isna()].groupby("claim_id").amount.max()
    claims = v.groupby("claim_id").agg(
        provider_id=("provider_id", "first"), hits=("rule_id", "size")
    )
    claims["lines"] = lines["size"].reindex(claims.index).fillna(0).astype(int)
    claims["amount"] = (
        pd.concat([lines["sum"].reindex(claims.index), on_claims.reindex(claims.index)], axis=1)
        .max(axis=1)
        .fillna(0.0)
        .round(2)
    )
    return claims.reset_index()[["provider_id", "claim_id", "lines", "hits", "amount"]]


def deductions_by_provider(violations: pd.DataFrame) -> pd.DataFrame:
    """The deduction list totalled per provider, the largest amount first.

    Returns
    -------
    DataFrame
        In :data:`DEDUCTION_COLUMNS`: distinct claims and fee lines, hits, and the
        amount (:func:`claim_deductions`, summed), ties by provider id.
    """
    per_claim = claim_deductions(violations)
    if per_claim.empty:
        return pd.DataFrame(columns=DEDUCTION_COLUMNS)
    out = per_claim.groupby("provider_id", dropna=False).agg(
        claims=("claim_id", "size"),
        lines=("lines", "sum"),
        hits=("hits", "sum"),
        amount=("amount", "sum"),
    )
    out["amount"] = out.amount.round(2)
    out = out.reset_index().sort_values(
        ["amount", "provider_id"], ascending=[False, True], kind="stable"
    )
    return out.reset_index(drop=True)[DEDUCTION_COLUMNS]
