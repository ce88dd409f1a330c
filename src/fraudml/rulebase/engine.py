"""Run a rule base over a window: hits with evidence, per-entity aggregates, national shape.

Every rule compiles to one Ibis expression (:mod:`fraudml.rulebase.checks`); the hits of all
rules go into one table, a statement per rule, over the window's claims and its fee lines
computed once. Rules whose check needs a table or an optional column the dataset lacks are
skipped and listed with the reason.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import ibis
import ibis.expr.types as ir

from fraudml.engine import scratch
from fraudml.entities import ENTITIES
from fraudml.features.registry import Feature, unit_text
from fraudml.i18n import CODES, code_label
from fraudml.io.load import Dataset
from fraudml.rulebase.checks import CHECKS, RuleInputs
from fraudml.rulebase.enrich import (
    CATALOG_EXTRA,
    DOCTOR_NAMES,
    OPTIONAL_COLUMNS,
    enriched_lines,
    rule_names,
)
from fraudml.rulebase.expr import (
    RuleExpressionError,
    as_text,
    compile_expr,
    names_in,
    render,
    template_fields,
)
from fraudml.rulebase.spec import SEVERITIES, Rule
from fraudml.window import (
    CATALOG_COLUMNS,
    Inputs,
    Window,
    fee_lines,
    filled_columns,
    has_times_of_day,
    prepare,
)

log = logging.getLogger(__name__)
_TAGS = itertools.count()

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
        catalog=ds.table("catalog") if "catalog" in ds else None,
        patients=ds.table("patients") if "patients" in ds else None,
        doctors=ds.table("doctors") if "doctors" in ds else None,
    )


def rule_hits(rule: Rule, x: RuleInputs) -> ir.Table:
    """One rule's hits in the standard shape (:data:`HIT_COLUMNS`)."""
    check = CHECKS[rule.check]
    try:
        cand = check.func(rule, x)
        if rule.amount is not None and not check.own_amount:
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
        message_zh=_message(rule.message.zh, cand, rule, x, "zh"),
        message_en=_message(rule.message.en, cand, rule, x, "en"),
        evidence=text,
    )


def _message(template: str, cand: ir.Table, rule: Rule, x: RuleInputs, lang: str) -> ir.Value:
    return render(
        template,
        cand,
        _message_fields(rule, x, lang),
        labels={f: _labeller(kind, lang) for f, kind in CODE_FIELDS.items()},
        computed={f: (lambda t, fn=fn: fn(t, lang)) for f, fn in COMPUTED_FIELDS.items()},
    )


def _message_fields(rule: Rule, x: RuleInputs, lang: str) -> dict:
    """A message's fixed fields: the rule's parameters, and ``money`` (the dataset's
    currency in ``lang``: 元 / yuan, 美元 / US dollars …)."""
    return {**rule.params, "money": unit_text("元", lang, x.currency)}


#: Message fields that hold a code: the field → its code list in :data:`fraudml.i18n.CODES`.
#: A message shows the code's label in its language (女, 门诊 …), an unknown code as it is.
CODE_FIELDS: dict[str, str] = {
    "gender": "gender",
    "cat_gender": "gender",
    "visit_type": "visit_type",
    "item_category": "item_category",
    "cat_category": "item_category",
    "department": "department",
    "doctor_department": "department",
    "provider_type": "provider_type",
    "insurance_type": "insurance_type",
    "role": "role",
}


def _labeller(kind: str, lang: str) -> Callable[[ir.Value], ir.Value]:
    """The label of a code of ``kind`` in ``lang`` (:func:`fraudml.i18n.code_label`) as an
    engine expression; a code without a label is shown as it is."""
    codes = list(CODES.get(kind, {}))

    def label(value: ir.Value) -> ir.Value:
        text = value.cast("string")
        if not codes:
            return text
        return ibis.cases(
            *[(text == code, code_label(kind, code, lang)) for code in codes], else_=text
        )

    return label


def _age_limit(t: ir.Table, lang: str) -> ir.Value:
    """The catalog's age range in words, a missing bound left out: 14 岁以下 / ages up to
    14, 60 岁及以上 / ages 60 and over, 18–60 岁 / ages 18–60."""
    lo, hi = t.min_age.cast("string"), t.max_age.cast("string")
    if lang == "zh":
        both = lo.concat("–").concat(hi).concat(" 岁")
        upto = hi.concat(" 岁以下")
        over = lo.concat(" 岁及以上")
    else:
        both = ibis.literal("ages ").concat(lo).concat("–").concat(hi)
        upto = ibis.literal("ages up to ").concat(hi)
        over = ibis.literal("ages ").concat(lo).concat(" and over")
    return ibis.cases(
        (t.min_age.notnull() & t.max_age.notnull(), both),
        (t.max_age.notnull(), upto),
        (t.min_age.notnull(), over),
        else_=ibis.literal("-"),
    )


