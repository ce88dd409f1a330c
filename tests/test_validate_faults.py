"""Each row fault of the contract, on tiny hand-built datasets: exact rows and reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fraudml import load_dataset


def quarantine(out: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / "quarantine" / f"{table}.parquet")


def load(path: Path, out: Path):
    return load_dataset(path, out=out, memory_limit="1GB", threads=1)


def test_valid_dataset_is_accepted_whole(make_dataset, tmp_path):
    ds = load(make_dataset(), tmp_path / "out")
    for table, n in {"patients": 2, "providers": 2, "claims": 2, "claim_items": 3}.items():
        count = ds.reconciliation[table]
        assert (count.read, count.accepted, count.quarantined) == (n, n, 0)
    claims = ds.table("claims").order_by("claim_id").to_pandas()
    assert claims["total_amount"].tolist() == [120.5, 45.0]
    assert str(claims["admit_time"].dtype).startswith("datetime64")
    # identifiers stay text: leading zeros survive
    assert sorted(ds.table("patients").to_pandas()["patient_id"]) == ["001", "002"]
    ds.close()


@pytest.mark.parametrize(
    ("table", "column", "value", "code", "reason"),
    [
        ("patients", "gender", "X", "bad_code", "code outside list: gender (expected one of M, F)"),
        (
            "patients",
            "birth_date",
            "1950-13-45",
            "wrong_type",
            "wrong type: birth_date (expected date YYYY-MM-DD)",
        ),
        ("patients", "insurance_type", "", "missing_value", "missing value: insurance_type"),
        (
            "providers",
            "level",
            "4",
            "out_of_range",
            "out of range: level (expected whole number from 1 to 3)",
        ),
        ("providers", "level", "2.5", "wrong_type", "wrong type: level (expected whole number)"),
        (
            "claims",
            "visit_type",
            "walk-in",
            "bad_code",
            "code outside list: visit_type (expected one of outpatient, emergency, "
            "outpatient_chronic, inpatient, pharmacy, other)",
        ),
        (
            "claims",
            "total_amount",
            "12,5",
            "wrong_type",
            "wrong type: total_amount (expected number (CNY yuan))",
        ),
        (
            "claims",
            "admit_time",
            "yesterday",
            "wrong_type",
            "wrong type: admit_time (expected timestamp YYYY-MM-DD HH:MM:SS)",
        ),
        ("claim_items", "item_category", "drug", "bad_code", None),
        ("claim_items", "quantity", "NaN", "wrong_type", "wrong type: quantity (expected number)"),
    ],
)
def test_column_fault_quarantines_exactly_that_row(
    make_dataset, tmp_path, table, column, value, code, reason
):
    def edit(t):
        t[table][1][column] = value

    ds = load(make_dataset(edit), tmp_path / "out")
    q = quarantine(tmp_path / "out", table)
    assert len(q) == 1
    assert q.loc[0, "reason_code"] == code
    if reason is not None:
        assert q.loc[0, "reason"] == reason
    assert q.loc[0, "source_row"] == 2
    # the quarantine keeps the value as it was read
    assert (q.loc[0, column] if value else None) in (value, None)
    assert ds.reconciliation[table].accepted == ds.reconciliation[table].read - 1
    ds.close()


def test_discharge_before_admission(make_dataset, tmp_path):
    def edit(t):
        t["claims"][0]["discharge_time"] = "2024-03-01 09:29:59"

    ds = load(make_dataset(edit), tmp_path / "out")
    q = quarantine(tmp_path / "out", "claims")
    assert q["claim_id"].tolist() == ["C1"]
    assert q["reason_code"].tolist() == ["discharge_before_admission"]
    # its two fee lines follow it, with that reason; C2's line stays
    qi = quarantine(tmp_path / "out", "claim_items").sort_values("line_no")
    assert qi[["claim_id", "line_no", "reason"]].values.tolist() == [
        ["C1", "1", "claim quarantined"],
        ["C1", "2", "claim quarantined"],
    ]
    assert ds.reconciliation["claim_items"].accepted == 1
    ds.close()


def test_negative_quantity_and_amount_mismatch(make_dataset, tmp_path):
    def edit(t):
        t["claim_items"][0].update(quantity="-2", amount="-60.50")
        t["claim_items"][1].update(amount="60.02")  # 0.02 off: beyond ±0.01
        t["claim_items"][2].update(amount="45.01")  # 0.01 off: within tolerance

    ds = load(make_dataset(edit), tmp_path / "out")
    q = quarantine(tmp_path / "out", "claim_items").sort_values("line_no")
    assert q["reason_code"].tolist() == ["negative_quantity", "amount_mismatch"]
    assert ds.reconciliation["claim_items"].accepted == 1
    ds.close()


def test_repeated_key_keeps_the_first(make_dataset, tmp_path):
    def edit(t):
        t["patients"].append(dict(t["patients"][0], gender="F"))
        t["claim_items"].append(dict(t["claim_items"][0], item_code="ZZ"))

    ds = load(make_dataset(edit), tmp_path / "out")
    kept = ds.table("patients").filter(lambda p: p.patient_id == "001").to_pandas()
    assert kept["gender"].tolist() == ["M"]
    q = quarantine(tmp_path / "out", "patients")
    assert q[["patient_id", "gender", "source_row", "reason_code"]].values.tolist() == [
        ["001", "F", 3, "duplicate_key"]
    ]
    qi = quarantine(tmp_path / "out", "claim_items")
    assert qi[["item_code", "reason_code"]].values.tolist() == [["ZZ", "duplicate_key"]]
    ds.close()


def test_dangling_foreign_keys(make_dataset, tmp_path):
    def edit(t):
        t["claims"][1]["provider_id"] = "NOPE"
        t["claim_items"].append(dict(t["claim_items"][1], claim_id="C404"))
        t["doctors"] = [
            {"doctor_id": "DR1", "provider_id": "H1", "role": "doctor", "department": "internal"},
            {"doctor_id": "DR2", "provider_id": "GONE", "role": "doctor", "department": ""},
        ]
        t["claims"][0]["doctor_id"] = "DR2"  # DR2 is quarantined, so C1 dangles too

    ds = load(make_dataset(edit), tmp_path / "out")
    out = tmp_path / "out"
    assert quarantine(out, "doctors")["reason"].tolist() == [
        "dangling foreign key: provider_id not in providers"
    ]
    q = quarantine(out, "claims").sort_values("claim_id")
    assert q["reason"].tolist() == [
        "dangling foreign key: doctor_id not in doctors",
        "dangling foreign key: provider_id not in providers",
    ]
    qi = quarantine(out, "claim_items")
    reasons = dict(zip(qi["claim_id"], qi["reason_code"], strict=True))
    assert reasons == {"C1": "claim_quarantined", "C2": "claim_quarantined", "C404": "dangling_fk"}
    assert ds.reconciliation["claim_items"].accepted == 0
    ds.close()


def test_evidence_of_fraud_is_never_quarantined(make_dataset, tmp_path):
    """Repeated trace codes, catalog breaches, wrong category and over-cap prices stay in."""

    def edit(t):
        t["claim_items"][2]["trace_code"] = t["claim_items"][0]["trace_code"]
        t["claim_items"][1]["item_category"] = "exam"  # catalog says lab
        t["catalog"] = [
            {
                "item_code": "XA01",
                "name": "药",
                "item_category": "western_drug",
                "price_cap": "10",
                "gender": "F",
                "min_age": "",
                "max_age": "12",
                "max_daily_quantity": "1",
                "inpatient_only": "true",
                "min_provider_level": "3",
            },
            {
                "item_code": "LB01",
                "name": "化验",
                "item_category": "lab",
                "price_cap": "",
                "gender": "",
                "min_age": "",
                "max_age": "",
                "max_daily_quantity": "",
                "inpatient_only": "",
                "min_provider_level": "",
            },
        ]

    ds = load(make_dataset(edit), tmp_path / "out")
    assert ds.reconciliation.quarantined == 0
    assert ds.table("claim_items").count().execute() == 3
    catalog = ds.table("catalog").to_pandas().set_index("item_code")
    assert pd.isna(catalog.loc["LB01", "inpatient_only"])
    assert bool(catalog.loc["XA01", "inpatient_only"]) is True
    ds.close()


def test_labels_refer_to_known_entities(make_dataset, tmp_path):
    def edit(t):
        t["labels"] = [
            {
                "entity_type": "provider",
                "entity_id": "D1",
                "label": "1",
                "scheme": "phantom_billing",
                "decided_at": "2024-06-30",
                "source": "audit",
            },
            {
                "entity_type": "patient",
                "entity_id": "999",
                "label": "1",
                "scheme": "",
                "decided_at": "",
                "source": "",
            },
            {
                "entity_type": "provider",
                "entity_id": "H1",
                "label": "2",
                "scheme": "",
                "decided_at": "",
                "source": "",
            },
            {
                "entity_type": "provider",
                "entity_id": "D1",
                "label": "0",
                "scheme": "phantom_billing",
                "decided_at": "",
                "source": "",
            },
        ]

    ds = load(make_dataset(edit), tmp_path / "out")
    q = quarantine(tmp_path / "out", "labels").sort_values("source_row")
    assert q["reason_code"].tolist() == ["dangling_fk", "bad_code", "duplicate_key"]
    assert ds.table("labels").to_pandas()["label"].tolist() == [1]
    ds.close()


def test_malformed_csv_lines_are_quarantined_with_their_row_number(tmp_path, make_dataset):
    root = make_dataset()
    lines = (root / "patients.csv").read_text().splitlines()
    lines[1:1] = ["003,M"]  # too few columns, as data row 1
    lines.append("004,F,1990-01-01,resident,110101,surplus")  # too many columns
    (root / "patients.csv").write_text("\n".join(lines) + "\n")
    ds = load(root, tmp_path / "out")
    q = quarantine(tmp_path / "out", "patients").sort_values("source_row")
    assert q["source_row"].tolist() == [1, 4]
    assert q["raw_line"].tolist() == ["003,M", "004,F,1990-01-01,resident,110101,surplus"]
    assert (q["reason_code"] == "malformed_line").all()
    count = ds.reconciliation["patients"]
    assert (count.read, count.accepted, count.quarantined) == (4, 2, 2)
    ds.close()


def test_row_numbers_after_a_malformed_line_point_at_the_right_row(tmp_path, make_dataset):
    root = make_dataset()
    lines = (root / "patients.csv").read_text().splitlines()
    lines[1:1] = ["bad line"]
    lines.append("005,Q,1990-01-01,resident,110101")
    (root / "patients.csv").write_text("\n".join(lines) + "\n")
    load(root, tmp_path / "out").close()
    q = quarantine(tmp_path / "out", "patients").sort_values("source_row")
    assert q["source_row"].tolist() == [1, 4]
    assert q["reason_code"].tolist() == ["malformed_line", "bad_code"]


def test_validation_json_reconciles(make_dataset, tmp_path):
    def edit(t):
        t["patients"][0]["gender"] = "?"

    load(make_dataset(edit), tmp_path / "out").close()
    report = json.loads((tmp_path / "out" / "validation.json").read_text(encoding="utf-8"))
    by_table = {t["table"]: t for t in report["tables"]}
    for t in by_table.values():
        assert t["accepted"] + t["quarantined"] == t["read"]
        assert sum(t["reasons"].values()) == t["quarantined"]
    # patient 001 is quarantined, so claim C1 dangles and its fee lines follow
    assert by_table["patients"]["quarantined"] == 1
    assert by_table["claims"]["reasons"] == {"dangling foreign key: patient_id not in patients": 1}
    assert by_table["claim_items"]["reasons"] == {"claim quarantined": 2}


def test_extra_columns_are_carried_along(make_dataset, tmp_path):
    def edit(t):
        for r in t["claims"]:
            r["insuplc_admdvs"] = "110000"

    ds = load(make_dataset(edit), tmp_path / "out")
    assert "insuplc_admdvs" in ds.table("claims").columns
    ds.close()
