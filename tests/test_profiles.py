"""Profiles: exact values on hand-built datasets, as-of windows, peers, the registry."""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd
import pytest

from fraudml import load_dataset
from fraudml.entities import ENTITIES
from fraudml.features import FEATURES, Window, build_profiles
from fraudml.features.peers import with_peers
from tests.builders import catalog_item, claim, line


def profiles(root, window: Window | None = None):
    ds = load_dataset(root, memory_limit="1GB", threads=1)
    built = build_profiles(ds, window or Window())
    frames = {e: t.to_pandas().set_index(ENTITIES[e].key) for e, t in built.tables.items()}
    ds.close()
    return frames, built.dropped


@pytest.fixture
def visits(make_dataset):
    """Patient 001: four claims over a weekend, two regions, one night; patient 002: one."""

    def edit(t):
        t["claims"] += [
            # same day as C1 (09:30 at H1, region 110101): D1 is in region 110102
            claim(
                "C3",
                "001",
                "D1",
                "pharmacy",
                "2024-03-01 10:10:00",
                total="200",
                fund="0",
                account="200",
                cash="0",
            ),
            claim(
                "C4",
                "001",
                "D1",
                "pharmacy",
                "2024-03-01 22:30:00",
                total="10",
                fund="0",
                account="0",
                cash="10",
            ),
            claim(
                "C5",
                "001",
                "H1",
                "emergency",
                "2024-03-02 03:00:00",
                total="300",
                fund="150",
                account="90",
                cash="60",
            ),  # a Saturday, at night
        ]
        t["claim_items"] += [
            line("C3", 1, "XA01", "western_drug", 1, 600, trace="T-1"),
            line("C4", 1, "XA01", "western_drug", 1, 10, trace="T-1"),  # the same pack again
        ]

    return make_dataset(edit)


def test_patient_use_and_money(visits):
    p = profiles(visits)[0]["patient"].loc["001"]
    assert p.n_claims == 4
    assert (p.n_outpatient, p.n_pharmacy, p.n_emergency, p.n_inpatient) == (1, 2, 1, 0)
    assert p.n_providers == 2 and p.n_days == 2 and p.n_regions == 2
    assert p.days_multi_provider == 1  # 2024-03-01 at H1 and D1
    assert p.region_switch_1h == 1  # H1 09:30 → D1 10:10, another region within the hour
    assert p.night_share == pytest.approx(2 / 4)  # 22:30 and 03:00
    assert p.weekend_share == pytest.approx(1 / 4)
    assert p.max_claims_7d == 4 and p.max_claims_30d == 4
    assert p.total_amount == pytest.approx(120.5 + 200 + 10 + 300)
    assert p.account_paid == pytest.approx(30 + 200 + 0 + 90)
    assert p.fund_share == pytest.approx((80 + 0 + 0 + 150) / 630.5)
    assert p.age_band == "60-79" and p.gender == "M" and p.insurance_type == "employee"


def test_patient_drugs_and_trace_codes(visits):
    p = profiles(visits)[0]["patient"].loc["001"]
    # C1's line XA01 2 x 30.25 (trace 8100…01), C3 600, C4 10: 60.5 + 600 + 10
    assert p.drug_amount == pytest.approx(670.5)
    assert p.expensive_drug_share == pytest.approx(600 / 670.5)
    assert p.drug_providers == 2
    assert p.repeated_trace_lines == 1  # C4 sells T-1 a second time


def test_provider_ratios_and_repeats(visits):
    v = profiles(visits)[0]["provider"]
    h1 = v.loc["H1"]
    # H1 fee lines: C1 drug 60.5 + lab 60 (C5 has none)
    assert h1.drug_share == pytest.approx(60.5 / 120.5)
    assert h1.exam_lab_share == pytest.approx(60 / 120.5)
    assert h1.n_claims == 2 and h1.n_patients == 1
    assert h1.cost_per_outpatient == pytest.approx((120.5 + 300) / 2)
    d1 = v.loc["D1"]
    assert d1.repeated_trace_lines == 1
    assert d1.round_amount_share == pytest.approx(2 / 3)  # 200, 10 (and 45 is not)
    assert d1.out_of_region_share == pytest.approx(2 / 3)  # 001 lives in 110101


