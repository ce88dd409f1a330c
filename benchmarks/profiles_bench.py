"""Profiles at scale: fraudml's three profiles, against hand-written SQL and pandas.

The subset is 21 patient features that are plain aggregates (use, money, drugs); the SQL
and pandas versions are what an engineer would write by hand for exactly those. All
three read the same validated tables, and the run checks they agree.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

SUBSET = [
    "n_claims",
    "n_outpatient",
    "n_emergency",
    "n_outpatient_chronic",
    "n_pharmacy",
    "n_inpatient",
    "n_providers",
    "n_doctors",
    "n_days",
    "n_regions",
    "night_share",
    "weekend_share",
    "total_amount",
    "fund_paid",
    "account_paid",
    "cash_paid",
    "fund_share",
    "account_share",
    "drug_amount",
    "expensive_drug_share",
    "drug_providers",
]

SQL = """
WITH c AS (
    SELECT c.claim_id, c.patient_id, c.provider_id, c.doctor_id, c.visit_type, c.admit_time,
           c.total_amount, c.fund_paid, c.account_paid, c.cash_paid,
           v.region AS provider_region, hour(c.admit_time) AS h, isodow(c.admit_time) AS dow
    FROM claims c
    JOIN patients p USING (patient_id)
    JOIN providers v USING (provider_id)
),
base AS (
    SELECT patient_id,
           count(*) AS n_claims,
           count(*) FILTER (WHERE visit_type = 'outpatient') AS n_outpatient,
           count(*) FILTER (WHERE visit_type = 'emergency') AS n_emergency,
           count(*) FILTER (WHERE visit_type = 'outpatient_chronic') AS n_outpatient_chronic,
           count(*) FILTER (WHERE visit_type = 'pharmacy') AS n_pharmacy,
           count(*) FILTER (WHERE visit_type = 'inpatient') AS n_inpatient,
           count(DISTINCT provider_id) AS n_providers,
           count(DISTINCT doctor_id) AS n_doctors,
           count(DISTINCT CAST(admit_time AS DATE)) AS n_days,
           count(DISTINCT provider_region) AS n_regions,
           avg(CASE WHEN h >= 21 OR h < 7 THEN 1.0 ELSE 0.0 END) AS night_share,
           avg(CASE WHEN dow >= 6 THEN 1.0 ELSE 0.0 END) AS weekend_share,
           sum(total_amount) AS total_amount,
           sum(fund_paid) AS fund_paid,
           sum(account_paid) AS account_paid,
           sum(cash_paid) AS cash_paid
    FROM c GROUP BY patient_id
),
drugs AS (
    SELECT c.patient_id,
           sum(i.amount) AS drug_amount,
           sum(i.amount) FILTER (WHERE i.unit_price >= 500) AS expensive,
           count(DISTINCT c.provider_id) AS drug_providers
    FROM claim_items i JOIN c USING (claim_id)
    WHERE i.item_category IN ('western_drug', 'patent_drug', 'herbal')
    GROUP BY c.patient_id
)
SELECT base.*,
       coalesce(fund_paid / nullif(total_amount, 0), 0) AS fund_share,
       coalesce(account_paid / nullif(total_amount, 0), 0) AS account_share,
       coalesce(drug_amount, 0) AS drug_amount,
       coalesce(coalesce(expensive, 0) / nullif(drug_amount, 0), 0) AS expensive_drug_share,
       coalesce(drug_providers, 0) AS drug_providers
