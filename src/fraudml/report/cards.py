"""A lead's card: the one-line why, its reasons, its evidence grouped by rule, the timeline
of its claims and its peer charts (plain data for the template, which escapes it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from fraudml.i18n import code_label, count, money, quantity, score_text, text
from fraudml.report.charts import peer_chart, timeline
from fraudml.report.drawing import MAX_DRAWN, MAX_PROOF_ROWS, group_view

#: peer charts per card, claims listed per card (the case pack lists more) and fee lines
#: per claim in the case pack
MAX_CHARTS = 3
MAX_CLAIMS = 10
MAX_PACK_CLAIMS = 15
MAX_PACK_LINES = 10


@dataclass
class LeadContext:
    """What a card shows beyond the lead's row: its claims in the period (one row each:
    claim_id, admit_time, visit_type, fund_paid), the rules' names (id → (zh, en)), the
    period and, for the case pack, fee lines of its evidence claims."""

    claims: pd.DataFrame = field(default_factory=pd.DataFrame)
    rule_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    start: date | None = None
    end: date | None = None
    fee_lines: pd.DataFrame | None = None
    name: str = ""


def reason_records(raw: object, lang: str) -> list[dict]:
    """The reason records of ``reasons_json`` in ``lang`` (none when unreadable)."""
    if not isinstance(raw, str):
        return []
    try:
        out = json.loads(raw).get(lang, [])
    except (ValueError, AttributeError):
        return []
    return [r for r in out if isinstance(r, dict) and r.get("text")]


def _column(frame: pd.DataFrame | None, name: str, default: object = None) -> list:
    if frame is None or name not in frame:
        return [default] * (0 if frame is None else len(frame))
    return frame[name].tolist()


def _amounts(frame: pd.DataFrame) -> list[float]:
    return [0.0 if a is None or pd.isna(a) else float(a) for a in _column(frame, "amount", 0.0)]


def evidence_by_rule(
    hits: pd.DataFrame, lang: str, names: Mapping[str, tuple[str, str]], currency: str
) -> list[dict]:
    """A lead's hits grouped by rule: its name, hits, distinct claims, amount and the
    first message, the largest amounts first. (Plain loops: this runs once per lead.)"""
    if hits is None or hits.empty or "rule_id" not in hits:
        return []
    message = "message_zh" if lang == "zh" else "message_en"
    rules: dict[str, dict] = {}
    for rule, claim, amount, msg in zip(
        _column(hits, "rule_id"),
        _column(hits, "claim_id"),
        _amounts(hits),
        _column(hits, message, ""),
        strict=True,
    ):
        r = rules.setdefault(str(rule), {"hits": 0, "claims": set(), "amount": 0.0, "msg": msg})
        r["hits"] += 1
        r["amount"] += amount
        if claim is not None and not pd.isna(claim):
            r["claims"].add(str(claim))
    out = []
    for rule, r in rules.items():
        pair = names.get(rule)
        out.append(
            {
                "rule_id": rule,
                "name": pair[0 if lang == "zh" else 1] if pair else "",
                "hits": r["hits"],
                "claims": len(r["claims"]),
                "amount": r["amount"],
                "amount_text": money(r["amount"], lang, currency),
                "example": "" if r["msg"] is None or pd.isna(r["msg"]) else str(r["msg"]),
            }
        )
    out.sort(key=lambda r: (-r["amount"], -r["hits"], r["rule_id"]))
    return out


def _facts(claims: pd.DataFrame | None) -> dict[str, tuple]:
    """claim id → (admit time, visit type, fund paid) of the lead's claims."""
    if claims is None or claims.empty or "claim_id" not in claims:
        return {}
    return {
        str(c): (a, v, f)
        for c, a, v, f in zip(
            _column(claims, "claim_id"),
            _column(claims, "admit_time"),
            _column(claims, "visit_type"),
            _column(claims, "fund_paid"),
            strict=True,
        )
    }


