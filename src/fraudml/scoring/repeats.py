"""Leads raised before: a lead an earlier month already raised is marked ``repeat``.

An audit team works a month's leads knowing which ones it has seen. The history is the
earlier scoring outputs themselves (each folder's ``leads.parquet`` with the window of its
``manifest.json``), read only: scoring keeps no state of its own beside its outputs, so
the history is exactly what was handed to the auditors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pandas as pd

log = logging.getLogger("fraudml")

HISTORY_COLUMNS = ["entity_type", "entity_id", "first_raised"]


def earlier_leads(
    folders: Iterable[Path], before: date | None, namespace: str | None = None
) -> pd.DataFrame:
    """The leads of the scoring outputs in ``folders`` whose period ended by ``before``.

    Parameters
    ----------
    folders : iterable of Path
        Earlier scoring outputs (folders holding ``manifest.json`` and ``leads.parquet``);
        folders that hold neither are passed over.
    before : date, optional
        The start of the period being scored: only outputs whose window ends on or
        before it are earlier months. ``None`` (an open period) has no earlier month.
    namespace : str, optional
        Only outputs scored with this model namespace (another city's leads never
        count); ``None`` takes every namespace.

    Returns
    -------
    DataFrame
        One row per entity: ``entity_type``, ``entity_id`` and ``first_raised``, the
        start (or, when open, the end) of the earliest period that raised it.
    """
    parts = []
    if before is not None:
        for folder in folders:
            manifest, leads = folder / "manifest.json", folder / "leads.parquet"
            if not (manifest.is_file() and leads.is_file()):
                continue
            try:
                facts = json.loads(manifest.read_text(encoding="utf-8"))
                window = facts.get("window") or {}
                end = date.fromisoformat(str(window["end"])[:10])
            except (ValueError, KeyError, TypeError, OSError):
                log.warning("%s: no readable scoring window, not read as history", manifest)
                continue
            if end > before or (namespace and facts.get("namespace", namespace) != namespace):
                continue
            start = window.get("start")
            raised = date.fromisoformat(str(start)[:10]) if start else end
            frame = pd.read_parquet(leads, columns=["entity_type", "entity_id"])
            parts.append(frame.assign(first_raised=pd.Timestamp(raised)))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS}).astype(
            {"first_raised": "datetime64[ns]"}
        )
    history = pd.concat(parts, ignore_index=True)
    return history.groupby(["entity_type", "entity_id"], as_index=False)["first_raised"].min()


def mark_repeats(leads: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """``leads`` with ``repeat`` (raised in an earlier month) and ``first_raised`` (the
    start of the first month that raised it; empty for a new lead). Order and other
    columns are kept."""
    keyed = leads.merge(history, on=["entity_type", "entity_id"], how="left", validate="m:1")
    keyed.index = leads.index
    out = leads.copy()
    out["first_raised"] = pd.to_datetime(keyed["first_raised"]).dt.date
    out["repeat"] = keyed["first_raised"].notna().to_numpy()
    return out


def sibling_outputs(out: Path | None, history: Path | None) -> list[Path]:
    """Where earlier outputs are looked for: ``history`` when given, else the folder
    that holds this output (``outputs/score/<month>`` beside earlier months)."""
    root = history if history is not None else (out.parent if out is not None else None)
    if root is None or not root.is_dir():
        return []
    own = out.resolve() if out is not None else None
    return sorted(p for p in root.iterdir() if p.is_dir() and p.resolve() != own)
