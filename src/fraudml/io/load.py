"""Load a contract dataset: read, validate, quarantine, reconcile, hand over Ibis tables."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir

from fraudml.contract import EXPECTED_FORM, TABLES, Column, Table
from fraudml.engine import compiled, scratch
from fraudml.io import cache as kept
from fraudml.io import checks, partitions
from fraudml.io.atomic import write_json
from fraudml.io.cache import cache_key
from fraudml.io.errors import ContractError
from fraudml.io.outputs import OutputClaim, as_claim
from fraudml.io.reconcile import Reconciliation, TableCount
from fraudml.io.sources import (
    INTERNAL_PREFIX,
    NULL_TYPE,
    PARTITION,
    SOURCE_FILE,
    SOURCE_ORDER,
    SOURCE_ROW,
    StagedTable,
    TableSource,
    broken_part,
    discover,
    run_sql,
    stage,
)
from fraudml.settings import EngineSettings

log = logging.getLogger(__name__)

#: The optional dataset-level declarations: ``dataset.json`` beside the tables.
METADATA_FILE = "dataset.json"
#: Money is CNY yuan unless the dataset declares otherwise (the shared contract's unit).
DEFAULT_CURRENCY = "CNY"
#: The keys ``dataset.json`` may hold.
METADATA_KEYS = frozenset({"currency", "source"})

#: What is lost, table by table, when an optional or expected table is absent.
SKIPPED_WITHOUT: dict[str, str] = {
    "claim_items": "item-level features and rules (fee lines, prices, quantities, trace codes) "
    "are skipped",
    "doctors": "doctor profiles are skipped and claims.doctor_id is not checked against doctors",
    "catalog": "the catalog of the synthetic world is used for catalog restrictions",
    "claim_codes": "diagnosis and procedure mix features are dropped",
    "labels": "supervised training and evaluation are skipped",
    "chronic_registrations": "chronic-disease registration checks are skipped",
}

#: The columns the quarantine file adds to each row, with what they hold. An input column of
#: the same name (compared without regard to case, as DuckDB does) is written to the
#: quarantine file as ``input_<name>``, with a warning, so it can never take their place.
QUARANTINE_ANNOTATIONS: dict[str, str] = {
    checks.REASON: "the fault",
    checks.REASON_CODE: "the fault's code",
    checks.ALL_REASONS: "every fault",
    "source_file": "the file the row came from",
    "source_row": "the row's number in that file",
    "raw_line": "the text of a malformed line",
}


@dataclass
class Dataset:
    """A validated dataset: accepted tables as Ibis tables over an embedded DuckDB.

    Use :func:`load_dataset` to make one. Tables stay in the engine; call ``.to_pandas()``
    or ``.to_pyarrow()`` on an expression only when a model needs the rows.
    """

    path: Path
    con: ibis.BaseBackend
    tables: dict[str, ir.Table]
    reconciliation: Reconciliation
    fingerprint: str
    database: Path | None
    warnings: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    currency: str = DEFAULT_CURRENCY
    _tmp_dir: Path | None = None

    def __contains__(self, table: str) -> bool:
        return table in self.tables

    def table(self, name: str) -> ir.Table:
        """The accepted rows of ``name``; ``KeyError`` naming what is present if absent."""
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(
                f"table {name!r} is not in dataset {self.path} (present: {', '.join(self.tables)})"
            ) from None

    def close(self) -> None:
        self.con.disconnect()
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fingerprint(sources: list[TableSource]) -> str:
    """SHA-256 over the table files' names and bytes: same data, same fingerprint."""
    digest = hashlib.sha256()
    for source in sorted(sources, key=lambda s: s.table):
        for path in source.files:
            digest.update(f"{source.table}:{path.name}\0".encode())
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
    return digest.hexdigest()


