"""The national platform's extract (国家医保信息平台 明细数据) as a contract dataset.

``fraudml import national SRC OUT`` reads the files of ``SRC`` as a mapping file says
(:mod:`fraudml.adapters.mapping`; the national layout of shared/national-extract.md,
``conf/import/national.yaml``, is the default): one file per table (``<FILE>.csv``,
``.csv.gz`` or ``.parquet``; the name's case does not matter), further files joined on a
key (the encounters ``MDTRT_D`` to the settlements ``SETL_D`` on ``mdtrt_id``), columns
renamed, codes mapped, values typed as the contract says. A ``labels`` table in the
contract's own form beside them is carried over as it is.

- **Exact.** Nothing is rounded, trimmed or guessed: an extract written from a contract
  dataset in this layout (:func:`write_extract`) imports back to the same tables.
- **Unknown codes** are not guessed: a code outside the mapping's list stays as written
  (or becomes the column's ``default``, ``other`` for ``med_type``), so validation
  quarantines the row with its reason. The import logs how many there are.
- **Faults name file, column and row**: a missing file or column, a byte the encoding
  cannot decode, a value that is not a date, time or number (typed Parquet cannot carry
  it on to quarantine), a join key repeated in the joined file. They stop the import
  with a :class:`~fraudml.errors.ContractError`.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fraudml.adapters.mapping import (
    KEEP,
    ColumnMap,
    FileOptions,
    Mapping,
    TableMap,
    form_of,
    load_mapping,
    shipped,
)
from fraudml.contract import ITEM_CATEGORIES, TABLES, TABLES_BY_NAME
from fraudml.errors import ContractError

log = logging.getLogger(__name__)

#: The shipped default mapping: the national layout.
DEFAULT_MAPPING = "national"
SUFFIXES = (".csv", ".csv.gz", ".parquet")

_WHOLE = r"[+-]?\d+"
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ROW = "__row"


def default_mapping() -> Mapping:
    """The national layout (``conf/import/national.yaml``)."""
    return load_mapping(shipped(DEFAULT_MAPPING))


def metadata(mapping: Mapping) -> dict[str, str]:
    """The dataset's declarations (``dataset.json``)."""
    return {"currency": mapping.currency, "source": mapping.name}


# -- finding and reading files ----------------------------------------------------------


def find_file(src: Path, name: str) -> Path | None:
    """``name`` in ``src``: the file itself, or ``<name>.csv``/``.csv.gz``/``.parquet``,
    whatever the case of its name; two candidates are ambiguous and stop."""
    exact = src / name
    if exact.is_file():
        return exact
    wanted = {f"{name}{suffix}".lower() for suffix in SUFFIXES}
    found = sorted(p for p in src.iterdir() if p.is_file() and p.name.lower() in wanted)
    if len(found) > 1:
        raise ContractError(
            f"{src}: table file {name} is given more than once "
            f"({', '.join(p.name for p in found)}); keep exactly one"
        )
    return found[0] if found else None


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


def _open_bytes(path: Path) -> bytes:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def _decode_fault(path: Path, options: FileOptions, err: UnicodeDecodeError) -> ContractError:
    """The undecodable byte, located: its data row (1 = the first after the header), its
    column and the byte itself."""
    raw = _open_bytes(path)
    try:
        raw.decode(options.encoding)
        offset, bad = err.start, b""
    except UnicodeDecodeError as exact:
        offset, bad = exact.start, raw[exact.start : exact.end]
    line_start = raw.rfind(b"\n", 0, offset) + 1
    prefix = raw[line_start:offset].decode(options.encoding, errors="replace")
    fields = next(csv.reader([prefix], delimiter=options.delimiter), [""])
    header_end = raw.find(b"\n")
    header_text = raw[: header_end if header_end >= 0 else len(raw)]
    header = next(
        csv.reader(
            [header_text.decode(options.encoding, errors="replace").rstrip("\r")],
            delimiter=options.delimiter,
        ),
        [],
    )
    row = raw.count(b"\n", 0, offset)
    index = max(len(fields) - 1, 0)
    column = header[index] if index < len(header) else f"#{index + 1}"
    where = "the header" if row == 0 else f"row {row}"
    return ContractError(
        f"{path}: {where}, column {column!r}: byte {bad.hex(' ') or '?'} cannot be decoded "
        f"as {options.encoding} (the mapping's encoding; set encoding: for this file if it "
        "is written in another)"
    )


