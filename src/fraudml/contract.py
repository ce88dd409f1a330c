"""The data contract as code: every input table, its columns, and its row rules.

This module is the single place where ``shared/data-contract.md`` is turned into
something the loader can check. Validation, the simulator and the docs read from it;
nothing else hard-codes a column list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Logical column types of the contract. ``str`` identifiers are never parsed as numbers.
ColumnType = Literal["str", "date", "timestamp", "money", "int", "float", "bool"]

#: DuckDB/Ibis type each logical type is stored as once validated.
ENGINE_TYPE: dict[str, str] = {
    "str": "string",
    "date": "date",
    "timestamp": "timestamp",
    "money": "float64",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
}

#: How each logical type must look in a CSV file (used in error messages).
EXPECTED_FORM: dict[str, str] = {
    "str": "text",
    "date": "date YYYY-MM-DD",
    "timestamp": "timestamp YYYY-MM-DD HH:MM:SS",
    "money": "number (CNY yuan)",
    "int": "whole number",
    "float": "number",
    "bool": "true/false",
}

VISIT_TYPES = ("outpatient", "emergency", "outpatient_chronic", "inpatient", "pharmacy", "other")
ITEM_CATEGORIES = (
    "bed",
    "consultation",
    "exam",
    "lab",
    "treatment",
    "surgery",
    "nursing",
    "material",
    "western_drug",
    "herbal",
    "patent_drug",
    "general_service",
    "registration",
    "other",
)
DEPARTMENTS = (
    "general",
    "internal",
    "cardiology",
    "orthopedics",
    "hemodialysis",
    "rehabilitation",
    "imaging",
    "laboratory",
    "oncology",
    "anesthesia",
    "icu",
    "surgery",
    "pediatrics",
    "gynecology",
    "urology",
    "tcm",
    "pharmacy",
)


#: ``catalog.age_group``: children-only and adults-only items (the line is at 18 years).
AGE_GROUPS = ("child", "adult")


@dataclass(frozen=True)
class Column:
    """One contract column.

    Parameters
    ----------
    name : str
        Column name in the file.
    type : ColumnType
        Logical type; see :data:`ENGINE_TYPE`.
    nullable : bool
        Whether an empty value is allowed.
    codes : tuple of str, optional
        The closed list of allowed values, if any.
    min_value, max_value : float, optional
        Inclusive numeric bounds, if any.
    """

    name: str
    type: ColumnType
    nullable: bool = False
    codes: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None

    @property
    def expected(self) -> str:
        """Human-readable expected form, for messages."""
        if self.codes is not None:
            return "one of " + ", ".join(self.codes)
        form = EXPECTED_FORM[self.type]
        if self.min_value is not None and self.max_value is not None:
            form += f" from {self.min_value:g} to {self.max_value:g}"
        elif self.min_value is not None:
            form += f" >= {self.min_value:g}"
        return form


@dataclass(frozen=True)
class ForeignKey:
    """``column`` of this table must exist as ``ref_column`` of the accepted ``ref_table``."""

    column: str
    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class Table:
    """One contract table: columns, key, foreign keys and table-specific row rules."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    required: bool = False
    #: Whether the table is expected wherever the source has it (a warning when absent).
    expected: bool = False
    #: Parent table whose quarantined rows take this table's rows with them (fee lines).
    follows: str | None = None
    #: Names of cross-column checks, implemented in :mod:`fraudml.io.checks`.
    row_checks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


PATIENTS = Table(
    name="patients",
    required=True,
    key=("patient_id",),
    columns=(
        Column("patient_id", "str"),
        Column("gender", "str", codes=("M", "F")),
        Column("birth_date", "date"),
        Column("insurance_type", "str", codes=("employee", "resident")),
        Column("region", "str", nullable=True),
        #: fraudml's extension (optional): the date of death from the civil register
        #: (死亡日期); without it the rules on care after death are skipped and listed
        Column("death_date", "date", nullable=True),
    ),
)

PROVIDERS = Table(
    name="providers",
    required=True,
    key=("provider_id",),
    columns=(
        Column("provider_id", "str"),
        Column("provider_type", "str", codes=("hospital", "clinic", "pharmacy")),
        Column("level", "int", nullable=True, min_value=1, max_value=3),
        Column("region", "str", nullable=True),
        Column("beds", "int", nullable=True),
        Column("name", "str", nullable=True),
    ),
)

DOCTORS = Table(
    name="doctors",
    key=("doctor_id",),
    foreign_keys=(ForeignKey("provider_id", "providers", "provider_id"),),
    columns=(
        Column("doctor_id", "str"),
        Column("provider_id", "str"),
        Column("role", "str", codes=("doctor", "pharmacist")),
        Column("department", "str", nullable=True),
        # fraudml's extension (optional): the practitioner's registration (执业注册) and the
        # suspension of their fund-payment qualification (医保支付资格暂停, from the points
        # ledger 记分); without them the practitioner rules are skipped and listed
        #: departments the practitioner is registered for, ``;``-separated department codes
        Column("registered_departments", "str", nullable=True),
        Column("suspended_from", "date", nullable=True),
        Column("suspended_to", "date", nullable=True),
    ),
)