def _check_columns(where: str, columns: Mapping[str, str], spec: Table) -> None:
    """Stop on a missing required column or a column stored in a form the contract excludes.

    Called on every file, and on every Parquet part before the parts are merged, so that
    the message names the part at fault. ``where`` is that file as a message names it.
    """
    for column in spec.columns:
        dtype = columns.get(column.name)
        at = f"{where}: column '{column.name}'"
        if dtype is None:
            if not column.nullable:
                raise ContractError(
                    f"{at} is missing (expected {EXPECTED_FORM[column.type]}"
                    f"{'; ' + column.expected if column.codes else ''}, no empty values)"
                )
            continue
        if dtype == NULL_TYPE:
            continue  # pyarrow's type for a column without a single value: read as empty
        refused = _refused_form(column, dtype)
        if refused is not None:
            raise ContractError(f"{at} is stored as {dtype} (expected {refused})")


def _refused_form(column: Column, dtype: str) -> str | None:
    """What ``column`` should be instead, when its stored type ``dtype`` is refused."""
    if column.type == "str" and dtype != "VARCHAR":
        return (
            "text: identifiers and codes are strings, never numbers, because leading zeros matter"
        )
    if any(t in dtype for t in ("STRUCT", "[]", "MAP", "UNION")):
        return EXPECTED_FORM[column.type]
    if column.type in {"date", "timestamp"} and "WITH TIME ZONE" in dtype:
        # DuckDB would give the instant in UTC (or the session's zone): a visit at 09:30 in
        # Beijing would become 01:30, and cross midnight for early and late ones.
        return (
            f"local time without zone: {EXPECTED_FORM[column.type]}; a zoned time would be "
            "shifted to UTC"
        )
    if column.type in {"money", "int", "float"} and dtype == "BOOLEAN":
        return f"a number: {EXPECTED_FORM[column.type]}"  # true/false would read as 1/0
    return None


def _absent_columns(staged: StagedTable, spec: Table, warnings: list[str]) -> list[str]:
    """The nullable contract columns the table does not have, each with a warning."""
    absent = [c.name for c in spec.columns if c.name not in staged.columns]
    for name in absent:
        warnings.append(f"{staged.source.display}: column '{name}' is absent: read as empty")
    return absent


def _today() -> date:
    """Today, for the plausible-date window (a function, so that tests can fix it)."""
    return date.today()


def load_dataset(
    path: str | Path,
    *,
    out: str | Path | OutputClaim | None = None,
    encoding: str = "utf-8",
    database: str | Path | None = None,
    memory_limit: str | None = "3GB",
    threads: int | None = None,
    cache: str | Path | None = None,
    engine: EngineSettings | None = None,
    until: date | datetime | None = None,
    temp_directory: str | Path | None = None,
) -> Dataset:
    """Read, validate and quarantine a dataset directory written to the data contract.

    Parameters
    ----------
    path : path
        The dataset directory.
    out : path or OutputClaim, optional
        The folder for ``quarantine/<table>.parquet``, ``validation.json`` and
        ``validated.duckdb``, written whole or not at all: it is built in a hidden
        sibling and renamed into place when validation is complete. It must be new,
        empty, or an earlier validation output (see :mod:`fraudml.io.outputs`). Without
        it nothing is written and the quarantine stays in the reconciliation counts only.
        A quarantine file holds the row as read plus ``reason``, ``reason_code``,
        ``all_reasons``, ``source_file``, ``source_row`` (and ``raw_line`` for CSV); an
        input column of one of these names is written there as ``input_<name>``, with a
        warning, and keeps its own name in the accepted table.
    encoding : str
        Encoding of CSV tables (``utf-8``; ``gb18030`` or ``gbk`` for Chinese legacy files).
    database : path, optional
        DuckDB file to hold the validated tables; a temporary one when omitted.
    memory_limit, threads
        DuckDB settings; the engine spills to disk beyond the memory limit.
    cache : path, optional
        Validate once: a folder of kept validations (:mod:`fraudml.io.cache`). When it
        holds one of these very files, read this way by this validator, the dataset is
        opened from it (read-only) instead of validated again; otherwise the validation
        is kept there for the next command. ``make validate`` refreshes it.
    until : date or datetime, optional
        A period's end: of the tables partitioned by month (``claims/month=2024-09/…``,
        :mod:`fraudml.io.partitions`) only the months beginning before it are read, the
        period's own and the look-back before them; the later months' files are never
        opened. ``labels`` are not read in such a load (they serve training, which reads
        every month), and a flat dataset is read whole.
    temp_directory : path, optional
        Where DuckDB spills beyond its memory limit (a fresh folder there, removed on
        close); a new folder in the system's temporary directory (``TMPDIR``) by default.

    Returns
    -------
    Dataset
        Accepted tables as Ibis tables, the reconciliation and the warnings. An optional
        table without a single row is treated as absent (listed in ``skipped``, warned
        about); a table whose every row is quarantined, and implausible dates, are warned
        about too.

    Raises
    ------
    ContractError
        On a structural fault, naming the file, the column and the expected form.
    OutputError
        When ``out`` may not be written (checked before anything is read).
    SettingError
        On a memory limit or thread count DuckDB would not take, or ``engine=spark``
        where Spark cannot start (its session is started before any file is read).

    Notes
    -----
    ``engine`` (its memory limit and threads take the place of ``memory_limit`` and
    ``threads``) with ``name="spark"``: validation runs on DuckDB as always (the same
    counts, quarantine files and ``validation.json``), then the accepted tables are handed
    to a Spark session (:func:`fraudml.engine.spark.on_spark`) and the dataset's tables
    are Spark's.
    """
    if engine is None:
        engine = EngineSettings(memory_limit=memory_limit, threads=threads)
    if engine.spark_engine:
        from fraudml.engine import spark

        # at start-up, before a single file is read: Java, pyspark and the master answer
        spark.session(engine)
        ds = _load_on_duckdb(path, out, encoding, database, engine, cache, until, temp_directory)
        return spark.on_spark(ds, engine)
    return _load_on_duckdb(path, out, encoding, database, engine, cache, until, temp_directory)