#: Message fields made from several columns, in the message's language.
COMPUTED_FIELDS = {"age_limit": _age_limit}


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
    catalog_names = set(CATALOG_COLUMNS) | set(CATALOG_EXTRA) | {"listed"}
    if (read - set(rule.params)) & catalog_names and "catalog" not in needs:
        needs = (*needs, "catalog")
    return needs


def rule_requires(rule: Rule) -> tuple[str, ...]:
    """The optional inputs ``rule`` needs beyond :func:`rule_needs`: ``doctors`` (the
    table), ``claim_times`` (claims with times of day) and optional contract columns
    (``patients.death_date``, ``catalog.indications`` …), from its check and the names
    it reads."""
    out = list(CHECKS[rule.check].requires)
    read = rule_names(rule)
    if read & DOCTOR_NAMES:
        out.append("doctors")
    out += [OPTIONAL_COLUMNS[n] for n in sorted(read) if n in OPTIONAL_COLUMNS]
    return tuple(dict.fromkeys(out))


def available_inputs(ds: Dataset, x: RuleInputs, wanted: set[str]) -> set[str]:
    """Which of the optional inputs ``wanted`` the dataset has: a table it holds, claims
    with times of day, a column it holds with at least one value (a column a source
    leaves out is read as empty: a rule reading it would run on nothing)."""
    have: set[str] = set()
    if "claim_times" in wanted and has_times_of_day(x.claims):
        have.add("claim_times")
    by_table: dict[str, list[str]] = {}
    for need in wanted:
        if "." in need:
            table, column = need.split(".", 1)
            by_table.setdefault(table, []).append(column)
        elif need in ds:
            have.add(need)
    for table, columns in by_table.items():
        if table in ds:
            have |= filled_columns(ds.table(table), table, tuple(columns))
    return have


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
    wanted = {need for rule in rules for need in rule_requires(rule)}
    have = available_inputs(ds, x, wanted) if wanted else set()
    runnable, skipped = [], {}
    for rule in rules:
        lacking = [n for n in rule_needs(rule) if not present[n]]
        missing = [n for n in rule_requires(rule) if n not in have]
        if lacking:
            skipped[rule.id] = f"needs {NEEDS_TABLES[lacking[0]]}"
        elif missing:
            skipped[rule.id] = f"needs {missing[0]}"
        else:
            runnable.append(rule)
    run = _run_compiled if _is_duckdb(ds) else _run_lazy
    hits = run(ds, x, runnable)
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


def _is_duckdb(ds: Dataset) -> bool:
    return getattr(ds.con, "name", None) == "duckdb"


def _run_lazy(ds: Dataset, x: RuleInputs, runnable: Sequence[Rule]) -> ir.Table:
    """The rules' hits in the table ``rule_hits``, through the backend's own table calls
    (any engine): each window compiles every rule anew."""
    shared = _with_shared_lines(ds, x, runnable)
    parts = [rule_hits(rule, shared) for rule in runnable]
    # One statement per rule into one table: as a single union of sixty rules the engine
    # spent three times as long (measured over 10M fee lines, benchmarks/rulebase_bench.py)
    # planning and running it as the rules take one by one over the shared tables.
    hits = ds.con.create_table("rule_hits", parts[0] if parts else _empty_hits(), overwrite=True)
    for part in parts[1:]:
        ds.con.insert("rule_hits", part)
    if shared.lines is not x.lines:
        # the hits are a table of their own: the shared lines are not needed any more
        scratch.drop(ds.con, shared.lines)
    return hits


#: Stable names the rules read a window's inputs under (DuckDB): views of the window's own
#: tables, so that every window's rule expressions are the same expressions and compile
#: to the same SQL (:func:`_compiled_sql`).
_STABLE_CLAIMS = "_rules_claims"
_STABLE_REPEATED = "_rules_repeated"
_STABLE_LINES = "_rules_lines"