def _csv_kwargs(options: FileOptions) -> dict[str, Any]:
    return {
        "sep": options.delimiter,
        "encoding": options.encoding,
        "dtype": str,
        "keep_default_na": False,
        "na_values": list(options.nulls),
    }


def header(path: Path, options: FileOptions) -> list[str]:
    """The column names of ``path``; a name given twice is refused."""
    if _is_parquet(path):
        try:
            names = list(pq.read_schema(path).names)
        except (OSError, pa.ArrowException) as err:
            raise ContractError(f"{path}: not a readable Parquet file ({err})") from err
    else:
        try:
            names = list(pd.read_csv(path, nrows=0, **_csv_kwargs(options)).columns)
        except UnicodeDecodeError as err:
            raise _decode_fault(path, options, err) from err
        except pd.errors.EmptyDataError:
            raise ContractError(f"{path}: empty file (expected a header row)") from None
        names = [n.lstrip("\ufeff") if i == 0 else n for i, n in enumerate(names)]
        mangled = [n for n in names if re.fullmatch(r".+\.\d+", n) and n.rsplit(".", 1)[0] in names]
        if mangled:
            raise ContractError(
                f"{path}: column {mangled[0].rsplit('.', 1)[0]!r} is given more than once"
            )
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ContractError(f"{path}: column {twice!r} is given more than once")
    return names


def read_file(
    path: Path, options: FileOptions, columns: list[str] | None, nrows: int | None = None
) -> pd.DataFrame:
    """The columns of ``path`` as read: text from CSV (the mapping's nulls as missing),
    as typed from Parquet."""
    if _is_parquet(path):
        try:
            frame = pq.read_table(path, columns=columns).to_pandas()
        except (OSError, pa.ArrowException) as err:
            raise ContractError(f"{path}: not a readable Parquet file ({err})") from err
        return frame.head(nrows) if nrows is not None else frame
    wanted = None if columns is None else set(columns)
    try:
        frame = pd.read_csv(
            path,
            usecols=None if wanted is None else (lambda c: c.lstrip("\ufeff") in wanted),
            nrows=nrows,
            **_csv_kwargs(options),
        )
    except UnicodeDecodeError as err:
        raise _decode_fault(path, options, err) from err
    except pd.errors.ParserError as err:
        raise ContractError(f"{path}: not a well-formed CSV file ({err})") from err
    frame.columns = [c.lstrip("\ufeff") for c in frame.columns]
    if options.encoding.lower().replace("-", "") in {"gb18030", "gbk", "gb2312"}:
        _warn_if_utf8(path)
    return frame


def _warn_if_utf8(path: Path) -> None:
    """A UTF-8 file read as GB18030 decodes, but into nonsense: say so when it looks so."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        sample = fh.read(65536)
    if not sample or sample.isascii():
        return
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(sample) - 4:  # not merely a character cut at the sample's end
            return
    log.warning(
        "%s reads as UTF-8 but is decoded as the mapping's GB18030: if its text looks "
        "garbled, set encoding: utf-8 for it",
        path,
    )


# -- one table --------------------------------------------------------------------------


@dataclass
class _Frame:
    """A table's files read and joined: columns ``<i>:<name>`` of file ``i``, with the
    data row of each file (``<i>:__row``) so a fault names where a value came from."""

    table: TableMap
    paths: list[Path]
    headers: list[list[str]]
    data: pd.DataFrame

    def resolve(self, ref: str, column: ColumnMap | None = None, required: bool = True) -> str:
        """The frame column of the source column ``ref``: ``FILE.column`` names the file;
        a bare name is the first file (main file, then joined ones) that has it."""
        for i, name in enumerate(self.table.files):
            if ref.startswith(f"{name}.") and ref[len(name) + 1 :] in self.headers[i]:
                return f"{i}:{ref[len(name) + 1 :]}"
        for i, names in enumerate(self.headers):
            if ref in names:
                return f"{i}:{ref}"
        if not required:
            return ""
        i, name = 0, ref
        for n, file in enumerate(self.table.files):
            if ref.startswith(f"{file}."):
                i, name = n, ref[len(file) + 1 :]
        what = f" (the mapping reads it for {self.table.table}.{column.name})" if column else ""
        if i == 0 and len(self.paths) > 1:
            raise ContractError(f"{_listed(self.paths)}: column {name!r} is in none of them{what}")
        names = self.headers[i]
        shown = ", ".join(names[:15]) + (" …" if len(names) > 15 else "")
        raise ContractError(f"{self.paths[i]}: column {name!r} is missing{what}; it has {shown}")

    def source(self, key: str) -> tuple[Path, str]:
        """The file and column of the frame column ``key``."""
        i, name = key.split(":", 1)
        return self.paths[int(i)], name

    def where(self, key: str, position: int) -> tuple[Path, str, int]:
        """… and the data row the value at ``position`` came from."""
        i = key.split(":", 1)[0]
        return (*self.source(key), int(self.data[f"{i}:{_ROW}"].iloc[position]))


def _listed(paths: list[Path]) -> str:
    """A table's files, for a message about a column none of them has."""
    return f"{paths[0]} (and {', '.join(p.name for p in paths[1:])} joined to it)"


