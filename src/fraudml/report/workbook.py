"""The spreadsheet auditors work in (report.xlsx) and the leads CSV.

Localised headers and sheet names; the leads sheet has a frozen header, filters, column
widths, money to two decimals and the verdict columns ``make feedback`` reads back
(:func:`verdict_header_aliases` maps the localised headers to their names; lead types
stay codes, so they read back as they are). Every text cell a spreadsheet would read as a
formula is neutralised, control characters are shown as escapes (:mod:`.safety`); the
rule hits' raw JSON (``evidence``) stays in the parquet files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fraudml.i18n import CODES, HEADERS, LANGS, code_label, header, sheet_name, text
from fraudml.loop.verdicts import COLUMNS as VERDICT_FILE_COLUMNS
from fraudml.report.safety import naive_times, neutralise, text_cells, xlsx_cell
from fraudml.scoring.leads import work_order

#: the columns ``make feedback`` reads, in its order: the verdicts file's own list
VERDICT_COLUMNS = VERDICT_FILE_COLUMNS
#: the leads sheet of an auditor's spreadsheet, in order (``entity_id`` stays column B)
LEAD_SHEET = (
    "entity_type",
    "entity_id",
    "entity_type_name",
    "claim_kind",
    "rank",
    "tier",
    "score",
    "money_at_stake",
    "rule_amount",
    "model_amount",
    "reasons",
    "rule_ids",
    "rule_hits",
    "evidence_claims",
    "model",
    "repeat",
    "first_raised",
    "reserve",
    *VERDICT_COLUMNS[2:],
)
#: columns written with two decimals, and risk columns with three
MONEY = {
    "rule_amount",
    "model_amount",
    "money_at_stake",
    "amount",
    "fund_paid",
    "amount_recovered",
    "unit_price",
}
RISK = {"score", "risk", "anomaly_score", "supervised", "rule_part"}
#: never in the spreadsheet: machine records kept in the parquet files
LEFT_OUT = {"reasons_json", "evidence"}
MAX_WIDTH = 60


def verdict_header_aliases(lang: str) -> dict[str, str]:
    """The verdict columns' headers in ``lang`` → their names in a verdicts file, for
    ``make feedback`` reading a filled-in report.xlsx."""
    return {header(c, lang): c for c in VERDICT_COLUMNS}


def verdict_value_aliases(lang: str) -> dict[str, dict[str, str]]:
    """Localised values of the coded verdict columns → their codes (lead types are
    written as codes, so only verdicts need one)."""
    return {
        "verdict": {labels[LANGS.index(lang)]: code for code, labels in CODES["verdict"].items()}
    }


def _reasons(row: pd.Series, lang: str) -> str:
    col = f"reasons_{lang}"
    value = row.get(col)
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def leads_sheet(leads: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The leads as auditors work them (:func:`fraudml.scoring.leads.work_order`): in
    :data:`LEAD_SHEET`, reasons in ``lang``, lead types as codes beside their names, and
    the verdict columns empty to fill in."""
    leads = work_order(leads) if len(leads) and "rank" in leads else leads
    out = pd.DataFrame(index=leads.index)
    for c in LEAD_SHEET:
        if c == "entity_type_name":
            out[c] = [code_label("lead_type", v, lang) for v in leads.get("entity_type", [])]
        elif c == "claim_kind":
            out[c] = [code_label("claim_kind", v, lang) for v in leads.get(c, [None] * len(leads))]
        elif c == "tier":
            out[c] = leads.get("tier")
        elif c in ("repeat", "reserve") and c in leads.columns:
            out[c] = [text("yes" if v else "no", lang) for v in leads[c]]
        elif c == "reasons":
            out[c] = [_reasons(r, lang) for _, r in leads.iterrows()]
        elif c in leads.columns:
            out[c] = leads[c]
        elif c in VERDICT_COLUMNS:
            out[c] = None
    return out.reset_index(drop=True)


def evidence_rows(
    evidence: pd.DataFrame, lang: str, rule_names: Mapping[str, tuple[str, str]]
) -> pd.DataFrame:
    """The evidence sheet: one row per hit, its rule named and its message in ``lang``."""
    e = evidence.drop(columns=[c for c in LEFT_OUT if c in evidence.columns])
    if "rule_id" in e:
        pos = list(e.columns).index("rule_id") + 1
        e.insert(pos, "rule_name", [_rule_name(r, rule_names, lang) for r in e.rule_id])
    return _one_language(e, lang)


def _rule_name(rule: object, names: Mapping[str, tuple[str, str]], lang: str) -> str:
    pair = names.get(str(rule))
    return str(rule) if pair is None else pair[LANGS.index(lang)]


