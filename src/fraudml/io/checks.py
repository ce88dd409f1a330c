"""Row rules of the contract as engine expressions.

Each staged table becomes one Ibis expression that carries, for every row, the typed
values, the raw values as read, and the first fault found (``reason``, ``reason_code``)
plus all faults (``all_reasons``). Nothing here touches files; :mod:`fraudml.io.load`
decides what to materialise.

What may be evidence of fraud is deliberately *not* a fault here: a repeated trace code,
an item outside its catalog restrictions, a category that differs from the catalog's, a
price above its cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from fraudml.contract import (
    AMOUNT_TOLERANCE,
    ENGINE_TYPE,
    EXPECTED_FORM,
    LABEL_ENTITY_TABLES,
    Column,
    Table,
)
from fraudml.io.sources import INTERNAL_PREFIX, SOURCE_FILE, SOURCE_ORDER, SOURCE_ROW

REASON = "reason"
REASON_CODE = "reason_code"
ALL_REASONS = "all_reasons"

#: Plausible dates per column: (earliest, days after today allowed). A date outside is
#: warned about with counts, never quarantined: it may be what the source really holds, and
#: training refuses an empty split on its own. ``valid_to`` is left out: an open-ended
#: registration is often written as a far-future date (2099-12-31, 9999-12-31).
PLAUSIBLE_DATES: dict[str, tuple[date, int]] = {
    "birth_date": (date(1900, 1, 1), 0),
    "admit_time": (date(1990, 1, 1), 365),
    "discharge_time": (date(1990, 1, 1), 365),
    "item_time": (date(1990, 1, 1), 365),
    "valid_from": (date(1990, 1, 1), 365),
    "decided_at": (date(1990, 1, 1), 365),
}


@dataclass(frozen=True)
class Fault:
    """One row rule: where ``condition`` is true the row is quarantined with ``text``."""

    code: str
    text: str
    #: ``None`` for a fault computed after materialisation (repeated keys).
    condition: ir.BooleanValue | None


def _clean(raw: ir.Value) -> ir.Value:
    """Empty or blank text means null, as the contract says."""
    if raw.type().is_string():
        return raw.strip().nullif("")
    return raw


@ibis.udf.scalar.builtin
def isfinite(x: float) -> bool:
    """DuckDB's ``isfinite``: false for NaN and the infinities."""


def _typed(clean: ir.Value, column: Column) -> ir.Value:
    """Convert ``clean`` to the column's engine type; null where it does not parse."""
    target = ENGINE_TYPE[column.type]
    src = clean.type()
    if column.type == "str":
        return clean if src.is_string() else clean.cast("string")
    if column.type == "int" and not src.is_integer():
        # Parse as a number first so that "1.5" is a wrong type, not silently 2.
        as_float = clean.try_cast("float64")
        return (as_float == as_float.round()).ifelse(as_float.cast("int64"), ibis.null("int64"))
    typed = clean if src == ibis.dtype(target) else clean.try_cast(target)
    if column.type in {"money", "float"}:
        # Not isnan(): Parquet row-group statistics leave NaN out of min/max, and DuckDB
        # folds isnan() of a column to false from them, so a NaN between the two passed.
        # isfinite() is evaluated on every value (tests/test_validate_reliability.py
        # writes exactly that case), and costs no more.
        typed = _true(~isfinite(typed)).ifelse(ibis.null("float64"), typed)
    return typed


def _true(cond: ir.BooleanValue) -> ir.BooleanValue:
    """SQL's unknown counts as 'no fault'."""
    return cond.fill_null(False)


def column_faults(clean: ir.Value, typed: ir.Value, column: Column) -> list[Fault]:
    """Missing value, wrong type, code outside its list and range faults of one column."""
    name = column.name
    faults: list[Fault] = []
    if not column.nullable:
        faults.append(Fault("missing_value", f"missing value: {name}", clean.isnull()))
    faults.append(
        Fault(
            "wrong_type",
            f"wrong type: {name} (expected {EXPECTED_FORM[column.type]})",
            clean.notnull() & typed.isnull(),
        )
    )
    if column.codes is not None:
        codes = [int(c) for c in column.codes] if column.type == "int" else list(column.codes)
        faults.append(
            Fault(
                "bad_code",
                f"code outside list: {name} (expected one of {', '.join(column.codes)})",
                _true(typed.notnull() & ~typed.isin(codes)),
            )
        )
    if column.min_value is not None or column.max_value is not None:
        too_low = typed < column.min_value if column.min_value is not None else ibis.literal(False)
        too_high = typed > column.max_value if column.max_value is not None else ibis.literal(False)
        faults.append(
            Fault(
                "out_of_range",
                f"out of range: {name} (expected {column.expected})",
                _true(too_low | too_high),
            )
        )
    return faults


