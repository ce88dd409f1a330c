"""What the report reads from the dataset beside the scoring's tables: the period's claims
(for money at stake and each lead's timeline) and the fee lines of the case packs'
evidence claims. The edge where the report touches the data: Ibis in, data frames out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from fraudml.entities import ENTITIES
from fraudml.io.load import Dataset
from fraudml.window.period import Window

#: the claims' columns the report reads (those present)
CLAIM_COLUMNS = (
    "claim_id",
    "patient_id",
    "provider_id",
    "doctor_id",
    "visit_type",
    "admit_time",
    "fund_paid",
    "account_paid",
    "total_amount",
)
ITEM_COLUMNS = (
    "claim_id",
    "line_no",
    "item_code",
    "item_category",
    "quantity",
    "unit_price",
    "amount",
)


@dataclass
class ReportInputs:
    """The period's claims (one row each, :data:`CLAIM_COLUMNS`) and provider names."""

    claims: pd.DataFrame = field(default_factory=pd.DataFrame)
    provider_names: dict[str, str] = field(default_factory=dict)


def period_claims(ds: Dataset, window: Window) -> ReportInputs:
    """The claims admitted in ``window`` and the providers' names (when the data has them)."""
    t = ds.table("claims")
    cols = [c for c in CLAIM_COLUMNS if c in t.columns]
    claims = t.filter(window.holds(t.admit_time)).select(*cols).to_pandas()
    for c in ("claim_id", "patient_id", "provider_id", "doctor_id"):
        if c in claims:
            claims[c] = claims[c].astype("string").astype(object)
    if "fund_paid" in claims:
        # what the fund paid: the pooled fund and, where the data has it, personal accounts
        # (a pharmacy's card swipes are paid from the account)
        paid = pd.to_numeric(claims.fund_paid, errors="coerce").fillna(0.0)
        if "account_paid" in claims:
            paid = paid + pd.to_numeric(claims.account_paid, errors="coerce").fillna(0.0)
        claims["fund_paid"] = paid
    names: dict[str, str] = {}
    providers = ds.table("providers")
    if "name" in providers.columns:
        named = providers.select("provider_id", "name").to_pandas().dropna()
        names = dict(zip(named.provider_id.astype(str), named.name.astype(str), strict=True))
    return ReportInputs(claims, names)


def fee_lines(ds: Dataset, claim_ids: Iterable[str]) -> pd.DataFrame:
    """The fee lines of ``claim_ids`` (none when the data has no fee lines)."""
    ids = sorted({str(c) for c in claim_ids})
    if not ids or "claim_items" not in ds.tables:
        return pd.DataFrame(columns=list(ITEM_COLUMNS))
    t = ds.table("claim_items")
    cols = [c for c in ITEM_COLUMNS if c in t.columns]
    out = t.filter(t.claim_id.isin(ids)).select(*cols).to_pandas()
    out["claim_id"] = out.claim_id.astype(str)
    return out.sort_values([c for c in ("claim_id", "line_no") if c in out]).reset_index(drop=True)


#: the claims' column naming each lead type's entity
LEAD_KEYS = {
    # a person or a provider is found by its own key; a claim of either kind by claim_id
    **{name: spec.key for name, spec in ENTITIES.items() if spec.key != "claim_id"},
    "claim": "claim_id",
}


def fund_paid_by_entity(claims: pd.DataFrame, lead_type: str) -> pd.Series:
    """What the fund paid in the period (pooled fund and personal accounts, as
    :func:`period_claims` reads it) per entity of ``lead_type`` (text ids)."""
    key = LEAD_KEYS.get(lead_type)
    if key is None or key not in claims or "fund_paid" not in claims:
        return pd.Series(dtype=float)
    return claims.groupby(claims[key].astype(str)).fund_paid.sum()
