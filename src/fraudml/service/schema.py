"""The service's request and answer shapes, the request's built from the data contract.

A check sends one claim with its fee lines in the contract's field names (and, when the
service does not know them yet, its patient and provider)::

    {"patient": {...}?, "provider": {...}?, "doctor": {...}?, "claim": {...}, "items": [...]}

Every field's type, code list and range come from :mod:`fraudml.contract`, so the service
accepts what a dataset accepts and names the same expected forms. Columns the contract
does not list are ignored, as in a dataset; an empty string in an optional field is null.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, NaiveDatetime, create_model

from fraudml.contract import (
    CLAIM_ITEMS,
    CLAIMS,
    DOCTORS,
    PATIENTS,
    PROVIDERS,
    Column,
    Table,
)
from fraudml.rulebase.spec import RESULTS, SEVERITIES, STAGES

#: The Python type each logical contract type is read as.
_PYTHON: dict[str, Any] = {
    "str": str,
    "date": dt.date,
    # local time without a zone, as in a dataset: a zoned time is refused, not shifted
    "timestamp": NaiveDatetime,
    "money": float,
    "int": int,
    "float": float,
    "bool": bool,
}

Stage = Literal["pre", "in", "post"]
Decision = Literal["pass", "remind", "review", "reject"]
#: Decisions from the weakest to the strongest: a claim takes its strongest hit's.
DECISIONS: tuple[str, ...] = ("pass", "remind", "review", "reject")


def _empty_is_null(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip() == "" else value


def expected(column: Column) -> str:
    """What a column must hold, in the words of the contract (for 422 answers)."""
    form = column.expected
    if not column.nullable:
        form += ", required"
    return form


def _field(column: Column, optional: bool) -> tuple[Any, Any]:
    kind: Any = (
        Literal[column.codes]  # type: ignore[valid-type]
        if column.codes is not None and column.type == "str"
        else _PYTHON[column.type]
    )
    limits: dict[str, Any] = {}
    if column.min_value is not None:
        limits["ge"] = column.min_value
    if column.max_value is not None:
        limits["le"] = column.max_value
    if column.type in ("money", "float"):
        limits["allow_inf_nan"] = False
    if column.type == "str" and column.codes is None and not (column.nullable or optional):
        limits["min_length"] = 1
    description = expected(column) if not optional else f"{column.expected} (optional here)"
    if column.nullable or optional:
        annotated = Annotated[
            kind | None,
            BeforeValidator(_empty_is_null),
            Field(description=description, **limits),
        ]
        return annotated, None
    return Annotated[kind, Field(description=description, **limits)], ...


def contract_model(
    table: Table, name: str, doc: str, optional: tuple[str, ...] = ()
) -> type[BaseModel]:
    """A pydantic model with one field per contract column of ``table``.

    ``optional`` columns may be left out here although the contract requires them (a fee
    line's ``claim_id`` is its claim's).
    """
    fields = {c.name: _field(c, c.name in optional) for c in table.columns}
    return create_model(  # type: ignore[call-overload]
        name, __config__=ConfigDict(extra="ignore"), __doc__=doc, **fields
    )


Patient = contract_model(PATIENTS, "Patient", "参保人: a row of the contract's patients table.")
Provider = contract_model(
    PROVIDERS, "Provider", "定点医药机构: a row of the contract's providers table."
)
Doctor = contract_model(DOCTORS, "Doctor", "医师/药师: a row of the contract's doctors table.")
Claim = contract_model(CLAIMS, "Claim", "结算: a row of the contract's claims table.")
Item = contract_model(
    CLAIM_ITEMS,
    "Item",
    "费用明细: a row of the contract's claim_items table (claim_id may be left out).",
    optional=("claim_id",),
)

#: Where each part of a check request comes from in the contract.
PART_TABLES: dict[str, Table] = {
    "patient": PATIENTS,
    "provider": PROVIDERS,
    "doctor": DOCTORS,
    "claim": CLAIMS,
    "items": CLAIM_ITEMS,
}


class CheckRequest(BaseModel):
    """One claim with its fee lines; patient and provider when the service may not know
    them (a missing one is looked up by the claim's id for it)."""

    model_config = ConfigDict(extra="forbid")

    patient: Patient | None = None  # type: ignore[valid-type]
    provider: Provider | None = None  # type: ignore[valid-type]
    doctor: Doctor | None = None  # type: ignore[valid-type]
    claim: Claim  # type: ignore[valid-type]
    items: list[Item] = Field(default_factory=list)  # type: ignore[valid-type]


class BatchRequest(BaseModel):
    """Many claims checked together, as one window: each sees the others."""

    model_config = ConfigDict(extra="forbid")

    claims: list[CheckRequest] = Field(min_length=1)


class Hit(BaseModel):
    rule_id: str
    name_zh: str
    name_en: str
    result: Literal[tuple(RESULTS)]  # type: ignore[valid-type]
    severity: Literal[tuple(SEVERITIES)]  # type: ignore[valid-type]
    stage: Literal[tuple(STAGES)]  # type: ignore[valid-type]
    #: the fee line, for rules on fee lines
    line_no: int | None
    amount: float
    message_zh: str
    message_en: str
    evidence: str


class CheckResult(BaseModel):
    claim_id: str
    decision: Decision
    #: why the decision is not its hits' alone: ``suspended`` (熔断), ``practitioner_suspended``
    #: or ``practitioner_terminated`` (the points ledger), or null
    reason: str | None = None
    stage: Stage
    hits: list[Hit]
    rule_base: str


class BatchResult(BaseModel):
    results: list[CheckResult]
    rule_base: str


class Problem(BaseModel):
    field: str
    problem: str
    expected: str


class ProblemAnswer(BaseModel):
    error: str
    problems: list[Problem]


def describe_location(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    """A pydantic error location as a field path (``claims[3].claim.admit_time``) and
    what the contract expects there (empty when the place is not a contract column)."""
    parts = [p for p in loc if p != "body"]
    path = ""
    for p in parts:
        path += f"[{p}]" if isinstance(p, int) else (f".{p}" if path else str(p))
    names = [p for p in parts if isinstance(p, str)]
    if len(names) >= 2 and names[-2] in PART_TABLES:
        table = PART_TABLES[names[-2]]
        if names[-1] in table.column_names:
            return path or "body", expected(table.column(names[-1]))
    if names and names[-1] in PART_TABLES:
        what = "a list of fee lines" if names[-1] == "items" else "an object"
        return path, f"{what} with the columns of the contract's {PART_TABLES[names[-1]].name}"
    return path or "body", ""
