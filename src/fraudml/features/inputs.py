"""What every profile is built from: the window's claims and fee lines, enriched once.

As-of semantics: a window holds the claims admitted in ``[start, end)``. The only
look-back is for trace codes, where "settled before" looks at every fee line of claims
admitted before ``end``. Nothing after ``end`` is ever read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir

from fraudml.io.load import Dataset
from fraudml.synth.catalog import synthetic_catalog

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
    """Window claims and fee lines with the attributes features need, as Ibis tables."""

    claims: ir.Table
    items: ir.Table | None
    registrations: ir.Table | None
    window: Window
    #: days the window spans (from the data when a side is open)
    days: ir.NumericScalar
    tables: set[str]


def _age_years(on: ir.TimestampValue, birth: ir.DateValue) -> ir.IntegerValue:
    return (on.date().delta(birth, unit="day") / 365.25).floor().cast("int64")


def prepare(ds: Dataset, window: Window) -> Inputs:
    """Claims of the window joined to patient and provider attributes; fee lines likewise."""
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

    items = None
    if "claim_items" in ds:
        items = _items(ds, c, window)
    regs = ds.table("chronic_registrations") if "chronic_registrations" in ds else None
    return Inputs(c, items, regs, window, days, set(ds.tables))


def _catalog(ds: Dataset) -> ir.Table:
    if "catalog" in ds:
        return ds.table("catalog")
    frame = synthetic_catalog().drop(columns=["ref_price", "tag", "name"])
    return ibis.memtable(frame)


def _items(ds: Dataset, c: ir.Table, window: Window) -> ir.Table:
    """Fee lines of window claims with catalog restrictions, breach and repeat flags."""
    cat = _catalog(ds).select(
        "item_code",
        cat_category="item_category",
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
        "gender",
        "age",
        "level",
        "admit_time",
        "discharge_time",
    )
    it = ds.table("claim_items").inner_join(attrs, "claim_id").left_join(cat, "item_code")
    it = it.drop(*[col for col in it.columns if col.endswith("_right")])
    when = it.item_time.fill_null(it.admit_time)
    daily = it.quantity.sum().over(ibis.window(group_by=[it.patient_id, it.item_code, when.date()]))
    breach = (
        (it.cat_gender.notnull() & (it.cat_gender != it.gender))
        | (it.age < it.min_age.fill_null(-1))
        | (it.age > it.max_age.fill_null(999))
        | (it.inpatient_only.fill_null(False) & (it.visit_type != "inpatient"))
        | (it.level.fill_null(0) < it.min_level.fill_null(0))
        | (it.unit_price > it.price_cap + 0.005).fill_null(False)
        | (daily > it.max_daily).fill_null(False)
    )
    it = it.mutate(
        when=when,
        breach=breach.fill_null(False),
        over_cap=(it.unit_price > it.price_cap + 0.005).fill_null(False),
        price_to_cap=(it.unit_price / it.price_cap.nullif(0)),
        is_drug=it.item_category.isin(DRUG),
        is_exam_lab=it.item_category.isin(EXAM_LAB),
    )
    repeated = _repeated_trace_lines(ds, window)
    it = it.left_join(repeated, ["claim_id", "line_no"])
    it = it.drop(*[col for col in it.columns if col.endswith("_right")])
    return it.mutate(repeated_trace=it.repeated_trace.fill_null(False))


def _repeated_trace_lines(ds: Dataset, window: Window) -> ir.Table:
    """Fee lines whose trace code was already settled on an earlier line (up to ``end``)."""
    claims = ds.table("claims")
    history = claims.filter(window.before_end(claims.admit_time)).select("claim_id", "admit_time")
    lines = ds.table("claim_items").filter(lambda t: t.trace_code.notnull())
    lines = lines.inner_join(history, "claim_id")
    when = lines.item_time.fill_null(lines.admit_time)
    order = ibis.row_number().over(
        ibis.window(group_by=lines.trace_code, order_by=[when, lines.claim_id, lines.line_no])
    )
    lines = lines.mutate(position=order)
    return lines.filter(lines.position > 0).select(
        "claim_id", "line_no", repeated_trace=ibis.literal(True)
    )
