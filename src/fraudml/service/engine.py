"""The batch rule base compiled once for online checks: the same rules, the same SQL.

At start-up the rules are built exactly as a batch run builds them
(:func:`fraudml.rulebase.engine.rule_inputs`, which prepares the window with
:func:`fraudml.window.prepare`, and :func:`fraudml.rulebase.engine.rule_hits` per rule),
over work tables holding one check's claims: the request's, and the history of its
patients (:mod:`fraudml.service.history`). What a batch run computes into a temporary
table (the window's enriched claims, the repeated trace codes; here the fee lines too)
becomes a table refilled for each check by a prepared statement, and the rules' hits are
one more. Nothing is compiled per request.

The prepared statements run on a cursor of their own with DuckDB's optimizer off. For a
single check the work tables hold a few claims, and planning the rules cost three times
running them (on the committed city, 34 ms against 11 ms for the rules as separate
statements); a prepared statement planned with the optimizer is planned again on every
run (DuckDB 2.0: measured, 50-70 ms for the rules). The history lookups that fill the
work tables keep the optimizer (they need its filter pushdown to read only a patient's
row groups).

Without the optimizer a statement runs as it is written, so two things the optimizer
would do are done here, once, on the SQL (measured on the bench city, 36 rules: the
rules' share of a single check 57 ms → 26 ms on a loaded 2-core machine, the same hits):

* each rule's SQL selects only the columns read around it (:func:`pruned_sql`; the
  rules' subqueries otherwise carry every fee-line column through every filter, join
  and window);
* a single check runs only the rules that can hit a claim of its visit type
  (:func:`hit_visit_types`): one statement per visit type, and the union of every rule
  for batches, as a batch run computes its hits.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot
import sqlglot.errors
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify

from fraudml.contract import (
    CHRONIC_REGISTRATIONS,
    CLAIM_ITEMS,
    CLAIMS,
    ENGINE_TYPE,
    PATIENTS,
    VISIT_TYPES,
    Table,
)
from fraudml.rulebase import CHECKS, HIT_COLUMNS, Rule
from fraudml.rulebase.engine import (
    NEEDS_TABLES,
    rule_hits,
    rule_inputs,
    rule_needs,
    rule_requires,
)
from fraudml.window import Window

log = logging.getLogger(__name__)

#: The dataset tables a check's window is made of, and the work table holding each.
WORK_TABLES: dict[str, tuple[str, Table]] = {
    "claims": ("w_claims", CLAIMS),
    "claim_items": ("w_items", CLAIM_ITEMS),
    "patients": ("w_patients", PATIENTS),
    # the registrations of the check's patients, when the service has registrations
    "chronic_registrations": ("w_registrations", CHRONIC_REGISTRATIONS),
}

#: DuckDB's name of each engine type of the contract.
SQL_TYPE = {
    "string": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "float64": "DOUBLE",
    "int64": "BIGINT",
    "boolean": "BOOLEAN",
}

#: Why a provider-level rule is not served: it compares a provider with its peers over a
#: period, which one claim cannot answer.
PROVIDER_LEVEL = "provider-level: compares a provider with its peers over a period (make rules)"
#: Why a rule comparing a claim with other patients' claims over a period is not served.
POPULATION = "population: compares with other patients' claims over a period (make rules)"


#: The checks whose every hit names a claim of the rule's scene (``rule.visit_types``): they
#: filter the hit rows themselves with the scene (:func:`fraudml.rulebase.checks._in_scene`
#: on the hit's own claim or fee line, whose ``visit_type`` is its claim's), or keep only
#: rows derived from such rows (``claim_lines``: the scene's claims and their sums;
#: ``bundle``: the scene's part lines). Read from the checks of
#: :mod:`fraudml.rulebase.checks` and :mod:`fraudml.rulebase.national`.
IN_SCENE_HITS = frozenset(
    {
        "line",
        "claim",
        "daily_quantity",
        "duplicate_item",
        "repeated_trace",
        "item_frequency",
        "during_stay",
        "region_switch",
        "frequency",
        "unlisted",
        "course",
        "supply",
        "supply_overlap",
        "incompatible",
        "bundle",
        "claim_lines",
        "repeat_within",
    }
)
#: The checks whose hits are claims of one visit type whatever the scene: stays
#: (``readmission``, ``overlapping_stays`` read inpatient claims only) and chronic-disease
#: claims (``chronic_unregistered``: ``outpatient_chronic`` claims only).
FIXED_HITS = {
    "readmission": frozenset({"inpatient"}),
    "overlapping_stays": frozenset({"inpatient"}),
    "chronic_unregistered": frozenset({"outpatient_chronic"}),
}


def hit_visit_types(rule: Rule) -> frozenset[str]:
    """The visit types a claim ``rule`` hits can have; every visit type for a check not
    known here (such a rule runs on every check).

    A check of a claim of another visit type cannot get a hit of the rule, whatever the
    history: its statement leaves the rule out (:meth:`OnlineRules.run`).
    """
    if rule.check in FIXED_HITS:
        return FIXED_HITS[rule.check]  # these checks do not filter by the scene
    if rule.check in IN_SCENE_HITS:
        return frozenset(rule.visit_types)
    return frozenset(VISIT_TYPES)


def table_columns(con: Any) -> dict[str, dict[str, str]]:
    """Every table of the DuckDB connection ``con`` with its columns and their types."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE NOT internal ORDER BY table_name, column_index"
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, {})[column] = dtype
    return out


