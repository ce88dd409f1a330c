"""Untrusted text made safe for spreadsheets, and identifiers made pseudonyms.

Names and codes come from the data and are untrusted: every text cell a spreadsheet
program would read as a formula is neutralised (XLSX and CSV alike), and control
characters (which the XLSX format cannot hold) are shown as visible escapes such as
``\\x07``. Patient identifiers and group ids can be replaced by a salted hash (the salt
stays outside the report).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: the characters an XLSX cell cannot hold (XML 1.0 forbids them; openpyxl refuses them)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def pseudonym(value: str, salt: str) -> str:
    """A stable salted hash of an identifier (HMAC-SHA256, 16 hex characters)."""
    return "P" + hmac.new(salt.encode(), str(value).encode(), hashlib.sha256).hexdigest()[:16]


def pseudonymise(frame: pd.DataFrame, salt: str) -> pd.DataFrame:
    """Replace patient identifiers (patient leads, ``patient_id`` columns, patient
    members of groups) and group ids (a group's id is a hash of its members' ids, which
    anyone holding the id list could recompute)."""
    out = frame.copy()
    if "entity_type" in out and "entity_id" in out:
        mask = out.entity_type == "patient"
        out.loc[mask, "entity_id"] = [pseudonym(v, salt) for v in out.loc[mask, "entity_id"]]
        mask = out.entity_type == "group"
        out.loc[mask, "entity_id"] = [
            "G" + pseudonym(v, salt)[1:] for v in out.loc[mask, "entity_id"]
        ]
    if "member_type" in out and "member_id" in out:
        mask = out.member_type == "patient"
        out.loc[mask, "member_id"] = [pseudonym(v, salt) for v in out.loc[mask, "member_id"]]
    if "group_id" in out:
        out["group_id"] = [
            None if pd.isna(v) else "G" + pseudonym(v, salt)[1:] for v in out.group_id
        ]
    if "lead_type" in out and "lead_id" in out:
        mask = out.lead_type == "patient"
        out.loc[mask, "lead_id"] = [pseudonym(v, salt) for v in out.loc[mask, "lead_id"]]
    if "patient_id" in out:
        out["patient_id"] = [None if pd.isna(v) else pseudonym(v, salt) for v in out.patient_id]
    return out


def neutralise(value: object) -> object:
    """A cell a spreadsheet would evaluate as a formula, made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def escape_control(value: object) -> object:
    """A text with the characters an XLSX cell cannot hold shown as ``\\xNN`` (visible, so
    an auditor sees that the id holds one, instead of the whole workbook failing)."""
    if isinstance(value, str):
        return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value


def xlsx_cell(value: object) -> object:
    return neutralise(escape_control(value))


def text_cells(frame: pd.DataFrame, safe: Callable[[object], object]) -> pd.DataFrame:
    """``frame`` with ``safe`` applied to every cell of its text columns (numbers stay
    numbers: a spreadsheet reads ``-0.5`` in a number column as a number, not a formula)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype).startswith("str"):
            out[col] = out[col].map(safe).astype(object)
    return out


def naive_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with time-zone-aware columns as local wall time (XLSX has no zones)."""
    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if not zoned:
        return frame
    return frame.assign(**{c: frame[c].dt.tz_localize(None) for c in zoned})