def test_inpatient_family(make_dataset):
    def edit(t):
        t["claims"] += [
            claim(
                "S1",
                "002",
                "H1",
                "inpatient",
                "2024-04-01 09:00:00",
                "2024-04-06 10:00:00",
                diagnosis="I63.9",
            ),
            # readmitted 9 days after discharge, same hospital
            claim(
                "S2",
                "002",
                "H1",
                "inpatient",
                "2024-04-15 09:00:00",
                "2024-04-20 10:00:00",
                diagnosis="I63.9",
            ),
            # a second stay overlapping S2 elsewhere
            claim("S3", "002", "D1", "inpatient", "2024-04-18 09:00:00", "2024-04-19 10:00:00"),
            # a pharmacy purchase during S1
            claim("P1", "002", "D1", "pharmacy", "2024-04-03 15:00:00"),
        ]
        t["claim_items"] += [
            line("S1", 1, "BD01", "bed", 5, 50, when="2024-04-01 12:00:00"),
            line("S1", 2, "LB01", "lab", 1, 60, when="2024-04-09 08:00:00"),  # after discharge
        ]

    frames = profiles(make_dataset(edit))[0]
    p = frames["patient"].loc["002"]
    assert p.n_inpatient == 3
    assert p.readmit_15d == 1
    assert p.overlapping_stays == 2  # S2 and S3 overlap each other
    assert p.claims_during_stay == 1
    assert p.fees_outside_stay == 1
    assert p.mean_los == pytest.approx((5 + 5 + 1) / 3)
    h1 = frames["provider"].loc["H1"]
    assert h1.readmit_rate == pytest.approx(1 / 2)
    assert h1.p90_los == pytest.approx(5)


def test_chronic_claims_need_a_matching_registration(make_dataset):
    def edit(t):
        t["claims"] += [
            claim(
                "K1", "001", "H1", "outpatient_chronic", "2024-05-01 09:00:00", diagnosis="E11.9"
            ),
            claim("K2", "001", "H1", "outpatient_chronic", "2024-05-02 09:00:00", diagnosis="I10"),
            claim("K3", "002", "H1", "outpatient_chronic", "2024-05-03 09:00:00", diagnosis="I10"),
        ]
        t["chronic_registrations"] = [
            {
                "patient_id": "001",
                "disease_code": "I10",
                "valid_from": "2020-01-01",
                "valid_to": "",
            },
            {
                "patient_id": "002",
                "disease_code": "I10",
                "valid_from": "2020-01-01",
                "valid_to": "2023-12-31",
            },  # expired
        ]

    p = profiles(make_dataset(edit))[0]["patient"]
    assert p.loc["001", "chronic_unregistered"] == 1  # E11.9 has no registration
    assert p.loc["002", "chronic_unregistered"] == 1  # registration expired


def test_restricted_items_against_the_catalog(make_dataset):
    def edit(t):
        t["catalog"] = [
            {
                "item_code": "XA01",
                "name": "",
                "item_category": "western_drug",
                "price_cap": "30",
                "gender": "F",
                "min_age": "",
                "max_age": "",
                "max_daily_quantity": "",
                "inpatient_only": "",
                "min_provider_level": "",
            },
            {
                "item_code": "LB01",
                "name": "",
                "item_category": "lab",
                "price_cap": "",
                "gender": "",
                "min_age": "",
                "max_age": "",
                "max_daily_quantity": "",
                "inpatient_only": "",
                "min_provider_level": "",
            },
        ]

    frames = profiles(make_dataset(edit))[0]
    # 001 is a man: XA01 is for women and 30.25 > 30; 002 (a woman) pays 30: within the cap
    assert frames["patient"].loc["001", "restricted_item_hits"] == 1
    assert frames["patient"].loc["002", "restricted_item_hits"] == 0
    assert frames["provider"].loc["H1", "over_cap_lines"] == 1


