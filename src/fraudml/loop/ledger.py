"""The points ledger (驾照式记分) and the person file (一人一档) of practitioners.

From the verdict history: every confirmed or partial verdict with points gives each
practitioner named responsible the points of the violation's severity band at the place
their degree of responsibility takes in it (:class:`~fraudml.loop.settings.PointsRules`);
a practitioner verdict with points and nobody named is the practitioner's own, as 主要.
Points add up within a calendar year and reset on 1 January. Walking each practitioner's
events in date order (points before training on the same day):

- the year's points reaching ``suspend_at`` suspend payment eligibility from that day for
  the months the points reached call for; each later violation that year decides it
  again (a longer suspension from that day; a running one is extended, never shortened);
- reaching ``terminate_at`` ends it; re-registration is barred for ``bar_years_total``
  years from that day, or ``bar_years_at_once`` when one violation gave them all;
- locally, reaching ``interview_at`` calls for an interview, and training restores up to
  ``restore_per_year`` points a year (lowering the year's total, not undoing a decision).

Pure frames in, frames out: :func:`ledger` returns the person file (every event), the
ledger (points per practitioner and year) and the status of every practitioner as of a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from fraudml.loop.settings import PointsRules
from fraudml.loop.verdicts import parse_responsible

#: The person file's columns: one row per event of a practitioner.
EVENT_COLUMNS: tuple[str, ...] = (
    "doctor_id",
    "date",
    "event",
    "points",
    "year_points",
    "until",
    "degree",
    "verdict_id",
    "entity_type",
    "entity_id",
    "scheme",
    "note",
)
#: Events: verdicts with points, naming without points, cleared, points restored by
#: training, and the decisions points lead to.
EVENTS = ("points", "named", "cleared", "restored", "interview", "suspended", "terminated")
STATUS_COLUMNS: tuple[str, ...] = (
    "doctor_id",
    "provider_id",
    "status",
    "year_points",
    "total_points",
    "suspended_from",
    "suspended_to",
    "terminated_at",
    "reregister_from",
    "as_of",
)
#: Status of a practitioner, from the most to the least severe.
STATUSES = ("terminated", "suspended", "watch", "active")


@dataclass(frozen=True)
class Ledger:
    """The person file (``events``), points per year (``ledger``) and ``status``."""

    events: pd.DataFrame
    ledger: pd.DataFrame
    status: pd.DataFrame


def point_entries(history: pd.DataFrame, rules: PointsRules) -> pd.DataFrame:
    """One row per practitioner and verdict concerning them: who, when, why, and the
    points (``points`` events), or none (``named``: responsible in a verdict without
    points; ``cleared``: a cleared verdict on the practitioner or naming them)."""
    rows = []
    for r in history.itertuples(index=False):
        severity = None if pd.isna(r.points) else int(r.points)
        named = parse_responsible(r.responsible if isinstance(r.responsible, str) else None)
        if not named and r.entity_type == "doctor":
            named = parse_responsible(f"{r.entity_id}:主要")  # the practitioner's own case
        for person in named:
            if r.verdict == "cleared":
                event, points = "cleared", None
            elif person.points is not None:
                event, points = "points", person.points
            elif severity is not None:
                event, points = "points", rules.points_for(severity, person.degree)
            else:
                event, points = "named", None
            rows.append(
                {
                    "doctor_id": person.doctor_id,
                    "date": pd.Timestamp(r.decided_at).date(),
                    "event": event,
                    "points": points,
                    "degree": person.degree,
                    "verdict_id": r.verdict_id,
                    "entity_type": r.entity_type,
                    "entity_id": r.entity_id,
                    "scheme": r.scheme if isinstance(r.scheme, str) else None,
                    "note": r.note if isinstance(r.note, str) else None,
                }
            )
    return pd.DataFrame(
        rows, columns=[c for c in EVENT_COLUMNS if c not in ("year_points", "until")]
    )


def _shift(day: date, years: int = 0, months: int = 0) -> date:
    """``day`` moved by calendar years and months (31 January + 1 month: 29 February)."""
    return (pd.Timestamp(day) + pd.DateOffset(years=years, months=months)).date()


def _walk(entries: list[dict], rules: PointsRules, until: date) -> tuple[list[dict], dict]:
    """One practitioner's events in order, and their state as of ``until``."""
    out: list[dict] = []
    year, year_points, restored, total = None, 0, 0, 0
    interviewed = False
    state: dict[str, object] = {
        "suspended_from": None,
        "suspended_until": None,
        "terminated_at": None,
        "barred_until": None,
    }

    def emit(entry: dict, event: str, points: int | None, end: date | None = None) -> None:
        out.append(
            {**entry, "event": event, "points": points, "year_points": year_points, "until": end}
        )

    for entry in entries:
        day = entry["date"]
        if day.year != year:
            year, year_points, restored, interviewed = day.year, 0, 0, False
        if entry["event"] in ("named", "cleared"):
            emit(entry, entry["event"], None)  # in the person file, no points
            continue
        if entry["event"] == "restored":
            allowed = min(entry["points"], rules.restore_per_year - restored, year_points)
            if allowed <= 0:
                continue
            restored += allowed
            year_points -= allowed
            emit(entry, "restored", allowed)
            continue
        points = int(entry["points"])
        year_points += points
        total += points
        emit(entry, "points", points)
        decision = {k: entry.get(k) for k in ("verdict_id", "entity_type", "entity_id", "scheme")}
        base = {
            "doctor_id": entry["doctor_id"],
            "date": day,
            "degree": None,
            "note": None,
            **decision,
        }
        if state["terminated_at"] is not None:
            continue  # ended already: points are recorded, the decision stands
        if year_points >= rules.terminate_at:
            years = (
                rules.bar_years_at_once if points >= rules.terminate_at else rules.bar_years_total
            )
            barred = _shift(day, years=years)
            state["terminated_at"], state["barred_until"] = day, barred
            emit(base, "terminated", None, barred)  # until: re-registration allowed from
            continue
        if year_points >= rules.suspend_at:
            # each new violation at or above the threshold decides the suspension again:
            # the points reached call for a length from today, unless the running one is
            # longer already
            end = _shift(day, months=rules.months_for(year_points))
            current = state["suspended_until"]
            if current is None or end > current:
                running = current is not None and state["suspended_from"] <= day < current
                if not running:
                    state["suspended_from"] = day
                state["suspended_until"] = end
                emit(base, "suspended", None, end - timedelta(days=1))  # until: last day
        if rules.interview_at is not None and not interviewed and year_points >= rules.interview_at:
            interviewed = True
            emit(base, "interview", None)
    if year != until.year:
        year_points = 0  # a new calendar year: the points are reset
    return out, {**state, "year_points": year_points, "total_points": total}


