"""Find a dataset's table files and stage them, as read, into the engine.

Staging keeps every value exactly as the file holds it (CSV as text), plus where it came
from (:data:`SOURCE_FILE`, :data:`SOURCE_ROW`), so that validation can type-check row by
row and quarantine a bad row instead of failing the whole file.

The loader's own columns carry :data:`INTERNAL_PREFIX`, which input columns may not, so an
input column can never take the place of one of them. Before anything is merged, each file's
column names are checked (no name twice, none with the prefix) and each file, or each
Parquet part, is handed to the caller's structural check; parts of one table must then agree
on their columns and types, because a merge of disagreeing parts would quietly retype or
drop values.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import duckdb

from fraudml.contract import Table
from fraudml.io import partitions
from fraudml.io.errors import ContractError

log = logging.getLogger(__name__)

#: Prefix of every column the loader adds; an input column carrying it is refused.
INTERNAL_PREFIX = "__fraudml_"
SOURCE_FILE = f"{INTERNAL_PREFIX}source_file"
SOURCE_ROW = f"{INTERNAL_PREFIX}source_row"
#: One sortable number per staged row: file position, then row within the file.
SOURCE_ORDER = f"{INTERNAL_PREFIX}source_order"
#: An input CSV column named ``rowid`` would hide DuckDB's row id, so it is staged under
#: this name and given its own name back in the staged view.
_INPUT_ROWID = f"{INTERNAL_PREFIX}input_rowid"
#: The month of a row of a partitioned table (its ``month=`` folder), kept under the loader's
#: prefix so that it never reaches an accepted table or a quarantine file.
PARTITION = f"{INTERNAL_PREFIX}partition"

#: DuckDB's type for Parquet's null type: pyarrow writes an all-null pandas object column
#: so. It holds no values, so it agrees with any type and is staged as empty text.
NULL_TYPE = '"NULL"'

#: Columns DuckDB's Parquet reader adds (as used in :func:`stage`); a file column of the same
#: name would clash with them or silently take their place, and cannot be renamed first.
PARQUET_READER_COLUMNS: dict[str, str] = {
    "file_row_number": "row numbers",
    "file_index": "file numbers",
}

#: Delimiters a CSV written for another locale or tool uses, as a message names them.
OTHER_DELIMITERS: dict[str, str] = {";": "';'", "\t": "tabs", "|": "'|'"}

Format = Literal["parquet", "csv"]

#: A structural check of one file's (or Parquet part's) columns: called with the file as a
#: message names it and ``{column: DuckDB type}``; raises :class:`ContractError`.
ColumnCheck = Callable[[str, Mapping[str, str]], None]


@dataclass(frozen=True)
class TableSource:
    """Where one table lives in a dataset directory."""

    table: str
    format: Format
    files: tuple[Path, ...]
    #: The part directory, for a table given as Parquet parts.
    directory: Path | None = None
    #: The ``month=`` folder of each file, for a table partitioned by month; ``()`` if flat.
    months: tuple[str, ...] = ()

    @property
    def partitioned(self) -> bool:
        return bool(self.months)

    @property
    def display(self) -> str:
        """The path an operator would recognise in a message."""
        if len(self.files) == 1:
            return str(self.files[0])
        return f"{self.directory or self.files[0].parent}/ ({len(self.files)} parts)"


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

    Accepted forms: ``<table>.parquet``, a part directory ``<table>/`` or, as Spark writes
    it, ``<table>.parquet/``, holding ``*.parquet`` parts (for the claim tables possibly
    Hive-partitioned by month, :mod:`fraudml.io.partitions`), ``<table>.csv`` and
    ``<table>.csv.gz``. Two forms of one table are ambiguous and stop.
    """
    name = table.name
    found: list[TableSource] = []
    single = dataset_dir / f"{name}.parquet"
    if single.is_file():
        found.append(TableSource(name, "parquet", (single,)))
    for parts_dir in (dataset_dir / name, single):
        if parts_dir.is_dir():
            parts = _parquet_parts(parts_dir)
            if not parts:
                raise ContractError(
                    f"{parts_dir}/: table directory of '{name}' holds no *.parquet parts "
                    f"(expected Parquet part files such as {parts_dir.name}/part-0.parquet)"
                )
            months = partitions.layout(parts_dir, parts, name)
            found.append(TableSource(name, "parquet", parts, directory=parts_dir, months=months))
    for suffix in (".csv", ".csv.gz"):
        csv_path = dataset_dir / f"{name}{suffix}"
        if csv_path.is_file():
            found.append(TableSource(name, "csv", (csv_path,)))
    if len(found) > 1:
        forms = ", ".join(s.display for s in found)
        raise ContractError(
            f"{dataset_dir}: table '{name}' is given more than once ({forms}); keep exactly one"
        )
    return found[0] if found else None