def _run_compiled(ds: Dataset, x: RuleInputs, runnable: Sequence[Rule]) -> ir.Table:
    """The rules' hits in the table ``rule_hits`` on DuckDB, each rule's statement
    compiled once per connection.

    Compiling the rules' Ibis expressions to SQL costs more than half as much as running
    them on a window of a city (measured on a loaded 2-core machine: 3.2 s of compiling
    against 5.2 s of running for 47 rules over half a year of 50,000 patients), and
    training runs the same rules over three windows. The rules read the window through
    stable names (temporary views of the window's tables, and the shared fee lines under
    a fixed name), so a later window's expressions equal the first's and reuse its SQL;
    the hits are the rows a compilation per window gives. The statements go to the
    engine as SQL text: the backend's own insert parses the compiled SQL back into a
    syntax tree first. The SQL kept per connection is one text per rule and input shape.
    """
    con = ds.con
    stable = _stable_inputs(ds, x)
    shared = _with_shared_lines(ds, stable, runnable, name=_STABLE_LINES)
    parts = [rule_hits(rule, shared) for rule in runnable]
    if not parts:
        hits = con.create_table("rule_hits", _empty_hits(), overwrite=True)
    else:
        # the table typed as the backend types it (every part has the standard schema)
        hits = con.create_table("rule_hits", schema=parts[0].schema(), overwrite=True)
        into = ", ".join(_quoted(c) for c in parts[0].columns)
        # one statement per rule, as in :func:`_run_lazy` (a union of all was slower)
        for rule, part in zip(runnable, parts, strict=True):
            started = time.perf_counter()
            try:
                con.raw_sql(f'INSERT INTO "rule_hits" ({into}) {_compiled_sql(con, part)}')
            except Exception as error:
                # the engine's message (out of memory, say) does not say which rule it ran
                error.add_note(f"while running rule {rule.id} ({rule.check})")
                raise
            log.debug("rule %s: %.1f s", rule.id, time.perf_counter() - started)
    if shared.lines is not stable.lines:
        scratch.drop(con, _STABLE_LINES)
    return hits


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _compiled_sql(con, expr: ir.Table) -> str:
    """``expr`` compiled to SQL, once per connection: an expression equal to one compiled
    before (the same rule over the same stable inputs) reuses its SQL."""
    cache = getattr(con, "_fraudml_rule_sql", None)
    if cache is None:
        cache = {}
        con._fraudml_rule_sql = cache
    op = expr.op()
    sql = cache.get(op)
    if sql is None:
        sql = cache[op] = con.compile(expr)
    return sql


def _stable_view(con, name: str, table: ir.Table) -> ir.Table:
    """``table`` under the temporary view ``name`` (replacing the previous window's)."""
    con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {_quoted(name)} AS {con.compile(table)}")
    return con.table(name)


def _stable_inputs(ds: Dataset, x: RuleInputs) -> RuleInputs:
    """``x`` with the window's claims and repeated trace lines read through stable views
    (:data:`_STABLE_CLAIMS`, :data:`_STABLE_REPEATED`) and its lazy fee lines over them."""
    claims = _stable_view(ds.con, _STABLE_CLAIMS, x.claims)
    repeated = None if x.repeated is None else _stable_view(ds.con, _STABLE_REPEATED, x.repeated)
    lines = None if x.lines is None else fee_lines(ds, claims)
    return replace(x, claims=claims, repeated=repeated, lines=lines)


def _with_shared_lines(
    ds: Dataset, x: RuleInputs, rules: Sequence[Rule], name: str | None = None
) -> RuleInputs:
    """``x`` with its fee lines computed once into an intermediate table
    (:mod:`fraudml.engine.scratch`), with every catalog
    fact and claim column the ``rules`` read beyond the window's lines.

    Fee lines are the widest input: left lazy, each rule that reads them would join the
    claim items to their claims and catalog entries again (some forty rules do). Done
    only when more than one rule reads fee lines. ``name`` is the table's (a fresh one
    when ``None``)."""
    if x.lines is None:
        return x
    readers = [r for r in rules if "lines" in CHECKS[r.check].needs]
    if len(readers) < 2:
        return x
    names: set[str] = set()
    for rule in readers:
        names |= rule_names(rule) | set(CHECKS[rule.check].reads)
    lines = enriched_lines(x.lines, x, names)
    if name is None:
        name = f"_rule_lines_{next(_TAGS)}"
    else:
        scratch.drop(ds.con, name)  # a run interrupted before it dropped it
    shared = scratch.create(ds.con, name, lines)
    return replace(x, lines=shared)


def _empty_hits() -> ir.Table:
    schema = {c: "string" for c in HIT_COLUMNS}
    schema.update(line_no="int64", occurred="timestamp", amount="float64")
    # an Arrow table: an empty pandas frame cannot hold a typed timestamp column
    arrow = ibis.schema(schema).to_pyarrow()
    return ibis.memtable(arrow.empty_table())


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
    ``vola_bhvr_type`` is the rule's family. ``jr_id`` is the MD5 digest (32 hex digits)
    of ``rule_id|entity_id|line_no``: the same hit has the same id on every run and engine
    (Ibis's ``hash()`` is each engine's own 64- or 32-bit function, so it is not used).
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
        jr_id=jr.hexdigest("md5"),
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
