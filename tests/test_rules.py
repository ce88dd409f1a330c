"""The rule base: each shipped rule fires on its positive case and not on the near miss
beside it (exact hits and amounts), a rule added by YAML alone fires, bad rules are
refused with a message naming what is wrong, and the outputs have their shape."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from fraudml import load_dataset
from fraudml.errors import RuleBaseError
from fraudml.features import Window
from fraudml.rulebase import (
    CHECKS,
    RuleExpressionError,
    RuleSpecError,
    apply_rules,
    load_rules,
    rule_aggregates,
    to_national,
)
from fraudml.rulebase.docs import render as render_docs
from tests.builders import catalog_item, claim, line

RULES_DIR = Path(__file__).resolve().parents[1] / "conf" / "rules"
RULES = {r.id: r for r in load_rules([RULES_DIR], CHECKS)}


def run_rules(root: Path, rules, window: Window | None = None) -> pd.DataFrame:
    ds = load_dataset(root, memory_limit="1GB", threads=1)
    try:
        hits = apply_rules(ds, window or Window(), rules).hits.to_pandas()
    finally:
        ds.close()
    return hits


def hit_keys(hits: pd.DataFrame) -> dict[tuple, float]:
    """(entity_id, line_no or None) → amount."""
    out = {}
    for row in hits.itertuples():
        line_no = None if pd.isna(row.line_no) else int(row.line_no)
        out[(row.entity_id, line_no)] = round(float(row.amount), 2)
    return out


@dataclass
class Case:
    edit: Callable[[dict], None]
    #: (entity id, line number or None) → violation amount
    expect: dict[tuple, float]


# ------------------------------------------------------------------ the cases
# Base data (tests/conftest.py): 001 is a man born 1950, 002 a woman born 1988; H1 a
# grade-3 hospital in region 110101, D1 a pharmacy in 110102. C1: 001 at H1, outpatient
# 2024-03-01 09:30 with XA01 (2 × 30.25, trace code …01) and LB01 (1 × 60); C2: 002 at
# D1, pharmacy 2024-03-02 15:00 with XA01 (1.5 × 30).


def _catalog(**xa01):
    def edit(t):
        t["catalog"] = [catalog_item("XA01", "western_drug", **xa01), catalog_item("LB01", "lab")]

    return edit


def _chain(*edits):
    def edit(t):
        for e in edits:
            e(t)

    return edit


def _add(claims=(), lines=(), providers=()):
    def edit(t):
        t["claims"] += list(claims)
        t["claim_items"] += list(lines)
        t["providers"] += list(providers)

    return edit


def _provider(pid, level="3", region="110101", kind="hospital"):
    return {
        "provider_id": pid,
        "provider_type": kind,
        "level": level,
        "region": region,
        "beds": "",
        "name": pid,
    }


def _visits(pid, patient, visit, n, start_day=1, fund="10", account="5"):
    """``n`` claims a day apart from 2024-04-<start_day>."""
    return [
        claim(
            f"{pid}{i}",
            patient,
            "D1" if visit == "pharmacy" else "H1",
            visit,
            f"2024-04-{start_day + i:02d} 10:00:00",
            fund=fund,
            account=account,
        )
        for i in range(n)
    ]


def _registration(t):
    t["chronic_registrations"] = [
        {
            "patient_id": "002",
            "disease_code": "E11",
            "valid_from": "2024-01-01",
            "valid_to": "",
        }
    ]


def _ratio_case(categories: tuple[str, str]):
    """Six grade-3 hospitals, fees 20,000 each; the share of ``categories[0]`` is about
    0.3 at five and 0.9 at H6: H6 lies far above its peers, H5 (0.33) is the near miss."""
    shares = {"H1": 0.30, "H2": 0.32, "H3": 0.31, "H4": 0.29, "H5": 0.33, "H6": 0.90}
    part, rest = categories

    def edit(t):
        t["providers"] += [_provider(p) for p in shares if p != "H1"]
        for p, share in shares.items():
            t["claims"].append(claim(f"R{p}", "002", p, "outpatient", "2024-05-01 10:00:00"))
            t["claim_items"] += [
                line(f"R{p}", 1, f"{part[:2].upper()}9", part, 1, round(20000 * share, 2)),
                line(f"R{p}", 2, f"{rest[:2].upper()}9", rest, 1, round(20000 * (1 - share), 2)),
            ]
        # C1's fees at H1 would change its share: leave H1 with only the ratio claim
        t["claims"] = [c for c in t["claims"] if c["claim_id"] != "C1"]
        t["claim_items"] = [i for i in t["claim_items"] if i["claim_id"] != "C1"]

    # H6: its fees beyond the peer median share, (0.31 + 0.32) / 2 of the six
    return Case(edit, {("H6", None): round((0.90 - 0.315) * 20000, 2)})


CASES: dict[str, Case] = {
    # C1's XA01 is billed for a man; C2's for a woman (near miss)
    "CAT-GENDER": Case(_catalog(gender="F"), {("C1", 1): 60.5}),
    # 001 is 74; 002 (35) is within the limit
    "CAT-AGE": Case(_catalog(max_age=70), {("C1", 1): 60.5}),
    # outpatient and pharmacy lines hit; the same item for an inpatient (C3) does not
    "CAT-INPATIENT": Case(
        _chain(
            _catalog(inpatient_only="true"),
            _add(
                [
                    claim(
                        "C3", "002", "H1", "inpatient", "2024-03-05 10:00:00", "2024-03-08 10:00:00"
                    )
                ],
                [line("C3", 1, "XA01", "western_drug", 1, 30)],
            ),
        ),
        {("C1", 1): 60.5, ("C2", 1): 45.0},
    ),
    # LB01 needs grade 3: at H2 (grade 2) it hits; at H1 (grade 3, C1) it does not
    "CAT-LEVEL": Case(
        _chain(
            lambda t: t.update(
                catalog=[
                    catalog_item("XA01", "western_drug"),
                    catalog_item("LB01", "lab", min_provider_level=3),
                ]
            ),
            _add(
                [claim("C3", "001", "H2", "outpatient", "2024-03-04 10:00:00")],
                [line("C3", 1, "LB01", "lab", 1, 60)],
                [_provider("H2", level="2")],
            ),
        ),
        {("C3", 1): 60.0},
    ),
    # C1 pays 30.25 against a cap of 30 (2 units: 0.50 over); C2 pays exactly 30
    "CAT-PRICE": Case(_catalog(price_cap=30), {("C1", 1): 0.5}),
    # 002 on 03-02: 1.5 (C2) + 2 (C3) = 3.5 > 3, each line carries its share of the
    # excess 0.5; on 03-03 exactly 3 (C4) is within the limit
    "CAT-DAILY": Case(
        _chain(
            _catalog(max_daily_quantity=3),
            _add(
                [
                    claim("C3", "002", "H1", "outpatient", "2024-03-02 18:00:00"),
                    claim("C4", "002", "D1", "pharmacy", "2024-03-03 10:00:00"),
                ],
                [
                    line("C3", 1, "XA01", "western_drug", 2, 30),
                    line("C4", 1, "XA01", "western_drug", 3, 30),
                ],
            ),
        ),
        {("C2", 1): round(45 * 0.5 / 3.5, 2), ("C3", 1): round(60 * 0.5 / 3.5, 2)},
    ),
    # LB01 again the same day for 001 (C3) is a duplicate; on the next day (C4) it is
    # not, nor is a second drug line the same day (drugs are not in the rule's categories)
    "BIL-DUP-DAY": Case(
        _add(
            [
                claim("C3", "001", "H1", "outpatient", "2024-03-01 15:00:00"),
                claim("C4", "001", "H1", "outpatient", "2024-03-02 15:00:00"),
            ],
            [
                line("C3", 1, "LB01", "lab", 1, 60),
                line("C3", 2, "XA01", "western_drug", 1, 30),
                line("C4", 1, "LB01", "lab", 1, 60),
            ],
        ),
        {("C3", 1): 60.0},
    ),
    # C3 sells C1's pack again; C4 sells a pack of its own
    "BIL-TRACE": Case(
        _add(
            [
                claim("C3", "002", "D1", "pharmacy", "2024-03-05 10:00:00"),
                claim("C4", "002", "D1", "pharmacy", "2024-03-06 10:00:00"),
            ],
            [
                line("C3", 1, "XA01", "western_drug", 1, 30, trace="81000000000000000001"),
                line("C4", 1, "XA01", "western_drug", 1, 30, trace="81000000000000000002"),
            ],
        ),
        {("C3", 1): 30.0},
    ),
    # C4 comes 10 days after C3's discharge, same provider, same ICD-10 category (I63);
    # C5 comes 16 days after C4's discharge
    "INP-SPLIT": Case(
        _add(
            [
                claim(
                    "C3",
                    "001",
                    "H1",
                    "inpatient",
                    "2024-03-05 10:00:00",
                    "2024-03-10 10:00:00",
                    fund="3000",
                    diagnosis="I63.9",
                ),
                claim(
                    "C4",
                    "001",
                    "H1",
                    "inpatient",
                    "2024-03-20 10:00:00",
                    "2024-03-25 10:00:00",
                    fund="2500",
                    diagnosis="I63.1",
                ),
                claim(
                    "C5",
                    "001",
                    "H1",
                    "inpatient",
                    "2024-04-10 10:00:00",
                    "2024-04-12 10:00:00",
                    fund="2000",
                    diagnosis="I63.9",
                ),
            ]
        ),
        {("C4", None): 2500.0},
    ),
    # C4 (at H2) starts inside C3; C5 starts the moment C4 ends
    "INP-OVERLAP": Case(
        _add(
            [
                claim(
                    "C3",
                    "001",
                    "H1",
                    "inpatient",
                    "2024-03-05 10:00:00",
                    "2024-03-10 10:00:00",
                    fund="3000",
                ),
                claim(
                    "C4",
                    "001",
                    "H2",
                    "inpatient",
                    "2024-03-08 10:00:00",
                    "2024-03-12 10:00:00",
                    fund="1800",
                ),
                claim(
                    "C5",
                    "001",
                    "H1",
                    "inpatient",
                    "2024-03-12 10:00:00",
                    "2024-03-14 10:00:00",
                    fund="900",
                ),
            ],
            providers=[_provider("H2")],
        ),
        {("C4", None): 1800.0},
    ),
    # a pharmacy purchase during C3's stay; an outpatient visit an hour after discharge
    "INP-DURING": Case(
        _add(
            [
                claim("C3", "001", "H1", "inpatient", "2024-03-05 10:00:00", "2024-03-10 10:00:00"),
                claim("C4", "001", "D1", "pharmacy", "2024-03-07 16:00:00", fund="40"),
                claim("C5", "001", "H1", "outpatient", "2024-03-10 11:00:00"),
            ]
        ),
        {("C4", None): 40.0},
    ),
    # a lab dated the day after discharge; another on the discharge day
    "INP-FEE-OUTSIDE": Case(
        _add(
            [claim("C3", "001", "H1", "inpatient", "2024-03-05 10:00:00", "2024-03-10 10:00:00")],
            [
                line("C3", 1, "LB01", "lab", 1, 60, when="2024-03-11 09:00:00"),
                line("C3", 2, "LB01", "lab", 1, 60, when="2024-03-10 08:00:00"),
            ],
        ),
        {("C3", 1): 60.0},
    ),
    # C1 at H1 (110101) 09:30, C3 at D1 (110102) 10:10: 40 minutes; C4 back at H1 70
    # minutes after C3
    "FRQ-REGION": Case(
        _add(
            [
                claim("C3", "001", "D1", "pharmacy", "2024-03-01 10:10:00", fund="12"),
                claim("C4", "001", "H1", "outpatient", "2024-03-01 11:20:00"),
            ]
        ),
        {("C3", None): 12.0},
    ),
    # 002: 21 outpatient visits in 21 days (the 21st is over 20); 001: 20
    "FRQ-OUTPATIENT": Case(
        _add(_visits("V", "002", "outpatient", 21) + _visits("W", "001", "outpatient", 20)),
        {("V20", None): 10.0},
    ),
    # 002: 13 purchases in 13 days, amount fund + account; 001: 12
    "FRQ-PHARMACY": Case(
        _add(_visits("V", "002", "pharmacy", 13) + _visits("W", "001", "pharmacy", 12)),
        {("V12", None): 15.0},
    ),
    # 002: four admissions within 90 days; 001: three
    "FRQ-ADMISSION": Case(
        _add(
            [
                claim(
                    f"V{i}",
                    "002",
                    "H1",
                    "inpatient",
                    f"2024-0{4 + i // 2}-{1 + 14 * (i % 2):02d} 10:00:00",
                    f"2024-0{4 + i // 2}-{3 + 14 * (i % 2):02d} 10:00:00",
                    fund=str(100 * (i + 1)),
                )
                for i in range(4)
            ]
            + [
                claim(
                    f"W{i}",
                    "001",
                    "H1",
                    "inpatient",
                    f"2024-0{4 + i}-01 10:00:00",
                    f"2024-0{4 + i}-03 10:00:00",
                )
                for i in range(3)
            ]
        ),
        {("V3", None): 400.0},
    ),
    # 001's chronic claim has no registration; 002's is registered (E11, from January)
    "CHR-UNREG": Case(
        _chain(
            _registration,
            _add(
                [
                    claim(
                        "C3",
                        "001",
                        "H1",
                        "outpatient_chronic",
                        "2024-03-05 10:00:00",
                        diagnosis="I10",
                        fund="70",
                    ),
                    claim(
                        "C4",
                        "002",
                        "H1",
                        "outpatient_chronic",
                        "2024-03-05 10:00:00",
                        diagnosis="E11.9",
                    ),
                ]
            ),
        ),
        {("C3", None): 70.0},
    ),
    # two sessions on 03-05 (the second is impossible); one on 03-06
    "DIA-DAILY": Case(
        _add(
            [
                claim("C3", "001", "H1", "outpatient", "2024-03-05 08:00:00"),
                claim("C4", "001", "H1", "outpatient", "2024-03-05 14:00:00"),
                claim("C5", "001", "H1", "outpatient", "2024-03-06 08:00:00"),
            ],
            [
                line("C3", 1, "TR003", "treatment", 1, 420),
                line("C4", 1, "TR003", "treatment", 1, 420),
                line("C5", 1, "TR003", "treatment", 1, 420),
            ],
        ),
        {("C4", 1): 420.0},
    ),
    # 002: five sessions in five days (the fifth is over 4 in 7 days); 001: four
    "DIA-WEEK": Case(
        _add(
            [
                claim(f"V{i}", "002", "H1", "outpatient", f"2024-04-{1 + i:02d} 08:00:00")
                for i in range(5)
            ]
            + [
                claim(f"W{i}", "001", "H1", "outpatient", f"2024-04-{1 + i:02d} 08:00:00")
                for i in range(4)
            ],
            [line(f"V{i}", 1, "TR003", "treatment", 1, 420) for i in range(5)]
            + [line(f"W{i}", 1, "TR003", "treatment", 1, 420) for i in range(4)],
        ),
        {("V4", 1): 420.0},
    ),
    "RAT-DRUG": _ratio_case(("western_drug", "lab")),
    "RAT-EXAM": _ratio_case(("exam", "western_drug")),
    "RAT-MATERIAL": _ratio_case(("material", "western_drug")),
}


def test_every_shipped_rule_has_a_case():
    # the classic rules' cases are here, the national smart-monitoring rules' beside them
    from tests.test_rules_national import CASES as NATIONAL

    assert set(CASES) | set(NATIONAL) == set(RULES)
    assert len(RULES) >= 60


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_its_case_and_not_on_the_near_miss(make_dataset, rule_id):
    case = CASES[rule_id]
    hits = run_rules(make_dataset(case.edit), [RULES[rule_id]])
    assert hit_keys(hits) == case.expect
    assert (hits.rule_id == rule_id).all()
    assert hits.message_zh.str.len().gt(0).all() and hits.message_en.str.len().gt(0).all()


def test_a_rule_added_by_yaml_alone_fires(make_dataset, tmp_path):
    (tmp_path / "local.yaml").write_text(
        """
