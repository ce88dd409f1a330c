"""Auditors' verdicts (核查结论): read a verdicts file and check it row by row.

A verdicts file is CSV, XLSX or Parquet with the columns of :data:`COLUMNS` (or localised
headers mapped back through an alias table, as a filled-in ``report.xlsx`` has them). Rows
whose verdict is empty are skipped and counted: an auditor fills in only the leads checked.
Every other row is checked; a row that breaks a rule is *refused* with its file, row and
reason, and one refused row refuses the whole file (:class:`VerdictError`), so nothing is
ever half-applied.

Row numbers are the ones a spreadsheet shows: the header is row 1 (or the row it was found
on), the first verdict row 2. For Parquet, row 1 is the first record.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from fraudml.contract import LABEL_ENTITY_TABLES
from fraudml.errors import ContractError, FraudmlError

#: The canonical columns of a verdicts file, in order.
COLUMNS: tuple[str, ...] = (
    "entity_type",
    "entity_id",
    "verdict",
    "scheme",
    "decided_at",
    "amount_recovered",
    "responsible",
    "points",
    "source",
    "note",
)
#: Columns a verdicts file must have (the others may be absent and then count as empty).
REQUIRED: tuple[str, ...] = ("entity_type", "entity_id", "verdict", "decided_at")

#: The labels' entity types (the contract's list).
ENTITY_TYPES: tuple[str, ...] = tuple(LABEL_ENTITY_TABLES)
VERDICTS: tuple[str, ...] = ("confirmed", "cleared", "partial")
#: Degrees of responsibility of a practitioner named in ``responsible``.
DEGREES: tuple[str, ...] = ("主要", "重要", "一般")
#: Label of each verdict: confirmed and partial are fraud or abuse found, cleared is clean.
LABEL_OF: Mapping[str, int] = {"confirmed": 1, "partial": 1, "cleared": 0}
#: Most points one violation can carry (the 2024 rules' top band, 10-12).
MAX_POINTS = 12

#: Localised headers understood without being told (zh and en variants of the report's).
DEFAULT_ALIASES: Mapping[str, str] = {
    "实体类型": "entity_type",
    "对象类型": "entity_type",
    "线索类型": "entity_type",
    "实体编号": "entity_id",
    "对象编号": "entity_id",
    "线索编号": "entity_id",
    "核查结论": "verdict",
    "结论": "verdict",
    "核查结果": "verdict",
    "违规类型": "scheme",
    "问题类型": "scheme",
    "认定日期": "decided_at",
    "结论日期": "decided_at",
    "追回金额": "amount_recovered",
    "追回金额(元)": "amount_recovered",
    "责任人": "responsible",
    "责任人员": "responsible",
    "记分": "points",
    "来源": "source",
    "线索来源": "source",
    "备注": "note",
    "entity type": "entity_type",
    "entity id": "entity_id",
    "decided at": "decided_at",
    "amount recovered": "amount_recovered",
}
#: Localised values understood in the coded columns.
VALUE_ALIASES: Mapping[str, Mapping[str, str]] = {
    "verdict": {
        "属实": "confirmed",
        "确认": "confirmed",
        "违规属实": "confirmed",
        "部分属实": "partial",
        "部分": "partial",
        "不属实": "cleared",
        "排除": "cleared",
        "无问题": "cleared",
    },
    "entity_type": {
        "结算": "claim",
        "就诊": "claim",
        "住院": "claim",
        "参保人": "patient",
        "机构": "provider",
        "定点医药机构": "provider",
        "医师": "doctor",
        "医药师": "doctor",
        "药师": "doctor",
    },
    "degree": {"main": "主要", "important": "重要", "general": "一般"},
}

#: Sheets a workbook's verdicts are read from, in order of preference (else the first).
SHEETS: tuple[str, ...] = ("leads", "线索", "verdicts", "核查结论")
#: Leading characters a spreadsheet would read as a formula; the report writes such a cell
#: with a leading apostrophe, which is taken off again here.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DATE_FORMS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")
_RESPONSIBLE_SPLIT = re.compile(r"[;；,，、\s]+")
_PART_SPLIT = re.compile(r"[:：]")


class VerdictError(FraudmlError):
    """A verdicts file refused: every refused row with its file, row and reason."""

    kind = "verdicts refused"

    def __init__(self, refusals: pd.DataFrame, shown: int = 30) -> None:
        self.refusals = refusals
        lines = [f"{r.file}: row {r.row}: {r.reason}" for r in refusals.head(shown).itertuples()]
        more = len(refusals) - shown
        if more > 0:
            lines.append(f"… and {more} more refused rows")
        lines.append("nothing was applied; fix these rows and feed the file again")
        super().__init__(f"{len(refusals)} refused rows\n" + "\n".join(lines))


@dataclass(frozen=True)
class RawVerdicts:
    """A verdicts file as read: canonical columns as text, ``row`` as the file shows it."""

    file: Path
    rows: pd.DataFrame
    #: rows whose verdict was empty (skipped, not refused)
    blank: int
    #: the file's headers that were mapped to a canonical name (header → column)
    mapped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Responsibility:
    """One practitioner named in a verdict's ``responsible``."""

    doctor_id: str
    degree: str
    points: int | None = None


