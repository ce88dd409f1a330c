"""Run a rule base over a window: hits with evidence, per-entity aggregates, national shape.

Every rule compiles to one Ibis expression (:mod:`fraudml.rulebase.checks`); the hits of all
rules are one union, computed by the engine in one statement into a table. Rules whose
check needs a table the dataset lacks are skipped and listed with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from fraudml.entities import ENTITIES
from fraudml.features.registry import Feature, unit_text
from fraudml.io.load import Dataset
from fraudml.rulebase.checks import CHECKS, RuleInputs
from fraudml.rulebase.expr import (
    RuleExpressionError,
    as_text,
    compile_expr,
    names_in,
    render,
    template_fields,
)
from fraudml.rulebase.spec import SEVERITIES, Rule
from fraudml.window import CATALOG_COLUMNS, Inputs, Window, fee_lines, prepare

log = logging.getLogger(__name__)

#: Columns of the hits table, in order.
HIT_COLUMNS = (
    "rule_id",
    "family",
    "result",
    "severity",
    "entity_type",
    "entity_id",
    "patient_id",
    "provider_id",
    "doctor_id",
    "claim_id",
    "line_no",
    "occurred",
    "amount",
    "message_zh",
    "message_en",
    "evidence",
)
_STANDARD = {
    "patient_id": "string",
    "provider_id": "string",
    "doctor_id": "string",
    "claim_id": "string",
    "line_no": "int64",
    "occurred": "timestamp",
}


@dataclass
class RuleRun:
    """Hits of a rule base over a window, and the rules that could not run."""

    hits: ir.Table
    rules: list[Rule]
    #: rule id → why it was skipped
    skipped: dict[str, str] = field(default_factory=dict)


def rule_inputs(ds: Dataset, window: Window, prepared: Inputs | None = None) -> RuleInputs:
    """Window claims (materialised once, or ``prepared`` for the window's profiles) and
    lazy fee lines for the checks."""
    x = prepared if prepared is not None else prepare(ds, window, fees=False)
    if x.window != window:
        raise ValueError(f"inputs prepared for {x.window} cannot run rules over {window}")
    has_lines = "claim_items" in ds
    return RuleInputs(
        claims=x.claims,
        lines=fee_lines(ds, x.claims) if has_lines else None,
        repeated=x.repeated,
        registrations=x.registrations,
        providers=ds.table("providers"),
        window=window,
        currency=ds.currency,
    )


def rule_hits(rule: Rule, x: RuleInputs) -> ir.Table:
    """One rule's hits in the standard shape (:data:`HIT_COLUMNS`)."""
    check = CHECKS[rule.check]
    try:
        cand = check.func(rule, x)
        if rule.amount is not None and rule.check not in ("line", "claim"):
            # any check's amount can be redefined from its own columns
            cand = cand.mutate(_amount=compile_expr(rule.amount, cand, rule.params))
    except RuleExpressionError as exc:
        where = f"rule {rule.id} ({rule.source})"
        message = str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
        raise RuleExpressionError(message) from None
    cols: dict[str, ir.Value] = {}
    for name, dtype in _STANDARD.items():
        cols[name] = cand[name].cast(dtype) if name in cand.columns else ibis.null(dtype)
    if check.level == "provider":
        entity_type, entity_id = "provider", cand.provider_id.cast("string")
    else:
        entity_type, entity_id = "claim", cand.claim_id.cast("string")
    evidence = [ibis.literal(f"{e}=").concat(as_text(cand[e])) for e in rule.evidence]
    if rule.evidence:
        missing = [e for e in rule.evidence if e not in cand.columns]
        if missing:
            raise KeyError(
                f"rule {rule.id} ({rule.source}): evidence column(s) {', '.join(missing)} "
                f"not available; columns here: {', '.join(sorted(cand.columns))}"
            )
    text = evidence[0] if evidence else ibis.literal("")
    for e in evidence[1:]:
        text = text.concat(ibis.literal("; ")).concat(e)
    return cand.select(
        rule_id=ibis.literal(rule.id),
        family=ibis.literal(rule.family),
        result=ibis.literal(rule.result),
        severity=ibis.literal(rule.severity),
        entity_type=ibis.literal(entity_type),
        entity_id=entity_id,
        **cols,
        amount=cand._amount.cast("float64").fill_null(0.0).round(2),
        message_zh=render(rule.message.zh, cand, _message_fields(rule, x, "zh")),
        message_en=render(rule.message.en, cand, _message_fields(rule, x, "en")),
        evidence=text,
    )


def _message_fields(rule: Rule, x: RuleInputs, lang: str) -> dict:
    """A message's fixed fields: the rule's parameters, and ``money`` (the dataset's
    currency in ``lang``: 元 / yuan, 美元 / US dollars …)."""
    return {**rule.params, "money": unit_text("元", lang, x.currency)}


#: The table behind each input a check or rule may need (what a skipped rule lacks).
NEEDS_TABLES = {
    "lines": "claim_items",
    "repeated": "claim_items",
    "registrations": "chronic_registrations",
    "catalog": "catalog",
}


def rule_needs(rule: Rule) -> tuple[str, ...]:
    """The inputs ``rule`` needs: its check's, plus ``catalog`` when its condition,
    amount, message or evidence reads a catalog restriction (``price_cap`` …)."""
    needs = CHECKS[rule.check].needs
    read = set(rule.evidence)
    for text in (rule.where, rule.amount):
        if text:
            read |= names_in(text)
    for template in (rule.message.zh, rule.message.en):
        read |= template_fields(template)
    if (read - set(rule.params)) & set(CATALOG_COLUMNS) and "catalog" not in needs:
        needs = (*needs, "catalog")
    return needs


def apply_rules(
    ds: Dataset, window: Window, rules: Sequence[Rule], prepared: Inputs | None = None
) -> RuleRun:
    """Run ``rules`` over ``window`` of ``ds``; the hits are materialised in the engine.
    ``prepared`` reuses the window's inputs already prepared for its profiles."""
    started = time.perf_counter()
    x = rule_inputs(ds, window, prepared)
    present = {
        "lines": x.lines is not None,
        "repeated": x.repeated is not None,
        "registrations": x.registrations is not None,
        "catalog": "catalog" in ds,
    }
    runnable, skipped = [], {}
    for rule in rules:
        lacking = [n for n in rule_needs(rule) if not present[n]]
        if lacking:
            skipped[rule.id] = f"needs {NEEDS_TABLES[lacking[0]]}"
        else:
            runnable.append(rule)
    parts = [rule_hits(rule, x) for rule in runnable]
    if parts:
        union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    else:
        union = _empty_hits()
    hits = ds.con.create_table("rule_hits", union, overwrite=True)
    n = hits.count().execute()
    log.info(
        "rules: %d run, %d skipped, %s hits (%.1f s)",
        len(runnable),
        len(skipped),
        f"{n:,}",
        time.perf_counter() - started,
    )
    for rid, why in skipped.items():
        log.warning("rule %s skipped: %s", rid, why)
    return RuleRun(hits, list(runnable), skipped)


def _empty_hits() -> ir.Table:
    schema = {c: "string" for c in HIT_COLUMNS}
    schema.update(line_no="int64", occurred="timestamp", amount="float64")
    return ibis.memtable({c: [] for c in HIT_COLUMNS}, schema=ibis.schema(schema))


# ------------------------------------------------------------------ aggregates

#: Weight of one hit by severity in ``rule_severity_score``; a suspicious (可疑) hit counts
#: ``SUSPICIOUS_FACTOR`` of a definite (明确违规) one.
SEVERITY_WEIGHTS = {"high": 1.0, "medium": 0.6, "low": 0.3}
SUSPICIOUS_FACTOR = 0.5


def families(rules: Sequence[Rule]) -> dict[str, Rule]:
    """One representative rule per family, in rule order (for names)."""
    out: dict[str, Rule] = {}
    for r in rules:
        out.setdefault(r.family, r)
    return out


def rule_features(rules: Sequence[Rule], entity: str) -> list[Feature]:
    """Registry entries of the per-entity rule aggregates, for explanations and reports."""
    out = [
        Feature(
            "rule_definite_hits",
            entity,  # type: ignore[arg-type]
            "rules",
            "明确违规规则命中数",
            "definite rule violations",
            "次",
        ),
        Feature(
            "rule_severity_score",
            entity,  # type: ignore[arg-type]
            "rules",
            "规则命中严重度加权分",
            "rule hits weighted by severity (high 1, medium 0.6, low 0.3; suspicious half)",
            "分",
        ),
    ]
    for fam, r in families(rules).items():
        out.append(
            Feature(
                f"rule_{fam}_hits",
                entity,  # type: ignore[arg-type]
                "rules",
                f"{r.family_name.zh}规则命中数",
                f"rule hits: {r.family_name.en}",
                "次",
            )
        )
        out.append(
            Feature(
                f"rule_{fam}_amount",
                entity,  # type: ignore[arg-type]
                "rules",
                f"{r.family_name.zh}违规金额",
                f"amount in violation: {r.family_name.en}",
                "元",
            )
        )
    return out


def rule_aggregates(hits: ir.Table, rules: Sequence[Rule], entity: str) -> ir.Table:
    """Hits and amounts per rule family for each ``entity`` (patient, provider, doctor)
    that has any; entities without hits are absent (join with a fill of 0)."""
    key = ENTITIES[entity].key
    h = hits.filter(hits[key].notnull())
    weight = ibis.cases(
        *[(h.severity == sev, w) for sev, w in SEVERITY_WEIGHTS.items()], else_=0.0
    ) * (h.result == "definite").ifelse(1.0, SUSPICIOUS_FACTOR)
    aggs: dict[str, ir.Value] = {
        "rule_definite_hits": (h.result == "definite").ifelse(1, 0).sum(),
        "rule_severity_score": weight.sum(),
    }
    for fam in families(rules):
        mine = h.family == fam
        aggs[f"rule_{fam}_hits"] = mine.ifelse(1, 0).sum()
        aggs[f"rule_{fam}_amount"] = mine.ifelse(h.amount, 0.0).sum()
    return h.group_by(key).agg(**aggs)


def with_rule_aggregates(
    profile: ir.Table, hits: ir.Table, rules: Sequence[Rule], entity: str
) -> ir.Table:
    """``profile`` with its entity's rule aggregates (0 where no rule fired)."""
    key = ENTITIES[entity].key
    agg = rule_aggregates(hits, rules, entity)
    joined = profile.left_join(agg, key)
    joined = joined.drop(*[c for c in joined.columns if c.endswith("_right")])
    return joined.mutate(**{c: joined[c].fill_null(0) for c in agg.columns if c != key})


# ------------------------------------------------------------------ national shape


def to_national(hits: ir.Table, rules: Sequence[Rule]) -> ir.Table:
    """Hits as the national pre/in-process review result (事前事中审核结果).

    ``rule_id, rule_name, vola_cont, patn_id, mdtrt_id, vola_amt, sev_deg, vola_evid,
    vola_bhvr_type`` plus the fee line (``det_item_no``). ``sev_deg`` carries the rule's
    severity in Chinese (严重/一般/轻微); ``vola_evid`` is the rule's policy basis;
    ``vola_bhvr_type`` is the rule's family. ``jr_id`` is a stable hash of the hit.
    """
    by_id = {r.id: r for r in rules}
    names = ibis.cases(*[(hits.rule_id == rid, r.name.zh) for rid, r in by_id.items()], else_="")
    basis = ibis.cases(*[(hits.rule_id == rid, r.basis.zh) for rid, r in by_id.items()], else_="")
    sev = ibis.cases(*[(hits.severity == k, v) for k, v in SEVERITIES.items()], else_="")
    jr = (
        hits.rule_id.concat("|")
        .concat(hits.entity_id.fill_null(""))
        .concat("|")
        .concat(hits.line_no.cast("string").fill_null(""))
    )
    return hits.select(
        jr_id=jr.hash().cast("string"),
        rule_id=hits.rule_id,
        rule_name=names,
        vola_cont=hits.message_zh,
        patn_id=hits.patient_id,
        mdtrt_id=hits.claim_id,
        det_item_no=hits.line_no,
        vola_amt=hits.amount,
        sev_deg=sev,
        vola_evid=basis,
        vola_bhvr_type=hits.family,
        evidence=hits.evidence,
    )


def fingerprint(rules: Sequence[Rule]) -> str:
    """A short hash of the rule base (ids, checks, params, conditions)."""
    h = hashlib.sha256()
    for r in rules:
        h.update(repr((r.id, r.check, sorted(r.params.items()), r.where, r.amount)).encode())
    return h.hexdigest()[:16]