family: local
name: {zh: 本地规则, en: Local rules}
rules:
  - id: LOC-1
    name: {zh: 西药单次超量, en: Large single drug quantity}
    category: medical
    result: suspicious
    scene: [outpatient, pharmacy]
    stage: in
    severity: low
    check: line
    where: "item_category == 'western_drug' and quantity >= limit"
    amount: "(quantity - limit) * unit_price"
    params: {limit: 1.8}
    message: {zh: "数量 {quantity}", en: "quantity {quantity} over {limit}"}
    evidence: [item_code, quantity]
  - id: LOC-2
    name: {zh: 个人账户全额支付, en: Paid entirely from the personal account}
    category: management
    result: suspicious
    scene: [pharmacy]
    stage: post
    severity: low
    check: claim
    where: "account_paid == total_amount and total_amount > 40"
""",
        encoding="utf-8",
    )
    rules = load_rules([tmp_path / "local.yaml"], CHECKS)
    hits = run_rules(make_dataset(), rules)
    by_rule = {rid: hit_keys(h) for rid, h in hits.groupby("rule_id")}
    # C1: 2 units of XA01 at 30.25, 0.2 over the limit; C2's 1.5 is under it
    assert by_rule["LOC-1"] == {("C1", 1): round(0.2 * 30.25, 2)}
    assert hits[hits.rule_id == "LOC-1"].message_en.iloc[0] == "quantity 2.0 over 1.8"
    assert hits[hits.rule_id == "LOC-1"].evidence.iloc[0] == "item_code=XA01; quantity=2.0"
    # C2: 45 paid from the account; the fund's share (0) is the default amount
    assert by_rule["LOC-2"] == {("C2", None): 0.0}


def test_trace_repeat_after_the_window_changes_nothing(make_dataset):
    def edit(t):
        t["claims"].append(claim("C3", "002", "D1", "pharmacy", "2024-06-05 10:00:00"))
        t["claim_items"].append(
            line("C3", 1, "XA01", "western_drug", 1, 30, trace="81000000000000000001")
        )

    root = make_dataset(edit)
    rule = [RULES["BIL-TRACE"]]
    assert run_rules(root, rule, Window(end=datetime(2024, 6, 1))).empty
    assert hit_keys(run_rules(root, rule)) == {("C3", 1): 30.0}


def test_windows_run_one_after_another_on_one_connection_get_their_own_hits(make_dataset):
    """Training runs the rules over three windows on one connection, reusing each rule's
    compiled SQL: every window's hits are its own, as a fresh connection gives them."""

    def edit(t):
        t["claims"].append(claim("C3", "002", "D1", "pharmacy", "2024-06-05 10:00:00"))
        t["claim_items"].append(
            line("C3", 1, "XA01", "western_drug", 1, 30, trace="81000000000000000001")
        )

    root = make_dataset(edit)
    # two rules reading fee lines: the run shares the window's lines between them
    rules = [RULES["BIL-TRACE"], RULES["BIL-DUP-DAY"]]
    ds = load_dataset(root, memory_limit="1GB", threads=1)
    try:
        before, whole = (
            apply_rules(ds, w, rules).hits.to_pandas()
            for w in (Window(end=datetime(2024, 6, 1)), Window())
        )
    finally:
        ds.close()
    assert before.empty
    assert hit_keys(whole) == {("C3", 1): 30.0}
    pd.testing.assert_frame_equal(whole, run_rules(root, rules))