def _refs(spec: ColumnMap) -> list[tuple[str, bool]]:
    """The source columns ``spec`` reads (with whether each must exist)."""
    out = [(s, not spec.optional) for s in spec.sources]
    for nested in (spec.codes or {}).values():
        if isinstance(nested, ColumnMap):
            out += [(s, not spec.optional) for s in nested.sources]
    return out


def _read_table(src: Path, table: TableMap, nrows: int | None) -> _Frame | None:
    paths: list[Path] = []
    for i, name in enumerate(table.files):
        path = find_file(src, name)
        if path is None:
            if i == 0 and not TABLES_BY_NAME[table.table].required:
                return None
            role = "file" if i == 0 else "joined file"
            raise ContractError(
                f"{src}: no {role} {name} for table {table.table} (expected {name}.csv, "
                f"{name}.csv.gz or {name}.parquet)"
            )
        paths.append(path)
    options = [table.options, *(j.options for j in table.joins)]
    headers = [header(p, o) for p, o in zip(paths, options, strict=True)]
    frame = _Frame(table, paths, headers, pd.DataFrame())
    wanted: list[set[str]] = [set() for _ in paths]
    for column in table.columns:
        for ref, required in _refs(column):
            key = frame.resolve(ref, column, required)
            if key:
                i, name = key.split(":", 1)
                wanted[int(i)].add(name)
    for j, join in enumerate(table.joins, start=1):
        for ref in join.left_on:
            i, name = frame.resolve(ref).split(":", 1)
            if int(i) >= j:
                raise ContractError(
                    f"{paths[0]}: join key {ref!r} of {join.file} is not in the files "
                    "joined before it"
                )
            wanted[int(i)].add(name)
        for name in join.right_on:
            if name not in headers[j]:
                raise ContractError(
                    f"{paths[j]}: column {name!r} is missing (the join key of {table.table})"
                )
            wanted[j].add(name)
    if table.carry:
        wanted[0] = set(headers[0])
    parts = []
    for i, (path, opts) in enumerate(zip(paths, options, strict=True)):
        keep = [c for c in headers[i] if c in wanted[i]]
        part = read_file(path, opts, keep, nrows if i == 0 else None).reset_index(drop=True)
        part.columns = [f"{i}:{c}" for c in part.columns]
        part[f"{i}:{_ROW}"] = np.arange(1, len(part) + 1)
        parts.append(part)
    data = parts[0]
    for j, join in enumerate(table.joins, start=1):
        data = _join(data, parts[j], frame, j, join)
    frame.data = data.reset_index(drop=True)
    return frame