def pruned_sql(sql: str, schema: dict[str, dict[str, str]]) -> str:
    """``sql`` (a DuckDB query over the tables of ``schema``) with every subquery
    selecting only the columns the queries around it read.

    The statements run without DuckDB's optimizer (see the module docstring), which would
    otherwise drop those columns: a rule's subqueries select every column of the fee
    lines (some thirty) to keep three, and carrying them through each filter, join and
    window cost a third of a single check's time (measured on the bench city). sqlglot's
    projection pushdown removes them (it keeps what ``DISTINCT`` and set operations
    need); a query sqlglot cannot qualify runs as it is.
    """
    try:
        tree = qualify(sqlglot.parse_one(sql, read="duckdb"), schema=schema, dialect="duckdb")
        return pushdown_projections(tree, schema=schema).sql(dialect="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        log.warning("a rule's SQL runs unpruned: %s", exc)
        return sql


def column_types(table: Table) -> dict[str, str]:
    """The contract's columns of ``table`` with their DuckDB types."""
    return {c.name: SQL_TYPE[ENGINE_TYPE[c.type]] for c in table.columns}


def create_table_sql(name: str, columns: dict[str, str]) -> str:
    body = ", ".join(f'"{c}" {t}' for c, t in columns.items())
    return f"CREATE OR REPLACE TABLE {name} ({body})"


#: the served rules' SQL by what it is compiled from (:func:`_compiled_key`), kept for the
#: process: turning each rule's expression into pruned SQL is most of a start-up's time
#: (under cProfile, 36 s of a 43 s start over the committed city), and a process that
#: starts more than one service over the same rules and tables (the test suite does) gets
#: the same text. Its newest :data:`_COMPILED_KEPT` entries are kept.
_COMPILED: dict[tuple[Any, ...], dict[str, str]] = {}
_COMPILED_KEPT = 4


def _compiled_key(
    served: Sequence[Rule],
    schema: dict[str, dict[str, str]],
    currency: str,
    registrations: bool,
) -> tuple[Any, ...]:
    """Everything the served rules' SQL is made from: every field of every rule (its
    check, parameters, conditions, texts), the tables' names, columns and types, the
    currency, and whether the checks read registrations (the work table exists either
    way). The SQL's table names are fixed (:data:`WORK_TABLES`, the stages')."""
    tables = tuple((t, tuple(cols.items())) for t, cols in sorted(schema.items()))
    return (tuple(repr(r) for r in served), tables, currency, registrations)


class _Capture:
    """The connection as :func:`fraudml.window.prepare` sees it while the rules are
    compiled: a table it would compute now becomes an empty table of the same shape,
    and the expression that fills it is kept for each check."""

    def __init__(self, con: ibis.BaseBackend) -> None:
        self._con = con
        self.stages: list[tuple[str, ir.Table]] = []

    def create_table(self, name: str, obj: ir.Table, **_: Any) -> ir.Table:
        # named by its place, not by the process-wide counter the window gives temporary
        # tables (``_window_claims_3``): every start then compiles to the same SQL text
        # (:data:`_COMPILED`)
        stem = re.sub(r"_\d+$", "", name).lstrip("_")
        table = f"svc_{stem}_{len(self.stages)}"
        self._con.create_table(table, schema=obj.schema(), overwrite=True)
        self.stages.append((table, obj))
        return self._con.table(table)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@dataclass
class _WorkData:
    """What the checks read of a dataset (:class:`fraudml.io.Dataset`'s part they use)."""

    con: Any
    tables: dict[str, ir.Table]
    currency: str

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def table(self, name: str) -> ir.Table:
        return self.tables[name]


@dataclass
class RawHit:
    """One row of :data:`fraudml.rulebase.HIT_COLUMNS` and its rule."""

    rule: Rule
    row: dict[str, Any]


@dataclass
class OnlineRules:
    """The rules compiled over the work tables, and how to run them."""

    rules: list[Rule]
    #: rule id → why it is not served
    skipped: dict[str, str]
    #: (table, statement name) per stage, in order
    stages: list[tuple[str, str]] = field(default_factory=list)
    cursor: Any = None
    #: visit type → the statement of the rules that can hit a claim of that type ("": no
    #: rule can), and the statement of every served rule under ``None``
    statements: dict[str | None, str] = field(default_factory=dict)
    #: rule id → its hits over the work tables as the rule base builds them (the
    #: statements run their SQL without the columns nothing reads: :func:`pruned_sql`)
    exprs: dict[str, ir.Table] = field(default_factory=dict)

    @classmethod
    def compile(
        cls,
        con: ibis.BaseBackend,
        rules: Sequence[Rule],
        reference: dict[str, ir.Table],
        registrations: bool = False,
        currency: str = "CNY",
    ) -> OnlineRules:
        """Compile ``rules`` over the work tables of ``con`` (created here, empty).

        ``reference`` holds the tables a check reads as they are: ``providers``, and
        ``catalog`` when the service has one. ``registrations`` says whether it has
        chronic-disease registrations (the work table holds the check's patients').
        """
        started = time.perf_counter()
        raw = con.con
        for _, (name, spec) in WORK_TABLES.items():
            raw.execute(create_table_sql(name, column_types(spec)))
        capture = _Capture(con)
        tables = {key: con.table(name) for key, (name, _) in WORK_TABLES.items()}
        if not registrations:
            del tables["chronic_registrations"]
        tables.update(reference)
        data = _WorkData(capture, tables, currency)
        present = {
            "lines": True,
            "repeated": True,
            "registrations": registrations,
            "catalog": "catalog" in reference,
        }
        # optional inputs: the doctors table (the service has none) and optional columns
        # with a value in the reference or history tables
        have: set[str] = set()
        tables = set(raw.execute("SHOW TABLES").df().name)
        for need in sorted({n for rule in rules for n in rule_requires(rule)}):
            table, _, column = need.partition(".")
            source = {"catalog": "h_catalog", "patients": "h_patients"}.get(table)
            if (
                column
                and source in tables
                and raw.execute(f'SELECT count("{column}") FROM {source}').fetchone()[0]
            ):
                have.add(need)
        served, skipped = [], {}
        for rule in rules:
            check = CHECKS[rule.check]
            lacking = [n for n in rule_needs(rule) if not present[n]]
            missing = [n for n in rule_requires(rule) if n not in have]
            if check.level != "claim":
                skipped[rule.id] = PROVIDER_LEVEL
            elif check.population:
                skipped[rule.id] = POPULATION
            elif lacking:
                skipped[rule.id] = f"needs {NEEDS_TABLES[lacking[0]]}"
            elif missing:
                skipped[rule.id] = f"needs {missing[0]}"
            else:
                served.append(rule)
        x = rule_inputs(data, Window())  # type: ignore[arg-type]
        assert x.lines is not None and x.repeated is not None
        lines = capture.create_table("_lines", x.lines)
        x = replace(x, lines=lines)
        parts = [rule_hits(rule, x) for rule in served]

        cursor = raw.cursor()
        cursor.execute("PRAGMA disable_optimizer")
        out = cls(list(served), skipped, cursor=cursor)
        out.exprs = {rule.id: part for rule, part in zip(served, parts, strict=True)}
        for i, (table, expr) in enumerate(capture.stages):
            name = f"svc_stage_{i}"
            sql = ibis.to_sql(expr, dialect="duckdb")
            cursor.execute(f"PREPARE {name} AS INSERT INTO {table} BY NAME {sql}")
            out.stages.append((table, name))
        schema = table_columns(raw)  # the work, stage and reference tables
        key = _compiled_key(served, schema, currency, registrations)
        sql = _COMPILED.get(key)
        if sql is None:
            sql = {
                rule.id: pruned_sql(ibis.to_sql(part, dialect="duckdb"), schema)
                for rule, part in zip(served, parts, strict=True)
            }
            _COMPILED[key] = sql
            while len(_COMPILED) > _COMPILED_KEPT:
                _COMPILED.pop(next(iter(_COMPILED)))
        # one statement for every rule, for a batch, and one per visit type with the rules
        # that can hit a claim of that type, for a single check (its claim has one type)
        prepared: dict[tuple[str, ...], str] = {}
        for visit_type in (None, *VISIT_TYPES):
            ids = tuple(
                rule.id
                for rule in served
                if visit_type is None or visit_type in hit_visit_types(rule)
            )
            if not ids:
                out.statements[visit_type] = ""  # no rule can hit such a claim
                continue
            if ids not in prepared:
                name = prepared[ids] = f"svc_rules_{len(prepared)}"
                union = " UNION ALL ".join(f"SELECT * FROM ({sql[i]})" for i in ids)
                cursor.execute(f"PREPARE {name} AS {union}")
            out.statements[visit_type] = prepared[ids]
        log.info(
            "rules compiled for online checks: %d served, %d not (%.1f s)",
            len(served),
            len(skipped),
            time.perf_counter() - started,
        )
        return out

    def run(self, visit_types: Collection[str] | None = None) -> list[RawHit]:
        """The hits of the served rules over what the work tables hold now: of every
        rule, or (``visit_types``, the checked claims' when they share one) of the rules
        that can hit a claim of those types; the hits on such claims are the same."""
        cur = self.cursor
        cur.execute(
            "; ".join(f"DELETE FROM {table}; EXECUTE {name}" for table, name in self.stages)
        )
        types = set(visit_types) if visit_types is not None else set()
        key = types.pop() if len(types) == 1 else None
        statement = self.statements.get(key, self.statements.get(None))
        if not statement:
            return []
        by_id = {r.id: r for r in self.rules}
        rows = cur.execute(f"EXECUTE {statement}").fetchall()
        return [RawHit(by_id[row[0]], dict(zip(HIT_COLUMNS, row, strict=True))) for row in rows]