def _load_on_duckdb(
    path: str | Path,
    out: str | Path | OutputClaim | None,
    encoding: str,
    database: str | Path | None,
    engine: EngineSettings,
    cache: str | Path | None,
    until: date | datetime | None = None,
    temp_directory: str | Path | None = None,
) -> Dataset:
    root = Path(path)
    if not root.is_dir():
        raise ContractError(f"{root}: dataset directory not found (expected a directory of tables)")
    metadata = read_metadata(root)
    currency = metadata.get("currency", DEFAULT_CURRENCY)
    sources: dict[str, TableSource] = {}
    warnings: list[str] = []
    skipped: dict[str, str] = {}
    for spec in TABLES:
        source = discover(root, spec)
        if source is not None:
            sources[spec.name] = source
        elif spec.required:
            raise ContractError(
                f"{root}: required table '{spec.name}' is missing (expected {spec.name}.parquet, "
                f"{spec.name}/part-*.parquet or {spec.name}.csv)"
            )
        else:
            skipped[spec.name] = SKIPPED_WITHOUT[spec.name]
            if spec.expected:
                warnings.append(f"no {spec.name} table: {SKIPPED_WITHOUT[spec.name]}")
    _require_same_layout(sources)
    if until is not None:
        _read_months_before(sources, until, skipped)

    claim, owned = (None, False) if out is None else as_claim(out, "validate", immutable=[root])
    fp = fingerprint(list(sources.values()))
    key = cache_key(fp, encoding, metadata, root) if cache is not None else ""
    keep: OutputClaim | None = None  # the cache entry this run writes, if any
    if cache is not None and claim is None and database is None:
        entry = kept.lookup(Path(cache), key)
        if entry is not None:
            try:
                reopened = _open_kept(root, entry, engine, temp_directory)
            except (duckdb.Error, OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
                # a damaged entry is rebuilt, never trusted and never fatal
                log.warning(
                    "the kept validation %s is unreadable (%s): validating again",
                    entry,
                    str(exc).strip().splitlines()[0][:160],
                )
                shutil.rmtree(entry, ignore_errors=True)
            else:
                log.info("reusing the validation of these files kept in %s", entry)
                return reopened
        log.info("validating %s (no kept validation of these files yet)", root)
        keep = kept.claim_entry(Path(cache), key, root)
        claim = keep
    tmp_dir = _scratch(temp_directory)
    config = _engine_config(engine, tmp_dir)
    try:
        with ExitStack() as stack:
            staging = stack.enter_context(claim.staging()) if claim is not None else None
            if database is None and staging is not None:
                database = staging / "validated.duckdb"
            elif database is not None:
                database = Path(database)
                database.parent.mkdir(parents=True, exist_ok=True)
                for stale in (database, database.with_name(database.name + ".wal")):
                    stale.unlink(missing_ok=True)
            con = compiled.install(
                ibis.duckdb.connect(database=str(database) if database else ":memory:", **config)
            )
            try:
                scratch.attach(con, tmp_dir)
                reconciliation, tables = _validate_all(
                    con, sources, encoding, tmp_dir, staging, warnings, skipped
                )
            except BaseException:
                con.disconnect()
                raise
            ds = Dataset(
                path=root,
                con=con,
                tables=tables,
                reconciliation=reconciliation,
                fingerprint=fp,
                database=database,
                warnings=warnings,
                skipped=skipped,
                currency=currency,
                _tmp_dir=tmp_dir,
            )
            moves = staging is not None and database == staging / "validated.duckdb"
            if staging is not None:
                scope = "all" if until is None else f"until {until}"
                write_json(staging / "validation.json", {**validation_report(ds), "scope": scope})
            if moves:
                # the database moves with the folder: close it here, reopen it there
                con.disconnect()
        if keep is not None:
            # a load of some months keeps the whole dataset's entry, and the other way round
            kept.prune(Path(cache), key, root, "all" if until is None else f"until {until}")
            shutil.rmtree(tmp_dir, ignore_errors=True)
            log.info("validation kept in %s for the next commands", keep.path)
            return _open_kept(root, keep.path, engine, temp_directory)
        if moves and claim is not None:
            ds.database = claim.path / "validated.duckdb"
            ds.con = compiled.install(ibis.duckdb.connect(database=str(ds.database), **config))
            scratch.attach(ds.con, tmp_dir)
            ds.tables = {name: ds.con.table(name) for name in ds.tables}
            if cache is not None:  # make validate refreshes the kept validation
                kept.store_copy(Path(cache), key, root, claim.path)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    finally:
        if keep is not None:
            keep.release()
        elif owned and claim is not None:
            claim.release()
    return ds


def _scratch(temp_directory: str | Path | None) -> Path:
    """A new folder for the load's scratch files and DuckDB's spill, removed on close."""
    if temp_directory is not None:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="fraudml-", dir=temp_directory))


