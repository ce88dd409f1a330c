"""Typed settings of the points ledger and the credit rating, with their ranges.

The defaults are the 2024 national rules on practitioners' payment eligibility (医保支付资格
管理, 医保发〔2024〕23号): points by severity band 1–3, 4–6, 7–9, 10–12, chosen within the
band by the degree of responsibility (一般, 重要, 主要); summed within a calendar year and
reset the next; 9 points suspend payment eligibility for 1–6 months, 12 end it; after 12
in total no re-registration for 1 year, after 12 at once 3 years. Local variants (an
interview at 6 points, points restored through training) are off by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fraudml.errors import SettingError
from fraudml.loop.verdicts import DEGREES, MAX_POINTS

#: The national severity bands (inclusive).
NATIONAL_BANDS: tuple[tuple[int, int], ...] = ((1, 3), (4, 6), (7, 9), (10, 12))
#: Where in its band each degree of responsibility falls.
POSITIONS = ("low", "middle", "high")


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise SettingError(f"{key}: {message}")


@dataclass(frozen=True)
class PointsRules:
    """The points ledger's rules (``conf/ledger/national.yaml`` and local variants).

    Parameters
    ----------
    bands : tuples (low, high)
        Severity bands covering 1..12 without gaps.
    degree_position : mapping
        Degree of responsibility → ``low``, ``middle`` or ``high`` of the band.
    suspend_at : int
        Year points that suspend payment eligibility.
    suspend_months : mapping
        Year points reached (from ``suspend_at``) → months suspended (1–6); the highest
        key at or below the points applies.
    terminate_at : int
        Year points that end payment eligibility.
    bar_years_total, bar_years_at_once : int
        Years without re-registration after ``terminate_at`` in total, or at once.
    watch_at : int
        Year points from which a practitioner is *under watch* (marked on leads).
    interview_at : int or None
        Local: year points that call for an interview (约谈); ``None``: none.
    restore_per_year : int
        Local: points training may restore in a calendar year (0: none; at most 4 in the
        variants the issue names). Restored points lower the year's total; a suspension
        or termination already decided stands.
    """

    bands: tuple[tuple[int, int], ...] = NATIONAL_BANDS
    degree_position: Mapping[str, str] = field(
        default_factory=lambda: {"一般": "low", "重要": "middle", "主要": "high"}
    )
    suspend_at: int = 9
    suspend_months: Mapping[int, int] = field(default_factory=lambda: {9: 1, 10: 2, 11: 3})
    terminate_at: int = 12
    bar_years_total: int = 1
    bar_years_at_once: int = 3
    watch_at: int = 6
    interview_at: int | None = None
    restore_per_year: int = 0

    def __post_init__(self) -> None:
        bands = tuple(tuple(int(x) for x in b) for b in self.bands)
        object.__setattr__(self, "bands", bands)
        covered = [p for lo, hi in bands for p in range(lo, hi + 1)]
        _check(
            all(lo <= hi for lo, hi in bands) and covered == list(range(1, MAX_POINTS + 1)),
            "ledger.points.bands",
            f"bands must cover 1..{MAX_POINTS} in order without gaps, got {list(bands)}",
        )
        _check(
            set(self.degree_position) == set(DEGREES)
            and set(self.degree_position.values()) <= set(POSITIONS),
            "ledger.points.degree_position",
            f"expected each of {', '.join(DEGREES)} → one of {', '.join(POSITIONS)}",
        )
        _check(
            1 <= self.suspend_at < self.terminate_at <= 100,
            "ledger.points.suspend_at",
            "expected 1 <= suspend_at < terminate_at",
        )
        months = {int(k): int(v) for k, v in self.suspend_months.items()}
        object.__setattr__(self, "suspend_months", months)
        _check(
            bool(months)
            and min(months) == self.suspend_at
            and all(1 <= m <= 6 for m in months.values()),
            "ledger.points.suspend_months",
            f"expected points from suspend_at={self.suspend_at} → 1..6 months, got {months}",
        )
        _check(self.bar_years_total >= 0, "ledger.points.bar_years_total", "expected >= 0")
        _check(self.bar_years_at_once >= 0, "ledger.points.bar_years_at_once", "expected >= 0")
        _check(1 <= self.watch_at <= self.terminate_at, "ledger.points.watch_at", "1..terminate_at")
        _check(
            self.interview_at is None or 1 <= self.interview_at < self.terminate_at,
            "ledger.points.interview_at",
            "expected null or 1 <= interview_at < terminate_at",
        )
        _check(0 <= self.restore_per_year <= 12, "ledger.points.restore_per_year", "0..12")

    def band_of(self, points: int) -> tuple[int, int]:
        """The band holding ``points``."""
        return next(b for b in self.bands if b[0] <= points <= b[1])

    def points_for(self, severity: int, degree: str) -> int:
        """A responsible practitioner's points for a violation of ``severity``."""
        lo, hi = self.band_of(severity)
        position = self.degree_position[degree]
        return {"low": lo, "middle": (lo + hi) // 2, "high": hi}[position]

    def months_for(self, points: int) -> int:
        return max((m for k, m in self.suspend_months.items() if k <= points), default=1)


@dataclass(frozen=True)
class CreditRules:
    """The providers' credit rating (信用评价): 100 points less each item's deduction.

    Each deduction is capped by its item's ``max``; the grades are the least score of each
    grade, from A down (below the last: D).

    Parameters
    ----------
    window_days : int
        The rating looks at verdicts, rule hits and recoveries of this many days before
        ``until``.
    per_verdict, verdict_max : float
        Per confirmed or partial verdict on the provider, its claims or its doctors.
    per_recovered_percent, recovered_max : float
        Per percent of the fund's payments to the provider recovered.
    per_hit_rate, hits_max : float
        Per rule hit per 100 claims.
    per_suspended, per_terminated, practitioners_max : float
        Per practitioner of the provider suspended or terminated as of ``until``.
    grades : mapping
        Grade → least score, e.g. ``{A: 90, B: 75, C: 60}``; below the least, ``D``.
    """

    window_days: int = 365
    per_verdict: float = 5.0
    verdict_max: float = 40.0
    per_recovered_percent: float = 2.0
    recovered_max: float = 30.0
    per_hit_rate: float = 1.0
    hits_max: float = 20.0
    per_suspended: float = 5.0
    per_terminated: float = 10.0
    practitioners_max: float = 20.0
    grades: Mapping[str, float] = field(default_factory=lambda: {"A": 90, "B": 75, "C": 60})
    lowest: str = "D"

    def __post_init__(self) -> None:
        _check(1 <= self.window_days <= 3660, "ledger.credit.window_days", "1..3660 days")
        for name in (
            "per_verdict",
            "verdict_max",
            "per_recovered_percent",
            "recovered_max",
            "per_hit_rate",
            "hits_max",
            "per_suspended",
            "per_terminated",
            "practitioners_max",
        ):
            _check(float(getattr(self, name)) >= 0, f"ledger.credit.{name}", "expected >= 0")
        least = [float(v) for v in self.grades.values()]
        _check(
            bool(least) and least == sorted(least, reverse=True) and len(set(least)) == len(least),
            "ledger.credit.grades",
            f"expected grades best first with falling least scores, got {dict(self.grades)}",
        )

    def grade_of(self, score: float) -> str:
        for grade, least in self.grades.items():
            if score >= float(least):
                return str(grade)
        return self.lowest
