"""What every profile is built from: the window's claims and fee lines, enriched once.

As-of semantics: a window holds the claims admitted in ``[start, end)``. The only
look-back is for trace codes, where "settled before" looks at every fee line of claims
admitted before ``end``. Nothing after ``end`` is ever read.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from fraudml.io.load import Dataset
from fraudml.synth.catalog import synthetic_catalog

log = logging.getLogger(__name__)
_TAGS = itertools.count()

DRUG = ("western_drug", "patent_drug", "herbal")
EXAM_LAB = ("exam", "lab")
#: Unit price at or above which a drug pack counts as expensive (yuan).
EXPENSIVE_PACK = 500.0


@dataclass(frozen=True)
class Window:
    """``[start, end)`` on ``admit_time``; ``None`` leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        cond = ibis.literal(True)
        if self.start is not None:
            cond = cond & (ts >= self.start)
        if self.end is not None:
            cond = cond & (ts < self.end)
        return cond

    def before_end(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        return ibis.literal(True) if self.end is None else ts < self.end


@dataclass
class Inputs:
    """The window's claims, and their fee lines summarised per claim, as Ibis tables.

    Every profile reads these two claim-level tables only: the widest table (fee lines)
    is scanned once, by :func:`claim_fees`.
    """

    claims: ir.Table
    #: :func:`claim_fees` with the claim's patient, provider and doctor; ``None`` when the
    #: dataset has no fee lines
    fees: ir.Table | None
    registrations: ir.Table | None
    #: ``claim_codes`` of the window's claims with their provider (``claim_id``,
    #: ``provider_id``, ``kind``, ``code``); ``None`` when the dataset has none
    codes: ir.Table | None
    window: Window
    #: days the window spans (from the data when a side is open)
    days: ir.NumericScalar
    #: what the data has: its tables, plus ``claim_times`` when claims carry times of day
    tables: set[str]


def _age_years(on: ir.TimestampValue, birth: ir.DateValue) -> ir.IntegerValue:
    return (on.date().delta(birth, unit="day") / 365.25).floor().cast("int64")


def prepare(ds: Dataset, window: Window, *, fees: bool = True) -> Inputs:
    """Claims of the window joined to patient and provider attributes, and (when ``fees``
    and the dataset has fee lines) the fee lines summarised per claim.

    Both are computed into temporary engine tables with names of their own, so that
    several windows (or profiles and rules) can be prepared on one connection.
    """
    claims = ds.table("claims")
    claims = claims.filter(window.holds(claims.admit_time))
    p = ds.table("patients").select(
        "patient_id", "gender", "birth_date", "insurance_type", patient_region="region"
    )
    v = ds.table("providers").select(
        "provider_id", "provider_type", level=ds.table("providers").level, provider_region="region"
    )
    c = claims.inner_join(p, "patient_id").inner_join(v, "provider_id")
    c = c.mutate(
        age=_age_years(c.admit_time, c.birth_date),
        day=c.admit_time.date(),
        hour=c.admit_time.hour(),
        night=(c.admit_time.hour() >= 21) | (c.admit_time.hour() < 7),
        weekend=c.admit_time.day_of_week.index() >= 5,
        los=c.discharge_time.date().delta(c.admit_time.date(), unit="day"),
        out_of_region=c.patient_region != c.provider_region,
    )
    c = c.mutate(
        age_band=ibis.cases(
            (c.age < 18, "0-17"),
            (c.age < 40, "18-39"),
            (c.age < 60, "40-59"),
            (c.age < 80, "60-79"),
            else_="80+",
        )
    )
    stats = claims.agg(lo=claims.admit_time.min(), hi=claims.admit_time.max())
    start = ibis.literal(window.start) if window.start else stats.lo.as_scalar()
    end = ibis.literal(window.end) if window.end else stats.hi.as_scalar()
    days = (end.delta(start, unit="second") / 86400.0).ceil().clip(lower=1)

    # Computed once into temporary engine tables: every profile reads the claims several
    # times, and the fee-line summary is the costliest step of the run.
    started = time.perf_counter()
    tag = next(_TAGS)
    c = ds.con.create_table(f"_window_claims_{tag}", c, temp=True, overwrite=True)
    summary = None
    if fees and "claim_items" in ds:
        summary = claim_fees(fee_lines(ds, c), repeated_trace_lines(ds, window))
        summary = ds.con.create_table(f"_window_fees_{tag}", summary, temp=True, overwrite=True)
    log.info(
        "window claims%s ready (%.1f s)",
        " and fee summary" if summary is not None else "",
        time.perf_counter() - started,
    )
    regs = ds.table("chronic_registrations") if "chronic_registrations" in ds else None
    codes = None
    if "claim_codes" in ds:
        k = ds.table("claim_codes")
        codes = k.inner_join(c.select("claim_id", "provider_id"), "claim_id").select(
            "claim_id", "provider_id", "kind", "code"
        )
    has = set(ds.tables)
    if has_times_of_day(c):
        has.add("claim_times")
    return Inputs(c, summary, regs, codes, window, days, has)


def has_times_of_day(claims: ir.Table) -> bool:
    """Whether any claim's admit time is not midnight (sources with dates only are not:
    time-of-day features would then describe the source's format, not behaviour)."""
    t = claims.admit_time
    midnight = (t.hour() == 0) & (t.minute() == 0) & (t.second() == 0)
    return bool((~midnight).any().execute())


def _catalog(ds: Dataset) -> ir.Table:
    if "catalog" in ds:
        return ds.table("catalog")
    frame = synthetic_catalog().drop(columns=["ref_price", "tag", "name"])
    return ibis.memtable(frame)


def fee_lines(ds: Dataset, c: ir.Table) -> ir.Table:
    """Fee lines of the window's claims ``c`` with the catalog's static restrictions.

    ``static_breach`` covers gender, age, inpatient-only, hospital level and price cap;
    the daily-quantity limit spans claims and is found by :func:`over_daily_limit`.
    """
    cat = _catalog(ds).select(
        "item_code",
        cat_gender="gender",
        min_age="min_age",
        max_age="max_age",
        max_daily="max_daily_quantity",
        inpatient_only="inpatient_only",
        min_level="min_provider_level",
        price_cap="price_cap",
    )
    attrs = c.select(
        "claim_id",
        "patient_id",
        "provider_id",
        "doctor_id",
        "visit_type",
        "department",
        "gender",
        "age",
        "level",
        "admit_time",
        "discharge_time",
    )
    lines = ds.table("claim_items").select(
        "claim_id",
        "line_no",
        "item_code",
        "item_category",
        "item_time",
        "quantity",
        "unit_price",
        "amount",
        "trace_code",
    )
    it = lines.inner_join(attrs, "claim_id").left_join(cat, "item_code")
    it = it.drop(*[col for col in it.columns if col.endswith("_right")])
    day = it.item_time.fill_null(it.admit_time).date()
    over_cap = (it.unit_price > it.price_cap + 0.005).fill_null(False)
    static = (
        (it.cat_gender.notnull() & (it.cat_gender != it.gender))
        | (it.age < it.min_age.fill_null(-1))
        | (it.age > it.max_age.fill_null(999))
        | (it.inpatient_only.fill_null(False) & (it.visit_type != "inpatient"))
        | (it.level.fill_null(0) < it.min_level.fill_null(0))
        | over_cap
    )
    return it.mutate(
        day=day,
        static_breach=static.fill_null(False),
        over_cap=over_cap,
        price_to_cap=it.unit_price / it.price_cap.nullif(0),
        is_drug=it.item_category.isin(DRUG),
        is_exam_lab=it.item_category.isin(EXAM_LAB),
        outside_stay=(
            (it.visit_type == "inpatient")
            & ((day < it.admit_time.date()) | (day > it.discharge_time.date()))
        ).fill_null(False),
    )


def claim_fees(lines: ir.Table, repeated: ir.Table) -> ir.Table:
    """One row per claim with fee lines: its patient, provider and doctor, and line counts
    and amounts by kind (drugs, exams and labs, materials, treatment, breaches, repeats).

    Cost matters here: fee lines are the widest table of the run. Every line is read
    once, by one aggregate; the cross-line flags (daily limit, repeated trace code) are
    rare, so they are counted per claim on their own small tables and joined at claim
    level rather than joined back onto every line.

    Parameters
    ----------
    lines
        :func:`fee_lines` of the window's claims.
    repeated
        :func:`repeated_trace_lines` as of the window's end.
    """

    def n(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return cond.ifelse(1, 0).sum()

    def amount(cond: ir.BooleanValue) -> ir.FloatingScalar:
        return cond.ifelse(lines.amount, 0.0).sum()

    fees = lines.group_by("claim_id").agg(
        patient_id=lines.patient_id.arbitrary(),
        provider_id=lines.provider_id.arbitrary(),
        doctor_id=lines.doctor_id.arbitrary(),
        n_lines=lines.count(),
        fees=lines.amount.sum(),
        drug_lines=n(lines.is_drug),
        drug_amount=amount(lines.is_drug),
        expensive_drug_amount=amount(lines.is_drug & (lines.unit_price >= EXPENSIVE_PACK)),
        drug_packs=lines.is_drug.ifelse(lines.quantity, 0.0).sum(),
        exam_lab_lines=n(lines.is_exam_lab),
        exam_lab_amount=amount(lines.is_exam_lab),
        material_amount=amount(lines.item_category == "material"),
        treatment_amount=amount(lines.item_category == "treatment"),
        price_to_cap_sum=lines.price_to_cap.sum(),
        price_to_cap_n=lines.price_to_cap.count(),
        over_cap_lines=n(lines.over_cap),
        _static=n(lines.static_breach),
        outside_stay_lines=n(lines.outside_stay),
    )
    # a line over the daily limit that already breaches statically counts once
    daily = over_daily_limit(lines)
    daily = daily.filter(~daily.static_breach)
    daily = daily.group_by("claim_id").agg(_daily=daily.count())
    reps = repeated.group_by("claim_id").agg(repeated_trace_lines=repeated.count())
    for extra in (daily, reps):
        fees = fees.left_join(extra, "claim_id")
        fees = fees.drop(*[col for col in fees.columns if col.endswith("_right")])
    return fees.mutate(
        breach_lines=fees._static + fees._daily.fill_null(0),
        repeated_trace_lines=fees.repeated_trace_lines.fill_null(0),
    ).drop("_static", "_daily")


def over_daily_limit(lines: ir.Table) -> ir.Table:
    """Fee lines on a (patient, item, day) whose summed quantity exceeds the daily limit.

    The limit applies across claims: two prescriptions of the same day add up.
    """
    limited = lines.filter(lines.max_daily.notnull())
    daily = limited.group_by(["patient_id", "item_code", "day"]).agg(
        q=limited.quantity.sum(), cap=limited.max_daily.max()
    )
    over = daily.filter(daily.q > daily.cap).select("patient_id", "item_code", "day")
    return limited.semi_join(over, ["patient_id", "item_code", "day"]).select(
        "claim_id", "line_no", "static_breach"
    )


def repeated_trace_lines(ds: Dataset, window: Window) -> ir.Table:
    """Fee lines whose trace code was already settled on an earlier line (up to ``end``),
    with the claim that settled it first and how often the code was seen.

    Only codes seen more than once can repeat, so they are found by one aggregate and
    only their lines are ordered. The look-back is the whole history before the
    window's end: a code sold last year and again in this window is a repeat.
    """
    lines = ds.table("claim_items").filter(lambda t: t.trace_code.notnull())
    lines = lines.select("claim_id", "line_no", "trace_code", "item_time")
    if window.end is not None:
        claims = ds.table("claims")
        history = claims.filter(window.before_end(claims.admit_time)).select("claim_id")
        lines = lines.semi_join(history, "claim_id")
    counts = lines.group_by("trace_code").agg(n=lines.count())
    seen_twice = counts.filter(counts.n > 1).select("trace_code")
    lines = lines.semi_join(seen_twice, "trace_code").inner_join(
        ds.table("claims").select("claim_id", "admit_time"), "claim_id"
    )
    when = lines.item_time.fill_null(lines.admit_time)
    by_time = ibis.window(group_by=lines.trace_code, order_by=[when, lines.claim_id, lines.line_no])
    lines = lines.mutate(
        position=ibis.row_number().over(by_time),
        first_claim_id=lines.claim_id.first().over(by_time),
        times_seen=lines.count().over(ibis.window(group_by=lines.trace_code)),
    )
    return lines.filter(lines.position > 0).select(
        "claim_id", "line_no", "first_claim_id", "times_seen"
    )


def unregistered_chronic_claims(c: ir.Table, regs: ir.Table) -> ir.Table:
    """Chronic-disease (门慢门特) claims of ``c`` with no registration valid that day.

    A registration covers a claim when its disease code's first three characters (the
    ICD-10 category) start the claim's diagnosis and the day lies in its validity.
    """
    chronic = c.filter(c.visit_type == "outpatient_chronic")
    valid = (
        chronic.inner_join(
            regs,
            [
                chronic.patient_id == regs.patient_id,
                chronic.diagnosis_code.fill_null("").startswith(regs.disease_code.substr(0, 3)),
                regs.valid_from <= chronic.day,
                regs.valid_to.isnull() | (regs.valid_to >= chronic.day),
            ],
        )
        .select(claim_id=chronic.claim_id)
        .distinct()
    )
    return chronic.anti_join(valid, "claim_id")