def status_of(state: dict, rules: PointsRules, until: date) -> str:
    if state["terminated_at"] is not None:
        return "terminated"
    start, end = state["suspended_from"], state["suspended_until"]
    if start is not None and start <= until < end:
        return "suspended"
    if state["year_points"] >= rules.watch_at:
        return "watch"
    return "active"


def ledger(
    history: pd.DataFrame,
    doctors: pd.DataFrame,
    rules: PointsRules,
    until: date,
    trainings: pd.DataFrame | None = None,
) -> Ledger:
    """The person file, yearly ledger and status of every practitioner as of ``until``.

    Parameters
    ----------
    history : DataFrame
        The verdict history (:func:`fraudml.workflows.feedback.read_history`); verdicts
        decided on or after ``until`` are not counted yet.
    doctors : DataFrame
        ``doctor_id`` and ``provider_id`` of every practitioner (each gets a status).
    rules : PointsRules
    until : date
        The day the status is for (exclusive for events: those before it count).
    trainings : DataFrame, optional
        Training completed (``doctor_id``, ``completed_at``, ``points`` to restore); used
        only when ``rules.restore_per_year`` allows it.

    Returns
    -------
    Ledger
    """
    entries = point_entries(history, rules)
    if trainings is not None and not trainings.empty and rules.restore_per_year > 0:
        restored = pd.DataFrame(
            {
                "doctor_id": trainings.doctor_id.astype(str),
                "date": [pd.Timestamp(d).date() for d in trainings.completed_at],
                "event": "restored",
                "points": trainings.points.astype(int),
                "note": "training",
            }
        )
        entries = pd.concat([entries, restored], ignore_index=True)
    if not entries.empty:
        entries = entries[[d < until for d in entries.date]]
        entries = entries.assign(
            _order=entries.event.map({"points": 0, "named": 0, "cleared": 0, "restored": 1})
        )
        entries = entries.sort_values(["doctor_id", "date", "_order"], kind="stable")
    events, states = [], {}
    for doctor, group in entries.groupby("doctor_id", sort=True) if not entries.empty else []:
        records = group.drop(columns="_order").to_dict("records")
        records = [{k: (None if _missing(v) else v) for k, v in r.items()} for r in records]
        mine, state = _walk(records, rules, until)
        events += mine
        states[str(doctor)] = state
    events_frame = pd.DataFrame(events, columns=list(EVENT_COLUMNS))
    if not events_frame.empty:
        events_frame["points"] = events_frame.points.astype("Int64")
        events_frame["year_points"] = events_frame.year_points.astype("Int64")
    status = _status_frame(doctors, states, rules, until)
    return Ledger(events_frame, _per_year(events_frame), status)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _per_year(events: pd.DataFrame) -> pd.DataFrame:
    """Points added, restored and the year's end total, per practitioner and year."""
    columns = ["doctor_id", "year", "points", "restored", "year_points", "violations"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    e = events.assign(year=[d.year for d in events.date])
    rows = []
    for (doctor, year), g in e.groupby(["doctor_id", "year"], sort=True):
        added = g[g.event == "points"]
        back = g[g.event == "restored"]
        rows.append(
            {
                "doctor_id": doctor,
                "year": int(year),
                "points": int(added.points.sum()),
                "restored": int(back.points.sum()) if not back.empty else 0,
                "year_points": int(g.year_points.iloc[-1]),
                "violations": len(added),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _status_frame(
    doctors: pd.DataFrame, states: dict[str, dict], rules: PointsRules, until: date
) -> pd.DataFrame:
    ids = list(dict.fromkeys([*doctors.doctor_id.astype(str), *states]))
    employer = dict(zip(doctors.doctor_id.astype(str), doctors.provider_id, strict=True))
    empty = {
        "suspended_from": None,
        "suspended_until": None,
        "terminated_at": None,
        "barred_until": None,
        "year_points": 0,
        "total_points": 0,
    }

    def shown(state: dict) -> dict:
        # as the doctors table names them: the last day suspended (inclusive), and the
        # first day re-registration is allowed
        end = state["suspended_until"]
        return {
            "suspended_from": state["suspended_from"],
            "suspended_to": None if end is None else end - timedelta(days=1),
            "terminated_at": state["terminated_at"],
            "reregister_from": state["barred_until"],
            "year_points": state["year_points"],
            "total_points": state["total_points"],
        }

    rows = []
    for doctor in ids:
        state = states.get(doctor, empty)
        rows.append(
            {
                "doctor_id": doctor,
                "provider_id": employer.get(doctor),
                "status": status_of(state, rules, until),
                **shown(state),
                "as_of": until,
            }
        )
    out = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    out["year_points"] = out.year_points.astype("int64")
    out["total_points"] = out.total_points.astype("int64")
    return out


def doctor_suspensions(status: pd.DataFrame) -> pd.DataFrame:
    """The doctors table's suspension columns from the ledger's status: ``doctor_id``,
    ``suspended_from`` and ``suspended_to`` (last day, inclusive; empty: open-ended, for a
    termination), as the rule "billing while suspended" (conf/rules/practice.yaml) and
    the check service read them. Practitioners never suspended are left out."""
    rows = []
    for r in status.itertuples(index=False):
        if r.terminated_at is not None and not pd.isna(r.terminated_at):
            rows.append((r.doctor_id, r.terminated_at, None))
        elif r.suspended_from is not None and not pd.isna(r.suspended_from):
            rows.append((r.doctor_id, r.suspended_from, r.suspended_to))
    return pd.DataFrame(rows, columns=["doctor_id", "suspended_from", "suspended_to"])
