"""Why each lead was chosen: the model's contributions rendered as reasons, in Chinese
and English."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from fraudml.explain.contributions import explain, reasons
from fraudml.features.registry import Feature
from fraudml.models.risk import EntityModel

#: per lead: the reasons as text in each language and as records (for the report)
REASON_COLUMNS = ["reasons_zh", "reasons_en", "reasons_json"]


@dataclass(frozen=True)
class LeadReasons:
    """The reasons of one entity type's leads and what their contributions explain."""

    #: what the contributions explain (:attr:`fraudml.explain.contributions.Explanation.what`)
    what: str
    #: indexed by lead, in :data:`REASON_COLUMNS`
    table: pd.DataFrame


def lead_reasons(
    model: EntityModel,
    leads: pd.DataFrame,
    entity: str,
    rule_features: list[Feature],
    currency: str,
) -> LeadReasons:
    """Explain the leads with the model that ranked them and render their reasons.

    Parameters
    ----------
    model : EntityModel
        The entity type's model.
    leads : DataFrame
        The leads' profile rows (explaining is not cheap: leads only).
    entity : str
        The entity type.
    rule_features : list of Feature
        Registry entries of the rule aggregates (:func:`fraudml.rulebase.rule_features`).
    currency : str
        ISO 4217 code money reads in (the dataset's).

    Returns
    -------
    LeadReasons
        ``table`` indexed like ``leads``: ``reasons_zh`` (joined with ``；``),
        ``reasons_en`` (joined with ``; ``) and ``reasons_json`` (``{"zh": […], "en": […]}``
        reason records, the Chinese text unescaped).
    """
    why = explain(model, leads)
    zh = reasons(why, leads, entity, rule_features, "zh", currency=currency)
    en = reasons(why, leads, entity, rule_features, "en", currency=currency)
    keys = [str(lead) for lead in leads.index]
    table = pd.DataFrame(
        {
            "reasons_zh": ["；".join(r["text"] for r in zh[k]) for k in keys],
            "reasons_en": ["; ".join(r["text"] for r in en[k]) for k in keys],
            "reasons_json": [
                json.dumps({"zh": zh[k], "en": en[k]}, ensure_ascii=False) for k in keys
            ],
        },
        index=leads.index,
        columns=REASON_COLUMNS,
    )
    return LeadReasons(why.what, table)
