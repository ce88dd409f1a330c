"""``fraudml import national``: the national layout imported exactly (the small city and a
hand-written extract), a user's mapping for another province, unknown codes left for
validation to quarantine, import faults naming file, column and row, and refused
mappings."""

from __future__ import annotations

import gzip
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from fraudml.adapters import national
from fraudml.adapters.mapping import load_mapping
from fraudml.cli.main import main
from fraudml.contract import TABLES_BY_NAME
from fraudml.errors import ContractError, SettingError
from fraudml.io.write import ARROW_TYPE, to_arrow
from tests.slices import city_slice

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "national-import.md"

# -- a hand-written extract in the national layout (shared/national-extract.md) ----------

# fmt: off
EXTRACT: dict[str, list[dict[str, str]]] = {
    "PSN_INFO_B": [
        {"psn_no": "0330100000001", "gend": "1", "brdy": "1950-01-02", "insutype": "310",
         "insuplc_admdvs": "330102"},
        {"psn_no": "0330100000002", "gend": "2", "brdy": "1988-07-30", "insutype": "390",
         "insuplc_admdvs": ""},
    ],
    "FIXMEDINS_B": [
        {"fixmedins_code": "H001", "fixmedins_name": "杭州市第一人民医院", "fixmedins_type": "1",
         "medins_type": "A", "hosp_lv": "02", "admdvs": "330102", "bed_cnt": "1200"},
        {"fixmedins_code": "H002", "fixmedins_name": "余杭区第二医院, 东院", "fixmedins_type": "1",
         "medins_type": "A", "hosp_lv": "06", "admdvs": "330110", "bed_cnt": "300"},
        {"fixmedins_code": "C001", "fixmedins_name": "西湖区社区卫生服务中心",
         "fixmedins_type": "1", "medins_type": "B", "hosp_lv": "11", "admdvs": "330106",
         "bed_cnt": ""},
        {"fixmedins_code": "C002", "fixmedins_name": "三墩镇卫生院", "fixmedins_type": "1",
         "medins_type": "C", "hosp_lv": "09", "admdvs": "330106", "bed_cnt": "20"},
        {"fixmedins_code": "C003", "fixmedins_name": '某村"卫生室"', "fixmedins_type": "1",
         "medins_type": "E", "hosp_lv": "", "admdvs": "330106", "bed_cnt": ""},
        {"fixmedins_code": "P001", "fixmedins_name": "国大药房", "fixmedins_type": "2",
         "medins_type": "", "hosp_lv": "", "admdvs": "330102", "bed_cnt": ""},
    ],
    "PRAC_PSN_B": [
        {"prac_psn_code": "D001", "fixmedins_code": "H001", "prac_psn_type": "1",
         "dept_name": "internal"},
        {"prac_psn_code": "D002", "fixmedins_code": "H002", "prac_psn_type": "1",
         "dept_name": "骨科"},
        {"prac_psn_code": "Y001", "fixmedins_code": "P001", "prac_psn_type": "3",
         "dept_name": "pharmacy"},
    ],
    "HILIST_B": [
        {"hilist_code": "XD001", "hilist_name": "苯磺酸氨氯地平片", "med_chrgitm_type": "09",
         "pric_uplmt_amt": "33.6", "lmt_gend": "", "lmt_min_age": "", "lmt_max_age": "",
         "lmt_day_cnt": "8", "lmt_inhosp": "0", "lmt_hosp_lv": ""},
        {"hilist_code": "EX008", "hilist_name": "妇科彩超", "med_chrgitm_type": "03",
         "pric_uplmt_amt": "180", "lmt_gend": "2", "lmt_min_age": "", "lmt_max_age": "",
         "lmt_day_cnt": "1", "lmt_inhosp": "0", "lmt_hosp_lv": "2"},
        {"hilist_code": "BD001", "hilist_name": "普通病房床位费", "med_chrgitm_type": "01",
         "pric_uplmt_amt": "60.00", "lmt_gend": "", "lmt_min_age": "18", "lmt_max_age": "60",
         "lmt_day_cnt": "", "lmt_inhosp": "1", "lmt_hosp_lv": ""},
    ],
    # encounters, in another order than their settlements
    "MDTRT_D": [
        {"mdtrt_id": "0000000000000002", "psn_no": "0330100000001", "fixmedins_code": "H001",
         "med_type": "21", "begntime": "2024-03-01 09:30:00", "endtime": "2024-03-05 10:00:00",
         "dscg_maindiag_code": "I63.9", "diag_code": "R51", "atddr_no": "D001",
         "dept_name": "internal"},
        {"mdtrt_id": "0000000000000001", "psn_no": "0330100000002", "fixmedins_code": "H002",
         "med_type": "11", "begntime": "2024-03-02 08:00:00", "endtime": "2024-03-02 08:00:00",
         "dscg_maindiag_code": "", "diag_code": "J20.9", "atddr_no": "D002", "dept_name": "骨科"},
        {"mdtrt_id": "0000000000000004", "psn_no": "0330100000001", "fixmedins_code": "C001",
         "med_type": "99", "begntime": "2024-03-04 14:00:00", "endtime": "2024-03-04 14:00:00",
         "dscg_maindiag_code": "", "diag_code": "", "atddr_no": "", "dept_name": ""},
        {"mdtrt_id": "0000000000000003", "psn_no": "0330100000002", "fixmedins_code": "P001",
         "med_type": "41", "begntime": "2024-03-03 11:00:00", "endtime": "2024-03-03 11:00:00",
         "dscg_maindiag_code": "", "diag_code": "", "atddr_no": "Y001", "dept_name": "pharmacy"},
        {"mdtrt_id": "0000000000000005", "psn_no": "0330100000001", "fixmedins_code": "H001",
         "med_type": "28", "begntime": "2024-03-10 09:00:00", "endtime": "2024-03-12 09:00:00",
         "dscg_maindiag_code": "C34.9", "diag_code": "", "atddr_no": "D001",
         "dept_name": "oncology"},
    ],
    "SETL_D": [
        {"setl_id": "S0001", "mdtrt_id": "0000000000000001", "medfee_sumamt": "120.5",
         "fund_pay_sumamt": "80", "acct_pay": "30.00", "psn_cash_pay": "10.5"},
        {"setl_id": "S0002", "mdtrt_id": "0000000000000002", "medfee_sumamt": "8650.37",
         "fund_pay_sumamt": "6920.3", "acct_pay": "0", "psn_cash_pay": "1730.07"},
        {"setl_id": "S0003", "mdtrt_id": "0000000000000003", "medfee_sumamt": "33.6",
         "fund_pay_sumamt": "0", "acct_pay": "33.6", "psn_cash_pay": "0"},
        {"setl_id": "S0004", "mdtrt_id": "0000000000000004", "medfee_sumamt": "12",
         "fund_pay_sumamt": "6", "acct_pay": "0", "psn_cash_pay": "6"},
        {"setl_id": "S0005", "mdtrt_id": "0000000000000005", "medfee_sumamt": "0.1",
         "fund_pay_sumamt": "0.07", "acct_pay": "0", "psn_cash_pay": "0.030000000000000002"},
    ],
    "FEE_LIST_D": [
        {"setl_id": "S0002", "feedetl_sn": "1", "hilist_code": "BD001", "med_chrgitm_type": "01",
         "cnt": "4", "pric": "60", "det_item_fee_sumamt": "240",
         "fee_ocur_time": "2024-03-01 10:00:00", "drug_trac_codg": "", "bilg_dr_codg": "D001"},
        {"setl_id": "S0002", "feedetl_sn": "2", "hilist_code": "XD001", "med_chrgitm_type": "09",
         "cnt": "2", "pric": "33.6", "det_item_fee_sumamt": "67.2", "fee_ocur_time": "",
         "drug_trac_codg": "81234567890123456789", "bilg_dr_codg": "D001"},
        {"setl_id": "S0003", "feedetl_sn": "1", "hilist_code": "XD001", "med_chrgitm_type": "09",
         "cnt": "1", "pric": "33.6", "det_item_fee_sumamt": "33.6",
         "fee_ocur_time": "2024-03-03 11:00:00", "drug_trac_codg": "01234567890123456790",
         "bilg_dr_codg": ""},
    ],
    "OPSP_REG_D": [
        {"psn_no": "0330100000001", "opsp_dise_code": "I10", "begndate": "2019-09-06",
         "enddate": ""},
        {"psn_no": "0330100000002", "opsp_dise_code": "E11.9", "begndate": "2020-01-01",
         "enddate": "9999-12-31"},
    ],
}

