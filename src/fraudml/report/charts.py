"""Small self-contained SVG charts of a lead card (geometry only; the template escapes
the labels): the lead against its peers' distribution, and the timeline of its claims.

Labels are never cut: a measure's name is an HTML caption that wraps, and the numbers on
an axis are written whole, anchored inside the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from fraudml.i18n import quantity

PEER_WIDTH = 320
PEER_HEIGHT = 44
PAD = 10
TIMELINE_WIDTH = 620
TIMELINE_HEIGHT = 90


def _x(v: float, lo: float, hi: float, width: int) -> float:
    return round(PAD + (v - lo) / (hi - lo) * (width - 2 * PAD), 1)


def peer_chart(reason: dict, lang: str, currency: str = "CNY") -> dict | None:
    """The lead's value against its peers: the 10–90% and 25–75% ranges of the peer group
    (``dist``, :data:`fraudml.scoring.reasons.QUANTILES`) or its median alone, the lead
    as a red dot. ``None`` for a reason with no value or nothing to compare with."""
    value, peer, dist = reason.get("value"), reason.get("peer"), reason.get("dist")
    if value is None or (not dist and peer is None):
        return None
    unit = reason.get("unit", "")
    q = list(dist) if dist else [peer, peer, peer, peer, peer]
    lo, hi = min([value, *q]), max([value, *q])
    if hi == lo:
        hi = lo + 1.0
    w = PEER_WIDTH
    return {
        "width": w,
        "height": PEER_HEIGHT,
        "name": reason.get("name") or reason.get("feature", ""),
        "range": (_x(q[0], lo, hi, w), _x(q[4], lo, hi, w)),
        "box": (_x(q[1], lo, hi, w), _x(q[3], lo, hi, w)),
        "median": _x(q[2], lo, hi, w),
        "lead": _x(value, lo, hi, w),
        "has_dist": bool(dist),
        "low": quantity(lo, unit, lang, currency),
        "high": quantity(hi, unit, lang, currency),
        "value": quantity(value, unit, lang, currency),
        "peer": quantity(q[2], unit, lang, currency),
    }


def timeline(
    days: Sequence[tuple[date, float, int, bool]],
    start: date | None,
    end: date | None,
    lang: str,
    currency: str = "CNY",
) -> dict | None:
    """One bar per day with claims: ``(day, fund paid, claims, hit by a rule)``, on the
    period ``[start, end)`` (the days' own span when open); bars as tall as the fund
    paid, red where a rule hit a claim of that day."""
    if not days:
        return None
    first = start or min(d for d, *_ in days)
    last = end or max(d for d, *_ in days)
    span = max((last - first).days, 1)
    top = max(max(paid for _, paid, _, _ in days), 1e-9)
    w, h = TIMELINE_WIDTH, TIMELINE_HEIGHT
    plot = h - 28
    bar = max(2.0, min(14.0, (w - 2 * PAD) / span - 1))
    bars = []
    for d, paid, n, hit in sorted(days):
        x = PAD + (d - first).days / span * (w - 2 * PAD - bar)
        height = max(1.0, paid / top * plot)
        bars.append(
            {
                "x": round(x, 1),
                "y": round(8 + plot - height, 1),
                "w": round(bar, 1),
                "h": round(height, 1),
                "fill": "#c0392b" if hit else "#4f86c6",
                "title": f"{d.isoformat()} · {n} · {quantity(paid, '元', lang, currency)}",
            }
        )
    return {
        "width": w,
        "height": h,
        "bars": bars,
        "axis_y": 8 + plot,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "top": quantity(top, "元", lang, currency),
    }