def test_rules_needing_a_missing_table_are_skipped_and_listed(make_dataset):
    root = make_dataset()
    ds = load_dataset(root, memory_limit="1GB", threads=1)
    try:
        run = apply_rules(ds, Window(), [RULES["CHR-UNREG"], RULES["FRQ-REGION"]])
        assert run.skipped == {"CHR-UNREG": "needs chronic_registrations"}
        assert [r.id for r in run.rules] == ["FRQ-REGION"]
    finally:
        ds.close()


def test_a_rule_statement_that_fails_names_its_rule(make_dataset, monkeypatch):
    import duckdb

    ds = load_dataset(make_dataset(), memory_limit="1GB", threads=1)
    raw_sql = type(ds.con).raw_sql
    ran: list[str] = []

    def second_insert_fails(self, query, **kwargs):
        if isinstance(query, str) and query.startswith('INSERT INTO "rule_hits"'):
            ran.append(query)
            if len(ran) == 2:  # what DuckDB raises when an operator cannot spill
                raise duckdb.OutOfMemoryException("failed to pin block of size 256.0 KiB")
        return raw_sql(self, query, **kwargs)

    monkeypatch.setattr(type(ds.con), "raw_sql", second_insert_fails)
    try:
        with pytest.raises(duckdb.OutOfMemoryException) as failed:
            apply_rules(ds, Window(), [RULES["BIL-DUP-DAY"], RULES["FRQ-REGION"]])
        assert failed.value.__notes__ == ["while running rule FRQ-REGION (region_switch)"]
    finally:
        ds.close()