def _require_same_layout(sources: Mapping[str, TableSource]) -> None:
    """The claim tables present are all partitioned by month, or none is.

    A month's claims and their lines are read together; a flat table beside partitioned
    ones would be read whole where the others are limited to some months, and its rows
    of the other months would dangle.
    """
    present = [sources[t] for t in partitions.PARTITIONED_TABLES if t in sources]
    split = [s for s in present if s.partitioned]
    flat = [s for s in present if not s.partitioned]
    if split and flat:
        raise ContractError(
            f"{flat[0].display}: table '{flat[0].table}' is not partitioned by month, while "
            f"{split[0].display} is (expected {', '.join(s.table for s in present)} all as "
            f"<table>/{partitions.EXPECTED.split(',')[0]}/<part>.parquet, or all flat)"
        )


def _read_months_before(
    sources: dict[str, TableSource], until: date | datetime, skipped: dict[str, str]
) -> None:
    """Limit the partitioned tables to the months beginning before ``until`` (in place)."""
    if not any(s.partitioned for s in sources.values()):
        return
    for name, source in list(sources.items()):
        if not source.partitioned:
            continue
        keep = partitions.months_before(source.months, until)
        files = tuple(f for f, k in zip(source.files, keep, strict=True) if k)
        months = tuple(m for m, k in zip(source.months, keep, strict=True) if k)
        log.info(
            "%s: reading %d of %d parts (the months before %s)",
            name,
            len(files),
            len(source.files),
            until,
        )
        if not files:
            raise ContractError(
                f"{source.directory}/: no month folder begins before {until} "
                f"(expected {partitions.EXPECTED} for a month the period reaches)"
            )
        sources[name] = TableSource(name, "parquet", files, source.directory, months)
    if "labels" in sources:
        del sources["labels"]
        skipped["labels"] = (
            f"not read: this load reads only the months before {until} (labels serve "
            "training, which reads every month)"
        )