def _join(left: pd.DataFrame, right: pd.DataFrame, frame: _Frame, j: int, join) -> pd.DataFrame:
    """``right`` (file ``j``) joined to ``left``: its key must be unique, so a row of the
    main file stays one row."""
    lkeys = [frame.resolve(r) for r in join.left_on]
    rkeys = [f"{j}:{r}" for r in join.right_on]
    rtext = pd.DataFrame({k: _text(right[k]) for k in rkeys})
    repeated = rtext.duplicated(keep="first") & rtext.notna().all(axis=1)
    if repeated.any():
        pos = int(np.flatnonzero(repeated.to_numpy())[0])
        value = tuple(rtext.iloc[pos]) if len(rkeys) > 1 else rtext.iloc[pos, 0]
        raise ContractError(
            f"{frame.paths[j]}: row {pos + 1}, column {', '.join(join.right_on)!r} repeats "
            f"{value!r} (the key {frame.table.table} is joined on must be unique in "
            f"{frame.paths[j].name})"
        )
    on = [f"__key{n}" for n in range(len(lkeys))]
    left = left.assign(**{o: _text(left[k]) for o, k in zip(on, lkeys, strict=True)})
    right = right.assign(**{o: rtext[k] for o, k in zip(on, rkeys, strict=True)})
    # an empty key joins nothing (a merge would pair the empty keys of both sides)
    right = right[rtext.notna().all(axis=1).to_numpy()]
    merged = left.merge(right, on=on, how="left", indicator=True, sort=False)
    unmatched = merged["_merge"].eq("left_only").to_numpy()
    if unmatched.any():
        log.warning(
            "%s: %s of %s rows have no row in %s (on %s): %s",
            frame.paths[0].name,
            f"{int(unmatched.sum()):,}",
            f"{len(left):,}",
            frame.paths[j].name,
            ", ".join(join.left_on),
            "left out (how: inner)" if join.how == "inner" else "its columns are empty for them",
        )
        if join.how == "inner":
            merged = merged[~unmatched]
    used = pd.MultiIndex.from_frame(rtext).isin(
        pd.MultiIndex.from_frame(left[on].set_axis(rkeys, axis=1))
    )
    if (~used).any():
        log.info(
            "%s: %s rows match no row of %s: left out",
            frame.paths[j].name,
            f"{int((~used).sum()):,}",
            frame.paths[0].name,
        )
    return merged.drop(columns=[*on, "_merge"])


# -- values -----------------------------------------------------------------------------


def _text(values: pd.Series) -> pd.Series:
    """Values as text (a Parquet number as its digits); missing stays missing."""
    if pd.api.types.infer_dtype(values, skipna=True) in {"string", "empty"}:
        return values.astype("str") if values.dtype != "str" else values

    def one(v: Any) -> Any:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, bool | np.bool_):
            return "true" if v else "false"
        if isinstance(v, pd.Timestamp | datetime):
            return v.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(v, date):
            return v.isoformat()
        return str(v)

    return pd.Series([one(v) for v in values], index=values.index, dtype="str")


def _expected(spec: ColumnMap, options: FileOptions) -> str:
    if spec.type in ("date", "timestamp"):
        fmt = spec.format or options.formats[spec.type]
        return f"a {'date' if spec.type == 'date' else 'time'} {form_of(fmt)}"
    form = {
        "int": "a whole number",
        "money": "a number",
        "float": "a number",
        "bool": "true or false",
        "str": "text",
    }[spec.type]
    if spec.codes:
        codes = ", ".join(spec.codes)
        return f"one of {codes}" if spec.type == "bool" else f"one of {codes}, or {form}"
    return form


