"""Validation of a dataset: fraudml's loader, and an idiomatic pandas version of the same checks.

The pandas version is the baseline a data scientist would write first: read every table
into memory, check with vectorised pandas. Both return the quarantined rows per table,
and the run checks that they agree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fraudml import load_dataset
from fraudml.contract import TABLES_BY_NAME


def run_fraudml(root: Path) -> dict[str, int]:
    with (
        tempfile.TemporaryDirectory(dir=root.parent) as out,
        load_dataset(root, out=Path(out)) as ds,
    ):
        return {t.table: t.quarantined for t in ds.reconciliation.tables}


def _read(root: Path, name: str) -> pd.DataFrame:
    single = root / f"{name}.parquet"
    return pd.read_parquet(single if single.exists() else root / name)


def _column_faults(df: pd.DataFrame, name: str) -> pd.Series:
    bad = pd.Series(False, index=df.index)
    for col in TABLES_BY_NAME[name].columns:
        if col.name not in df and col.nullable:
            continue  # an optional column the data does not carry: read as empty
        s = df[col.name]
        if not col.nullable:
            bad |= s.isna()
        if col.codes is not None:
            codes = [int(c) for c in col.codes] if col.type == "int" else list(col.codes)
            bad |= s.notna() & ~s.isin(codes)
        if col.min_value is not None:
            bad |= s < col.min_value
        if col.max_value is not None:
            bad |= s > col.max_value
    return bad


def run_pandas(root: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    providers = _read(root, "providers")
    bad = _column_faults(providers, "providers") | providers.duplicated("provider_id")
    providers_ok = providers.loc[~bad, "provider_id"]
    counts["providers"] = int(bad.sum())

    patients = _read(root, "patients")
    bad = _column_faults(patients, "patients") | patients.duplicated("patient_id")
    patients_ok = patients.loc[~bad, "patient_id"]
    counts["patients"] = int(bad.sum())

    claims = _read(root, "claims")
    bad = (
        _column_faults(claims, "claims")
        | claims.duplicated("claim_id")
        | (claims["discharge_time"] < claims["admit_time"])
        | ~claims["patient_id"].isin(patients_ok)
        | ~claims["provider_id"].isin(providers_ok)
    )
    claims_ok = claims.loc[~bad, "claim_id"]
    counts["claims"] = int(bad.sum())
    del claims

    items = _read(root, "claim_items")
    gap = (items["amount"] - items["quantity"] * items["unit_price"]).abs()
    bad = (
        _column_faults(items, "claim_items")
        | items.duplicated(["claim_id", "line_no"])
        | (items["quantity"] < 0)
        | (gap > 0.01 + 1e-6)
        | ~items["claim_id"].isin(claims_ok)
    )
    counts["claim_items"] = int(np.count_nonzero(bad))
    return counts
