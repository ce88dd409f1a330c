"""The audit log: one JSON line per decision, appended as it is made.

Each line holds the time, the claim (id, patient, provider, admit time), the stage asked
for, the hits (rule, fee line, result, severity, amount), the decision and its reason, and
the version of the rule base that made it (the ``rule_base`` of ``make rules``'
``rules.json``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fraudml.errors import SettingError


class AuditLog:
    """Append-only JSON lines at ``path`` (its folder is made when missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise SettingError(
                f"audit={self.path}: the audit log cannot be written ({exc.strerror or exc})"
            ) from None
        self._lock = threading.Lock()

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
        with self._lock:
            self._fh.write(text)
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def read_audit(path: str | Path) -> list[dict[str, Any]]:
    """Every record of an audit log, in order."""
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