class _Columns:
    """Turns a table's frame into its contract columns."""

    def __init__(self, frame: _Frame) -> None:
        self.frame = frame
        self.options = frame.table.options
        #: per source column and the column it maps to: the codes found outside the list
        self.unknown: dict[str, tuple[ColumnMap, pd.Series]] = {}

    def fault(self, spec: ColumnMap, keys: list[str], origin: np.ndarray, bad: pd.Series):
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        index = bad.index[pos]
        at = self.frame.data.index.get_loc(index)
        path, column, row = self.frame.where(keys[int(origin[pos])], at)
        value = self.frame.data.loc[index, keys[int(origin[pos])]]
        raise ContractError(
            f"{path}: row {row}, column {column!r} holds {value!r} (expected "
            f"{_expected(spec, self.options)}, for {self.frame.table.table}.{spec.name})"
        )

    def raw(self, spec: ColumnMap, rows: pd.Index) -> tuple[pd.Series, list[str], np.ndarray]:
        """The source values for ``rows``: one column, or the first non-null of several;
        with which source each value came from."""
        keys = [k for s in spec.sources if (k := self.frame.resolve(s, spec, not spec.optional))]
        data = self.frame.data.loc[rows]
        if not keys:
            return pd.Series(None, index=rows, dtype=object), [], np.zeros(len(rows), int)
        values = data[keys[0]]
        origin = np.zeros(len(rows), dtype=int)
        for n, key in enumerate(keys[1:], start=1):
            take = values.isna() & data[key].notna()
            if take.any():
                origin[take.to_numpy()] = n
                values = values.where(~take, data[key])
        return values, keys, origin

    def column(self, spec: ColumnMap, rows: pd.Index | None = None) -> pd.Series:
        rows = self.frame.data.index if rows is None else rows
        if spec.constant:
            return _finish(pd.Series([spec.value] * len(rows), index=rows, dtype=object), spec)
        values, keys, origin = self.raw(spec, rows)
        if spec.codes is None:
            return self.parse(spec, values, keys, origin)
        text = self.text(spec, values, keys)
        out = pd.Series(None, index=rows, dtype=object)
        plain = {c: v for c, v in spec.codes.items() if not isinstance(v, ColumnMap)}
        hit = text.isin(list(plain)).to_numpy()
        out[hit] = text[hit].map(lambda c: plain[c]).astype(object)
        for code, nested in spec.codes.items():
            if isinstance(nested, ColumnMap):
                these = text.eq(code).fillna(False).to_numpy()
                if these.any():
                    out[these] = self.column(nested, rows[these]).astype(object)
        unknown = (text.notna() & ~text.isin(list(spec.codes))).to_numpy()
        if unknown.any():
            path, column = self.frame.source(keys[0])
            label = f"{path.name}, column {column!r} ({self.frame.table.table}.{spec.name})"
            self.unknown[label] = (spec, text[unknown])
            if spec.default is not KEEP:
                out[unknown] = spec.default
            elif spec.type == "str":
                out[unknown] = text[unknown].astype(object)
            else:
                parsed = self.parse(spec, values[unknown], keys, origin[unknown])
                out[unknown] = parsed.astype(object)
        return _finish(out, spec)

    def parse(
        self, spec: ColumnMap, values: pd.Series, keys: list[str], origin: np.ndarray
    ) -> pd.Series:
        """Source values as the column's type; a value that is not stops the import."""
        typ, kind = spec.type, pd.api.types.infer_dtype(values, skipna=True)
        native = kind not in {"string", "empty"}
        if typ == "str":
            return self.text(spec, values, keys).astype(object).where(values.notna(), None)
        if typ in ("date", "timestamp") and native and kind in {"datetime64", "datetime", "date"}:
            stamps = pd.to_datetime(values)
            if getattr(stamps.dt, "tz", None) is not None:
                self.fault_zone(spec, keys)
            return (
                stamps.dt.date.astype(object).where(stamps.notna(), None)
                if typ == "date"
                else stamps
            )
        if typ in ("int", "money", "float") and native and kind in {"integer", "floating"}:
            numbers = pd.to_numeric(values)
            if typ == "int":
                bad = numbers.notna() & (numbers % 1 != 0)
                if bad.any():
                    self.fault(spec, keys, origin, bad)
                return pd.Series(pd.array(numbers, dtype="Int64"), index=values.index)
            return numbers.astype("float64")
        if typ == "bool" and native and kind == "boolean":
            return values.astype("boolean")
        text = _text(values)
        present = text.notna()
        if typ in ("date", "timestamp"):
            fmt = spec.format or self.options.formats[typ]
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
            self.check(spec, keys, origin, present & parsed.isna())
            return parsed.dt.date.astype(object).where(present, None) if typ == "date" else parsed
        if typ == "bool":
            lower = text.str.lower()
            words = {"true": True, "false": False, "1": True, "0": False}
            self.check(spec, keys, origin, present & ~lower.isin(list(words)))
            return lower.map(words).astype("boolean")
        pattern = _WHOLE if typ == "int" else _NUMBER
        self.check(spec, keys, origin, present & ~text.str.fullmatch(pattern).fillna(False))
        if typ == "int":
            return pd.Series(pd.array(pd.to_numeric(text), dtype="Int64"), index=values.index)
        return text.astype("float64")

    def text(self, spec: ColumnMap, values: pd.Series, keys: list[str]) -> pd.Series:
        """Codes and identifiers as text; stored as numbers (in Parquet) they have lost
        their leading zeros (hosp_lv 02 would read as 2), so they are refused."""
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind not in {"string", "empty"}:
            path, column = self.frame.source(keys[0])
            stored = self.frame.data[keys[0]].dtype
            raise ContractError(
                f"{path}: column {column!r} is stored as {stored} (expected text, for "
                f"{self.frame.table.table}.{spec.name}: codes and identifiers keep their "
                "leading zeros only as text)"
            )
        return _text(values)

    def check(self, spec, keys, origin, bad: pd.Series) -> None:
        if bad.any():
            self.fault(spec, keys, origin, bad)

    def fault_zone(self, spec: ColumnMap, keys: list[str]) -> None:
        path, column = self.frame.source(keys[0])
        raise ContractError(
            f"{path}: column {column!r} holds times with a time zone (expected local times "
            f"without one, for {self.frame.table.table}.{spec.name})"
        )


