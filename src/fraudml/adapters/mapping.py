"""The mapping file of ``fraudml import national``: how an extract's files become the
contract's tables, read and checked before a single data file is opened.

A mapping is YAML (see ``conf/import/national.yaml``, the national platform's layout, and
docs/national-import.md)::

    name: national                  # the dataset's source, in dataset.json
    base: national                  # optional: start from another mapping and change it
    encoding: gb18030               # of every CSV file unless a table says otherwise
    delimiter: ","
    nulls: [""]                     # the values that mean null
    formats: {date: "%Y-%m-%d", timestamp: "%Y-%m-%d %H:%M:%S"}
    currency: CNY
    tables:
      claims:                       # a contract table
        file: SETL_D                # SETL_D.csv, SETL_D.csv.gz or SETL_D.parquet
        join:                       # further files, joined on a key (unique in that file)
          - {file: MDTRT_D, on: mdtrt_id}
        columns:                    # contract column: source column, or a spec
          claim_id: setl_id
          visit_type: {from: med_type, codes: {"11": outpatient}, default: other}
          diagnosis_code: {first_of: [dscg_maindiag_code, diag_code]}

Every scalar of the file is read as text (so codes keep their leading zeros without
quotes); ``null``, ``~`` or nothing means null. A mistake in the file — an unknown key, a
code mapped to a value outside the contract's list, a required column left unmapped, a
key given twice — stops with a :class:`~fraudml.errors.SettingError` naming the file
and the place in it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fraudml.contract import TABLES, TABLES_BY_NAME, Column
from fraudml.errors import SettingError

#: A code outside ``codes`` stays as the extract writes it (the default ``default``).
KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP"})()

NULL_WORDS = frozenset({"", "null", "Null", "NULL", "~"})
TYPES = ("str", "date", "timestamp", "money", "int", "float", "bool")
DEFAULT_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%d %H:%M:%S"}
JOIN_KINDS = ("left", "inner")

TOP_KEYS = ("name", "description", "base", "encoding", "delimiter", "nulls", "formats")
TOP_KEYS += ("currency", "tables")
FILE_KEYS = ("encoding", "delimiter", "nulls", "formats")
TABLE_KEYS = ("file", "join", "columns", "carry", *FILE_KEYS)
JOIN_KEYS = ("file", "on", "left_on", "right_on", "how", *FILE_KEYS)
COLUMN_KEYS = ("from", "first_of", "value", "codes", "default", "optional", "format", "type")


@dataclass(frozen=True)
class FileOptions:
    """How one file is read."""

    encoding: str
    delimiter: str
    nulls: tuple[str, ...]
    formats: dict[str, str]


@dataclass(frozen=True)
class Join:
    """A further file of a table, joined to the rows so far on a key."""

    file: str
    left_on: tuple[str, ...]
    right_on: tuple[str, ...]
    how: str
    options: FileOptions


@dataclass(frozen=True)
class ColumnMap:
    """One output column: where its values come from and what they become."""

    name: str
    type: str
    #: where in the mapping file, for messages (``tables.patients.columns.gender``)
    where: str
    #: the source column (``from``), or several, the first non-null winning (``first_of``);
    #: none for a constant
    sources: tuple[str, ...] = ()
    value: Any = None
    #: code → value of the column's type, or a nested map read for that code's rows
    codes: dict[str, Any] | None = None
    #: what a code outside ``codes`` becomes; :data:`KEEP`: the code as written
    default: Any = KEEP
    optional: bool = False
    format: str | None = None
    #: the contract's list of values, when it has one
    allowed: tuple[str, ...] | None = None

    @property
    def constant(self) -> bool:
        return not self.sources


@dataclass(frozen=True)
class TableMap:
    """One contract table: its file, joined files, columns."""

    table: str
    file: str
    options: FileOptions
    joins: tuple[Join, ...]
    columns: tuple[ColumnMap, ...]
    #: carry the main file's columns the mapping does not name, under their own names
    carry: bool = False

    @property
    def files(self) -> tuple[str, ...]:
        return (self.file, *(j.file for j in self.joins))


@dataclass(frozen=True)
class Mapping:
    """A checked mapping file."""

    path: Path
    name: str
    currency: str
    tables: dict[str, TableMap] = field(default_factory=dict)


class _Loader(yaml.BaseLoader):
    """Every scalar as text; a key given twice in one mapping is refused, not overwritten."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:  # type: ignore[override]
        seen: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, str) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} is given twice (first on line {seen[key] + 1})",
                        key_node.start_mark,
                    )
                if isinstance(key, str):
                    seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def shipped(name: str) -> Path:
    """The shipped mapping ``name`` (``conf/import/<name>.yaml``)."""
    from fraudml.paths import conf_dir

    return conf_dir() / "import" / f"{name}.yaml"


