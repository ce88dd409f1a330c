"""Verdicts into labels: the history of verdicts and the labels table it implies.

Pure frames in, frames out; :mod:`fraudml.workflows.feedback` reads and writes the files.

Every verdict ever applied is kept in the *history* (one row per decision, never changed).
The labels table is recomputed from the user's own label rows and that history:

- a verdict gives the label of its entity and scheme: 1 for ``confirmed`` and ``partial``,
  0 for ``cleared``, with ``source=audit`` and the verdict's ``decided_at``;
- the labels table holds one row per entity and scheme, so where several decisions (the
  user's row and verdicts) concern one key, the latest decides the label, and its
  ``decided_at`` is when that value first became known without being overturned since
  (a confirmation of a label the data already had, but earlier, makes it known earlier;
  a later one changes nothing);
- a user's row that a verdict supersedes is kept aside (``replaced``), never lost, so the
  labels can always be recomputed and feeding the same verdicts twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from fraudml.loop.verdicts import COLUMNS

#: The contract's labels columns (src/fraudml/contract.py LABELS).
LABEL_COLUMNS: tuple[str, ...] = (
    "entity_type",
    "entity_id",
    "label",
    "scheme",
    "decided_at",
    "source",
)
#: Columns of the verdict history.
HISTORY_COLUMNS: tuple[str, ...] = (
    "verdict_id",
    *COLUMNS,
    "label",
    "file",
    "row",
    "applied_at",
)
#: ``source`` of every label a verdict gives.
AUDIT = "audit"
#: Stand-in for an empty scheme inside a key (a scheme may be empty; a key may not).
_NO_SCHEME = "\x00"


@dataclass(frozen=True)
class Merged:
    """The labels table after the verdicts, and the user's rows they superseded."""

    labels: pd.DataFrame
    replaced: pd.DataFrame
    #: keys whose label row is new (no row before) / changed (label, date or source)
    added: int
    changed: int


