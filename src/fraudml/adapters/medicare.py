"""The public Medicare provider-fraud data ("Healthcare Provider Fraud Detection Analysis",
Kaggle, US claims of 2009) as a contract dataset.

Source files, found by name in one folder, gzip or plain CSV as downloaded:

- ``*Beneficiary*`` → ``patients`` (gender, birth date, state and county as the region,
  ``DOD`` as the contract's ``death_date``, read by the rules on care after death; race,
  renal disease, Part A/B months, the eleven chronic-condition flags and the annual
  amounts are carried as extra columns);
- ``*Inpatient*`` → inpatient ``claims`` (admission to discharge);
- ``*Outpatient*`` (optional; not in every copy) → outpatient ``claims``;
- the label file (columns ``Provider``, ``PotentialFraud``) → provider ``labels``.

Providers come from the claims (a hospital when it has inpatient claims, else a clinic),
physicians from the attending, operating and other physician columns (each one's main
provider is where they appear most). Diagnosis codes 1–10 and procedure codes 1–6 go to
``claim_codes``. The data has no fee lines: the toolkit runs without ``claim_items``.

Money stays in US dollars, declared in the dataset's ``dataset.json`` (:data:`METADATA`)
so reports write "US dollars", not yuan: reimbursed by the insurer → ``fund_paid``, the deductible →
``cash_paid`` (an empty amount is read as 0, and the import says how many), their sum →
``total_amount`` (the files hold no total). A value that is not a date or a number stops
the import naming the file, row and column: typed Parquet cannot carry it on to
quarantine. Medicare has no
personal account: ``account_paid`` is 0. Diagnoses are ICD-9-CM, not ICD-10. Every
beneficiary is ``insurance_type=resident`` (Medicare is a public scheme by age or
disability, closest to the resident scheme); ``source_scheme`` keeps ``medicare``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fraudml.io.errors import ContractError

log = logging.getLogger(__name__)

#: The dataset's declarations (``dataset.json``): the source's money is US dollars.
METADATA = {"currency": "USD", "source": "medicare-kaggle"}

DIAGNOSIS_COLUMNS = tuple(f"ClmDiagnosisCode_{i}" for i in range(1, 11))
PROCEDURE_COLUMNS = tuple(f"ClmProcedureCode_{i}" for i in range(1, 7))
PHYSICIAN_COLUMNS = ("AttendingPhysician", "OperatingPhysician", "OtherPhysician")

#: Chronic-condition flags of the beneficiary file (1 = yes, 2 = no) → carried columns.
CHRONIC_FLAGS = {
    "ChronicCond_Alzheimer": "chronic_alzheimer",
    "ChronicCond_Heartfailure": "chronic_heart_failure",
    "ChronicCond_KidneyDisease": "chronic_kidney_disease",
    "ChronicCond_Cancer": "chronic_cancer",
    "ChronicCond_ObstrPulmonary": "chronic_obstructive_pulmonary",
    "ChronicCond_Depression": "chronic_depression",
    "ChronicCond_Diabetes": "chronic_diabetes",
    "ChronicCond_IschemicHeart": "chronic_ischemic_heart",
    "ChronicCond_Osteoporasis": "chronic_osteoporosis",
    "ChronicCond_rheumatoidarthritis": "chronic_rheumatoid_arthritis",
    "ChronicCond_stroke": "chronic_stroke",
}

BENEFICIARY_COLUMNS = (
    "BeneID",
    "DOB",
    "DOD",
    "Gender",
    "Race",
    "RenalDiseaseIndicator",
    "State",
    "County",
    *CHRONIC_FLAGS,
)
CLAIM_COLUMNS = (
    "BeneID",
    "ClaimID",
    "ClaimStartDt",
    "ClaimEndDt",
    "Provider",
    "InscClaimAmtReimbursed",
    "DeductibleAmtPaid",
    *PHYSICIAN_COLUMNS,
    *DIAGNOSIS_COLUMNS,
    *PROCEDURE_COLUMNS,
)
INPATIENT_COLUMNS = (*CLAIM_COLUMNS, "AdmissionDt", "DischargeDt", "DiagnosisGroupCode")
LABEL_COLUMNS = ("Provider", "PotentialFraud")


@dataclass(frozen=True)
class SourceFiles:
    """The files of one copy of the data."""

    beneficiaries: Path
    inpatient: Path
    outpatient: Path | None
    labels: Path | None


def _pick(folder: Path, word: str) -> Path | None:
    """The CSV (plain or gzip) whose name holds ``word``; a ``Train`` file before a ``Test``
    one, since the Kaggle test files come without labels."""
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and word.lower() in p.name.lower() and p.name.endswith((".csv", ".csv.gz"))
    )
    found.sort(key=lambda p: (not p.name.lower().startswith("train"), p.name))
    return found[0] if found else None


def _header(path: Path) -> list[str]:
    return list(pd.read_csv(path, nrows=0).columns)


def find_sources(folder: Path) -> SourceFiles:
    """Locate the source files in ``folder``; a missing required file is a structural fault."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ContractError(f"{folder}: source folder not found")
    beneficiaries = _pick(folder, "beneficiary")
    inpatient = _pick(folder, "inpatient")
    for path, what in ((beneficiaries, "beneficiary"), (inpatient, "inpatient")):
        if path is None:
            raise ContractError(
                f"{folder}: no {what} file (expected a CSV or CSV.gz whose name contains "
                f"'{what.capitalize()}', e.g. Train_{what.capitalize()}data-….csv)"
            )
    labels = None
    for path in sorted(folder.iterdir()):
        is_csv = path.is_file() and path.name.endswith((".csv", ".csv.gz"))
        if is_csv and set(LABEL_COLUMNS) <= set(_header(path)):
            labels = path
            break
    assert beneficiaries is not None and inpatient is not None
    return SourceFiles(beneficiaries, inpatient, _pick(folder, "outpatient"), labels)


