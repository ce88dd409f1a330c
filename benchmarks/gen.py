"""Contract datasets of any size with row faults planted at known rates, for benchmarks.

Vectorised NumPy: 10M fee lines take well under a minute. This is not the synthetic city
(no behaviour, no fraud schemes); it is volume with known faults, to time the loader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Share of rows given one fault each (spread over the fault kinds of each table).
FAULT_RATE = 0.001


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width))


def _write(table: pa.Table, target: Path, parts: int = 1) -> None:
    if parts == 1:
        pq.write_table(table, target.with_suffix(".parquet"), row_group_size=1 << 20)
        return
    target.mkdir(parents=True, exist_ok=True)
    step = -(-table.num_rows // parts)
    for i in range(parts):
        pq.write_table(
            table.slice(i * step, step), target / f"part-{i:03d}.parquet", row_group_size=1 << 20
        )


def generate(root: Path, n_lines: int, seed: int = 7) -> dict[str, int]:
    """Write a dataset with about ``n_lines`` fee lines; return the planted fault counts."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    n_claims = max(n_lines // 4, 10)
    n_patients = max(n_claims // 8, 10)
    n_providers = max(n_patients // 100, 5)
    planted: dict[str, int] = {}

    provider_ids = _ids("P", n_providers, 6)
    ptype = rng.choice(np.array(["hospital", "clinic", "pharmacy"]), n_providers, p=[0.3, 0.4, 0.3])
    level = np.where(ptype == "hospital", rng.integers(1, 4, n_providers), 1).astype("int64")
    _write(
        pa.table(
            {
                "provider_id": provider_ids,
                "provider_type": ptype,
                "level": pa.array(level, mask=ptype == "pharmacy"),
                "region": rng.choice(np.array(["110101", "110102", "110105"]), n_providers),
                "beds": pa.array(rng.integers(20, 1500, n_providers), mask=ptype != "hospital"),
                "name": np.char.add("机构", provider_ids),
            }
        ),
        root / "providers",
    )

    patient_ids = _ids("", n_patients, 12)  # leading zeros on purpose
    birth = np.datetime64("1935-01-01") + rng.integers(0, 365 * 85, n_patients).astype(
        "timedelta64[D]"
    )
    gender = rng.choice(np.array(["M", "F"]), n_patients)
    bad_gender = rng.random(n_patients) < FAULT_RATE
    gender[bad_gender] = "U"
    planted["patients"] = int(bad_gender.sum())
    _write(
        pa.table(
            {
                "patient_id": patient_ids,
                "gender": gender,
                "birth_date": birth,
                "insurance_type": rng.choice(np.array(["employee", "resident"]), n_patients),
                "region": rng.choice(np.array(["110101", "110102", "110105"]), n_patients),
            }
        ),
        root / "patients",
    )

    claim_ids = _ids("S", n_claims, 11)
    admit = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 366 * 86400, n_claims).astype(
        "timedelta64[s]"
    )
    visit = rng.choice(
        np.array(["outpatient", "pharmacy", "inpatient", "emergency", "outpatient_chronic"]),
        n_claims,
        p=[0.55, 0.25, 0.08, 0.07, 0.05],
    )
    stay = np.where(visit == "inpatient", rng.integers(1, 15, n_claims) * 86400, 0)
    discharge = admit + stay.astype("timedelta64[s]")
    total = np.round(rng.gamma(2.0, 150.0, n_claims), 2)
    fund = np.round(total * 0.6, 2)
    account = np.round(total * 0.2, 2)
    cash = np.round(total - fund - account, 2)
    patient_of = patient_ids[rng.integers(0, n_patients, n_claims)].astype(object)
    fault = rng.random(n_claims) < FAULT_RATE
    kind = rng.integers(0, 3, n_claims)
    discharge = np.where(fault & (kind == 0), admit - np.timedelta64(3600, "s"), discharge)
    visit = np.where(fault & (kind == 1), "walk_in", visit)
    patient_of[fault & (kind == 2)] = "NO-SUCH-PATIENT"
    # a claim of a quarantined patient dangles too
    bad_patient_ids = set(patient_ids[bad_gender].tolist())
    dangling_via_patient = np.fromiter((p in bad_patient_ids for p in patient_of), bool, n_claims)
    claim_bad = fault | dangling_via_patient
    planted["claims"] = int(claim_bad.sum())
    _write(
        pa.table(
            {
                "claim_id": claim_ids,
                "patient_id": pa.array(patient_of, pa.string()),
                "provider_id": provider_ids[rng.integers(0, n_providers, n_claims)],
                "doctor_id": pa.nulls(n_claims, pa.string()),
                "visit_type": visit,
                "department": rng.choice(
                    np.array(["internal", "general", "orthopedics"]), n_claims
                ),
                "admit_time": admit,
                "discharge_time": discharge,
                "diagnosis_code": rng.choice(
                    np.array(["I10", "E11.9", "J06.9", "M54.5"]), n_claims
                ),
                "total_amount": total,
                "fund_paid": fund,
                "account_paid": account,
                "cash_paid": cash,
            }
        ),
        root / "claims",
        parts=max(1, n_claims // 1_000_000),
    )

    lines_per_claim = rng.integers(1, 8, n_claims)
    lines_per_claim = np.maximum(1, np.round(lines_per_claim * n_lines / lines_per_claim.sum()))
    lines_per_claim = lines_per_claim.astype(int)
    owner = np.repeat(np.arange(n_claims), lines_per_claim)
    n = owner.size
    starts = np.repeat(np.cumsum(lines_per_claim) - lines_per_claim, lines_per_claim)
    line_no = (np.arange(n) - starts + 1).astype("int64")
    quantity = rng.integers(1, 10, n).astype(float)
    price = np.round(rng.gamma(1.5, 20.0, n), 2)
    amount = np.round(quantity * price, 2)
    item_fault = rng.random(n) < FAULT_RATE
    item_kind = rng.integers(0, 4, n)
    quantity = np.where(item_fault & (item_kind == 0), -quantity, quantity)
    amount = np.where(item_fault & (item_kind == 0), -amount, amount)
    amount = np.where(item_fault & (item_kind == 1), amount + 1.0, amount)
    line_no = np.where(item_fault & (item_kind == 2) & (line_no > 1), line_no - 1, line_no)
    dup = item_fault & (item_kind == 2) & (np.arange(n) != starts)
    claim_of = claim_ids[owner].astype(object)
    claim_of[item_fault & (item_kind == 3)] = "NO-SUCH-CLAIM"
    bad_line = (item_fault & (item_kind != 2)) | dup | claim_bad[owner]
    planted["claim_items"] = int(bad_line.sum())
    categories = np.array(["western_drug", "lab", "exam", "treatment", "material", "patent_drug"])
    _write(
        pa.table(
            {
                "claim_id": pa.array(claim_of, pa.string()),
                "line_no": line_no,
                "item_code": np.char.add(
                    "X", np.char.zfill(rng.integers(0, 5000, n).astype(str), 5)
                ),
                "item_category": categories[rng.integers(0, categories.size, n)],
                "quantity": quantity,
                "unit_price": price,
                "amount": amount,
                "item_time": admit[owner],
                "trace_code": pa.nulls(n, pa.string()),
            }
        ),
        root / "claim_items",
        parts=max(1, n // 2_500_000),
    )
    return planted
