"""What a rule reads beyond a fee line or a claim: its catalog facts, claim, patient and
practitioner columns, joined only when the rule names them.

The window's fee lines (:func:`fraudml.window.fee_lines`) carry the catalog's classic
restrictions; the facts of the national smart-monitoring rules (indications, days of
supply, sibling groups …), the claim's diagnosis, the patient's date of death and the
practitioner's registration are joined here, for the rules that read them, so that a rule
base of classic rules costs what it cost before.

The optional contract columns (:data:`OPTIONAL_COLUMNS`) are what a rule may lack: a rule
reading one the dataset does not fill is skipped and listed, never run on nulls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from fraudml.contract import CATALOG, DOCTORS, ENGINE_TYPE, Table
from fraudml.rulebase.expr import names_in, template_fields
from fraudml.rulebase.spec import Rule

if TYPE_CHECKING:  # checks imports this module's functions
    from fraudml.rulebase.checks import RuleInputs

#: Catalog facts a fee line may carry beyond the window's: line column → catalog column.
CATALOG_EXTRA: dict[str, str] = {
    "cat_category": "item_category",
    "indications": "indications",
    "age_group": "age_group",
    "days_per_unit": "days_per_unit",
    "max_course_days": "max_course_days",
    "sibling_group": "sibling_group",
    "bundle_of": "bundle_of",
    "incompatible_with": "incompatible_with",
}
#: The practitioner's columns as a claim or line carries them: column → doctors column.
DOCTOR_EXTRA: dict[str, str] = {
    "doctor_provider_id": "provider_id",
    "doctor_department": "department",
    "role": "role",
    "registered_departments": "registered_departments",
    "suspended_from": "suspended_from",
    "suspended_to": "suspended_to",
}
PATIENT_EXTRA: dict[str, str] = {"death_date": "death_date"}

#: The optional contract columns a rule may read: name in a rule → ``table.column``.
#: A rule naming one (or whose check requires one) is skipped when the dataset leaves it
#: empty (:func:`fraudml.rulebase.engine.rule_requires`).
OPTIONAL_COLUMNS: dict[str, str] = {
    **{k: f"catalog.{v}" for k, v in CATALOG_EXTRA.items() if k != "cat_category"},
    "death_date": "patients.death_date",
    "registered_departments": "doctors.registered_departments",
    "suspended_from": "doctors.suspended_from",
    "suspended_to": "doctors.suspended_to",
}
#: Names that need the doctors table itself.
DOCTOR_NAMES = frozenset(DOCTOR_EXTRA)


def rule_names(rule: Rule) -> set[str]:
    """The names ``rule`` reads in its condition, amount, messages and evidence."""
    read = set(rule.evidence)
    for text in (rule.where, rule.amount):
        if text:
            read |= names_in(text)
    for template in (rule.message.zh, rule.message.en):
        read |= template_fields(template)
    for value in rule.params.values():
        # expressions in params (claim_lines counts, peer metrics) read names too
        if isinstance(value, str):
            read |= names_in(value)
        elif isinstance(value, dict):
            for v in value.values():
                if isinstance(v, str):
                    read |= names_in(v)
    return read - {k for k, v in rule.params.items() if not isinstance(v, dict)}


def _typed_nulls(t: ir.Table, columns: dict[str, str], spec: Table) -> ir.Table:
    """``t`` with ``columns`` (name → column of ``spec``) as nulls of the contract's type."""
    return t.mutate(
        **{c: ibis.null(ENGINE_TYPE[spec.column(src).type]) for c, src in columns.items()}
    )


def with_catalog_facts(lines: ir.Table, catalog: ir.Table | None, names: Iterable[str]) -> ir.Table:
    """``lines`` with the catalog facts among ``names`` (typed nulls without a catalog)
    and ``listed``: whether the item code is in the catalog at all."""
    names = set(names) - set(lines.columns)
    wanted = {k: v for k, v in CATALOG_EXTRA.items() if k in names}
    if not wanted and "listed" not in names:
        return lines
    if catalog is None:
        out = _typed_nulls(lines, wanted, CATALOG)
        return out.mutate(listed=ibis.null("boolean")) if "listed" in names else out
    present = set(catalog.columns)
    facts = catalog.select(
        _code="item_code",
        _listed=ibis.literal(True),
        **{k: catalog[v] for k, v in wanted.items() if v in present},
    )
    out = lines.left_join(facts, lines.item_code == facts._code).drop("_code")
    missing = {k: v for k, v in wanted.items() if v not in present}
    out = _typed_nulls(out, missing, CATALOG) if missing else out
    if "listed" in names:
        out = out.mutate(listed=out._listed.fill_null(False))
    return out.drop("_listed")


def with_doctor(t: ir.Table, doctors: ir.Table | None, names: Iterable[str]) -> ir.Table:
    """``t`` (claims or lines) with its practitioner's columns among ``names``."""
    wanted = {k: v for k, v in DOCTOR_EXTRA.items() if k in set(names) - set(t.columns)}
    if not wanted:
        return t
    if doctors is None:
        return _typed_nulls(t, wanted, DOCTORS)
    present = set(doctors.columns)
    d = doctors.select(
        _doc="doctor_id", **{k: doctors[v] for k, v in wanted.items() if v in present}
    )
    out = t.left_join(d, t.doctor_id == d._doc).drop("_doc")
    missing = {k: v for k, v in wanted.items() if v not in present}
    return _typed_nulls(out, missing, DOCTORS) if missing else out


def with_patient(t: ir.Table, patients: ir.Table | None, names: Iterable[str]) -> ir.Table:
    """``t`` with its patient's optional columns among ``names`` (``death_date``)."""
    wanted = {k: v for k, v in PATIENT_EXTRA.items() if k in set(names) - set(t.columns)}
    if not wanted:
        return t
    if patients is None or not set(wanted.values()) <= set(patients.columns):
        return t.mutate(**{k: ibis.null("date") for k in wanted})
    p = patients.select(
        _pid="patient_id", **{k: patients[v].cast("date") for k, v in wanted.items()}
    )
    return t.left_join(p, t.patient_id == p._pid).drop("_pid")


def enriched_claims(claims: ir.Table, x: RuleInputs, names: Iterable[str]) -> ir.Table:
    """Window claims with the patient and practitioner columns among ``names``."""
    names = set(names)
    return with_doctor(with_patient(claims, x.patients, names), x.doctors, names)


def enriched_lines(lines: ir.Table, x: RuleInputs, names: Iterable[str]) -> ir.Table:
    """Fee lines with the catalog facts, claim, patient and practitioner columns among
    ``names`` (only those: each join costs a pass over the lines)."""
    names = set(names)
    out = with_catalog_facts(lines, x.catalog, names)
    from_claims = sorted((names & set(x.claims.columns)) - set(out.columns))
    if from_claims:
        c = x.claims.select(_cid="claim_id", **{n: x.claims[n] for n in from_claims})
        out = out.inner_join(c, out.claim_id == c._cid).drop("_cid")
    out = with_patient(out, x.patients, names)
    return with_doctor(out, x.doctors, names)