def row_faults(spec: Table, v: Mapping[str, ir.Value]) -> list[Fault]:
    """Cross-column rules named in ``spec.row_checks``."""
    faults: list[Fault] = []
    for check in spec.row_checks:
        if check == "discharge_before_admission":
            faults.append(
                Fault(
                    "discharge_before_admission",
                    "discharge before admission: discharge_time < admit_time",
                    _true(v["discharge_time"] < v["admit_time"]),
                )
            )
        elif check == "negative_quantity":
            faults.append(Fault("negative_quantity", "negative quantity", _true(v["quantity"] < 0)))
        elif check == "amount_mismatch":
            # A little slack beyond the contract's ±0.01 absorbs binary floating point.
            gap = (v["amount"] - v["quantity"] * v["unit_price"]).abs()
            faults.append(
                Fault(
                    "amount_mismatch",
                    f"amount differs from quantity x unit_price by more than {AMOUNT_TOLERANCE}",
                    _true(gap > AMOUNT_TOLERANCE + 1e-6),
                )
            )
        elif check == "label_entity_exists":
            pass  # needs the other tables: see reference_faults
        else:  # pragma: no cover - a contract typo, caught by tests of the contract
            raise ValueError(f"unknown row check {check!r} in table {spec.name}")
    return faults


def duplicate_fault(spec: Table) -> list[Fault]:
    """Of rows repeating the key, the first in file order is kept; see :func:`with_duplicates`."""
    if not spec.key:
        return []
    return [Fault("duplicate_key", f"repeated key: {', '.join(spec.key)} (first row kept)", None)]


def with_duplicates(work: ir.Table, spec: Table, faults: list[Fault]) -> ir.Table:
    """Add the repeated-key fault column to a materialised :func:`checked` table.

    An aggregate finds the keys that repeat and the first row of each; only those rows are
    compared. A window over every row would sort the whole table, which costs several
    times more at ten million fee lines.
    """
    position = next((i for i, f in enumerate(faults) if f.code == "duplicate_key"), None)
    if position is None:
        return work
    # Null in a nullable key column (labels.scheme) still identifies: group nulls together.
    keyed = work
    for k in spec.key:
        if not spec.column(k).nullable:
            keyed = keyed.filter(keyed[k].notnull())
    repeats = (
        keyed.group_by(list(spec.key))
        .agg(_n=keyed.count(), _first=keyed[SOURCE_ORDER].min())
        .filter(lambda t: t._n > 1)
    )
    later = keyed.semi_join(repeats, list(spec.key)).select(*spec.key, SOURCE_ORDER)
    later = later.inner_join(repeats, list(spec.key))
    later = later.filter(later[SOURCE_ORDER] > later._first).select(SOURCE_ORDER)
    return work.mutate(
        **{fault_column(position): _true(work[SOURCE_ORDER].isin(later[SOURCE_ORDER]))}
    )


def with_followers(
    work: ir.Table, spec: Table, faults: list[Fault], quarantined_keys: Mapping[str, ir.Table]
) -> ir.Table:
    """Split rows whose parent key is in quarantine off the dangling ones (fee lines)."""
    follow = next((i for i, f in enumerate(faults) if f.code == "claim_quarantined"), None)
    if follow is None:
        return work
    fk = next(fk for fk in spec.foreign_keys if fk.ref_table == spec.follows)
    dangling = next(
        i for i, f in enumerate(faults) if f.code == "dangling_fk" and fk.column in f.text
    )
    parent = quarantined_keys[fk.ref_table]
    in_quarantine = _true(work[fk.column].isin(parent[fk.ref_column]))
    missing = work[fault_column(dangling)]
    return work.mutate(
        **{
            fault_column(follow): missing & in_quarantine,
            fault_column(dangling): missing & ~in_quarantine,
        }
    )


def reference_faults(
    spec: Table,
    v: Mapping[str, ir.Value],
    accepted: Mapping[str, ir.Table],
    quarantined_keys: Mapping[str, ir.Table],
) -> list[Fault]:
    """Dangling foreign keys, and fee lines whose claim went to quarantine.

    ``accepted`` holds the accepted tables validated so far; a foreign key into a table the
    dataset does not have is not checked (the loader reports that as a warning).
    """
    faults: list[Fault] = []
    for fk in spec.foreign_keys:
        ref = accepted.get(fk.ref_table)
        if ref is None:
            continue
        value = v[fk.column]
        missing = value.notnull() & ~value.isin(ref[fk.ref_column])
        if fk.ref_table == spec.follows and fk.ref_table in quarantined_keys:
            # Rows whose parent went to quarantine follow it with that reason, not as
            # dangling: split off in with_followers, so the membership test runs once.
            faults.append(Fault("claim_quarantined", "claim quarantined", None))
        faults.append(
            Fault(
                "dangling_fk",
                f"dangling foreign key: {fk.column} not in {fk.ref_table}",
                _true(missing),
            )
        )
    if "label_entity_exists" in spec.row_checks:
        known = ibis.literal(False)
        for entity_type, (table, column) in LABEL_ENTITY_TABLES.items():
            ref = accepted.get(table)
            if ref is None:
                continue
            known = known | ((v["entity_type"] == entity_type) & v["entity_id"].isin(ref[column]))
        faults.append(
            Fault(
                "dangling_fk",
                "dangling foreign key: entity_id not in the table of its entity_type",
                _true(v["entity_type"].notnull() & v["entity_id"].notnull() & ~known),
            )
        )
    return faults