# fmt: on

LABELS_CSV = (
    "entity_type,entity_id,label,scheme,decided_at,source\n"
    "claim,S0002,1,phantom_billing,2024-04-01,audit\n"
    "provider,H002,0,,,audit\n"
)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


#: What the hand-written extract is, as contract tables.
# fmt: off
EXPECTED: dict[str, list[dict[str, object]]] = {
    "patients": [
        {"patient_id": "0330100000001", "gender": "M", "birth_date": date(1950, 1, 2),
         "insurance_type": "employee", "region": "330102"},
        {"patient_id": "0330100000002", "gender": "F", "birth_date": date(1988, 7, 30),
         "insurance_type": "resident", "region": None},
    ],
    "providers": [
        {"provider_id": "H001", "provider_type": "hospital", "level": 3, "region": "330102",
         "beds": 1200, "name": "杭州市第一人民医院"},
        {"provider_id": "H002", "provider_type": "hospital", "level": 2, "region": "330110",
         "beds": 300, "name": "余杭区第二医院, 东院"},
        {"provider_id": "C001", "provider_type": "clinic", "level": None, "region": "330106",
         "beds": None, "name": "西湖区社区卫生服务中心"},
        {"provider_id": "C002", "provider_type": "clinic", "level": 1, "region": "330106",
         "beds": 20, "name": "三墩镇卫生院"},
        {"provider_id": "C003", "provider_type": "clinic", "level": None, "region": "330106",
         "beds": None, "name": '某村"卫生室"'},
        {"provider_id": "P001", "provider_type": "pharmacy", "level": None, "region": "330102",
         "beds": None, "name": "国大药房"},
    ],
    "doctors": [
        {"doctor_id": "D001", "provider_id": "H001", "role": "doctor", "department": "internal"},
        {"doctor_id": "D002", "provider_id": "H002", "role": "doctor", "department": "骨科"},
        {"doctor_id": "Y001", "provider_id": "P001", "role": "pharmacist",
         "department": "pharmacy"},
    ],
    "catalog": [
        {"item_code": "XD001", "name": "苯磺酸氨氯地平片", "item_category": "western_drug",
         "price_cap": 33.6, "gender": None, "min_age": None, "max_age": None,
         "max_daily_quantity": 8.0, "inpatient_only": False, "min_provider_level": None},
        {"item_code": "EX008", "name": "妇科彩超", "item_category": "exam", "price_cap": 180.0,
         "gender": "F", "min_age": None, "max_age": None, "max_daily_quantity": 1.0,
         "inpatient_only": False, "min_provider_level": 2},
        {"item_code": "BD001", "name": "普通病房床位费", "item_category": "bed", "price_cap": 60.0,
         "gender": None, "min_age": 18, "max_age": 60, "max_daily_quantity": None,
         "inpatient_only": True, "min_provider_level": None},
    ],
    "claims": [
        {"claim_id": "S0001", "patient_id": "0330100000002", "provider_id": "H002",
         "doctor_id": "D002", "visit_type": "outpatient", "department": "骨科",
         "admit_time": ts("2024-03-02 08:00"), "discharge_time": ts("2024-03-02 08:00"),
         "diagnosis_code": "J20.9", "total_amount": 120.5, "fund_paid": 80.0,
         "account_paid": 30.0, "cash_paid": 10.5},
        # a stay: the discharge diagnosis before the visit's
        {"claim_id": "S0002", "patient_id": "0330100000001", "provider_id": "H001",
         "doctor_id": "D001", "visit_type": "inpatient", "department": "internal",
         "admit_time": ts("2024-03-01 09:30"), "discharge_time": ts("2024-03-05 10:00"),
         "diagnosis_code": "I63.9", "total_amount": 8650.37, "fund_paid": 6920.3,
         "account_paid": 0.0, "cash_paid": 1730.07},
        {"claim_id": "S0003", "patient_id": "0330100000002", "provider_id": "P001",
         "doctor_id": "Y001", "visit_type": "pharmacy", "department": "pharmacy",
         "admit_time": ts("2024-03-03 11:00"), "discharge_time": ts("2024-03-03 11:00"),
         "diagnosis_code": None, "total_amount": 33.6, "fund_paid": 0.0, "account_paid": 33.6,
         "cash_paid": 0.0},
        # med_type 99: a provincial code, `other` as the layout says
        {"claim_id": "S0004", "patient_id": "0330100000001", "provider_id": "C001",
         "doctor_id": None, "visit_type": "other", "department": None,
         "admit_time": ts("2024-03-04 14:00"), "discharge_time": ts("2024-03-04 14:00"),
         "diagnosis_code": None, "total_amount": 12.0, "fund_paid": 6.0, "account_paid": 0.0,
         "cash_paid": 6.0},
        {"claim_id": "S0005", "patient_id": "0330100000001", "provider_id": "H001",
         "doctor_id": "D001", "visit_type": "inpatient", "department": "oncology",
         "admit_time": ts("2024-03-10 09:00"), "discharge_time": ts("2024-03-12 09:00"),
         "diagnosis_code": "C34.9", "total_amount": 0.1, "fund_paid": 0.07,
         "account_paid": 0.0, "cash_paid": 0.030000000000000002},
    ],
    "claim_items": [
        {"claim_id": "S0002", "line_no": 1, "item_code": "BD001", "item_category": "bed",
         "quantity": 4.0, "unit_price": 60.0, "amount": 240.0,
         "item_time": ts("2024-03-01 10:00"), "trace_code": None, "billing_doctor_id": "D001"},
        {"claim_id": "S0002", "line_no": 2, "item_code": "XD001", "item_category": "western_drug",
         "quantity": 2.0, "unit_price": 33.6, "amount": 67.2, "item_time": None,
         "trace_code": "81234567890123456789", "billing_doctor_id": "D001"},
        {"claim_id": "S0003", "line_no": 1, "item_code": "XD001", "item_category": "western_drug",
         "quantity": 1.0, "unit_price": 33.6, "amount": 33.6,
         "item_time": ts("2024-03-03 11:00"), "trace_code": "01234567890123456790",
         "billing_doctor_id": None},
    ],
    "chronic_registrations": [
        {"patient_id": "0330100000001", "disease_code": "I10", "valid_from": date(2019, 9, 6),
         "valid_to": None},
        {"patient_id": "0330100000002", "disease_code": "E11.9", "valid_from": date(2020, 1, 1),
         "valid_to": date(9999, 12, 31)},
    ],
    "labels": [
        {"entity_type": "claim", "entity_id": "S0002", "label": 1, "scheme": "phantom_billing",
         "decided_at": date(2024, 4, 1), "source": "audit"},
        {"entity_type": "provider", "entity_id": "H002", "label": 0, "scheme": None,
         "decided_at": None, "source": "audit"},
    ],
}
# fmt: on


