"""The service's work, without HTTP: check claims, decide, audit, remember.

:class:`Service` holds the engine connection, the history, the compiled rules, the
decision policy, 熔断 and the audit log. :meth:`Service.check` takes validated requests
(:mod:`fraudml.service.schema`) and returns one answer per claim, in request order.
Checks are serialised: one runs at a time, each seeing the history the earlier ones left.
"""

from __future__ import annotations

import logging
import string
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis
import pyarrow as pa

import fraudml
from fraudml.engine import compiled
from fraudml.errors import RuleBaseError
from fraudml.features.registry import unit_text
from fraudml.io.load import Dataset
from fraudml.loop.marks import EligibilityGuard, read_status
from fraudml.rulebase import Rule, RuleSpecError, parse_family
from fraudml.rulebase.engine import fingerprint
from fraudml.service.audit import AuditLog
from fraudml.service.decision import SUSPENDED, Suspension, decide
from fraudml.service.engine import OnlineRules, RawHit
from fraudml.service.history import (
    CLAIM_SCHEMA,
    ITEM_SCHEMA,
    PATIENT_SCHEMA,
    PROVIDER_SCHEMA,
    Batch,
    History,
)
from fraudml.service.schema import CheckRequest
from fraudml.service.settings import ServiceSettings
from fraudml.settings import EngineSettings

log = logging.getLogger(__name__)

#: Tolerance of a fee line's amount against quantity × unit price (the contract's).
AMOUNT_SLACK = 0.01 + 1e-6


class RequestProblem(Exception):
    """A request that is well formed but cannot be checked as it is (HTTP 422)."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['problem']}" for p in problems))
        self.problems = problems


def _problem(field: str, problem: str, expected: str) -> dict[str, str]:
    return {"field": field, "problem": problem, "expected": expected}


def _text(value: Any) -> str:
    """A value as rule messages print it: two decimals for numbers, ``-`` for missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(round(value, 2))
    return str(value)


