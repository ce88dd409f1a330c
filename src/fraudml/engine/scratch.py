"""The pipelines' intermediate tables (a window's enriched claims, a profile before its
peers, the rules' shared fee lines, the network's edges): where they are kept.

On DuckDB they go to a scratch database file in the dataset's temporary folder, attached
as :data:`CATALOG`, not to DuckDB's temporary tables. A temporary table lives in memory
and can leave it only as uncompressed spill, while a table in a database file is stored
compressed and its blocks are evicted and read back by the buffer manager like the
validated tables'. Measured on the simulated city of 9.9M fee lines, the whole rule base
with the shared fee lines as a temporary table ran out of memory at ``memory_limit`` 400MB
while creating that table, and passed in 96 s with the table in the scratch file; at 900MB
both passed, in 87 s and 52 s (2-core machine under load, 2026-12-02). At 100M fee lines
the rules had stopped out of memory at 8GB with the temporary table.

On another engine (Spark, :mod:`fraudml.engine.spark`) these are the engine's temporary
tables, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis.expr.types as ir

#: the catalog name of the scratch database attached to a DuckDB connection
CATALOG = "fraudml_scratch"
#: its file, in the dataset's temporary folder (removed with it on close)
FILE = "scratch.duckdb"
#: the connection attribute naming the attached catalog (absent: no scratch database)
_ATTRIBUTE = "_fraudml_scratch_catalog"


def attach(con: Any, folder: Path) -> None:
    """Attach a new scratch database in ``folder`` to the DuckDB connection ``con``."""
    path = Path(folder) / FILE
    quoted = str(path).replace("'", "''")
    con.raw_sql(f"ATTACH '{quoted}' AS {CATALOG}")
    setattr(con, _ATTRIBUTE, CATALOG)


def _where(con: Any) -> tuple[str, str] | None:
    catalog = getattr(con, _ATTRIBUTE, None)
    return None if catalog is None else (catalog, "main")


def create(con: Any, name: str, obj: ir.Table | Any) -> ir.Table:
    """``obj`` (an expression or a frame) computed into a new intermediate table ``name``.

    No ``overwrite``: with it the backend fills a scratch table and then copies every
    row into the named one, a second pass over the window's widest tables; callers give
    new names (a tag) or drop the old table first (:func:`drop`).
    """
    where = _where(con)
    if where is None:
        return con.create_table(name, obj, temp=True)
    return con.create_table(name, obj, database=where)


def drop(con: Any, table: str | ir.Table) -> None:
    """Drop the intermediate table ``table`` (its name, or the table :func:`create` gave,
    whose ``get_name()`` is qualified by the catalog) if it exists."""
    name = table.op().name if isinstance(table, ir.Table) else table
    where = _where(con)
    if where is None:
        con.drop_table(name, force=True)
    else:
        con.drop_table(name, database=where, force=True)