def claim_rows(
    claims: pd.DataFrame, hits: pd.DataFrame, lang: str, currency: str, cap: int
) -> list[dict]:
    """The lead's evidence claims (those its hits name, largest amounts first), with
    admit time, visit type, fund paid and the rules that hit each."""
    if hits is None or hits.empty or "claim_id" not in hits:
        return []
    per: dict[str, list] = {}
    for claim, rule, amount in zip(
        _column(hits, "claim_id"), _column(hits, "rule_id"), _amounts(hits), strict=True
    ):
        if claim is None or pd.isna(claim):
            continue
        entry = per.setdefault(str(claim), [set(), 0.0])
        entry[0].add(str(rule))
        entry[1] += amount
    ordered = sorted(per.items(), key=lambda kv: (-kv[1][1], kv[0]))
    facts = _facts(claims)
    rows = []
    for cid, (rules, amount) in ordered[:cap] if cap else ordered:
        admit, visit, paid = facts.get(cid, (None, None, None))
        rows.append(
            {
                "claim_id": cid,
                "admit": "" if admit is None or pd.isna(admit) else str(pd.Timestamp(admit))[:16],
                "visit_type": code_label("visit_type", visit, lang),
                "fund_paid": "" if paid is None else money(paid, lang, currency),
                "rules": ", ".join(sorted(rules)),
                "amount": amount,
                "amount_text": money(amount, lang, currency),
            }
        )
    return rows


def claim_timeline(ctx: LeadContext, hits: pd.DataFrame, lang: str, currency: str) -> dict | None:
    """The lead's claims per day of the period (fund paid and count), red where hit."""
    c = ctx.claims
    if c is None or c.empty or "admit_time" not in c:
        return None
    hit = (
        set(str(x) for x in hits.claim_id.dropna())
        if hits is not None and "claim_id" in hits
        else set()
    )
    days = pd.to_datetime(c.admit_time).to_numpy().astype("datetime64[D]")
    paid = pd.to_numeric(c.get("fund_paid"), errors="coerce")
    paid = np.zeros(len(c)) if paid is None else np.nan_to_num(paid.to_numpy(dtype=float))
    flagged = np.array([str(x) in hit for x in _column(c, "claim_id")], dtype=bool)
    unique, at = np.unique(days, return_inverse=True)
    sums = np.bincount(at, weights=paid, minlength=len(unique))
    counts = np.bincount(at, minlength=len(unique))
    hits_per = np.bincount(at, weights=flagged.astype(float), minlength=len(unique))
    per = [
        (pd.Timestamp(d).date(), float(v), int(n), bool(h))
        for d, v, n, h in zip(unique, sums, counts, hits_per, strict=True)
        if not np.isnat(d)
    ]
    end = ctx.end - pd.Timedelta(days=1) if ctx.end else None
    return timeline(per, ctx.start, end, lang, currency)


