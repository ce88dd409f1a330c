"""Reliability of validation on inputs that used to slip through or mislead: Parquet parts
that disagree, NaN money, zoned times, damaged pages, column names that collide with the
loader's own, all-null columns, implausible dates, and files that look like something else.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudml import ContractError, load_dataset
from fraudml.io import load as load_module
from tests.conftest import base_tables, write_csv_dataset

MONEY = ("total_amount", "fund_paid", "account_paid", "cash_paid")


def load(path: Path, **kw):
    return load_dataset(path, memory_limit="1GB", threads=1, **kw)


def quarantine(out: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / "quarantine" / f"{table}.parquet")


def native_claims() -> pd.DataFrame:
    """The base claims with the native types a Parquet writer would give them."""
    claims = pd.DataFrame(base_tables()["claims"])
    for col in ("admit_time", "discharge_time"):
        claims[col] = pd.to_datetime(claims[col])
    for col in MONEY:
        claims[col] = claims[col].astype(float)
    for col in ("doctor_id", "diagnosis_code"):
        claims[col] = claims[col].replace("", None).astype("string")
    return claims


def parquet_dataset(tmp_path: Path, table: str, *frames: pd.DataFrame | pa.Table) -> Path:
    """The base CSV dataset with ``table`` as one Parquet file, or as parts if several."""
    tables = base_tables()
    root = write_csv_dataset(tmp_path / "ds", {k: v for k, v in tables.items() if k != table})
    arrow = [
        f if isinstance(f, pa.Table) else pa.Table.from_pandas(f, preserve_index=False)
        for f in frames
    ]
    if len(arrow) == 1:
        pq.write_table(arrow[0], root / f"{table}.parquet")
    else:
        (root / table).mkdir()
        for i, part in enumerate(arrow):
            pq.write_table(part, root / table / f"part-{i}.parquet")
    return root


def message(root: Path, **kw) -> str:
    with pytest.raises(ContractError) as err:
        load(root, **kw)
    return str(err.value)


# 1. Parquet parts are each checked as a file is, and must agree with each other ---------------


def test_a_part_with_a_numeric_identifier_is_refused_naming_the_part(tmp_path):
    patients = pd.DataFrame(base_tables()["patients"], dtype="string")
    second = patients.iloc[1:].copy()
    second["patient_id"] = second["patient_id"].astype(int)  # "002" read back as 2
    root = parquet_dataset(tmp_path, "patients", patients.iloc[:1], second)
    part = root / "patients" / "part-1.parquet"
    assert message(root) == (
        f"{part}: column 'patient_id' is stored as BIGINT (expected text: identifiers and "
        "codes are strings, never numbers, because leading zeros matter)"
    )


def test_a_part_missing_a_required_column_is_refused_naming_the_part(tmp_path):
    claims = native_claims()
    root = parquet_dataset(
        tmp_path, "claims", claims.iloc[:1], claims.iloc[1:].drop(columns="fund_paid")
    )
    part = root / "claims" / "part-1.parquet"
    assert message(root) == (
        f"{part}: column 'fund_paid' is missing (expected number (CNY yuan), no empty values)"
    )


def test_a_part_missing_a_nullable_column_is_refused_naming_both_parts(tmp_path):
    claims = native_claims()
    claims["doctor_id"] = pd.array(["DR1", None], dtype="string")
    root = parquet_dataset(
        tmp_path, "claims", claims.iloc[:1], claims.iloc[1:].drop(columns="doctor_id")
    )
    first, second = root / "claims" / "part-0.parquet", root / "claims" / "part-1.parquet"
    assert message(root) == (
        f"{root / 'claims'}/: parts disagree on column 'doctor_id': {first} has it as VARCHAR, "
        f"{second} does not have it (expected every part of a table to have the same columns "
        "with the same types)"
    )


def test_parts_disagreeing_on_a_column_type_are_refused_naming_both_parts(tmp_path):
    claims = native_claims()
    second = claims.iloc[1:].copy()
    second["total_amount"] = second["total_amount"].astype("float32")
    root = parquet_dataset(tmp_path, "claims", claims.iloc[:1], second)
    first, other = root / "claims" / "part-0.parquet", root / "claims" / "part-1.parquet"
    assert message(root) == (
        f"{root / 'claims'}/: parts disagree on column 'total_amount': {first} has it as DOUBLE, "
        f"{other} as FLOAT (expected every part of a table to have the same columns with the "
        "same types)"
    )


def test_parts_disagreeing_on_an_extra_column_are_refused(tmp_path):
    claims = native_claims()
    second = claims.iloc[1:].copy()
    second["insuplc_admdvs"] = "110000"
    root = parquet_dataset(tmp_path, "claims", claims.iloc[:1], second)
    first, other = root / "claims" / "part-0.parquet", root / "claims" / "part-1.parquet"
    assert message(root) == (
        f"{root / 'claims'}/: parts disagree on column 'insuplc_admdvs': {first} does not have "
        f"it, {other} has it as VARCHAR (expected every part of a table to have the same "
        "columns with the same types)"
    )


# 2. NaN in a Parquet money or float column ------------------------------------------------


def with_columns(table: pa.Table, **columns: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``table`` with ``columns`` replaced by the given arrays (NaN stays NaN, not null)."""
    for name, array in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, array)
    return table


