"""The compiled checks a rule can use, each an Ibis expression over the window's data.

A rule file picks a check by name and tunes it with ``params`` (and, for the generic
``line`` and ``claim`` checks, a ``where`` condition and an ``amount`` expression); adding
or tuning a rule never needs Python. Every check returns candidate hits with the
standard columns ``patient_id, provider_id, doctor_id, claim_id, line_no, occurred,
_amount`` (missing ones are added as nulls) plus the columns its messages may name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from fraudml.features.peers import with_peers
from fraudml.rulebase.enrich import enriched_claims, enriched_lines, rule_names
from fraudml.rulebase.expr import RuleExpressionError, compile_expr
from fraudml.rulebase.spec import Rule
from fraudml.window import Window, unregistered_chronic_claims


@dataclass
class RuleInputs:
    """What the checks read, prepared once per run."""

    #: window claims with patient and provider attributes (``fraudml.window.prepare``)
    claims: ir.Table
    #: the window's fee lines with catalog restrictions (``fraudml.window.fee_lines``)
    lines: ir.Table | None
    #: fee lines whose trace code was settled before (``repeated_trace_lines``)
    repeated: ir.Table | None
    registrations: ir.Table | None
    providers: ir.Table
    window: Window
    #: the dataset's money (ISO 4217): a message's ``{money}`` field names it
    currency: str = "CNY"
    #: the catalog as the dataset has it (``None`` without one)
    catalog: ir.Table | None = None
    patients: ir.Table | None = None
    #: the practitioners (``None`` without a doctors table)
    doctors: ir.Table | None = None


@dataclass(frozen=True)
class Check:
    func: Callable[[Rule, RuleInputs], ir.Table]
    #: ``RuleInputs`` fields that must be present
    needs: tuple[str, ...] = ()
    #: "claim" hits name a claim (and maybe a fee line); "provider" hits a provider
    level: str = "claim"
    #: optional inputs beyond ``needs``: a table (``doctors``), ``claim_times`` (claims
    #: with times of day) or an optional contract column (``catalog.indications``); a
    #: rule lacking one is skipped and listed (:func:`fraudml.rulebase.engine.rule_requires`)
    requires: tuple[str, ...] = ()
    #: the check itself reads the rule's ``amount`` (as the base it scales or as it is);
    #: for other checks the engine puts ``amount`` in place of the check's own
    own_amount: bool = False
    #: the check compares a claim with other patients' claims over the window (a
    #: provider's or practitioner's day, the peers of a diagnosis, the city's share of a
    #: code): one patient's history, as an online check holds it, cannot answer it
    population: bool = False
    #: fee-line columns the check reads beyond the rule's own names (catalog facts)
    reads: tuple[str, ...] = ()


def _param(rule: Rule, name: str, default: Any = None) -> Any:
    if name in rule.params:
        return rule.params[name]
    if default is None:
        raise RuleExpressionError(f"rule {rule.id} ({rule.source}): params.{name} is required")
    return default


def _in_scene(t: ir.Table, rule: Rule) -> ir.BooleanValue:
    return t.visit_type.isin(list(rule.visit_types))


def _line_time(t: ir.Table) -> ir.TimestampValue:
    return t.item_time.fill_null(t.admit_time)


# ------------------------------------------------------------------ generic checks


def check_line(rule: Rule, x: RuleInputs) -> ir.Table:
    """Fee lines meeting ``where``; amount ``amount`` (default: the line's amount).

    The line carries its claim, catalog entry and patient columns a rule reads beyond the
    fee line's own (:func:`fraudml.rulebase.enrich.enriched_lines`)."""
    lines = enriched_lines(x.lines, x, rule_names(rule))
    lines = lines.filter(_in_scene(lines, rule))
    if rule.where is None:
        raise RuleExpressionError(f"rule {rule.id} ({rule.source}): check 'line' needs 'where'")
    hits = lines.filter(compile_expr(rule.where, lines, rule.params))
    return hits.mutate(
        occurred=_line_time(hits),
        _amount=compile_expr(rule.amount or "amount", hits, rule.params),
    )


def check_claim(rule: Rule, x: RuleInputs) -> ir.Table:
    """Claims meeting ``where``; amount ``amount`` (default: the fund's payment). The claim
    carries its patient's and practitioner's optional columns when the rule reads them."""
    c = enriched_claims(x.claims, x, rule_names(rule))
    c = c.filter(_in_scene(c, rule))
    if rule.where is None:
        raise RuleExpressionError(f"rule {rule.id} ({rule.source}): check 'claim' needs 'where'")
    hits = c.filter(compile_expr(rule.where, c, rule.params))
    return hits.mutate(
        occurred=hits.admit_time,
        _amount=compile_expr(rule.amount or "fund_paid", hits, rule.params),
    )


# ------------------------------------------------------------------ fee-line checks


def check_daily_quantity(rule: Rule, x: RuleInputs) -> ir.Table:
    """Lines of a (patient, item, day) whose summed quantity exceeds the catalog's daily
    limit, across all claims; amount: each line's share of the excess."""
    tolerance = float(rule.params.get("tolerance", 0.0))
    lines = x.lines.filter(x.lines.max_daily.notnull())
    per_day = ibis.window(group_by=[lines.patient_id, lines.item_code, lines.day])
    lines = lines.mutate(day_quantity=lines.quantity.sum().over(per_day))
    hits = lines.filter((lines.day_quantity > lines.max_daily + tolerance) & _in_scene(lines, rule))
    excess = (hits.day_quantity - hits.max_daily) / hits.day_quantity
    return hits.mutate(occurred=_line_time(hits), _amount=hits.amount * excess)


def check_duplicate_item(rule: Rule, x: RuleInputs) -> ir.Table:
    """The same item billed on several lines of one claim (``scope: claim``) or of one
    patient's day (``scope: day``); every copy after the first is a hit."""
    scope = _param(rule, "scope", "claim")
    categories = list(_param(rule, "categories", ["exam", "lab", "treatment"]))
    lines = x.lines.filter(x.lines.item_category.isin(categories))
    keys = ["claim_id", "item_code"] if scope == "claim" else ["patient_id", "item_code", "day"]
    if scope not in ("claim", "day"):
        raise RuleExpressionError(f"rule {rule.id}: params.scope is {scope!r}; claim or day")
    when = _line_time(lines)
    ordered = ibis.window(group_by=[lines[k] for k in keys], order_by=[when, "claim_id", "line_no"])
    lines = lines.mutate(
        _copy=ibis.row_number().over(ordered),
        copies=lines.count().over(ibis.window(group_by=[lines[k] for k in keys])),
    )
    hits = lines.filter((lines._copy > 0) & _in_scene(lines, rule))
    return hits.mutate(occurred=_line_time(hits), _amount=hits.amount)


def check_repeated_trace(rule: Rule, x: RuleInputs) -> ir.Table:
    """Lines selling a pack whose trace code was already settled (回流药)."""
    lines = x.lines.filter(_in_scene(x.lines, rule))
    hits = lines.inner_join(x.repeated, ["claim_id", "line_no"])
    return hits.mutate(occurred=_line_time(hits), _amount=hits.amount)


def check_item_frequency(rule: Rule, x: RuleInputs) -> ir.Table:
    """Lines of the listed items that take a patient beyond ``max`` units in a calendar
    day (``days: 1``) or in any ``days`` days; the lines within the limit are not hits."""
    items = [str(i) for i in _param(rule, "items")]
    days = int(_param(rule, "days", 1))
    most = float(_param(rule, "max"))
    lines = x.lines.filter(x.lines.item_code.isin(items))
    lines = lines.mutate(occurred=_line_time(lines))
    order = [lines.occurred, lines.claim_id, lines.line_no]
    if days == 1:
        span = ibis.window(group_by=[lines.patient_id, lines.day], order_by=order, rows=(None, 0))
    else:
        span = ibis.window(
            group_by=lines.patient_id,
            order_by=lines.occurred,
            range=(-ibis.interval(seconds=days * 86400 - 1), ibis.interval(seconds=0)),
        )
    lines = lines.mutate(units_in_window=lines.quantity.sum().over(span))
    hits = lines.filter((lines.units_in_window > most) & _in_scene(lines, rule))
    return hits.mutate(_amount=hits.amount)


# ------------------------------------------------------------------ claim checks


def _stays(c: ir.Table) -> ir.Table:
    return c.filter(c.visit_type == "inpatient")


def check_readmission(rule: Rule, x: RuleInputs) -> ir.Table:
    """An admission within ``days`` of a discharge at the same provider (分解住院), with
    the same diagnosis category when ``same_diagnosis`` (ICD-10, first 3 characters)."""
    days = float(_param(rule, "days", 15))
    same_diagnosis = bool(rule.params.get("same_diagnosis", True))
    stays = _stays(x.claims)
    order = ibis.window(
        group_by=[stays.patient_id, stays.provider_id], order_by=[stays.admit_time, "claim_id"]
    )
    stays = stays.mutate(
        previous_claim_id=stays.claim_id.lag().over(order),
        _prev_discharge=stays.discharge_time.lag().over(order),
        _prev_diagnosis=stays.diagnosis_code.lag().over(order),
    )
    stays = stays.mutate(
        gap_days=(stays.admit_time.delta(stays._prev_discharge, unit="second") / 86400.0).round(1)
    )
    cond = stays.previous_claim_id.notnull() & (stays.gap_days <= days) & (stays.gap_days >= 0)
    if same_diagnosis:
        cond = cond & (
            stays.diagnosis_code.fill_null("").substr(0, 3)
            == stays._prev_diagnosis.fill_null("?").substr(0, 3)
        )
    hits = stays.filter(cond)
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


def check_overlapping_stays(rule: Rule, x: RuleInputs) -> ir.Table:
    """A stay that overlaps an earlier one of the same patient; the later is the hit."""
    a = _stays(x.claims)
    b = a.select(
        other_claim_id="claim_id", _pid="patient_id", _adm="admit_time", _dis="discharge_time"
    )
    pairs = a.inner_join(
        b,
        [
            a.patient_id == b._pid,
            a.claim_id != b.other_claim_id,
            a.admit_time < b._dis,
            b._adm < a.discharge_time,
            (b._adm < a.admit_time) | ((b._adm == a.admit_time) & (b.other_claim_id < a.claim_id)),
        ],
    )
    first = pairs.group_by("claim_id").agg(other_claim_id=pairs.other_claim_id.min())
    hits = a.inner_join(first, "claim_id")
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


def check_during_stay(rule: Rule, x: RuleInputs) -> ir.Table:
    """A visit or pharmacy purchase (the rule's scene) while the patient is admitted."""
    stays = _stays(x.claims).select(
        stay_claim_id="claim_id",
        _pid="patient_id",
        _adm="admit_time",
        _dis="discharge_time",
        stay_provider_id="provider_id",
    )
    visits = x.claims.filter(_in_scene(x.claims, rule) & (x.claims.visit_type != "inpatient"))
    pairs = visits.inner_join(
        stays,
        [
            visits.patient_id == stays._pid,
            visits.admit_time > stays._adm,
            visits.admit_time < stays._dis,
        ],
    )
    first = pairs.group_by("claim_id").agg(
        stay_claim_id=pairs.stay_claim_id.min(), stay_provider_id=pairs.stay_provider_id.min()
    )
    hits = visits.inner_join(first, "claim_id")
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


def check_region_switch(rule: Rule, x: RuleInputs) -> ir.Table:
    """A claim in another region within ``minutes`` of the patient's previous claim."""
    minutes = float(_param(rule, "minutes", 60))
    c = x.claims
    order = ibis.window(group_by=c.patient_id, order_by=[c.admit_time, c.claim_id])
    c = c.mutate(
        previous_claim_id=c.claim_id.lag().over(order),
        previous_region=c.provider_region.lag().over(order),
        _prev_time=c.admit_time.lag().over(order),
    )
    c = c.mutate(gap_minutes=c.admit_time.delta(c._prev_time, unit="second") / 60.0)
    cond = (
        c.previous_claim_id.notnull()
        & c.provider_region.notnull()
        & c.previous_region.notnull()
        & (c.provider_region != c.previous_region)
        & (c.gap_minutes <= minutes)
    )
    hits = c.filter(cond & _in_scene(c, rule))
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


def check_frequency(rule: Rule, x: RuleInputs) -> ir.Table:
    """Claims of the rule's scene beyond ``max`` per patient in any ``days`` days; each
    claim past the threshold is a hit."""
    days = int(_param(rule, "days", 30))
    most = int(_param(rule, "max"))
    c = x.claims.filter(_in_scene(x.claims, rule))
    span = ibis.window(
        group_by=c.patient_id,
        order_by=c.admit_time,
        range=(-ibis.interval(seconds=days * 86400 - 1), ibis.interval(seconds=0)),
    )
    c = c.mutate(count_in_window=c.count().over(span))
    hits = c.filter(c.count_in_window > most)
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


def check_chronic_unregistered(rule: Rule, x: RuleInputs) -> ir.Table:
    """Chronic-disease claims without a registration valid that day (门慢无认定)."""
    hits = unregistered_chronic_claims(x.claims, x.registrations)
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


# ------------------------------------------------------------------ provider checks

INDICATORS = {
    "drug_share": ("western_drug", "patent_drug", "herbal"),
    "exam_lab_share": ("exam", "lab"),
    "material_share": ("material",),
    "treatment_share": ("treatment",),
}


def check_peer_ratio(rule: Rule, x: RuleInputs) -> ir.Table:
    """A provider whose fee share of a kind (药占比, 检查检验占比, 耗材占比) lies far above
    its peers (same type and grade): robust z above ``min_z``; amount: the fees beyond the
    peer median share."""
    indicator = str(_param(rule, "indicator"))
    if indicator not in INDICATORS:
        raise RuleExpressionError(
            f"rule {rule.id}: params.indicator is {indicator!r}; one of {', '.join(INDICATORS)}"
        )
    min_z = float(_param(rule, "min_z", 3.0))
    min_fees = float(rule.params.get("min_fees", 0.0))
    lines = x.lines.filter(_in_scene(x.lines, rule))
    part = lines.item_category.isin(list(INDICATORS[indicator]))
    per = lines.group_by("provider_id").agg(
        fees=lines.amount.sum(), _part=part.ifelse(lines.amount, 0.0).sum()
    )
    per = per.mutate(share=per._part / per.fees.nullif(0)).drop("_part")
    per = per.inner_join(x.providers.select("provider_id", "provider_type", "level"), "provider_id")
    per = per.drop(*[c for c in per.columns if c.endswith("_right")])
    per = per.filter(per.share.notnull())
    scored = with_peers(per, ["provider_type", "level"], ["share"])
    scored = scored.rename(peer_median="share__peer_median", peer_z="share__peer_z")
    hits = scored.filter((scored.peer_z > min_z) & (scored.fees >= min_fees))
    return hits.mutate(
        indicator=ibis.literal(indicator),
        _amount=(hits.share - hits.peer_median) * hits.fees,
    )


CHECKS: dict[str, Check] = {
    "line": Check(check_line, ("lines",), own_amount=True),
    "claim": Check(check_claim, own_amount=True),
    "daily_quantity": Check(check_daily_quantity, ("lines", "catalog")),
    "duplicate_item": Check(check_duplicate_item, ("lines",)),
    "repeated_trace": Check(check_repeated_trace, ("lines", "repeated")),
    "item_frequency": Check(check_item_frequency, ("lines",)),
    "readmission": Check(check_readmission),
    "overlapping_stays": Check(check_overlapping_stays),
    "during_stay": Check(check_during_stay),
    "region_switch": Check(check_region_switch),
    "frequency": Check(check_frequency),
    "chronic_unregistered": Check(check_chronic_unregistered, ("registrations",)),
    "peer_ratio": Check(check_peer_ratio, ("lines",), level="provider", population=True),
}


# the smart-monitoring checks of the national rule base (fraudml.rulebase.national)
from fraudml.rulebase.national import NATIONAL_CHECKS  # noqa: E402

CHECKS.update(NATIONAL_CHECKS)