def read_source(path: Path, columns: tuple[str, ...], nrows: int | None = None) -> pd.DataFrame:
    """One source file as text columns (codes keep their leading zeros), checked for the
    columns the mapping needs."""
    header = _header(path)
    missing = [c for c in columns if c not in header]
    if missing:
        raise ContractError(
            f"{path}: column {missing[0]!r} is missing (expected the Medicare columns "
            f"{', '.join(columns)})"
        )
    return pd.read_csv(path, dtype=str, usecols=list(columns), nrows=nrows, keep_default_na=False)


def _null(values: pd.Series) -> pd.Series:
    """'' and 'NA' (how the files write a missing value) → missing."""
    return values.where(~values.isin(["", "NA"]))


def _checked(
    values: pd.Series, parsed: pd.Series, path: Path, column: str, expected: str
) -> pd.Series:
    """``parsed``, unless a non-empty value failed to parse: then stop, naming the file,
    the data row (1 = the first after the header), the column and the value."""
    bad = (parsed.isna() & _null(values).notna()).to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ContractError(
            f"{path}: row {first + 1}, column {column!r} holds {values.iloc[first]!r} "
            f"(expected {expected})"
        )
    return parsed


def _date(values: pd.Series, path: Path, column: str) -> pd.Series:
    parsed = pd.to_datetime(_null(values), format="%Y-%m-%d", errors="coerce")
    return _checked(values, parsed, path, column, "a date YYYY-MM-DD")


def _money(values: pd.Series, path: Path, column: str) -> pd.Series:
    parsed = pd.to_numeric(_null(values), errors="coerce")
    return _checked(values, parsed, path, column, "a number")


def _code(values: pd.Series) -> pd.Series:
    """A code as written: procedure codes sometimes carry a float's ``.0``."""
    return _null(values).str.strip().str.replace(r"\.0$", "", regex=True)


