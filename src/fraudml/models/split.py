"""The time split of training: fit, a later slice, the label gap and the evaluation window.

Time-based, never a random row split: models are fitted on profiles of the window before
``until`` minus the label-delay gap, with the labels decided before ``until``; early
stopping and calibration use the slice just before the gap; evaluation uses the window
from ``until`` on. Each part must hold claims, or training stops saying which does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from fraudml.errors import TrainingError
from fraudml.io.load import Dataset
from fraudml.window import Window


@dataclass(frozen=True)
class TimeSplit:
    """``[start, fit_end)`` fits, ``[fit_end, label_end)`` stops and calibrates, labels
    are those decided before ``until``; ``[until, eval_end)`` evaluates."""

    start: datetime
    fit_end: datetime
    label_end: datetime
    until: datetime
    eval_end: datetime | None

    @property
    def fit(self) -> Window:
        return Window(self.start, self.fit_end)

    @property
    def later(self) -> Window:
        return Window(self.fit_end, self.label_end)

    @property
    def evaluation(self) -> Window:
        return Window(self.until, self.eval_end)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "start": self.start.date().isoformat(),
            "fit_end": self.fit_end.date().isoformat(),
            "label_end": self.label_end.date().isoformat(),
            "until": self.until.date().isoformat(),
            "eval_end": self.eval_end.date().isoformat() if self.eval_end else None,
        }


def time_split(
    data_start: datetime,
    data_end: datetime,
    until: datetime | None,
    *,
    validation_days: int,
    gap_days: int,
    eval_days: int | None,
) -> TimeSplit:
    """The split for data spanning ``[data_start, data_end]``; without ``until``, the
    first two thirds of the period train and the rest evaluates."""
    start = datetime.combine(data_start.date(), datetime.min.time())
    if until is None:
        until = start + (data_end - start) * 2 / 3
        until = datetime.combine(until.date(), datetime.min.time())
    label_end = until - timedelta(days=gap_days)
    fit_end = label_end - timedelta(days=validation_days)
    if fit_end <= start:
        raise ValueError(
            f"UNTIL={until.date()} leaves no fitting window after the {validation_days}-day "
            f"validation slice and {gap_days}-day label gap (data start {start.date()})"
        )
    eval_end = until + timedelta(days=eval_days) if eval_days else None
    return TimeSplit(start, fit_end, label_end, until, eval_end)


def admit_span(ds: Dataset) -> tuple[datetime, datetime] | None:
    """The first and last ``admit_time`` of the accepted claims; ``None`` without claims."""
    claims = ds.table("claims")
    first, last = claims.admit_time.min().execute(), claims.admit_time.max().execute()
    if first is None or pd.isna(first):
        return None
    return pd.Timestamp(first).to_pydatetime(), pd.Timestamp(last).to_pydatetime()


def span_text(span: tuple[datetime, datetime]) -> str:
    """``2024-01-01 to 2024-12-31`` (days are enough to choose FROM and UNTIL by)."""
    return f"{span[0].date().isoformat()} to {span[1].date().isoformat()}"


def _day(moment: datetime) -> str:
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat(" ", "minutes")


def window_text(window: Window) -> str:
    """``2024-01-01 … 2024-09-01``, with an open side named as such."""
    start = _day(window.start) if window.start else "start of data"
    end = _day(window.end) if window.end else "end of data"
    return f"{start} … {end}"


def claims_in(ds: Dataset, window: Window) -> int:
    """How many accepted claims are admitted in ``window``."""
    claims = ds.table("claims")
    return int(claims.filter(window.holds(claims.admit_time)).count().execute())


def require_claims(ds: Dataset) -> tuple[datetime, datetime]:
    """The claims' admit_time span; :class:`TrainingError` when there are none (a dataset
    of patients and providers only validates, but there is nothing to learn from)."""
    span = admit_span(ds)
    if span is None:
        raise TrainingError(
            "the dataset holds no accepted claims (no admit_time span), so there is nothing "
            "to fit or evaluate"
        )
    return span


def check_time_split(ds: Dataset, split: TimeSplit) -> None:
    """Refuse a split one of whose parts holds no claims: the fitting window (the models'
    rows), the validation slice (early stopping and calibration) and the evaluation
    window. Each would otherwise fail minutes later, or train on nothing in silence."""
    parts = {
        "fitting window": split.fit,
        "validation slice": split.later,
        "evaluation window": split.evaluation,
    }
    for part, window in parts.items():
        if claims_in(ds, window):
            continue
        listed = ", ".join(f"{name} {window_text(w)}" for name, w in parts.items())
        raise TrainingError(
            f"the {part} {window_text(window)} holds no claims (split: {listed}); the data's "
            f"admit_time spans {span_text(require_claims(ds))}. Set UNTIL (period.end) where "
            "claims lie on both sides of it, or shorten evaluate.validation_days / "
            "evaluate.label_delay_days"
        )


def plan_time_split(
    ds: Dataset,
    since: datetime | None,
    until: datetime | None,
    *,
    validation_days: int,
    gap_days: int,
    eval_days: int | None,
) -> TimeSplit:
    """The time split of ``ds`` (:func:`time_split` over its claims' span), checked by
    :func:`check_time_split`; :class:`TrainingError` says why it cannot train."""
    span = require_claims(ds)
    try:
        split = time_split(
            since or span[0],
            span[1],
            until,
            validation_days=validation_days,
            gap_days=gap_days,
            eval_days=eval_days,
        )
    except ValueError as exc:
        raise TrainingError(f"{exc}; the data's admit_time spans {span_text(span)}") from None
    check_time_split(ds, split)
    return split
