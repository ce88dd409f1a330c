"""Networks: exact edges on a hand-built dataset, a planted ring found whole, group
features, and label propagation that never reads an entity's own label."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from fraudml import load_dataset
from fraudml.features import Window
from fraudml.graph import edges as E
from fraudml.graph import leiden_groups, networkx_groups, window_graph
from fraudml.graph.communities import group_name
from fraudml.graph.propagation import entity_fold, group_flagged_share
from fraudml.window import prepare
from tests.builders import claim

RING = ("R1", "R2", "R3", "R4", "R5")


def _ring_tables(t):
    """Five people arrive at clinic D1 together on three days (the third straddles a
    half-hour boundary), plus noise: 001 and 002 meet once, X1 and X2 twice."""
    base = t["patients"][0]
    for pid in (*RING, "X1", "X2"):
        t["patients"].append(dict(base, patient_id=pid, region="110101"))
    days = {
        "2024-06-03": ("09:00", "09:05", "09:10", "09:15", "09:20"),
        "2024-06-10": ("09:00", "09:05", "09:10", "09:15", "09:20"),
        "2024-06-17": ("09:20", "09:25", "09:35", "09:40", "09:45"),
    }
    for day, times in days.items():
        for pid, hm in zip(RING, times, strict=True):
            t["claims"].append(claim(f"{pid}-{day}", pid, "D1", "outpatient", f"{day} {hm}:00"))
    # 31 minutes apart across a slot boundary: not together
    t["claims"] += [
        claim("R1-late", "R1", "D1", "outpatient", "2024-06-24 09:00:00"),
        claim("R2-late", "R2", "D1", "outpatient", "2024-06-24 09:31:00"),
        claim("M1", "001", "H1", "outpatient", "2024-07-01 14:01:00"),
        claim("M2", "002", "H1", "outpatient", "2024-07-01 14:02:00"),
    ]
    for day in ("2024-07-02", "2024-07-09"):
        t["claims"] += [
            claim(f"X1{day}", "X1", "H1", "outpatient", f"{day} 10:00:00"),
            claim(f"X2{day}", "X2", "H1", "outpatient", f"{day} 10:10:00"),
        ]


@pytest.fixture
def ring(make_dataset):
    ds = load_dataset(make_dataset(_ring_tables), memory_limit="1GB", threads=1)
    yield ds, prepare(ds, Window(), fees=False)
    ds.close()


def test_covisit_edges_are_exact(ring):
    _, x = ring
    edges = E.covisit_edges(E.covisit_days(x.claims)).to_pandas()
    edges = edges.sort_values(["src", "dst"]).reset_index(drop=True)
    pairs = [*itertools.combinations(RING, 2), ("X1", "X2")]
    assert list(zip(edges.src, edges.dst, strict=True)) == pairs
    assert edges.weight.tolist() == [3] * 10 + [2]
    assert edges.providers.tolist() == [1] * 11
    r = edges[edges.src == "R1"].iloc[0]
    assert r.first_time == pd.Timestamp("2024-06-03 09:00:00")
    assert r.last_time == pd.Timestamp("2024-06-17 09:25:00")  # R1-R2's latest arrival


def test_other_edge_tables_are_exact(ring):
    _, x = ring
    pp = E.patient_provider_edges(x.claims).to_pandas().set_index(["src", "dst"])
    assert pp.loc[("R1", "D1"), "weight"] == 4
    assert pp.loc[("R1", "D1"), "last_time"] == pd.Timestamp("2024-06-24 09:00:00")
    # R1 lives in 110101, D1 lies in 110102
    assert bool(pp.loc[("R1", "D1"), "far"]) and not bool(pp.loc[("X1", "H1"), "far"])
    shared = E.provider_provider_edges(x.claims, "patient_id").to_pandas()
    # only 002 claims at both H1 and D1 (the ring's people and X1, X2 keep to one)
    assert shared[["src", "dst"]].values.tolist() == [["D1", "H1"]]
    assert shared.weight.tolist() == [1]


def test_a_planted_ring_is_one_group_with_its_members(ring):
    ds, x = ring
    g = window_graph(ds.con, x.claims)
    assert g.members.member_id.tolist() == list(RING)  # X1-X2 is a pair, not a group
    assert g.members.group_id.unique().tolist() == [group_name(list(RING))]
    row = g.groups.iloc[0]
    assert row.group_size == 5
    assert row.group_density == 1.0
    assert row.group_days == 3
    assert row.main_provider == "D1"
    # 15 of the members' 17 outpatient arrivals were made together (the late pair was not)
    assert row.group_together_share == pytest.approx(15 / 17)
    patient = g.features["patient"].to_pandas().set_index("patient_id")
    assert patient.loc["R3", "group_size"] == 5
    provider = g.features["provider"].to_pandas().set_index("provider_id")
    assert provider.loc["D1", "ring_patients"] == 5
    assert provider.loc["D1", "ring_days"] == 3
    assert provider.loc["H1", "ring_patients"] == 0
    # D1's patients: 002 (base data) and the ring; all far from home but 002, and all
    # from one region
    assert provider.loc["D1", "ring_patient_share"] == pytest.approx(5 / 6)
    assert provider.loc["D1", "far_regions"] == 1
    proof = g.proof(g.members.group_id.unique().tolist())
    assert len(proof) == 30  # ten pairs on three days
    assert sorted(proof.day.astype(str).unique()) == ["2024-06-03", "2024-06-10", "2024-06-17"]


def _two_cliques(n1: int, n2: int) -> pd.DataFrame:
    a = [f"a{i}" for i in range(n1)]
    b = [f"b{i}" for i in range(n2)]
    rows = [(s, d, 4) for s, d in itertools.combinations(a, 2)]
    rows += [(s, d, 3) for s, d in itertools.combinations(b, 2)]
    rows.append(("a0", "b0", 1))  # one chance meeting between the gangs
    rows.append(("c0", "c1", 2))  # a couple
    return pd.DataFrame(rows, columns=["src", "dst", "weight"])


@pytest.mark.parametrize("detect", [leiden_groups, networkx_groups])
def test_two_gangs_joined_by_a_chance_meeting_are_two_groups(detect):
    found = detect(_two_cliques(6, 4))
    groups = found.groupby("group_id").member_id.apply(sorted).tolist()
    assert sorted(groups) == [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(4)]]
    sizes = found.groupby("group_id").group_size.first().sort_values().tolist()
    assert sizes == [4, 6]


def test_groups_are_the_same_from_run_to_run():
    edges = _two_cliques(8, 5)
    shuffled = edges.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(leiden_groups(edges), leiden_groups(shuffled))


def test_propagation_counts_the_other_members_only():
    groups = pd.Series(["g", "g", "g", "h", None], index=["p1", "p2", "p3", "p4", "p5"])
    share = group_flagged_share(groups, pd.Index(["p1", "p2"]), out_of_fold=False)
    assert share.to_dict() == {"p1": 0.5, "p2": 0.5, "p3": 1.0, "p4": 0.0, "p5": 0.0}


def test_propagation_never_reads_an_entitys_own_label():
    """Flip each entity's own label: its propagated share must not move (out of fold and
    plain alike), whoever else is labelled."""
    rng = np.random.default_rng(0)
    ids = pd.Index([f"p{i:03d}" for i in range(120)])
    groups = pd.Series(rng.integers(0, 12, len(ids)).astype(str), index=ids)
    positives = ids[rng.random(len(ids)) < 0.3]
    for oof in (True, False):
        base = group_flagged_share(groups, positives, out_of_fold=oof)
        for i in ids[:40]:
            flipped = positives.drop(i) if i in positives else positives.append(pd.Index([i]))
            again = group_flagged_share(groups, flipped, out_of_fold=oof)
            assert again[i] == base[i]


def test_out_of_fold_share_counts_members_of_other_folds_only():
    ids = pd.Index([f"p{i}" for i in range(40)])
    folds = entity_fold(ids)
    groups = pd.Series("g", index=ids)
    positives = ids[folds == folds[0]]  # only the first entity's own fold is labelled
    share = group_flagged_share(groups, positives, out_of_fold=True)
    assert (share[folds == folds[0]] == 0.0).all()
    assert (share[folds != folds[0]] > 0.0).all()


def test_a_group_lead_is_scored_by_its_members_and_says_who_where_and_when(ring):
    from fraudml.scoring.groups import group_evidence, group_leads, group_members, group_scores

    ds, x = ring
    g = window_graph(ds.con, x.claims)
    risk = pd.Series({"R1": 0.9, "R2": 0.7, "R3": 0.5, "R4": 0.3, "R5": 0.1, "X1": 0.99})
    scored = group_scores(g, risk)
    gid = group_name(list(RING))
    assert scored.index.tolist() == [gid]
    assert scored.loc[gid, "member_risk"] == pytest.approx(0.5)
    # its shape: 15 of 17 arrivals together, every pair repeating
    assert scored.loc[gid, "shape"] == pytest.approx(15 / 17)
    assert scored.loc[gid, "risk"] == pytest.approx(1 - 0.5 * (1 - 15 / 17))
    assert scored.loc[gid, "flagged"] == 3
    sheet, leads = group_leads(scored, 10, "groups (patient m@1)", {"D1": "阳光诊所"})
    assert sheet.entity_type.tolist() == ["group"] and sheet["rank"].tolist() == [1]
    lead = leads.iloc[0]
    assert lead.entity_id == gid and lead.score == pytest.approx(1 - 0.5 * (1 - 15 / 17))
    assert lead.reasons_en.startswith(
        "5 people arrived together on 3 days between 2024-06-03 and 2024-06-17, "
        "mostly at D1 (阳光诊所)"
    )
    assert lead.reasons_zh.startswith(
        "5人于2024-06-03至2024-06-17期间结伴就诊3天，主要在D1（阳光诊所）"
    )
    members = group_members(g, risk, pd.Index([gid]))
    patients = members[members.member_type == "patient"].set_index("member_id")
    assert patients.index.tolist() == list(RING)
    assert patients.days.tolist() == [3] * 5 and patients.links.tolist() == ["D1:3"] * 5
    assert members[members.member_type == "provider"].member_id.tolist() == ["D1"]
    visits = x.claims.filter(x.claims.visit_type != "inpatient").to_pandas()
    proof = group_evidence(
        g, visits[["claim_id", "patient_id", "provider_id", "admit_time"]], [gid]
    )
    # every member's claim on the three days, never the late pair 31 minutes apart
    assert len(proof) == 15 and not proof.claim_id.str.endswith("late").any()


def test_training_spreads_labels_out_of_fold_and_scores_with_every_other_member():
    """The fitter's frames: the fitting window's share is out of fold, the later slice's
    and the evaluation window's count every other member, withheld schemes never."""
    from datetime import datetime

    from fraudml.graph.propagation import GROUP_FLAGGED
    from fraudml.models import fitting

    ids = [f"p{i:02d}" for i in range(30)]
    frame = pd.DataFrame({"group_id": ["g"] * 30, "n_claims": np.arange(30.0)}, index=pd.Index(ids))
    labels = pd.DataFrame(
        {
            "entity_type": "patient",
            "entity_id": ids[:10],
            "label": 1,
            "scheme": ["gang_swiping"] * 5 + ["card_lending"] * 5,
            "decided_at": "2024-01-10",
        }
    )
    seen = {}

    def fake_fit(entity, fit, y, later, y_later, **kwargs):
        seen.update(fit=fit, later=later)
        raise RuntimeError("stop")

    fitter = fitting.time_fitter(labels, datetime(2024, 2, 1), withhold=["card_lending"])
    original = fitting.fit_entity
    fitting.fit_entity = fake_fit
    try:
        with pytest.raises(RuntimeError, match="stop"):
            fitter("patient", {"fit": frame, "later": frame, "evaluation": frame})
    finally:
        fitting.fit_entity = original
    later = seen["later"][GROUP_FLAGGED]
    # five gang members known (card lending withheld); an outsider sees 5 of 29 others
    assert later["p20"] == pytest.approx(5 / 29) and later["p00"] == pytest.approx(4 / 29)
    fit = seen["fit"]
    assert "p05" not in fit.index  # withheld entities leave the fitting window
    folds = entity_fold(pd.Index(ids))
    for i in ("p00", "p20"):
        others = [j for j, f in zip(ids, folds, strict=True) if f != folds[ids.index(i)]]
        expected = sum(j in ids[:5] for j in others) / len(others)
        assert fit.loc[i, GROUP_FLAGGED] == pytest.approx(expected)