def _parquet_parts(directory: Path) -> tuple[Path, ...]:
    """The ``*.parquet`` files under ``directory``, in name order.

    Names starting with ``_`` or ``.`` are bookkeeping, as in Spark and Hive (``_SUCCESS``,
    ``.part-0.parquet.crc``, ``_temporary/``), never data, wherever they are in the tree.
    """
    return tuple(
        sorted(
            p
            for p in directory.rglob("*.parquet")
            if p.is_file()
            and not any(part.startswith(("_", ".")) for part in p.relative_to(directory).parts)
        )
    )


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """Execute ``sql`` and fetch every row: DuckDB 2 refuses new work while a result is open."""
    return con.execute(sql).fetchall()


def _sql_str(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


def _open_maybe_gzip(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
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
    check: ColumnCheck | None = None,
) -> StagedTable:
    """Read ``source`` into the engine untouched; raise :class:`ContractError` if unreadable.

    ``check`` is called on every file's (every Parquet part's) columns before the parts are
    merged, so that a fault names the part that has it.
    """
    relation = f"_raw_{source.table}"
    if source.format == "parquet":
        _stage_parquet(con, source, relation, check)
        rejects = None
    else:
        rejects = _stage_csv(con, source, relation, encoding, work_dir, check)
    described = run_sql(con, f"DESCRIBE {relation}")
    columns = {row[0]: str(row[1]) for row in described}
    return StagedTable(source=source, relation=relation, columns=columns, rejects=rejects)


def _check_names(where: str, names: Iterable[str], holder: str) -> None:
    """Refuse a column name given twice or carrying :data:`INTERNAL_PREFIX`.

    DuckDB compares names without regard to case (and renames a repeat ``x`` to ``x_1``),
    so ``Region`` beside ``region`` is a repeat too.
    """
    seen: dict[str, str] = {}
    for name in names:
        folded = name.lower()
        if folded.startswith(INTERNAL_PREFIX):
            raise ContractError(
                f"{where}: column '{name}' uses the prefix '{INTERNAL_PREFIX}' that fraudml "
                "reserves for its own columns (expected another name)"
            )
        if folded in seen:
            raise ContractError(
                f"{where}: column '{name}' appears more than once in the {holder} (as "
                f"'{seen[folded]}' and '{name}'; expected each column name once, compared "
                "without regard to case)"
            )
        seen[folded] = name


# -- Parquet ------------------------------------------------------------------------------


def _stage_parquet(
    con: duckdb.DuckDBPyConnection, source: TableSource, relation: str, check: ColumnCheck | None
) -> None:
    schemas = {path: _parquet_columns(con, path, source.partitioned) for path in source.files}
    if check is not None:
        for path, columns in schemas.items():
            check(str(path), columns)
    _require_parts_agree(source, schemas)
    # A column that is null-typed in every part would stage as DuckDB's NULL type (or, in
    # older DuckDB, INTEGER): make it the empty text a CSV would give.
    first = next(iter(schemas.values()))
    all_null = [c for c in first if all(s[c] == NULL_TYPE for s in schemas.values())]
    replace = ", ".join(f"CAST({_sql_name(c)} AS VARCHAR) AS {_sql_name(c)}" for c in all_null)
    # The month of a partitioned table comes from its folders (read as text, never guessed
    # into a date) and leaves the row's columns for the loader's own PARTITION; a flat
    # table never takes a key from folder names (a dataset kept under /data/dt=2024/ too).
    if source.partitioned:
        key = partitions.KEY
        hive = f"hive_partitioning=true, hive_types={{'{key}': VARCHAR}}"
        exclude, extra = f"file_row_number, {key}", f"{key} AS {PARTITION}, "
    else:
        hive, exclude, extra = "hive_partitioning=false", "file_row_number", ""
    run_sql(
        con,
        f"CREATE OR REPLACE VIEW {relation} AS "
        f"SELECT * EXCLUDE ({exclude}){f' REPLACE ({replace})' if replace else ''}, {extra}"
        f"file_row_number + 1 AS {SOURCE_ROW}, "
        f"CAST(file_index AS BIGINT) * 1099511627776 + file_row_number AS {SOURCE_ORDER} "
        f"FROM read_parquet({_sql_list(source.files)}, filename={_sql_str(SOURCE_FILE)}, "
        f"file_row_number=true, union_by_name=true, {hive})",
    )


def _parquet_columns(
    con: duckdb.DuckDBPyConnection, path: Path, partitioned: bool = False
) -> dict[str, str]:
    """``{column: DuckDB type}`` of one Parquet file, its names checked first.

    The names come from the file's own schema, because DuckDB's reader renames a repeated
    name before anyone could see it. A part of a partitioned table may not hold a column
    named like the partition key, which its folder gives.
    """
    try:
        schema = run_sql(
            con,
            f"SELECT name, num_children, logical_type FROM parquet_schema({_sql_str(path)})",
        )
        names, null_typed = _top_level_columns(schema)
        _check_names(str(path), names, "schema")
        for name in names:
            use = PARQUET_READER_COLUMNS.get(name.lower())
            if use is not None:
                raise ContractError(
                    f"{path}: column '{name}' is a name the Parquet reader uses for its own "
                    f"{use} (expected another name)"
                )
            if partitioned and name.lower() == partitions.KEY:
                raise ContractError(
                    f"{path}: column '{name}' is also the partition key of its folder "
                    f"{path.parent.name} (expected the month in the folder name only)"
                )
        described = run_sql(
            con,
            f"DESCRIBE SELECT * FROM read_parquet({_sql_str(path)}, hive_partitioning=false)",
        )
    except duckdb.OutOfMemoryException:
        raise  # the memory limit's, not the file's fault: see cli.main
    except duckdb.Error as exc:
        raise ContractError(f"{path}: unreadable as Parquet ({_first_line(exc)})") from exc
    return {
        str(name): NULL_TYPE if name in null_typed else str(dtype) for name, dtype, *_ in described
    }


def _top_level_columns(schema: list[tuple]) -> tuple[list[str], set[str]]:
    """The top-level column names of a ``parquet_schema`` listing, and the null-typed ones.

    The listing is the schema tree depth first: the root, then every element followed by
    its children; only the root's children are columns.
    """
    names: list[str] = []
    null_typed: set[str] = set()
    remaining = [int(schema[0][1] or 0)]  # children still to visit, per open level
    for name, children, logical in schema[1:]:
        if len(remaining) == 1:
            names.append(str(name))
            if str(logical or "").startswith("NullType"):
                null_typed.add(str(name))
        remaining[-1] -= 1
        if children:
            remaining.append(int(children))
        while len(remaining) > 1 and remaining[-1] == 0:
            remaining.pop()
    return names, null_typed


def _require_parts_agree(source: TableSource, schemas: Mapping[Path, Mapping[str, str]]) -> None:
    """Parts of one table must hold the same columns with the same types.

    A merge by name would otherwise read a column missing from a part as empty, and a
    column typed differently as their common supertype (an integer identifier as text
    without its leading zeros). A null-typed column holds no value and agrees with any type.
    """
    if len(schemas) < 2:
        return
    parts = list(schemas.items())
    names = dict.fromkeys(name for _, columns in parts for name in columns)
    for name in names:
        held = [(path, columns.get(name)) for path, columns in parts]
        lacking = next((i for i, (_, dtype) in enumerate(held) if dtype is None), None)
        if lacking is not None:
            having = next(i for i, (_, dtype) in enumerate(held) if dtype is not None)
            first, second = sorted((lacking, having))
            _disagree(source, name, held[first], held[second])
        typed = [(path, dtype) for path, dtype in held if dtype != NULL_TYPE]
        other = next((p for p in typed if p[1] != typed[0][1]), None)
        if other is not None:
            _disagree(source, name, typed[0], other)


def _disagree(
    source: TableSource, name: str, first: tuple[Path, str | None], second: tuple[Path, str | None]
) -> None:
    def has(dtype: str | None, again: bool) -> str:
        if dtype is None:
            return "does not have it"
        return f"as {dtype}" if again else f"has it as {dtype}"

    (path_a, type_a), (path_b, type_b) = first, second
    both = type_a is not None and type_b is not None
    raise ContractError(
        f"{source.directory or path_a.parent}/: parts disagree on column '{name}': "
        f"{path_a} {has(type_a, False)}, {path_b} {has(type_b, both)} (expected every part "
        "of a table to have the same columns with the same types)"
    )


def broken_part(con: duckdb.DuckDBPyConnection, source: TableSource) -> tuple[Path, str] | None:
    """The first Parquet part whose data cannot be decoded, with DuckDB's first line on it.

    The schema of every part is read when staging, but a damaged data page only shows when
    its values are read: hashing every column of every row makes the reader decode them all.
    Only called once reading the table has failed, so the extra pass costs nothing otherwise.
    """
    for path in source.files:
        try:
            run_sql(
                con,
                "SELECT bit_xor(hash(COLUMNS(*))) "
                f"FROM read_parquet({_sql_str(path)}, hive_partitioning=false)",
            )
        except duckdb.OutOfMemoryException:
            raise  # the memory limit's, not the file's fault: see cli.main
        except duckdb.Error as exc:
            return path, _first_line(exc)
    return None


# -- CSV ----------------------------------------------------------------------------------


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    source: TableSource,
    relation: str,
    encoding: str,
    work_dir: Path,
    check: ColumnCheck | None,
) -> str:
    """Stage one CSV file as text; return the name of its table of malformed lines."""
    original = source.files[0]
    path = original
    codec = _normalise_encoding(encoding)
    if codec != "utf-8":
        path = _transcode_to_utf8(path, codec, work_dir)
    header = _header_line(path)
    _check_delimiter(original, header)
    _check_names(str(original), next(csv.reader([header]), []), "header")
    table = f"_csv_{source.table}"
    rejects = f"_rejects_{source.table}"
    try:
        # all_varchar: every value is kept as text and typed later, row by row, so a
        # bad value quarantines its row instead of failing the file.
        run_sql(
            con,
            f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_csv("
            f"{_sql_str(path)}, all_varchar=true, header=true, delim=',', quote='\"', "
            f"escape='\"', store_rejects=true, rejects_table={_sql_str(rejects)}, "
            f"rejects_scan={_sql_str(rejects + '_scan')})",
        )
    except duckdb.OutOfMemoryException:
        raise  # the memory limit's, not the file's fault: see cli.main
    except duckdb.Error as exc:
        # DuckDB says only "Error when sniffing file" when a quote is never closed (the rest
        # of the file becomes one value): find the line, which is what the operator needs.
        opened = _unclosed_quote_line(path)
        if opened is not None:
            raise ContractError(
                f"{original}: a quoted value opened at line {opened} is never closed "
                "(expected a closing '\"'; a '\"' inside a quoted value is written twice, "
                "as '\"\"')"
            ) from exc
        raise ContractError(
            f"{original}: unreadable as CSV with a header row ({_first_line(exc)})"
        ) from exc
    bad_encoding = run_sql(
        con, f"SELECT min(line) FROM {rejects} WHERE error_type = 'INVALID ENCODING'"
    )[0]
    if bad_encoding and bad_encoding[0] is not None:
        raise ContractError(
            f"{original}: line {bad_encoding[0]} is not valid {codec} "
            "(expected UTF-8 text; for a GB18030/GBK file set data.encoding=gb18030)"
        )
    columns = {row[0]: str(row[1]) for row in run_sql(con, f"DESCRIBE {table}")}
    if check is not None:
        check(str(original), columns)
    rename = ""
    rowid = next((c for c in columns if c.lower() == "rowid"), None)
    if rowid is not None:
        run_sql(con, f"ALTER TABLE {table} RENAME COLUMN {_sql_name(rowid)} TO {_INPUT_ROWID}")
        rename = f" RENAME ({_INPUT_ROWID} AS {_sql_name(rowid)})"
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
        f"CREATE OR REPLACE VIEW {relation} AS SELECT *{rename}, "
        f"{_sql_str(original)} AS {SOURCE_FILE}, rowid + 1 + {shift} AS {SOURCE_ROW}, "
        f"rowid AS {SOURCE_ORDER} "
        f"FROM {table}",
    )
    return rejects


