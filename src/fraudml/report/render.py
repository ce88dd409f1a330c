"""The auditor's report: self-contained HTML, safe with untrusted text.

Names and codes come from the data and are untrusted: the HTML escapes everything it
prints (Jinja2 autoescape; the charts are inline SVG with escaped labels, no script, no
network). The report opens on its summary (:mod:`.summary`), lists the leads in the order
an audit team works them and gives each a card (:mod:`.cards`). Every string it shows
comes from :mod:`fraudml.i18n`. The spreadsheet is :mod:`.workbook`, the PDF case packs
:mod:`.casepack`; the names callers imported from here before the split still resolve.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from fraudml.i18n import code_label, explained_text, money_unit, ui
from fraudml.report.cards import LeadContext, card
from fraudml.report.drawing import (
    FLAGGED,
    MAX_DRAWN,
    MAX_MEMBER_ROWS,
    MAX_PROOF_ROWS,
    by_group,
    group_drawing,
    group_view,
    parse_links,
)
from fraudml.report.safety import (
    CONTROL,
    FORMULA_START,
    escape_control,
    neutralise,
    pseudonym,
    pseudonymise,
    text_cells,
)
from fraudml.report.summary import summary
from fraudml.report.template import STYLE, TEMPLATE, environment
from fraudml.report.workbook import write_leads_csv, write_xlsx
from fraudml.scoring.leads import work_order
from fraudml.scoring.rank import TierRule

__all__ = [
    "CONTROL",
    "FLAGGED",
    "FORMULA_START",
    "MAX_DRAWN",
    "MAX_MEMBER_ROWS",
    "MAX_PROOF_ROWS",
    "LeadContext",
    "escape_control",
    "group_drawing",
    "group_view",
    "lead_cards",
    "lead_type_names",
    "neutralise",
    "parse_links",
    "pseudonym",
    "pseudonymise",
    "render_html",
    "text_cells",
    "write_leads_csv",
    "write_xlsx",
]


def lead_type_names(lang: str) -> dict[str, str]:
    """Each lead type's name for people in ``lang`` (:data:`fraudml.i18n.CODES`)."""
    from fraudml.i18n import CODES

    return {code: code_label("lead_type", code, lang) for code in CODES["lead_type"]}


def _hits_by_lead(evidence: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    # grouped once: looking a lead's hits up must not rescan the table
    if evidence is None or not len(evidence) or "lead_type" not in evidence:
        return {}
    keys = [evidence.lead_type.astype(str), evidence.lead_id.astype(str)]
    return {k: g for k, g in evidence.groupby(keys, sort=False)}


def lead_cards(
    leads: pd.DataFrame,
    evidence: pd.DataFrame,
    lang: str,
    currency: str = "CNY",
    contexts: Mapping[object, LeadContext] | None = None,
    groups: pd.DataFrame | None = None,
    group_evidence: pd.DataFrame | None = None,
    max_drawn: int = MAX_DRAWN,
    max_proof: int = MAX_PROOF_ROWS,
    pack: bool = False,
) -> list[dict]:
    """A card per lead (:func:`fraudml.report.cards.card`), in the leads' order;
    ``contexts`` by the leads' index (a lead without one gets an empty context)."""
    t = ui(lang)
    contexts = contexts or {}
    hits = _hits_by_lead(evidence)
    members_by, proof_by = by_group(groups), by_group(group_evidence)
    none = evidence.iloc[0:0] if evidence is not None and len(evidence.columns) else pd.DataFrame()
    out = []
    for i, row in leads.iterrows():
        key = (str(row.entity_type), str(row.entity_id))
        out.append(
            card(
                row.to_dict(),
                f"lead-{i}",
                hits.get(key, none),
                contexts.get(i, LeadContext()),
                lang,
                currency,
                (members_by.get(str(row.entity_id)), proof_by.get(str(row.entity_id))),
                t,
                pack=pack,
                max_drawn=max_drawn,
                max_proof=max_proof,
            )
        )
    return out


def render_html(
    leads: pd.DataFrame,
    evidence: pd.DataFrame,
    explained: dict[str, str],
    lang: str,
    window: str,
    generated: str,
    currency: str = "CNY",
    deductions: pd.DataFrame | None = None,
    max_deductions: int = 100,
    groups: pd.DataFrame | None = None,
    group_evidence: pd.DataFrame | None = None,
    max_drawn: int = MAX_DRAWN,
    max_proof: int = MAX_PROOF_ROWS,
    *,
    contexts: Mapping[object, LeadContext] | None = None,
    violations_count: int | None = None,
    pseudonymised: bool = False,
    dataset: str = "",
    tier_rule: TierRule | None = None,
    provider_names: Mapping[str, str] | None = None,
) -> str:
    """The self-contained HTML report of ``leads``.

    It opens on the summary (leads by type and tier, money at stake, definite violations
    — ``violations_count`` hits, totalled per provider in ``deductions`` — and the
    providers with most at stake), lists the leads in the order an audit team works them
    (:func:`fraudml.scoring.leads.work_order`) and gives each a card: the one-line why,
    its reasons, its evidence by rule, the timeline of its claims and its peer charts
    (``contexts``, by the leads' index), and for a group lead its members from ``groups``,
    a drawing of them (the first ``max_drawn`` patients by days together) and the first
    ``max_proof`` claims of ``group_evidence``. The deduction list shows its first
    ``max_deductions`` providers. Amounts are in the dataset's ``currency``.
    """
    env = environment()
    t = ui(lang)
    rule = tier_rule or TierRule()
    ordered = work_order(leads) if len(leads) else leads
    cards = lead_cards(
        ordered, evidence, lang, currency, contexts, groups, group_evidence, max_drawn, max_proof
    )
    names = dict(provider_names or {})
    for c in cards:
        if c["entity_type"] == "provider" and not c["name"]:
            c["name"] = names.get(c["entity_id"], "")
    anchors = {i: c["anchor"] for i, c in zip(ordered.index, cards, strict=True)}
    types = list(dict.fromkeys(c["entity_type"] for c in cards))
    index = [
        (
            code_label("lead_type", e, lang),
            [c for c in cards if c["entity_type"] == e],
            explained_text(explained.get(e, ""), lang),
        )
        for e in types
    ]
    d = deductions if deductions is not None else pd.DataFrame()
    n_violations = (
        int(d["hits"].sum())
        if violations_count is None and "hits" in d
        else (violations_count or 0)
    )
    s = summary(ordered, d, n_violations, lang, currency, rule, anchors, names)
    shown = [
        dict(r, amount=f"{float(r.get('amount', 0) or 0):,.2f}")
        for r in d.head(max_deductions).to_dict("records")
    ]
    return env.from_string(TEMPLATE).render(
        t=t,
        title=t["title"],
        style=STYLE,
        lang=lang,
        s=s,
        index=index,
        cards=cards,
        deductions=shown,
        money=money_unit(lang, currency),
        window=window,
        dataset=dataset,
        generated=generated,
        pseudonymised=pseudonymised,
    )
