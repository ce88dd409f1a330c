"""Hive-partitioned input (``claims/month=2024-09/part-0.parquet``): read as the same data
unpartitioned, a period's load opens only its months, and a bad layout stops naming the file.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudml.cli.main import main
from fraudml.errors import ContractError, FraudmlError
from fraudml.io.load import load_dataset
from tests.builders import claim, line
from tests.conftest import base_tables

MONTHS = ("2024-01", "2024-02", "2024-03", "2024-04")
CLAIM_TABLES = ("claims", "claim_items")


def tables() -> dict[str, list[dict[str, str]]]:
    """Two patients' claims over four months, with faults of each kind validation finds:
    a bad visit type (its claim and its line quarantined), an amount that does not add
    up, a line of a claim that does not exist and labels, one of them dangling."""
    t = base_tables()
    t["claims"] = [
        claim("C1", "001", "H1", "outpatient", "2024-01-05 09:00:00"),
        claim("C2", "002", "D1", "pharmacy", "2024-01-20 15:00:00"),
        claim("C3", "001", "H1", "outpatient", "2024-02-03 10:00:00"),
        claim("C4", "001", "H1", "walk_in", "2024-02-14 11:00:00"),  # bad code
        claim("C5", "002", "H1", "outpatient", "2024-03-01 00:00:00"),
        claim("C6", "001", "D1", "pharmacy", "2024-03-31 23:59:00"),
        claim("C7", "002", "H1", "outpatient", "2024-04-02 08:00:00"),
    ]
    t["claim_items"] = [
        line("C1", 1, "XA01", "western_drug", 2, 30, trace="T1"),
        line("C2", 1, "XA01", "western_drug", 1, 30),
        line("C3", 1, "LB01", "lab", 1, 60),
        line("C3", 2, "XA01", "western_drug", 1, 30, trace="T1"),  # a repeated trace code
        line("C4", 1, "LB01", "lab", 1, 60),  # follows its quarantined claim
        line("C5", 1, "LB01", "lab", 1, 60) | {"amount": "61"},  # does not add up
        line("C6", 1, "XA01", "western_drug", 3, 30),
        line("C7", 1, "LB01", "lab", 1, 60),
        line("C8", 1, "LB01", "lab", 1, 60),  # no claim C8
    ]
    t["labels"] = [
        {"entity_type": "claim", "entity_id": "C3", "label": "1", "scheme": "", "source": ""},
        {"entity_type": "claim", "entity_id": "C9", "label": "0", "scheme": "", "source": ""},
    ]
    return t


def month_of(table: str, row: dict[str, str], claims: dict[str, str]) -> str:
    if table == "claims":
        return row["admit_time"][:7]
    return claims.get(row["claim_id"], MONTHS[0])  # a dangling line: any month


def arrow(rows: list[dict[str, str]]) -> pa.Table:
    """Text columns as a CSV holds them, an empty value as null."""
    names = list(rows[0])
    return pa.table(
        {n: pa.array([r[n] or None for r in rows], pa.string()) for n in names},
    )


def write(root: Path, t: dict[str, list[dict[str, str]]], partitioned: bool) -> Path:
    """``t`` as Parquet: flat (one file a table) or with the claim tables by month."""
    root.mkdir(parents=True)
    claims = {r["claim_id"]: r["admit_time"][:7] for r in t["claims"]}
    for name, rows in t.items():
        if not partitioned or name not in CLAIM_TABLES:
            pq.write_table(arrow(rows), root / f"{name}.parquet")
            continue
        for month in sorted({month_of(name, r, claims) for r in rows}):
            part = root / name / f"month={month}"
            part.mkdir(parents=True)
            held = [r for r in rows if month_of(name, r, claims) == month]
            pq.write_table(arrow(held), part / "part-0.parquet")
    return root


def sorted_rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_partitioned_validates_as_the_same_data_flat(tmp_path: Path) -> None:
    t = tables()
    flat, split = write(tmp_path / "flat", t, False), write(tmp_path / "split", t, True)
    assert (split / "claim_items" / "month=2024-04" / "part-0.parquet").is_file()
    with (
        load_dataset(flat, out=tmp_path / "out-flat") as a,
        load_dataset(split, out=tmp_path / "out-split") as b,
    ):
        counts = {
            name: [
                {k: v for k, v in c.items() if k != "source"} for c in ds.reconciliation.to_dict()
            ]
            for name, ds in (("flat", a), ("split", b))
        }
        assert counts["split"] == counts["flat"]
        by_table = {c["table"]: c for c in counts["flat"]}
        assert (by_table["claims"]["accepted"], by_table["claims"]["quarantined"]) == (6, 1)
        # C4's line follows its claim, C5's does not add up, C8's and C9's label dangle
        assert by_table["claim_items"]["quarantined"] == 3
        assert by_table["labels"]["quarantined"] == 1
        assert len(b.warnings) == len(a.warnings)
        for name in a.tables:
            assert b.table(name).columns == a.table(name).columns  # no month column
            assert sorted_rows(b.table(name).to_pyarrow()) == sorted_rows(
                a.table(name).to_pyarrow()
            )
    for name in ("claims", "claim_items", "labels"):
        q = {
            side: pq.read_table(tmp_path / f"out-{side}" / "quarantine" / f"{name}.parquet")
            for side in ("flat", "split")
        }
        assert q["split"].column_names == q["flat"].column_names
        assert "month" not in q["split"].column_names
        where = ["source_file", "source_row"]
        assert sorted_rows(q["split"].drop_columns(where)) == sorted_rows(
            q["flat"].drop_columns(where)
        )
    # the quarantined line is named by its month's part, and its row there
    items = pq.read_table(tmp_path / "out-split" / "quarantine" / "claim_items.parquet")
    found = {r["claim_id"]: (r["source_file"], r["source_row"]) for r in items.to_pylist()}
    assert found["C5"] == (str(split / "claim_items" / "month=2024-03" / "part-0.parquet"), 1)


def test_a_period_reads_only_its_months_and_the_look_back(tmp_path: Path) -> None:
    """A load up to March's end reads January to March; April's parts, made unreadable
    here, are never opened (a whole load stops on them)."""
    root = write(tmp_path / "split", tables(), True)
    for name in CLAIM_TABLES:
        (root / name / "month=2024-04" / "part-0.parquet").write_bytes(b"not parquet")
    with pytest.raises(ContractError, match=r"month=2024-04/part-0\.parquet: unreadable"):
        load_dataset(root)
    with load_dataset(root, until=date(2024, 4, 1)) as ds:
        claims = sorted(ds.table("claims").claim_id.to_pyarrow().to_pylist())
        lines = ds.table("claim_items").count().execute()
        assert "labels" not in ds.tables and "labels" in ds.skipped
    assert claims == ["C1", "C2", "C3", "C5", "C6"]  # C4 quarantined, C7 in April
    assert lines == 5  # C4's line follows it, C5's does not add up
    # a period ending inside a month reads that month too
    with load_dataset(root, until=datetime(2024, 2, 10)) as ds:
        assert sorted(ds.table("claims").claim_id.to_pyarrow().to_pylist()) == ["C1", "C2", "C3"]


def move(root: Path, table: str, month: str, to: str) -> None:
    (root / table / f"month={month}").rename(root / table / to)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            lambda r: (r / "claims" / "month=2024-01" / "part-0.parquet").rename(
                r / "claims" / "part-9.parquet"
            ),
            r"claims/part-9\.parquet: a part outside a month folder, while .*month=2024-\d\d"
            r"/part-0\.parquet is in one \(expected every part .* as .*/claims/month=YYYY-MM/",
        ),
        (
            lambda r: move(r, "claims", "2024-02", "month=2024-13"),
            r"month=2024-13/part-0\.parquet: partition value '2024-13' is not a month "
            r"\(expected month=YYYY-MM, such as month=2024-09\)",
        ),
        (
            lambda r: move(r, "claim_items", "2024-02", "region=110101"),
            r"region=110101/part-0\.parquet: partition folders region=110101 are not one "
            r"month= folder",
        ),
        (
            lambda r: move(r, "claims", "2024-02", "month=2024-03/extra"),
            r"month=2024-03/extra/part-0\.parquet: a part outside a month folder|"
            r"partition folders month=2024-03/extra are not one month= folder",
        ),
        (
            lambda r: move(r, "claims", "2024-02", "month=2024-05"),
            r"claims/month=2024-05/part-0\.parquet: row 1 \(admit_time 2024-02-03 10:00:00\) "
            r"is not in its month folder month=2024-05",
        ),
        (
            lambda r: move(r, "claim_items", "2024-02", "month=2024-05"),
            r"claim_items/month=2024-05/part-0\.parquet: row 1 \(claim_id C3, whose claim is "
            r"in another month\)",
        ),
        (
            lambda r: [
                (p.rename(r / "claim_items" / f"p{i}.parquet"), p.parent.rmdir())
                for i, p in enumerate(sorted((r / "claim_items").rglob("*.parquet")))
            ],
            r"claim_items/ \(4 parts\): table 'claim_items' is not partitioned by month, while "
            r".*claims/ \(4 parts\) is",
        ),
    ],
    ids=[
        "mixed",
        "bad-month",
        "other-key",
        "nested",
        "claim-elsewhere",
        "line-elsewhere",
        "flat-beside",
    ],
)
def test_a_bad_layout_stops_naming_the_file(tmp_path: Path, fault, message) -> None:
    root = write(tmp_path / "split", tables(), True)
    fault(root)
    with pytest.raises(ContractError, match=message):
        load_dataset(root)


def test_only_the_claim_tables_may_be_partitioned_and_the_key_is_the_folders(tmp_path) -> None:
    root = write(tmp_path / "split", tables(), True)
    patients = pq.read_table(root / "patients.parquet")
    (root / "patients.parquet").unlink()
    (root / "patients" / "month=2024-01").mkdir(parents=True)
    pq.write_table(patients, root / "patients" / "month=2024-01" / "part-0.parquet")
    with pytest.raises(ContractError, match=r"table 'patients' is partitioned, which only"):
        load_dataset(root)

    root = write(tmp_path / "own-month", tables(), True)
    part = root / "claims" / "month=2024-01" / "part-0.parquet"
    pq.write_table(pq.read_table(part).append_column("month", pa.array(["x", "y"])), part)
    with pytest.raises(ContractError, match=r"column 'month' is also the partition key"):
        load_dataset(root)


def test_a_layout_fault_exits_2_with_the_message(tmp_path: Path, capsys) -> None:
    root = write(tmp_path / "split", tables(), True)
    move(root, "claims", "2024-02", "month=Feb")
    assert issubclass(ContractError, FraudmlError)
    assert main(["validate", f"data.path={root}", f"out={tmp_path / 'o'}"]) == 2
    err = capsys.readouterr().err
    assert "month=Feb/part-0.parquet: partition value 'Feb' is not a month" in err
    assert "Traceback" not in err


def test_a_months_load_keeps_the_whole_datasets_kept_validation(tmp_path: Path) -> None:
    """Scoring a month after ``make validate`` reopens neither's entry wrongly: the
    whole load and the load of some months are kept side by side."""
    root = write(tmp_path / "split", tables(), True)
    cache = tmp_path / "kept"
    with load_dataset(root, cache=cache) as ds:
        whole = ds.table("claims").count().execute()
    with load_dataset(root, cache=cache, until=date(2024, 4, 1)) as ds:
        some = ds.table("claims").count().execute()
    kept = [e for e in cache.iterdir() if e.is_dir()]
    entries = sorted(json.loads((e / "validation.json").read_text())["scope"] for e in kept)
    assert entries == ["all", "until 2024-04-01"] and some < whole
    with load_dataset(root, cache=cache) as ds:  # reopened, not validated again
        assert ds.table("claims").count().execute() == whole
    assert len([e for e in cache.iterdir() if e.is_dir()]) == 2