def test_a_gang_outranks_a_suspicious_circle_without_the_shape_of_one():
    """The shape needs no labels: members who seek care together, every pair repeating,
    outrank a loose circle whose members' risk is higher."""
    from fraudml.graph import WindowGraph
    from fraudml.scoring.groups import group_scores

    members = pd.DataFrame(
        {
            "member_id": ["g1", "g2", "g3", "c1", "c2", "c3", "c4"],
            "group_id": ["G-gang"] * 3 + ["G-circle"] * 4,
            "group_size": [3] * 3 + [4] * 4,
        }
    )
    groups = pd.DataFrame(
        {
            "group_id": ["G-circle", "G-gang"],
            "group_size": [4, 3],
            "group_density": [0.5, 1.0],
            "group_days": [12, 6],
            "group_together_share": [0.2, 0.9],
        }
    )
    graph = WindowGraph(members, groups, None, pd.DataFrame(), {}, {})
    risk = pd.Series({"g1": 0.1, "g2": 0.1, "g3": 0.1, "c1": 0.4, "c2": 0.4, "c3": 0.4})
    scored = group_scores(graph, risk)
    assert scored.loc["G-gang", "risk"] == pytest.approx(1 - 0.9 * 0.1)
    assert scored.loc["G-circle", "risk"] == pytest.approx(1 - 0.7 * 0.9)
    assert scored.loc["G-gang", "risk"] > scored.loc["G-circle", "risk"]


def test_without_labels_the_propagated_share_is_zero_not_missing(make_dataset):
    """A dataset without a labels table (a month to score) still gives the patient model
    every input it was trained on."""
    from fraudml.graph.propagation import GROUP_FLAGGED
    from fraudml.models.frames import window_frames
    from fraudml.workflows import load_rule_base

    ds = load_dataset(make_dataset(_ring_tables), memory_limit="1GB", threads=1)
    try:
        assert "labels" not in ds
        patients = window_frames(ds, Window(), load_rule_base(None)).frames["patient"]
    finally:
        ds.close()
    assert patients[GROUP_FLAGGED].eq(0.0).all()
    assert patients.loc["R1", "group_id"] == group_name(list(RING))