def _line_no(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def pack_lines(
    fee_lines: pd.DataFrame | None,
    claims: list[dict],
    lang: str,
    currency: str,
    flagged: set[tuple[str, int]] | frozenset = frozenset(),
) -> tuple[list[dict], int]:
    """The fee lines of the case pack's claims, in the claims' order: of each claim the
    lines a rule hit (``flagged``: claim, line) first, then the others, the first
    :data:`MAX_PACK_LINES`; and how many were left out."""
    if fee_lines is None or fee_lines.empty:
        return [], 0
    by_claim: dict[str, list[dict]] = {}
    for r in fee_lines.to_dict("records"):
        by_claim.setdefault(str(r.get("claim_id")), []).append(r)
    out, left = [], 0
    for c in claims:
        mine = by_claim.get(c["claim_id"], [])
        hit = [(c["claim_id"], _line_no(r.get("line_no"))) in flagged for r in mine]
        order = sorted(range(len(mine)), key=lambda k: (not hit[k], k))
        left += max(0, len(mine) - MAX_PACK_LINES)
        for k in order[:MAX_PACK_LINES]:
            r, no = mine[k], _line_no(mine[k].get("line_no"))
            out.append(
                {
                    "hit": hit[k],
                    "claim_id": c["claim_id"],
                    "line_no": "" if no is None else no,
                    "item_code": str(r.get("item_code") or ""),
                    "category": code_label("item_category", r.get("item_category"), lang),
                    "quantity": quantity(r.get("quantity"), "", lang),
                    "unit_price": money(r.get("unit_price"), lang, currency),
                    "amount": money(r.get("amount"), lang, currency),
                }
            )
    return out, left


def why_line(reasons: list[dict], rules: list[dict], lang: str, currency: str) -> str:
    """One line: the strongest reason, and what the rules found."""
    parts = [reasons[0]["text"]] if reasons else []
    if rules:
        hits = sum(r["hits"] for r in rules)
        amount = money(sum(r["amount"] for r in rules), lang, currency)
        parts.append(
            text(
                "rules_hit",
                lang,
                rules=count(len(rules), "rule", lang),
                hits=count(hits, "hit", lang),
                amount=amount,
            )
        )
    return ("；" if lang == "zh" else "; ").join(parts) or text("no_reasons", lang)


def card(
    lead: Mapping[str, object],
    anchor: str,
    hits: pd.DataFrame,
    ctx: LeadContext,
    lang: str,
    currency: str,
    groups: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None),
    t: Mapping[str, str] | None = None,
    pack: bool = False,
    max_drawn: int = MAX_DRAWN,
    max_proof: int = MAX_PROOF_ROWS,
) -> dict:
    """Everything one lead's card shows, as plain data (the template escapes it)."""
    reasons = reason_records(lead.get("reasons_json"), lang)
    rules = evidence_by_rule(hits, lang, ctx.rule_names, currency)
    etype = str(lead.get("entity_type"))
    charts = [c for c in (peer_chart(r, lang, currency) for r in reasons) if c][:MAX_CHARTS]
    claims = claim_rows(ctx.claims, hits, lang, currency, MAX_PACK_CLAIMS if pack else MAX_CLAIMS)
    flagged = (
        {
            (str(c), int(n))
            for c, n in zip(_column(hits, "claim_id"), _column(hits, "line_no"), strict=True)
            if c is not None and n is not None and not pd.isna(c) and not pd.isna(n)
        }
        if pack and hits is not None
        else set()
    )
    lines, lines_left = (
        pack_lines(ctx.fee_lines, claims, lang, currency, flagged) if pack else ([], 0)
    )
    n_claims = int(hits.claim_id.nunique()) if hits is not None and "claim_id" in hits else 0
    first = lead.get("first_raised")
    repeat = (
        text("repeat", lang, first=str(first)[:10])
        if bool(lead.get("repeat")) and first is not None and not pd.isna(first)
        else ""
    )
    return {
        "anchor": anchor,
        "entity_type": etype,
        "type_name": code_label("lead_type", etype, lang),
        "entity_id": str(lead.get("entity_id")),
        "name": ctx.name,
        "rank": int(lead.get("rank")) if lead.get("rank") is not None else "",
        "tier": str(lead.get("tier") or ""),
        "tier_text": code_label("tier", lead.get("tier"), lang),
        "score": score_text(lead.get("score")),
        "money": money(lead.get("money_at_stake"), lang, currency)
        if lead.get("money_at_stake") is not None
        else "",
        "rule_money": money(lead.get("rule_amount"), lang, currency),
        "model_money": money(lead.get("model_amount"), lang, currency)
        if lead.get("model_amount") is not None
        else "",
        "claim_kind": code_label("claim_kind", lead.get("claim_kind"), lang),
        "why": why_line(reasons, rules, lang, currency),
        "repeat": repeat,
        "reserve": text("reserve", lang) if bool(lead.get("reserve")) else "",
        "reasons": [r["text"] for r in reasons],
        "rules": rules,
        "claims": claims,
        "claims_left": max(0, n_claims - len(claims)),
        "lines": lines,
        "lines_left": lines_left,
        "timeline": claim_timeline(ctx, hits, lang, currency),
        "charts": charts,
        "group": (
            group_view(groups[0], groups[1], t or {}, max_drawn=max_drawn, max_proof=max_proof)
            if etype == "group" and t is not None
            else None
        ),
    }