def new_verdicts(checked: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """The checked verdicts not in ``history`` yet (by ``verdict_id``)."""
    return checked[~checked.verdict_id.isin(set(history.verdict_id))].reset_index(drop=True)


def with_history(
    history: pd.DataFrame, new: pd.DataFrame, file: str, applied_at: datetime
) -> pd.DataFrame:
    """``history`` with the verdicts ``new`` appended, read from ``file`` at ``applied_at``."""
    added = new.assign(file=file, applied_at=pd.Timestamp(applied_at).floor("s"))
    frames = [f for f in (empty_history() if history.empty else history, added) if not f.empty]
    out = pd.concat(frames, ignore_index=True) if frames else empty_history()
    return out[list(HISTORY_COLUMNS)]


def empty_history() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    out["points"] = out.points.astype("Int64")
    out["label"] = out.label.astype("int64")
    out["amount_recovered"] = out.amount_recovered.astype("float64")
    out["row"] = out.row.astype("int64")
    out["applied_at"] = pd.Series(dtype="datetime64[s]")
    return out


def _keys(frame: pd.DataFrame) -> pd.Series:
    scheme = frame.scheme.astype(object).where(frame.scheme.notna(), _NO_SCHEME)
    return (
        frame.entity_type.astype(str)
        + "\x1f"
        + frame.entity_id.astype(str)
        + "\x1f"
        + scheme.astype(str)
    )


def _as_date(value: object) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None


def _as_label(value: object) -> int | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return int(number) if number in (0.0, 1.0) else None


def feedback_keys(history: pd.DataFrame) -> set[str]:
    """The label keys the verdicts of ``history`` decide."""
    return set(_keys(history)) if not history.empty else set()


def user_rows(
    labels: pd.DataFrame, replaced: pd.DataFrame, history_before: pd.DataFrame
) -> pd.DataFrame:
    """The user's own label rows: the current table without the rows feedback wrote
    (``source=audit`` on a key the earlier history decides), and the user's rows earlier
    feedback superseded (unless the table holds a user's row for that key again)."""
    if labels.empty:
        mine = labels
    else:
        written = labels.source.astype(str).eq(AUDIT) & _keys(labels).isin(
            feedback_keys(history_before)
        )
        mine = labels[~written]
    if replaced.empty:
        return mine.reset_index(drop=True)
    back = replaced[~_keys(replaced).isin(set(_keys(mine)) if not mine.empty else set())]
    frames = [f for f in (mine, back) if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else mine.iloc[0:0]


def merge_labels(users: pd.DataFrame, history: pd.DataFrame, before: pd.DataFrame) -> Merged:
    """The labels table of ``users`` (the user's rows) and the verdicts of ``history``.

    ``before`` is the labels table as it stood, to count the rows added and changed.
    Columns of the user's table beyond the contract's are carried (empty on audit rows).
    Rows come out in a stable order: the user's rows that stand, in their order, then the
    rows verdicts decide, by key.
    """
    columns = list(dict.fromkeys([*LABEL_COLUMNS, *users.columns]))
    users = users.reindex(columns=columns)
    if history.empty:
        return Merged(users, users.iloc[0:0], 0, 0)
    decided_keys = feedback_keys(history)
    user_keys = _keys(users) if not users.empty else pd.Series(dtype=str)
    standing = users[~user_keys.isin(decided_keys)] if not users.empty else users
    involved = users[user_keys.isin(decided_keys)] if not users.empty else users
    audit = pd.DataFrame(
        {
            "entity_type": history.entity_type,
            "entity_id": history.entity_id,
            "label": history.label.astype(int),
            "scheme": history.scheme,
            "decided_at": [_as_date(v) for v in history.decided_at],
            "source": AUDIT,
        }
    ).reindex(columns=columns)
    decisions = pd.concat(
        [
            involved.assign(_user=True, _seq=range(len(involved))),
            audit.assign(_user=False, _seq=range(len(audit))),
        ],
        ignore_index=True,
    )
    decisions["_key"] = _keys(decisions)
    decisions["_date"] = [_as_date(v) for v in decisions.decided_at]
    decisions["_label"] = [_as_label(v) for v in decisions.label]
    # undated user rows were known from the start: they sort first
    decisions["_order"] = [d.toordinal() if d else 0 for d in decisions._date]
    # within one day a user's row comes before the verdicts, so the audit decides the day
    decisions["_user_first"] = ~decisions._user
    decisions = decisions.sort_values(["_key", "_order", "_user_first", "_seq"], kind="stable")
    chosen_rows, replaced_rows = [], []
    for _, group in decisions.groupby("_key", sort=True):
        labels = group._label.tolist()
        start = len(labels) - 1
        while start > 0 and labels[start - 1] == labels[-1]:
            start -= 1
        first = group.iloc[start]
        row = first[columns].copy()
        if not first._user:
            row["label"] = labels[-1]
        chosen_rows.append(row)
        users_here = group[group._user]
        if not first._user or len(users_here) > 1:
            keep = first.name if first._user else None
            replaced_rows += [r[columns] for i, r in users_here.iterrows() if i != keep]
    decided = pd.DataFrame(chosen_rows, columns=columns)
    replaced = pd.DataFrame(replaced_rows, columns=columns)
    labels = pd.concat(
        [f for f in (standing, decided) if not f.empty] or [users.iloc[0:0]], ignore_index=True
    )
    added, changed = _changes(before, labels)
    return Merged(labels.reset_index(drop=True), replaced.reset_index(drop=True), added, changed)


def _changes(before: pd.DataFrame, after: pd.DataFrame) -> tuple[int, int]:
    """Keys new in ``after`` and keys whose row differs (label, date or source)."""

    def rows(frame: pd.DataFrame) -> dict[str, tuple]:
        if frame.empty:
            return {}
        return {
            k: (_as_label(lab), _as_date(d), None if pd.isna(s) else str(s))
            for k, lab, d, s in zip(
                _keys(frame), frame.label, frame.decided_at, frame.source, strict=True
            )
        }

    old, new = rows(before), rows(after)
    added = sum(1 for k in new if k not in old)
    changed = sum(1 for k, v in new.items() if k in old and old[k] != v)
    return added, changed