# --------------------------------------------------------------------------- reading


def read_verdicts(
    path: str | Path,
    aliases: Mapping[str, str] | None = None,
    sheet: str | None = None,
    encoding: str = "utf-8",
) -> RawVerdicts:
    """Read the verdicts file ``path`` (CSV, XLSX or Parquet) as text.

    Parameters
    ----------
    path : path
        The file; its form is told by its suffix (``.csv``, ``.csv.gz``, ``.xlsx``,
        ``.parquet``).
    aliases : mapping, optional
        Header → canonical column, for localised headers; added to
        :data:`DEFAULT_ALIASES`. Matching ignores case and surrounding blanks.
    sheet : str, optional
        The workbook sheet to read; default the first of :data:`SHEETS` present, else the
        first sheet.
    encoding : str
        CSV encoding (a BOM is taken off).

    Raises
    ------
    ContractError
        The file is missing, unreadable, of an unknown form, or lacks a required column.
    """
    file = Path(path)
    if not file.is_file():
        raise ContractError(
            f"{file}: verdicts file not found (expected a CSV, XLSX or Parquet file)"
        )
    name = file.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        table, header_row = _read_csv(file, encoding), 1
    elif name.endswith((".xlsx", ".xlsm")):
        table, header_row = _read_xlsx(file, sheet, aliases)
    elif name.endswith(".parquet"):
        table, header_row = _read_parquet(file), 0
    else:
        raise ContractError(
            f"{file}: unknown verdicts file form (expected .csv, .xlsx or .parquet)"
        )
    table, mapped = _canonical(table, file, aliases)
    rows = table.reset_index(drop=True)
    rows.insert(0, "row", range(header_row + 1, header_row + 1 + len(rows)))
    rows = rows[~rows[list(COLUMNS)].isna().all(axis=1)]  # wholly empty lines
    blank = rows.verdict.isna()
    return RawVerdicts(file, rows[~blank].reset_index(drop=True), int(blank.sum()), mapped)


def _text(value: object) -> str | None:
    """A cell as text: empty → ``None``; whole floats without ``.0``; dates as ISO."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.startswith("'") and text[1:2] and text[1:2] in _FORMULA_START:
        text = text[1:]  # the report's formula neutralisation, undone
    return text or None


def _read_csv(file: Path, encoding: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            file,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding,
            quoting=csv.QUOTE_MINIMAL,
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ContractError(
            f"{file}: cannot be read as a CSV verdicts file in {encoding} "
            f"({str(exc).splitlines()[0][:160]})"
        ) from None
    return frame.map(_text)


def _read_parquet(file: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several kinds for a broken file
        raise ContractError(f"{file}: cannot be read as Parquet ({exc})") from None
    return frame.astype(object).map(_text)


def _read_xlsx(
    file: Path, sheet: str | None, aliases: Mapping[str, str] | None
) -> tuple[pd.DataFrame, int]:
    """The verdict sheet of a workbook, from its header row (the first of its first ten
    rows naming ``entity_type`` and ``entity_id``, so a title row above it is allowed)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException …
        raise ContractError(f"{file}: cannot be read as an XLSX workbook ({exc})") from None
    try:
        names = book.sheetnames
        if sheet is not None:
            if sheet not in names:
                raise ContractError(f"{file}: no sheet {sheet!r} (sheets: {', '.join(names)})")
            chosen = sheet
        else:
            chosen = next((s for s in SHEETS if s in names), names[0])
        cells = [list(r) for r in book[chosen].iter_rows(values_only=True)]
    finally:
        book.close()
    table = _alias_table(aliases)
    for i, row in enumerate(cells[:10]):
        named = {table.get(_key(c)) for c in row if c is not None}
        if {"entity_type", "entity_id"} <= named:
            header, body = row, cells[i + 1 :]
            break
    else:
        raise ContractError(
            f"{file}: sheet {chosen!r} has no header row naming entity_type and entity_id "
            "in its first ten rows (expected the columns " + ", ".join(COLUMNS) + ")"
        )
    width = len(header)
    frame = pd.DataFrame(
        [(list(r) + [None] * width)[:width] for r in body],
        columns=[("" if h is None else str(h)) for h in header],
        dtype=object,
    )
    return frame.map(_text), i + 1


def _key(header: object) -> str:
    return re.sub(r"\s+", " ", str(header).strip().lower().replace("_", " ")).replace(" ", "_")