def _finish(values: pd.Series, spec: ColumnMap) -> pd.Series:
    """An object column of mapped values as the column's type."""
    typ = spec.type
    missing = values.isna()
    if typ == "str":
        return values.astype(object).where(~missing, None)
    if typ == "int":
        return pd.Series(pd.array(values.where(~missing, None), dtype="Int64"), index=values.index)
    if typ in ("money", "float"):
        return pd.to_numeric(values.where(~missing, np.nan)).astype("float64")
    if typ == "bool":
        return values.where(~missing, None).astype("boolean")
    if typ == "timestamp":
        return pd.to_datetime(values)
    return values.where(~missing, None)


def convert_table(
    frame: _Frame,
) -> tuple[pd.DataFrame, dict[str, tuple[ColumnMap, pd.Series]]]:
    """One table's frame as the contract table (columns in the contract's order, then the
    mapping's extras, then carried ones), with the codes found outside the mapping."""
    spec = TABLES_BY_NAME[frame.table.table]
    columns = _Columns(frame)
    out: dict[str, pd.Series] = {}
    for column in frame.table.columns:
        if column.optional and not column.constant:
            present = [s for s in column.sources if frame.resolve(s, column, required=False)]
            if not present:
                if column.name in spec.column_names:
                    out[column.name] = _finish(
                        pd.Series(None, index=frame.data.index, dtype=object), column
                    )
                continue
        out[column.name] = columns.column(column).reset_index(drop=True)
    if frame.table.carry:
        for name in frame.headers[0]:
            if name not in out:
                carried = frame.data[f"0:{name}"].reset_index(drop=True)
                if pd.api.types.infer_dtype(carried, skipna=True) in {"string", "empty"}:
                    carried = carried.astype(object).where(carried.notna(), None)
                out[name] = carried
    order = [c for c in spec.column_names if c in out] + [
        c for c in out if c not in spec.column_names
    ]
    return pd.DataFrame({c: out[c] for c in order}), columns.unknown


def convert(
    src: str | Path, mapping: Mapping | None = None, nrows: int | None = None
) -> dict[str, pd.DataFrame]:
    """The extract in ``src`` as contract tables, as ``mapping`` (default: the national
    layout) says. ``nrows`` reads only the first settlements of the claims file, and the
    fee lines of those (a slice for trials)."""
    src = Path(src)
    if not src.is_dir():
        raise ContractError(f"{src}: source folder not found")
    mapping = mapping or default_mapping()
    tables: dict[str, pd.DataFrame] = {}
    for name, table in mapping.tables.items():
        frame = _read_table(src, table, nrows if name == "claims" else None)
        if frame is None:
            log.info("%s: no %s file: table %s left out", src, table.file, name)
            continue
        tables[name], unknown = convert_table(frame)
        for label, (spec, codes) in unknown.items():
            counts = codes.value_counts()
            shown = ", ".join(f"{c!r} ×{n:,}" for c, n in counts.head(5).items())
            shown += ", …" if len(counts) > 5 else ""
            if spec.default is KEEP:
                log.warning(
                    "%s: %s values outside the mapping's codes (%s): kept as written, so "
                    "validation quarantines their rows",
                    label,
                    f"{len(codes):,}",
                    shown,
                )
            else:
                log.info(
                    "%s: %s values outside the mapping's codes (%s): %r, the column's default",
                    label,
                    f"{len(codes):,}",
                    shown,
                    spec.default,
                )
    if nrows is not None and "claim_items" in tables and "claims" in tables:
        items = tables["claim_items"]
        keep = items["claim_id"].isin(tables["claims"]["claim_id"])
        tables["claim_items"] = items[keep.to_numpy()].reset_index(drop=True)
    return tables


# -- writing an extract in the national layout ------------------------------------------