def _one_language(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame`` with its ``x_zh``/``x_en`` pairs as one column ``x`` in ``lang``, and its
    codes (results, severities, member types, lead types) in ``lang``."""
    out = frame.copy()
    for base in ("message", "rule"):
        zh, en = f"{base}_zh", f"{base}_en"
        if zh in out and en in out:
            keep = zh if lang == "zh" else en
            target = "rule_name" if base == "rule" else base
            if target in out and target != keep:
                out = out.drop(columns=[target])
            out = out.rename(columns={keep: target}).drop(columns=[zh if keep == en else en])
    for column, kind in (
        ("result", "result"),
        ("severity", "severity"),
        ("member_type", "member_type"),
    ):
        if column in out:
            out[column] = [code_label(kind, v, lang) for v in out[column]]
    return out


def _headers(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    return frame.rename(columns={c: header(c, lang) for c in frame.columns})


def _width(value: object) -> int:
    s = "" if value is None else str(value)
    return sum(2 if ord(ch) >= 0x2E80 else 1 for ch in s)


def _format(ws, frame: pd.DataFrame, lang: str | None, verdict: bool = False) -> None:
    """Frozen header, filters, widths, number formats; a verdict list to pick from."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    ws.freeze_panes = "A2"
    if ws.max_row >= 1 and ws.max_column >= 1:
        ws.auto_filter.ref = ws.dimensions
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="F2F4F7")
    for cell in ws[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(i)
        sample = [column, *frame[column].head(200).tolist()]
        ws.column_dimensions[letter].width = min(MAX_WIDTH, max(8, max(map(_width, sample)) + 2))
        fmt = "#,##0.00" if column in MONEY else "0.000" if column in RISK else None
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = fmt
    if verdict and lang and "verdict" in frame.columns and len(frame):
        col = get_column_letter(list(frame.columns).index("verdict") + 1)
        choices = ",".join(labels[LANGS.index(lang)] for labels in CODES["verdict"].values())
        rule = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
        rule.add(f"{col}2:{col}{len(frame) + 1}")
        ws.add_data_validation(rule)


def write_xlsx(
    leads: pd.DataFrame,
    evidence: pd.DataFrame,
    path: Path,
    violations: pd.DataFrame | None = None,
    deductions: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    group_evidence: pd.DataFrame | None = None,
    *,
    lang: str | None = None,
    rule_names: Mapping[str, tuple[str, str]] | None = None,
    credit: pd.DataFrame | None = None,
) -> None:
    """The spreadsheet: leads and evidence, the deduction list (扣款清单: every definite
    violation, and its total per provider), and the group leads' members and proof when
    given; text cells neutralised, control characters escaped.

    With ``lang`` it is the auditors' workbook: localised sheet names and headers, the
    leads sheet of :func:`leads_sheet` (verdict columns to fill in), rule names, messages
    in that language, no raw JSON, and a guide sheet. Without, the sheets hold the tables
    as they are (snake_case headers), as callers of the first version expect.
    """
    names = dict(rule_names or {})
    if lang is None:
        sheets = [("leads", leads, False), ("evidence", evidence, False)]
    else:
        sheets = [
            ("leads", leads_sheet(leads, lang), True),
            ("evidence", evidence_rows(evidence, lang, names), False),
        ]
    extra = (
        ("violations", violations),
        ("deductions", deductions),
        ("groups", groups),
        ("group_evidence", group_evidence),
        # the providers' credit rating (信用评价) from make ledger: its score is a credit
        # score, not a risk score
        ("credit", None if credit is None else credit.rename(columns={"score": "credit_score"})),
    )
    for key, frame in extra:
        if frame is None:
            continue
        frame = naive_times(frame)
        if lang is not None:
            frame = _one_language(frame.drop(columns=[c for c in LEFT_OUT if c in frame]), lang)
        sheets.append((key, frame, False))
    if lang is not None:
        guide = pd.DataFrame(
            {
                header("note", lang): [
                    text("verdict_help", lang),
                    text("model_money_note", lang),
                    text("tier_money_note", lang),
                ]
            }
        )
        sheets.append(("guide", guide, False))
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for key, frame, verdict in sheets:
            name = key if lang is None else sheet_name(key, lang)
            safe = text_cells(frame, xlsx_cell)
            (safe if lang is None else _headers(safe, lang)).to_excel(
                writer, sheet_name=name, index=False
            )
            if lang is not None:
                _format(writer.sheets[name], frame, lang, verdict)


def write_leads_csv(leads: pd.DataFrame, path: Path) -> None:
    """The leads as CSV for spreadsheet programs (UTF-8 with BOM, so Excel reads the
    Chinese text), every text cell neutralised against formulas."""
    text_cells(leads, neutralise).to_csv(path, index=False, encoding="utf-8-sig")


def reasons_records(leads_row: pd.Series, lang: str) -> list[dict]:
    """A lead's reason records in ``lang`` (from ``reasons_json``)."""
    raw = leads_row.get("reasons_json")
    if not isinstance(raw, str):
        return []
    try:
        return list(json.loads(raw).get(lang, []))
    except (ValueError, AttributeError):
        return []


__all__ = [
    "HEADERS",
    "LEAD_SHEET",
    "VERDICT_COLUMNS",
    "evidence_rows",
    "leads_sheet",
    "verdict_header_aliases",
    "verdict_value_aliases",
    "write_leads_csv",
    "write_xlsx",
]