def test_catalog_rules_are_skipped_and_listed_without_a_catalog(make_dataset):
    catalog_rules = [r for r in RULES.values() if r.family == "catalog"]
    assert len(catalog_rules) >= 6
    # the national columns (indications, sibling groups …) this catalog leaves empty
    national = {
        "CAT-INDICATION": "needs catalog.indications",
        "CAT-CHILD": "needs catalog.age_group",
        "CAT-ADULT": "needs catalog.age_group",
        "CAT-COURSE": "needs catalog.max_course_days",
        "CAT-SIBLING": "needs catalog.sibling_group",
    }
    for root, expect_skipped in ((make_dataset(), True), (make_dataset(_catalog()), False)):
        ds = load_dataset(root, memory_limit="1GB", threads=1)
        try:
            run = apply_rules(ds, Window(), [*catalog_rules, RULES["BIL-DUP-DAY"]])
        finally:
            ds.close()
        if expect_skipped:
            assert run.skipped == {r.id: "needs catalog" for r in catalog_rules}
            assert [r.id for r in run.rules] == ["BIL-DUP-DAY"]
        else:
            assert run.skipped == national


def test_national_shape_and_entity_aggregates(make_dataset):
    root = make_dataset(_catalog(gender="F", price_cap=30))
    ds = load_dataset(root, memory_limit="1GB", threads=1)
    try:
        rules = [RULES["CAT-GENDER"], RULES["CAT-PRICE"]]
        run = apply_rules(ds, Window(), rules)
        national = to_national(run.hits, run.rules).to_pandas()
        hits = run.hits.to_pandas()
        patient = rule_aggregates(run.hits, run.rules, "patient").to_pandas()
        provider = rule_aggregates(run.hits, run.rules, "provider").to_pandas()
    finally:
        ds.close()
    assert list(national.columns[:10]) == [
        "jr_id",
        "rule_id",
        "rule_name",
        "vola_cont",
        "patn_id",
        "mdtrt_id",
        "det_item_no",
        "vola_amt",
        "sev_deg",
        "vola_evid",
    ]
    row = national.set_index("rule_id").loc["CAT-GENDER"]
    assert (row.rule_name, row.patn_id, row.mdtrt_id, row.det_item_no) == (
        "限性别项目",
        "001",
        "C1",
        1,
    )
    assert row.sev_deg == "严重" and "限性别" in row.vola_evid
    assert row.vola_cont == "项目 XA01 限女性使用，参保人性别男"
    assert national.jr_id.is_unique
    # the id is the MD5 of rule|entity|line, so both engines and every run give the same one
    hit = hits.set_index("rule_id").loc["CAT-GENDER"]
    key = f"CAT-GENDER|{hit.entity_id}|1"
    assert row.jr_id == hashlib.md5(key.encode()).hexdigest()
    # 001: one gender hit (60.50) and one price hit (0.50), both in the catalog family
    p = patient.set_index("patient_id").loc["001"]
    assert (p.rule_catalog_hits, p.rule_catalog_amount, p.rule_definite_hits) == (2, 61.0, 2)
    assert list(provider.provider_id) == ["H1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quantity > 1 and __import__('os')", "unknown function"),
        ("quantity.__class__", "unsupported construct Attribute"),
        ("no_such_column > 1", "unknown name 'no_such_column'"),
        ("quantity >", "cannot parse"),
        ("item_code in 'XA01'", "'in' needs a list"),
    ],
)
def test_unsafe_or_wrong_expressions_are_refused(make_dataset, tmp_path, text, message):
    rule_file = tmp_path / "bad.yaml"
    rule_file.write_text(
        f"""
family: bad
rules:
  - id: BAD-1
    name: bad
    category: policy
    result: definite
    scene: [outpatient]
    stage: in
    severity: low
    check: line
    where: "{text}"
""",
        encoding="utf-8",
    )
    rules = load_rules([rule_file], CHECKS)
    with pytest.raises(RuleExpressionError, match=message) as err:
        run_rules(make_dataset(), rules)
    assert str(err.value).startswith(f"rule BAD-1 ({rule_file})")
    assert isinstance(err.value, RuleBaseError)  # commands report it and exit 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - {id: X, name: x}", "rule X: missing category, result, scene, stage, severity"),
        (
            "  - {id: X, name: x, category: policy, result: maybe, scene: [outpatient], "
            "stage: in, severity: low, check: line}",
            "result is 'maybe'; expected one of definite, suspicious",
        ),
        (
            "  - {id: X, name: x, category: policy, result: definite, scene: [outpatient], "
            "stage: in, severity: low, check: teleport}",
            "check is 'teleport'",
        ),
        (
            "  - {id: X, name: x, category: policy, result: definite, scene: [outpatient], "
            "stage: in, severity: low, check: line, wher: 'x'}",
            "unknown field",
        ),
    ],
)
def test_malformed_rule_files_are_refused_naming_file_and_rule(tmp_path, body, message):
    f = tmp_path / "broken.yaml"
    f.write_text(f"family: t\nrules:\n{body}\n", encoding="utf-8")
    with pytest.raises(RuleSpecError, match=message) as err:
        load_rules([f], CHECKS)
    assert "broken.yaml" in str(err.value)