def _header_line(path: Path) -> str:
    """The first line of a (UTF-8, maybe gzipped) CSV file, without BOM or line break."""
    with _open_maybe_gzip(path) as fh:
        first = fh.readline()
    return first.decode("utf-8-sig", errors="replace").rstrip("\r\n")


def _check_delimiter(path: Path, header: str) -> None:
    """Refuse a CSV whose header is split by another delimiter than the contract's comma.

    Read with commas, such a file is one column named after the whole header line, and
    every contract column would be reported missing; the delimiter is the real fault.
    """
    if "," in header:
        return
    widths = {d: len(next(csv.reader([header], delimiter=d), [])) for d in OTHER_DELIMITERS}
    delimiter = max(widths, key=lambda d: widths[d])
    if widths[delimiter] > 1:
        raise ContractError(
            f"{path}: looks delimited by {OTHER_DELIMITERS[delimiter]}, not commas (its header "
            "line holds no comma; expected comma-separated values, as the contract's CSV is)"
        )


def _unclosed_quote_line(path: Path) -> int | None:
    """The line (1 = header) where a quoted value opens that no later quote closes.

    A doubled quote inside a value counts twice, so the parity of quotes per line tells
    whether a value is open at its end. Bytes are counted, not text: '"' (0x22) is never
    part of a multi-byte UTF-8 character.
    """
    opened: int | None = None
    with _open_maybe_gzip(path) as fh:
        for number, line in enumerate(fh, start=1):
            quotes = line.count(b'"')
            if quotes % 2:
                opened = None if opened is not None else number
            elif quotes and opened is not None:
                opened = number  # closed and opened again on this line
    return opened


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
