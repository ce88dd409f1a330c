"""Structural faults stop with a message naming file, column and expected form; formats."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudml import ContractError, load_dataset
from tests.conftest import base_tables, write_csv_dataset


def load(path: Path, **kw):
    return load_dataset(path, memory_limit="1GB", threads=1, **kw)


def test_missing_required_table(make_dataset):
    root = make_dataset()
    (root / "providers.csv").unlink()
    with pytest.raises(
        ContractError, match=r"required table 'providers' is missing.*providers\.parquet"
    ):
        load(root)


def test_missing_required_column_names_file_column_and_form(make_dataset):
    def edit(t):
        for r in t["claims"]:
            del r["admit_time"]

    root = make_dataset(edit)
    with pytest.raises(ContractError) as err:
        load(root)
    message = str(err.value)
    assert str(root / "claims.csv") in message
    assert "column 'admit_time' is missing" in message
    assert "timestamp YYYY-MM-DD HH:MM:SS" in message


def test_missing_nullable_column_reads_as_empty_with_a_warning(make_dataset):
    def edit(t):
        for r in t["patients"]:
            del r["region"]

    with load(make_dataset(edit)) as ds:
        assert ds.reconciliation.quarantined == 0
        assert any("column 'region' is absent" in w for w in ds.warnings)
        assert ds.table("patients").region.isnull().all().execute()


def test_unreadable_parquet(make_dataset):
    root = make_dataset()
    (root / "claims.csv").unlink()
    (root / "claims.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ContractError, match=r"claims\.parquet: unreadable as Parquet"):
        load(root)


def test_numeric_identifier_in_parquet_is_refused(make_dataset):
    root = make_dataset()
    frame = pd.read_csv(root / "patients.csv", dtype=str)
    frame["patient_id"] = frame["patient_id"].astype(int)  # leading zeros already lost
    frame.to_parquet(root / "patients.parquet", index=False)
    (root / "patients.csv").unlink()
    with pytest.raises(
        ContractError, match=r"patients\.parquet: column 'patient_id' is stored as BIGINT"
    ):
        load(root)


def test_a_table_given_twice_is_ambiguous(make_dataset):
    root = make_dataset()
    pd.read_csv(root / "patients.csv", dtype=str).to_parquet(root / "patients.parquet")
    with pytest.raises(ContractError, match="given more than once"):
        load(root)


def test_missing_directory():
    with pytest.raises(ContractError, match="dataset directory not found"):
        load(Path("/nonexistent/dataset"))


def test_gb18030_needs_its_encoding_named(tmp_path):
    tables = base_tables()
    tables["providers"][0]["name"] = "𠀀医院"  # a character beyond GBK, in GB18030
    root = write_csv_dataset(tmp_path / "gb", tables, encoding="gb18030")
    with pytest.raises(ContractError, match=r"providers\.csv: line 2 is not valid utf-8.*gb18030"):
        load(root)
    with load(root, encoding="gb18030") as ds:
        names = ds.table("providers").order_by("provider_id").to_pandas()["name"].tolist()
        assert names == ["<script>alert(1)</script>", "𠀀医院"]


def test_gbk_name_reads_gbk_file(tmp_path):
    root = write_csv_dataset(tmp_path / "gbk", base_tables(), encoding="gbk")
    with load(root, encoding="GBK") as ds:
        assert "市第一医院" in ds.table("providers").to_pandas()["name"].tolist()


def test_utf8_with_bom(make_dataset):
    root = make_dataset()
    text = (root / "patients.csv").read_text(encoding="utf-8")
    (root / "patients.csv").write_text(text, encoding="utf-8-sig")
    with load(root) as ds:
        assert ds.reconciliation["patients"].accepted == 2


def test_parquet_part_directory_with_native_types(tmp_path):
    tables = base_tables()
    root = write_csv_dataset(tmp_path / "pq", {k: v for k, v in tables.items() if k != "claims"})
    claims = pd.DataFrame(tables["claims"])
    for col in ("admit_time", "discharge_time"):
        claims[col] = pd.to_datetime(claims[col])
    for col in ("total_amount", "fund_paid", "account_paid", "cash_paid"):
        claims[col] = claims[col].astype(float)
    claims["doctor_id"] = None
    claims["doctor_id"] = claims["doctor_id"].astype("string")
    claims["diagnosis_code"] = claims["diagnosis_code"].replace("", None)
    parts = root / "claims"
    parts.mkdir()
    for i, chunk in enumerate((claims.iloc[:1], claims.iloc[1:])):
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        pq.write_table(table, parts / f"part-{i}.parquet")
    with load(root) as ds:
        count = ds.reconciliation["claims"]
        assert (count.read, count.accepted, count.quarantined) == (2, 2, 0)
        assert count.source.endswith("(2 parts)")
        got = ds.table("claims").order_by("claim_id").to_pandas()
        assert got["total_amount"].tolist() == [120.5, 45.0]
        assert got["admit_time"].iloc[0] == pd.Timestamp("2024-03-01 09:30:00")


def test_parquet_row_fault_names_part_and_row(tmp_path):
    tables = base_tables()
    root = write_csv_dataset(tmp_path / "pq", {k: v for k, v in tables.items() if k != "patients"})
    parts = root / "patients"
    parts.mkdir()
    frame = pd.DataFrame(tables["patients"], dtype="string")
    frame.iloc[:1].to_parquet(parts / "part-0.parquet", index=False)
    bad = frame.iloc[1:].copy()
    bad["gender"] = "U"
    bad.to_parquet(parts / "part-1.parquet", index=False)
    out = tmp_path / "out"
    load(root, out=out).close()
    q = pd.read_parquet(out / "quarantine" / "patients.parquet")
    assert q["source_file"].str.endswith("part-1.parquet").tolist() == [True]
    assert q["source_row"].tolist() == [1]


def test_dataset_without_claim_items_loads_and_says_what_is_skipped(make_dataset):
    root = make_dataset()
    (root / "claim_items.csv").unlink()
    with load(root) as ds:
        assert "claim_items" not in ds
        assert "item-level features and rules" in ds.skipped["claim_items"]
        assert any(w.startswith("no claim_items table") for w in ds.warnings)
        assert ds.reconciliation["claims"].accepted == 2
        with pytest.raises(KeyError, match="present: patients, providers, claims"):
            ds.table("claim_items")


def test_dataset_json_declares_the_currency(make_dataset):
    root = make_dataset()
    with load(root) as ds:
        assert ds.currency == "CNY"  # the contract's default
    (root / "dataset.json").write_text('{"currency": "USD", "source": "medicare-kaggle"}')
    with load(root) as ds:
        assert ds.currency == "USD"
    (root / "dataset.json").write_text('{"currency": "usd"}')
    with pytest.raises(ContractError, match=r"dataset\.json: key 'currency' is 'usd'.*ISO 4217"):
        load(root)
    (root / "dataset.json").write_text('{"curency": "USD"}')
    with pytest.raises(ContractError, match=r"dataset\.json: unknown key\(s\) 'curency'"):
        load(root)
    (root / "dataset.json").write_text('["USD"]')
    with pytest.raises(ContractError, match=r"dataset\.json: expected a JSON object"):
        load(root)
    (root / "dataset.json").write_text("{currency: USD")
    with pytest.raises(ContractError, match=r"dataset\.json: not a JSON object"):
        load(root)