def write_files(
    folder: Path,
    files: dict[str, list[dict[str, str]]],
    encoding: str = "gb18030",
    form: str = "csv",
    delimiter: str = ",",
) -> Path:
    """Tables of text as files: CSV (empty = null), gzip CSV or Parquet of text."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        frame = pd.DataFrame(rows, dtype=object)
        if form == "parquet":
            arrays = {c: pa.array([v or None for v in frame[c]], pa.string()) for c in frame}
            pq.write_table(pa.table(arrays), folder / f"{name}.parquet")
            continue
        text = frame.to_csv(index=False, sep=delimiter, lineterminator="\n").encode(encoding)
        if form == "csv.gz":
            (folder / f"{name}.csv.gz").write_bytes(gzip.compress(text))
        else:
            (folder / f"{name}.csv").write_bytes(text)
    return folder


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    src = write_files(tmp_path / "extract", EXTRACT)
    (src / "labels.csv").write_text(LABELS_CSV, encoding="utf-8")
    return src


def written(out: Path) -> dict[str, pa.Table]:
    return {p.stem: pq.read_table(p) for p in sorted(out.glob("*.parquet"))}


def import_national(src: Path, out: Path, *args: str) -> dict[str, pa.Table]:
    assert main(["import", "national", str(src), str(out), *args]) == 0
    return written(out)


def assert_contract_types(tables: dict[str, pa.Table]) -> None:
    """Each contract column has the type fraudml writes for it (a time in seconds is
    stored in milliseconds: Parquet has no coarser unit)."""
    stored = {**ARROW_TYPE, "timestamp": pa.timestamp("ms")}
    for name, table in tables.items():
        for column in TABLES_BY_NAME[name].columns:
            if column.name in table.column_names:
                found = table.schema.field(column.name).type
                assert found == stored[column.type], (name, column.name, found)


def assert_table(found: pa.Table, name: str, rows: list[dict[str, object]]) -> None:
    """``found`` holds exactly ``rows``, typed as fraudml writes table ``name``."""
    expected = to_arrow(pd.DataFrame(rows, dtype=object), name)
    stored = {pa.timestamp("s"): pa.timestamp("ms"), pa.large_string(): pa.string()}
    expected = expected.cast(
        pa.schema([pa.field(f.name, stored.get(f.type, f.type)) for f in expected.schema])
    )
    assert found.equals(expected), (name, found.to_pandas(), expected.to_pandas())


# -- exact ------------------------------------------------------------------------------


def test_the_small_city_exported_to_the_national_layout_imports_back_exactly(tmp_path: Path):
    """data/synthetic/small → GB18030 CSV in the national layout → fraudml import national:
    every table, row for row and value for value (floats bit for bit, times, nulls,
    leading zeros, booleans), with the contract's types. The city's first 1,000 patients
    with their claims and fee lines, and every other table whole: the round trip is the
    same code for every row, and its cost grows with the rows."""
    small = city_slice(tmp_path / "small", n_patients=1000)
    src = national.write_extract(small, tmp_path / "extract")
    assert sorted(p.name for p in src.iterdir()) == sorted(
        [f"{n}.csv" for n in national.national_tables(national.read_contract(small))]
        + ["labels.csv"]
    )
    # the files are GB18030 text as the platform writes them
    assert "人民医院".encode("gb18030") in (src / "FIXMEDINS_B.csv").read_bytes()
    out = tmp_path / "imported"
    got = import_national(src, out)
    original = {p.stem: pq.read_table(p) for p in sorted(small.glob("*.parquet"))}
    assert sorted(got) == sorted(original)
    assert_contract_types(got)
    for name, table in original.items():
        # fraudml's optional extensions have no field in the national layout
        extensions = [c for c in table.column_names if c not in got[name].column_names]
        assert extensions == NOT_IN_THE_LAYOUT.get(name, []), name
        table = table.select([c for c in table.column_names if c not in extensions])
        assert got[name].column_names == table.column_names, name
        # a safe cast: it refuses to drop a sub-second part or change a value
        assert got[name].equals(table.cast(got[name].schema)), name
    assert (out / "dataset.json").read_text().count('"national"') == 1


#: The contract's optional columns the national layout has no field for (the national
#: rule base's facts): a province's own mapping file can bring them from its extract.
NOT_IN_THE_LAYOUT = {
    "patients": ["death_date"],
    "doctors": ["registered_departments", "suspended_from", "suspended_to"],
    "catalog": [
        "indications",
        "age_group",
        "days_per_unit",
        "max_course_days",
        "sibling_group",
        "bundle_of",
        "incompatible_with",
    ],
}


@pytest.mark.parametrize("form", ["csv", "csv.gz", "parquet"])
def test_a_hand_written_extract_imports_exactly(tmp_path: Path, form: str):
    src = write_files(tmp_path / "extract", EXTRACT, form=form)
    (src / "labels.csv").write_text(LABELS_CSV, encoding="utf-8")
    got = import_national(src, tmp_path / "out")
    assert sorted(got) == sorted(EXPECTED)
    assert_contract_types(got)
    for name, rows in EXPECTED.items():
        assert_table(got[name], name, rows)


def test_labels_beside_the_files_are_carried_as_they_are(extract: Path, tmp_path: Path):
    (extract / "labels.csv").unlink()
    labels = pa.table(
        {
            "entity_type": ["provider"],
            "entity_id": ["H001"],
            "label": pa.array([1], pa.int64()),
            "scheme": pa.array([None], pa.string()),
            "decided_at": pa.array([date(2024, 5, 1)], pa.date32()),
            "source": ["court"],
            "case_no": ["(2024)浙0102刑初1号"],
        }
    )
    pq.write_table(labels, extract / "labels.parquet")
    got = import_national(extract, tmp_path / "out")
    assert got["labels"].equals(labels)


def test_without_optional_files_the_tables_are_left_out(extract: Path, tmp_path: Path):
    for name in ("HILIST_B", "OPSP_REG_D", "PRAC_PSN_B", "labels"):
        next(extract.glob(f"{name}.*")).unlink()
    got = import_national(extract, tmp_path / "out")
    assert sorted(got) == ["claim_items", "claims", "patients", "providers"]


def test_head_reads_the_first_settlements_and_their_fee_lines(extract: Path, tmp_path: Path):
    got = import_national(extract, tmp_path / "out", "head=2")
    assert got["claims"]["claim_id"].to_pylist() == ["S0001", "S0002"]
    assert got["claim_items"]["claim_id"].to_pylist() == ["S0002", "S0002"]
    assert main(["import", "national", str(extract), str(tmp_path / "o2"), "head=-1"]) == 2


def test_a_parquet_extract_may_store_numbers_dates_and_times_natively(tmp_path: Path):
    """Parquet columns typed as numbers, dates and times are taken as they are; a code
    stored as a number is refused (its leading zero is gone: hosp_lv 02 would be 2)."""
    src = write_files(tmp_path / "typed", EXTRACT)
    (src / "labels.csv").write_text(LABELS_CSV, encoding="utf-8")

    def typed(name: str, types: dict[str, pa.DataType]) -> None:
        rows = EXTRACT[name]
        arrays = {}
        for column in rows[0]:
            values = [r[column] or None for r in rows]
            typ = types.get(column, pa.string())
            if pa.types.is_timestamp(typ):
                values = [v and pd.Timestamp(v).to_pydatetime() for v in values]
            elif pa.types.is_date(typ):
                values = [v and date.fromisoformat(v) for v in values]
            elif pa.types.is_integer(typ):
                values = [v and int(v) for v in values]
            elif pa.types.is_floating(typ):
                values = [v and float(v) for v in values]
            arrays[column] = pa.array(values, typ)
        (src / f"{name}.csv").unlink(missing_ok=True)
        pq.write_table(pa.table(arrays), src / f"{name}.parquet")

    money = dict.fromkeys(["medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"])
    typed("SETL_D", {c: pa.float64() for c in money})
    typed("MDTRT_D", {"begntime": pa.timestamp("s"), "endtime": pa.timestamp("ms")})
    typed("OPSP_REG_D", {"begndate": pa.date32(), "enddate": pa.date32()})
    typed("FIXMEDINS_B", {"bed_cnt": pa.int64()})
    got = import_national(src, tmp_path / "out")
    for name, rows in EXPECTED.items():
        assert_table(got[name], name, rows)

    typed("FIXMEDINS_B", {"bed_cnt": pa.int64(), "hosp_lv": pa.int32()})
    with pytest.raises(
        ContractError,
        match=r"FIXMEDINS_B.parquet: column 'hosp_lv' is stored as .*expected text, for "
        r"providers.level",
    ):
        national.convert(src)


# -- unknown codes ----------------------------------------------------------------------


def test_unknown_codes_stay_raw_and_validation_quarantines_them(extract: Path, tmp_path: Path):
    files = {k: [dict(r) for r in v] for k, v in EXTRACT.items()}
    files["PSN_INFO_B"][1]["gend"] = "9"  # 未说明的性别: not in the layout's list
    files["FIXMEDINS_B"][2]["hosp_lv"] = "12"
    files["FEE_LIST_D"][2]["med_chrgitm_type"] = "15"
    files["MDTRT_D"][0]["med_type"] = "52"  # 生育: other
    src = write_files(tmp_path / "odd", files)
    data = tmp_path / "data"
    got = import_national(src, data)
    assert got["patients"]["gender"].to_pylist() == ["M", "9"]
    assert got["providers"]["level"].to_pylist()[2] == 12
    assert got["claims"]["visit_type"].to_pylist()[1] == "other"

    checked = tmp_path / "checked"
    assert main(["validate", f"data.path={data}", f"out={checked}", "data.cache=null"]) == 0
    patients = pd.read_parquet(checked / "quarantine" / "patients.parquet")
    assert patients[["patient_id", "gender", "reason_code"]].values.tolist() == [
        ["0330100000002", "9", "bad_code"]
    ]
    assert patients.loc[0, "reason"] == "code outside list: gender (expected one of M, F)"
    providers = pd.read_parquet(checked / "quarantine" / "providers.parquet")
    assert providers["reason_code"].tolist() == ["out_of_range"]
    items = pd.read_parquet(checked / "quarantine" / "claim_items.parquet")
    assert items[["claim_id", "item_category", "reason_code"]].values.tolist() == [
        ["S0003", "15", "bad_code"]
    ]


def test_an_unknown_code_of_a_typed_column_that_is_no_value_stops(tmp_path: Path):
    files = {k: [dict(r) for r in v] for k, v in EXTRACT.items()}
    files["HILIST_B"][1]["lmt_inhosp"] = "Y"
    src = write_files(tmp_path / "odd", files)
    with pytest.raises(
        ContractError,
        match=r"HILIST_B.csv: row 2, column 'lmt_inhosp' holds 'Y' \(expected one of 1, 0, "
        r"for catalog.inpatient_only\)",
    ):
        national.convert(src)


# -- faults -----------------------------------------------------------------------------


def edited(tmp_path: Path, table: str, row: int, **values: str) -> Path:
    files = {k: [dict(r) for r in v] for k, v in EXTRACT.items()}
    files[table][row].update(values)
    return write_files(tmp_path / "edited", files)


def test_a_missing_required_column_is_named_with_its_file(extract: Path):
    frame = pd.read_csv(extract / "PSN_INFO_B.csv", dtype=str, encoding="gb18030")
    frame.drop(columns="brdy").to_csv(extract / "PSN_INFO_B.csv", index=False, encoding="gb18030")
    with pytest.raises(
        ContractError,
        match=r"PSN_INFO_B.csv: column 'brdy' is missing \(the mapping reads it for "
        r"patients.birth_date\); it has psn_no, gend, insutype, insuplc_admdvs",
    ):
        national.convert(extract)


def test_a_missing_column_of_a_joined_file_is_named(extract: Path):
    frame = pd.read_csv(extract / "MDTRT_D.csv", dtype=str, encoding="gb18030")
    frame.drop(columns="begntime").to_csv(extract / "MDTRT_D.csv", index=False, encoding="gb18030")
    with pytest.raises(ContractError, match=r"SETL_D.csv \(and MDTRT_D.csv joined to it\): "):
        national.convert(extract)


def test_an_undecodable_byte_is_named_with_row_and_column(extract: Path):
    raw = (extract / "FIXMEDINS_B.csv").read_bytes()
    name = "余杭区第二医院".encode("gb18030")
    (extract / "FIXMEDINS_B.csv").write_bytes(raw.replace(name, name[:4] + b"\xff" + name[5:]))
    with pytest.raises(
        ContractError,
        match=r"FIXMEDINS_B.csv: row 2, column 'fixmedins_name': byte ff cannot be decoded "
        r"as gb18030",
    ):
        national.convert(extract)


def test_a_utf8_file_against_a_gb18030_mapping_is_named(tmp_path: Path):
    """UTF-8 Chinese is not valid GB18030 everywhere: the first bad byte is found."""
    src = write_files(tmp_path / "utf8", EXTRACT, encoding="utf-8")
    with pytest.raises(ContractError, match=r"FIXMEDINS_B.csv: row \d+, column 'fixmedins_name'"):
        national.convert(src)


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "message"),
    [
        (
            "PSN_INFO_B",
            1,
            "brdy",
            "1988/07/30",
            r"PSN_INFO_B.csv: row 2, column 'brdy' holds '1988/07/30' \(expected a date "
            r"YYYY-MM-DD, for patients.birth_date\)",
        ),
        (
            "MDTRT_D",
            2,
            "begntime",
            "2024-03-04",
            r"MDTRT_D.csv: row 3, column 'begntime' holds '2024-03-04' \(expected a time "
            r"YYYY-MM-DD HH:MM:SS, for claims.admit_time\)",
        ),
        (
            "SETL_D",
            3,
            "medfee_sumamt",
            "12,00",
            r"SETL_D.csv: row 4, column 'medfee_sumamt' holds '12,00' \(expected a number, for "
            r"claims.total_amount\)",
        ),
        (
            "FEE_LIST_D",
            0,
            "feedetl_sn",
            "1a",
            r"FEE_LIST_D.csv: row 1, column 'feedetl_sn' holds '1a' \(expected a whole number",
        ),
        (
            "FIXMEDINS_B",
            4,
            "hosp_lv",
            "三级",
            r"FIXMEDINS_B.csv: row 5, column 'hosp_lv' holds '三级' \(expected one of 01, 02, ",
        ),
        ("OPSP_REG_D", 0, "enddate", "2024-02-30", r"OPSP_REG_D.csv: row 1, column 'enddate'"),
    ],
)
def test_a_bad_value_is_named_with_file_row_and_column(
    tmp_path: Path, table: str, row: int, column: str, value: str, message: str
):
    src = edited(tmp_path, table, row, **{column: value})
    with pytest.raises(ContractError, match=message):
        national.convert(src)


def test_a_repeated_join_key_and_a_missing_file_are_named(tmp_path: Path):
    src = edited(tmp_path, "MDTRT_D", 3, mdtrt_id="0000000000000001")
    with pytest.raises(
        ContractError,
        match=r"MDTRT_D.csv: row 4, column 'mdtrt_id' repeats '0000000000000001'",
    ):
        national.convert(src)
    (src / "MDTRT_D.csv").unlink()
    with pytest.raises(ContractError, match=r"no joined file MDTRT_D for table claims"):
        national.convert(src)
    (src / "PSN_INFO_B.csv").unlink()
    with pytest.raises(ContractError, match=r"no file PSN_INFO_B for table patients"):
        national.convert(src)


def test_an_import_fault_exits_2_and_writes_nothing(extract: Path, tmp_path: Path):
    src = edited(tmp_path, "PSN_INFO_B", 0, brdy="19500102")
    out = tmp_path / "out"
    assert main(["import", "national", str(src), str(out)]) == 2
    assert not out.exists()


def test_settlements_without_an_encounter_are_kept_for_validation(tmp_path: Path):
    files = {k: [dict(r) for r in v] for k, v in EXTRACT.items()}
    files["SETL_D"][0]["mdtrt_id"] = "0000000000000099"
    tables = national.convert(write_files(tmp_path / "x", files))
    claims = tables["claims"]
    assert claims["claim_id"].tolist() == ["S0001", "S0002", "S0003", "S0004", "S0005"]
    assert claims.loc[0, "patient_id"] is None  # quarantined by validation: missing value


# -- another province's mapping ---------------------------------------------------------


def documented_mapping() -> str:
    """The example mapping of docs/national-import.md (the block after its marker)."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- province mapping -->\s*```yaml\n(.*?)```", text, re.S)
    assert found, "docs/national-import.md lost its example mapping"
    return found.group(1)