_GENDER = {"M": "1", "F": "2"}
_INSURANCE = {"employee": "310", "resident": "390"}
_LEVEL = {3: "02", 2: "05", 1: "08"}
_ROLE = {"doctor": "1", "pharmacist": "3"}
_VISIT = {
    "outpatient": "11",
    "emergency": "13",
    "outpatient_chronic": "14",
    "inpatient": "21",
    "pharmacy": "41",
    "other": "12",
}
#: the contract's fee categories in the national med_chrgitm_type order (01 … 14)
_CATEGORY = {c: f"{i:02d}" for i, c in enumerate(ITEM_CATEGORIES, start=1)}


def _out_text(values: pd.Series, codes: MappingType[Any, str] | None = None) -> pd.Series:
    """Contract values as the extract's text: codes mapped (a value outside them written as
    it is), numbers in full precision, dates and times in the layout's form, null empty."""

    def one(v: Any) -> str:
        if v is None or v is pd.NA or (not isinstance(v, str) and pd.isna(v)):
            return ""
        if codes is not None and v in codes:
            return codes[v]
        if isinstance(v, bool | np.bool_):
            return "1" if v else "0"
        if isinstance(v, float | np.floating):
            return repr(float(v))  # the shortest text that reads back as the same float
        if isinstance(v, pd.Timestamp | datetime):
            return v.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(v, date):
            return v.isoformat()
        return str(v)

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def _ints(values: pd.Series) -> pd.Series:
    """Whole numbers (as Int64, so a null is not a float's NaN) as text."""
    return _out_text(pd.Series(pd.array(values, dtype="Int64"), index=values.index).astype(object))


