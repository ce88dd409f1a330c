"""The monitoring report's tables, computed as Ibis expressions on the dataset's engine.

Months are whole calendar months, keyed ``year * 12 + month - 1`` so that "a month
earlier" and "a year earlier" are integer shifts on any engine. A month is *covered* when
the dataset holds at least one claim admitted in it. Growth is ``current / base - 1``
and is empty (shown "—") when its base month or period is not covered, or its base is 0:
a growth figure never rests on data the extract does not hold.

Only the final per-segment, per-item and per-provider tables come back as pandas; the
peer comparison (robust z-scores) runs on those small tables.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from fraudml.errors import NothingToScoreError, SettingError
from fraudml.io.load import Dataset
from fraudml.monitoring.fields import FOCUS_FIELDS, KEY_CATEGORIES, MIX_GROUPS
from fraudml.monitoring.settings import MonitorSettings
from fraudml.window import Window

#: The breakdowns of the monthly spending table, in report order.
DIMENSIONS = ("total", "insurance_type", "visit_type", "provider_level", "focus_field")
#: The level segment of a provider without a grade (pharmacies, most clinics).
UNGRADED = "ungraded"
#: Measures a provider is compared with its peers on (higher = further from the norm).
PEER_MEASURES = (
    "yoy",
    "pop",
    "drug_share",
    "material_share",
    "exam_lab_share",
    "inpatient_share",
)


def month_key(year: int, month: int) -> int:
    return year * 12 + month - 1


def month_start(key: int) -> datetime:
    return datetime(key // 12, key % 12 + 1, 1)


def month_label(key: int) -> str:
    return f"{key // 12:04d}-{key % 12 + 1:02d}"


def _whole_month(value: datetime, name: str) -> int:
    if (value.day, value.hour, value.minute, value.second, value.microsecond) != (1, 0, 0, 0, 0):
        raise SettingError(
            f"{name}={value.date().isoformat()} is not the first day of a month: the "
            "monitoring report compares whole months (e.g. FROM=2024-01-01 UNTIL=2025-01-01)"
        )
    return month_key(value.year, value.month)


def check_period(window: Window) -> None:
    """:class:`SettingError` unless the given sides of ``window`` are whole months (checked
    before any data is read)."""
    if window.start is not None:
        _whole_month(window.start, "FROM")
    if window.end is not None:
        _whole_month(window.end, "UNTIL")


def report_months(window: Window, first: int, last: int) -> list[int]:
    """The months the report shows: ``[start, end)`` of ``window`` (whole months), its
    open sides taken from the data's first and last month."""
    start = first if window.start is None else _whole_month(window.start, "FROM")
    stop = last + 1 if window.end is None else _whole_month(window.end, "UNTIL")
    if start >= stop:
        raise SettingError(f"FROM={month_label(start)} is not before UNTIL={month_label(stop)}")
    return list(range(start, stop))


def partial_months(first: date, last: date) -> dict[int, str]:
    """The data's first and last month when it holds them only in part, each with the
    days it holds (``2025-01-01..2025-01-04``)."""
    out: dict[int, str] = {}
    last_day = calendar.monthrange(last.year, last.month)[1]
    if first.day != 1:
        same = (first.year, first.month) == (last.year, last.month)
        end = last if same else first.replace(day=calendar.monthrange(first.year, first.month)[1])
        out[month_key(first.year, first.month)] = f"{first}..{end}"
    if last.day != last_day:
        key = month_key(last.year, last.month)
        start = first if key in out else last.replace(day=1)
        out[key] = f"{start}..{last}"
    return out


@dataclass
class MonitorTables:
    """The report's tables (pandas, small) and the months they cover."""

    months: list[int]
    #: months of the dataset that hold claims
    covered: list[int]
    #: dimension, segment, month, claims, fund_paid, prev_fund_paid, mom,
    #: last_year_fund_paid, yoy
    spending: pd.DataFrame
    #: top key drugs and consumables by fund paid, with their growth
    items: pd.DataFrame
    #: focus field × provider spending with the peer comparison
    focus_providers: pd.DataFrame
    #: every provider's growth and mix, with the peer comparison
    providers: pd.DataFrame
    #: base periods: basis → (first, last) month key, and whether the data covers it
    bases: dict[str, dict[str, object]] = field(default_factory=dict)
    #: whether the dataset has fee lines (claim_items); without them the item tables,
    #: 检查/检验 and the fee mix are empty
    has_lines: bool = True
    #: report months the extract holds only in part (its first or last month, when it
    #: starts after the 1st or ends before the month's last day): month → ``from..to``
    partial: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {
            "spending": self.spending,
            "items": self.items,
            "focus_providers": self.focus_providers,
            "providers": self.providers,
        }