def province_files() -> dict[str, list[dict[str, str]]]:
    """The hand-written extract as another province writes it: other file and column
    names, other codes, compact dates, and fee lines keyed by encounter."""
    gender = {"1": "男", "2": "女"}
    scheme = {"310": "01", "390": "02"}
    visit = {"11": "MZ", "21": "ZY", "28": "ZY", "41": "YD", "99": "QT"}
    setl = {r["mdtrt_id"]: r["setl_id"] for r in EXTRACT["SETL_D"]}
    out = {
        "CBRY": [
            {
                "grbh": r["psn_no"],
                "xb": gender[r["gend"]],
                "csrq": r["brdy"].replace("-", ""),
                "xzlx": scheme[r["insutype"]],
                "cbqh": r["insuplc_admdvs"],
            }
            for r in EXTRACT["PSN_INFO_B"]
        ],
        "JZXX": [
            {
                "jzlsh": r["mdtrt_id"],
                "grbh": r["psn_no"],
                "jgbm": r["fixmedins_code"],
                "yllb": visit[r["med_type"]],
                "rysj": re.sub(r"\D", "", r["begntime"]),
                "cysj": re.sub(r"\D", "", r["endtime"]),
                "cyzd": r["dscg_maindiag_code"],
                "mzzd": r["diag_code"],
                "ysbm": r["atddr_no"],
                "ks": r["dept_name"],
            }
            for r in EXTRACT["MDTRT_D"]
        ],
        "JSXX": [
            {
                "jsid": r["setl_id"],
                "jz_lsh": r["mdtrt_id"],
                "zfy": r["medfee_sumamt"],
                "tczf": r["fund_pay_sumamt"],
                "zhzf": r["acct_pay"],
                "xjzf": r["psn_cash_pay"],
            }
            for r in EXTRACT["SETL_D"]
        ],
        "FYMX": [
            {
                "jz_lsh": next(m for m, s in setl.items() if s == r["setl_id"]),
                "mxxh": r["feedetl_sn"],
                "xmbm": r["hilist_code"],
                "sflb": r["med_chrgitm_type"],
                "sl": r["cnt"],
                "dj": r["pric"],
                "je": r["det_item_fee_sumamt"],
                "fssj": re.sub(r"\D", "", r["fee_ocur_time"]),
                "zsm": r["drug_trac_codg"],
                "kdys": r["bilg_dr_codg"],
            }
            for r in EXTRACT["FEE_LIST_D"]
        ],
    }
    # providers, practitioners and registrations keep the national files (compact dates)
    out["FIXMEDINS_B"] = EXTRACT["FIXMEDINS_B"]
    out["PRAC_PSN_B"] = EXTRACT["PRAC_PSN_B"]
    out["OPSP_REG_D"] = [
        {**r, "begndate": r["begndate"].replace("-", ""), "enddate": r["enddate"].replace("-", "")}
        for r in EXTRACT["OPSP_REG_D"]
    ]
    return out