def three_claims() -> pd.DataFrame:
    """Two distinct finite amounts beside the bad one: Parquet statistics then hold a range
    (min 45, max 120.5) that leaves NaN out, which is what let DuckDB fold ``isnan``."""
    claims = native_claims()
    third = claims.iloc[[0]].assign(claim_id="C3")
    return pd.concat([claims, third], ignore_index=True)


@pytest.mark.parametrize(
    ("value", "arrow_type"),
    # float64 NaN was accepted before the fix. The other two are guards that passed before
    # it too: float32 goes through TRY_CAST, which drops the statistics, and statistics
    # include infinities.
    [
        (float("nan"), pa.float64()),
        (float("nan"), pa.float32()),
        (float("-inf"), pa.float64()),
    ],
)
def test_nan_and_infinity_in_parquet_money_are_a_wrong_type(tmp_path, value, arrow_type):
    table = pa.Table.from_pandas(three_claims(), preserve_index=False)
    amounts = pa.array([120.5, 45.0, value], type=arrow_type)
    root = parquet_dataset(tmp_path, "claims", with_columns(table, total_amount=amounts))
    out = tmp_path / "out"
    with load(root, out=out) as ds:
        count = ds.reconciliation["claims"]
        assert (count.read, count.accepted, count.quarantined) == (3, 2, 1)
    q = quarantine(out, "claims")
    assert q[["claim_id", "reason"]].values.tolist() == [
        ["C3", "wrong type: total_amount (expected number (CNY yuan))"]
    ]


def test_nan_in_a_parquet_float_column_is_a_wrong_type(tmp_path):
    items = pd.DataFrame(base_tables()["claim_items"]).replace("", None)
    items["line_no"] = items["line_no"].astype(int)
    table = pa.Table.from_pandas(items, preserve_index=False)
    nan = float("nan")
    table = with_columns(
        table,
        quantity=pa.array([2.0, 1.0, nan]),
        unit_price=pa.array([30.25, 60.0, 30.0]),
        amount=pa.array([60.5, 60.0, nan]),
    )
    root = parquet_dataset(tmp_path, "claim_items", table)
    out = tmp_path / "out"
    load(root, out=out).close()
    q = quarantine(out, "claim_items")
    assert q[["claim_id", "line_no", "reason", "all_reasons"]].values.tolist() == [
        [
            "C2",
            1,
            "wrong type: quantity (expected number)",
            "wrong type: quantity (expected number); "
            "wrong type: amount (expected number (CNY yuan))",
        ]
    ]


# 3. Zoned timestamps and boolean money are refused ----------------------------------------


def test_a_timestamp_with_a_time_zone_is_refused(tmp_path):
    table = pa.Table.from_pandas(native_claims(), preserve_index=False)
    zoned = table["admit_time"].cast(pa.timestamp("us", tz="Asia/Shanghai"))
    root = parquet_dataset(tmp_path, "claims", with_columns(table, admit_time=zoned))
    assert message(root) == (
        f"{root / 'claims.parquet'}: column 'admit_time' is stored as TIMESTAMP WITH TIME ZONE "
        "(expected local time without zone: timestamp YYYY-MM-DD HH:MM:SS; a zoned time "
        "would be shifted to UTC)"
    )


