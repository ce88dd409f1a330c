"""Write tables as a contract dataset: Parquet typed from the contract, atomically.

The simulator and the source adapters (``fraudml import``) write through here, so every
dataset the toolkit produces has the types a dataset written by someone else must have.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fraudml.contract import TABLES_BY_NAME
from fraudml.io.load import METADATA_FILE
from fraudml.io.outputs import OutputClaim, as_claim

#: Arrow type of each logical contract type: identifiers as text, times without zone.
ARROW_TYPE: dict[str, pa.DataType] = {
    "str": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "money": pa.float64(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}


def to_arrow(frame: pd.DataFrame, table: str) -> pa.Table:
    """``frame`` as Arrow with the contract's types for ``table``'s columns.

    Columns the contract does not list are carried with the type Arrow infers.
    """
    spec = TABLES_BY_NAME.get(table)
    known = {c.name: ARROW_TYPE[c.type] for c in spec.columns} if spec else {}
    arrays, fields = [], []
    for col in frame.columns:
        values = frame[col]
        typ = known.get(col)
        if typ is not None and pa.types.is_string(typ):
            values = values.astype(object).where(values.notna(), None)
        array = pa.array(values, type=typ, from_pandas=True)
        arrays.append(array)
        fields.append(pa.field(col, array.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_dataset(
    tables: dict[str, pd.DataFrame],
    out: Path | OutputClaim,
    part_rows: int = 2_000_000,
    metadata: dict[str, str] | None = None,
    command: str = "simulate",
) -> Path:
    """Write ``tables`` as Parquet under ``out`` atomically; big tables as part
    directories; ``metadata`` (for instance the currency) as ``dataset.json``.

    ``out`` must be new, empty or an earlier dataset written by ``command``
    (:mod:`fraudml.io.outputs`); a claim made by the caller is used as it is."""
    claim, owned = as_claim(out, command)
    try:
        _write_tables(tables, claim, part_rows, metadata)
    finally:
        if owned:
            claim.release()
    return claim.path


def _write_tables(
    tables: dict[str, pd.DataFrame],
    claim: OutputClaim,
    part_rows: int,
    metadata: dict[str, str] | None,
) -> None:
    with claim.staging() as tmp:
        if metadata:
            (tmp / METADATA_FILE).write_text(
                json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        for name, frame in tables.items():
            table = to_arrow(frame, name)
            if table.num_rows > part_rows:
                (tmp / name).mkdir()
                for i, offset in enumerate(range(0, table.num_rows, part_rows)):
                    pq.write_table(
                        table.slice(offset, part_rows),
                        tmp / name / f"part-{i:04d}.parquet",
                        compression="zstd",
                    )
            else:
                pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