def test_a_user_mapping_reads_another_provinces_extract(tmp_path: Path):
    """The documented example: renamed files and columns, other codes, UTF-8 with '|',
    compact dates, fee lines joined to settlements by encounter, the catalog dropped."""
    mapping = tmp_path / "province.yaml"
    mapping.write_text(documented_mapping(), encoding="utf-8")
    src = write_files(tmp_path / "province", province_files(), encoding="utf-8", delimiter="|")
    (src / "labels.csv").write_text(LABELS_CSV, encoding="utf-8")
    got = import_national(src, tmp_path / "out", f"mapping={mapping}")
    assert sorted(got) == sorted(set(EXPECTED) - {"catalog"})
    for name in got:
        assert_table(got[name], name, EXPECTED[name])
    assert '"source": "province"' in (tmp_path / "out" / "dataset.json").read_text()


def test_a_user_mapping_can_stand_alone(tmp_path: Path):
    """Without base: only the tables it names, with constants and qualified columns."""
    src = write_files(tmp_path / "x", {k: EXTRACT[k] for k in ("PSN_INFO_B", "FIXMEDINS_B")})
    pacsv.write_csv(
        pa.table(
            {"id": ["S1"], "p": ["0330100000001"], "h": ["H001"], "t": ["20240301"], "amt": ["10"]}
        ),
        src / "CLAIMS.csv",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        """
encoding: utf-8
tables:
  patients:
    file: PSN_INFO_B
    encoding: gb18030
    columns:
      patient_id: psn_no
      gender: {from: gend, codes: {1: M, 2: F}}
      birth_date: brdy
      insurance_type: {value: resident}
  providers:
    file: FIXMEDINS_B
    encoding: gb18030
    columns:
      provider_id: fixmedins_code
      provider_type: {value: hospital}
  claims:
    file: CLAIMS
    columns:
      claim_id: CLAIMS.id
      patient_id: p
      provider_id: h
      visit_type: {value: outpatient}
      admit_time: {from: t, format: "%Y%m%d"}
      discharge_time: {from: t, format: "%Y%m%d"}
      total_amount: amt
      fund_paid: amt
      account_paid: {value: 0}
      cash_paid: {value: 0}
""",
        encoding="utf-8",
    )
    tables = national.convert(src, load_mapping(mapping))
    assert sorted(tables) == ["claims", "patients", "providers"]
    assert tables["patients"]["insurance_type"].tolist() == ["resident", "resident"]
    claims = tables["claims"]
    assert claims.loc[0, "admit_time"] == pd.Timestamp("2024-03-01")
    assert claims.loc[0, "account_paid"] == 0.0
    assert list(tables["providers"].columns) == ["provider_id", "provider_type"]