def test_daily_quantity_limit_adds_up_across_claims_and_counts_a_line_once(make_dataset):
    def edit(t):
        t["catalog"] = [
            {
                "item_code": code,
                "name": "",
                "item_category": category,
                "price_cap": "30" if code == "XA01" else "",
                "gender": "F" if code == "XA01" else "",
                "min_age": "",
                "max_age": "",
                "max_daily_quantity": "3" if code == "XA01" else "",
                "inpatient_only": "",
                "min_provider_level": "",
            }
            for code, category in (("XA01", "western_drug"), ("LB01", "lab"))
        ]
        t["claims"] += [
            # 002 (a woman) on 03-02: 1.5 at D1 (C2) + 2 at H1 = 3.5 > 3: both lines over
            claim("C5", "002", "H1", "outpatient", "2024-03-02 18:00:00"),
            # 002 on 03-03: exactly 3 is within the limit
            claim("C8", "002", "D1", "pharmacy", "2024-03-03 10:00:00"),
            # 001 (a man) on 03-01: 2 (C1) + 2 = 4 > 3, but both lines already breach by
            # gender: each counts once
            claim("C7", "001", "H1", "outpatient", "2024-03-01 16:00:00"),
        ]
        t["claim_items"] += [
            line("C5", 1, "XA01", "western_drug", 2, 30),
            line("C8", 1, "XA01", "western_drug", 3, 30),
            line("C7", 1, "XA01", "western_drug", 2, 30),
        ]

    frames = profiles(make_dataset(edit))[0]
    assert frames["patient"].loc["002", "restricted_item_hits"] == 2
    assert frames["patient"].loc["001", "restricted_item_hits"] == 2
    assert frames["provider"].loc["D1", "restricted_item_hits"] == 1
    assert frames["provider"].loc["H1", "restricted_item_hits"] == 3


def test_covisits_count_pairs_seen_together_on_two_days(make_dataset):
    def edit(t):
        t["patients"].append(dict(t["patients"][0], patient_id="003"))
        for day in ("2024-06-03", "2024-06-10"):
            for pid, minute in (("001", "05"), ("002", "12"), ("003", "20")):
                t["claims"].append(
                    claim(f"G{day}{pid}", pid, "H1", "outpatient", f"{day} 09:{minute}:00")
                )

    v = profiles(make_dataset(edit))[0]["provider"]
    assert v.loc["H1", "covisit_pairs"] == 3  # 001-002, 001-003, 002-003


def test_claims_after_the_window_change_nothing(visits, tmp_path):
    window = Window(datetime(2024, 1, 1), datetime(2024, 3, 2))
    before = profiles(visits, window)[0]
    extra = pd.read_csv(visits / "claims.csv", dtype=str)
    later = [
        claim(f"L{i}", "001", "D1", "pharmacy", f"2024-03-0{2 + i} 10:00:00") for i in range(3)
    ]
    pd.concat([extra, pd.DataFrame(later)]).to_csv(visits / "claims.csv", index=False)
    items = pd.read_csv(visits / "claim_items.csv", dtype=str)
    more = [line("L0", 1, "XA01", "western_drug", 1, 600, trace="81000000000000000001")]
    pd.concat([items, pd.DataFrame(more)]).to_csv(visits / "claim_items.csv", index=False)
    after = profiles(visits, window)[0]
    for entity in before:
        pd.testing.assert_frame_equal(before[entity], after[entity])
    # and the window excludes C5 (2024-03-02 03:00)
    assert before["patient"].loc["001", "n_claims"] == 3


def test_peer_normalisation_on_a_known_group():
    t = ibis.memtable(
        {"id": ["a", "b", "c", "d"], "g": ["x", "x", "x", "y"], "v": [1.0, 2.0, 10.0, 5.0]}
    )
    out = with_peers(t, ["g"], ["v"]).to_pandas().set_index("id")
    # group x: median 2; MAD 1 → 1.4826; mean absolute deviation 3 → 3.7599: the larger
    assert out.loc["c", "v__peer_median"] == 2
    assert out.loc["c", "v__peer_z"] == pytest.approx(8 / (3 * 1.2533))
    assert out.loc["a", "v__peer_z"] == pytest.approx(-1 / (3 * 1.2533))
    assert out.loc["b", "v__peer_z"] == 0
    assert out.loc["d", "v__peer_z"] == 0  # alone in its group


