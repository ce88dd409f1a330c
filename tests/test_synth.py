"""The synthetic city: valid by the project's own rules, each scheme leaves its signature."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraudml import load_dataset
from fraudml.synth import SCHEMES, SchemeConfig, SimulationConfig, simulate, write_dataset
from fraudml.synth.national import NATIONAL_SCHEMES

CONFIG = SimulationConfig(
    seed=11,
    n_patients=3000,
    start="2024-01-01",
    end="2024-10-01",
    schemes={name: SchemeConfig(prevalence=0.05, subtlety=0.2) for name in SCHEMES},
)


@pytest.fixture(scope="module")
def city() -> dict[str, pd.DataFrame]:
    return simulate(CONFIG)


@pytest.fixture(scope="module")
def written(city, tmp_path_factory) -> Path:
    return write_dataset(city, tmp_path_factory.mktemp("city") / "ds")


def labelled(city, entity_type: str, scheme: str) -> set[str]:
    lab = city["labels"]
    sel = (lab.entity_type == entity_type) & (lab.scheme == scheme) & (lab.label == 1)
    return set(lab.loc[sel, "entity_id"])


def claims_of(city, scheme: str) -> pd.DataFrame:
    ids = labelled(city, "claim", scheme)
    assert ids, f"{scheme} planted no claims"
    return city["claims"][city["claims"].claim_id.isin(ids)]


def test_passes_validation_with_nothing_quarantined(written):
    with load_dataset(written, memory_limit="1GB") as ds:
        assert ds.reconciliation.quarantined == 0
        assert ds.warnings == []
        assert {t.table for t in ds.reconciliation.tables} == {
            "patients",
            "providers",
            "doctors",
            "catalog",
            "claims",
            "claim_items",
            "chronic_registrations",
            "labels",
        }


def test_same_seed_same_files(city, written, tmp_path):
    again = write_dataset(simulate(CONFIG), tmp_path / "again")

    def digest(root: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("*.parquet")}

    assert digest(again) == digest(written)
    other = simulate(SimulationConfig(**{**CONFIG.__dict__, "seed": 12}))
    assert not other["claims"]["total_amount"].equals(city["claims"]["total_amount"])


def test_every_scheme_is_planted_and_labelled_late(city):
    lab = city["labels"]
    fraud = lab[lab.label == 1]
    # the schemes, and the cases of the national rules planted with them
    assert set(fraud.scheme) == set(SCHEMES) | set(NATIONAL_SCHEMES)
    # audits come after the fraud began: no label before the scheme's default start
    start = (
        pd.Timestamp("2024-01-01") + (pd.Timestamp("2024-10-01") - pd.Timestamp("2024-01-01")) / 4
    )
    assert (pd.to_datetime(fraud.decided_at) >= start.normalize() + pd.Timedelta(days=59)).all()
    clean = lab[lab.label == 0]
    assert set(clean.entity_type) == {"provider", "patient"}
    assert not set(clean.entity_id) & set(fraud.entity_id)


def test_legitimate_claims_respect_the_catalog(city):
    items = city["claim_items"].merge(city["claims"], on="claim_id")
    lab = city["labels"]
    fraud = set(lab.entity_id[(lab.entity_type == "claim") & (lab.label == 1)])
    legit = items[~items.claim_id.isin(fraud)]
    cat = city["catalog"].set_index("item_code")
    pats = city["patients"].set_index("patient_id")
    g = cat.loc[legit.item_code, "gender"].fillna("").to_numpy()
    pg = pats.loc[legit.patient_id, "gender"].to_numpy()
    assert not ((g != "") & (g != pg)).any()
    inpatient_only = cat.loc[legit.item_code, "inpatient_only"].to_numpy(bool)
    assert not (inpatient_only & (legit.visit_type != "inpatient").to_numpy()).any()
    assert (legit.unit_price.to_numpy() <= cat.loc[legit.item_code, "price_cap"].to_numpy()).all()


def test_split_admissions_readmit_within_15_days_same_hospital_same_diagnosis(city):
    stays = claims_of(city, "split_admission")
    pairs = stays.merge(
        stays, on=["patient_id", "provider_id", "diagnosis_code"], suffixes=("", "_next")
    )
    gap = (pairs.admit_time_next - pairs.discharge_time).dt.total_seconds() / 86400
    readmitted = pairs[(gap > 0) & (gap <= 15)]
    # every split stay is one half of a pair readmitted within 15 days
    halves = set(readmitted.claim_id) | set(readmitted.claim_id_next)
    assert halves == set(stays.claim_id)


def test_gang_swiping_groups_visit_together(city):
    c = claims_of(city, "gang_swiping")
    c = c.assign(slot=c.admit_time.dt.floor("D"))
    per_outing = c.groupby(["provider_id", "slot"]).agg(
        n=("patient_id", "nunique"), span=("admit_time", lambda t: t.max() - t.min())
    )
    assert (per_outing.n >= 6).all()
    assert (per_outing.span <= pd.Timedelta(minutes=30)).all()


def test_phantom_billing_after_hours_and_far_from_home(city):
    c = claims_of(city, "phantom_billing").merge(city["patients"], on="patient_id")
    prov = city["providers"].set_index("provider_id")
    far = c.region != prov.loc[c.provider_id, "region"].to_numpy()
    assert far.all()
    hour = c.admit_time.dt.hour
    legit = city["claims"][city["claims"].visit_type == "pharmacy"]
    assert ((hour >= 21) | (hour < 8)).mean() > 3 * (legit.admit_time.dt.hour >= 21).mean()


def test_account_cashing_drains_the_personal_account(city):
    c = claims_of(city, "account_cashing")
    assert (c.visit_type == "pharmacy").all()
    assert np.allclose(c.account_paid, c.total_amount)
    per_month = c.groupby(["patient_id", c.admit_time.dt.month]).size()
    assert per_month.median() >= 3


def test_drug_reselling_sells_trace_codes_twice(city):
    items = city["claim_items"].dropna(subset=["trace_code"])
    counts = items.trace_code.value_counts()
    twice = counts[counts > 1].index
    assert len(twice) > 0
    resold = items[items.trace_code.isin(twice)].merge(city["claims"], on="claim_id")
    resellers = labelled(city, "provider", "drug_reselling")
    last = resold.sort_values("item_time").groupby("trace_code").tail(1)
    assert last.provider_id.isin(resellers).all()
    # outside the scheme every pack is sold once
    assert labelled(city, "claim", "drug_reselling") >= set(resold.claim_id)


def test_fake_admissions_have_claims_elsewhere_during_the_stay(city):
    stays = claims_of(city, "fake_admission")
    others = city["claims"].merge(
        stays[["patient_id", "admit_time", "discharge_time"]],
        on="patient_id",
        suffixes=("", "_stay"),
    )
    during = others[
        (others.visit_type == "pharmacy")
        & (others.admit_time > others.admit_time_stay)
        & (others.admit_time < others.discharge_time_stay)
    ]
    assert during.patient_id.nunique() >= 1


def test_over_treatment_doctors_order_more_tests_than_peers(city):
    items = city["claim_items"].merge(city["claims"], on="claim_id")
    out = items[items.visit_type == "outpatient"]
    tests = (
        out.assign(t=out.item_category.isin(["lab", "exam"]))
        .groupby(["doctor_id", "claim_id"])
        .t.sum()
        .groupby("doctor_id")
        .mean()
    )
    flagged = labelled(city, "doctor", "over_treatment")
    assert flagged
    assert tests[tests.index.isin(flagged)].min() > 2 * tests[~tests.index.isin(flagged)].median()


def test_item_substitution_bills_another_category_at_the_cap(city):
    c = claims_of(city, "item_substitution")
    items = city["claim_items"][city["claim_items"].claim_id.isin(c.claim_id)]
    cat = city["catalog"].set_index("item_code")
    swapped = items[
        items.item_category.to_numpy() != cat.loc[items.item_code, "item_category"].to_numpy()
    ]
    assert set(swapped.claim_id) == set(c.claim_id)
    assert np.allclose(swapped.unit_price, cat.loc[swapped.item_code, "price_cap"])


def test_catalog_breaches_break_a_restriction(city):
    c = claims_of(city, "catalog_breach").merge(city["patients"], on="patient_id")
    items = city["claim_items"].merge(c, on="claim_id")
    cat = city["catalog"].set_index("item_code")
    r = cat.loc[items.item_code]
    age = (items.admit_time - pd.to_datetime(items.birth_date)).dt.days // 365
    level = city["providers"].set_index("provider_id").loc[items.provider_id, "level"].fillna(0)
    breach = (
        (
            (r.gender.fillna("").to_numpy() != "")
            & (r.gender.fillna("").to_numpy() != items.gender.to_numpy())
        )
        | (age.to_numpy() > r.max_age.fillna(999).to_numpy())
        | (r.inpatient_only.to_numpy(bool) & (items.visit_type != "inpatient").to_numpy())
        | (level.to_numpy() < r.min_provider_level.fillna(0).to_numpy())
        | (items.unit_price.to_numpy() > r.price_cap.to_numpy())
        | (items.quantity.to_numpy() > r.max_daily_quantity.fillna(1e9).to_numpy())
    )
    assert set(items.claim_id[breach]) == set(c.claim_id)


def test_card_lending_two_regions_within_an_hour(city):
    c = claims_of(city, "card_lending")
    prov = city["providers"].set_index("provider_id")
    allc = city["claims"].assign(
        region_other=prov.loc[city["claims"].provider_id, "region"].to_numpy()
    )
    pairs = c.merge(allc, on="patient_id", suffixes=("", "_other"))
    pairs = pairs[pairs.claim_id != pairs.claim_id_other]
    near = (pairs.admit_time - pairs.admit_time_other).abs() <= pd.Timedelta(hours=1)
    apart = prov.loc[pairs.provider_id, "region"].to_numpy() != pairs.region_other.to_numpy()
    assert set(pairs.claim_id[near & apart]) == set(c.claim_id)


def test_duplicate_billing_same_item_twice_on_a_claim(city):
    c = claims_of(city, "duplicate_billing")
    items = city["claim_items"][city["claim_items"].claim_id.isin(c.claim_id)]
    dup = items[items.duplicated(["claim_id", "item_code", "item_time"], keep=False)]
    assert set(dup.claim_id) == set(c.claim_id)


def test_fake_chronic_claims_have_no_registration(city):
    c = claims_of(city, "fake_chronic")
    assert (c.visit_type == "outpatient_chronic").all()
    reg = set(city["chronic_registrations"].patient_id)
    assert not set(c.patient_id) & reg
    lab = city["labels"]
    fraud = set(lab.entity_id[(lab.entity_type == "claim") & (lab.label == 1)])
    legit = city["claims"][
        (city["claims"].visit_type == "outpatient_chronic")
        & ~city["claims"].claim_id.isin(fraud)
        & (city["claims"].department != "oncology")
    ]
    assert legit.patient_id.isin(reg).all()


def test_false_positive_traps_are_present_and_unlabelled(city):
    claims = city["claims"]
    fraud = set(city["labels"].query("label == 1").entity_id)
    dialysis = claims[
        (claims.department == "hemodialysis") & (claims.visit_type == "outpatient_chronic")
    ]
    per_patient_week = dialysis.groupby("patient_id").size() / (273 / 7)
    assert len(per_patient_week) > 0 and (per_patient_week > 2.5).all()
    assert not set(dialysis.claim_id) & fraud
    chemo = claims[(claims.department == "oncology") & (claims.visit_type == "inpatient")]
    assert len(chemo) > 0 and not set(chemo.claim_id) & fraud


def test_legitimate_care_bills_an_item_once_per_claim_and_day(city):
    """Duplicate billing and daily limits are the schemes' signatures, not ordinary care's."""
    items = city["claim_items"]
    fraud = set(city["labels"].query("entity_type == 'claim' and label == 1").entity_id)
    legit = items[~items.claim_id.isin(fraud)]
    legit = legit.assign(day=pd.to_datetime(legit.item_time).dt.date)
    lines = legit[legit.trace_code.isna()]  # drug packs are one line each
    assert not lines.duplicated(["claim_id", "item_code", "day"]).any()
    packs = legit[legit.trace_code.notna()].groupby(["claim_id", "item_code", "day"]).size()
    cap = city["catalog"].set_index("item_code").max_daily_quantity
    limit = cap.reindex(packs.index.get_level_values("item_code")).fillna(float("inf"))
    assert (packs.to_numpy() <= limit.to_numpy()).all()


def test_the_national_columns_are_filled_and_legitimate_care_keeps_to_them(city):
    """Deaths come after a person's legitimate care, practitioners work in the departments
    they are registered for and not while suspended; only the planted cases break these."""
    lab = city["labels"]
    fraud = set(lab.entity_id[(lab.entity_type == "claim") & (lab.label == 1)])
    claims = city["claims"]
    legit = claims[~claims.claim_id.isin(fraud)]
    died = city["patients"].set_index("patient_id").death_date.dropna()
    assert len(died) >= 5
    after = legit.merge(died.rename("died"), left_on="patient_id", right_index=True)
    assert (after.admit_time.dt.date <= after.died).all()
    docs = city["doctors"].set_index("doctor_id")
    assert docs.registered_departments.notna().all()
    seen = legit.dropna(subset=["doctor_id", "department"])
    registered = docs.registered_departments.reindex(seen.doctor_id).str.split(";").to_numpy()
    assert all(d in r for d, r in zip(seen.department, registered, strict=True))
    suspended = docs.dropna(subset=["suspended_from"])
    assert len(suspended) >= 2
    during = seen.merge(suspended, left_on="doctor_id", right_index=True)
    day = during.admit_time.dt.date
    assert not ((day >= during.suspended_from) & (day <= during.suspended_to)).any()
    # the catalog facts of the national rules, with a part of a package and a sibling code
    cat = city["catalog"].set_index("item_code")
    assert cat.loc["LB014", "bundle_of"] == "LB003"
    assert cat.loc["LB018", "sibling_group"] == cat.loc["LB001", "sibling_group"]
    assert cat.indications.notna().sum() >= 5 and cat.days_per_unit.notna().sum() >= 3
    # every national case is planted, as claims of its own scheme
    planted = set(lab.scheme[(lab.entity_type == "claim") & (lab.label == 1)])
    assert set(NATIONAL_SCHEMES) <= planted


def test_coherent_care_operates_with_anaesthesia_and_icu_stays_with_one_bed(city):
    lab = city["labels"]
    fraud = set(lab.entity_id[(lab.entity_type == "claim") & (lab.label == 1)])
    items = city["claim_items"][~city["claim_items"].claim_id.isin(fraud)]
    codes = items.groupby("claim_id").item_code.agg(set)
    major = {"SG001", "SG002", "SG003", "SG004", "SG006"}
    with_major = codes[codes.map(lambda c: bool(c & major))]
    assert len(with_major) > 0 and with_major.map(lambda c: "TR010" in c).all()
    surgery = set(items.claim_id[items.item_category == "surgery"])
    anaesthetised = set(items.claim_id[items.item_code == "TR010"])
    assert anaesthetised <= surgery
    icu = codes[codes.map(lambda c: "BD002" in c)]
    assert not icu.map(lambda c: "BD001" in c).any()
