"""The providers' credit rating (信用评价): verdicts, recoveries, rule hits, practitioners.

Each provider starts at 100 and loses, item by item and each item capped
(:class:`~fraudml.loop.settings.CreditRules`), for what the rating window (the
``window_days`` before ``until``) holds:

- confirmed and partial verdicts on the provider, on claims it billed, or on its doctors;
- the amount recovered as a percent of what the fund paid it;
- rule hits per 100 of its claims;
- its practitioners suspended or terminated as of ``until`` (the points ledger).

The score gives the grade (A/B/C/D by default). Pure frames in, one frame out, one row per
provider with every item beside the score, so the report can show why.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from fraudml.loop.settings import CreditRules

CREDIT_COLUMNS: tuple[str, ...] = (
    "provider_id",
    "grade",
    "score",
    "claims",
    "fund_paid",
    "verdicts",
    "amount_recovered",
    "recovered_percent",
    "rule_hits",
    "hits_per_100_claims",
    "suspended",
    "terminated",
    "deduct_verdicts",
    "deduct_recovered",
    "deduct_hits",
    "deduct_practitioners",
    "as_of",
)


def attribute(
    history: pd.DataFrame, claim_providers: pd.DataFrame, doctors: pd.DataFrame
) -> pd.DataFrame:
    """The verdicts of ``history`` with the provider each concerns (``provider_id``):
    the provider itself, the claim's provider, or the doctor's employer; verdicts on a
    patient concern no provider and are left out."""
    by_claim = dict(
        zip(claim_providers.claim_id.astype(str), claim_providers.provider_id, strict=True)
    )
    by_doctor = dict(zip(doctors.doctor_id.astype(str), doctors.provider_id, strict=True))
    owner = []
    for t, i in zip(history.entity_type, history.entity_id.astype(str), strict=True):
        owner.append(
            i
            if t == "provider"
            else by_claim.get(i)
            if t == "claim"
            else by_doctor.get(i)
            if t == "doctor"
            else None
        )
    out = history.assign(provider_id=owner)
    return out[out.provider_id.notna()].reset_index(drop=True)


def in_window(frame: pd.DataFrame, column: str, until: date, days: int) -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` (a date) falls in the ``days`` before ``until``."""
    start = until - timedelta(days=days)
    when = [pd.Timestamp(v).date() for v in frame[column]]
    return frame[[start <= d < until for d in when]]


def credit_rating(
    providers: pd.DataFrame,
    verdicts: pd.DataFrame,
    activity: pd.DataFrame,
    hits: pd.DataFrame,
    status: pd.DataFrame,
    rules: CreditRules,
    until: date,
) -> pd.DataFrame:
    """The rating of every provider as of ``until``.

    Parameters
    ----------
    providers : DataFrame
        ``provider_id`` of every provider rated.
    verdicts : DataFrame
        :func:`attribute`'s verdicts (``provider_id``, ``verdict``, ``decided_at``,
        ``amount_recovered``); only those in the window count.
    activity : DataFrame
        ``provider_id``, ``claims`` and ``fund_paid`` of the window.
    hits : DataFrame
        ``provider_id`` and ``rule_hits`` of the window (empty: no rule item).
    status : DataFrame
        The ledger's status (``provider_id``, ``status``).
    rules : CreditRules
    until : date
    """
    ids = pd.Index(providers.provider_id.astype(str).unique(), name="provider_id")
    v = (
        in_window(verdicts, "decided_at", until, rules.window_days)
        if not verdicts.empty
        else verdicts
    )
    found = v[v.verdict.isin(["confirmed", "partial"])] if not v.empty else v
    out = pd.DataFrame(index=ids)
    out["verdicts"] = _count(found, ids)
    recovered = (
        v.assign(amount_recovered=v.amount_recovered.fillna(0.0).astype(float))
        .groupby(v.provider_id.astype(str))
        .amount_recovered.sum()
        if not v.empty
        else pd.Series(dtype=float)
    )
    out["amount_recovered"] = recovered.reindex(ids).fillna(0.0).round(2)
    act = activity.assign(provider_id=activity.provider_id.astype(str)).set_index("provider_id")
    out["claims"] = act.claims.reindex(ids).fillna(0).astype("int64")
    out["fund_paid"] = act.fund_paid.reindex(ids).fillna(0.0).astype(float).round(2)
    out["recovered_percent"] = (
        (100 * out.amount_recovered / out.fund_paid.where(out.fund_paid > 0)).fillna(0.0).round(2)
    )
    h = hits.assign(provider_id=hits.provider_id.astype(str)).set_index("provider_id")
    out["rule_hits"] = h.rule_hits.reindex(ids).fillna(0).astype("int64") if not h.empty else 0
    out["hits_per_100_claims"] = (
        (100 * out.rule_hits / out.claims.where(out.claims > 0)).fillna(0.0).round(2)
    )
    st = status.assign(provider_id=status.provider_id.astype(str))
    out["suspended"] = _count(st[st.status == "suspended"], ids)
    out["terminated"] = _count(st[st.status == "terminated"], ids)
    out["deduct_verdicts"] = (rules.per_verdict * out.verdicts.astype(float)).clip(
        upper=rules.verdict_max
    )
    out["deduct_recovered"] = (rules.per_recovered_percent * out.recovered_percent).clip(
        upper=rules.recovered_max
    )
    out["deduct_hits"] = (rules.per_hit_rate * out.hits_per_100_claims).clip(upper=rules.hits_max)
    out["deduct_practitioners"] = (
        rules.per_suspended * out.suspended + rules.per_terminated * out.terminated
    ).clip(upper=rules.practitioners_max)
    deductions = out[[c for c in out.columns if c.startswith("deduct_")]].sum(axis=1)
    out["score"] = (100.0 - deductions).clip(lower=0.0).round(2)
    out["grade"] = [rules.grade_of(s) for s in out.score]
    out["as_of"] = until
    return out.reset_index()[list(CREDIT_COLUMNS)]


def _count(frame: pd.DataFrame, ids: pd.Index) -> pd.Series:
    if frame.empty:
        return pd.Series(0, index=ids, dtype="int64")
    return (
        frame.groupby(frame.provider_id.astype(str)).size().reindex(ids).fillna(0).astype("int64")
    )