def test_repeated_rule_ids_are_refused(tmp_path):
    rule = (
        "  - {id: X, name: x, category: policy, result: definite, scene: [outpatient], "
        "stage: in, severity: low, check: line, where: 'quantity > 1'}\n"
    )
    (tmp_path / "a.yaml").write_text(f"family: a\nrules:\n{rule}", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(f"family: b\nrules:\n{rule}", encoding="utf-8")
    with pytest.raises(RuleSpecError, match="rule id X repeats"):
        load_rules([tmp_path], CHECKS)


def test_rules_doc_is_current():
    doc = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
    assert doc.read_text(encoding="utf-8") == render_docs(list(RULES.values())), (
        "docs/rules.md is out of date: run `python -m fraudml.rulebase.docs`"
    )


def test_price_messages_name_the_dataset_currency(make_dataset):
    root = make_dataset(_catalog(price_cap=30))
    hits = run_rules(root, [RULES["CAT-PRICE"]])
    assert hits.message_zh.iloc[0] == "项目 XA01 单价 30.25 元，超过限价 30.0 元"
    assert hits.message_en.iloc[0] == "item XA01 priced 30.25 yuan, above the cap of 30.0 yuan"
    (root / "dataset.json").write_text('{"currency": "USD"}')
    hits = run_rules(root, [RULES["CAT-PRICE"]])
    assert hits.message_zh.iloc[0] == "项目 XA01 单价 30.25 美元，超过限价 30.0 美元"
    assert hits.message_en.iloc[0].endswith("above the cap of 30.0 US dollars")
