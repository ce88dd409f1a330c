"""A window's fee lines with the catalog's restrictions, and their summary per claim.

Without a catalog table, the restriction columns are typed nulls: nothing breaches a
restriction nobody stated, and the features and rules that read them are dropped and
listed (``needs`` ``catalog``), like those of every other missing table. fraudml never
substitutes a catalog of its own.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from fraudml.io.load import Dataset
from fraudml.window.period import Window

DRUG = ("western_drug", "patent_drug", "herbal")
EXAM_LAB = ("exam", "lab")
#: Unit price at or above which a drug pack counts as expensive (yuan).
EXPENSIVE_PACK = 500.0
#: A fee line is priced near its cap when its unit price lies at most this share below
#: the catalog's price cap, and not above it (串换 bills a dearer code at its cap).
NEAR_CAP_BAND = 0.05
#: Bed and nursing: what a stay costs while nobody treats the patient (挂床).
BED_NURSING = ("bed", "nursing")
#: Charges for room, board and being seen; a stay whose fee lines are all of these had no
#: treatment, drug, exam, lab, surgery or material at all.
NO_CARE = ("bed", "nursing", "consultation", "general_service", "registration")
#: The catalog's restrictions as a fee line carries them: line column → catalog column.
CATALOG_COLUMNS: dict[str, str] = {
    "cat_gender": "gender",
    "min_age": "min_age",
    "max_age": "max_age",
    "max_daily": "max_daily_quantity",
    "inpatient_only": "inpatient_only",
    "min_level": "min_provider_level",
    "price_cap": "price_cap",
}
_CATALOG_TYPES = {
    "cat_gender": "string",
    "min_age": "int64",
    "max_age": "int64",
    "max_daily": "float64",
    "inpatient_only": "boolean",
    "min_level": "int64",
    "price_cap": "float64",
}


def catalog_restrictions(ds: Dataset) -> ir.Table | None:
    """``item_code`` and the restriction columns of :data:`CATALOG_COLUMNS`; ``None``
    when the dataset has no catalog."""
    if "catalog" not in ds:
        return None
    return ds.table("catalog").select("item_code", **CATALOG_COLUMNS)


def fee_lines(ds: Dataset, c: ir.Table) -> ir.Table:
    """Fee lines of the window's claims ``c`` with the catalog's static restrictions.

    ``static_breach`` covers gender, age, inpatient-only, hospital level and price cap;
    the daily-quantity limit spans claims and is found by :func:`over_daily_limit`.
    ``near_cap`` marks a unit price at its cap or at most :data:`NEAR_CAP_BAND` below it
    (within a rounding cent either side): the price a dearer code is billed at when it
    stands in for a cheaper service (串换).
    """
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
    it = lines.inner_join(attrs, "claim_id")
    cat = catalog_restrictions(ds)
    if cat is None:
        it = it.mutate(**{c: ibis.null(t) for c, t in _CATALOG_TYPES.items()})
    else:
        it = it.left_join(cat, "item_code")
        it = it.drop(*[col for col in it.columns if col.endswith("_right")])
    day = it.item_time.fill_null(it.admit_time).date()
    over_cap = (it.unit_price > it.price_cap + 0.005).fill_null(False)
    near_cap = (
        (it.price_cap > 0)
        & (it.unit_price <= it.price_cap + 0.005)
        & (it.unit_price >= it.price_cap * (1 - NEAR_CAP_BAND) - 0.005)
    ).fill_null(False)
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
        near_cap=near_cap,
        price_to_cap=it.unit_price / it.price_cap.nullif(0),
        is_drug=it.item_category.isin(DRUG),
        is_exam_lab=it.item_category.isin(EXAM_LAB),
        outside_stay=(
            (it.visit_type == "inpatient")
            & ((day < it.admit_time.date()) | (day > it.discharge_time.date()))
        ).fill_null(False),
    )


def claim_fees(ds: Dataset, c: ir.Table, repeated: ir.Table) -> ir.Table:
    """One row per claim with fee lines: its patient, provider and doctor, whether it is a
    stay, and line counts and amounts by kind (drugs, exams and labs, materials,
    treatment, bed and nursing, lines of care, lines priced near or over their cap,
    breaches, repeats).

    Cost matters here: fee lines are the widest table of the run. Every line is read
    once, by one aggregate; the cross-line flags (daily limit, repeated trace code) are
    rare, so they are counted per claim on their own small tables and joined at claim
    level rather than joined back onto every line.

    Parameters
    ----------
    ds
        The dataset, for its fee lines (:func:`fee_lines`).
    c
        The window's claims.
    repeated
        :func:`repeated_trace_lines` as of the window's end.
    """
    lines = fee_lines(ds, c)

    def n(cond: ir.BooleanValue) -> ir.IntegerScalar:
        return cond.ifelse(1, 0).sum()

    def amount(cond: ir.BooleanValue) -> ir.FloatingScalar:
        return cond.ifelse(lines.amount, 0.0).sum()

    fees = lines.group_by("claim_id").agg(
        patient_id=lines.patient_id.arbitrary(),
        provider_id=lines.provider_id.arbitrary(),
        doctor_id=lines.doctor_id.arbitrary(),
        stay=(lines.visit_type == "inpatient").any(),
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
        near_cap_lines=n(lines.near_cap),
        bed_nursing_amount=amount(lines.item_category.isin(BED_NURSING)),
        care_lines=n(~lines.item_category.isin(NO_CARE)),
        _static=n(lines.static_breach),
        outside_stay_lines=n(lines.outside_stay),
    )
    # The daily limit spans claims, so every limited line (most lines have a limit) is
    # summed per patient, item and day; the few days over their limit then take their
    # lines from the fee lines of the patients concerned alone. Asking the first lines
    # back instead (:func:`over_daily_limit` on them) has the engine hold every limited
    # line in memory between the two passes, which costs more than this narrow second one.
    over = _over_limit_days(lines)
    daily = over_daily_limit(fee_lines(ds, c.semi_join(over, "patient_id")))
    # a line over the daily limit that already breaches statically counts once
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


#: A daily limit applies to a patient's item on one day, whichever claims carry it.
_DAILY_KEYS = ["patient_id", "item_code", "day"]


def _over_limit_days(lines: ir.Table) -> ir.Table:
    """The (patient, item, day) of :data:`_DAILY_KEYS` whose fee lines' summed quantity
    exceeds the item's daily limit."""
    limited = lines.filter(lines.max_daily.notnull())
    daily = limited.group_by(_DAILY_KEYS).agg(q=limited.quantity.sum(), cap=limited.max_daily.max())
    return daily.filter(daily.q > daily.cap).select(*_DAILY_KEYS)