def national_tables(tables: MappingType[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Contract tables in the national layout (shared/national-extract.md): the files'
    names and columns, as text."""
    out: dict[str, pd.DataFrame] = {}
    if "patients" in tables:
        p = tables["patients"]
        out["PSN_INFO_B"] = pd.DataFrame(
            {
                "psn_no": _out_text(p.patient_id),
                "gend": _out_text(p.gender, _GENDER),
                "brdy": _out_text(p.birth_date),
                "insutype": _out_text(p.insurance_type, _INSURANCE),
                "insuplc_admdvs": _out_text(p.region),
            }
        )
    if "providers" in tables:
        p = tables["providers"]
        kind = p.provider_type
        level = pd.Series(pd.array(p.level, dtype="Int64"), index=p.index).astype(object)
        hosp_lv = _out_text(level, _LEVEL).where(
            level.notna() | kind.eq("pharmacy"), "11"
        )  # 无等级: a hospital or clinic without a grade
        out["FIXMEDINS_B"] = pd.DataFrame(
            {
                "fixmedins_code": _out_text(p.provider_id),
                "fixmedins_name": _out_text(p.name),
                "fixmedins_type": _out_text(
                    kind, {"hospital": "1", "clinic": "1", "pharmacy": "2"}
                ),
                "medins_type": _out_text(kind, {"hospital": "A", "clinic": "D", "pharmacy": ""}),
                "hosp_lv": hosp_lv,
                "admdvs": _out_text(p.region),
                "bed_cnt": _ints(p.beds),
            }
        )
    if "doctors" in tables:
        d = tables["doctors"]
        out["PRAC_PSN_B"] = pd.DataFrame(
            {
                "prac_psn_code": _out_text(d.doctor_id),
                "fixmedins_code": _out_text(d.provider_id),
                "prac_psn_type": _out_text(d.role, _ROLE),
                "dept_name": _out_text(d.department),
            }
        )
    if "catalog" in tables:
        c = tables["catalog"]
        out["HILIST_B"] = pd.DataFrame(
            {
                "hilist_code": _out_text(c.item_code),
                "hilist_name": _out_text(c.name),
                "med_chrgitm_type": _out_text(c.item_category, _CATEGORY),
                "pric_uplmt_amt": _out_text(c.price_cap),
                "lmt_gend": _out_text(c.gender, _GENDER),
                "lmt_min_age": _ints(c.min_age),
                "lmt_max_age": _ints(c.max_age),
                "lmt_day_cnt": _out_text(c.max_daily_quantity),
                "lmt_inhosp": _out_text(c.inpatient_only),
                "lmt_hosp_lv": _ints(c.min_provider_level),
            }
        )
    if "claims" in tables:
        c = tables["claims"]
        mdtrt = pd.Series([f"{i:016d}" for i in range(1, len(c) + 1)], index=c.index)
        inpatient = c.visit_type.eq("inpatient")
        diagnosis = _out_text(c.diagnosis_code)
        encounters = pd.DataFrame(
            {
                "mdtrt_id": mdtrt,
                "psn_no": _out_text(c.patient_id),
                "fixmedins_code": _out_text(c.provider_id),
                "med_type": _out_text(c.visit_type, _VISIT),
                "begntime": _out_text(c.admit_time),
                "endtime": _out_text(c.discharge_time),
                # a stay's main discharge diagnosis, a visit's diagnosis
                "dscg_maindiag_code": diagnosis.where(inpatient, ""),
                "diag_code": diagnosis.where(~inpatient, ""),
                "atddr_no": _out_text(c.doctor_id),
                "dept_name": _out_text(c.department),
            }
        )
        # the encounters in another order than the settlements: the join must find them
        out["MDTRT_D"] = encounters.iloc[::-1].reset_index(drop=True)
        out["SETL_D"] = pd.DataFrame(
            {
                "setl_id": _out_text(c.claim_id),
                "mdtrt_id": mdtrt,
                "medfee_sumamt": _out_text(c.total_amount),
                "fund_pay_sumamt": _out_text(c.fund_paid),
                "acct_pay": _out_text(c.account_paid),
                "psn_cash_pay": _out_text(c.cash_paid),
            }
        )
    if "claim_items" in tables:
        i = tables["claim_items"]
        fee = pd.DataFrame(
            {
                "setl_id": _out_text(i.claim_id),
                "feedetl_sn": _ints(i.line_no),
                "hilist_code": _out_text(i.item_code),
                "med_chrgitm_type": _out_text(i.item_category, _CATEGORY),
                "cnt": _out_text(i.quantity),
                "pric": _out_text(i.unit_price),
                "det_item_fee_sumamt": _out_text(i.amount),
                "fee_ocur_time": _out_text(i.item_time),
                "drug_trac_codg": _out_text(i.trace_code),
            }
        )
        if "billing_doctor_id" in i:
            fee["bilg_dr_codg"] = _out_text(i.billing_doctor_id)
        out["FEE_LIST_D"] = fee
    if "chronic_registrations" in tables:
        r = tables["chronic_registrations"]
        out["OPSP_REG_D"] = pd.DataFrame(
            {
                "psn_no": _out_text(r.patient_id),
                "opsp_dise_code": _out_text(r.disease_code),
                "begndate": _out_text(r.valid_from),
                "enddate": _out_text(r.valid_to),
            }
        )
    return out


def read_contract(dataset: str | Path) -> dict[str, pd.DataFrame]:
    """The Parquet tables of a contract dataset folder, as they are stored."""
    root = Path(dataset)
    tables = {}
    for spec in TABLES:
        for path in (root / f"{spec.name}.parquet", root / spec.name):
            if path.exists():
                tables[spec.name] = pq.read_table(path).to_pandas()
                break
    return tables


def write_extract(
    dataset: str | Path | MappingType[str, pd.DataFrame],
    out: str | Path,
    encoding: str = "gb18030",
    form: str = "csv",
) -> Path:
    """Write a contract dataset (a folder of Parquet tables, or the tables) as an extract
    in the national layout: ``<FILE>.csv`` in ``encoding`` (``form="csv.gz"``: gzip;
    ``"parquet"``: text columns in Parquet), plus its labels as ``labels.csv`` (UTF-8, the
    contract's form). Columns the layout does not have are not written."""
    if form not in ("csv", "csv.gz", "parquet"):
        raise ValueError(f"form={form!r} (expected csv, csv.gz or parquet)")
    tables = read_contract(dataset) if isinstance(dataset, str | Path) else dict(dataset)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in national_tables(tables).items():
        if form == "parquet":
            arrays = {c: pa.array(frame[c].where(frame[c] != "", None), pa.string()) for c in frame}
            pq.write_table(pa.table(arrays), out / f"{name}.parquet")
        else:
            path = out / f"{name}.{form}"
            frame.to_csv(path, index=False, encoding=encoding, lineterminator="\n")
    if "labels" in tables:
        labels = tables["labels"]
        text = pd.DataFrame({c: _out_text(labels[c]) for c in labels.columns})
        text.to_csv(out / "labels.csv", index=False, encoding="utf-8", lineterminator="\n")
    return out
