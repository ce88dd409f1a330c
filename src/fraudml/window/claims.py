"""A window's claims, enriched once: patient and provider attributes, age, time of day.

As-of semantics: a window holds the claims admitted in ``[start, end)``. Two inputs look
back before ``start``: trace codes, where "settled before" looks at every fee line of
claims admitted before ``end`` (:mod:`fraudml.window.fees`), and the practitioners'
history (:attr:`Inputs.history`), the claims of the :data:`HISTORY_DAYS` days up to
``end``. Nothing after ``end`` is ever read.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from fraudml.engine import scratch
from fraudml.io.load import Dataset
from fraudml.window.fees import claim_fees, repeated_trace_lines
from fraudml.window.period import Window

log = logging.getLogger(__name__)
_TAGS = itertools.count()


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
    #: and ``doctors.<column>`` for each optional doctors column it fills
    tables: set[str]
    #: :func:`repeated_trace_lines` as of the window's end, computed once for profiles and
    #: rules alike; ``None`` when the dataset has no fee lines
    repeated: ir.Table | None = None
    #: the window's dated co-visits (:func:`fraudml.graph.edges.covisit_days`), set when
    #: the network is built so profiles reuse it; ``None`` until then
    covisits: ir.Table | None = None
    #: the practitioners (``doctors``: employer, registration, suspension); ``None`` when
    #: the dataset has none. Its optional columns with a value are named in ``tables``
    #: (:data:`DOCTOR_PRACTICE_COLUMNS`)
    doctors: ir.Table | None = None
    #: claims with a doctor admitted in the :data:`HISTORY_DAYS` days up to the window's
    #: end (``doctor_id``, ``provider_id``, ``department``, ``day``), however late the
    #: window starts: a practitioner's breaches stay evidence after the month they were
    #: billed in (audits look back). ``None`` without ``doctors`` or a span (``fees=False``)
    history: ir.Table | None = None


#: The doctors table's optional columns a feature may need: each one the dataset fills
#: (at least one value) is in :attr:`Inputs.tables` as ``doctors.<column>``. A source that
#: leaves one out has it read as empty, and a feature on it would describe nothing.
DOCTOR_PRACTICE_COLUMNS = ("registered_departments", "suspended_from")

#: Days of the practitioners' history up to a window's end (:attr:`Inputs.history`): a
#: year, the span a bureau's routine review looks back over.
HISTORY_DAYS = 365


def _age_years(on: ir.TimestampValue, birth: ir.DateValue) -> ir.IntegerValue:
    return (on.date().delta(birth, unit="day") / 365.25).floor().cast("int64")


def prepare(ds: Dataset, window: Window, *, fees: bool = True) -> Inputs:
    """Claims of the window joined to patient and provider attributes, and (when ``fees``
    and the dataset has fee lines) the fee lines summarised per claim.

    Both are computed into intermediate engine tables (:mod:`fraudml.engine.scratch`)
    with names of their own, so that several windows can be prepared on one connection;
    profiles and rules of one window share one preparation
    (:attr:`fraudml.features.Profiles.inputs`).
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
    # Computed once into temporary engine tables: every profile reads the claims several
    # times, and the fee-line summary is the costliest step of the run.
    started = time.perf_counter()
    tag = next(_TAGS)
    c = _temp_table(ds, f"_window_claims_{tag}", c)
    # the span is a one-row table, not literals in every profile: the windows' profiles
    # are then one shape, compiled once (fraudml.engine.compiled); the rules alone
    # (fees=False: the check service, which captures expressions) never read it
    days = ibis.literal(None, type="float64")
    if fees:
        span = scratch.create(ds.con, f"_window_span_{tag}", _span(claims, window))
        days = span.days.as_scalar()
    summary = repeated = None
    if "claim_items" in ds:
        # the trace-code look-back scans every coded line before the window's end: once
        repeated = _temp_table(ds, f"_window_repeats_{tag}", repeated_trace_lines(ds, window))
    if fees and repeated is not None:
        summary = _temp_table(ds, f"_window_fees_{tag}", claim_fees(ds, c, repeated))
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
    doctors = ds.table("doctors") if "doctors" in ds else None
    history = None
    if doctors is not None:
        has |= filled_columns(doctors, "doctors", DOCTOR_PRACTICE_COLUMNS)
        if fees:
            history = _history(ds.table("claims"), span)
    return Inputs(
        c, summary, regs, codes, window, days, has, repeated, doctors=doctors, history=history
    )


def _history(claims: ir.Table, span: ir.Table) -> ir.Table:
    """Claims with a doctor admitted in ``[history_from, history_to)`` of the window's
    span table: bounds read from the table, not literals, so every window's doctor
    profile is one shape (compiled once, :mod:`fraudml.engine.compiled`)."""
    t = claims.admit_time
    held = (t >= span.history_from.as_scalar()) & (t < span.history_to.as_scalar())
    h = claims.filter(held & claims.doctor_id.notnull())
    return h.select("doctor_id", "provider_id", "department", day=h.admit_time.date())


def filled_columns(t: ir.Table, table: str, columns: tuple[str, ...]) -> set[str]:
    """``table.column`` for each of ``columns`` that ``t`` holds with at least one value
    (one aggregate over ``t``; the loader reads a column a source leaves out as empty)."""
    present = [col for col in columns if col in t.columns]
    if not present:
        return set()
    filled = t.agg(**{col: t[col].count() for col in present}).execute().iloc[0]
    return {f"{table}.{col}" for col in present if int(filled[col]) > 0}


def _span(claims: ir.Table, window: Window) -> pd.DataFrame:
    """The days ``window`` spans, at least one, taking an open side from ``claims``
    (the window's): one row, column ``days`` (missing when the window has no claims), and
    the practitioners' history bounds: ``history_to`` the window's end (an open end: just
    after its last claim) and ``history_from`` :data:`HISTORY_DAYS` days before it."""
    start, end = window.start, window.end
    history_to = None if end is None else pd.Timestamp(end)
    if start is None or end is None:
        seen = claims.agg(lo=claims.admit_time.min(), hi=claims.admit_time.max()).execute()
        start = start if start is not None else seen.lo.iloc[0]
        if end is None:
            end = seen.hi.iloc[0]
            if not pd.isna(end):  # an open end holds the last claim
                history_to = pd.Timestamp(end) + pd.Timedelta(seconds=1)
    days = None
    if not (pd.isna(start) or pd.isna(end)):
        seconds = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds()
        days = max(1.0, float(math.ceil(seconds / 86400.0)))
    history_from = None if history_to is None else history_to - pd.Timedelta(days=HISTORY_DAYS)
    return pd.DataFrame(
        {
            "days": pd.Series([days], dtype="float64"),
            "history_from": pd.Series([history_from], dtype="datetime64[us]"),
            "history_to": pd.Series([history_to], dtype="datetime64[us]"),
        }
    )


def _temp_table(ds: Dataset, name: str, expr: ir.Table) -> ir.Table:
    """``expr`` computed into a new intermediate table ``name``
    (:mod:`fraudml.engine.scratch`; the names are new on every call, the tag)."""
    return scratch.create(ds.con, name, expr)


def has_times_of_day(claims: ir.Table) -> bool:
    """Whether any claim's admit time is not midnight (sources with dates only are not:
    time-of-day features would then describe the source's format, not behaviour)."""
    t = claims.admit_time
    midnight = (t.hour() == 0) & (t.minute() == 0) & (t.second() == 0)
    return bool((~midnight).any().execute())


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