CATALOG = Table(
    name="catalog",
    key=("item_code",),
    columns=(
        Column("item_code", "str"),
        Column("name", "str", nullable=True),
        Column("item_category", "str", codes=ITEM_CATEGORIES),
        Column("price_cap", "money", nullable=True),
        Column("gender", "str", nullable=True, codes=("M", "F")),
        Column("min_age", "int", nullable=True),
        Column("max_age", "int", nullable=True),
        Column("max_daily_quantity", "float", nullable=True),
        Column("inpatient_only", "bool", nullable=True),
        Column("min_provider_level", "int", nullable=True, min_value=1, max_value=3),
        # fraudml's extension (optional): the catalog facts of the national smart-monitoring
        # rules; a rule reading a column the catalog does not fill is skipped and listed
        #: ICD-10 prefixes the item is payable for (限适应症), ``;``-separated
        Column("indications", "str", nullable=True),
        #: ``child`` (under 18 only) or ``adult`` (18 and over only)
        Column("age_group", "str", nullable=True, codes=AGE_GROUPS),
        #: days of supply of one unit (pack) of a drug, for 超量开药 and 重复开药
        Column("days_per_unit", "float", nullable=True, min_value=0),
        #: longest course of the item, in days from the first of a run of lines (超疗程)
        Column("max_course_days", "int", nullable=True, min_value=1),
        #: items that stand in for one another (a code family); 串换 bills the dearer one
        Column("sibling_group", "str", nullable=True),
        #: the package item whose part this item is (分解收费)
        Column("bundle_of", "str", nullable=True),
        #: item codes not to be given with this one (配伍禁忌), ``;``-separated
        Column("incompatible_with", "str", nullable=True),
    ),
)

CLAIMS = Table(
    name="claims",
    required=True,
    key=("claim_id",),
    foreign_keys=(
        ForeignKey("patient_id", "patients", "patient_id"),
        ForeignKey("provider_id", "providers", "provider_id"),
        ForeignKey("doctor_id", "doctors", "doctor_id"),
    ),
    row_checks=("discharge_before_admission",),
    columns=(
        Column("claim_id", "str"),
        Column("patient_id", "str"),
        Column("provider_id", "str"),
        Column("doctor_id", "str", nullable=True),
        Column("visit_type", "str", codes=VISIT_TYPES),
        Column("department", "str", nullable=True),
        Column("admit_time", "timestamp"),
        Column("discharge_time", "timestamp"),
        Column("diagnosis_code", "str", nullable=True),
        Column("total_amount", "money"),
        Column("fund_paid", "money"),
        Column("account_paid", "money"),
        Column("cash_paid", "money"),
    ),
)

CLAIM_ITEMS = Table(
    name="claim_items",
    expected=True,
    follows="claims",
    key=("claim_id", "line_no"),
    foreign_keys=(ForeignKey("claim_id", "claims", "claim_id"),),
    row_checks=("negative_quantity", "amount_mismatch"),
    columns=(
        Column("claim_id", "str"),
        Column("line_no", "int"),
        Column("item_code", "str"),
        Column("item_category", "str", codes=ITEM_CATEGORIES),
        Column("quantity", "float"),
        Column("unit_price", "money"),
        Column("amount", "money"),
        Column("item_time", "timestamp", nullable=True),
        Column("trace_code", "str", nullable=True),
    ),
)

#: fraudml's extension to the contract (optional): every diagnosis and procedure of a claim,
#: as in the national settlement list (医保结算清单: 诊断信息 diseinfo, 手术操作 oprninfo).
#: Position 1 of ``diagnosis`` is the main diagnosis. Without it, code-mix features are
#: dropped and listed.
CLAIM_CODES = Table(
    name="claim_codes",
    follows="claims",
    key=("claim_id", "kind", "position"),
    foreign_keys=(ForeignKey("claim_id", "claims", "claim_id"),),
    columns=(
        Column("claim_id", "str"),
        Column("kind", "str", codes=("diagnosis", "procedure")),
        Column("position", "int", min_value=1),
        Column("code", "str"),
    ),
)

CHRONIC_REGISTRATIONS = Table(
    name="chronic_registrations",
    foreign_keys=(ForeignKey("patient_id", "patients", "patient_id"),),
    columns=(
        Column("patient_id", "str"),
        Column("disease_code", "str"),
        Column("valid_from", "date"),
        Column("valid_to", "date", nullable=True),
    ),
)

LABELS = Table(
    name="labels",
    key=("entity_type", "entity_id", "scheme"),
    row_checks=("label_entity_exists",),
    columns=(
        Column("entity_type", "str", codes=("claim", "patient", "provider", "doctor")),
        Column("entity_id", "str"),
        Column("label", "int", codes=("0", "1")),
        Column("scheme", "str", nullable=True),
        Column("decided_at", "date", nullable=True),
        Column("source", "str", nullable=True),
    ),
)

#: Tables in the order they are validated: every table after the ones it refers to.
TABLES: tuple[Table, ...] = (
    PATIENTS,
    PROVIDERS,
    DOCTORS,
    CATALOG,
    CLAIMS,
    CLAIM_ITEMS,
    CLAIM_CODES,
    CHRONIC_REGISTRATIONS,
    LABELS,
)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

#: Which table holds the entities a label may refer to.
LABEL_ENTITY_TABLES: dict[str, tuple[str, str]] = {
    "claim": ("claims", "claim_id"),
    "patient": ("patients", "patient_id"),
    "provider": ("providers", "provider_id"),
    "doctor": ("doctors", "doctor_id"),
}

#: Tolerance of ``amount`` against ``quantity * unit_price`` (yuan).
AMOUNT_TOLERANCE = 0.01
