"""Hive-partitioned tables: ``claims/month=2024-09/part-0.parquet``.

A part directory whose parts sit in ``month=YYYY-MM`` folders is a table partitioned by
month. The month is the month of the claim's ``admit_time``, for ``claims`` and for the
tables that follow a claim (``claim_items``, ``claim_codes``: a claim's lines are in its
claim's month). The partition key is no contract column: it is read from the folder name
and dropped after the checks, so validation and outputs are those of the same rows
unpartitioned.

Because the month is in the folder name, a load limited to the months before a period's
end (:func:`prune`) never opens the other months' files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from fraudml.io.errors import ContractError

#: The one partition key fraudml reads.
KEY = "month"
#: The tables that may be partitioned by month: the claims and the tables that follow them.
PARTITIONED_TABLES: tuple[str, ...] = ("claims", "claim_items", "claim_codes")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
EXPECTED = "month=YYYY-MM, such as month=2024-09"


def layout(directory: Path, files: Sequence[Path], table: str) -> tuple[str, ...]:
    """The month of each of ``files`` (parts under ``directory``), or ``()`` when flat.

    Raises
    ------
    ContractError
        Naming the file and the expected form: a part outside a ``month=`` folder beside
        parts inside one, another key, a deeper nesting, a value that is not a month, or a
        partitioned table that is not one of :data:`PARTITIONED_TABLES`.
    """
    nested = [p for p in files if any("=" in d for d in p.relative_to(directory).parts[:-1])]
    if not nested:
        return ()
    form = f"{directory}/{EXPECTED.split(',')[0]}/<part>.parquet"
    if table not in PARTITIONED_TABLES:
        raise ContractError(
            f"{nested[0]}: table '{table}' is partitioned, which only "
            f"{', '.join(PARTITIONED_TABLES)} may be (expected {directory}/part-*.parquet "
            f"or {table}.parquet)"
        )
    months: list[str] = []
    for path in files:
        folders = path.relative_to(directory).parts[:-1]
        if not folders or all("=" not in d for d in folders):
            raise ContractError(
                f"{path}: a part outside a month folder, while {nested[0]} is in one "
                f"(expected every part of a partitioned table as {form}; mixed partitioned "
                "and flat parts are refused)"
            )
        key, _, value = folders[0].partition("=")
        if len(folders) != 1 or key != KEY:
            raise ContractError(
                f"{path}: partition folders {'/'.join(folders)} are not one {KEY}= folder "
                f"(expected {form}; fraudml partitions by {EXPECTED})"
            )
        if not _MONTH.fullmatch(value):
            raise ContractError(
                f"{path}: partition value '{value}' is not a month (expected {EXPECTED})"
            )
        months.append(value)
    return tuple(months)


def month_start(month: str) -> date:
    """The first day of ``YYYY-MM``."""
    year, mon = month.split("-")
    return date(int(year), int(mon), 1)


def months_before(months: Sequence[str], until: date | datetime) -> list[bool]:
    """Which of ``months`` begin before ``until``: a period ending there reads them (its
    own months and the look-back before them), and none after."""
    if not isinstance(until, datetime):
        until = datetime.combine(until, datetime.min.time())
    return [datetime.combine(month_start(m), datetime.min.time()) < until for m in months]
