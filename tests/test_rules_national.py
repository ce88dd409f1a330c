"""The national smart-monitoring rules: each fires on its positive case and not on the near
miss beside it (exact hits and amounts on hand-built frames), a rule whose optional input
the dataset leaves empty is skipped and listed, and messages show codes and open ranges in
the report's language.

The datasets are written straight into an engine (``fast_dataset``) rather than through
CSV and validation: the loader has tests of its own, and ~40 cases must stay cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from fraudml.contract import ENGINE_TYPE, TABLES_BY_NAME
from fraudml.features import Window
from fraudml.io.load import Dataset
from fraudml.rulebase import CHECKS, HIT_COLUMNS, apply_rules, load_rules
from tests.builders import catalog_item, claim, line
from tests.conftest import base_tables

RULES_DIR = Path(__file__).resolve().parents[1] / "conf" / "rules"
RULES = {r.id: r for r in load_rules([RULES_DIR], CHECKS)}

_ARROW = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
}


def _value(text, kind: str):
    if text is None or text == "":
        return None
    if kind == "date":
        return pd.Timestamp(text).date()
    if kind == "timestamp":
        return pd.Timestamp(text).to_pydatetime()
    if kind in ("money", "float"):
        return float(text)
    if kind == "int":
        return int(text)
    if kind == "bool":
        return str(text).lower() == "true"
    return str(text)


def fast_dataset(tables: dict[str, list[dict]]) -> Dataset:
    """The tables (text values, as a CSV holds them) as engine tables of the contract's
    types; a column a row leaves out is empty, as the loader reads an absent column."""
    con = ibis.duckdb.connect(threads=1)
    out = {}
    for name, rows in tables.items():
        spec = TABLES_BY_NAME[name]
        schema = pa.schema([(c.name, _ARROW[ENGINE_TYPE[c.type]]) for c in spec.columns])
        data = {c.name: [_value(r.get(c.name), c.type) for r in rows] for c in spec.columns}
        out[name] = con.create_table(name, pa.table(data, schema=schema))
    return Dataset(Path("memory"), con, out, None, "", None)  # type: ignore[arg-type]


def run(edit: Callable[[dict], None], rule_ids: list[str]):
    tables = base_tables()
    edit(tables)
    ds = fast_dataset(tables)
    try:
        result = apply_rules(ds, Window(), [RULES[r] for r in rule_ids])
        return result, result.hits.to_pandas()
    finally:
        ds.close()


def hit_keys(hits: pd.DataFrame) -> dict[tuple, float]:
    out = {}
    for row in hits.itertuples():
        line_no = None if pd.isna(row.line_no) else int(row.line_no)
        out[(row.entity_id, line_no)] = round(float(row.amount), 2)
    return out


@dataclass
class Case:
    edit: Callable[[dict], None]
    expect: dict[tuple, float]


# ------------------------------------------------------------------ builders
# Base data (tests/conftest.py): 001 a man born 1950, 002 a woman born 1988; H1 a grade-3
# hospital (800 beds), D1 a pharmacy. C1: 001 at H1, outpatient 2024-03-01 09:30, XA01
# (2 × 30.25) and LB01 (1 × 60); C2: 002 at D1, pharmacy 2024-03-02 15:00, XA01 (1.5 × 30).


def chain(*edits):
    def edit(t):
        for e in edits:
            e(t)

    return edit


def add(claims=(), lines=(), providers=(), patients=(), doctors=()):
    def edit(t):
        t["claims"] += list(claims)
        t["claim_items"] += list(lines)
        t["providers"] += list(providers)
        t["patients"] += list(patients)
        if doctors:
            t.setdefault("doctors", [])
            t["doctors"] += list(doctors)

    return edit


def catalog(*items):
    def edit(t):
        t["catalog"] = list(items)

    return edit


def provider(pid, kind="hospital", level="3", beds=""):
    return {
        "provider_id": pid,
        "provider_type": kind,
        "level": level,
        "region": "110101",
        "beds": str(beds),
        "name": pid,
    }


def person(pid, gender, born, **more):
    return {
        "patient_id": pid,
        "gender": gender,
        "birth_date": born,
        "insurance_type": "resident",
        "region": "110101",
        **more,
    }


def doctor(did, pid="H1", role="doctor", department="internal", **more):
    return {"doctor_id": did, "provider_id": pid, "role": role, "department": department, **more}


def visit(cid, patient, prov, when, *, diagnosis="J06.9", doc="", dept="general", fund="50"):
    c = claim(cid, patient, prov, "outpatient", when, diagnosis=diagnosis, doctor=doc, fund=fund)
    c["department"] = dept
    return c


def stay(cid, patient, prov, admit, discharge, fund="50", diagnosis="K35.8"):
    return claim(
        cid,
        patient,
        prov,
        "inpatient",
        f"{admit} 10:00:00",
        f"{discharge} 10:00:00",
        fund=fund,
        diagnosis=diagnosis,
    )


def lines_of(cid, *items):
    """``(code, category, qty, price[, day])`` → fee lines numbered from 1."""
    out = []
    for no, it in enumerate(items, 1):
        when = f"{it[4]} 11:00:00" if len(it) > 4 else ""
        out.append(line(cid, no, it[0], it[1], it[2], it[3], when=when))
    return out


def base_catalog(**xa01):
    return catalog(catalog_item("XA01", "western_drug", **xa01), catalog_item("LB01", "lab"))


def days(first: int, n: int, month: int = 3) -> list[str]:
    return [f"2024-{month:02d}-{first + i:02d}" for i in range(n)]


def _off_hours(kind_share: dict[str, int], at: Callable[[int], str], n=100):
    """``n`` outpatient claims at each clinic, ``kind_share[clinic]`` of them at ``at(i)``
    (an off-hours time), the rest at 10:00 on working days (July to early September 2024,
    which hold no public holiday)."""
    provs, claims = [], []
    for pid, off in kind_share.items():
        provs.append(provider(pid, kind="clinic", level="1"))
        for i in range(n):
            weekday = pd.Timestamp("2024-07-01") + pd.Timedelta(days=7 * (i // 5 % 10) + i % 5)
            when = at(i) if i < off else f"{weekday.date()} 10:00:00"
            claims.append(visit(f"{pid}-{i:03d}", "002", pid, when, fund="10"))
    return add(claims, providers=provs)


def _night(i: int) -> str:
    return f"2024-04-{1 + i % 28:02d} 22:30:00"


def _weekend(i: int) -> str:
    # Saturdays and Sundays of April–June 2024
    first = pd.Timestamp("2024-04-06")
    return f"{(first + pd.Timedelta(days=7 * (i // 2) + i % 2)).date()} 10:00:00"


def _peer_group(cid_prefix, n, per_claim, extra=()):
    """``n`` claims of K29.7 with ``per_claim`` lines each, and ``extra`` claims given as
    (claim id, their lines)."""
    claims, items = [], []
    for i in range(n):
        cid = f"{cid_prefix}{i:02d}"
        claims.append(
            visit(cid, "002", "H1", f"2024-04-{1 + i % 28:02d} 10:00:00", diagnosis="K29.7")
        )
        items += lines_of(cid, *per_claim)
    for cid, its in extra:
        claims.append(visit(cid, "001", "H1", "2024-05-02 10:00:00", diagnosis="K29.7"))
        items += lines_of(cid, *its)
    return add(claims, items)


def _labs(n: int, price=10):
    return [(f"LB{i:02d}", "lab", 1, price) for i in range(n)]


# ------------------------------------------------------------------ the cases

CASES: dict[str, Case] = {
    # LB01 is in no catalog entry (C1 line 2); XA01 is (C1 line 1, C2)
    "CAT-UNLISTED": Case(catalog(catalog_item("XA01", "western_drug")), {("C1", 2): 60.0}),
    # XA01 is for I10/I11: C1 (I10) and C3 (I11.9) fit; C2 has no diagnosis
    "CAT-INDICATION": Case(
        chain(
            base_catalog(indications="I10;I11"),
            add(
                [visit("C3", "002", "H1", "2024-03-05 10:00:00", diagnosis="I11.9")],
                lines_of("C3", ("XA01", "western_drug", 1, 30)),
            ),
        ),
        {("C2", 1): 45.0},
    ),
    # XA01 for children: 001 (74) and 002 (35) hit; 003 (17 years and 9 months) does not
    "CAT-CHILD": Case(
        chain(
            base_catalog(age_group="child"),
            add(
                [visit("C3", "003", "H1", "2024-03-05 10:00:00")],
                lines_of("C3", ("XA01", "western_drug", 1, 30)),
                patients=[person("003", "F", "2006-06-01")],
            ),
        ),
        {("C1", 1): 60.5, ("C2", 1): 45.0},
    ),
    # XA01 for adults: 003 (17) hits; 004 turned 18 the month before does not
    "CAT-ADULT": Case(
        chain(
            base_catalog(age_group="adult"),
            add(
                [
                    visit("C3", "003", "H1", "2024-03-05 10:00:00"),
                    visit("C4", "004", "H1", "2024-03-05 10:00:00"),
                ],
                lines_of("C3", ("XA01", "western_drug", 1, 30))
                + lines_of("C4", ("XA01", "western_drug", 1, 30)),
                patients=[person("003", "F", "2006-06-01"), person("004", "M", "2006-02-01")],
            ),
        ),
        {("C3", 1): 30.0},
    ),
    # TR04's course is 10 days: 002 on 03-01, 03-10 (day 10) and 03-11 (day 11, a hit);
    # 001 on 03-01 and 04-15, 45 days later: a new course
    "CAT-COURSE": Case(
        chain(
            catalog(catalog_item("TR04", "treatment", max_course_days=10)),
            add(
                [
                    visit(f"V{d}", p, "H1", f"{day} 10:00:00")
                    for d, (p, day) in enumerate(
                        [
                            ("002", "2024-03-01"),
                            ("002", "2024-03-10"),
                            ("002", "2024-03-11"),
                            ("001", "2024-03-01"),
                            ("001", "2024-04-15"),
                        ]
                    )
                ],
                [line(f"V{d}", 1, "TR04", "treatment", 1, 55) for d in range(5)],
            ),
        ),
        {("V2", 1): 55.0},
    ),
    # C3 bills the drug XA01 as a material; ZZ01 (in no catalog entry) is another rule's
    "CAT-CATEGORY": Case(
        chain(
            base_catalog(),
            add(
                [visit("C3", "002", "H1", "2024-03-05 10:00:00")],
                lines_of("C3", ("XA01", "material", 1, 30), ("ZZ01", "material", 1, 5)),
            ),
        ),
        {("C3", 1): 30.0},
    ),
    # group G1: EX1 (cap 100) and EX2 (cap 300). H2 bills EX2 for 15 of 20 units (0.75,
    # the city 26/79); H3 for 11 of 19, under the 20 units the rule needs
    "CAT-SIBLING": Case(
        chain(
            catalog(
                catalog_item("EX1", "exam", price_cap=100, sibling_group="G1"),
                catalog_item("EX2", "exam", price_cap=300, sibling_group="G1"),
            ),
            add(
                [
                    visit(f"S{i}", "002", p, "2024-03-05 10:00:00")
                    for i, p in enumerate(["H1", "H2", "H2", "H3", "H3"])
                ],
                [
                    line("S0", 1, "EX1", "exam", 40, 100),
                    line("S1", 1, "EX2", "exam", 15, 300),
                    line("S2", 1, "EX1", "exam", 5, 100),
                    line("S3", 1, "EX2", "exam", 11, 300),
                    line("S4", 1, "EX1", "exam", 8, 100),
                ],
                providers=[provider("H2"), provider("H3")],
            ),
        ),
        {("S1", 1): (300 - 100) * 15.0},
    ),
    # a pack of XA01 lasts 30 days: C3 gives 90 (6 over 84: 6/90 of 90 yuan); C1 60, C2 45
    "DRG-SUPPLY": Case(
        chain(
            base_catalog(days_per_unit=30),
            add(
                [visit("C3", "002", "H1", "2024-03-05 10:00:00")],
                lines_of("C3", ("XA01", "western_drug", 3, 30)),
            ),
        ),
        {("C3", 1): 6.0},
    ),
    # 002: 45 (C2) + 90 (C3) + 60 (C4) = 195 days within 90 days, 15 over 180: a quarter of
    # C4; C3 brings her to 135
    "DRG-SUPPLY-90": Case(
        chain(
            base_catalog(days_per_unit=30),
            add(
                [
                    claim("C3", "002", "D1", "pharmacy", "2024-03-20 10:00:00"),
                    claim("C4", "002", "D1", "pharmacy", "2024-04-10 10:00:00"),
                ],
                lines_of("C3", ("XA01", "western_drug", 3, 30))
                + lines_of("C4", ("XA01", "western_drug", 2, 30)),
            ),
        ),
        {("C4", 1): 15.0},
    ),
    # 002's 45 days from D1 (03-02) still cover 27 days when H1 sells a pack on 03-20
    # (27/30 of it); her next pack at H1 is the same provider; 001's 60 days from H1 (03-01)
    # cover 5 days when D1 sells one on 04-25
    "DRG-OVERLAP": Case(
        chain(
            base_catalog(days_per_unit=30),
            add(
                [
                    visit("C3", "002", "H1", "2024-03-20 10:00:00"),
                    visit("C4", "002", "H1", "2024-04-25 10:00:00"),
                    claim("C5", "001", "D1", "pharmacy", "2024-04-25 10:00:00"),
                ],
                lines_of("C3", ("XA01", "western_drug", 1, 30))
                + lines_of("C4", ("XA01", "western_drug", 1, 30))
                + lines_of("C5", ("XA01", "western_drug", 1, 30)),
            ),
        ),
        {("C3", 1): 27.0},
    ),
    # at D1 on 03-10, 37 of C2's 45 days are left (all of the new pack); on 04-30 none;
    # 001's 60 days from H1 have 15 left on 04-15, under 21
    "DRG-OVERLAP-SAME": Case(
        chain(
            base_catalog(days_per_unit=30),
            add(
                [
                    claim("C3", "002", "D1", "pharmacy", "2024-03-10 10:00:00"),
                    claim("C4", "002", "D1", "pharmacy", "2024-04-30 10:00:00"),
                    visit("C5", "001", "H1", "2024-04-15 10:00:00"),
                ],
                lines_of("C3", ("XA01", "western_drug", 1, 30))
                + lines_of("C4", ("XA01", "western_drug", 1, 30))
                + lines_of("C5", ("XA01", "western_drug", 1, 30)),
            ),
        ),
        {("C3", 1): 30.0},
    ),
    # XA01 is not to be given with XB02: C3 has both; C4 XB02 alone; C5 XB02 the day of C1
    "DRG-INCOMPAT": Case(
        chain(
            catalog(
                catalog_item("XA01", "western_drug", incompatible_with="XB02; XC03"),
                catalog_item("XB02", "western_drug"),
            ),
            add(
                [
                    visit("C3", "002", "H1", "2024-03-05 10:00:00"),
                    visit("C4", "002", "H1", "2024-03-06 10:00:00"),
                    visit("C5", "001", "H1", "2024-03-01 11:00:00"),
                ],
                lines_of("C3", ("XA01", "western_drug", 1, 30), ("XB02", "western_drug", 1, 20))
                + lines_of("C4", ("XB02", "western_drug", 1, 20))
                + lines_of("C5", ("XB02", "western_drug", 1, 20)),
            ),
        ),
        {("C3", 2): 20.0},
    ),
    # TR01 twice on C3; on C4 once, and the drug XA01 twice (drugs are not in the rule)
    "BIL-DUP-CLAIM": Case(
        add(
            [
                visit("C3", "001", "H1", "2024-03-05 10:00:00"),
                visit("C4", "001", "H1", "2024-03-06 10:00:00"),
            ],
            lines_of("C3", ("TR01", "treatment", 1, 12), ("TR01", "treatment", 1, 12))
            + lines_of(
                "C4",
                ("TR01", "treatment", 1, 12),
                ("XA01", "western_drug", 1, 30),
                ("XA01", "western_drug", 1, 30),
            ),
        ),
        {("C3", 2): 12.0},
    ),
    # LB01 is part of PK1: billed beside it on C3; alone on C1
    "BIL-BUNDLE": Case(
        chain(
            catalog(
                catalog_item("XA01", "western_drug"),
                catalog_item("PK1", "lab", price_cap=100),
                catalog_item("LB01", "lab", bundle_of="PK1"),
            ),
            add(
                [visit("C3", "002", "H1", "2024-03-05 10:00:00")],
                lines_of("C3", ("PK1", "lab", 1, 100), ("LB01", "lab", 1, 60)),
            ),
        ),
        {("C3", 2): 60.0},
    ),
    # PK1 (cap 100) has parts P1, P2, P3: C3 bills P1 + P2 for 110; C4 for 90; C5 one part
    # for 150; C6 bills the package too (another rule)
    "BIL-UNBUNDLE": Case(
        chain(
            catalog(
                catalog_item("PK1", "lab", price_cap=100),
                *[catalog_item(p, "lab", bundle_of="PK1") for p in ("P1", "P2", "P3")],
            ),
            add(
                [visit(f"C{i}", "002", "H1", "2024-03-05 10:00:00") for i in (3, 4, 5, 6)],
                lines_of("C3", ("P1", "lab", 1, 60), ("P2", "lab", 1, 50))
                + lines_of("C4", ("P1", "lab", 1, 40), ("P2", "lab", 1, 50))
                + lines_of("C5", ("P3", "lab", 1, 150))
                + lines_of(
                    "C6", ("PK1", "lab", 1, 100), ("P1", "lab", 1, 60), ("P2", "lab", 1, 50)
                ),
            ),
        ),
        {("C3", 1): 10.0},
    ),
    # 001 died on 2024-03-01: C1 that day is not a hit, C3 on 03-05 is
    "ELG-DEATH": Case(
        chain(
            lambda t: t["patients"][0].update(death_date="2024-03-01"),
            add([visit("C3", "001", "H1", "2024-03-05 10:00:00")]),
        ),
        {("C3", None): 50.0},
    ),
    # 001 died on 03-06 during a stay from 03-05: the bed of 03-07 is a hit, 03-06 is not
    "ELG-DEATH-STAY": Case(
        chain(
            lambda t: t["patients"][0].update(death_date="2024-03-06"),
            add(
                [stay("C3", "001", "H1", "2024-03-05", "2024-03-08")],
                lines_of("C3", *[("BD01", "bed", 1, 50, d) for d in days(5, 3)]),
            ),
        ),
        {("C3", 3): 50.0},
    ),
    # DR1 is registered for internal medicine and cardiology: orthopaedics is a hit
    "DOC-DEPT": Case(
        add(
            [
                visit("C3", "002", "H1", "2024-03-05 10:00:00", doc="DR1", dept="cardiology"),
                visit("C4", "002", "H1", "2024-03-06 10:00:00", doc="DR1", dept="orthopedics"),
            ],
            doctors=[doctor("DR1", registered_departments="internal;cardiology")],
        ),
        {("C4", None): 50.0},
    ),
    # DR1 is registered at H1: a claim at H2 is a hit, at H1 not
    "DOC-PROVIDER": Case(
        add(
            [
                visit("C3", "002", "H2", "2024-03-05 10:00:00", doc="DR1"),
                visit("C4", "002", "H1", "2024-03-05 11:00:00", doc="DR1"),
            ],
            providers=[provider("H2")],
            doctors=[doctor("DR1")],
        ),
        {("C3", None): 50.0},
    ),
    # DR1 suspended 03-05 to 03-10: 03-10 is a hit, 03-11 not
    "DOC-SUSPENDED": Case(
        add(
            [
                visit("C3", "002", "H1", "2024-03-10 10:00:00", doc="DR1"),
                visit("C4", "002", "H1", "2024-03-11 10:00:00", doc="DR1"),
            ],
            doctors=[doctor("DR1", suspended_from="2024-03-05", suspended_to="2024-03-10")],
        ),
        {("C3", None): 50.0},
    ),
    # a visit under the pharmacist PH1 is a hit; a pharmacy purchase under PH1 is not
    "DOC-ROLE": Case(
        add(
            [
                visit("C3", "002", "H1", "2024-03-05 10:00:00", doc="PH1"),
                claim("C4", "002", "D1", "pharmacy", "2024-03-05 12:00:00", doctor="PH1"),
            ],
            doctors=[doctor("PH1", role="pharmacist", department="pharmacy")],
        ),
        {("C3", None): 50.0},
    ),
    # DR1 sees 81 patients on 04-01 (the 81st is a hit); DR2 80
    "DOC-DAILY": Case(
        add(
            [
                visit(
                    f"{d}-{i:02d}",
                    "002",
                    "H1",
                    f"2024-04-01 {8 + i // 10:02d}:{i % 10 * 5:02d}:00",
                    doc=d,
                    fund="10",
                )
                for d, n in (("DR1", 81), ("DR2", 80))
                for i in range(n)
            ],
            doctors=[doctor("DR1"), doctor("DR2")],
        ),
        {("DR1-80", None): 10.0},
    ),
    # H2 has 2 beds (2.4 with the margin): the third concurrent stay is a hit; a stay
    # admitted at the moment the others leave is not
    "PRV-BEDS": Case(
        add(
            [
                stay("C3", "001", "H2", "2024-03-01", "2024-03-10"),
                stay("C4", "002", "H2", "2024-03-02", "2024-03-10"),
                stay("C5", "003", "H2", "2024-03-03", "2024-03-10"),
                stay("C6", "004", "H2", "2024-03-10", "2024-03-12"),
            ],
            providers=[provider("H2", beds=2)],
            patients=[person("003", "F", "1960-01-01"), person("004", "M", "1960-01-01")],
        ),
        {("C5", None): 50.0},
    ),
    # a stay at the clinic K1 is a hit; a visit there, or a stay at H1, is not
    "PRV-CLINIC-STAY": Case(
        add(
            [
                stay("C3", "002", "K1", "2024-03-05", "2024-03-08"),
                visit("C4", "002", "K1", "2024-03-10 10:00:00"),
                stay("C5", "002", "H1", "2024-04-05", "2024-04-08"),
            ],
            providers=[provider("K1", kind="clinic", level="1")],
        ),
        {("C3", None): 50.0},
    ),
    # D1 bills a lab test (hit) and a material (allowed)
    "PRV-PHARMACY-SCOPE": Case(
        add(
            [claim("C3", "002", "D1", "pharmacy", "2024-03-05 10:00:00")],
            lines_of("C3", ("LB01", "lab", 1, 60), ("MT01", "material", 2, 4)),
        ),
        {("C3", 1): 60.0},
    ),
    # clinics with 100 claims each: K1 settles 30 at night (0.30), K3 5 (0.05, the peer
    # median), K2 none: K1's night claims are hits
    "PRV-NIGHT": Case(
        _off_hours({"K1": 30, "K2": 0, "K3": 5}, _night),
        {(f"K1-{i:03d}", None): 10.0 for i in range(30)},
    ),
    # K1 settles 50 of 100 on weekends (0.5), K3 10 (the median, 0.1), K2 none
    "PRV-HOLIDAY": Case(
        _off_hours({"K1": 50, "K2": 0, "K3": 10}, _weekend),
        {(f"K1-{i:03d}", None): 10.0 for i in range(50)},
    ),
    # 002: four visits on 04-01 (the fourth is a hit); 001: three
    "FRQ-SAME-DAY": Case(
        add(
            [
                visit(f"V{i}", "002", "H1", f"2024-04-01 {8 + 2 * i:02d}:00:00", fund="10")
                for i in range(4)
            ]
            + [visit(f"W{i}", "001", "H1", f"2024-04-01 {8 + 2 * i:02d}:00:00") for i in range(3)]
        ),
        {("V3", None): 10.0},
    ),
    # a 3-day stay with 4 bed days (one over: 50); one with 3; a day case with 1
    "INP-BEDDAYS": Case(
        add(
            [
                stay("C3", "001", "H1", "2024-03-05", "2024-03-08"),
                stay("C4", "002", "H1", "2024-03-05", "2024-03-08"),
                claim("C5", "002", "H1", "inpatient", "2024-04-01 08:00:00", "2024-04-01 18:00:00"),
            ],
            lines_of("C3", *[("BD01", "bed", 1, 50, d) for d in days(5, 4)])
            + lines_of("C4", *[("BD01", "bed", 1, 50, d) for d in days(5, 3)])
            + lines_of("C5", ("BD01", "bed", 1, 50)),
        ),
        {("C3", None): 50.0},
    ),
    # nursing: 3 days billed as 3 + 2 (one line of 2 units): 2 over, 60 of 150
    "INP-NURSEDAYS": Case(
        add(
            [
                stay("C3", "001", "H1", "2024-03-05", "2024-03-08"),
                stay("C4", "002", "H1", "2024-03-05", "2024-03-08"),
            ],
            lines_of(
                "C3",
                *[("NS01", "nursing", 1, 30, d) for d in days(5, 3)],
                ("NS01", "nursing", 2, 30, "2024-03-07"),
            )
            + lines_of("C4", *[("NS01", "nursing", 1, 30, d) for d in days(5, 3)]),
        ),
        {("C3", None): 60.0},
    ),
    # C3: three days of bed and nursing only; C4 has a lab test; C5 lasts a day
    "INP-BED-ONLY": Case(
        add(
            [
                stay("C3", "001", "H1", "2024-03-05", "2024-03-08", fund="300"),
                stay("C4", "002", "H1", "2024-03-05", "2024-03-08"),
                stay("C5", "002", "H1", "2024-04-05", "2024-04-06"),
            ],
            lines_of("C3", ("BD01", "bed", 3, 50), ("NS01", "nursing", 3, 30))
            + lines_of("C4", ("BD01", "bed", 3, 50), ("LB01", "lab", 1, 60))
            + lines_of("C5", ("BD01", "bed", 1, 50)),
        ),
        {("C3", None): 300.0},
    ),
    # C3: bed, a drug and a lab test only; C4 has an exam as well
    "INP-LOW-ADMIT": Case(
        add(
            [
                stay("C3", "001", "H1", "2024-03-05", "2024-03-08", fund="400"),
                stay("C4", "002", "H1", "2024-03-05", "2024-03-08"),
            ],
            lines_of(
                "C3",
                ("BD01", "bed", 3, 50),
                ("XA01", "western_drug", 2, 30),
                ("LB01", "lab", 1, 60),
            )
            + lines_of(
                "C4",
                ("BD01", "bed", 3, 50),
                ("XA01", "western_drug", 2, 30),
                ("EX01", "exam", 1, 80),
            ),
        ),
        {("C3", None): 400.0},
    ),
    # EX01 for 001 at H1 (03-05), at H2 five days later (a hit), at H2 ten days after that;
    # 002's second EX01 is at the same provider
    "MED-REPEAT-EXAM": Case(
        add(
            [
                visit("C3", "001", "H1", "2024-03-05 10:00:00"),
                visit("C4", "001", "H2", "2024-03-10 10:00:00"),
                visit("C5", "001", "H1", "2024-03-20 10:00:00"),
                visit("C6", "002", "H1", "2024-03-05 10:00:00"),
                visit("C7", "002", "H1", "2024-03-07 10:00:00"),
            ],
            [line(f"C{i}", 1, "EX01", "exam", 1, 80) for i in (3, 4, 5, 6, 7)],
            providers=[provider("H2")],
        ),
        {("C4", 1): 80.0},
    ),
    # C1's LB01 at H1 on 03-01, again at H2 on 03-03 (a hit) and on 03-08
    "MED-REPEAT-LAB": Case(
        add(
            [
                visit("C3", "001", "H2", "2024-03-03 10:00:00"),
                visit("C4", "001", "H2", "2024-03-08 10:00:00"),
            ],
            [line("C3", 1, "LB01", "lab", 1, 60), line("C4", 1, "LB01", "lab", 1, 60)],
            providers=[provider("H2")],
        ),
        {("C3", 1): 60.0},
    ),
    # an appendectomy without anaesthesia (amount: the surgery); one with it
    "MED-SURG-NO-ANAES": Case(
        add(
            [
                stay("C3", "001", "H1", "2024-03-05", "2024-03-08"),
                stay("C4", "002", "H1", "2024-03-05", "2024-03-08"),
            ],
            lines_of("C3", ("SG001", "surgery", 1, 2200), ("BD01", "bed", 3, 50))
            + lines_of("C4", ("SG001", "surgery", 1, 2200), ("TR010", "treatment", 1, 900)),
        ),
        {("C3", None): 2200.0},
    ),
    # general anaesthesia alone (amount: the anaesthesia); with a debridement
    "MED-ANAES-NO-SURG": Case(
        add(
            [
                stay("C3", "001", "H1", "2024-03-05", "2024-03-08"),
                stay("C4", "002", "H1", "2024-03-05", "2024-03-08"),
            ],
            lines_of("C3", ("TR010", "treatment", 1, 900))
            + lines_of("C4", ("TR010", "treatment", 1, 900), ("SG005", "surgery", 1, 180)),
        ),
        {("C3", None): 900.0},
    ),
    # general anaesthesia for a debridement alone; for a debridement and an appendectomy
    "MED-ANAES-MINOR": Case(
        add(
            [
                stay("C3", "001", "H1", "2024-03-05", "2024-03-08"),
                stay("C4", "002", "H1", "2024-03-05", "2024-03-08"),
            ],
            lines_of("C3", ("TR010", "treatment", 1, 900), ("SG005", "surgery", 1, 180))
            + lines_of(
                "C4",
                ("TR010", "treatment", 1, 900),
                ("SG005", "surgery", 1, 180),
                ("SG001", "surgery", 1, 2200),
            ),
        ),
        {("C3", None): 900.0},
    ),
    # 30 claims of K29.7 with one lab test each; X9 has nine (8 beyond the median of 1:
    # 8/9 of its 90 yuan of tests); X7 has seven, under the rule's floor of eight
    "MED-OVER-EXAM": Case(
        _peer_group("P", 30, _labs(1), [("X9", _labs(9)), ("X7", _labs(7))]),
        {("X9", None): 80.0},
    ),
    # drugs of 30 yuan on 30 claims; 1,500 on X1 (1,470 beyond the median); 900 on X2,
    # under the floor of 1,000
    "MED-OVER-DRUG": Case(
        _peer_group(
            "P",
            30,
            [("XA01", "western_drug", 1, 30)],
            [
                ("X1", [("XA01", "western_drug", 50, 30)]),
                ("X2", [("XA01", "western_drug", 30, 30)]),
            ],
        ),
        {("X1", None): 1470.0},
    ),
    # a man with a delivery (O80) and a woman with prostate hyperplasia (N40); a woman's O80
    "MED-DIAG-GENDER": Case(
        add(
            [
                visit("C3", "001", "H1", "2024-03-05 10:00:00", diagnosis="O80"),
                visit("C4", "002", "H1", "2024-03-05 10:00:00", diagnosis="O80"),
                visit("C5", "002", "H1", "2024-03-06 10:00:00", diagnosis="N40", fund="20"),
            ]
        ),
        {("C3", None): 50.0, ("C5", None): 20.0},
    ),
    # a dialyser without a session (amount: the dialyser); one with
    "DIA-MATERIAL": Case(
        add(
            [
                visit("C3", "001", "H1", "2024-03-05 10:00:00", diagnosis="N18.5"),
                visit("C4", "001", "H1", "2024-03-07 10:00:00", diagnosis="N18.5"),
            ],
            lines_of("C3", ("MT004", "material", 1, 110))
            + lines_of("C4", ("MT004", "material", 1, 110), ("TR003", "treatment", 1, 420)),
        ),
        {("C3", None): 110.0},
    ),
}


def test_every_national_rule_has_a_case():
    from tests.test_rules import CASES as CLASSIC

    assert set(CASES) | set(CLASSIC) == set(RULES)
    assert not set(CASES) & set(CLASSIC)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_its_case_and_not_on_the_near_miss(rule_id):
    case = CASES[rule_id]
    result, hits = run(case.edit, [rule_id])
    assert result.skipped == {}
    assert hit_keys(hits) == case.expect
    assert (hits.rule_id == rule_id).all()
    assert hits.message_zh.str.len().gt(0).all() and hits.message_en.str.len().gt(0).all()
    assert not hits.message_zh.str.contains("{", regex=False).any()


def test_rules_whose_optional_input_is_empty_are_skipped_and_listed():
    # the base data: a catalog without the national columns, no doctors, no death dates
    result, hits = run(
        base_catalog(),
        ["ELG-DEATH", "DOC-DEPT", "CAT-COURSE", "DRG-OVERLAP", "CAT-UNLISTED", "CAT-INDICATION"],
    )
    assert result.skipped == {
        "ELG-DEATH": "needs patients.death_date",
        "DOC-DEPT": "needs doctors",
        "CAT-COURSE": "needs catalog.max_course_days",
        "DRG-OVERLAP": "needs catalog.days_per_unit",
        "CAT-INDICATION": "needs catalog.indications",
    }
    assert [r.id for r in result.rules] == ["CAT-UNLISTED"] and hits.empty
    # nothing to run: an empty hits table of the standard shape
    result, hits = run(base_catalog(), ["ELG-DEATH"])
    assert hits.empty and tuple(hits.columns) == HIT_COLUMNS
    # a doctors table without registrations skips the registration rule only
    result, _ = run(add(doctors=[doctor("DR1")]), ["DOC-DEPT", "DOC-PROVIDER"])
    assert result.skipped == {"DOC-DEPT": "needs doctors.registered_departments"}


def test_night_rules_are_skipped_on_claims_with_dates_only():
    def dates_only(t):
        for c in t["claims"]:
            c["admit_time"] = c["discharge_time"] = c["admit_time"][:10]

    result, _ = run(dates_only, ["PRV-NIGHT", "PRV-HOLIDAY"])
    assert result.skipped == {"PRV-NIGHT": "needs claim_times"}


def test_messages_show_codes_and_open_ranges_in_their_language():
    def edit(t):
        t["catalog"] = [
            catalog_item("XA01", "western_drug", gender="F", max_age=14, inpatient_only="true"),
            catalog_item("LB01", "lab", min_age=80),
        ]

    _, hits = run(edit, ["CAT-GENDER", "CAT-AGE", "CAT-INPATIENT"])
    got = {
        (h.rule_id, h.claim_id, int(h.line_no)): (h.message_zh, h.message_en)
        for h in hits.itertuples()
    }
    assert got[("CAT-GENDER", "C1", 1)] == (
        "项目 XA01 限女性使用，参保人性别男",
        "item XA01 is for female patients; the patient is male",
    )
    assert got[("CAT-AGE", "C1", 1)] == (
        "项目 XA01 限 14 岁以下，参保人 74 岁",
        "item XA01 is for ages up to 14; the patient is 74",
    )
    assert got[("CAT-AGE", "C1", 2)] == (
        "项目 LB01 限 80 岁及以上，参保人 74 岁",
        "item LB01 is for ages 80 and over; the patient is 74",
    )
    assert got[("CAT-INPATIENT", "C2", 1)] == (
        "限住院项目 XA01 按药店购药结算",
        "inpatient-only item XA01 settled as pharmacy",
    )
    # no code of the contract's lists, nor a missing bound, in a Chinese message
    for zh in hits.message_zh:
        assert not any(code in zh for code in ("outpatient", "pharmacy", "–-", "-–", "F性"))


def test_the_medicare_death_date_feeds_the_rule_on_care_after_death():
    from fraudml.adapters.medicare import patients
    from tests.medicare_files import beneficiary

    bene = pd.DataFrame(
        [beneficiary("B1", "1930-01-01", DOD="2009-03-01"), beneficiary("B2", "1931-01-01")],
        dtype="string",
    )
    frame = patients(bene, Path("Beneficiary.csv"))
    assert str(frame.death_date.iloc[0]) == "2009-03-01" and pd.isna(frame.death_date.iloc[1])

    def edit(t):
        t["patients"] = [
            person(r.patient_id, r.gender, str(r.birth_date), death_date=str(r.death_date))
            if pd.notna(r.death_date)
            else person(r.patient_id, r.gender, str(r.birth_date))
            for r in frame.itertuples()
        ]
        t["claims"] = [
            visit("M1", "B1", "H1", "2009-03-05 10:00:00"),
            visit("M2", "B2", "H1", "2009-03-05 10:00:00"),
        ]
        t["claim_items"] = []

    _, hits = run(edit, ["ELG-DEATH"])
    assert hit_keys(hits) == {("M1", None): 50.0}
