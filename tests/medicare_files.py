"""Files in the layout of the Kaggle Medicare provider-fraud data, written by the tests.

The column lists come from :mod:`fraudml.adapters.medicare`; the values are made up.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from fraudml.adapters.medicare import (
    BENEFICIARY_COLUMNS,
    CHRONIC_FLAGS,
    CLAIM_COLUMNS,
    DIAGNOSIS_COLUMNS,
    INPATIENT_COLUMNS,
    PROCEDURE_COLUMNS,
)


def beneficiary(bene: str, dob: str, gender: str = "1", **extra: str) -> dict[str, str]:
    row = {
        "BeneID": bene,
        "DOB": dob,
        "DOD": "NA",
        "Gender": gender,
        "Race": "1",
        "RenalDiseaseIndicator": "0",
        "State": "5",
        "County": "40",
        **dict.fromkeys(CHRONIC_FLAGS, "2"),
        "IPAnnualReimbursementAmt": "0",
    }
    row.update(extra)
    return row


def claim_row(
    claim: str,
    bene: str,
    provider: str,
    start: str,
    end: str,
    reimbursed: str = "1000",
    deductible: str = "100",
    attending: str = "PHY1",
    diagnoses: tuple[str, ...] = ("4019",),
    procedures: tuple[str, ...] = (),
    inpatient: bool = True,
    **extra: str,
) -> dict[str, str]:
    row = dict.fromkeys(INPATIENT_COLUMNS if inpatient else CLAIM_COLUMNS, "NA")
    row.update(
        BeneID=bene,
        ClaimID=claim,
        ClaimStartDt=start,
        ClaimEndDt=end,
        Provider=provider,
        InscClaimAmtReimbursed=reimbursed,
        DeductibleAmtPaid=deductible,
        AttendingPhysician=attending,
    )
    for column, code in zip(DIAGNOSIS_COLUMNS, diagnoses, strict=False):
        row[column] = code
    for column, code in zip(PROCEDURE_COLUMNS, procedures, strict=False):
        row[column] = code
    if inpatient:
        row.update(AdmissionDt=start, DischargeDt=end, DiagnosisGroupCode="201")
    row.update(extra)
    return row


def write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> Path:
    """A CSV as the Kaggle files hold one (quoted text, NA for missing); ``.gz`` compresses."""
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys(columns)))
    text = frame.to_csv(index=False)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_source(
    folder: Path,
    beneficiaries: list[dict[str, str]],
    inpatient: list[dict[str, str]],
    outpatient: list[dict[str, str]] | None = None,
    labels: list[tuple[str, str]] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    bene_columns = (*BENEFICIARY_COLUMNS, "IPAnnualReimbursementAmt")
    write(folder / "Train_Beneficiarydata-1.csv.gz", beneficiaries, bene_columns)
    write(folder / "Train_Inpatientdata-1.csv.gz", inpatient, INPATIENT_COLUMNS)
    if outpatient is not None:
        write(folder / "Train_Outpatientdata-1.csv", outpatient, CLAIM_COLUMNS)
    if labels is not None:
        frame = pd.DataFrame(labels, columns=["Provider", "PotentialFraud"])
        frame.to_csv(folder / "Train-1.csv", index=False)
    return folder


def random_source(folder: Path, n_providers: int = 80, seed: int = 0) -> Path:
    """A made-up region: a quarter of providers fraudulent, billing more and longer stays;
    every provider labelled but the last five; a few outpatient visits each."""
    rng = np.random.default_rng(seed)
    benes = [
        beneficiary(f"B{i:04d}", f"19{rng.integers(20, 50)}-0{rng.integers(1, 9)}-01")
        for i in range(400)
    ]
    fraud = rng.random(n_providers) < 0.25
    fraud[:4], fraud[4:8] = True, False  # both classes in every fold
    inpatient, outpatient, labels, k = [], [], [], 0
    for p in range(n_providers):
        provider = f"PRV{p:03d}"
        n = int(rng.integers(8, 20) if fraud[p] else rng.integers(1, 9))
        for _ in range(n):
            day = int(rng.integers(1, 300))
            stay = int(rng.integers(3, 15) if fraud[p] else rng.integers(0, 6))
            start = pd.Timestamp("2009-01-01") + pd.Timedelta(days=day)
            end = start + pd.Timedelta(days=stay)
            inpatient.append(
                claim_row(
                    f"CLM{k:05d}",
                    f"B{int(rng.integers(0, 400)):04d}",
                    provider,
                    start.date().isoformat(),
                    end.date().isoformat(),
                    reimbursed=str(int(rng.integers(2, 30)) * 1000),
                    deductible="1068",
                    attending=f"PHY{int(rng.integers(0, 150)):03d}",
                    diagnoses=tuple(str(4000 + int(rng.integers(0, 40))) for _ in range(3)),
                    procedures=(str(int(rng.integers(3000, 3100))),) if rng.random() < 0.5 else (),
                )
            )
            k += 1
        for _ in range(3):
            day = pd.Timestamp("2009-01-01") + pd.Timedelta(days=int(rng.integers(1, 360)))
            outpatient.append(
                claim_row(
                    f"CLM{k:05d}",
                    f"B{int(rng.integers(0, 400)):04d}",
                    provider,
                    day.date().isoformat(),
                    day.date().isoformat(),
                    reimbursed=str(int(rng.integers(1, 30)) * 10),
                    deductible="0",
                    attending=f"PHY{int(rng.integers(0, 150)):03d}",
                    inpatient=False,
                )
            )
            k += 1
        if p < n_providers - 5:
            labels.append((provider, "Yes" if fraud[p] else "No"))
    return write_source(folder, benes, inpatient, outpatient, labels=labels)