# -- refused mappings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "base: national\ntables:\n  patients:\n    colums: {}\n",
            r"tables.patients.colums: unknown key \(expected one of file, join, columns",
        ),
        (
            "base: national\ntables:\n  patients:\n    columns:\n"
            "      gender: {from: gend, codes: {1: male, 2: F}}\n",
            r"tables.patients.columns.gender.codes\['1'\]: 'male' is not one of M, F",
        ),
        (
            "base: national\ntables:\n  patients:\n    columns:\n      birth_date: null\n",
            r"tables.patients.columns.birth_date: missing \(a required column",
        ),
        ("base: national\nencoding: gb-18030x\n", r"encoding: 'gb-18030x' is not an encoding"),
        (
            "base: national\ntables:\n  patients:\n    columns:\n"
            "      gender: {from: gend, codes: {1: M, 1: F}}\n",
            r"key '1' is given twice",
        ),
        ("base: national\ntables:\n  patients: [\n", r"not valid YAML"),
        ("base: national\ntables:\n  patient: {file: X}\n", r"tables.patient: not a contract"),
        (
            "base: national\ntables:\n  claims:\n    join: [{file: MDTRT_D}]\n",
            r"tables.claims.join\[0\]: no key",
        ),
        (
            "base: national\ntables:\n  providers:\n    columns:\n"
            "      level: {from: hosp_lv, codes: {01: 4}}\n",
            r"tables.providers.columns.level.codes\['01'\]: '4' is outside whole number from 1",
        ),
        (
            "base: national\ntables:\n  claims:\n    columns:\n"
            "      admit_time: {from: begntime, codes: {a: b}}\n",
            r"admit_time.codes: a date or timestamp column has no codes",
        ),
        (
            "base: national\ntables:\n  claims:\n    columns:\n"
            "      claim_id: {from: setl_id, optional: true}\n",
            r"claim_id.optional: a required contract column cannot be optional",
        ),
        ("base: nowhere\n", r"base: 'nowhere' is neither a shipped mapping"),
        (
            "tables:\n  providers: {file: F, columns: {provider_id: a, provider_type: b}}\n",
            r"tables.patients: missing \(a required contract table\)",
        ),
        ("- just\n- a list\n", r"expected a YAML mapping"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_place(tmp_path: Path, text: str, message: str):
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(SettingError, match=message):
        load_mapping(mapping)


def test_a_bad_mapping_exits_2_before_anything_is_read_or_written(extract: Path, tmp_path: Path):
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("base: national\ncurrency: yuan\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["import", "national", str(extract), str(out), f"mapping={mapping}"]) == 2
    assert main(["import", "national", str(extract), str(out), "mapping=/no/such.yaml"]) == 2
    assert main(["import", "medicare", str(extract), str(out), f"mapping={mapping}"]) == 2
    assert not out.exists()


def test_the_shipped_mapping_is_the_documented_layout():
    mapping = national.default_mapping()
    files = {name: t.files for name, t in mapping.tables.items()}
    assert files == {
        "patients": ("PSN_INFO_B",),
        "providers": ("FIXMEDINS_B",),
        "doctors": ("PRAC_PSN_B",),
        "catalog": ("HILIST_B",),
        "claims": ("SETL_D", "MDTRT_D"),
        "claim_items": ("FEE_LIST_D",),
        "chronic_registrations": ("OPSP_REG_D",),
        "labels": ("labels",),
    }
    claims = {c.name: c for c in mapping.tables["claims"].columns}
    assert claims["visit_type"].default == "other"
    assert claims["diagnosis_code"].sources == ("dscg_maindiag_code", "diag_code")
    assert mapping.tables["patients"].options.encoding == "gb18030"