def test_peer_statistics_in_batches_equal_the_single_expression(monkeypatch):
    from fraudml.features.peers import peer_keys, peer_statistics, with_peer_statistics

    con = ibis.duckdb.connect()
    frame = pd.DataFrame(
        {
            "id": list("abcdefg"),
            "g": ["x", "x", "x", "y", "y", None, None],
            "v": [1.0, 2.0, 10.0, 5.0, 7.0, 3.0, None],
            "w": [0.0, 0.0, 4.0, 1.0, 1.0, 2.0, 8.0],
            "u": [3.0, 1.0, 2.0, 0.5, 0.25, 9.0, 9.0],
        }
    )
    table = con.create_table("profile", frame)
    columns = ["v", "w", "u"]
    whole = with_peers(table, ["g"], columns).to_pandas().set_index("id").sort_index()
    keyed, gcols = peer_keys(table, ["g"])
    keyed = con.create_table("keyed", keyed)
    made: list[str] = []
    create = con.create_table

    def recorded(name, *args, **kwargs):
        made.append(name)
        return create(name, *args, **kwargs)

    monkeypatch.setattr(con, "create_table", recorded)
    # 7 rows and at most 14 values a statement: two columns a batch, so two batches
    stats = peer_statistics(con, keyed, gcols, columns, "stats", values_per_statement=14)
    assert made == ["stats_m0", "stats_d0", "stats_m2", "stats_d2", "stats"]
    left = {r[0] for r in con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert left == {"profile", "keyed", "stats"}  # the batches' tables are dropped
    staged = with_peer_statistics(keyed, stats, gcols, columns)
    staged = staged.to_pandas().set_index("id").sort_index()
    pd.testing.assert_frame_equal(whole[staged.columns], staged, check_exact=True)
    # the null group is a group of its own: f's v is its group's median (g's v is null)
    assert staged.loc["f", "v__peer_median"] == 3.0
    assert staged.loc["e", "w__peer_median"] == 1.0


def test_materialised_profiles_are_the_expressions_and_their_scratch_is_dropped(visits):
    from fraudml.features import materialise

    def scratch(ds):
        rows = ds.con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall()
        return {r[0] for r in rows if r[0].startswith(("_profile_", "_peers_"))}

    lazy = profiles(visits)[0]
    ds = load_dataset(visits, memory_limit="1GB", threads=1)
    built = build_profiles(ds, Window())
    named = {n for names in built.scratch.values() for n in names}
    assert named and named <= scratch(ds)
    tables = materialise(ds, built)
    assert scratch(ds) == set()  # every profile's temporary tables are gone
    for entity, table in tables.items():
        assert built.tables[entity] is table  # the expressions now name the tables
        kept = table.to_pandas().set_index(ENTITIES[entity].key)
        pd.testing.assert_frame_equal(lazy[entity].sort_index(), kept.sort_index())
    ds.close()


def test_without_fee_lines_item_features_are_dropped_and_listed(make_dataset):
    root = make_dataset()
    (root / "claim_items.csv").unlink()
    frames, dropped = profiles(root)
    assert "drug_share" in dropped["provider"] and "drug_amount" in dropped["patient"]
    assert "drug_share" not in frames["provider"].columns
    assert dropped["provider"]["drug_share"] == "no claim_items table (fee lines)"


def test_without_a_catalog_its_features_are_dropped_and_listed_not_guessed(make_dataset):
    from fraudml.window import CATALOG_COLUMNS, fee_lines, prepare

    root = make_dataset()  # fee lines, no catalog
    frames, dropped = profiles(root)
    catalog_features = {
        "restricted_item_hits",
        "over_cap_lines",
        "price_to_cap",
        "near_cap_lines",
        "near_cap_share",
    }
    assert set(frames) == {"patient", "provider", "stay", "visit"}  # no doctor ids here
    for entity in frames:
        mine = {f.name for f in FEATURES if f.entity == entity} & catalog_features
        assert {n: dropped[entity][n] for n in mine} == {
            n: "no catalog table (item restrictions and price caps)" for n in mine
        }, entity
        assert not mine & set(frames[entity].columns), entity
    assert "drug_share" in frames["provider"].columns  # fee lines still count

    ds = load_dataset(root, memory_limit="1GB", threads=1)
    try:
        lines = fee_lines(ds, prepare(ds, Window(), fees=False).claims).to_pandas()
    finally:
        ds.close()
    assert len(lines) == 3  # every fee line of the base data
    assert lines[list(CATALOG_COLUMNS)].isna().all().all()
    assert not lines.static_breach.any() and not lines.over_cap.any()


def test_every_column_is_in_the_registry_and_every_feature_is_computed(city_root):
    frames, dropped = profiles(city_root)
    for entity, frame in frames.items():
        # the synthetic city has no claim_codes: only the code-mix features are missing
        coded = {f.name for f in FEATURES if f.entity == entity and "claim_codes" in f.needs}
        names = {f.name for f in FEATURES if f.entity == entity} - coded
        base = {c for c in frame.columns if "__peer_" not in c} - set(ENTITIES[entity].context)
        assert base == names, entity
        assert set(dropped[entity]) == coded, entity
        peer = {c.split("__")[0] for c in frame.columns if c.endswith("__peer_z")}
        assert peer == {f.name for f in FEATURES if f.entity == entity and f.peer} - coded
        assert frame[sorted(base)].notna().all().all(), entity


def test_features_doc_is_current():
    from pathlib import Path

    from fraudml.features.docs import render

    doc = Path(__file__).resolve().parents[1] / "docs" / "features.md"
    assert doc.read_text(encoding="utf-8") == render(), "run python -m fraudml.features.docs"


@pytest.fixture
def shared_network(make_dataset):
    """H2 shares patient 001 with H1 and patient 002 with H1 and D1; doctor DR2 bills at
    H2 and H1; H2's two stays last 4 and 10 days; C10 carries two diagnoses and a
    procedure."""

    def edit(t):
        t["providers"].append(
            {
                "provider_id": "H2",
                "provider_type": "hospital",
                "level": "2",
                "region": "110101",
                "beds": "100",
                "name": "",
            }
        )
        t["claims"] += [
            claim(
                "C10", "001", "H2", "inpatient", "2024-03-05 08:00:00", "2024-03-09 10:00:00",
                total="1000", fund="800", account="0", cash="200", diagnosis="I10", doctor="DR1",
            ),
            claim(
                "C11", "002", "H2", "inpatient", "2024-03-10 08:00:00", "2024-03-20 10:00:00",
                total="3000", fund="2400", account="0", cash="600", diagnosis="I10", doctor="DR2",
            ),
            claim(
                "C12", "002", "H1", "outpatient", "2024-03-21 09:00:00",
                total="200", diagnosis="E11", doctor="DR2",
            ),
        ]  # fmt: skip
        t["claim_codes"] = [
            {"claim_id": "C10", "kind": "diagnosis", "position": "1", "code": "I10"},
            {"claim_id": "C10", "kind": "diagnosis", "position": "2", "code": "E11"},
            {"claim_id": "C10", "kind": "procedure", "position": "1", "code": "0044"},
        ]

    return make_dataset(edit)


def test_provider_network_case_mix_and_amounts(shared_network):
    frames, dropped = profiles(shared_network)
    p = frames["provider"]
    h2, h1, d1 = p.loc["H2"], p.loc["H1"], p.loc["D1"]
    assert h2.shared_patient_share == 1.0 and h2.patient_linked_providers == 2  # H1, D1
    assert d1.patient_linked_providers == 2  # H1, H2 through patient 002
    assert (h2.n_doctors, h2.shared_doctor_share, h2.doctor_linked_providers) == (2, 0.5, 1)
    assert (h1.n_doctors, h1.shared_doctor_share, h1.doctor_linked_providers) == (1, 1.0, 1)
    assert (h2.n_diagnoses, h2.top_diagnosis_share) == (1, 1.0)
    assert (h1.n_diagnoses, h1.top_diagnosis_share) == (2, 0.5)
    assert (h2.max_los, h2.inpatient_days, h2.mean_los) == (10, 14, 7)
    assert h2.claim_amount_max == 3000
    assert h2.claim_amount_cv == pytest.approx(2**0.5 * 1000 / 2000)
    assert (h2.diagnoses_per_claim, h2.procedures_per_claim) == (1.0, 0.5)
    assert (h2.procedure_claim_share, h2.codes_per_claim) == (0.5, 1.5)
    assert h1.diagnoses_per_claim == 0  # claims without codes count as none
    assert frames["doctor"].loc["DR2", "n_providers"] == 2
    stays = frames["stay"]
    assert stays.loc["C10", ["n_diagnosis_codes", "n_procedure_codes"]].tolist() == [2, 1]
    assert stays.loc["C11", ["n_diagnosis_codes", "n_procedure_codes"]].tolist() == [0, 0]
    assert "night_share" in p.columns  # this data has times of day
    assert not any("claim_codes" in why for why in dropped["provider"].values())


def test_code_mix_is_dropped_and_listed_without_claim_codes(visits):
    frames, dropped = profiles(visits)
    assert "diagnoses_per_claim" not in frames["provider"].columns
    assert "claim_codes" in dropped["provider"]["diagnoses_per_claim"]
    assert "claim_codes" in dropped["stay"]["n_procedure_codes"]


def test_profiles_and_rules_of_a_window_share_one_preparation(city_root, monkeypatch):
    import fraudml.features.build as build
    import fraudml.rulebase.engine as engine
    from fraudml.models.frames import frames_and_hits
    from fraudml.workflows import load_rule_base

    calls = []
    real = build.prepare

    def counting(ds, window, **kw):
        calls.append(window)
        return real(ds, window, **kw)

    monkeypatch.setattr(build, "prepare", counting)
    monkeypatch.setattr(engine, "prepare", counting)
    window = Window(datetime(2024, 3, 1), datetime(2024, 4, 1))
    ds = load_dataset(city_root, memory_limit="1GB", threads=1)
    try:
        frames, run, _ = frames_and_hits(ds, window, load_rule_base())
        alone = engine.apply_rules(ds, window, run.rules).hits.to_pandas()
        shared = run.hits.to_pandas()
    finally:
        ds.close()
    assert calls == [window, window]  # once for profiles and rules, once for rules alone
    assert "rule_severity_score" in frames["patient"]
    key = ["rule_id", "claim_id", "line_no", "entity_type", "entity_id"]
    pd.testing.assert_frame_equal(
        alone.sort_values(key).reset_index(drop=True),
        shared.sort_values(key).reset_index(drop=True),
    )


# ---------------------------------------------------------------- label-free signals


def test_a_card_used_far_from_home_at_a_new_provider_is_counted(make_dataset):
    # 001 lives in 110101 (H1's region), 002 in 110102 (D1's region)
    def edit(t):
        t["claims"] += [
            claim("F1", "001", "D1", "outpatient", "2024-03-05 10:00:00"),  # far, first
            claim("F2", "001", "D1", "outpatient", "2024-03-09 10:00:00"),  # far, again
            claim("F3", "001", "H1", "outpatient", "2024-03-10 10:00:00"),  # home
            claim("F4", "002", "H1", "outpatient", "2024-03-11 10:00:00"),  # far, first
        ]

    frames = profiles(make_dataset(edit))[0]
    assert frames["patient"].far_first_visits.to_dict() == {"001": 1, "002": 1}
    flags = frames["visit"].far_first_visit.to_dict()
    assert flags == {"C1": 0, "C2": 0, "F1": 1, "F2": 0, "F3": 0, "F4": 1}


def test_people_arriving_together_on_two_days_are_partners(make_dataset):
    def edit(t):
        t["patients"].append(dict(t["patients"][0], patient_id="003"))
        for day in ("2024-06-03", "2024-06-10"):
            for pid, minute in (("001", "05"), ("002", "12"), ("003", "20")):
                t["claims"].append(
                    claim(f"G{day}{pid}", pid, "H1", "outpatient", f"{day} 09:{minute}:00")
                )
        # 001 and 002 also meet once at D1: one day is not a habit
        t["claims"] += [
            claim("M1", "001", "D1", "outpatient", "2024-07-01 14:01:00"),
            claim("M2", "002", "D1", "outpatient", "2024-07-01 14:02:00"),
        ]

    patients = profiles(make_dataset(edit))[0]["patient"]
    assert patients.covisit_partners.to_dict() == {"001": 2, "002": 2, "003": 2}


def test_stays_admitted_together_for_the_same_illness_are_counted(make_dataset):
    def edit(t):
        t["patients"] += [dict(t["patients"][0], patient_id=p) for p in ("003", "004")]
        t["claims"] += [
            claim(
                "S1",
                "001",
                "H1",
                "inpatient",
                "2024-05-02 08:00:00",
                "2024-05-06 10:00:00",
                diagnosis="J18.9",
            ),
            claim(
                "S2",
                "003",
                "H1",
                "inpatient",
                "2024-05-02 15:00:00",
                "2024-05-05 10:00:00",
                diagnosis="J18.0",
            ),
            claim(
                "S3",
                "004",
                "H1",
                "inpatient",
                "2024-05-02 16:00:00",
                "2024-05-07 10:00:00",
                diagnosis="K35.8",
            ),
            claim(
                "S4",
                "002",
                "H1",
                "inpatient",
                "2024-05-03 09:00:00",
                "2024-05-08 10:00:00",
                diagnosis="J18.9",
            ),
        ]

    stays = profiles(make_dataset(edit))[0]["stay"]
    assert stays.same_day_admissions.to_dict() == {"S1": 1, "S2": 1, "S3": 0, "S4": 0}


def test_prices_pinned_just_under_the_cap_are_counted(make_dataset):
    # 串换: a dearer code billed at its cap. Near the cap: at most 5% below it, not above
    def edit(t):
        t["catalog"] = [
            catalog_item("XA01", "western_drug", price_cap=30),
            catalog_item("LB01", "lab", price_cap=100),
        ]
        t["claims"] += [
            claim("N1", "001", "H1", "outpatient", "2024-03-04 09:00:00", doctor="DR1"),
            claim("N2", "002", "H1", "outpatient", "2024-03-05 09:00:00", doctor="DR1"),
            claim("S1", "002", "H1", "inpatient", "2024-03-06 09:00:00", "2024-03-08 09:00:00"),
        ]
        t["claim_items"] += [
            line("N1", 1, "XA01", "western_drug", 1, 29.0),  # 96.7% of the cap: near
            line("N1", 2, "LB01", "lab", 1, 95),  # exactly 5% below: near
            line("N1", 3, "TR01", "treatment", 1, 10),  # no cap: not a capped line
            line("N2", 1, "XA01", "western_drug", 1, 28.4),  # 94.7%: not near
            line("S1", 1, "XA01", "western_drug", 2, 30),  # at the cap: near
            line("S1", 2, "LB01", "lab", 1, 50),
        ]

    frames = profiles(make_dataset(edit))[0]
    # C1: XA01 at 30.25 is over the cap, LB01 at 60 far below it; C2: XA01 at 30, the cap
    assert frames["visit"].near_cap_lines.to_dict() == {"C1": 0, "C2": 1, "N1": 2, "N2": 0}
    assert frames["stay"].near_cap_lines.to_dict() == {"S1": 1}
    providers = frames["provider"]
    assert providers.loc["H1", "near_cap_share"] == pytest.approx(3 / 7)  # C1 2, N1 2, N2 1, S1 2
    assert providers.loc["D1", "near_cap_share"] == 1.0
    assert frames["doctor"].loc["DR1", "near_cap_share"] == pytest.approx(2 / 3)


def test_pharmacy_purchases_paid_from_the_account_at_round_totals(make_dataset):
    # 套刷个人账户: C2 (002 at D1, 45 yuan, all from the account) is in the base data
    def edit(t):
        t["patients"].append(dict(t["patients"][0], patient_id="003"))
        t["claims"] += [
            claim("P1", "001", "D1", "pharmacy", "2024-03-04 10:00:00", total="200",
                  fund="0", account="200", cash="0"),
            claim("P2", "001", "D1", "pharmacy", "2024-03-05 10:00:00", total="10",
                  fund="0", account="0", cash="10"),
            claim("P3", "001", "D1", "pharmacy", "2024-03-06 10:00:00", total="99.99",
                  fund="0", account="50", cash="49.99"),
            # nothing bought is no round total
            claim("P4", "001", "D1", "pharmacy", "2024-03-07 10:00:00", total="0",
                  fund="0", account="0", cash="0"),
            # a round total elsewhere than at a pharmacy does not count
            claim("O1", "003", "H1", "outpatient", "2024-03-08 10:00:00"),
        ]  # fmt: skip

    patients = profiles(make_dataset(edit))[0]["patient"]
    assert patients.pharmacy_account_share.to_dict() == pytest.approx(
        {"001": 250 / 309.99, "002": 1.0, "003": 0.0}
    )
    assert patients.pharmacy_round_share.to_dict() == {"001": 0.5, "002": 0.0, "003": 0.0}


def test_dialysis_sessions_beyond_three_a_week_are_counted(make_dataset):
    # 透析超频次: ISO weeks from Monday 2024-03-04; a session is a day with a claim of the
    # hemodialysis department (a second settlement that day is the same session)
    def session(cid, patient, day, doctor):
        row = claim(cid, patient, "H1", "outpatient_chronic", f"{day} 08:00:00", doctor=doctor)
        return dict(row, department="hemodialysis", diagnosis_code="N18.5")

    def edit(t):
        days_001 = [
            "2024-03-04", "2024-03-05", "2024-03-06", "2024-03-06", "2024-03-07", "2024-03-08",
            "2024-03-11", "2024-03-13", "2024-03-15", "2024-03-17",  # Sunday: still week 2
            "2024-03-18",
        ]  # fmt: skip
        t["claims"] += [session(f"A{i}", "001", d, "DR1") for i, d in enumerate(days_001)]
        days_002 = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"]
        t["claims"] += [session(f"B{i}", "002", d, "DR2") for i, d in enumerate(days_002)]
        # not a dialysis session: another department on a fifth day
        t["claims"].append(claim("X1", "002", "H1", "outpatient", "2024-03-08 09:00:00"))

    frames = profiles(make_dataset(edit))[0]
    # 001: 5 sessions in week 1 (2 beyond), 4 in week 2 (1), 1 in week 3; 002: 4 (1)
    assert frames["patient"].sessions_beyond_schedule.to_dict() == {"001": 3, "002": 1}
    providers = frames["provider"].sessions_beyond_schedule_share
    assert providers.to_dict() == pytest.approx({"H1": 4 / 14, "D1": 0.0})
    doctors = frames["doctor"].sessions_beyond_schedule_share
    assert doctors.to_dict() == pytest.approx({"DR1": 3 / 10, "DR2": 1 / 4})


def test_stays_billing_only_bed_and_nursing_are_flagged(make_dataset):
    # 挂床: a stay billed for bed, nursing and being seen, with no care at all
    def edit(t):
        t["claims"] += [
            claim("S1", "001", "H1", "inpatient", "2024-04-01 09:00:00", "2024-04-06 09:00:00"),
            claim("S2", "001", "H1", "inpatient", "2024-05-01 09:00:00", "2024-05-03 09:00:00"),
            claim("S3", "002", "H1", "inpatient", "2024-05-10 09:00:00", "2024-05-12 09:00:00"),
        ]
        t["claim_items"] += [
            line("S1", 1, "BD01", "bed", 5, 50),
            line("S1", 2, "NS01", "nursing", 5, 30),
            line("S1", 3, "CN01", "consultation", 1, 20),
            line("S1", 4, "RG01", "registration", 1, 5),
            line("S2", 1, "BD01", "bed", 2, 50),
            line("S2", 2, "NS01", "nursing", 2, 30),
            line("S2", 3, "XA01", "western_drug", 2, 20),
            line("S2", 4, "LB01", "lab", 1, 50),
        ]  # S3 has no fee lines

    frames = profiles(make_dataset(edit))[0]
    stays = frames["stay"]
    assert stays.bed_nursing_share.to_dict() == pytest.approx(
        {"S1": 400 / 425, "S2": 160 / 250, "S3": 0.0}
    )
    assert stays.bed_nursing_only.to_dict() == {"S1": 1, "S2": 0, "S3": 0}
    h1 = frames["provider"].loc["H1"]
    # stays only (C1's outpatient lines are not a stay's); S3 has no lines to judge
    assert h1.bed_nursing_share == pytest.approx(560 / 675)
    assert h1.bed_nursing_only_share == 0.5
    assert frames["provider"].loc["D1", "bed_nursing_only_share"] == 0.0
    patients = frames["patient"].bed_nursing_share
    assert patients.to_dict() == pytest.approx({"001": 560 / 675, "002": 0.0})


def test_profiles_of_chosen_entity_types_only(make_dataset):
    """``entities=`` builds only those profiles, each the same as in the full build, and an
    unknown type is refused by name."""
    with load_dataset(make_dataset(), memory_limit="1GB", threads=1) as ds:
        some = build_profiles(ds, Window(), entities=["provider", "patient"])
        every = build_profiles(ds, Window())
        assert list(some.tables) == ["patient", "provider"]  # in the build's own order
        assert set(some.dropped) <= {"patient", "provider"}
        for entity in some.tables:
            key = ENTITIES[entity].key
            a, b = (p.tables[entity].to_pandas().sort_values(key) for p in (some, every))
            pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
        with pytest.raises(ValueError, match=r"\['stays'\]"):
            build_profiles(ds, Window(), entities=["stays"])
