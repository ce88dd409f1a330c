"""The checks of the national smart-monitoring rule types (智能监控规则库), generic and tuned
in YAML: catalog facts (目录外, 超疗程, 超量开药, 重复开药, 配伍禁忌, 分解收费, 串换),
practitioners and providers (执业范围, 日接诊量, 床位, 夜间与节假日), and care that does
not fit the claim (虚计床日, 挂床, 低标入院, 重复检查, 手术与麻醉, 过度检查).

Each returns candidate hits like the checks of :mod:`fraudml.rulebase.checks`: claim or
fee-line rows with ``occurred`` and ``_amount`` plus the columns its messages name.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from fraudml.features.peers import with_peers
from fraudml.rulebase.checks import Check, RuleInputs, _in_scene, _line_time, _param
from fraudml.rulebase.enrich import enriched_claims, enriched_lines, rule_names
from fraudml.rulebase.expr import RuleExpressionError, compile_expr, names_in
from fraudml.rulebase.spec import Rule

_DAY = 86400.0


def _days(a: ir.Value, b: ir.Value) -> ir.Value:
    """Whole days from date ``b`` to date ``a``."""
    return a.delta(b, unit="day")


def _as_number(value: ir.Value) -> ir.Value:
    return value.ifelse(1, 0) if isinstance(value, ir.BooleanValue) else value


# ------------------------------------------------------------------ catalog facts


def check_unlisted(rule: Rule, x: RuleInputs) -> ir.Table:
    """目录外: fee lines billed to the fund whose item code is in no catalog entry."""
    lines = enriched_lines(x.lines, x, {"listed"} | rule_names(rule))
    hits = lines.filter(~lines.listed & _in_scene(lines, rule))
    return hits.mutate(occurred=_line_time(hits), _amount=hits.amount)


def check_course(rule: Rule, x: RuleInputs) -> ir.Table:
    """超疗程: lines of an item with ``max_course_days`` dated beyond the course. A course
    is a patient's run of lines of the item with gaps of at most ``gap_days`` (default
    30); ``course_day`` counts from its first day (the first is day 1)."""
    gap = int(_param(rule, "gap_days", 30))
    lines = enriched_lines(x.lines, x, {"max_course_days"} | rule_names(rule))
    lines = lines.filter(lines.max_course_days.notnull())
    order = ibis.window(
        group_by=[lines.patient_id, lines.item_code], order_by=[lines.day, "claim_id", "line_no"]
    )
    prev = lines.day.lag().over(order)
    lines = lines.mutate(_new=(prev.isnull() | (_days(lines.day, prev) > gap)).ifelse(1, 0))
    run = ibis.window(
        group_by=[lines.patient_id, lines.item_code],
        order_by=[lines.day, "claim_id", "line_no"],
        rows=(None, 0),
    )
    lines = lines.mutate(_run=lines._new.sum().over(run))
    start = ibis.window(group_by=[lines.patient_id, lines.item_code, lines._run])
    lines = lines.mutate(course_start=lines.day.min().over(start))
    lines = lines.mutate(course_day=_days(lines.day, lines.course_start) + 1)
    hits = lines.filter((lines.course_day > lines.max_course_days) & _in_scene(lines, rule))
    return hits.mutate(occurred=_line_time(hits), _amount=hits.amount)


def _purchases(rule: Rule, x: RuleInputs) -> ir.Table:
    """One row per claim and drug with days of supply: its first line, units, amount and
    ``supply_days`` (units × the catalog's ``days_per_unit``)."""
    lines = enriched_lines(x.lines, x, {"days_per_unit"} | rule_names(rule))
    lines = lines.filter(lines.days_per_unit.notnull() & (lines.days_per_unit > 0))
    per = lines.group_by(["claim_id", "item_code"]).agg(
        line_no=lines.line_no.min(),
        patient_id=lines.patient_id.arbitrary(),
        provider_id=lines.provider_id.arbitrary(),
        doctor_id=lines.doctor_id.arbitrary(),
        visit_type=lines.visit_type.arbitrary(),
        day=lines.day.min(),
        occurred=_line_time(lines).min(),
        units=lines.quantity.sum(),
        amount=lines.amount.sum(),
        days_per_unit=lines.days_per_unit.max(),
    )
    return per.mutate(supply_days=(per.units * per.days_per_unit).round(1))


def check_supply(rule: Rule, x: RuleInputs) -> ir.Table:
    """超量开药: a drug's days of supply within any ``days`` days (1: one claim) above
    ``max_days``; the purchases past the limit are hits, with the supply beyond it as a
    share of their amount."""
    days = int(_param(rule, "days", 1))
    most = float(_param(rule, "max_days"))
    p = _purchases(rule, x)
    if days == 1:
        p = p.mutate(supply_in_window=p.supply_days)
    else:
        span = ibis.window(
            group_by=[p.patient_id, p.item_code],
            order_by=p.occurred,
            range=(-ibis.interval(seconds=days * 86400 - 1), ibis.interval(seconds=0)),
        )
        p = p.mutate(supply_in_window=p.supply_days.sum().over(span))
    hits = p.filter((p.supply_in_window > most) & _in_scene(p, rule))
    over = ibis.least(hits.supply_in_window - most, hits.supply_days) / hits.supply_days
    return hits.mutate(_amount=hits.amount * over)


def check_supply_overlap(rule: Rule, x: RuleInputs) -> ir.Table:
    """重复开药: a drug bought while the patient's previous purchase of it still covers
    more than ``min_overlap_days``; ``provider: other`` only when the two come from
    different providers, ``same`` only from the same one (default ``any``). Amount: the
    share of the purchase the overlap covers."""
    least_overlap = float(_param(rule, "min_overlap_days", 0.0))
    provider = str(rule.params.get("provider", "any"))
    if provider not in ("any", "same", "other"):
        raise RuleExpressionError(
            f"rule {rule.id}: params.provider is {provider!r}; any, same or other"
        )
    p = _purchases(rule, x)
    order = ibis.window(group_by=[p.patient_id, p.item_code], order_by=[p.occurred, p.claim_id])
    p = p.mutate(
        previous_claim_id=p.claim_id.lag().over(order),
        previous_provider_id=p.provider_id.lag().over(order),
        _prev_day=p.day.lag().over(order),
        _prev_supply=p.supply_days.lag().over(order),
    )
    p = p.mutate(overlap_days=(p._prev_supply - _days(p.day, p._prev_day)).round(1))
    cond = p.previous_claim_id.notnull() & (p.overlap_days > least_overlap)
    if provider == "other":
        cond = cond & (p.provider_id != p.previous_provider_id)
    elif provider == "same":
        cond = cond & (p.provider_id == p.previous_provider_id)
    hits = p.filter(cond & _in_scene(p, rule))
    share = ibis.least(hits.overlap_days / hits.supply_days, 1.0)
    return hits.mutate(_amount=hits.amount * share)


def check_incompatible(rule: Rule, x: RuleInputs) -> ir.Table:
    """配伍禁忌: two items of one claim of which one lists the other in
    ``incompatible_with``; the later line is the hit, naming the earlier item."""
    lines = enriched_lines(x.lines, x, {"incompatible_with"} | rule_names(rule))
    # the lines that list incompatible items are few: pair only those with their claim's
    a = lines.filter(lines.incompatible_with.notnull()).select(
        _cid="claim_id", _no="line_no", _code="item_code", _inc="incompatible_with"
    )
    wrap = ibis.literal(";")
    listed = wrap.concat(a._inc.replace(" ", "")).concat(";")
    pairs = a.inner_join(
        lines.select("claim_id", "line_no", "item_code"),
        [
            a._cid == lines.claim_id,
            a._no != lines.line_no,
            listed.contains(wrap.concat(lines.item_code).concat(";")),
        ],
    )
    # the later line of the two is the hit, naming the other's item
    later = pairs.line_no > pairs._no
    pairs = pairs.select(
        claim_id=pairs._cid,
        line_no=later.ifelse(pairs.line_no, pairs._no),
        other_item_code=later.ifelse(pairs._code, pairs.item_code),
    )
    first = pairs.group_by(["claim_id", "line_no"]).agg(other_item_code=pairs.other_item_code.min())
    hits = lines.filter(_in_scene(lines, rule)).inner_join(first, ["claim_id", "line_no"])
    return hits.mutate(occurred=_line_time(hits), _amount=hits.amount)


def check_bundle(rule: Rule, x: RuleInputs) -> ir.Table:
    """分解收费. ``mode: with_package``: a part (``bundle_of`` names its package) billed
    on a claim that also bills the package — the part is a hit. ``mode: parts``: at
    least ``min_parts`` different parts of one package billed on a claim without it, for
    more than the package's price cap — a hit on the first part line, for the excess."""
    mode = str(_param(rule, "mode", "with_package"))
    lines = enriched_lines(x.lines, x, {"bundle_of"} | rule_names(rule))
    parts = lines.filter(lines.bundle_of.notnull() & _in_scene(lines, rule))
    # the packages billed, on the claims that bill a part: few of all the lines
    packages = parts.select(_code="bundle_of").distinct()
    with_parts = parts.select(_pc="claim_id").distinct()
    billed = lines.semi_join(with_parts, lines.claim_id == with_parts._pc)
    billed = billed.inner_join(packages, billed.item_code == packages._code)
    billed = billed.select(_cid="claim_id", _code="item_code").distinct()
    if mode == "with_package":
        hits = parts.inner_join(
            billed, [parts.claim_id == billed._cid, parts.bundle_of == billed._code]
        ).drop("_cid", "_code")
        return hits.mutate(occurred=_line_time(hits), _amount=hits.amount)
    if mode != "parts":
        raise RuleExpressionError(f"rule {rule.id}: params.mode is {mode!r}; with_package or parts")
    least = int(_param(rule, "min_parts", 2))
    alone = parts.anti_join(
        billed, [parts.claim_id == billed._cid, parts.bundle_of == billed._code]
    )
    per = alone.group_by(["claim_id", "bundle_of"]).agg(
        line_no=alone.line_no.min(),
        parts=alone.item_code.nunique(),
        parts_amount=alone.amount.sum(),
        occurred=_line_time(alone).min(),
    )
    if x.catalog is None:
        raise RuleExpressionError(f"rule {rule.id}: needs the catalog's package prices")
    cap = x.catalog.select(_pkg="item_code", package_cap="price_cap")
    per = per.inner_join(cap, per.bundle_of == cap._pkg).drop("_pkg")
    per = per.filter((per.parts >= least) & (per.parts_amount > per.package_cap + 0.005))
    claims = x.claims.select(
        "claim_id", "patient_id", "provider_id", "doctor_id", "visit_type", "day"
    )
    hits = per.inner_join(claims, "claim_id")
    return hits.mutate(item_code=hits.bundle_of, _amount=hits.parts_amount - hits.package_cap)


def check_sibling_share(rule: Rule, x: RuleInputs) -> ir.Table:
    """串换: a provider billing the dearest code of a sibling group (``sibling_group``)
    for a share of the group's units above ``factor`` times the city's share and above
    ``min_share``, over at least ``min_units`` units: its lines of the dearest code are
    hits, for the price beyond the group's cheapest cap."""
    factor = float(_param(rule, "factor", 2.0))
    min_share = float(_param(rule, "min_share", 0.5))
    min_units = float(_param(rule, "min_units", 20))
    lines = enriched_lines(x.lines, x, {"sibling_group"} | rule_names(rule))
    g = lines.filter(lines.sibling_group.notnull() & lines.price_cap.notnull())
    caps = g.group_by("sibling_group").agg(_top=g.price_cap.max(), cheapest_cap=g.price_cap.min())
    g = g.inner_join(caps, "sibling_group")
    g = g.mutate(_dear=(g.price_cap >= g._top) & (g._top > g.cheapest_cap))
    units = g._dear.ifelse(g.quantity, 0.0)
    city = g.group_by("sibling_group").agg(city_share=units.sum() / g.quantity.sum())
    per = g.group_by(["provider_id", "sibling_group"]).agg(
        group_units=g.quantity.sum(), _dear_units=units.sum()
    )
    per = per.mutate(dear_share=per._dear_units / per.group_units).inner_join(city, "sibling_group")
    flagged = per.filter(
        (per.group_units >= min_units)
        & (per.dear_share > min_share)
        & (per.dear_share > per.city_share * factor)
    ).select("provider_id", "sibling_group", "dear_share", "city_share", "group_units")
    hits = g.filter(g._dear & _in_scene(g, rule)).inner_join(
        flagged, ["provider_id", "sibling_group"]
    )
    excess = ibis.greatest(hits.unit_price - hits.cheapest_cap, 0.0) * hits.quantity
    return hits.mutate(occurred=_line_time(hits), _amount=excess)


# ------------------------------------------------------------------ claims and their lines


def _claim_counts(rule: Rule, x: RuleInputs, c: ir.Table) -> ir.Table:
    """``c`` with per-claim sums of the line expressions in ``params.count`` (booleans
    count lines) — 0 for a claim without such lines."""
    counts: dict[str, Any] = dict(rule.params.get("count") or {})
    if not counts:
        return c
    if not isinstance(rule.params.get("count"), dict):
        raise RuleExpressionError(f"rule {rule.id}: params.count must map names to expressions")
    names: set[str] = set()
    for text in counts.values():
        names |= names_in(str(text))
    lines = enriched_lines(x.lines, x, names)
    # the lines of the claims concerned only (the scene's visit types)
    concerned = c.select(_c="claim_id")
    lines = lines.semi_join(concerned, lines.claim_id == concerned._c)
    values = {name: compile_expr(str(text), lines, rule.params) for name, text in counts.items()}
    # a line that adds 0 to every sum changes none: aggregate the others only
    adds = [v if isinstance(v, ir.BooleanValue) else (v != 0) for v in values.values()]
    keep = adds[0]
    for a in adds[1:]:
        keep = keep | a
    lines = lines.mutate(**values).filter(keep.fill_null(False))
    sums = lines.group_by("claim_id").agg(
        **{name: _as_number(lines[name]).sum() for name in values}
    )
    out = c.left_join(sums, "claim_id")
    out = out.drop(*[col for col in out.columns if col.endswith("_right")])
    return out.mutate(**{name: out[name].fill_null(0) for name in counts})


def check_claim_lines(rule: Rule, x: RuleInputs) -> ir.Table:
    """Claims (of the scene) meeting ``where`` over the claim and the per-claim sums of
    ``params.count`` (``surgery_lines: "item_category == 'surgery'"``); amount ``amount``
    (default: the fund's payment)."""
    if rule.where is None:
        raise RuleExpressionError(f"rule {rule.id}: check 'claim_lines' needs 'where'")
    c = enriched_claims(x.claims, x, rule_names(rule))
    c = _claim_counts(rule, x, c.filter(_in_scene(c, rule)))
    hits = c.filter(compile_expr(rule.where, c, rule.params))
    return hits.mutate(
        occurred=hits.admit_time,
        _amount=compile_expr(rule.amount or "fund_paid", hits, rule.params),
    )


def check_peer_claim(rule: Rule, x: RuleInputs) -> ir.Table:
    """过度检查 and its kin: a claim whose ``metric`` (an expression over the claim and
    its ``params.count`` sums) lies far above the claims of the same diagnosis category
    (ICD-10, 3 characters) and visit type: robust z above ``min_z`` within a group of at
    least ``min_group`` claims, and the metric at least ``min_value``. Amount: the
    claim's fees in the same proportion as the metric beyond the peer median."""
    metric = str(_param(rule, "metric"))
    min_z = float(_param(rule, "min_z", 4.0))
    min_group = int(_param(rule, "min_group", 30))
    min_value = float(rule.params.get("min_value", 0.0))
    c = enriched_claims(x.claims, x, rule_names(rule))
    c = c.filter(_in_scene(c, rule) & c.diagnosis_code.notnull())
    c = _claim_counts(rule, x, c)
    c = c.mutate(
        metric=_as_number(compile_expr(metric, c, rule.params)).cast("float64"),
        diagnosis_group=c.diagnosis_code.substr(0, 3),
    )
    sizes = c.group_by(["diagnosis_group", "visit_type"]).agg(peer_claims=c.count())
    c = c.inner_join(sizes, ["diagnosis_group", "visit_type"])
    c = c.filter(c.peer_claims >= min_group)
    scored = with_peers(c, ["diagnosis_group", "visit_type"], ["metric"])
    scored = scored.rename(peer_median="metric__peer_median", peer_z="metric__peer_z")
    hits = scored.filter((scored.peer_z > min_z) & (scored.metric >= min_value))
    beyond = (hits.metric - hits.peer_median) / hits.metric.nullif(0)
    fees = compile_expr(rule.amount or "fund_paid", hits, rule.params)
    return hits.mutate(occurred=hits.admit_time, _amount=fees * beyond.fill_null(0))


def check_repeat_within(rule: Rule, x: RuleInputs) -> ir.Table:
    """重复检查: an item of ``categories`` billed again to the patient within ``days`` of
    its previous line on another claim, at least ``min_gap_days`` later (1: not the same
    day), at another provider when ``other_provider``."""
    days = float(_param(rule, "days", 7))
    min_gap = float(rule.params.get("min_gap_days", 1))
    other = bool(rule.params.get("other_provider", False))
    categories = list(_param(rule, "categories", ["exam"]))
    lines = x.lines.filter(x.lines.item_category.isin(categories))
    lines = lines.mutate(occurred=_line_time(lines))
    order = ibis.window(
        group_by=[lines.patient_id, lines.item_code],
        order_by=[lines.occurred, lines.claim_id, lines.line_no],
    )
    lines = lines.mutate(
        previous_claim_id=lines.claim_id.lag().over(order),
        previous_provider_id=lines.provider_id.lag().over(order),
        _prev_day=lines.day.lag().over(order),
    )
    lines = lines.mutate(gap_days=_days(lines.day, lines._prev_day))
    cond = (
        lines.previous_claim_id.notnull()
        & (lines.previous_claim_id != lines.claim_id)
        & (lines.gap_days <= days)
        & (lines.gap_days >= min_gap)
    )
    if other:
        cond = cond & (lines.provider_id != lines.previous_provider_id)
    hits = lines.filter(cond & _in_scene(lines, rule))
    return hits.mutate(_amount=hits.amount)


# ------------------------------------------------------------------ practitioners, providers


def check_per_day(rule: Rule, x: RuleInputs) -> ir.Table:
    """日接诊量: claims of the scene beyond ``max`` a calendar day for one ``by`` (a
    practitioner, ``doctor_id``, or a provider); each claim past the limit is a hit."""
    by = str(_param(rule, "by", "doctor_id"))
    most = int(_param(rule, "max"))
    if by not in ("doctor_id", "provider_id"):
        raise RuleExpressionError(f"rule {rule.id}: params.by is {by!r}; doctor_id or provider_id")
    c = x.claims.filter(_in_scene(x.claims, rule) & x.claims[by].notnull())
    order = ibis.window(group_by=[c[by], c.day], order_by=[c.admit_time, c.claim_id])
    c = c.mutate(
        count_in_day=ibis.row_number().over(order) + 1,
        day_total=c.count().over(ibis.window(group_by=[c[by], c.day])),
    )
    hits = c.filter(c.count_in_day > most)
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


def check_bed_capacity(rule: Rule, x: RuleInputs) -> ir.Table:
    """床位: an admission that takes a provider's patients in bed beyond ``factor`` times
    its registered beds (``providers.beds``); occupancy counts the stays begun and not yet
    ended at the admission, discharges first at a tie."""
    factor = float(_param(rule, "factor", 1.2))
    stays = x.claims.filter(x.claims.visit_type == "inpatient")
    ins = stays.select("provider_id", "claim_id", at=stays.admit_time, step=ibis.literal(1))
    outs = stays.select("provider_id", "claim_id", at=stays.discharge_time, step=ibis.literal(-1))
    ev = ins.union(outs)
    order = ibis.window(
        group_by=ev.provider_id, order_by=[ev.at, ev.step, ev.claim_id], rows=(None, 0)
    )
    ev = ev.mutate(in_bed=ev.step.sum().over(order))
    occ = ev.filter(ev.step == 1).select("claim_id", "in_bed")
    beds = x.providers.select("provider_id", "beds")
    c = stays.inner_join(occ, "claim_id").inner_join(beds, "provider_id")
    c = c.drop(*[col for col in c.columns if col.endswith("_right")])
    hits = c.filter(c.beds.notnull() & (c.beds > 0) & (c.in_bed > c.beds * factor))
    hits = hits.filter(_in_scene(hits, rule))
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


def check_off_hours(rule: Rule, x: RuleInputs, when: str) -> ir.Table:
    """夜间与节假日: claims settled at night (``night_share``, 21:00–07:00; it needs claims
    with times of day) or on a holiday (``holiday_share``: weekends and the dates in
    ``holidays``) at a provider
    whose share of such claims is above ``factor`` times the median of its peers (same
    type) and above ``min_share``, over at least ``min_claims`` claims in the window."""
    factor = float(_param(rule, "factor", 3.0))
    min_share = float(_param(rule, "min_share", 0.2))
    min_claims = int(_param(rule, "min_claims", 100))
    c = x.claims.filter(_in_scene(x.claims, rule))
    if when == "night":
        flag = c.night
    elif when == "holiday":
        days = [date.fromisoformat(str(d)) for d in rule.params.get("holidays", [])]
        flag = c.weekend | c.day.isin(days) if days else c.weekend
    else:
        raise RuleExpressionError(f"rule {rule.id}: params.when is {when!r}; night or holiday")
    c = c.mutate(_off=flag.fill_null(False))
    per = c.group_by(["provider_id", "provider_type"]).agg(
        claims_n=c.count(), off_share=c._off.ifelse(1.0, 0.0).mean()
    )
    per = per.filter(per.claims_n >= min_claims)
    med = per.group_by("provider_type").agg(peer_share=per.off_share.median())
    per = per.inner_join(med, "provider_type")
    flagged = per.filter(
        (per.off_share > min_share) & (per.off_share > per.peer_share * factor)
    ).select("provider_id", "off_share", "peer_share")
    hits = c.filter(c._off).inner_join(flagged, "provider_id")
    return hits.mutate(occurred=hits.admit_time, _amount=hits.fund_paid)


NATIONAL_CHECKS: dict[str, Check] = {
    "unlisted": Check(check_unlisted, ("lines", "catalog"), reads=("listed",)),
    "course": Check(
        check_course,
        ("lines", "catalog"),
        requires=("catalog.max_course_days",),
        reads=("max_course_days",),
    ),
    "supply": Check(
        check_supply,
        ("lines", "catalog"),
        requires=("catalog.days_per_unit",),
        reads=("days_per_unit",),
    ),
    "supply_overlap": Check(
        check_supply_overlap,
        ("lines", "catalog"),
        requires=("catalog.days_per_unit",),
        reads=("days_per_unit",),
    ),
    "incompatible": Check(
        check_incompatible,
        ("lines", "catalog"),
        requires=("catalog.incompatible_with",),
        reads=("incompatible_with",),
    ),
    "bundle": Check(
        check_bundle, ("lines", "catalog"), requires=("catalog.bundle_of",), reads=("bundle_of",)
    ),
    "sibling_share": Check(
        check_sibling_share,
        ("lines", "catalog"),
        requires=("catalog.sibling_group",),
        reads=("sibling_group",),
        population=True,
    ),
    "claim_lines": Check(check_claim_lines, ("lines",), own_amount=True),
    "peer_claim": Check(check_peer_claim, ("lines",), own_amount=True, population=True),
    "repeat_within": Check(check_repeat_within, ("lines",)),
    "per_day": Check(check_per_day, population=True),
    "bed_capacity": Check(check_bed_capacity, population=True),
    "night_share": Check(
        lambda rule, x: check_off_hours(rule, x, "night"),
        requires=("claim_times",),
        population=True,
    ),
    "holiday_share": Check(lambda rule, x: check_off_hours(rule, x, "holiday"), population=True),
}