def test_a_boolean_money_column_is_refused(tmp_path):
    claims = native_claims()
    claims["cash_paid"] = [True, False]
    root = parquet_dataset(tmp_path, "claims", claims)
    assert message(root) == (
        f"{root / 'claims.parquet'}: column 'cash_paid' is stored as BOOLEAN "
        "(expected a number: number (CNY yuan))"
    )


# 4. A damaged data page names the broken part ----------------------------------------------


def damage(path: Path) -> None:
    """Overwrite bytes in the middle of the data pages (the footer at the end stays whole)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def many_patients(first: int, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"{i:06d}" for i in range(first, first + n)],
            "gender": ["M", "F"] * (n // 2),
            "birth_date": pd.to_datetime(["1950-01-02"] * n).date,
            "insurance_type": ["employee"] * n,
            "region": [f"11{i:04d}" for i in range(n)],
        }
    )


def test_a_damaged_data_page_names_the_broken_part(tmp_path):
    root = parquet_dataset(tmp_path, "patients", many_patients(0, 4000), many_patients(4000, 4000))
    broken = root / "patients" / "part-1.parquet"
    damage(broken)
    text = message(root)
    assert text.startswith(f"{broken}: unreadable as Parquet: a data page is damaged (")
    assert text.endswith("(expected a complete Parquet file; write it again from the source)")
    assert "part-0.parquet" not in text


def test_a_damaged_single_parquet_file_is_a_contract_error(tmp_path):
    root = parquet_dataset(tmp_path, "patients", many_patients(0, 4000))
    damage(root / "patients.parquet")
    assert message(root).startswith(f"{root / 'patients.parquet'}: unreadable as Parquet")


# 5. Input columns never collide with the loader's own ---------------------------------------


def test_an_input_column_named_reason_keeps_the_quarantine_reason(make_dataset, tmp_path):
    def edit(t):
        for r in t["claims"]:
            r["reason"] = "routine visit"
        t["claims"][1]["visit_type"] = "walk-in"

    root = make_dataset(edit)
    out = tmp_path / "out"
    with load(root, out=out) as ds:
        assert ds.table("claims").to_pandas()["reason"].tolist() == ["routine visit"]
        assert (
            f"{root / 'claims.csv'}: input column 'reason' is written to the quarantine file as "
            "'input_reason' (the quarantine's own 'reason' holds the fault)"
        ) in ds.warnings
    q = quarantine(out, "claims")
    assert q[["claim_id", "reason_code", "input_reason"]].values.tolist() == [
        ["C2", "bad_code", "routine visit"]
    ]
    assert q.loc[0, "reason"].startswith("code outside list: visit_type")


def test_input_columns_named_like_staging_columns_are_carried(make_dataset, tmp_path):
    def edit(t):
        for i, r in enumerate(t["claims"]):
            r["_source_row"] = f"x{i}"
            r["_fault_0"] = "mine"
        t["claims"][0]["visit_type"] = "walk-in"

    out = tmp_path / "out"
    with load(make_dataset(edit), out=out) as ds:
        count = ds.reconciliation["claims"]
        assert (count.read, count.accepted, count.quarantined) == (2, 1, 1)
        got = ds.table("claims").to_pandas()
        assert got[["claim_id", "_source_row", "_fault_0"]].values.tolist() == [
            ["C2", "x1", "mine"]
        ]
    q = quarantine(out, "claims")
    assert q[["claim_id", "_source_row", "source_row"]].values.tolist() == [["C1", "x0", 1]]


def test_a_csv_column_named_rowid_is_carried(make_dataset, tmp_path):
    """DuckDB's row id, which numbers CSV rows, is hidden by a column of that name."""

    def edit(t):
        for i, r in enumerate(t["patients"]):
            r["RowId"] = f"r{i}"
        t["patients"][1]["gender"] = "X"

    out = tmp_path / "out"
    with load(make_dataset(edit), out=out) as ds:
        assert ds.table("patients").to_pandas()[["patient_id", "RowId"]].values.tolist() == [
            ["001", "r0"]
        ]
    q = quarantine(out, "patients")
    assert q[["patient_id", "RowId", "source_row"]].values.tolist() == [["002", "r1", 2]]


