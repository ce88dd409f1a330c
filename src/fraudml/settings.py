"""Typed settings with their ranges, checked before any work starts.

Entry points turn Hydra config into these; library functions check the same values
when called directly, so a wrong value stops with its key named instead of failing deep
inside the engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fraudml.errors import SettingError

#: DuckDB's memory sizes: a number and a unit (``3GB``, ``512MiB``, ``1.5 GB``).
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class EngineSettings:
    """The embedded engine: DuckDB's memory limit (``None``: DuckDB's default) and
    threads (``None``: every core)."""

    memory_limit: str | None = "3GB"
    threads: int | None = None

    def __post_init__(self) -> None:
        limit = self.memory_limit
        if limit is not None and (not isinstance(limit, str) or not _MEMORY.match(limit)):
            raise SettingError(
                f"engine.memory_limit={limit!r} is not a memory size (expected a number and "
                "a unit, such as 3GB or 512MB)"
            )
        threads = self.threads
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise SettingError(
                f"engine.threads={threads!r} is not a thread count (expected a whole number "
                "of at least 1, or null for every core)"
            )


def capacities(capacity: Mapping[str, object], key: str = "evaluate.capacity") -> dict[str, int]:
    """The auditors' capacity per entity type, each a whole number of at least 1."""
    out: dict[str, int] = {}
    for entity, value in capacity.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingError(
                f"{key}.{entity}={value!r} is not a capacity (expected a whole number of "
                "leads of at least 1)"
            )
        out[str(entity)] = int(value)
    return out