def _engine_config(engine: EngineSettings, tmp_dir: Path) -> dict[str, object]:
    config: dict[str, object] = {"temp_directory": str(tmp_dir / "spill")}
    if engine.memory_limit:
        config["memory_limit"] = engine.memory_limit
    if engine.threads:
        config["threads"] = engine.threads
    return config


def _open_kept(
    root: Path, entry: Path, engine: EngineSettings, temp_directory: str | Path | None = None
) -> Dataset:
    """A dataset over a kept validation: the file attached read-only (any number of
    processes may read it), its accepted tables as views of a fresh in-memory database,
    where the later steps' own tables go."""
    report = kept.read_report(entry)
    tmp_dir = _scratch(temp_directory)
    try:
        return _attach_kept(root, entry, engine, report, tmp_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise


def _attach_kept(
    root: Path, entry: Path, engine: EngineSettings, report: dict, tmp_dir: Path
) -> Dataset:
    con = compiled.install(
        ibis.duckdb.connect(database=":memory:", **_engine_config(engine, tmp_dir))
    )
    try:
        scratch.attach(con, tmp_dir)
        return _kept_dataset(root, entry, report, tmp_dir, con)
    except BaseException:
        con.disconnect()
        raise


def _kept_dataset(
    root: Path, entry: Path, report: dict, tmp_dir: Path, con: ibis.BaseBackend
) -> Dataset:
    raw = con.con
    database = entry / kept.DATABASE
    run_sql(raw, f"ATTACH '{str(database).replace(chr(39), chr(39) * 2)}' AS kept (READ_ONLY)")
    reconciliation = Reconciliation()
    tables: dict[str, ir.Table] = {}
    for count in report["tables"]:
        reconciliation.add(TableCount(**count))
        name = count["table"]
        run_sql(raw, f'CREATE VIEW "{name}" AS SELECT * FROM kept."{name}"')
        tables[name] = con.table(name)
    return Dataset(
        path=root,
        con=con,
        tables=tables,
        reconciliation=reconciliation,
        fingerprint=str(report["fingerprint"]),
        database=database,
        warnings=list(report["warnings"]),
        skipped=dict(report["skipped"]),
        currency=str(report["currency"]),
        _tmp_dir=tmp_dir,
    )


def validation_report(ds: Dataset) -> dict[str, object]:
    """The JSON-able record of a validation run."""
    return {
        "dataset": str(ds.path),
        "fingerprint": ds.fingerprint,
        "tables": ds.reconciliation.to_dict(),
        "quarantined": ds.reconciliation.quarantined,
        "warnings": ds.warnings,
        "skipped": ds.skipped,
        "currency": ds.currency,
    }


def read_metadata(root: Path) -> dict[str, str]:
    """The dataset's declarations from ``dataset.json`` (none when the file is absent).

    ``currency`` (ISO 4217, three capital letters) and ``source`` (free text kept for
    people) are its keys. A malformed file or an unknown key stops the load, naming the
    file and the key.
    """
    path = Path(root) / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ContractError(f"{path}: not a JSON object ({err})") from err
    if not isinstance(meta, dict):
        raise ContractError(f"{path}: expected a JSON object, found {type(meta).__name__}")
    unknown = sorted(set(meta) - METADATA_KEYS)
    if unknown:
        # a misspelt "currency" must not leave the money silently read as yuan
        raise ContractError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))} (expected "
            f"{', '.join(sorted(METADATA_KEYS))})"
        )
    currency = meta.get("currency", DEFAULT_CURRENCY)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ContractError(
            f"{path}: key 'currency' is {currency!r} (expected an ISO 4217 code such as "
            "'CNY' or 'USD')"
        )
    return {"currency": currency, **({"source": str(meta["source"])} if "source" in meta else {})}