def test_an_input_column_with_the_reserved_prefix_is_refused(make_dataset):
    def edit(t):
        for r in t["patients"]:
            r["__fraudml_note"] = "x"

    root = make_dataset(edit)
    assert message(root) == (
        f"{root / 'patients.csv'}: column '__fraudml_note' uses the prefix '__fraudml_' that "
        "fraudml reserves for its own columns (expected another name)"
    )


@pytest.mark.parametrize("second", ["region", "Region"])
def test_a_repeated_csv_header_name_is_refused(make_dataset, second):
    root = make_dataset()
    path = root / "patients.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + f",{second}"] + [line + ",x" for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert message(root) == (
        f"{path}: column '{second}' appears more than once in the header (as 'region' and "
        f"'{second}'; expected each column name once, compared without regard to case)"
    )


def test_a_repeated_parquet_column_name_is_refused(tmp_path):
    patients = pd.DataFrame(base_tables()["patients"], dtype="string")
    table = pa.Table.from_pandas(patients, preserve_index=False)
    table = pa.Table.from_arrays([*table.columns, table["gender"]], [*table.column_names, "gender"])
    root = parquet_dataset(tmp_path, "patients", table)
    assert message(root) == (
        f"{root / 'patients.parquet'}: column 'gender' appears more than once in the schema "
        "(as 'gender' and 'gender'; expected each column name once, compared without regard "
        "to case)"
    )


def test_a_parquet_column_named_like_the_readers_row_number_is_refused(tmp_path):
    patients = pd.DataFrame(base_tables()["patients"], dtype="string")
    patients["file_row_number"] = "7"
    root = parquet_dataset(tmp_path, "patients", patients)
    assert message(root) == (
        f"{root / 'patients.parquet'}: column 'file_row_number' is a name the Parquet reader "
        "uses for its own row numbers (expected another name)"
    )


# 6. An all-null column pyarrow wrote with the null type is empty text ------------------------


def test_an_all_null_text_column_written_by_pandas_reads_as_empty(tmp_path):
    patients = pd.DataFrame(base_tables()["patients"], dtype="string")
    patients["region"] = None  # object column of None: pyarrow writes the null type
    root = parquet_dataset(tmp_path, "patients", patients)
    assert pq.read_schema(root / "patients.parquet").field("region").type == pa.null()
    with load(root) as ds:
        assert ds.reconciliation.quarantined == 0
        assert ds.table("patients").region.type().is_string()
        assert ds.table("patients").region.isnull().all().execute()


def test_a_part_with_a_null_typed_column_agrees_with_a_typed_one(tmp_path):
    claims = native_claims()
    claims["doctor_id"] = pd.array([None, "DR9"], dtype="string")
    first = claims.iloc[:1].astype({"doctor_id": object})  # pyarrow writes null type
    root = parquet_dataset(tmp_path, "claims", first, claims.iloc[1:])
    schema = pq.read_schema(root / "claims" / "part-0.parquet")
    assert schema.field("doctor_id").type == pa.null()
    out = tmp_path / "out"
    with load(root, out=out) as ds:
        # no doctors table, so DR9 is not checked: both claims are accepted
        got = ds.table("claims").order_by("claim_id").to_pandas()["doctor_id"]
        assert got.isna().tolist() == [True, False]
        assert got.iloc[1] == "DR9"


# 7. Implausible dates are warned about, with counts, and kept -------------------------------


def test_implausible_dates_are_warned_about_and_kept(make_dataset, monkeypatch):
    monkeypatch.setattr(load_module, "_today", lambda: date(2025, 6, 1), raising=False)

    def edit(t):
        t["claims"][0].update(
            admit_time="1985-01-01 08:00:00", discharge_time="1985-01-01 09:00:00"
        )
        t["claims"].append(
            dict(
                t["claims"][1],
                claim_id="C3",
                admit_time="2026-06-02 10:00:00",
                discharge_time="2026-06-03 10:00:00",
            )
        )
        last = "2026-06-01 23:00:00"  # the last plausible day: not warned about
        t["claims"].append(
            dict(t["claims"][1], claim_id="C4", admit_time=last, discharge_time=last)
        )
        t["patients"][0]["birth_date"] = "1899-12-31"

    with load(make_dataset(edit)) as ds:
        assert ds.reconciliation.quarantined == 0
        assert ds.reconciliation["claims"].accepted == 4
        implausible = [w for w in ds.warnings if "(implausible dates" in w]
        assert implausible == [
            "patients.birth_date: 1 row before 1900-01-01 (implausible dates, kept; check how "
            "the source writes dates)",
            "claims.admit_time: 1 row before 1990-01-01, 1 row after 2026-06-01 (implausible "
            "dates, kept; check how the source writes dates)",
            "claims.discharge_time: 1 row before 1990-01-01, 1 row after 2026-06-01 "
            "(implausible dates, kept; check how the source writes dates)",
        ]


