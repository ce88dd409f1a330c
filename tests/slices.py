"""Slices of the committed city, for tests whose cost grows with the data but whose subject
does not need all of it."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

CITY = Path(__file__).resolve().parents[1] / "data" / "synthetic" / "small"


def city_slice(out: Path, n_patients: int = 150) -> Path:
    """The committed city's first ``n_patients`` patients and their claims and fee lines;
    the other tables whole (so some registrations and labels are quarantined: dangling)."""
    out.mkdir(parents=True)
    patients = pq.read_table(CITY / "patients.parquet")
    patients = patients.take(pc.sort_indices(patients, [("patient_id", "ascending")]))
    patients = patients.slice(0, n_patients)
    claims = pq.read_table(CITY / "claims.parquet")
    claims = claims.filter(pc.is_in(claims["patient_id"], patients["patient_id"]))
    items = pq.read_table(CITY / "claim_items.parquet")
    items = items.filter(pc.is_in(items["claim_id"], claims["claim_id"]))
    tables = {"patients": patients, "claims": claims, "claim_items": items}
    for name in ("providers", "doctors", "catalog", "labels", "chronic_registrations"):
        tables[name] = pq.read_table(CITY / f"{name}.parquet")
    for name, table in tables.items():
        pq.write_table(table, out / f"{name}.parquet")
    return out