def _alias_table(aliases: Mapping[str, str] | None) -> dict[str, str]:
    table = {_key(c): c for c in COLUMNS}
    for given in (DEFAULT_ALIASES, aliases or {}):
        for header, column in given.items():
            if column not in COLUMNS:
                raise ContractError(
                    f"verdict alias {header!r} → {column!r}: not a verdicts column "
                    f"(expected one of {', '.join(COLUMNS)})"
                )
            table[_key(header)] = column
    return table


def _canonical(
    frame: pd.DataFrame, file: Path, aliases: Mapping[str, str] | None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with canonical column names; other columns are dropped, absent optional
    ones added empty; a required column missing, or a column given twice, stops."""
    table = _alias_table(aliases)
    mapped: dict[str, str] = {}
    for header in frame.columns:
        column = table.get(_key(header))
        if column is None:
            continue
        if column in mapped.values():
            other = next(h for h, c in mapped.items() if c == column)
            raise ContractError(
                f"{file}: columns {other!r} and {header!r} both give {column}; keep one"
            )
        mapped[str(header)] = column
    missing = [c for c in REQUIRED if c not in mapped.values()]
    if missing:
        raise ContractError(
            f"{file}: missing column {', '.join(missing)} (a verdicts file has "
            + ", ".join(COLUMNS)
            + "; localised headers need an alias, e.g. feedback.aliases)"
        )
    out = frame[list(mapped)].rename(columns=mapped)
    for column in COLUMNS:
        if column not in out:
            out[column] = None
    return out[list(COLUMNS)].astype(object).where(out[list(COLUMNS)].notna(), None), mapped


# --------------------------------------------------------------------------- checking


def parse_responsible(text: str | None) -> list[Responsibility]:
    """``"D01:主要;D02:一般:3"`` → the practitioners, their degree and optional points.

    Entries are separated by ``;``, ``,``, ``、`` or blanks; within one, ``id:degree`` or
    ``id:degree:points`` (full-width colons too). Raises ``ValueError`` naming the entry.
    """
    if not isinstance(text, str) or not text.strip():
        return []
    out: list[Responsibility] = []
    for entry in (e for e in _RESPONSIBLE_SPLIT.split(text) if e):
        parts = _PART_SPLIT.split(entry)
        if len(parts) not in (2, 3) or not parts[0]:
            raise ValueError(
                f"responsible {entry!r} is not id:degree or id:degree:points "
                f"(degree one of {', '.join(DEGREES)})"
            )
        degree = VALUE_ALIASES["degree"].get(parts[1].lower(), parts[1])
        if degree not in DEGREES:
            raise ValueError(
                f"responsible {entry!r}: degree {parts[1]!r} is not one of {', '.join(DEGREES)}"
            )
        points = None
        if len(parts) == 3:
            points = _points(parts[2])
            if points is None:
                raise ValueError(
                    f"responsible {entry!r}: points {parts[2]!r} is not a whole number "
                    f"from 1 to {MAX_POINTS}"
                )
        out.append(Responsibility(parts[0], degree, points))
    ids = [r.doctor_id for r in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"responsible {text!r} names a practitioner twice")
    return out


def _points(text: str | None) -> int | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not value.is_integer() or not 1 <= value <= MAX_POINTS:
        return None
    return int(value)


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    for form in _DATE_FORMS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def _money(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round(value, 2) if value >= 0 and value == value else None


def _coded(text: str | None, column: str, codes: tuple[str, ...]) -> str | None:
    if text is None:
        return None
    value = text.strip()
    value = VALUE_ALIASES.get(column, {}).get(value, value.lower())
    return value if value in codes else None


#: Known ids per entity type for a batch of wanted ids: ``(entity_type, ids) → known ids``.
KnownIds = Callable[[str, set[str]], set[str]]


def check_verdicts(
    raw: RawVerdicts, known: KnownIds | None, today: date | None = None
) -> pd.DataFrame:
    """The verdicts of ``raw``, typed, or :class:`VerdictError` with every refused row.

    Refused: an entity type, verdict or degree outside its list; an entity the dataset
    does not hold; a decision date that is no date, or later than ``today``; a negative
    or non-numeric recovery; points not a whole number from 1 to 12, or given for a
    cleared verdict, or without anybody responsible; a practitioner named responsible
    whom the dataset's doctors table does not hold; two rows deciding the same entity and
    scheme on the same day differently. A row repeated exactly counts once.

    Returns
    -------
    DataFrame
        :data:`COLUMNS` typed (``decided_at`` a date, ``amount_recovered`` float,
        ``points`` nullable int, ``label`` 0/1, ``source`` defaulting to ``audit``), with
        ``row`` and ``verdict_id`` (a digest of the decision, the same for the same row in
        any file: how feeding a file twice is recognised).
    """
    today = today or date.today()
    frame = raw.rows
    refusals: list[tuple[int, str]] = []
    records: list[dict[str, object]] = []
    for r in frame.itertuples(index=False):
        reasons: list[str] = []
        entity_type = _coded(r.entity_type, "entity_type", ENTITY_TYPES)
        if entity_type is None:
            reasons.append(f"entity_type {r.entity_type!r} is not one of {', '.join(ENTITY_TYPES)}")
        if r.entity_id is None:
            reasons.append("entity_id is empty")
        verdict = _coded(r.verdict, "verdict", VERDICTS)
        if verdict is None:
            reasons.append(f"verdict {r.verdict!r} is not one of {', '.join(VERDICTS)}")
        decided = _date(r.decided_at)
        if decided is None:
            reasons.append(f"decided_at {r.decided_at!r} is not a date (expected YYYY-MM-DD)")
        elif decided > today:
            reasons.append(f"decided_at {decided} is later than today ({today})")
        recovered = _money(r.amount_recovered) if r.amount_recovered is not None else None
        if r.amount_recovered is not None and recovered is None:
            reasons.append(f"amount_recovered {r.amount_recovered!r} is not an amount >= 0 (yuan)")
        points = _points(r.points) if r.points is not None else None
        if r.points is not None and points is None:
            reasons.append(f"points {r.points!r} is not a whole number from 1 to {MAX_POINTS}")
        try:
            responsible = parse_responsible(r.responsible)
        except ValueError as exc:
            reasons.append(str(exc))
            responsible = []
        scored = points is not None or any(p.points is not None for p in responsible)
        if scored and verdict == "cleared":
            reasons.append("points are given for a cleared verdict")
        if scored and not responsible and entity_type != "doctor":
            reasons.append("points are given but nobody is responsible (responsible is empty)")
        if reasons:
            refusals.append((r.row, "; ".join(reasons)))
            continue
        records.append(
            {
                "row": r.row,
                "entity_type": entity_type,
                "entity_id": r.entity_id,
                "verdict": verdict,
                "scheme": r.scheme,
                "decided_at": decided,
                "amount_recovered": recovered,
                "responsible": ";".join(
                    f"{p.doctor_id}:{p.degree}" + (f":{p.points}" if p.points else "")
                    for p in responsible
                )
                or None,
                "points": points,
                "source": r.source or "audit",
                "note": r.note,
            }
        )
    checked = pd.DataFrame(records, columns=["row", *COLUMNS])
    if known is not None:  # None: the rows alone (the entities are checked later)
        refusals += _unknown_entities(checked, known)
    refusals += _contradictions(checked)
    if refusals:
        out = pd.DataFrame(refusals, columns=["row", "reason"]).sort_values("row", kind="stable")
        out.insert(0, "file", str(raw.file))
        raise VerdictError(out.reset_index(drop=True))
    checked["label"] = checked.verdict.map(LABEL_OF).astype("int64")
    checked["points"] = checked.points.astype("Int64")
    checked["amount_recovered"] = checked.amount_recovered.astype("float64")
    checked["verdict_id"] = [verdict_id(r) for r in checked.itertuples(index=False)]
    return checked.drop_duplicates("verdict_id").reset_index(drop=True)


def verdict_id(row: object) -> str:
    """A digest of one decision's content (not of where it was read from)."""
    parts = [str(getattr(row, c)) for c in COLUMNS]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def _unknown_entities(checked: pd.DataFrame, known: KnownIds) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for entity_type, group in checked.groupby("entity_type"):
        found = known(str(entity_type), set(group.entity_id))
        for r in group[~group.entity_id.isin(found)].itertuples():
            out.append((r.row, f"{entity_type} {r.entity_id!r} is not in the dataset"))
    named = {p.doctor_id for r in checked.itertuples() for p in parse_responsible(r.responsible)}
    if named:
        doctors = known("doctor", named)
        for r in checked.itertuples():
            for p in parse_responsible(r.responsible):
                if p.doctor_id not in doctors:
                    out.append(
                        (r.row, f"responsible practitioner {p.doctor_id!r} is not in doctors")
                    )
    return out


def _contradictions(checked: pd.DataFrame) -> list[tuple[int, str]]:
    """Rows deciding one entity and scheme on one day differently."""
    key = ["entity_type", "entity_id", "scheme", "decided_at"]
    out: list[tuple[int, str]] = []
    keyed = checked.assign(scheme=checked.scheme.fillna(""))
    for _, group in keyed.groupby(key, sort=False):
        if group.verdict.nunique() > 1:
            rows = ", ".join(str(x) for x in group.row)
            for r in group.itertuples():
                out.append(
                    (r.row, f"rows {rows} decide the same entity, scheme and day differently")
                )
    return out
