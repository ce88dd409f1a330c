"""Validate a dataset: read, quarantine, reconcile; the accepted tables stay open."""

from __future__ import annotations

import logging
import os
from datetime import date, datetime
from pathlib import Path

from fraudml.io.load import Dataset, load_dataset
from fraudml.io.outputs import OutputClaim
from fraudml.settings import EngineSettings

log = logging.getLogger("fraudml")


def validate(
    data: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | OutputClaim | None = None,
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    database: str | Path | None = None,
    cache: str | Path | None = None,
    until: date | datetime | None = None,
) -> Dataset:
    """Validate the dataset folder ``data`` against the contract.

    Parameters
    ----------
    data : path
        The dataset folder (tables as Parquet, Parquet parts or CSV).
    out : path, optional
        Where to write ``quarantine/``, ``validation.json`` and ``validated.duckdb``, whole
        or not at all (see :mod:`fraudml.io.outputs`).
    encoding : str
        CSV encoding (``gb18030`` for legacy Chinese extracts).
    engine : EngineSettings, optional
        DuckDB's memory limit and threads.
    database : path, optional
        A DuckDB file to hold the accepted tables instead.
    cache : path, optional
        Kept validations: with ``out`` this validation is kept there for later commands;
        without it one kept for these files is reused (:mod:`fraudml.io.cache`).
    until : date or datetime, optional
        A period's end: of claim tables partitioned by month only the months before it
        are read (:func:`fraudml.io.load_dataset`); a flat dataset is read whole.

    Returns
    -------
    Dataset
        The accepted tables (Ibis, on DuckDB), ``reconciliation`` (read / accepted /
        quarantined per table and reason), ``warnings``; close it (or use ``with``).
    """
    engine = engine or EngineSettings()
    ds = load_dataset(
        data,
        out=out,
        encoding=encoding,
        database=database,
        cache=cache,
        engine=engine,
        until=until,
    )
    for warning in ds.warnings:
        log.warning("%s", warning)
    return ds
