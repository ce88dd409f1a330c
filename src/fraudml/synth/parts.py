"""A city too big to simulate at once, written in parts: independent sub-cities.

The simulator holds a whole city in memory (about 4.9 GiB at 10M fee lines), so a
100M-line city is written as sub-cities: each is an ordinary simulated city of its own
seed (``seed + index``), its identifiers suffixed ``-rNN`` so that the parts never share a
patient, provider, doctor, claim or trace code. They share the catalog (the synthetic
catalog does not depend on the seed) and the period. Each part is written into the one
dataset as soon as it is simulated, its claims and fee lines Hive-partitioned by month
(``claims/month=2024-09/part-NN.parquet``, a fee line in its claim's month), the other
tables as part directories (``patients/part-NN.parquet``). Running each part in a process
of its own keeps the peak memory that of one part.

What a part writes for a given seed is what :func:`fraudml.synth.simulate` gives for it,
identifiers aside: the simulator itself is unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from fraudml.io.write import to_arrow
from fraudml.synth.simulate import SimulationConfig, simulate

log = logging.getLogger(__name__)

#: Identifier columns of each table, suffixed per part.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id",),
    "providers": ("provider_id",),
    "doctors": ("doctor_id", "provider_id"),
    "claims": ("claim_id", "patient_id", "provider_id", "doctor_id"),
    "claim_items": ("claim_id", "trace_code"),
    "chronic_registrations": ("patient_id",),
    "labels": ("entity_id",),
}
#: Tables written Hive-partitioned by month.
BY_MONTH = ("claims", "claim_items")


def suffix(index: int) -> str:
    return f"-r{index:02d}"


def part_tables(cfg: SimulationConfig, index: int) -> dict[str, pd.DataFrame]:
    """Sub-city ``index``: the city of seed ``cfg.seed + index``, identifiers suffixed."""
    tables = simulate(replace(cfg, seed=cfg.seed + index))
    tail = suffix(index)
    for name, columns in ID_COLUMNS.items():
        frame = tables[name]
        for column in columns:
            values = frame[column]
            frame[column] = values.where(values.isna(), values.astype(str) + tail)
    return tables


def write_part(tables: dict[str, pd.DataFrame], root: Path, index: int) -> dict[str, int]:
    """Write one part's tables into the dataset ``root``; return its row counts.

    The catalog is written by part 0 only. A part's files are named after it, so writing
    a part again replaces it.
    """
    name = f"part-{index:02d}.parquet"
    month = tables["claims"].set_index("claim_id").admit_time.dt.strftime("%Y-%m")
    for table, frame in tables.items():
        if table == "catalog":
            if index == 0:
                pq.write_table(to_arrow(frame, table), root / "catalog.parquet")
            continue
        if table not in BY_MONTH:
            (root / table).mkdir(parents=True, exist_ok=True)
            pq.write_table(to_arrow(frame, table), root / table / name, compression="zstd")
            continue
        months = month.reindex(frame.claim_id).to_numpy()
        for value, held in frame.groupby(months, sort=True):
            folder = root / table / f"month={value}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                to_arrow(held.reset_index(drop=True), table), folder / name, compression="zstd"
            )
    return {t: len(f) for t, f in tables.items()}


def simulate_part(cfg: SimulationConfig, root: Path, index: int) -> dict[str, int]:
    """Simulate part ``index`` and write it into ``root`` (see the module's notes)."""
    counts = write_part(part_tables(cfg, index), root, index)
    log.info("part %d: %s claims, %s fee lines", index, counts["claims"], counts["claim_items"])
    return counts
