"""The rule base as a service: checks over HTTP, history, parity with batch, 熔断, bad input."""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import fraudml
from fraudml.cli.main import main
from fraudml.contract import VISIT_TYPES
from fraudml.errors import SettingError
from fraudml.rulebase import HIT_COLUMNS
from fraudml.service import Service, ServiceSettings, create_app
from fraudml.service.audit import read_audit
from fraudml.service.engine import hit_visit_types
from fraudml.service.settings import DEFAULT_DECISION, DecisionPolicy, SuspensionSettings
from tests.slices import city_slice

MONTH = (datetime(2024, 11, 1), datetime(2024, 12, 1))
#: Known providers of the committed city: two hospitals (grade 3) in two regions, a pharmacy.
HOSPITAL, OTHER_HOSPITAL, PHARMACY = "H03301000", "H03301001", "H03301026"


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> Path:
    """Validations of the committed city kept for this module's services."""
    return tmp_path_factory.mktemp("kept")


@pytest.fixture(scope="module")
def start(city_root: Path, kept: Path, tmp_path_factory) -> Iterator[Callable[..., TestClient]]:
    """A test client of a service over the committed city, with settings of one's own."""
    opened: list[tuple[Any, Service]] = []
    folder = tmp_path_factory.mktemp("serve")

    def _start(**changes: Any) -> TestClient:
        settings = ServiceSettings(audit=folder / f"audit-{len(opened)}.jsonl", **changes)
        ds = fraudml.validate(city_root, cache=kept)
        service = Service.start(fraudml.load_rule_base(), ds, settings)
        opened.append((ds, service))
        return TestClient(create_app(service), raise_server_exceptions=False)

    yield _start
    for ds, service in opened:
        service.close()
        ds.close()


@pytest.fixture(scope="module")
def client(start) -> TestClient:
    """The service as shipped (熔断 off), every claim of the city its history."""
    return start()


def patient(pid: str, gender: str = "M", born: str = "1980-05-01") -> dict[str, Any]:
    return {
        "patient_id": pid,
        "gender": gender,
        "birth_date": born,
        "insurance_type": "employee",
        "region": "330102",
    }


def claim(
    cid: str,
    pid: str,
    provider: str = HOSPITAL,
    visit: str = "outpatient",
    admit: str = "2025-03-03 09:30:00",
    discharge: str | None = None,
) -> dict[str, Any]:
    return {
        "claim_id": cid,
        "patient_id": pid,
        "provider_id": provider,
        "doctor_id": None,
        "visit_type": visit,
        "department": "internal",
        "admit_time": admit,
        "discharge_time": discharge or admit,
        "diagnosis_code": "J06.9",
        "total_amount": 12.0,
        "fund_paid": 6.0,
        "account_paid": 3.0,
        "cash_paid": 3.0,
    }


def item(no: int, code: str, category: str, qty: float, price: float, **more: Any) -> dict:
    return {
        "line_no": no,
        "item_code": code,
        "item_category": category,
        "quantity": qty,
        "unit_price": price,
        "amount": round(qty * price, 2),
        **more,
    }


def visit(cid: str, pid: str, *, send_patient: bool = True, **where: Any) -> dict[str, Any]:
    """A clean outpatient visit: one consultation (CN001, at its cap of 12 yuan)."""
    body: dict[str, Any] = {
        "claim": claim(cid, pid, **where),
        "items": [item(1, "CN001", "consultation", 1, 12.0)],
    }
    if send_patient:
        body["patient"] = patient(pid)
    return body


def rule_ids(answer: dict[str, Any]) -> list[str]:
    return [h["rule_id"] for h in answer["hits"]]


# ------------------------------------------------------------------ single checks


