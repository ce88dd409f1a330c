"""Find a dataset's table files and stage them, as read, into the engine.

Staging keeps every value exactly as the file holds it (CSV as text), plus where it came
from (``_source_file``, ``_source_row``), so that validation can type-check row by row and
quarantine a bad row instead of failing the whole file.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from fraudml.contract import Table
from fraudml.io.errors import ContractError

log = logging.getLogger(__name__)

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
#: One sortable number per staged row: file position, then row within the file.
SOURCE_ORDER = "_source_order"
#: Column of a staged table that holds the raw text of a malformed CSV line.
RAW_LINE = "_raw_line"

Format = Literal["parquet", "csv"]


@dataclass(frozen=True)
class TableSource:
    """Where one table lives in a dataset directory."""

    table: str
    format: Format
    files: tuple[Path, ...]

    @property
    def display(self) -> str:
        """The path an operator would recognise in a message."""
        if len(self.files) == 1:
            return str(self.files[0])
        return f"{self.files[0].parent}/ ({len(self.files)} parts)"


@dataclass(frozen=True)
class StagedTable:
    """A table read into the engine with its values untouched."""

    source: TableSource
    relation: str
    columns: dict[str, str]
    #: Name of the relation holding malformed CSV lines, or ``None``.
    rejects: str | None


def discover(dataset_dir: Path, table: Table) -> TableSource | None:
    """Find ``table`` in ``dataset_dir``; ``None`` when the dataset does not have it.

    Accepted forms: ``<table>.parquet``, ``<table>/`` holding ``*.parquet`` parts,
    ``<table>.csv`` and ``<table>.csv.gz``. Two forms of one table are ambiguous and stop.
    """
    name = table.name
    found: list[TableSource] = []
    single = dataset_dir / f"{name}.parquet"
    if single.is_file():
        found.append(TableSource(name, "parquet", (single,)))
    parts_dir = dataset_dir / name
    if parts_dir.is_dir():
        parts = tuple(sorted(p for p in parts_dir.rglob("*.parquet") if p.is_file()))
        if not parts:
            raise ContractError(
                f"{parts_dir}/: table directory '{name}' holds no *.parquet parts "
                f"(expected Parquet part files such as {name}/part-0.parquet)"
            )
        found.append(TableSource(name, "parquet", parts))
    for suffix in (".csv", ".csv.gz"):
        csv = dataset_dir / f"{name}{suffix}"
        if csv.is_file():
            found.append(TableSource(name, "csv", (csv,)))
    if len(found) > 1:
        forms = ", ".join(s.display for s in found)
        raise ContractError(
            f"{dataset_dir}: table '{name}' is given more than once ({forms}); keep exactly one"
        )
    return found[0] if found else None


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """Execute ``sql`` and fetch every row: DuckDB 2 refuses new work while a result is open."""
    return con.execute(sql).fetchall()


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_list(paths: tuple[Path, ...]) -> str:
    return "[" + ", ".join(_sql_str(p) for p in paths) + "]"


def _transcode_to_utf8(path: Path, encoding: str, work_dir: Path) -> Path:
    """Stream ``path`` from ``encoding`` into a UTF-8 copy in ``work_dir``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / f"{path.name.removesuffix('.gz')}.utf8.csv"
    opener = _open_maybe_gzip(path)
    try:
        with opener as raw, target.open("w", encoding="utf-8", newline="") as out:
            reader = codecs.getreader(encoding)(raw, errors="strict")
            while chunk := reader.read(1 << 20):
                out.write(chunk)
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"{path}: cannot be decoded as {encoding} at byte {exc.start} "
            f"(expected a CSV file in the encoding given by data.encoding)"
        ) from exc
    return target


def _open_maybe_gzip(path: Path):
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rb")
    return path.open("rb")