def patients(bene: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Beneficiaries → contract patients (extra columns carried)."""
    gender = bene.Gender.map({"1": "M", "2": "F"})
    out = pd.DataFrame(
        {
            "patient_id": bene.BeneID,
            # A gender code other than 1/2 stays as written so validation quarantines it.
            "gender": gender.fillna(bene.Gender),
            "birth_date": _date(bene.DOB, path, "DOB").dt.date,
            "insurance_type": "resident",
            "region": bene.State.str.zfill(2) + "-" + bene.County.str.zfill(3),
            # the contract's optional death date (ELG-DEATH, ELG-DEATH-STAY)
            "death_date": _date(bene.DOD, path, "DOD").dt.date,
            "source_scheme": "medicare",
            "race": _null(bene.Race),
            "renal_disease": bene.RenalDiseaseIndicator.eq("Y"),
        }
    )
    for source, name in CHRONIC_FLAGS.items():
        out[name] = bene[source].eq("1")
    out["n_chronic_conditions"] = out[list(CHRONIC_FLAGS.values())].sum(axis=1).astype("int64")
    return out


def _claims(raw: pd.DataFrame, path: Path, inpatient: bool) -> pd.DataFrame:
    fund = _money(raw.InscClaimAmtReimbursed, path, "InscClaimAmtReimbursed")
    cash = _money(raw.DeductibleAmtPaid, path, "DeductibleAmtPaid")
    for column, values in (("InscClaimAmtReimbursed", fund), ("DeductibleAmtPaid", cash)):
        if values.isna().any():
            log.info("%s: %s empty %s read as 0", path.name, f"{values.isna().sum():,}", column)
    fund, cash = fund.fillna(0.0), cash.fillna(0.0)
    start = _date(raw.ClaimStartDt, path, "ClaimStartDt")
    end = _date(raw.ClaimEndDt, path, "ClaimEndDt")
    if inpatient:
        admit = _date(raw.AdmissionDt, path, "AdmissionDt")
        discharge = _date(raw.DischargeDt, path, "DischargeDt")
    else:
        # The contract's visit is a point in time: discharge equals admission.
        admit = discharge = start
    return pd.DataFrame(
        {
            "claim_id": raw.ClaimID,
            "patient_id": raw.BeneID,
            "provider_id": raw.Provider,
            "doctor_id": _null(raw.AttendingPhysician),
            "visit_type": "inpatient" if inpatient else "outpatient",
            "department": None,
            "admit_time": admit,
            "discharge_time": discharge,
            "diagnosis_code": _code(raw.ClmDiagnosisCode_1),
            "total_amount": (fund + cash).round(2),
            "fund_paid": fund,
            "account_paid": 0.0,
            "cash_paid": cash,
            "claim_start": start.dt.date,
            "claim_end": end.dt.date,
            "operating_doctor_id": _null(raw.OperatingPhysician),
            "other_doctor_id": _null(raw.OtherPhysician),
            "drg_code": _code(raw.DiagnosisGroupCode) if inpatient else None,
        }
    )


def claim_codes(raw: pd.DataFrame) -> pd.DataFrame:
    """Diagnosis codes 1–10 and procedure codes 1–6 in long form (non-empty only)."""
    parts = []
    for kind, columns in (("diagnosis", DIAGNOSIS_COLUMNS), ("procedure", PROCEDURE_COLUMNS)):
        for position, column in enumerate(columns, start=1):
            code = _code(raw[column])
            keep = code.notna() & code.ne("")
            parts.append(
                pd.DataFrame(
                    {
                        "claim_id": raw.ClaimID[keep],
                        "kind": kind,
                        "position": position,
                        "code": code[keep],
                    }
                )
            )
    out = pd.concat(parts, ignore_index=True)
    out["position"] = out["position"].astype("int64")
    return out.sort_values(["claim_id", "kind", "position"], kind="stable").reset_index(drop=True)


def providers(claims: pd.DataFrame) -> pd.DataFrame:
    """One provider per id in the claims: a hospital when it has inpatient claims."""
    inpatient = claims.visit_type.eq("inpatient").groupby(claims.provider_id).any()
    return pd.DataFrame(
        {
            "provider_id": inpatient.index,
            "provider_type": np.where(inpatient.to_numpy(), "hospital", "clinic"),
            "level": pd.array([pd.NA] * len(inpatient), dtype="Int64"),
            "region": None,
            "beds": pd.array([pd.NA] * len(inpatient), dtype="Int64"),
            "name": None,
        }
    ).sort_values("provider_id", ignore_index=True)


def doctors(claims: pd.DataFrame) -> pd.DataFrame:
    """Every physician named on a claim, employed where they appear most (ties: lowest
    provider id, so the mapping is deterministic)."""
    roles = pd.concat(
        [
            claims[["provider_id", c]].rename(columns={c: "doctor_id"})
            for c in ("doctor_id", "operating_doctor_id", "other_doctor_id")
        ]
    ).dropna(subset=["doctor_id"])
    counts = roles.groupby(["doctor_id", "provider_id"]).size().rename("n").reset_index()
    counts = counts.sort_values(["doctor_id", "n", "provider_id"], ascending=[True, False, True])
    main = counts.drop_duplicates("doctor_id").reset_index(drop=True)
    return pd.DataFrame(
        {
            "doctor_id": main.doctor_id,
            "provider_id": main.provider_id,
            "role": "doctor",
            "department": None,
        }
    )


def labels(raw: pd.DataFrame, path: Path, known: pd.Index) -> pd.DataFrame:
    """Provider labels for the whole period: no decision date exists."""
    label = raw.PotentialFraud.str.strip().str.lower().map({"yes": 1, "no": 0})
    # an empty value is a fault here too: every listed provider has a verdict
    label = _checked(
        raw.PotentialFraud.replace("", "?"), label, path, "PotentialFraud", "Yes or No"
    )
    out = pd.DataFrame(
        {
            "entity_type": "provider",
            "entity_id": raw.Provider,
            "label": label.astype("int64"),
            "scheme": None,
            "decided_at": None,
            "source": "medicare-kaggle",
        }
    )
    present = out.entity_id.isin(known)
    if (~present).any():
        log.info(
            "%s of %s labelled providers have no claims in the files read: left out",
            f"{(~present).sum():,}",
            f"{len(out):,}",
        )
    return out[present].reset_index(drop=True)


def convert(files: SourceFiles, nrows: int | None = None) -> dict[str, pd.DataFrame]:
    """The source files as contract tables.

    ``nrows`` reads only the head of each claims file, with the beneficiaries those claims
    name (a slice for tests and trials).
    """
    bene = read_source(files.beneficiaries, BENEFICIARY_COLUMNS)
    raw = {"inpatient": read_source(files.inpatient, INPATIENT_COLUMNS, nrows)}
    if files.outpatient is not None:
        raw["outpatient"] = read_source(files.outpatient, CLAIM_COLUMNS, nrows)
    else:
        log.info("no outpatient file in %s: inpatient claims only", files.inpatient.parent)
    if nrows is not None:
        named = pd.concat([frame.BeneID for frame in raw.values()])
        bene = bene[bene.BeneID.isin(named)].reset_index(drop=True)
    paths = {"inpatient": files.inpatient, "outpatient": files.outpatient}
    claims = pd.concat(
        [_claims(frame, paths[kind], kind == "inpatient") for kind, frame in raw.items()],
        ignore_index=True,
    )
    tables = {
        "patients": patients(bene, files.beneficiaries),
        "providers": providers(claims),
        "doctors": doctors(claims),
        "claims": claims,
        "claim_codes": pd.concat([claim_codes(f) for f in raw.values()], ignore_index=True),
    }
    if files.labels is not None:
        raw_labels = read_source(files.labels, LABEL_COLUMNS)
        tables["labels"] = labels(raw_labels, files.labels, tables["providers"].provider_id)
    return tables