FROM base LEFT JOIN drugs USING (patient_id)
"""


def run_fraudml(root: Path, work: Path) -> dict:
    from fraudml import load_dataset
    from fraudml.entities import ENTITIES
    from fraudml.features import FEATURES, Window, build_profiles, materialise

    started = time.perf_counter()
    ds = load_dataset(root, database=work / "validated.duckdb")
    validated = time.perf_counter()
    tables = materialise(ds, build_profiles(ds, Window()))
    profiled = time.perf_counter()
    patient = tables["patient"]
    patient.select("patient_id", *SUBSET).to_parquet(work / "fraudml.parquet")
    # feature columns: everything but entity keys and peer-group context
    columns = sum(len(t.columns) - 1 - len(ENTITIES[e].context) for e, t in tables.items())
    ds.close()
    return {
        "validate_s": validated - started,
        "profiles_s": profiled - validated,
        "features": len(FEATURES),
        "feature_columns": columns,
    }


def run_kept(root: Path, work: Path) -> dict:
    """Validate once, then profile as a later command does: reopen the kept validation
    (read-only, no second validation) and build every profile."""
    from fraudml import load_dataset
    from fraudml.features import Window, build_profiles, materialise

    cache = work / "kept"
    started = time.perf_counter()
    load_dataset(root, cache=cache).close()
    validated = time.perf_counter()
    ds = load_dataset(root, cache=cache)
    reopened = time.perf_counter()
    materialise(ds, build_profiles(ds, Window()))
    profiled = time.perf_counter()
    ds.close()
    return {
        "validate_s": validated - started,
        "reopen_s": reopened - validated,
        "profiles_s": profiled - reopened,
    }


def run_sql(work: Path) -> dict:
    con = duckdb.connect(str(work / "validated.duckdb"), read_only=True)
    started = time.perf_counter()
    result = con.execute(SQL).df()
    seconds = time.perf_counter() - started
    result.to_parquet(work / "sql.parquet")
    return {"seconds": seconds}


def run_pandas(root: Path, work: Path) -> dict:
    started = time.perf_counter()
    claims = pd.read_parquet(
        root / "claims" if (root / "claims").is_dir() else root / "claims.parquet"
    )
    patients = pd.read_parquet(root / "patients.parquet", columns=["patient_id"])
    providers = pd.read_parquet(root / "providers.parquet", columns=["provider_id", "region"])
    c = claims.merge(patients, on="patient_id").merge(
        providers.rename(columns={"region": "provider_region"}), on="provider_id"
    )
    h = c.admit_time.dt.hour
    c["night"] = ((h >= 21) | (h < 7)).astype(float)
    c["weekend"] = (c.admit_time.dt.dayofweek >= 5).astype(float)
    c["day"] = c.admit_time.dt.normalize()
    g = c.groupby("patient_id")
    base = g.agg(
        n_claims=("claim_id", "size"),
        n_providers=("provider_id", "nunique"),
        n_doctors=("doctor_id", "nunique"),
        n_days=("day", "nunique"),
        n_regions=("provider_region", "nunique"),
        night_share=("night", "mean"),
        weekend_share=("weekend", "mean"),
        total_amount=("total_amount", "sum"),
        fund_paid=("fund_paid", "sum"),
        account_paid=("account_paid", "sum"),
        cash_paid=("cash_paid", "sum"),
    )
    counts = pd.crosstab(c.patient_id, c.visit_type)
    for vt in ("outpatient", "emergency", "outpatient_chronic", "pharmacy", "inpatient"):
        base[f"n_{vt}"] = counts.get(vt, 0)
    base["fund_share"] = (base.fund_paid / base.total_amount.replace(0, np.nan)).fillna(0)
    base["account_share"] = (base.account_paid / base.total_amount.replace(0, np.nan)).fillna(0)
    items = pd.read_parquet(
        root / "claim_items" if (root / "claim_items").is_dir() else root / "claim_items.parquet",
        columns=["claim_id", "item_category", "unit_price", "amount"],
    )
    drugs = items[items.item_category.isin(["western_drug", "patent_drug", "herbal"])]
    drugs = drugs.merge(c[["claim_id", "patient_id", "provider_id"]], on="claim_id")
    drugs["expensive"] = drugs.amount.where(drugs.unit_price >= 500, 0.0)
    d = drugs.groupby("patient_id").agg(
        drug_amount=("amount", "sum"),
        expensive=("expensive", "sum"),
        drug_providers=("provider_id", "nunique"),
    )
    base = base.join(d, how="left")
    base["drug_amount"] = base.drug_amount.fillna(0)
    base["expensive_drug_share"] = (
        base.expensive.fillna(0) / base.drug_amount.replace(0, np.nan)
    ).fillna(0)
    base["drug_providers"] = base.drug_providers.fillna(0)
    seconds = time.perf_counter() - started
    base.reset_index()[["patient_id", *SUBSET]].to_parquet(work / "pandas.parquet")
    return {"seconds": seconds}


def compare(work: Path) -> None:
    """Raise unless the three subsets agree row for row."""
    frames = {
        name: pd.read_parquet(work / f"{name}.parquet")
        .sort_values("patient_id")
        .reset_index(drop=True)
        for name in ("fraudml", "sql", "pandas")
    }
    ref = frames["fraudml"]
    for name in ("sql", "pandas"):
        other = frames[name]
        if not ref.patient_id.equals(other.patient_id):
            raise SystemExit(f"{name}: different patients from fraudml")
        for col in SUBSET:
            a = ref[col].to_numpy(float)
            b = other[col].to_numpy(float)
            if not np.allclose(a, b, rtol=1e-9, atol=1e-6):
                raise SystemExit(f"{name}: column {col} differs from fraudml")