def _normalise_encoding(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ContractError(
            f"data.encoding={encoding!r} is not an encoding Python knows "
            "(expected e.g. utf-8, gb18030, gbk)"
        ) from exc
    # GB18030 is a superset of GBK and GB2312: decode all three with it, so that a file
    # labelled GBK but holding a rare character still reads.
    if name in {"gbk", "gb2312", "gb18030"}:
        return "gb18030"
    return name


def stage(
    con: duckdb.DuckDBPyConnection,
    source: TableSource,
    *,
    encoding: str = "utf-8",
    work_dir: Path,
) -> StagedTable:
    """Read ``source`` into the engine untouched; raise :class:`ContractError` if unreadable."""
    relation = f"_raw_{source.table}"
    if source.format == "parquet":
        _check_parquet_readable(con, source)
        run_sql(
            con,
            f"CREATE OR REPLACE VIEW {relation} AS "
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {SOURCE_ROW}, "
            f"CAST(file_index AS BIGINT) * 1099511627776 + file_row_number AS {SOURCE_ORDER} "
            f"FROM read_parquet({_sql_list(source.files)}, filename={_sql_str(SOURCE_FILE)}, "
            "file_row_number=true, union_by_name=true)",
        )
        rejects = None
    else:
        path = source.files[0]
        codec = _normalise_encoding(encoding)
        if codec != "utf-8":
            path = _transcode_to_utf8(path, codec, work_dir)
        rejects = f"_rejects_{source.table}"
        try:
            # all_varchar: every value is kept as text and typed later, row by row, so a
            # bad value quarantines its row instead of failing the file.
            run_sql(
                con,
                f"CREATE OR REPLACE TABLE _csv_{source.table} AS SELECT * FROM read_csv("
                f"{_sql_str(path)}, all_varchar=true, header=true, delim=',', quote='\"', "
                f"escape='\"', store_rejects=true, rejects_table={_sql_str(rejects)}, "
                f"rejects_scan={_sql_str(rejects + '_scan')})",
            )
        except duckdb.Error as exc:
            raise ContractError(
                f"{source.files[0]}: unreadable as CSV with a header row ({_first_line(exc)})"
            ) from exc
        bad_encoding = run_sql(
            con, f"SELECT min(line) FROM {rejects} WHERE error_type = 'INVALID ENCODING'"
        )[0]
        if bad_encoding and bad_encoding[0] is not None:
            raise ContractError(
                f"{source.files[0]}: line {bad_encoding[0]} is not valid {codec} "
                "(expected UTF-8 text; for a GB18030/GBK file set data.encoding=gb18030)"
            )
        # rowid follows insertion order, which DuckDB keeps for a single CSV scan. Malformed
        # lines are not in the table, so rows after the k-th of them shift by k: count them
        # back in, so that source_row is the data row number (line number - 1 when no value
        # holds a line break) for good and malformed rows alike.
        shift = (
            f"(SELECT count(*) FROM (SELECT line - row_number() OVER (ORDER BY line) AS gap "
            f"FROM (SELECT DISTINCT line FROM {rejects})) WHERE gap <= rowid + 1)"
        )
        run_sql(
            con,
            f"CREATE OR REPLACE VIEW {relation} AS SELECT *, "
            f"{_sql_str(source.files[0])} AS {SOURCE_FILE}, rowid + 1 + {shift} AS {SOURCE_ROW}, "
            f"rowid AS {SOURCE_ORDER} "
            f"FROM _csv_{source.table}",
        )
    described = run_sql(con, f"DESCRIBE {relation}")
    columns = {row[0]: str(row[1]) for row in described}
    return StagedTable(source=source, relation=relation, columns=columns, rejects=rejects)


def _check_parquet_readable(con: duckdb.DuckDBPyConnection, source: TableSource) -> None:
    for path in source.files:
        try:
            run_sql(con, f"SELECT * FROM parquet_schema({_sql_str(path)}) LIMIT 1")
        except duckdb.Error as exc:
            raise ContractError(f"{path}: unreadable as Parquet ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