class Service:
    """The rule base served: see the module docstring."""

    def __init__(
        self,
        con: ibis.BaseBackend,
        history: History,
        rules: OnlineRules,
        base: Sequence[Rule],
        settings: ServiceSettings,
        catalog: set[str] | None,
        unlisted: Rule | None,
        audit: AuditLog | None,
        owns_connection: bool = False,
        currency: str = "CNY",
    ) -> None:
        self.con = con
        self.history = history
        self.rules = rules
        self.base = list(base)
        self.settings = settings
        self.catalog = catalog
        self.unlisted = unlisted
        self.audit = audit
        self.suspension = Suspension(settings.suspension)
        # the points ledger's suspensions and terminations (暂停/终止医保支付资格)
        self.eligibility = (
            EligibilityGuard.from_status(read_status(settings.eligibility))
            if settings.eligibility is not None
            else EligibilityGuard()
        )
        self.rule_base = fingerprint(self.base)
        self._order = {r.id: i for i, r in enumerate([*rules.rules, *self._unlisted()])}
        self._lock = threading.Lock()
        self._owns = owns_connection
        self.currency = currency

    # ------------------------------------------------------------------ start and stop

    @classmethod
    def start(
        cls,
        base: Sequence[Rule],
        ds: Dataset | None = None,
        settings: ServiceSettings | None = None,
        engine: EngineSettings | None = None,
    ) -> Service:
        """The service over ``base``, with ``ds``'s claims as its history when given.

        ``ds`` stays open while the service runs: the service works on its connection.
        """
        settings = settings or ServiceSettings()
        unlisted = _unlisted_rule(settings.unlisted)
        if unlisted is not None and any(r.id == unlisted.id for r in base):
            unlisted = None  # the rule base carries 目录外 itself (conf/rules/catalog.yaml)
        audit = AuditLog(settings.audit) if settings.audit is not None else None
        if ds is not None:
            con, owns = ds.con, False
        else:
            engine = engine or EngineSettings()
            config: dict[str, Any] = {}
            if engine.memory_limit:
                config["memory_limit"] = engine.memory_limit
            if engine.threads:
                config["threads"] = engine.threads
            con, owns = compiled.install(ibis.duckdb.connect(**config)), True
        history = History(con.con)
        catalog: set[str] | None = None
        if ds is not None:
            history.load(ds, settings.history_until)
        else:
            history.create()
        reference: dict[str, Any] = {"providers": con.table("h_providers")}
        if history.catalog:
            reference["catalog"] = con.table("h_catalog")
            rows = con.con.execute("SELECT item_code FROM h_catalog").fetchall()
            catalog = {r[0] for r in rows}
        currency = ds.currency if ds is not None else "CNY"
        rules = OnlineRules.compile(con, base, reference, history.registrations, currency)
        return cls(con, history, rules, base, settings, catalog, unlisted, audit, owns, currency)

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()
        if self._owns:
            self.con.disconnect()

    # ------------------------------------------------------------------ what it serves

    def _unlisted(self) -> list[Rule]:
        """The 目录外 rule, when it is enabled and there is a catalog to check against."""
        return [self.unlisted] if self.unlisted is not None and self.catalog is not None else []

    def rule_list(self) -> dict[str, Any]:
        served = [*self.rules.rules, *self._unlisted()]
        skipped = dict(self.rules.skipped)
        if self.unlisted is not None and self.catalog is None:
            skipped[self.unlisted.id] = "needs catalog"
        return {
            "rule_base": self.rule_base,
            "rules": [_describe(r) for r in served],
            "not_served": skipped,
        }

    def health(self) -> dict[str, Any]:
        with self._lock:
            counts = self.history.counts()
        until = self.history.until
        return {
            "status": "ok",
            "version": fraudml.__version__,
            "rule_base": self.rule_base,
            "rules": len(self.rules.rules) + len(self._unlisted()),
            "history": {
                "from": self.history.loaded_from,
                "until": until.isoformat() if until else None,
                **counts,
            },
            "suspension": self.settings.suspension.enabled,
        }

    # ------------------------------------------------------------------ checks

    def check(self, requests: Sequence[CheckRequest], stage: str | None = None) -> list[dict]:
        """One answer per request, in order; raises :class:`RequestProblem` for a claim
        that cannot be checked as sent (nothing is checked then)."""
        stage = stage or self.settings.stage
        prefix = len(requests) > 1
        with self._lock:
            batch = self._batch(requests, prefix)
            self.history.fill(batch)
            raw = self.rules.run({r.claim.visit_type for r in requests})
            hits = self._hits(raw, requests)
            answers = self._decide(requests, hits, stage)
            if self.audit is not None:
                self.audit.write(
                    self._audit_record(r, a) for r, a in zip(requests, answers, strict=True)
                )
            self._remember(batch, answers, stage)
        return answers

    def _batch(self, requests: Sequence[CheckRequest], prefix: bool) -> Batch:
        """The requests as Arrow rows, after the checks a dataset's rows get (a request
        that fails one is answered 422, naming the field)."""
        problems: list[dict[str, str]] = []
        claims: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        sent: dict[str, dict[str, dict[str, Any]]] = {"patient": {}, "provider": {}}
        seen: set[str] = set()
        for i, req in enumerate(requests):
            at = f"claims[{i}]." if prefix else ""
            c = req.claim
            if c.claim_id in seen:
                problems.append(
                    _problem(
                        f"{at}claim.claim_id",
                        f"claim {c.claim_id} appears twice in the batch",
                        "one entry per claim",
                    )
                )
            seen.add(c.claim_id)
            problems += _claim_problems(req, at, sent)
            claims.append(c.model_dump())
            lines: set[int] = set()
            for j, item in enumerate(req.items):
                problems += _item_problems(item, c.claim_id, f"{at}items[{j}]", lines)
                row = item.model_dump()
                row["claim_id"] = c.claim_id
                row["claim_admit_time"] = c.admit_time
                items.append(row)
        patients, providers = sent["patient"], sent["provider"]
        for i, c in enumerate(claims):
            at = f"claims[{i}]." if prefix else ""
            for part, key, known in (
                ("patient", "patient_id", self.history.keys),
                ("provider", "provider_id", self.history.provider_rows),
            ):
                if c[key] not in sent[part] and c[key] not in known:
                    problems.append(
                        _problem(
                            f"{at}claim.{key}",
                            f"{part} {c[key]} is not known to the service",
                            f"a known {key}, or the {part}'s attributes in '{part}'",
                        )
                    )
        if problems:
            raise RequestProblem(problems)
        keys = self.history.keys_for([c["patient_id"] for c in claims])
        for c in claims:
            c["pk"] = keys[c["patient_id"]]
        claim_pk = {c["claim_id"]: c["pk"] for c in claims}
        for row in items:
            row["pk"] = claim_pk[row["claim_id"]]
        for pid, row in patients.items():
            row["pk"] = keys[pid]
        return Batch(
            claims=pa.Table.from_pylist(claims, schema=CLAIM_SCHEMA),
            items=pa.Table.from_pylist(items, schema=ITEM_SCHEMA),
            patients=pa.Table.from_pylist(list(patients.values()), schema=PATIENT_SCHEMA),
            providers=pa.Table.from_pylist(list(providers.values()), schema=PROVIDER_SCHEMA),
            keys=keys,
            sent_patients=set(patients),
        )

    def _hits(
        self, raw: list[RawHit], requests: Sequence[CheckRequest]
    ) -> dict[str, list[dict[str, Any]]]:
        mine: dict[str, list[dict[str, Any]]] = {r.claim.claim_id: [] for r in requests}
        for hit in raw:
            claim = hit.row["claim_id"]
            if claim in mine:
                mine[claim].append(_answer_hit(hit.rule, hit.row))
        for rule in self._unlisted():
            for req in requests:
                mine[req.claim.claim_id] += self._unlisted_hits(rule, req)
        for claim_hits in mine.values():
            claim_hits.sort(
                key=lambda h: (
                    self._order.get(h["rule_id"], 0),
                    -1 if h["line_no"] is None else h["line_no"],
                )
            )
        return mine

    def _unlisted_hits(self, rule: Rule, req: CheckRequest) -> list[dict[str, Any]]:
        """目录外: the request's fee lines whose item code the catalog does not list."""
        if req.claim.visit_type not in rule.visit_types or self.catalog is None:
            return []
        money = {lang: unit_text("元", lang, self.currency) for lang in ("zh", "en")}
        hits = []
        for item in req.items:
            if item.item_code in self.catalog:
                continue
            fields = {**rule.params, **item.model_dump()}
            row = {
                "line_no": item.line_no,
                "amount": round(item.amount, 2),
                "message_zh": _render(rule.message.zh, fields, money["zh"]),
                "message_en": _render(rule.message.en, fields, money["en"]),
                "evidence": "; ".join(f"{e}={_text(fields.get(e))}" for e in rule.evidence),
            }
            hits.append(_answer_hit(rule, row))
        return hits

    def _decide(
        self,
        requests: Sequence[CheckRequest],
        hits: dict[str, list[dict[str, Any]]],
        stage: str,
    ) -> list[dict[str, Any]]:
        answers: list[dict[str, Any] | None] = [None] * len(requests)
        counted = stage in self.settings.record_stages
        # 熔断 looks at a provider's claims in the order they were admitted
        order = sorted(range(len(requests)), key=lambda i: requests[i].claim.admit_time)
        for i in order:
            c = requests[i].claim
            mine = hits[c.claim_id]
            decision, reason = decide(mine, stage, self.settings.decision), None
            if self.suspension.suspended(c.provider_id, c.admit_time, c.claim_id):
                decision, reason = "reject", SUSPENDED
            refusal = self.eligibility.check(getattr(c, "doctor_id", None), c.admit_time)
            if refusal is not None:
                decision, reason = "reject", f"practitioner_{refusal.status}"
            if counted and any(h["result"] == "definite" for h in mine):
                self.suspension.note(c.provider_id, c.claim_id, c.admit_time)
            answers[i] = {
                "claim_id": c.claim_id,
                "decision": decision,
                "reason": reason,
                "stage": stage,
                "hits": mine,
                "rule_base": self.rule_base,
            }
        return [a for a in answers if a is not None]

    def _audit_record(self, req: CheckRequest, answer: dict[str, Any]) -> dict[str, Any]:
        c = req.claim
        return {
            "time": datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "claim": {
                "claim_id": c.claim_id,
                "patient_id": c.patient_id,
                "provider_id": c.provider_id,
                "visit_type": c.visit_type,
                "admit_time": c.admit_time.isoformat(sep=" "),
            },
            "stage": answer["stage"],
            "hits": [
                {k: h[k] for k in ("rule_id", "line_no", "result", "severity", "amount")}
                for h in answer["hits"]
            ],
            "decision": answer["decision"],
            "reason": answer["reason"],
            "rule_base": self.rule_base,
        }

    def _remember(self, batch: Batch, answers: list[dict[str, Any]], stage: str) -> None:
        """Claims checked at a recorded stage join the history, unless rejected."""
        if stage not in self.settings.record_stages:
            keep: list[str] = []
        else:
            keep = [
                a["claim_id"]
                for a in answers
                if a["decision"] != "reject" or self.settings.record_rejected
            ]
        self.history.record(batch, keep)


