"""The period a window covers: ``[start, end)`` on ``admit_time``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir


@dataclass(frozen=True)
class Window:
    """``[start, end)`` on ``admit_time``; ``None`` leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        cond = ibis.literal(True)
        if self.start is not None:
            cond = cond & (ts >= self.start)
        if self.end is not None:
            cond = cond & (ts < self.end)
        return cond

    def before_end(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        return ibis.literal(True) if self.end is None else ts < self.end