# 8. Messages that used to mislead ------------------------------------------------------------


def test_a_spark_style_part_directory_is_a_table(tmp_path):
    claims = native_claims()
    root = write_csv_dataset(
        tmp_path / "ds", {k: v for k, v in base_tables().items() if k != "claims"}
    )
    spark = root / "claims.parquet"
    spark.mkdir()
    for i, chunk in enumerate((claims.iloc[:1], claims.iloc[1:])):
        name = f"part-{i:05d}-3f2c9a1e-c000.snappy.parquet"
        pq.write_table(pa.Table.from_pandas(chunk, preserve_index=False), spark / name)
        (spark / f".{name}.crc").write_bytes(b"crc")
    (spark / "_SUCCESS").write_bytes(b"")
    with load(root) as ds:
        count = ds.reconciliation["claims"]
        assert (count.read, count.accepted, count.quarantined) == (2, 2, 0)
        assert count.source == f"{spark}/ (2 parts)"


@pytest.mark.parametrize(("delimiter", "named"), [(";", "';'"), ("\t", "tabs"), ("|", "'|'")])
def test_a_csv_delimited_otherwise_says_so(make_dataset, delimiter, named):
    root = make_dataset()
    path = root / "patients.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.to_csv(path, sep=delimiter, index=False)
    assert message(root) == (
        f"{path}: looks delimited by {named}, not commas (its header line holds no comma; "
        "expected comma-separated values, as the contract's CSV is)"
    )


@pytest.mark.parametrize("gz", [False, True])
def test_an_unterminated_quote_names_its_line(make_dataset, gz):
    root = make_dataset()
    path = root / "patients.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",110102", ',"110102')  # data row 2 opens a quote
    lines.append("003,F,1990-01-01,resident,110103")
    text = "\n".join(lines) + "\n"
    if gz:
        path.unlink()
        path = root / "patients.csv.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    assert message(root) == (
        f"{path}: a quoted value opened at line 3 is never closed (expected a closing '\"'; "
        "a '\"' inside a quoted value is written twice, as '\"\"')"
    )


def test_a_header_only_optional_table_is_treated_as_absent(make_dataset):
    def edit(t):
        t["claims"][0]["doctor_id"] = "DR1"
        t["claims"][1]["doctor_id"] = "DR2"

    root = make_dataset(edit)
    (root / "doctors.csv").write_text("doctor_id,provider_id,role,department\n", encoding="utf-8")
    with load(root) as ds:
        assert "doctors" not in ds
        assert ds.reconciliation["claims"].accepted == 2
        assert ds.skipped["doctors"] == load_module.SKIPPED_WITHOUT["doctors"]
        assert (
            f"{root / 'doctors.csv'} holds no rows: doctors is treated as absent, so "
            + load_module.SKIPPED_WITHOUT["doctors"]
        ) in ds.warnings
        assert "claims.doctor_id not checked: no doctors table in the dataset" in ds.warnings
        with pytest.raises(KeyError):
            ds.reconciliation["doctors"]


def test_a_table_with_every_row_quarantined_warns_naming_the_top_reason(make_dataset):
    def edit(t: dict) -> None:
        for r in t["patients"]:
            r["gender"] = "X"

    with load(make_dataset(edit)) as ds:
        assert ds.reconciliation["patients"].accepted == 0
        every = [w for w in ds.warnings if "every row" in w]
        assert every == [
            "patients: every row (2) is quarantined; the most common reason is 'code outside "
            "list: gender (expected one of M, F)' (2 rows)",
            "claims: every row (2) is quarantined; the most common reason is 'dangling foreign "
            "key: patient_id not in patients' (2 rows)",
            "claim_items: every row (3) is quarantined; the most common reason is 'claim "
            "quarantined' (3 rows)",
        ]