def _ym(ts: ir.TimestampValue) -> ir.IntegerValue:
    return (ts.year() * 12 + ts.month() - 1).cast("int64")


def _growth(current: ir.NumericValue, base: ir.NumericValue) -> ir.FloatingValue:
    """``current / base - 1``, empty when the base is empty or not positive."""
    return ibis.ifelse(
        base.notnull() & (base > 0), current.cast("float64") / base - 1, ibis.null("float64")
    )


def _left(left: ir.Table, right: ir.Table, keys: Sequence[str]) -> ir.Table:
    """``left`` with ``right``'s other columns joined on ``keys`` (names kept once)."""
    renamed = right.rename({f"{k}__r": k for k in keys})
    joined = left.join(renamed, [left[k] == renamed[f"{k}__r"] for k in keys], how="left")
    return joined.drop(*[f"{k}__r" for k in keys])


def _facts(ds: Dataset, start: datetime, end: datetime) -> tuple[ir.Table, ir.Table | None]:
    """Claims of ``[start, end)`` with their month and segments, and their fee lines with
    the fund payment apportioned to each line (``None`` without ``claim_items``)."""
    claims = ds.table("claims")
    claims = claims.filter((claims.admit_time >= start) & (claims.admit_time < end))
    patients = ds.table("patients").select("patient_id", "insurance_type")
    providers = ds.table("providers").select("provider_id", "provider_type", "level")
    cf = claims.select(
        "claim_id",
        "patient_id",
        "provider_id",
        "visit_type",
        "department",
        ym=_ym(claims.admit_time),
        fund=claims.fund_paid.cast("float64"),
    )
    cf = _left(cf, patients, ["patient_id"])
    cf = _left(cf, providers, ["provider_id"])
    cf = cf.mutate(
        level_seg=ibis.coalesce(cf.level.cast("int64").cast("string"), ibis.literal(UNGRADED)),
        insurance_type=ibis.coalesce(cf.insurance_type, ibis.literal("unknown")),
    )
    if "claim_items" not in ds:
        return cf, None
    items = ds.table("claim_items").select(
        "claim_id", "item_code", "item_category", "quantity", "amount"
    )
    if "catalog" in ds:
        catalog = ds.table("catalog").select("item_code", cat_category="item_category")
        items = _left(items, catalog, ["item_code"])
        category = ibis.coalesce(items.cat_category, items.item_category)
    else:
        category = items.item_category
    items = items.select(
        "claim_id",
        "item_code",
        category=category,
        quantity=items.quantity.cast("float64"),
        amount=items.amount.cast("float64"),
    )
    lines = items.join(cf.select("claim_id", "provider_id", "ym", "fund"), "claim_id")
    per_claim = lines.group_by("claim_id").agg(line_total=lines.amount.sum())
    lines = lines.join(per_claim, "claim_id")
    # a line's share of the claim's fund payment, by its share of the claim's line amounts:
    # the lines of a claim add up to its fund_paid
    lines = lines.mutate(
        line_fund=ibis.ifelse(
            lines.line_total > 0, lines.fund * lines.amount / lines.line_total, 0.0
        )
    )
    return cf, lines


def _spending_facts(cf: ir.Table, lines: ir.Table | None) -> ir.Table:
    """One row per claim (or fee line) and breakdown: dimension, segment, ym, fund,
    claim_id."""

    def part(t: ir.Table, dimension: str, segment: ir.Value, fund: ir.Value) -> ir.Table:
        return t.select(
            dimension=ibis.literal(dimension),
            segment=segment.cast("string"),
            ym=t.ym,
            fund=fund.cast("float64"),
            claim_id=t.claim_id,
        )

    parts = [
        part(cf, "total", ibis.literal("all"), cf.fund),
        part(cf, "insurance_type", cf.insurance_type, cf.fund),
        part(cf, "visit_type", cf.visit_type, cf.fund),
        part(cf, "provider_level", cf.level_seg, cf.fund),
    ]
    for focus in FOCUS_FIELDS:
        if focus.basis == "department":
            chosen = cf.filter(cf.department.isin(focus.codes))
            parts.append(part(chosen, "focus_field", ibis.literal(focus.code), chosen.fund))
        elif lines is not None:
            chosen = lines.filter(lines.category.isin(focus.codes))
            parts.append(part(chosen, "focus_field", ibis.literal(focus.code), chosen.line_fund))
    return ibis.union(*parts)