def _validate_all(
    con: ibis.BaseBackend,
    sources: dict[str, TableSource],
    encoding: str,
    tmp_dir: Path,
    out: Path | None,
    warnings: list[str],
    skipped: dict[str, str],
) -> tuple[Reconciliation, dict[str, ir.Table]]:
    """Validate every table found, in contract order; return the counts and accepted tables.

    An optional table without a single row is treated as absent (added to ``skipped``, with
    a warning): kept, it would send every row referring to it into quarantine.
    """
    raw_con = con.con  # the DuckDB connection, for reading files: I/O stays at this edge
    reconciliation = Reconciliation()
    accepted: dict[str, ir.Table] = {}
    quarantined_keys: dict[str, ir.Table] = {}
    scratch: list[str] = []
    for spec in TABLES:
        source = sources.get(spec.name)
        if source is None:
            continue
        started = time.perf_counter()
        try:
            staged = stage(
                raw_con,
                source,
                encoding=encoding,
                work_dir=tmp_dir / "transcoded",
                check=partial(_check_columns, spec=spec),
            )
            scratch.append(staged.relation)
            if source.partitioned:
                _check_partition_months(raw_con, staged)
            if not spec.required and _is_empty(con, staged):
                warnings.append(
                    f"{source.display} holds no rows: {spec.name} is treated as absent, so "
                    f"{SKIPPED_WITHOUT[spec.name]}"
                )
                skipped[spec.name] = SKIPPED_WITHOUT[spec.name]
                continue
            count = _validate_table(
                con, staged, spec, accepted, quarantined_keys, reconciliation, out, warnings
            )
        except duckdb.OutOfMemoryException:
            raise  # the memory limit's, not the file's fault: see cli.main
        except duckdb.Error as exc:
            # Only a file's schema is read up front: a damaged data page shows when its
            # values are, in the middle of validation. Find the part and name it.
            broken = broken_part(raw_con, source) if source.format == "parquet" else None
            if broken is None:
                raise
            path, detail = broken
            raise ContractError(
                f"{path}: unreadable as Parquet: a data page is damaged ({detail}) "
                "(expected a complete Parquet file; write it again from the source)"
            ) from exc
        log.info(
            "%-22s read %12s  accepted %12s  quarantined %10s  (%.1f s)",
            spec.name,
            f"{count.read:,}",
            f"{count.accepted:,}",
            f"{count.quarantined:,}",
            time.perf_counter() - started,
        )
    # Staging relations are no longer needed once every table that refers to them is done.
    for relation in scratch:
        run_sql(raw_con, f"DROP VIEW IF EXISTS {relation}")
        run_sql(raw_con, f"DROP TABLE IF EXISTS {relation.replace('_raw_', '_csv_', 1)}")
    return reconciliation, accepted


def _check_partition_months(raw_con: duckdb.DuckDBPyConnection, staged: StagedTable) -> None:
    """Every row of a partitioned table is in its claim's month: a claim in the month of
    its ``admit_time``, a fee line or code in its claim's month.

    A load of some months would otherwise miss rows of them or cut lines off their claim.
    A value that cannot be read as a time is left to validation, which quarantines it.
    """
    table = staged.source.table
    if table == "claims":
        if "admit_time" not in staged.columns:
            return  # a missing required column has already stopped the load
        found = run_sql(
            raw_con,
            f"SELECT {SOURCE_FILE}, {SOURCE_ROW}, CAST(admit_time AS VARCHAR), {PARTITION} "
            f"FROM {staged.relation} "
            f"WHERE strftime(TRY_CAST(admit_time AS TIMESTAMP), '%Y-%m') <> {PARTITION} "
            f"ORDER BY {SOURCE_ORDER} LIMIT 1",
        )
        what = "admit_time {2}"
    else:
        if "claim_id" not in staged.columns:
            return
        # a line whose claim is in claims, but in no part of its own month
        found = run_sql(
            raw_con,
            f"SELECT i.{SOURCE_FILE}, i.{SOURCE_ROW}, i.claim_id, i.{PARTITION} "
            f"FROM {staged.relation} i "
            f"SEMI JOIN (SELECT DISTINCT claim_id FROM _raw_claims) c USING (claim_id) "
            f"ANTI JOIN (SELECT DISTINCT claim_id, {PARTITION} FROM _raw_claims) m "
            f"ON i.claim_id = m.claim_id AND i.{PARTITION} = m.{PARTITION} "
            f"ORDER BY i.{SOURCE_ORDER} LIMIT 1",
        )
        what = "claim_id {2}, whose claim is in another month"
    if found:
        row = found[0]
        raise ContractError(
            f"{row[0]}: row {row[1]} ({what.format(*row)}) is not in its month folder "
            f"month={row[3]} (expected each claim under the month of its admit_time, and its "
            "fee lines and codes under their claim's month)"
        )