def _claim_problems(
    req: CheckRequest, at: str, sent: dict[str, dict[str, dict[str, Any]]]
) -> list[dict[str, str]]:
    """What keeps a claim from being checked: times, and the patient, provider and doctor
    sent with it (kept in ``sent``, by id) against the claim's ids."""
    c = req.claim
    problems = []
    if c.discharge_time < c.admit_time:
        problems.append(
            _problem(
                f"{at}claim.discharge_time",
                f"{c.discharge_time} is before admit_time {c.admit_time}",
                "a time at or after admit_time (equal to it for a visit)",
            )
        )
    for part, row, key in (
        ("patient", req.patient, "patient_id"),
        ("provider", req.provider, "provider_id"),
        ("doctor", req.doctor, "doctor_id"),
    ):
        if row is None:
            continue
        own = getattr(c, key)
        if getattr(row, key) != own:
            problems.append(
                _problem(
                    f"{at}{part}.{key}",
                    f"is {getattr(row, key)!r} but the claim's {key} is {own!r}",
                    f"the claim's {key}",
                )
            )
            continue
        if part not in sent:
            continue  # a doctor is checked, not kept: no rule reads doctors
        values = row.model_dump()
        if sent[part].get(own, values) != values:
            problems.append(
                _problem(
                    f"{at}{part}",
                    f"{part} {own} is sent twice with different values",
                    f"the same {part} wherever it is sent",
                )
            )
        sent[part][own] = values
    return problems