def over_daily_limit(lines: ir.Table) -> ir.Table:
    """Fee lines on a (patient, item, day) whose summed quantity exceeds the daily limit.

    The limit applies across claims: two prescriptions of the same day add up.
    """
    limited = lines.filter(lines.max_daily.notnull())
    return limited.semi_join(_over_limit_days(lines), _DAILY_KEYS).select(
        "claim_id", "line_no", "static_breach"
    )


def repeated_trace_lines(ds: Dataset, window: Window) -> ir.Table:
    """Fee lines whose trace code was already settled on an earlier line (up to ``end``),
    with the claim that settled it first and how often the code was seen.

    Only codes seen more than once can repeat, so they are found by one aggregate and
    only their lines are ordered. The look-back is the whole history before the
    window's end: a code sold last year and again in this window is a repeat.
    """

    def coded(*columns: str) -> ir.Table:
        lines = ds.table("claim_items").filter(lambda t: t.trace_code.notnull())
        if window.end is None:
            return lines.select(*columns)
        lines = lines.select("claim_id", *[c for c in columns if c != "claim_id"])
        claims = ds.table("claims")
        history = claims.filter(window.before_end(claims.admit_time)).select("claim_id")
        return lines.semi_join(history, "claim_id")

    # The coded lines are read twice, counted by code and then filtered to the repeated
    # codes, each time with only the columns that use needs: one shared relation of
    # every coded line would be held in memory whole between the two.
    codes = coded("trace_code")
    counts = codes.group_by("trace_code").agg(n=codes.count())
    seen_twice = counts.filter(counts.n > 1).select("trace_code")
    lines = coded("claim_id", "line_no", "trace_code", "item_time")
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
