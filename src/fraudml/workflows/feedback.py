"""Feed auditors' verdicts back into a dataset: the verdict history and the labels table.

``make feedback DATA=dir VERDICTS=file`` writes, inside the dataset folder (the one place
fraudml writes into a dataset, because the labels are the dataset's):

- ``feedback/verdicts.parquet``: every verdict ever applied, with the file and row it came
  from and when it was applied (the history the ledger and the credit rating read);
- ``labels.parquet`` (or ``labels.csv`` when the dataset gives its labels so): the user's
  label rows and the labels the verdicts give (:mod:`fraudml.loop.feedback`);
- ``feedback/replaced-labels.parquet``: the user's label rows a verdict superseded.

Each file is replaced atomically, the history last, under a lock; a verdicts file with one
refused row changes nothing, and one already applied changes nothing either.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fraudml.contract import LABEL_ENTITY_TABLES
from fraudml.errors import ContractError
from fraudml.io.atomic import atomic_path
from fraudml.io.load import Dataset
from fraudml.io.write import to_arrow
from fraudml.loop.feedback import (
    LABEL_COLUMNS,
    empty_history,
    merge_labels,
    new_verdicts,
    user_rows,
    with_history,
)
from fraudml.loop.verdicts import KnownIds, VerdictError, check_verdicts, read_verdicts
from fraudml.settings import EngineSettings
from fraudml.workflows.common import Data, data_path, opened

log = logging.getLogger("fraudml")

#: The folder inside a dataset where feedback keeps its history.
FEEDBACK_DIR = "feedback"
HISTORY_FILE = "verdicts.parquet"
REPLACED_FILE = "replaced-labels.parquet"


@dataclass(frozen=True)
class FeedbackResult:
    """What one feedback run did."""

    #: verdict rows read (filled in), rows skipped because their verdict was empty
    read: int
    blank: int
    #: verdicts applied now, and those the history already held (fed before)
    applied: int
    already: int
    #: label rows added and changed
    labels_added: int
    labels_changed: int
    #: verdicts in the history after this run
    history: int
    labels_path: Path | None
    history_path: Path

    @property
    def changed(self) -> bool:
        return self.applied > 0


def history_path(data: str | os.PathLike[str]) -> Path:
    """Where the verdict history of dataset ``data`` lives."""
    return Path(data) / FEEDBACK_DIR / HISTORY_FILE


def read_history(data: str | os.PathLike[str]) -> pd.DataFrame:
    """The verdicts applied to dataset ``data`` so far (empty when none)."""
    path = history_path(data)
    if not path.is_file():
        return empty_history()
    frame = pd.read_parquet(path)
    frame["decided_at"] = [v if v is None else pd.Timestamp(v).date() for v in frame.decided_at]
    return frame


def feedback(
    data: Data,
    verdicts: str | os.PathLike[str],
    *,
    aliases: Mapping[str, str] | None = None,
    sheet: str | None = None,
    verdicts_encoding: str = "utf-8",
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    cache: str | Path | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> FeedbackResult:
    """Apply the verdicts file ``verdicts`` to dataset ``data``.

    Parameters
    ----------
    data : path or Dataset
        The dataset folder (validated here, for the entities verdicts may name).
    verdicts : path
        CSV, XLSX (sheet ``leads``/``线索``, else the first) or Parquet; see
        :mod:`fraudml.loop.verdicts` for the columns and the rules a row must meet.
    aliases : mapping, optional
        Localised header → verdicts column.
    sheet : str, optional
        The workbook sheet holding the verdicts.
    verdicts_encoding : str
        The verdicts CSV's encoding.
    encoding : str
        The dataset's CSV encoding (a ``labels.csv`` is written back in it).
    today : date, optional
        Decisions after it are refused (default: today).
    now : datetime, optional
        The time recorded as ``applied_at`` (default: now).

    Raises
    ------
    VerdictError
        Some rows are refused: each with file, row and reason; nothing is applied.
    ContractError
        The file cannot be read, lacks a required column, or the dataset's labels are a
        part directory (feedback rewrites one labels file).
    """
    root = data_path(data)
    raw = read_verdicts(verdicts, aliases, sheet, verdicts_encoding)
    log.info(
        "%s: %d verdicts filled in, %d rows without a verdict skipped",
        raw.file,
        len(raw.rows),
        raw.blank,
    )
    labels_file = _labels_file(root)
    with _locked(root):
        try:
            # the rows alone first: a file fed before needs no validation of the dataset
            checked = check_verdicts(raw, None, today)
        except VerdictError:
            checked = None
        history = read_history(root)
        new = new_verdicts(checked, history) if checked is not None else None
        if new is not None and new.empty:
            log.info("all %d verdicts were applied before: nothing changed", len(checked))
            return FeedbackResult(
                len(raw.rows),
                raw.blank,
                0,
                len(checked),
                0,
                0,
                len(history),
                labels_file,
                history_path(root),
            )
        with opened(data, encoding, engine, cache) as ds:
            # every refusal at once, the unknown entities among them
            checked = check_verdicts(raw, _known_ids(ds), today)
        new = new_verdicts(checked, history)
        already = len(checked) - len(new)
        labels = _read_labels(labels_file, encoding)
        replaced_path = root / FEEDBACK_DIR / REPLACED_FILE
        replaced = pd.read_parquet(replaced_path) if replaced_path.is_file() else labels.iloc[0:0]
        after = with_history(history, new, raw.file.name, now or datetime.now())
        merged = merge_labels(user_rows(labels, replaced, history), after, labels)
        target = labels_file or root / "labels.parquet"
        all_replaced = _union(replaced, merged.replaced)
        _write_parquet(all_replaced, replaced_path, labels=True)
        _write_labels(merged.labels, target, encoding)
        _write_parquet(after, history_path(root), labels=False)
    log.info(
        "applied %d verdicts (%d applied before): %d label rows added, %d changed; "
        "history %s holds %d",
        len(new),
        already,
        merged.added,
        merged.changed,
        history_path(root),
        len(after),
    )
    return FeedbackResult(
        len(raw.rows),
        raw.blank,
        len(new),
        already,
        merged.added,
        merged.changed,
        len(after),
        target,
        history_path(root),
    )


def _known_ids(ds: Dataset) -> KnownIds:
    """Which of some ids the dataset's accepted tables hold, per entity type."""

    def known(entity_type: str, ids: set[str]) -> set[str]:
        table, column = LABEL_ENTITY_TABLES[entity_type]
        if table not in ds or not ids:
            return set()
        t = ds.table(table)
        found = t.filter(t[column].isin(sorted(ids))).select(column).distinct().to_pandas()
        return set(found[column].astype(str))

    return known