def _is_empty(con: ibis.BaseBackend, staged: StagedTable) -> bool:
    """Whether a staged table holds no row at all, not even a malformed CSV line."""
    if int(con.table(staged.relation).count().execute()) > 0:
        return False
    if staged.rejects is None:
        return True
    (n,) = run_sql(con.con, f"SELECT count(*) FROM {staged.rejects}")[0]
    return int(n) == 0


def _validate_table(
    con: ibis.BaseBackend,
    staged: StagedTable,
    spec: Table,
    accepted: dict[str, ir.Table],
    quarantined_keys: dict[str, ir.Table],
    reconciliation: Reconciliation,
    out: Path | None,
    warnings: list[str],
) -> TableCount:
    """Check one staged table: add its accepted rows to ``accepted``, write its quarantine
    (when ``out`` is given) and reconcile its counts, which are returned."""
    raw_con = con.con
    source = staged.source
    absent = _absent_columns(staged, spec, warnings)
    for fk in spec.foreign_keys:
        if fk.ref_table not in accepted:
            warnings.append(
                f"{spec.name}.{fk.column} not checked: no {fk.ref_table} table in the dataset"
            )
    n_read = int(con.table(staged.relation).count().execute())
    raw = con.table(staged.relation)
    if absent:
        raw = raw.mutate(**{name: ibis.null("string") for name in absent})
    expr, faults = checks.checked(raw, spec, accepted, quarantined_keys)
    work = con.create_table(f"_checked_{spec.name}", expr, overwrite=True)
    work = checks.with_duplicates(work, spec, faults)
    work = checks.with_followers(work, spec, faults, quarantined_keys)
    faulty = checks.any_fault(work, faults)

    keep = [c for c in work.columns if not checks.is_internal(c)]
    accepted[spec.name] = con.create_table(
        spec.name, work.filter(~faulty).select(keep), overwrite=True
    )

    q_name = f"_quarantine_{spec.name}"
    renamed = _quarantine_names(raw, spec, staged, warnings)
    con.create_table(
        q_name, _quarantine_rows(raw, work, faults, spec, staged, renamed), overwrite=True
    )
    malformed = _add_malformed_lines(raw_con, q_name, staged)
    quarantine = con.table(q_name)
    if spec.key and len(spec.key) == 1:
        quarantined_keys[spec.name] = quarantine.select(spec.key[0]).distinct()

    n_read += malformed
    n_accepted = int(accepted[spec.name].count().execute())
    reason_counts = quarantine.group_by(checks.REASON).agg(n=quarantine.count()).to_pyarrow()
    reasons = {
        r: int(n)
        for r, n in zip(
            reason_counts[checks.REASON].to_pylist(),
            reason_counts["n"].to_pylist(),
            strict=True,
        )
    }
    count = TableCount(
        table=spec.name,
        source=source.display,
        read=n_read,
        accepted=n_accepted,
        quarantined=sum(reasons.values()),
        reasons=reasons,
    )
    reconciliation.add(count)  # raises if accepted + quarantined != read
    if count.read and not count.accepted:
        # exit 0 with nothing accepted would otherwise pass unnoticed until training
        top, n_top = min(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        warnings.append(
            f"{spec.name}: every row ({count.read:,}) is quarantined; the most common reason "
            f"is '{top}' ({checks.n_rows(n_top)})"
        )
    warnings.extend(checks.implausible_dates(accepted[spec.name], spec, _today()))
    if out is not None:
        # ``out`` is the staging folder: the whole output appears at once at the end
        target = out / "quarantine" / f"{spec.name}.parquet"
        target.parent.mkdir(exist_ok=True)
        run_sql(
            raw_con,
            f"COPY (SELECT * FROM {q_name} ORDER BY source_file, source_row) "
            f"TO '{str(target).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)",
        )
    run_sql(raw_con, f"DROP TABLE _checked_{spec.name}")
    return count


def _extras(raw: ir.Table, spec: Table) -> list[str]:
    """Input columns the contract does not list: carried along as read."""
    contract = set(spec.column_names)
    return [c for c in raw.columns if c not in contract and not checks.is_internal(c)]


def _quarantine_names(
    raw: ir.Table, spec: Table, staged: StagedTable, warnings: list[str]
) -> dict[str, str]:
    """The quarantine file's name for each extra input column.

    An extra named like one of :data:`QUARANTINE_ANNOTATIONS` becomes ``input_<name>``
    (``input_input_<name>`` if that is taken too), with a warning; the others keep their
    name. Accepted tables keep every input name: only the quarantine file adds columns.
    """
    extras = _extras(raw, spec)
    taken = {c.lower() for c in raw.columns} | set(QUARANTINE_ANNOTATIONS)
    names: dict[str, str] = {}
    for extra in extras:
        name = extra
        if extra.lower() in QUARANTINE_ANNOTATIONS:
            while name.lower() in taken:
                name = f"input_{name}"
            taken.add(name.lower())
            warnings.append(
                f"{staged.source.display}: input column '{extra}' is written to the quarantine "
                f"file as '{name}' (the quarantine's own '{extra.lower()}' holds "
                f"{QUARANTINE_ANNOTATIONS[extra.lower()]})"
            )
        names[extra] = name
    return names


def _quarantine_rows(
    raw: ir.Table,
    work: ir.Table,
    faults: list[checks.Fault],
    spec: Table,
    staged: StagedTable,
    renamed: Mapping[str, str],
) -> ir.Table:
    """Faulty rows as they were read, with the reasons and where they came from.

    Only the few faulty rows are joined back to the staged input for their raw values, so
    the typed table never has to carry a second copy of every column. The reasons travel
    under internal names until the final select, so an input column cannot shadow them.
    """
    bad = work.filter(checks.any_fault(work, faults))
    summary = checks.fault_summary(bad, faults)
    bad = bad.select(
        SOURCE_FILE, SOURCE_ROW, **{INTERNAL_PREFIX + k: v for k, v in summary.items()}
    )
    rows = raw.mutate(**{SOURCE_ROW: raw[SOURCE_ROW].cast("int64")}).inner_join(
        bad, [SOURCE_FILE, SOURCE_ROW]
    )
    columns: dict[str, ir.Value] = {c.name: rows[c.name] for c in spec.columns}
    columns.update({renamed[c]: rows[c] for c in _extras(raw, spec)})
    columns.update({k: rows[INTERNAL_PREFIX + k] for k in summary})
    columns.update({"source_file": rows[SOURCE_FILE], "source_row": rows[SOURCE_ROW]})
    if staged.rejects is not None:
        columns["raw_line"] = ibis.null("string")
    return rows.select(**columns)


def _add_malformed_lines(raw_con, q_name: str, staged: StagedTable) -> int:
    """Put CSV lines the reader could not split into columns into the quarantine."""
    if staged.rejects is None:
        return 0
    run_sql(
        raw_con,
        f"""
        INSERT INTO {q_name} BY NAME
        SELECT
            'malformed CSV line: ' || lower(CAST(first(error_type ORDER BY column_idx) AS VARCHAR))
                || ' (' || first(error_message ORDER BY column_idx) || ')' AS reason,
            'malformed_line' AS reason_code,
            string_agg(CAST(error_type AS VARCHAR) || ': ' || error_message, '; ') AS all_reasons,
            '{str(staged.source.files[0]).replace("'", "''")}' AS source_file,
            CAST(line AS BIGINT) - 1 AS source_row,
            first(csv_line) AS raw_line
        FROM {staged.rejects}
        GROUP BY line
        """,
    )
    (n,) = run_sql(raw_con, f"SELECT count(DISTINCT line) FROM {staged.rejects}")[0]
    return int(n)
