"""The report's first page: leads by type and tier, money at stake (the rules' amounts and
the model's estimate), definite violations and their total, the providers with the most
money at stake, and the period and data shown."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from fraudml.i18n import code_label, count, money, text
from fraudml.scoring.leads import WORK_ORDER
from fraudml.scoring.rank import TierRule

TIERS = ("A", "B", "C")
TOP_PROVIDERS = 10


def _sum(frame: pd.DataFrame, column: str) -> float:
    if column not in frame or frame.empty:
        return 0.0
    return float(pd.to_numeric(frame[column], errors="coerce").fillna(0).sum())


def summary(
    leads: pd.DataFrame,
    deductions: pd.DataFrame | None,
    violations_count: int,
    lang: str,
    currency: str,
    rule: TierRule,
    anchors: Mapping[int, str],
    names: Mapping[str, str] | None = None,
) -> dict:
    """What the summary shows, as plain data.

    ``anchors`` maps each lead's row index to its card's anchor; ``names`` the providers'
    names (when the data has them)."""
    names = names or {}
    types = [t for t in WORK_ORDER if len(leads) and (leads.entity_type == t).any()]
    types += [t for t in (leads.entity_type.unique() if len(leads) else []) if t not in types]
    rows = []
    for t in types:
        mine = leads[leads.entity_type == t]
        tiers = mine.tier.value_counts() if "tier" in mine else pd.Series(dtype=int)
        rows.append(
            {
                "type": code_label("lead_type", t, lang),
                "tiers": [int(tiers.get(k, 0)) for k in TIERS],
                "total": len(mine),
                "rule_money": money(_sum(mine, "rule_amount"), lang, currency),
                "model_money": money(_sum(mine, "model_amount"), lang, currency),
                "money": money(_sum(mine, "money_at_stake"), lang, currency),
            }
        )
    totals = {
        "tiers": [int((leads.tier == k).sum()) if len(leads) else 0 for k in TIERS],
        "total": len(leads),
        "rule_money": money(_sum(leads, "rule_amount"), lang, currency),
        "model_money": money(_sum(leads, "model_amount"), lang, currency),
        "money": money(_sum(leads, "money_at_stake"), lang, currency),
    }
    providers = leads[leads.entity_type == "provider"] if len(leads) else leads
    if len(providers) and "money_at_stake" in providers:
        providers = providers.sort_values(["money_at_stake", "rank"], ascending=[False, True])
    top = [
        {
            "id": str(r.entity_id),
            "name": names.get(str(r.entity_id), ""),
            "anchor": anchors.get(i, ""),
            "tier": code_label("tier", r.tier, lang),
            "money": money(getattr(r, "money_at_stake", None), lang, currency),
            "rule_money": money(r.rule_amount, lang, currency),
        }
        for i, r in providers.head(TOP_PROVIDERS).iterrows()
    ]
    d = deductions if deductions is not None else pd.DataFrame()
    definite = text(
        "definite_count",
        lang,
        hits=count(int(violations_count), "violation", lang),
        providers=count(len(d), "provider", lang),
        amount=money(_sum(d, "amount"), lang, currency),
    )
    floor = money(rule.money, lang, currency)
    return {
        "rows": rows,
        "totals": totals,
        "tiers": [code_label("tier", k, lang) for k in TIERS],
        "top": top,
        "definite": definite,
        "tier_rules": [
            text("tier_A", lang, high=rule.high, money=floor),
            text("tier_B", lang, medium=rule.medium, money=floor),
            text("tier_C", lang),
        ],
    }