def checked(
    raw: ir.Table,
    spec: Table,
    accepted: Mapping[str, ir.Table],
    quarantined_keys: Mapping[str, ir.Table],
) -> tuple[ir.Table, list[Fault]]:
    """Typed values and one boolean column per fault for every staged row of ``spec``.

    Each fault is its own column (``_fault_<i>``), so that the engine evaluates every
    condition, join and window once; :func:`fault_summary` derives the reasons from them.
    """
    clean = {c.name: _clean(raw[c.name]) for c in spec.columns}
    typed = {c.name: _typed(clean[c.name], c) for c in spec.columns}
    faults: list[Fault] = []
    for c in spec.columns:
        faults += column_faults(clean[c.name], typed[c.name], c)
    faults += row_faults(spec, typed)
    faults += duplicate_fault(spec)
    faults += reference_faults(spec, typed, accepted, quarantined_keys)

    contract_names = set(spec.column_names)
    extras = [c for c in raw.columns if c not in contract_names and not is_internal(c)]
    table = raw.select(
        **{c.name: typed[c.name].cast(ENGINE_TYPE[c.type]) for c in spec.columns},
        **{c: raw[c] for c in extras},
        **{
            SOURCE_FILE: raw[SOURCE_FILE],
            SOURCE_ROW: raw[SOURCE_ROW].cast("int64"),
            SOURCE_ORDER: raw[SOURCE_ORDER].cast("int64"),
        },
        **{fault_column(i): f.condition for i, f in enumerate(faults) if f.condition is not None},
    )
    return table, faults


def fault_column(i: int) -> str:
    return f"{INTERNAL_PREFIX}fault_{i}"


def is_internal(column: str) -> bool:
    """Whether ``column`` is the loader's own (input columns may not carry the prefix)."""
    return column.startswith(INTERNAL_PREFIX)


def any_fault(table: ir.Table, faults: list[Fault]) -> ir.BooleanValue:
    """Whether a row of a :func:`checked` table has any fault."""
    result = ibis.literal(False)
    for i in range(len(faults)):
        result = result | table[fault_column(i)]
    return result


def fault_summary(table: ir.Table, faults: list[Fault]) -> dict[str, ir.Value]:
    """``reason`` (first fault), ``reason_code`` and ``all_reasons`` of a checked table."""
    flags = [table[fault_column(i)] for i in range(len(faults))]
    reason = ibis.cases(
        *[(c, f.text) for c, f in zip(flags, faults, strict=True)], else_=ibis.null("string")
    )
    code = ibis.cases(
        *[(c, f.code) for c, f in zip(flags, faults, strict=True)], else_=ibis.null("string")
    )
    every = ibis.literal("")
    for c, f in zip(flags, faults, strict=True):
        every = every + c.ifelse("; " + f.text, "")
    return {REASON: reason, REASON_CODE: code, ALL_REASONS: every.substr(2).nullif("")}


def implausible_dates(table: ir.Table, spec: Table, today: date) -> list[str]:
    """Warnings, with counts, for dates of ``table`` outside :data:`PLAUSIBLE_DATES`.

    One aggregate over the table counts every column's early and late dates. A timestamp is
    late when its calendar day is after the last plausible day.
    """
    bounds: dict[str, tuple[date, date]] = {}
    counts: dict[str, ir.Value] = {}
    for column in spec.columns:
        window = PLAUSIBLE_DATES.get(column.name)
        if window is None or column.name not in table.columns:
            continue
        earliest, days_ahead = window
        latest = today + timedelta(days=days_ahead)
        value = table[column.name]
        if column.type == "timestamp":
            early = value < datetime.combine(earliest, datetime.min.time())
            late = value >= datetime.combine(latest + timedelta(days=1), datetime.min.time())
        else:
            early, late = value < earliest, value > latest
        bounds[column.name] = (earliest, latest)
        counts[f"{column.name}__early"] = early.cast("int64").sum()
        counts[f"{column.name}__late"] = late.cast("int64").sum()
    if not counts:
        return []
    totals = table.aggregate(**counts).to_pyarrow().to_pylist()[0]
    warnings: list[str] = []
    for name, (earliest, latest) in bounds.items():
        early, late = int(totals[f"{name}__early"] or 0), int(totals[f"{name}__late"] or 0)
        parts = [f"{n_rows(early)} before {earliest}"] if early else []
        parts += [f"{n_rows(late)} after {latest}"] if late else []
        if parts:
            warnings.append(
                f"{spec.name}.{name}: {', '.join(parts)} (implausible dates, kept; check how "
                "the source writes dates)"
            )
    return warnings


def n_rows(n: int) -> str:
    """``1 row``, ``2,000 rows``: a count as a message gives it."""
    return f"{n:,} row" + ("" if n == 1 else "s")
