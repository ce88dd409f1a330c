"""The reconciliation table: read = accepted + quarantined, per table and per reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from fraudml.io.errors import ReconciliationError


@dataclass
class TableCount:
    """Row counts of one table in one run."""

    table: str
    source: str
    read: int
    accepted: int
    quarantined: int
    #: quarantined rows by their first reason; sums to ``quarantined``.
    reasons: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        """Raise :class:`ReconciliationError` unless every row is accounted for."""
        if self.accepted + self.quarantined != self.read:
            raise ReconciliationError(
                f"{self.table}: read {self.read} rows but accepted {self.accepted} + "
                f"quarantined {self.quarantined} = {self.accepted + self.quarantined}"
            )
        if sum(self.reasons.values()) != self.quarantined:
            raise ReconciliationError(
                f"{self.table}: quarantined {self.quarantined} rows but reasons count "
                f"{sum(self.reasons.values())}"
            )


@dataclass
class Reconciliation:
    """Counts of every table a run read."""

    tables: list[TableCount] = field(default_factory=list)

    def add(self, count: TableCount) -> None:
        count.check()
        self.tables.append(count)

    def __getitem__(self, table: str) -> TableCount:
        for t in self.tables:
            if t.table == table:
                return t
        raise KeyError(table)

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables)

    def to_dict(self) -> list[dict[str, object]]:
        return [asdict(t) for t in self.tables]

    def rows(self) -> list[tuple[str, str, int, int, int]]:
        """(table, reason, read, accepted, quarantined) rows, a total line per table first."""
        out: list[tuple[str, str, int, int, int]] = []
        for t in self.tables:
            out.append((t.table, "", t.read, t.accepted, t.quarantined))
            for reason, n in sorted(t.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(("", reason, 0, 0, n))
        return out