def spending_table(
    cf: ir.Table, lines: ir.Table | None, months: Sequence[int], covered: Sequence[int]
) -> pd.DataFrame:
    """Fund paid by month and breakdown, with month-over-month and year-over-year growth.

    Every segment seen in the months read gets a row for every report month (0 when the
    month is covered and the segment had no claims, empty when the month is not covered).
    """
    facts = _spending_facts(cf, lines)
    agg = facts.group_by(["dimension", "segment", "ym"]).agg(
        fund=facts.fund.sum(), claims=facts.claim_id.nunique()
    )
    keys = ["dimension", "segment", "ym"]
    grid = (
        agg.select("dimension", "segment")
        .distinct()
        .cross_join(ibis.memtable(pd.DataFrame({"ym": pd.Series(list(months), dtype="int64")})))
    )
    cov = ibis.memtable(pd.DataFrame({"ym": pd.Series(list(covered), dtype="int64")}))
    t = _left(grid, agg, keys)
    t = _left(t, agg.select("dimension", "segment", ym=agg.ym + 1, prev=agg.fund), keys)
    t = _left(t, agg.select("dimension", "segment", ym=agg.ym + 12, last=agg.fund), keys)
    t = _left(t, cov.select(ym=cov.ym, cur_cov=ibis.literal(True)), ["ym"])
    t = _left(t, cov.select(ym=cov.ym + 1, prev_cov=ibis.literal(True)), ["ym"])
    t = _left(t, cov.select(ym=cov.ym + 12, last_cov=ibis.literal(True)), ["ym"])

    def based(value: ir.Value, flag: ir.Value) -> ir.Value:
        return ibis.ifelse(flag.notnull(), ibis.coalesce(value, 0.0), ibis.null("float64"))

    fund = based(t.fund, t.cur_cov)
    prev, last = based(t.prev, t.prev_cov), based(t.last, t.last_cov)
    out = t.select(
        "dimension",
        "segment",
        "ym",
        claims=ibis.ifelse(t.cur_cov.notnull(), ibis.coalesce(t.claims, 0), ibis.null("int64")),
        fund_paid=fund,
        prev_fund_paid=prev,
        mom=_growth(fund, prev),
        last_year_fund_paid=last,
        yoy=_growth(fund, last),
    ).execute()
    order = {d: i for i, d in enumerate(DIMENSIONS)}
    out["_d"] = out.dimension.map(order)
    total = out.groupby(["dimension", "segment"]).fund_paid.transform("sum")
    if "focus_field" in set(out.dimension):  # focus fields in the national lists' order
        rank = {f.code: i for i, f in enumerate(FOCUS_FIELDS)}
        is_field = out.dimension == "focus_field"
        total = total.where(~is_field, -out.segment.map(rank).astype(float))
    out["_t"] = -total
    out = out.sort_values(["_d", "_t", "segment", "ym"]).drop(columns=["_d", "_t"])
    out.insert(2, "month", out.ym.map(month_label))
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class Bases:
    """The current period and its two bases: the same months a year earlier (yoy) and
    the period of the same length just before (pop, 环比)."""

    first: int
    last: int
    covered: frozenset[int]

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def span(self, basis: str) -> tuple[int, int]:
        shift = 12 if basis == "yoy" else self.length
        return self.first - shift, self.last - shift

    def held(self, basis: str) -> bool:
        """Whether the data covers every month of the base period."""
        lo, hi = self.span(basis)
        return all(m in self.covered for m in range(lo, hi + 1))

    def describe(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for basis in ("yoy", "pop"):
            lo, hi = self.span(basis)
            out[basis] = {"from": month_label(lo), "to": month_label(hi), "held": self.held(basis)}
        return out


def _period_sums(t: ir.Table, value: ir.Value, bases: Bases) -> dict[str, ir.Value]:
    """The sum of ``value`` in the current period and in each base period (empty for a
    base the data does not cover)."""

    def inside(lo: int, hi: int) -> ir.BooleanValue:
        return (t.ym >= lo) & (t.ym <= hi)

    cur = ibis.ifelse(inside(bases.first, bases.last), value, 0.0).sum()
    out = {"fund_paid": cur}
    for basis, name in (("yoy", "last_year_fund_paid"), ("pop", "prev_period_fund_paid")):
        summed = ibis.ifelse(inside(*bases.span(basis)), value, 0.0).sum()
        out[name] = summed if bases.held(basis) else ibis.null("float64")
    return out


def items_table(lines: ir.Table | None, ds: Dataset, bases: Bases, top: int) -> pd.DataFrame:
    """The ``top`` key drugs and consumables by fund paid in the period, with growth."""
    columns = [
        "item_code",
        "name",
        "category",
        "lines",
        "quantity",
        "providers",
        "fund_paid",
        "last_year_fund_paid",
        "yoy",
        "prev_period_fund_paid",
        "pop",
    ]
    if lines is None:
        return pd.DataFrame(columns=columns)
    key = lines.filter(lines.category.isin(KEY_CATEGORIES))
    now = (key.ym >= bases.first) & (key.ym <= bases.last)
    sums = _period_sums(key, key.line_fund, bases)
    agg = key.group_by("item_code").agg(
        category=key.category.max(),
        lines=now.cast("int64").sum(),
        quantity=ibis.ifelse(now, key.quantity, 0.0).sum(),
        providers=ibis.ifelse(now, key.provider_id, ibis.null("string")).nunique(),
        **sums,
    )
    agg = agg.filter(agg.fund_paid > 0).order_by([ibis.desc("fund_paid"), "item_code"]).limit(top)
    agg = agg.mutate(
        yoy=_growth(agg.fund_paid, agg.last_year_fund_paid),
        pop=_growth(agg.fund_paid, agg.prev_period_fund_paid),
    )
    if "catalog" in ds:
        agg = _left(agg, ds.table("catalog").select("item_code", "name"), ["item_code"])
    else:
        agg = agg.mutate(name=ibis.null("string"))
    out = agg.execute()
    out = out.sort_values(["fund_paid", "item_code"], ascending=[False, True])
    return out[columns].reset_index(drop=True)


def robust_z(values: pd.Series, groups: pd.Series) -> pd.Series:
    """Each value's robust z-score within its group: ``(x - median) / (1.4826 · MAD)``,
    or ``(x - median) / (1.2533 · mean absolute deviation)`` when the MAD is 0 (more than
    half the group share one value); empty when the group's values are all equal or the
    value is empty."""
    frame = pd.DataFrame({"x": values.astype(float), "g": groups})
    med = frame.groupby("g").x.transform("median")
    dev = (frame.x - med).abs()
    frame["dev"] = dev
    mad = frame.groupby("g").dev.transform("median") * 1.4826
    mean_ad = frame.groupby("g").dev.transform("mean") * 1.2533
    scale = mad.where(mad > 0, mean_ad)
    z = (frame.x - med) / scale.where(scale > 0)
    return z.astype(float)


def peer_compare(
    frame: pd.DataFrame,
    measures: Sequence[str],
    settings: MonitorSettings,
    within: Sequence[str] = (),
) -> pd.DataFrame:
    """``frame`` with ``peer_group``, ``peers`` and ``z_<measure>`` columns, and
    ``departures`` (the measures at or above ``settings.outlier_z``, ``;``-joined).

    Peers are providers of the same type and grade (``provider_type``, ``level_seg``,
    and the ``within`` columns); a grade with fewer than ``settings.min_peers`` providers
    is compared with its whole provider type instead, and a type with fewer is not
    compared (its z-scores are empty).
    """
    out = frame.copy()
    if not len(out):
        for col in ("peer_group", "departures"):
            out[col] = pd.Series(dtype=object)
        out["peers"] = pd.Series(dtype="int64")
        for col in [*(f"z_{m}" for m in measures), "max_z"]:
            out[col] = pd.Series(dtype=float)
        return out
    fine = out[[*within, "provider_type", "level_seg"]].astype(str).agg("|".join, axis=1)
    coarse = out[[*within, "provider_type"]].astype(str).agg("|".join, axis=1)
    n_fine = fine.map(fine.value_counts())
    n_coarse = coarse.map(coarse.value_counts())
    use_fine = n_fine >= settings.min_peers
    out["peer_group"] = np.where(
        use_fine,
        out.provider_type.astype(str) + ":" + out.level_seg.astype(str),
        out.provider_type.astype(str),
    )
    out["peers"] = np.where(use_fine, n_fine, n_coarse).astype("int64")
    compared = use_fine | (n_coarse >= settings.min_peers)
    group = fine.where(use_fine, coarse)
    flags = []
    for m in measures:
        z = robust_z(out[m], group).where(compared)
        out[f"z_{m}"] = z
        flags.append(z.ge(settings.outlier_z).map({True: m, False: ""}))
    joined = pd.concat(flags, axis=1).apply(lambda r: ";".join(x for x in r if x), axis=1)
    out["departures"] = joined if len(out) else pd.Series(dtype=object)
    zs = out[[f"z_{m}" for m in measures]]
    out["max_z"] = zs.max(axis=1, skipna=True) if len(out) else pd.Series(dtype=float)
    return out


def _provider_info(ds: Dataset) -> ir.Table:
    p = ds.table("providers")
    name = p.name if "name" in p.columns else ibis.null("string")
    return p.select(
        "provider_id",
        "provider_type",
        name=name,
        level_seg=ibis.coalesce(p.level.cast("int64").cast("string"), ibis.literal(UNGRADED)),
    )


def focus_provider_table(
    cf: ir.Table, lines: ir.Table | None, ds: Dataset, bases: Bases, settings: MonitorSettings
) -> pd.DataFrame:
    """Per focus field and provider, in the period: fund paid, claims, fund per claim and
    the field's share of the provider's fund, each compared with the provider's peers in
    that field."""
    now = cf.filter((cf.ym >= bases.first) & (cf.ym <= bases.last))
    parts = []
    for focus in FOCUS_FIELDS:
        if focus.basis == "department":
            t = now.filter(now.department.isin(focus.codes))
            fund = t.fund
        elif lines is not None:
            t = lines.filter(
                lines.category.isin(focus.codes)
                & (lines.ym >= bases.first)
                & (lines.ym <= bases.last)
            )
            fund = t.line_fund
        else:
            continue
        parts.append(
            t.select(
                field=ibis.literal(focus.code),
                provider_id=t.provider_id,
                claim_id=t.claim_id,
                fund=fund.cast("float64"),
            )
        )
    columns = [
        "field",
        "provider_id",
        "name",
        "provider_type",
        "level_seg",
        "claims",
        "fund_paid",
        "fund_per_claim",
        "field_share",
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    facts = ibis.union(*parts)
    agg = facts.group_by(["field", "provider_id"]).agg(
        claims=facts.claim_id.nunique(), fund_paid=facts.fund.sum()
    )
    whole = now.group_by("provider_id").agg(provider_fund=now.fund.sum())
    agg = _left(agg, whole, ["provider_id"])
    agg = _left(agg, _provider_info(ds), ["provider_id"])
    agg = agg.mutate(
        fund_per_claim=ibis.ifelse(
            agg.claims > 0, agg.fund_paid / agg.claims, ibis.null("float64")
        ),
        field_share=ibis.ifelse(
            agg.provider_fund > 0, agg.fund_paid / agg.provider_fund, ibis.null("float64")
        ),
    )
    out = agg.select(*columns).execute()
    out = out[out.fund_paid > 0].reset_index(drop=True)
    out = peer_compare(out, ["fund_per_claim", "field_share"], settings, within=["field"])
    rank = {f.code: i for i, f in enumerate(FOCUS_FIELDS)}
    out["_f"] = out.field.map(rank)
    out = out.sort_values(["_f", "fund_paid", "provider_id"], ascending=[True, False, True])
    return out.drop(columns="_f").reset_index(drop=True)


def provider_table(
    cf: ir.Table, lines: ir.Table | None, ds: Dataset, bases: Bases, settings: MonitorSettings
) -> pd.DataFrame:
    """Every provider with claims in the period: its fund paid and growth on both bases,
    its fee mix, and how far each departs from its peers."""
    sums = _period_sums(cf, cf.fund, bases)
    now = (cf.ym >= bases.first) & (cf.ym <= bases.last)
    agg = cf.group_by("provider_id").agg(
        claims=now.cast("int64").sum(),
        inpatient_fund=ibis.ifelse(now & (cf.visit_type == "inpatient"), cf.fund, 0.0).sum(),
        **sums,
    )
    agg = agg.filter(agg.claims > 0)
    agg = agg.mutate(
        yoy=_growth(agg.fund_paid, agg.last_year_fund_paid),
        pop=_growth(agg.fund_paid, agg.prev_period_fund_paid),
        inpatient_share=ibis.ifelse(
            agg.fund_paid > 0, agg.inpatient_fund / agg.fund_paid, ibis.null("float64")
        ),
    ).drop("inpatient_fund")
    if lines is not None:
        cur = lines.filter((lines.ym >= bases.first) & (lines.ym <= bases.last))
        mix = {
            name: ibis.ifelse(cur.category.isin(codes), cur.amount, 0.0).sum()
            for name, codes in MIX_GROUPS.items()
        }
        fees = cur.group_by("provider_id").agg(line_amount=cur.amount.sum(), **mix)
        fees = fees.mutate(
            **{
                name: ibis.ifelse(
                    fees.line_amount > 0, fees[name] / fees.line_amount, ibis.null("float64")
                )
                for name in MIX_GROUPS
            }
        ).drop("line_amount")
        agg = _left(agg, fees, ["provider_id"])
    else:
        agg = agg.mutate(**{name: ibis.null("float64") for name in MIX_GROUPS})
    agg = _left(agg, _provider_info(ds), ["provider_id"])
    out = agg.execute()
    out = peer_compare(out, PEER_MEASURES, settings)
    columns = [
        "provider_id",
        "name",
        "provider_type",
        "level_seg",
        "claims",
        "fund_paid",
        "last_year_fund_paid",
        "yoy",
        "prev_period_fund_paid",
        "pop",
        *MIX_GROUPS,
        "inpatient_share",
        "peer_group",
        "peers",
        *[f"z_{m}" for m in PEER_MEASURES],
        "max_z",
        "departures",
    ]
    out = out.sort_values(["fund_paid", "provider_id"], ascending=[False, True])
    return out[columns].reset_index(drop=True)


def monitor_tables(
    ds: Dataset, window: Window, settings: MonitorSettings | None = None
) -> MonitorTables:
    """Every table of the monitoring report of ``window`` (whole months).

    Reads the claims of the period and of the year before it (the bases of the growth
    figures); the data's months are read once to know which of them it covers.
    """
    settings = settings or MonitorSettings()
    claims = ds.table("claims")
    covered = sorted(
        int(v) for v in claims.select(ym=_ym(claims.admit_time)).distinct().execute().ym
    )
    if not covered:
        raise NothingToScoreError(f"dataset {ds.path} holds no claims to monitor")
    span = claims.aggregate(
        first=claims.admit_time.min().date(), last=claims.admit_time.max().date()
    ).execute()
    partial = partial_months(
        pd.Timestamp(span["first"].iloc[0]).date(), pd.Timestamp(span["last"].iloc[0]).date()
    )
    months = report_months(window, covered[0], covered[-1])
    bases = Bases(months[0], months[-1], frozenset(covered))
    if not any(m in bases.covered for m in months):
        raise NothingToScoreError(
            f"dataset {ds.path} holds no claims in {month_label(months[0])}.."
            f"{month_label(months[-1])} (it covers {month_label(covered[0])}.."
            f"{month_label(covered[-1])})"
        )
    earliest = min(bases.span("yoy")[0], bases.span("pop")[0], months[0] - 1)
    cf, lines = _facts(ds, month_start(earliest), month_start(months[-1] + 1))
    spending = spending_table(cf, lines, months, covered)
    items = items_table(lines, ds, bases, settings.top_items)
    items["abnormal"] = items["yoy"].ge(settings.growth_alert) | items["pop"].ge(
        settings.growth_alert
    )
    return MonitorTables(
        months=months,
        covered=covered,
        spending=spending,
        items=items,
        focus_providers=focus_provider_table(cf, lines, ds, bases, settings),
        providers=provider_table(cf, lines, ds, bases, settings),
        bases=bases.describe(),
        has_lines=lines is not None,
        partial={month_label(m): d for m, d in partial.items() if m in months},
    )