def _labels_file(root: Path) -> Path | None:
    """The dataset's labels file (``None`` when it has none); a part directory stops."""
    for form in ("labels", "labels.parquet"):
        if (root / form).is_dir():
            raise ContractError(
                f"{root / form}/: the labels table is a part directory; feedback rewrites "
                "one labels file, so give it as labels.parquet or labels.csv"
            )
    found = [root / n for n in ("labels.parquet", "labels.csv") if (root / n).is_file()]
    if (root / "labels.csv.gz").is_file():
        raise ContractError(
            f"{root / 'labels.csv.gz'}: feedback rewrites the labels table; give it as "
            "labels.parquet or labels.csv"
        )
    if len(found) > 1:
        raise ContractError(f"{root}: labels are given twice ({found[0].name}, {found[1].name})")
    return found[0] if found else None


def _read_labels(path: Path | None, encoding: str) -> pd.DataFrame:
    if path is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LABEL_COLUMNS})
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        return frame.astype(object).where(frame != "", None)
    return pd.read_parquet(path).astype(object)


def _typed_labels(labels: pd.DataFrame) -> pd.DataFrame:
    out = labels.copy()
    out["label"] = pd.array([None if pd.isna(v) else int(float(v)) for v in out.label], "Int64")
    days = [None if v is None or pd.isna(v) else pd.Timestamp(v).date() for v in out.decided_at]
    out["decided_at"] = pd.Series(days, index=out.index, dtype=object)
    return out


def _write_labels(labels: pd.DataFrame, target: Path, encoding: str) -> None:
    if target.suffix == ".csv":
        text = labels.copy()
        text["decided_at"] = [
            "" if v is None or pd.isna(v) else pd.Timestamp(v).date().isoformat()
            for v in text.decided_at
        ]
        text["label"] = ["" if pd.isna(v) else str(int(float(v))) for v in text.label]
        with atomic_path(target) as tmp:
            text.to_csv(tmp, index=False, encoding=encoding)
        return
    _write_parquet(labels, target, labels=True)


def _write_parquet(frame: pd.DataFrame, target: Path, *, labels: bool) -> None:
    if labels:
        table = to_arrow(_typed_labels(frame), "labels")
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _union(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in (old, new) if not f.empty]
    if not frames:
        return new
    both = pd.concat(frames, ignore_index=True).astype(object)
    return both[~both.astype(str).duplicated()].reset_index(drop=True)


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One feedback run at a time per dataset."""
    folder = root / FEEDBACK_DIR
    if not root.is_dir():
        raise ContractError(f"{root}: dataset directory not found")
    folder.mkdir(exist_ok=True)
    with (folder / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ContractError(
                f"{root}: another feedback run is applying verdicts to this dataset"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