def _item_problems(item: Any, claim_id: str, where: str, lines: set[int]) -> list[dict]:
    """A fee line's faults that a dataset would quarantine (its line numbers so far in
    ``lines``)."""
    problems = []
    if item.claim_id not in (None, claim_id):
        problems.append(
            _problem(
                f"{where}.claim_id",
                f"is {item.claim_id!r}, another claim's",
                f"{claim_id!r} (or left out)",
            )
        )
    if item.line_no in lines:
        problems.append(
            _problem(
                f"{where}.line_no",
                f"line {item.line_no} repeats an earlier line of the claim",
                "a line number unique within the claim",
            )
        )
    lines.add(item.line_no)
    if item.quantity < 0:
        problems.append(_problem(f"{where}.quantity", "is negative", "a number >= 0"))
    elif abs(item.amount - item.quantity * item.unit_price) > AMOUNT_SLACK:
        problems.append(
            _problem(
                f"{where}.amount",
                f"{item.amount} differs from quantity x unit_price "
                f"({item.quantity * item.unit_price:.2f})",
                "quantity x unit_price, within 0.01",
            )
        )
    return problems


def _answer_hit(rule: Rule, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule_id": rule.id,
        "name_zh": rule.name.zh,
        "name_en": rule.name.en,
        "result": rule.result,
        "severity": rule.severity,
        "stage": rule.stage,
        "line_no": None if row.get("line_no") is None else int(row["line_no"]),
        "amount": float(row.get("amount") or 0.0),
        "message_zh": row.get("message_zh") or "",
        "message_en": row.get("message_en") or "",
        "evidence": row.get("evidence") or "",
    }


def _render(template: str, fields: dict[str, Any], money: str) -> str:
    """A message as :func:`fraudml.rulebase.expr.render` writes one (``{money}`` is the
    dataset's currency)."""
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(money if name == "money" else _text(fields.get(name)))
    return "".join(out)


def _describe(rule: Rule) -> dict[str, Any]:
    return {
        "rule_id": rule.id,
        "family": rule.family,
        "name_zh": rule.name.zh,
        "name_en": rule.name.en,
        "category": rule.category,
        "result": rule.result,
        "severity": rule.severity,
        "stage": rule.stage,
        "scene": list(rule.scene),
        "window": rule.window,
        "basis_zh": rule.basis.zh,
        "basis_en": rule.basis.en,
    }


def _unlisted_rule(raw: dict[str, Any]) -> Rule | None:
    """The 目录外 rule of ``conf/serve.yaml``, checked like a rule file's (``None`` when
    it says ``enabled: false``)."""
    doc = {"family": "catalog", "name": {"zh": "目录限定", "en": "Catalog restrictions"}}
    try:
        rules = parse_family(
            {**doc, "rules": [dict(raw)]}, "conf/serve.yaml unlisted", ["unlisted"]
        )
    except RuleSpecError as exc:
        raise RuleBaseError(str(exc)) from None
    return rules[0] if rules else None