def load_mapping(path: str | Path) -> Mapping:
    """Read and check the mapping file ``path`` (with its ``base``, if it names one)."""
    path = Path(path)
    raw = _with_base(_read(path), path, [path.resolve()])
    return _Parser(path).mapping(raw)


def _read(path: Path) -> dict:
    if not path.is_file():
        raise SettingError(f"mapping={path}: file not found (expected a YAML mapping file)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SettingError(f"mapping {path}: not UTF-8 text ({err})") from err
    try:
        raw = yaml.load(text, Loader=_Loader)  # BaseLoader: every scalar as text
    except yaml.YAMLError as err:
        raise SettingError(f"mapping {path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise SettingError(f"mapping {path}: expected a YAML mapping with a 'tables' key")
    return raw


def _with_base(raw: dict, path: Path, seen: list[Path]) -> dict:
    """``raw`` on top of the mapping its ``base`` names (a shipped name or a path)."""
    base = raw.get("base")
    if base is None:
        return raw
    if not isinstance(base, str) or base in NULL_WORDS:
        raise SettingError(f"mapping {path}: base: expected a mapping's name or path")
    base_path = shipped(base) if re.fullmatch(r"[\w-]+", base) else path.parent / base
    if not base_path.is_file():
        raise SettingError(
            f"mapping {path}: base: {base!r} is neither a shipped mapping "
            f"(conf/import/<name>.yaml) nor a file"
        )
    if base_path.resolve() in seen:
        raise SettingError(f"mapping {path}: base: {base!r} leads back to itself")
    under = _with_base(_read(base_path), base_path, [*seen, base_path.resolve()])
    return merge(under, raw)


def merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``: top-level and table-level keys replace the base's,
    ``formats`` and a table's ``columns`` are merged key by key (:func:`_merge_columns`),
    a table set to ``null`` is dropped."""
    out = {k: v for k, v in base.items() if k != "base"}
    for key, value in over.items():
        if key == "base":
            continue
        if key == "formats" and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        elif key == "tables" and isinstance(value, dict) and isinstance(out.get(key), dict):
            tables = dict(out[key])
            for name, spec in value.items():
                old = tables.get(name)
                if isinstance(spec, dict) and isinstance(old, dict):
                    new = {**old, **{k: v for k, v in spec.items() if k != "columns"}}
                    if "formats" in spec and isinstance(old.get("formats"), dict):
                        new["formats"] = {**old["formats"], **(spec["formats"] or {})}
                    if isinstance(spec.get("columns"), dict) and isinstance(
                        old.get("columns"), dict
                    ):
                        new["columns"] = _merge_columns(old["columns"], spec["columns"])
                    elif "columns" in spec:
                        new["columns"] = spec["columns"]
                    tables[name] = new
                else:
                    tables[name] = spec
            out[key] = tables
        else:
            out[key] = value
    return out


def _merge_columns(base: dict, over: dict) -> dict:
    """A table's columns: a column given is merged onto the base's spec for it, so that
    ``gender: xb`` renames the source column and keeps the codes; a new ``from``,
    ``first_of`` or ``value`` replaces the base's source, ``codes`` replace its codes as a
    whole, and a constant drops them; ``null`` removes the column."""
    out = dict(base)
    for name, spec in over.items():
        old = out.get(name)
        spec = {"from": spec} if isinstance(spec, str) and not _is_null(spec) else spec
        old = {"from": old} if isinstance(old, str) and not _is_null(old) else old
        if isinstance(spec, dict) and isinstance(old, dict):
            merged = dict(old)
            if any(k in spec for k in ("from", "first_of", "value")):
                for key in ("from", "first_of", "value"):
                    merged.pop(key, None)
            if "value" in spec:
                merged.pop("codes", None)
                merged.pop("default", None)
            merged.update(spec)
            out[name] = merged
        else:
            out[name] = spec
    return out


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value in NULL_WORDS)


def form_of(fmt: str) -> str:
    """``%Y-%m-%d %H:%M:%S`` → ``YYYY-MM-DD HH:MM:SS``, for messages."""
    for code, shown in (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%H", "HH")):
        fmt = fmt.replace(code, shown)
    return fmt.replace("%M", "MM").replace("%S", "SS")


class _Parser:
    """Turns the (merged) YAML of one mapping file into a :class:`Mapping`, or refuses."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> SettingError:
        return SettingError(f"mapping {self.path}: {where}: {problem}")

    def keys(self, raw: dict, allowed: tuple[str, ...], where: str) -> None:
        unknown = [k for k in raw if k not in allowed]
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}" if where else str(unknown[0]),
                f"unknown key (expected one of {', '.join(allowed)})",
            )

    def text(self, value: Any, where: str, what: str = "text") -> str:
        if not isinstance(value, str) or value in NULL_WORDS:
            raise self.fail(where, f"expected {what}, found {_shown(value)}")
        return value

    def flag(self, value: Any, where: str) -> bool:
        if isinstance(value, str) and value.lower() in {"true", "yes"}:
            return True
        if _is_null(value) or (isinstance(value, str) and value.lower() in {"false", "no"}):
            return False
        raise self.fail(where, f"expected true or false, found {_shown(value)}")

    def names(self, value: Any, where: str) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(where, "expected a column name or a list of them")
        return tuple(self.text(v, where, "a column name") for v in items)

    # -- the file -------------------------------------------------------------------------

    def mapping(self, raw: dict) -> Mapping:
        self.keys(raw, TOP_KEYS, "")
        name = self.text(raw.get("name", self.path.stem), "name")
        currency = self.text(raw.get("currency", "CNY"), "currency")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise self.fail("currency", f"{currency!r} is not an ISO 4217 code such as CNY")
        options = self.options(raw, "", None)
        tables = raw.get("tables")
        if not isinstance(tables, dict) or not tables:
            raise self.fail("tables", "expected the contract tables, each with its file")
        out: dict[str, TableMap] = {}
        for table, spec in tables.items():
            where = f"tables.{table}"
            if table not in TABLES_BY_NAME:
                raise self.fail(
                    where, f"not a contract table (expected one of {', '.join(TABLES_BY_NAME)})"
                )
            if _is_null(spec):
                continue  # left out (a base's table dropped)
            if not isinstance(spec, dict):
                raise self.fail(where, "expected a mapping with 'file' and 'columns'")
            out[table] = self.table(table, spec, where, options)
        for spec in TABLES:
            if spec.required and spec.name not in out:
                raise self.fail(f"tables.{spec.name}", "missing (a required contract table)")
        order = [t.name for t in TABLES if t.name in out]
        return Mapping(self.path, name, currency, {t: out[t] for t in order})

    def options(self, raw: dict, where: str, under: FileOptions | None) -> FileOptions:
        prefix = f"{where}." if where else ""
        encoding = raw.get("encoding", under.encoding if under else "gb18030")
        encoding = self.text(encoding, f"{prefix}encoding", "an encoding such as gb18030")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise self.fail(f"{prefix}encoding", f"{encoding!r} is not an encoding") from None
        delimiter = raw.get("delimiter", under.delimiter if under else ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
            raise self.fail(f"{prefix}delimiter", f"expected one character, found {delimiter!r}")
        nulls = raw.get("nulls", list(under.nulls) if under else [""])
        if not isinstance(nulls, list) or not all(isinstance(v, str) for v in nulls):
            raise self.fail(f"{prefix}nulls", 'expected a list of texts, such as ["", "NULL"]')
        formats = dict(under.formats) if under else dict(DEFAULT_FORMATS)
        given = raw.get("formats", {})
        if not isinstance(given, dict):
            raise self.fail(f"{prefix}formats", "expected {date: …, timestamp: …}")
        self.keys(given, tuple(DEFAULT_FORMATS), f"{prefix}formats")
        for kind, fmt in given.items():
            formats[kind] = self.format(fmt, f"{prefix}formats.{kind}")
        return FileOptions(encoding, delimiter, tuple(nulls), formats)

    def format(self, value: Any, where: str) -> str:
        fmt = self.text(value, where, "a format such as %Y-%m-%d")
        if "%" not in fmt:
            raise self.fail(where, f"{fmt!r} is not a strptime format such as %Y-%m-%d")
        return fmt

    def table(self, table: str, raw: dict, where: str, top: FileOptions) -> TableMap:
        self.keys(raw, TABLE_KEYS, where)
        file = self.text(raw.get("file"), f"{where}.file", "the file's name, such as SETL_D")
        options = self.options(raw, where, top)
        joins = raw.get("join", [])
        if _is_null(joins):
            joins = []
        if not isinstance(joins, list):
            raise self.fail(f"{where}.join", "expected a list of {file: …, on: …}")
        parsed = tuple(self.join(j, f"{where}.join[{i}]", options) for i, j in enumerate(joins))
        files = [file, *(j.file for j in parsed)]
        if len(set(files)) != len(files):
            raise self.fail(f"{where}.join", "a file is named twice in one table")
        spec = TABLES_BY_NAME[table]
        given = raw.get("columns")
        carry = self.flag(raw.get("carry", "false"), f"{where}.carry")
        if _is_null(given):
            # the contract's own form: every column under its own name, others carried
            given = {c.name: {"from": c.name, "optional": str(c.nullable)} for c in spec.columns}
            carry = True
        if not isinstance(given, dict):
            raise self.fail(f"{where}.columns", "expected contract column: source column")
        columns = []
        for name, value in given.items():
            if _is_null(value):
                continue  # not mapped (a base's column removed)
            columns.append(self.column(table, name, value, f"{where}.columns.{name}"))
        mapped = {c.name for c in columns}
        for column in spec.columns:
            if not column.nullable and column.name not in mapped:
                raise self.fail(
                    f"{where}.columns.{column.name}",
                    "missing (a required column of the contract table; map it to a source "
                    "column, or give a constant with value:)",
                )
        return TableMap(table, file, options, parsed, tuple(columns), carry)

    def join(self, raw: Any, where: str, table: FileOptions) -> Join:
        if not isinstance(raw, dict):
            raise self.fail(where, "expected {file: …, on: key}")
        self.keys(raw, JOIN_KEYS, where)
        file = self.text(raw.get("file"), f"{where}.file", "the file's name")
        if "on" in raw:
            if "left_on" in raw or "right_on" in raw:
                raise self.fail(where, "give either on, or left_on and right_on")
            left = right = self.names(raw["on"], f"{where}.on")
        elif "left_on" in raw and "right_on" in raw:
            left = self.names(raw["left_on"], f"{where}.left_on")
            right = self.names(raw["right_on"], f"{where}.right_on")
            if len(left) != len(right):
                raise self.fail(where, "left_on and right_on name different numbers of columns")
        else:
            raise self.fail(where, "no key: give on (or left_on and right_on)")
        how = self.text(raw.get("how", "left"), f"{where}.how")
        if how not in JOIN_KINDS:
            raise self.fail(f"{where}.how", f"{how!r} (expected left or inner)")
        return Join(file, left, right, how, self.options(raw, where, table))

    # -- a column -------------------------------------------------------------------------

    def column(self, table: str, name: str, raw: Any, where: str) -> ColumnMap:
        known = TABLES_BY_NAME[table].column_names
        contract: Column | None = TABLES_BY_NAME[table].column(name) if name in known else None
        if isinstance(raw, str):
            raw = {"from": raw}
        if not isinstance(raw, dict):
            raise self.fail(where, "expected a source column's name, or {from: …, codes: …}")
        self.keys(raw, COLUMN_KEYS, where)
        if contract is not None:
            if "type" in raw:
                raise self.fail(f"{where}.type", "the contract sets this column's type")
            typ = contract.type
            allowed = contract.codes
        else:
            typ = self.text(raw.get("type", "str"), f"{where}.type")
            if typ not in TYPES:
                raise self.fail(f"{where}.type", f"{typ!r} (expected one of {', '.join(TYPES)})")
            allowed = None
        spec = self.spec(raw, name, typ, allowed, contract, where)
        if spec.optional and contract is not None and not contract.nullable:
            raise self.fail(f"{where}.optional", "a required contract column cannot be optional")
        return spec

    def spec(
        self,
        raw: dict,
        name: str,
        typ: str,
        allowed: tuple[str, ...] | None,
        contract: Column | None,
        where: str,
    ) -> ColumnMap:
        given = [k for k in ("from", "first_of", "value") if k in raw]
        if len(given) != 1:
            raise self.fail(where, "give exactly one of from, first_of or value")
        fmt = None
        if "format" in raw:
            if typ not in ("date", "timestamp"):
                raise self.fail(f"{where}.format", "only a date or timestamp column has one")
            fmt = self.format(raw["format"], f"{where}.format")
        optional = self.flag(raw.get("optional", "false"), f"{where}.optional")
        if "value" in raw:
            if "codes" in raw or "default" in raw:
                raise self.fail(where, "a constant (value:) has no codes")
            value = self.typed(raw["value"], typ, allowed, contract, f"{where}.value")
            return ColumnMap(name, typ, where, value=value, allowed=allowed)
        if "from" in raw:
            sources = (self.text(raw["from"], f"{where}.from", "a source column's name"),)
        else:
            sources = self.names(raw["first_of"], f"{where}.first_of")
        codes = None
        default = KEEP
        if "codes" in raw:
            if typ in ("date", "timestamp"):
                raise self.fail(f"{where}.codes", "a date or timestamp column has no codes")
            codes = self.codes(raw["codes"], name, typ, allowed, contract, f"{where}.codes")
        if "default" in raw:
            if codes is None:
                raise self.fail(f"{where}.default", "a default is for codes outside codes:")
            default = self.typed(raw["default"], typ, allowed, contract, f"{where}.default")
        return ColumnMap(name, typ, where, sources, None, codes, default, optional, fmt, allowed)

    def codes(
        self,
        raw: Any,
        name: str,
        typ: str,
        allowed: tuple[str, ...] | None,
        contract: Column | None,
        where: str,
    ) -> dict[str, Any]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail(where, "expected code: value pairs, such as {'1': M, '2': F}")
        out: dict[str, Any] = {}
        for code, value in raw.items():
            at = f"{where}[{code!r}]"
            if not isinstance(code, str):
                raise self.fail(at, "a code must be text")
            if isinstance(value, dict):
                # the rows with this code take their value from another column
                self.keys(value, ("from", "first_of", "codes", "default", "format"), at)
                if "from" not in value and "first_of" not in value:
                    raise self.fail(at, "a nested map needs from (or first_of)")
                out[code] = self.spec(value, name, typ, allowed, contract, at)
            else:
                out[code] = self.typed(value, typ, allowed, contract, at)
        return out

    def typed(
        self,
        value: Any,
        typ: str,
        allowed: tuple[str, ...] | None,
        contract: Column | None,
        where: str,
    ) -> Any:
        """A value given in the mapping, as the column's type (checked against the
        contract's list or range)."""
        if _is_null(value):
            if contract is not None and not contract.nullable and where.endswith(".value"):
                raise self.fail(where, "a required contract column cannot be a null constant")
            return None
        if not isinstance(value, str):
            raise self.fail(where, f"expected a single value, found {_shown(value)}")
        if typ == "str":
            if allowed is not None and value not in allowed:
                raise self.fail(where, f"{value!r} is not one of {', '.join(allowed)}")
            return value
        if typ == "bool":
            if value.lower() not in {"true", "false"}:
                raise self.fail(where, f"{value!r} (expected true or false)")
            return value.lower() == "true"
        if typ == "int":
            if not re.fullmatch(r"[+-]?\d+", value):
                raise self.fail(where, f"{value!r} (expected a whole number)")
            number: int | float = int(value)
        elif typ in ("money", "float"):
            try:
                number = float(value)
            except ValueError:
                raise self.fail(where, f"{value!r} (expected a number)") from None
        else:
            raise self.fail(where, f"a {typ} column takes no code values")
        if allowed is not None and str(number) not in allowed:
            raise self.fail(where, f"{value!r} is not one of {', '.join(allowed)}")
        if contract is not None:
            low, high = contract.min_value, contract.max_value
            if (low is not None and number < low) or (high is not None and number > high):
                raise self.fail(where, f"{value!r} is outside {contract.expected}")
        return number


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if _is_null(value) else repr(value)