def test_gender_restricted_item_billed_for_a_man_is_caught(client):
    body = visit("T-GENDER-1", "T-MAN-1")
    body["items"].append(item(2, "EX008", "exam", 1, 180.0))  # 妇科彩超: women only
    r = client.post("/v1/check", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    (hit,) = [h for h in answer["hits"] if h["rule_id"] == "CAT-GENDER"]
    assert hit["line_no"] == 2 and hit["amount"] == 180.0
    assert hit["result"] == "definite" and hit["severity"] == "high" and hit["stage"] == "in"
    assert "EX008" in hit["message_zh"] and "EX008" in hit["message_en"]
    assert hit["name_zh"] == "限性别项目"
    # 事中 (the default stage) rejects a definite high-severity violation; 事前 reminds
    assert answer["decision"] == "reject" and answer["reason"] is None
    body["claim"]["claim_id"] = "T-GENDER-2"
    assert client.post("/v1/check?stage=pre", json=body).json()["decision"] == "remind"


def test_clean_claim_passes_and_is_audited(client):
    r = client.post("/v1/check", json=visit("T-CLEAN-1", "T-CLEAN-P1"))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer == {
        "claim_id": "T-CLEAN-1",
        "decision": "pass",
        "reason": None,
        "stage": "in",
        "hits": [],
        "rule_base": answer["rule_base"],
    }
    audit = client.app.state.service.settings.audit
    record = [a for a in read_audit(audit) if a["claim"]["claim_id"] == "T-CLEAN-1"][-1]
    assert record["decision"] == "pass" and record["hits"] == []
    assert record["rule_base"] == answer["rule_base"] and record["stage"] == "in"
    assert datetime.fromisoformat(record["time"]).tzinfo is not None
    assert record["claim"]["patient_id"] == "T-CLEAN-P1"


def test_unknown_item_code_is_a_hit_not_a_crash(client):
    body = visit("T-UNLISTED-1", "T-UNLISTED-P1")
    body["items"].append(item(2, "ZZ-LOCAL-99", "treatment", 2, 15.0))
    r = client.post("/v1/check", json=body)
    assert r.status_code == 200, r.text
    (hit,) = r.json()["hits"]
    assert hit["rule_id"] == "CAT-UNLISTED" and hit["line_no"] == 2 and hit["amount"] == 30.0
    assert hit["message_zh"] == "项目 ZZ-LOCAL-99 不在医保目录内"
    assert r.json()["decision"] == "remind"  # suspicious, medium, at 事中


def test_patient_and_provider_are_looked_up_by_id(client, city_root):
    known = duckdb.connect().execute(
        f"SELECT patient_id FROM '{city_root}/patients.parquet' ORDER BY patient_id LIMIT 1"
    )
    pid = known.fetchall()[0][0]
    r = client.post("/v1/check", json=visit("T-LOOKUP-1", pid, send_patient=False))
    assert r.status_code == 200, r.text
    r = client.post("/v1/check", json=visit("T-LOOKUP-2", "T-NOBODY", send_patient=False))
    assert r.status_code == 422
    (problem,) = r.json()["problems"]
    assert problem["field"] == "claim.patient_id" and "T-NOBODY" in problem["problem"]
    body = visit("T-LOOKUP-3", "T-LOOKUP-P3", provider="H-NEW")
    r = client.post("/v1/check", json=body)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "claim.provider_id"
    body["provider"] = {"provider_id": "H-NEW", "provider_type": "clinic", "level": 1}
    assert client.post("/v1/check", json=body).status_code == 200


# ------------------------------------------------------------------ bad input


def test_missing_admit_time_is_422_naming_the_field(client):
    body = visit("T-BAD-1", "T-BAD-P1")
    del body["claim"]["admit_time"]
    r = client.post("/v1/check", json=body)
    assert r.status_code == 422
    (problem,) = r.json()["problems"]
    assert problem["field"] == "claim.admit_time"
    assert problem["expected"] == "timestamp YYYY-MM-DD HH:MM:SS, required"


@pytest.mark.parametrize(
    ("edit", "field", "expected"),
    [
        (lambda b: b["claim"].update(visit_type="drive-in"), "claim.visit_type", "one of"),
        (lambda b: b["claim"].update(claim_id=17), "claim.claim_id", "text"),
        (lambda b: b["patient"].update(gender="X"), "patient.gender", "one of M, F"),
        (
            lambda b: b["claim"].update(admit_time="2025-03-03T09:30:00+08:00"),
            "claim.admit_time",
            "timestamp",
        ),
        (lambda b: b["items"][0].update(amount=99.0), "items[0].amount", "quantity x unit_price"),
        (lambda b: b["items"][0].update(quantity=-1, amount=-12.0), "items[0].quantity", ">= 0"),
        (lambda b: b["items"].append(dict(b["items"][0])), "items[1].line_no", "unique"),
        (
            lambda b: b["claim"].update(discharge_time="2025-03-01 08:00:00"),
            "claim.discharge_time",
            "after admit_time",
        ),
        (lambda b: b["patient"].update(patient_id="T-OTHER"), "patient.patient_id", "claim's"),
    ],
)
def test_malformed_requests_name_the_field_and_the_expected_form(client, edit, field, expected):
    body = visit("T-BAD-2", "T-BAD-P2")
    edit(body)
    r = client.post("/v1/check", json=body)
    assert r.status_code == 422, r.text
    problems = {p["field"]: p for p in r.json()["problems"]}
    assert field in problems, problems
    assert expected in problems[field]["expected"]


def test_unreadable_body_is_422_and_no_traceback_reaches_a_client(client, monkeypatch):
    r = client.post("/v1/check", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "body"
    service = client.app.state.service

    def broken() -> None:
        raise RuntimeError("secret detail of the engine")

    monkeypatch.setattr(service.rules, "run", broken)
    r = client.post("/v1/check", json=visit("T-FAULT-1", "T-FAULT-P1"))
    assert r.status_code == 500
    assert set(r.json()) == {"error", "id"} and "secret" not in r.text
    assert "Traceback" not in r.text


def test_body_size_is_capped(start):
    small = start(max_body_bytes=2_000)
    body = visit("T-CAP-1", "T-CAP-P1")
    assert small.post("/v1/check", json=body).status_code == 200
    body["items"] = [item(i, "CN001", "consultation", 1, 12.0) for i in range(1, 40)]
    assert len(json.dumps(body)) > 2_000
    r = small.post("/v1/check", json=body)
    assert r.status_code == 413 and "max_body_bytes" in r.json()["error"]
    # a chunked upload, without Content-Length, is stopped once it passes the cap
    text = json.dumps(body).encode()
    chunks = (text[i : i + 500] for i in range(0, len(text), 500))
    r = small.post("/v1/check", content=chunks, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.request.headers.get("transfer-encoding") == "chunked"


def test_bearer_token_from_the_environment(start, monkeypatch):
    monkeypatch.setenv("FRAUDML_TEST_TOKEN", "s3cret-token")
    guarded = start(token_env="FRAUDML_TEST_TOKEN")
    assert guarded.get("/health").status_code == 200
    assert guarded.get("/docs").status_code == 200
    r = guarded.get("/v1/rules")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    wrong = {"Authorization": "Bearer nope"}
    assert (
        guarded.post("/v1/check", json=visit("T-TOK", "T-TOK-P"), headers=wrong).status_code == 401
    )
    right = {"Authorization": "Bearer s3cret-token"}
    assert guarded.get("/v1/rules", headers=right).status_code == 200
    r = guarded.post("/v1/check", json=visit("T-TOK", "T-TOK-P"), headers=right)
    assert r.status_code == 200 and r.json()["decision"] == "pass"


def test_rules_served_and_not_served_with_the_openapi_page(client):
    listed = client.get("/v1/rules").json()
    served = {r["rule_id"]: r for r in listed["rules"]}
    assert served["CAT-GENDER"]["stage"] == "in" and served["INP-OVERLAP"]["stage"] == "post"
    assert "CAT-UNLISTED" in served
    assert len(served) == 49
    why = listed["not_served"]
    assert {r for r, w in why.items() if w.startswith("provider-level")} == {
        "RAT-DRUG",
        "RAT-EXAM",
        "RAT-MATERIAL",
    }
    # one patient's claims cannot answer a comparison with the whole period's
    assert {r for r, w in why.items() if w.startswith("population")} == {
        "CAT-SIBLING",
        "DOC-DAILY",
        "MED-OVER-DRUG",
        "MED-OVER-EXAM",
        "PRV-BEDS",
        "PRV-HOLIDAY",
        "PRV-NIGHT",
    }
    assert {r for r, w in why.items() if w == "needs doctors"} == {
        "DOC-DEPT",
        "DOC-PROVIDER",
        "DOC-ROLE",
        "DOC-SUSPENDED",
    }
    assert len(why) == 14
    spec = client.get("/openapi.json").json()
    assert {"/health", "/v1/rules", "/v1/check", "/v1/check/batch"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


# ------------------------------------------------------------------ history


def test_history_rules_fire_on_the_second_of_two_claims(client):
    def check(body: dict[str, Any]) -> list[str]:
        r = client.post("/v1/check", json=body)
        assert r.status_code == 200, r.text
        return rule_ids(r.json())

    # a drug pack's trace code sold twice (回流药): the second sale, another patient's
    first = visit("T-TRACE-1", "T-TRACE-P1", provider=PHARMACY, visit="pharmacy")
    pack = item(1, "XD008", "western_drug", 1, 18.0, trace_code="81234567890123456789")
    first["items"] = [pack]
    assert "BIL-TRACE" not in check(first)
    second = visit("T-TRACE-2", "T-TRACE-P2", provider=PHARMACY, visit="pharmacy")
    second["claim"]["admit_time"] = second["claim"]["discharge_time"] = "2025-03-04 10:00:00"
    second["items"] = [pack]
    assert "BIL-TRACE" in check(second)

    # overlapping stays (the second claim's patient looked up by id: added by the first)
    stay = visit(
        "T-STAY-1",
        "T-STAY-P",
        visit="inpatient",
        admit="2025-03-01 08:00:00",
        discharge="2025-03-10 10:00:00",
    )
    stay["items"] = [item(1, "CN001", "consultation", 1, 12.0, item_time="2025-03-01 09:00:00")]
    assert "INP-OVERLAP" not in check(stay)
    other = visit(
        "T-STAY-2",
        "T-STAY-P",
        send_patient=False,
        provider=OTHER_HOSPITAL,
        visit="inpatient",
        admit="2025-03-05 08:00:00",
        discharge="2025-03-12 10:00:00",
    )
    other["items"] = [item(1, "CN001", "consultation", 1, 12.0, item_time="2025-03-05 09:00:00")]
    assert "INP-OVERLAP" in check(other)

    # one card in two regions within the hour (借卡)
    assert "FRQ-REGION" not in check(visit("T-CARD-1", "T-CARD-P", admit="2025-03-06 10:00:00"))
    there = visit("T-CARD-2", "T-CARD-P", provider=OTHER_HOSPITAL, admit="2025-03-06 10:30:00")
    assert "FRQ-REGION" in check(there)

    # frequency: the 13th pharmacy purchase within 30 days (threshold 12)
    fired = []
    for day in range(1, 14):
        buy = visit(f"T-FREQ-{day}", "T-FREQ-P", provider=PHARMACY, visit="pharmacy")
        buy["claim"]["admit_time"] = buy["claim"]["discharge_time"] = f"2025-04-{day:02d} 09:00:00"
        buy["items"] = [item(1, "XD008", "western_drug", 1, 18.0)]
        fired.append("FRQ-PHARMACY" in check(buy))
    assert fired == [False] * 12 + [True]


def test_reminders_do_not_join_the_history(client):
    stay = visit(
        "T-PRE-1",
        "T-PRE-P",
        visit="inpatient",
        admit="2025-05-01 08:00:00",
        discharge="2025-05-10 10:00:00",
    )
    assert client.post("/v1/check?stage=pre", json=stay).status_code == 200
    other = visit(
        "T-PRE-2",
        "T-PRE-P",
        visit="inpatient",
        admit="2025-05-05 08:00:00",
        discharge="2025-05-12 10:00:00",
    )
    assert "INP-OVERLAP" not in rule_ids(client.post("/v1/check", json=other).json())


# ------------------------------------------------------------------ parity with batch


def _month_requests(root: Path) -> list[dict[str, Any]]:
    """Every claim of the month with its fee lines, as a hospital system would send them
    (patients and providers by id only)."""
    con = duckdb.connect()
    start, end = (d.isoformat(sep=" ") for d in MONTH)
    claims = con.execute(
        f"SELECT * FROM '{root}/claims.parquet' WHERE admit_time >= '{start}' "
        f"AND admit_time < '{end}' ORDER BY admit_time, claim_id"
    )
    names = [d[0] for d in claims.description]
    rows = [dict(zip(names, r, strict=True)) for r in claims.fetchall()]
    items = con.execute(
        f"SELECT i.* FROM '{root}/claim_items.parquet' i JOIN '{root}/claims.parquet' c "
        f"USING (claim_id) WHERE c.admit_time >= '{start}' AND c.admit_time < '{end}'"
    )
    item_names = [d[0] for d in items.description]
    lines: dict[str, list[dict]] = {}
    for r in items.fetchall():
        line = dict(zip(item_names, r, strict=True))
        lines.setdefault(line["claim_id"], []).append(line)

    def plain(row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v.isoformat(sep=" ") if isinstance(v, datetime | date) else v for k, v in row.items()
        }

    return [
        {"claim": plain(c), "items": [plain(i) for i in lines.get(c["claim_id"], [])]} for c in rows
    ]


@pytest.fixture(scope="module")
def month_client(start) -> TestClient:
    """A service whose history is the committed city's claims before November."""
    return start(history_until=MONTH[0])


@pytest.fixture(scope="module")
def month_requests(city_root: Path) -> list[dict[str, Any]]:
    return _month_requests(city_root)


@pytest.mark.slow
def test_parity_with_the_batch_rule_run_for_a_month(month_client, month_requests, city_root, kept):
    """Every claim of November through /v1/check/batch, the service knowing the claims
    before it: the same hits, hit for hit, as the batch rule run whose window ends with
    November, on November's claims (the rules a claim can answer: all but the provider
    ratios)."""
    online_client, requests = month_client, month_requests
    r = online_client.post("/v1/check/batch?stage=post", json={"claims": requests})
    assert r.status_code == 200, r.text[:500]
    results = r.json()["results"]
    assert [a["claim_id"] for a in results] == [q["claim"]["claim_id"] for q in requests]
    fields = ("rule_id", "line_no", "amount", "message_zh", "message_en", "evidence")
    online = Counter((a["claim_id"], *(h[f] for f in fields)) for a in results for h in a["hits"])
    with fraudml.validate(city_root, cache=kept) as ds:
        run = fraudml.rules(ds, fraudml.Window(None, MONTH[1])).run
        listed = online_client.get("/v1/rules").json()["rules"]
        served = [r["rule_id"] for r in listed]
        hits = run.hits.filter(
            run.hits.rule_id.isin(served)
            & run.hits.claim_id.isin([q["claim"]["claim_id"] for q in requests])
        ).to_pandas()
    batch = Counter(
        (
            h.claim_id,
            h.rule_id,
            None if h.line_no != h.line_no else int(h.line_no),
            float(h.amount),
            h.message_zh,
            h.message_en,
            h.evidence,
        )
        for h in hits.itertuples()
    )
    assert online == batch
    assert sum(batch.values()) > 100
    assert len({key[1] for key in batch}) >= 10  # most rule families fired
    assert {"BIL-TRACE", "INP-DURING", "CAT-DAILY", "FRQ-REGION"} <= {key[1] for key in batch}


def _reference_rows(service: Service) -> list[tuple]:
    """The hits of every served rule over the work tables as they are, from the rules'
    own SQL as a batch run builds it (one union, nothing pruned, no rule left out)."""
    cursor = service.rules.cursor
    if not cursor.execute(
        "SELECT count(*) FROM duckdb_prepared_statements() WHERE name = 'test_reference'"
    ).fetchall()[0][0]:
        exprs = list(service.rules.exprs.values())
        union = ibis.union(*exprs, distinct=False) if len(exprs) > 1 else exprs[0]
        cursor.execute(f"PREPARE test_reference AS {ibis.to_sql(union, dialect='duckdb')}")
    return cursor.execute("EXECUTE test_reference").fetchall()


def test_each_visit_types_statement_gives_every_rules_hits_on_its_claims(
    month_client, month_requests
):
    """November in the work tables (a 事前 batch: nothing joins the history): for each
    visit type, the statement a single check of that type runs (the rules that can hit
    such a claim, their SQL pruned) gives, on the claims of that type, exactly the hits
    of every served rule's own SQL; the batch statement gives all of them; and no rule
    hits a claim of a visit type it is left out for (over the history too)."""
    r = month_client.post("/v1/check/batch?stage=pre", json={"claims": month_requests})
    assert r.status_code == 200, r.text[:500]
    service = month_client.app.state.service
    cursor = service.rules.cursor
    reference = _reference_rows(service)
    visit = dict(cursor.execute("SELECT claim_id, visit_type FROM w_claims").fetchall())
    checked = {q["claim"]["claim_id"] for q in month_requests}
    rules = {rule.id: rule for rule in service.rules.rules}
    for row in reference:  # row: HIT_COLUMNS, the rule first, the claim tenth
        assert visit[row[9]] in hit_visit_types(rules[row[0]]), row[:10]
    statements = service.rules.statements
    full = cursor.execute(f"EXECUTE {statements[None]}").fetchall()
    assert Counter(full) == Counter(reference)
    fired: set[str] = set()
    for visit_type in VISIT_TYPES:
        name = statements[visit_type]
        rows = cursor.execute(f"EXECUTE {name}").fetchall() if name else []
        mine = Counter(row for row in rows if row[9] in checked and visit[row[9]] == visit_type)
        want = Counter(
            row for row in reference if row[9] in checked and visit[row[9]] == visit_type
        )
        assert mine == want, visit_type
        fired |= {row[0] for row in want}
    assert sum(1 for row in reference if row[9] in checked) > 100
    assert len(fired) >= 10
    # the single checks' statements leave rules out: an outpatient visit cannot get an
    # inpatient rule's hit
    assert statements["outpatient"] != statements[None]


@pytest.mark.slow
def test_single_checks_give_the_hits_of_every_served_rule(month_client, month_requests):
    """Claims of November one at a time (事前: the history stays as it is), every stay
    and a sample of the rest: each check's hits are, row for row, those
    of every served rule's own SQL over the same work tables."""
    service = month_client.app.state.service
    fast_run = service.rules.run
    compared: list[int] = []
    current: set[str] = set()

    def checked_run(visit_types=None):
        hits = fast_run(visit_types)
        mine = Counter(
            tuple(h.row[c] for c in HIT_COLUMNS) for h in hits if h.row["claim_id"] in current
        )
        want = Counter(row for row in _reference_rows(service) if row[9] in current)
        assert mine == want, sorted(current)
        compared.append(sum(want.values()))
        return hits

    # stays (the visit type with the most rules) and a sample of the rest: the batch test
    # above compares every claim of the month, this one the single-check path
    chosen = [
        q
        for i, q in enumerate(month_requests)
        if q["claim"]["visit_type"] == "inpatient" or i % 300 == 0
    ]
    service.rules.run = checked_run
    try:
        for body in chosen:
            current = {body["claim"]["claim_id"]}
            r = month_client.post("/v1/check?stage=pre", json=body)
            assert r.status_code == 200, r.text
    finally:
        service.rules.run = fast_run
    assert len(compared) == len(chosen) > 40
    assert sum(compared) >= 10  # the sample has hits to compare, of stays above all


# ------------------------------------------------------------------ 熔断


def _breach(cid: str, provider: str, admit: str) -> dict[str, Any]:
    body = visit(cid, f"{cid}-P", provider=provider, admit=admit)
    body["items"].append(item(2, "EX008", "exam", 1, 180.0))  # a man's 妇科彩超: definite
    return body


def test_suspension_off_by_default_and_on_past_its_threshold(start, client):
    on = start(suspension=SuspensionSettings(enabled=True, threshold=2, window_days=30))
    for service in (on, client):
        for n, day in enumerate(("02", "03")):
            body = _breach(f"T-SUSP-{id(service)}-{n}", HOSPITAL, f"2025-06-{day} 09:00:00")
            assert service.post("/v1/check", json=body).json()["decision"] == "reject"
    clean = visit("T-SUSP-CLEAN-1", "T-SUSP-CLEAN-P", admit="2025-06-04 09:00:00")
    answer = on.post("/v1/check", json=clean).json()
    assert answer["decision"] == "reject" and answer["reason"] == "suspended"
    assert answer["hits"] == []
    # off by default: the same clean claim passes
    assert client.post("/v1/check", json=clean).json()["decision"] == "pass"
    # another provider is not suspended, nor this one once its breaches leave the window
    elsewhere = visit("T-SUSP-CLEAN-2", "T-SUSP-CLEAN-P", provider=OTHER_HOSPITAL)
    elsewhere["claim"]["admit_time"] = elsewhere["claim"]["discharge_time"] = "2025-06-04 11:00:00"
    assert on.post("/v1/check", json=elsewhere).json()["decision"] == "pass"
    later = visit("T-SUSP-CLEAN-3", "T-SUSP-CLEAN-P", admit="2025-07-10 09:00:00")
    assert on.post("/v1/check", json=later).json()["decision"] == "pass"
    record = read_audit(on.app.state.service.settings.audit)
    assert [a["reason"] for a in record if a["claim"]["claim_id"] == "T-SUSP-CLEAN-1"] == [
        "suspended"
    ]


def test_claims_of_a_suspended_or_terminated_practitioner_are_rejected(start, city_root, tmp_path):
    doctors = pd.read_parquet(city_root / "doctors.parquet")
    # doctors of the visit's hospital and department, so that no other rule has a say
    mine = doctors[
        (doctors.provider_id == HOSPITAL)
        & (doctors.role == "doctor")
        & (doctors.department == "internal")
    ]
    suspended, ended, clean = mine.doctor_id.astype(str).tolist()[:3]
    day = pd.Timestamp
    status = pd.DataFrame(
        {
            "doctor_id": [suspended, ended, clean],
            "status": ["suspended", "terminated", "watch"],
            "suspended_from": [day("2025-06-01"), pd.NaT, pd.NaT],
            "suspended_to": [day("2025-06-30"), pd.NaT, pd.NaT],
            "terminated_at": [pd.NaT, day("2025-05-10"), pd.NaT],
            "reregister_from": [pd.NaT, day("2026-05-10"), pd.NaT],
        }
    )
    status.to_parquet(tmp_path / "status.parquet")
    service = start(eligibility=tmp_path)

    def answer(cid: str, doctor: str, admit: str) -> dict[str, Any]:
        body = visit(cid, f"{cid}-P", admit=admit)
        body["claim"]["doctor_id"] = doctor
        return service.post("/v1/check", json=body).json()

    got = answer("T-ELIG-1", suspended, "2025-06-30 16:00:00")  # the last day is included
    assert (got["decision"], got["reason"]) == ("reject", "practitioner_suspended")
    assert answer("T-ELIG-2", suspended, "2025-07-01 08:00:00")["decision"] == "pass"
    got = answer("T-ELIG-3", ended, "2025-06-15 10:00:00")
    assert (got["decision"], got["reason"]) == ("reject", "practitioner_terminated")
    assert answer("T-ELIG-4", ended, "2025-05-09 10:00:00")["decision"] == "pass"
    assert answer("T-ELIG-5", clean, "2025-06-15 10:00:00")["decision"] == "pass"  # watch


def test_an_eligibility_folder_without_a_status_table_stops_at_start(start, tmp_path):
    with pytest.raises(SettingError, match=r"no status\.parquet there"):
        start(eligibility=tmp_path)


# ------------------------------------------------------------------ settings and start-up


def test_decisions_follow_result_severity_and_stage():
    policy = DecisionPolicy.from_mapping(DEFAULT_DECISION)
    assert policy.of_hit("in", "in", "definite", "high") == "reject"
    assert policy.of_hit("pre", "in", "definite", "high") == "remind"
    # a rule meant for batch review (事后) only reminds at settlement
    assert policy.of_hit("in", "post", "definite", "high") == "remind"
    assert policy.of_hit("post", "post", "definite", "high") == "reject"
    bad = json.loads(json.dumps(DEFAULT_DECISION))
    bad["in"]["definite"]["high"] = "deny"
    with pytest.raises(SettingError, match=r"decision\.in\.definite\.high='deny'"):
        DecisionPolicy.from_mapping(bad)
    with pytest.raises(SettingError, match="port=70000 is out of range"):
        ServiceSettings.from_mapping({"host": "127.0.0.1", "port": 70000})


def test_without_data_patients_and_providers_come_with_the_request():
    service = Service.start(fraudml.load_rule_base(), None, ServiceSettings())
    try:
        client = TestClient(create_app(service))
        listed = client.get("/v1/rules").json()
        assert listed["not_served"]["CAT-GENDER"] == "needs catalog"
        body = visit("T-BARE-1", "T-BARE-P")
        body["provider"] = {"provider_id": HOSPITAL, "provider_type": "hospital", "level": 3}
        r = client.post("/v1/check", json=body)
        assert r.status_code == 200 and r.json()["decision"] == "pass"
        again = visit("T-BARE-2", "T-BARE-P", send_patient=False)
        again["claim"]["admit_time"] = again["claim"]["discharge_time"] = "2025-03-03 09:40:00"
        assert client.post("/v1/check", json=again).status_code == 200  # both known now
    finally:
        service.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_stops_with_exit_2_on_bad_data_or_port(tmp_path, capsys):
    assert main(["serve", f"data.path={tmp_path / 'nowhere'}", f"port={_free_port()}"]) == 2
    assert "dataset directory not found" in capsys.readouterr().err
    assert main(["serve", "port=70000"]) == 2
    assert main(["serve", "port=eighty"]) == 2
    assert "port='eighty' is not a whole number" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", f"port={port}"]) == 2
    assert f"port={port} on 127.0.0.1 cannot be used" in capsys.readouterr().err


@pytest.mark.slow
def test_fraudml_serve_answers_over_http_until_stopped(tmp_path):
    """The command as deployed: uvicorn on loopback, a check, a clean stop on SIGINT.
    The history is a slice of the city (its first 500 patients): the subject is the
    process, and its start-up grows with the history it validates and loads."""
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    city = city_slice(tmp_path / "city", n_patients=500)
    port = _free_port()
    audit = tmp_path / "audit.jsonl"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fraudml.cli.main",
            "serve",
            f"data.path={city}",
            f"port={port}",
            f"audit={audit}",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    health = json.load(r)
                break
            except OSError:
                assert time.monotonic() < deadline, "fraudml serve did not start"
                time.sleep(0.5)
        assert health["history"]["claims"] == pq.read_metadata(city / "claims.parquet").num_rows
        request = urllib.request.Request(
            f"{url}/v1/check",
            data=json.dumps(visit("T-HTTP-1", "T-HTTP-P")).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            assert json.load(r)["decision"] == "pass"
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert f"serving 49 rules on http://127.0.0.1:{port}" in err
    assert [a["decision"] for a in read_audit(audit)] == ["pass"]


def test_a_second_start_over_the_same_rules_and_tables_reuses_their_sql(monkeypatch):
    """The rules' SQL is compiled once per rule base and tables: a second service gets the
    same prepared statements without compiling them, and a changed parameter compiles anew."""
    from dataclasses import replace

    from fraudml.service import engine as online

    monkeypatch.setattr(online, "_COMPILED", {})
    base = [r for r in fraudml.load_rule_base() if r.id in ("BIL-DUP-DAY", "BIL-DUP-CLAIM")]
    assert len(base) == 2
    compiled: list[str] = []
    real = online.pruned_sql

    def counted(sql: str, schema: dict) -> str:
        compiled.append(sql)
        return real(sql, schema)

    monkeypatch.setattr(online, "pruned_sql", counted)

    def prepared(rules) -> tuple[list[str], list[tuple]]:
        service = Service.start(rules, None, ServiceSettings())
        try:
            served = [r.id for r in service.rules.rules]
            rows = service.rules.cursor.execute(
                "SELECT name, statement FROM duckdb_prepared_statements() ORDER BY name"
            ).fetchall()
            return served, rows
        finally:
            service.close()

    first = prepared(base)
    assert first[0] == ["BIL-DUP-DAY", "BIL-DUP-CLAIM"] and len(first[1]) > 2
    assert len(compiled) == 2 and len(online._COMPILED) == 1
    assert prepared(base) == first  # the same statements, none compiled again
    assert len(compiled) == 2
    day = replace(base[0], params={**base[0].params, "categories": ["exam"]})
    prepared([day, base[1]])
    assert len(compiled) == 4 and len(online._COMPILED) == 2
