"""The scoring steps on hand-built frames: ranks, tiers, leads, reasons and evidence, and
score_period composing them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fraudml import load_dataset
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.models.detector import Contributions
from fraudml.models.extremes import SignalExtremes
from fraudml.models.risk import ANOMALY, EntityModel
from fraudml.scoring import pipeline
from fraudml.scoring.evidence import (
    EVIDENCE_COLUMNS,
    evidence_sheet,
    hit_summary,
    leads_hits,
    ordered_hits,
)
from fraudml.scoring.leads import LEAD_COLUMNS, choose_leads, definite_violations, lead_table
from fraudml.scoring.rank import (
    SCORE_COLUMNS,
    rank_entities,
    scores_sheet,
    tier,
    tiers,
)
from fraudml.scoring.reasons import REASON_COLUMNS, lead_reasons
from fraudml.workflows import load_rule_base
from tests.builders import catalog_item


def _scored() -> pd.DataFrame:
    """score_frame's output for seven patients; P2 and P4 tie."""
    risk = [0.10, 0.90, 0.50, 0.90, 0.30, 0.70, 0.05]
    return pd.DataFrame(
        {
            "anomaly_score": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            "anomaly_level": 0.5,
            "supervised": np.nan,
            "rule_part": [0.0, 0.0, 0.0, 0.0, 0.0, 0.63, 0.0],
            "risk": risk,
        },
        index=pd.Index([f"P{i}" for i in range(1, 8)], name="patient_id"),
    )


def _unchanged(step, *frames):
    """Run ``step`` and check it left its frames as they were."""
    before = [f.copy(deep=True) for f in frames]
    out = step()
    for was, now in zip(before, frames, strict=True):
        if isinstance(now, pd.DataFrame):
            pd.testing.assert_frame_equal(was, now)
        else:
            pd.testing.assert_series_equal(was, now)
    return out


# ----------------------------------------------------------------------------- rank


def test_ranks_run_by_descending_risk_and_ties_keep_their_order():
    ranks = rank_entities(_scored(), 0)["rank"]
    assert list(ranks.index) == ["P1", "P2", "P3", "P4", "P5", "P6", "P7"]
    # P2 and P4 tie at 0.90: P2 came first, ranks first
    assert list(ranks) == [6, 1, 4, 2, 5, 3, 7]


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [
        (1, ["C", "A", "C", "B", "C", "B", "C"]),  # A: rank 1, B: ranks 2-3
        (2, ["B", "A", "B", "A", "B", "B", "C"]),  # A: ranks 1-2, B: ranks 3-6
        (3, ["B", "A", "B", "A", "B", "A", "B"]),
        (0, ["C"] * 7),
    ],
)
def test_tiers_are_a_within_capacity_b_within_three_times_it_c_beyond(capacity, expected):
    ranks = rank_entities(_scored(), 0)["rank"]
    assert list(tiers(ranks, capacity)) == expected
    assert [tier(int(r), capacity) for r in ranks] == expected
    assert list(tiers(ranks, capacity).index) == list(ranks.index)


def test_ranked_entities_and_the_scores_sheet():
    scored = _scored()
    ranked = _unchanged(lambda: rank_entities(scored, 2), scored)
    assert list(ranked.index) == list(scored.index)
    assert list(ranked["rank"]) == [6, 1, 4, 2, 5, 3, 7]
    assert list(ranked["tier"]) == ["B", "A", "B", "A", "B", "B", "C"]
    assert list(ranked["score"]) == list(scored["risk"])
    sheet = _unchanged(lambda: scores_sheet("patient", ranked, "m@1"), ranked)
    assert list(sheet.columns) == SCORE_COLUMNS
    assert list(sheet.index) == list(range(7))  # in scored order, numbered from 0
    assert sheet.iloc[1].to_dict() == {
        "entity_type": "patient",
        "entity_id": "P2",
        "claim_kind": None,
        "score": 0.9,
        "rank": 1,
        "anomaly_score": 0.5,
        # a frame without a signal score (a model pickled before the extremes): missing
        "signal_score": pytest.approx(np.nan, nan_ok=True),
        "supervised": pytest.approx(np.nan, nan_ok=True),
        "rule_part": 0.0,
        "novelty": 0.9,  # a frame without novelty: the risk (nothing to reserve for)
        "reserve": False,
        "model": "m@1",
        "tier": "A",
    }


# ----------------------------------------------------------------------------- leads


def test_definite_violations_come_from_the_rule_aggregate():
    frame = pd.DataFrame({"rule_definite_hits": [0, 2, np.nan, 1]}, index=list("abcd"))
    assert list(definite_violations(frame)) == [False, True, False, True]
    assert list(definite_violations(frame.drop(columns="rule_definite_hits"))) == [False] * 4


def test_leads_are_the_top_capacity_plus_definite_violations_only_when_asked():
    ranks = rank_entities(_scored(), 0)["rank"]
    definite = pd.Series([False, False, False, False, False, False, True], index=ranks.index)
    assert list(choose_leads(ranks, 2)) == ["P2", "P4"]
    # P7 ranks last, but a definite violation makes it a lead
    assert list(_unchanged(lambda: choose_leads(ranks, 2, definite), ranks, definite)) == [
        "P2",
        "P4",
        "P7",
    ]
    assert list(choose_leads(ranks, 0, definite)) == ["P7"]
    assert list(choose_leads(ranks, 0)) == []
    # leads keep the scored order (P6, rank 3, comes after P4, rank 2, and before P7)
    assert list(choose_leads(ranks, 3, definite)) == ["P2", "P4", "P6", "P7"]
    # entities the violations do not mention have none
    assert list(choose_leads(ranks, 1, definite.iloc[-1:])) == ["P2", "P7"]


def test_the_lead_table_joins_scores_reasons_and_evidence_in_order():
    ranked = rank_entities(_scored(), 2).loc[["P2", "P4"]]
    reasons = pd.DataFrame(
        {"reasons_zh": ["甲", "乙"], "reasons_en": ["a", "b"], "reasons_json": ["{}", "{}"]},
        index=["P4", "P2"],  # in another order: joined by lead
    )
    hits = pd.DataFrame(
        {
            "rule_hits": [2, 0],
            "rule_ids": ["R1,R2", ""],
            "rule_amount": [3.5, 0.0],
            "evidence_claims": ["C1", ""],
        },
        index=["P2", "P4"],
    )
    table = lead_table("patient", "m@1", ranked, reasons, hits)
    assert list(table.columns) == LEAD_COLUMNS
    assert table.to_dict("records") == [
        {
            "entity_type": "patient",
            "entity_id": "P2",
            "claim_kind": None,
            "score": 0.9,
            "rank": 1,
            "tier": "A",
            "reserve": False,
            "model": "m@1",
            "reasons_zh": "乙",
            "reasons_en": "b",
            "reasons_json": "{}",
            "rule_hits": 2,
            "rule_ids": "R1,R2",
            "rule_amount": 3.5,
            "evidence_claims": "C1",
        },
        {
            "entity_type": "patient",
            "entity_id": "P4",
            "claim_kind": None,
            "score": 0.9,
            "rank": 2,
            "tier": "A",
            "reserve": False,
            "model": "m@1",
            "reasons_zh": "甲",
            "reasons_en": "a",
            "reasons_json": "{}",
            "rule_hits": 0,
            "rule_ids": "",
            "rule_amount": 0.0,
            "evidence_claims": "",
        },
    ]


# ----------------------------------------------------------------------------- reasons


class _HalfDetector:
    """Scores are the first input; each input contributes half its value (by hand)."""

    def fit(self, X, y=None):
        return self

    def risk_score(self, X):
        return np.asarray(X, dtype=float)[:, 0]

    def explain(self, X):
        X = np.asarray(X, dtype=float)
        return Contributions(X * 0.5, 0.0, X.sum(axis=1) * 0.5, "half the inputs", 1)


def _stub_model(anomaly_features: list[str]) -> EntityModel:
    return EntityModel(
        entity="patient",
        anomaly=_HalfDetector(),  # type: ignore[arg-type]
        anomaly_features=anomaly_features,
        anomaly_reference=(0.0, 1.0),
        supervised=None,
        features=[ANOMALY],
        feature_set_version=FEATURE_SET_VERSION,
    )


def test_a_reserved_leads_first_reason_names_its_extreme_signals():
    leads = pd.DataFrame(
        {
            "n_claims": [2.0, 40.0, 40.0],
            "n_claims__peer_median": [3.0, 3.0, 3.0],
            "total_amount": [1200.0, 0.0, 5.0],
        },
        index=["a", "b", "c"],
    )
    model = _stub_model(["n_claims", "total_amount"])
    training = np.column_stack([np.arange(10.0), np.arange(10.0)])  # 0 … 9 in both
    model.extremes = SignalExtremes(directions=["high", "high"]).fit(training)
    made = lead_reasons(model, leads, "patient", [], "CNY", reserved=["a", "c"])
    # a: 1,200 is beyond every training value (1 / 11 as far, counting itself); its 2
    # settlements are ordinary (9 / 11) and not named; c: its 5 yuan (5 / 11) is not
    # far out either, so only the settlements are named; b was placed by risk
    # (the signals named are not said again among the contributions' reasons)
    assert made.table.reasons_zh["a"] == (
        "探索名额依据（无标签证据）：远超训练期同类的是：医疗总费用：1,200 元，"
        "训练期仅 9.1% 同样极端；结算次数：2 次，0.7× 同类中位数 3 次"
    )
    assert made.table.reasons_en["c"] == (
        "reserve place (label-free evidence): far beyond the training window in: "
        "settlements: 40 times, 13× peer median 3 times, only 9.1% of the training window "
        "as far; total medical fees: 5 yuan"
    )
    assert not made.table.reasons_en["b"].startswith("reserve place")
    first = json.loads(made.table.reasons_json["a"])["en"][0]
    assert (first["feature"], first["shows"]) == ("signal_extremes", ["total_amount"])
    assert first["weight"] == pytest.approx(model.extremes.risk_score(np.array([[2.0, 1200.0]]))[0])
    # a model pickled before the extremes: the reasons are the contributions' alone
    model.extremes = None
    plain = lead_reasons(model, leads, "patient", [], "CNY", reserved=["a", "c"])
    assert not plain.table.reasons_en.str.startswith("reserve place").any()


def test_lead_reasons_render_the_detectors_contributions_in_both_languages():
    leads = pd.DataFrame(
        {
            "n_claims": [2.0, 4.0],
            "n_claims__peer_median": [3.0, 3.0],
            "total_amount": [1200.0, 0.0],
        },
        index=["a", "b"],
    )
    model = _stub_model(["n_claims", "total_amount"])
    made = _unchanged(lambda: lead_reasons(model, leads, "patient", [], "CNY"), leads)
    assert made.what == "half the inputs"
    assert list(made.table.columns) == REASON_COLUMNS and list(made.table.index) == ["a", "b"]
    # a: the amount (600) outweighs the claims (1); b: its amount contributes nothing
    assert list(made.table.reasons_zh) == [
        "医疗总费用：1,200 元；结算次数：2 次，0.7× 同类中位数 3 次",
        "结算次数：4 次，1.3× 同类中位数 3 次",
    ]
    assert list(made.table.reasons_en) == [
        "total medical fees: 1,200 yuan; settlements: 2 times, 0.7× peer median 3 times",
        "settlements: 4 times, 1.3× peer median 3 times",
    ]
    records = json.loads(made.table.reasons_json["b"])
    assert records == {
        "zh": [
            {
                "feature": "n_claims",
                "text": "结算次数：4 次，1.3× 同类中位数 3 次",
                "value": 4.0,
                "peer": 3.0,
                "weight": 2.0,
                "unit": "次",
                "name": "结算次数",
            }
        ],
        "en": [
            {
                "feature": "n_claims",
                "text": "settlements: 4 times, 1.3× peer median 3 times",
                "value": 4.0,
                "peer": 3.0,
                "weight": 2.0,
                "unit": "次",
                "name": "settlements",
            }
        ],
    }
    assert "医疗总费用" in made.table.reasons_json["a"]  # Chinese kept as text, not escaped


# ----------------------------------------------------------------------------- evidence


def _hits() -> pd.DataFrame:
    """Rule hits as the engine returns them: in no particular order."""
    return pd.DataFrame(
        {
            "rule_id": ["R2", "R1", "R1", "R3", "R1", "R2"],
            "entity_type": "claim",
            "entity_id": ["C3", "C1", "C2", "C9", "C1", "C4"],
            "patient_id": ["P1", "P1", "P1", "P9", "P1", "P2"],
            "claim_id": ["C3", "C1", "C2", "C9", "C1", "C4"],
            "line_no": [1.0, 2.0, 1.0, 1.0, 1.0, np.nan],
            "amount": [5.0, 10.0, 10.0, 99.0, 10.0, 1.005],
        }
    )


def test_hits_are_ordered_by_amount_then_claim_line_and_rule():
    hits = _hits()
    ordered = _unchanged(lambda: ordered_hits(hits), hits)
    # 99 first; the three hits of 10 by claim and fee line; a missing line number last
    assert list(ordered.claim_id) == ["C9", "C1", "C1", "C2", "C3", "C4"]
    assert list(ordered.line_no[:5]) == [1.0, 1.0, 2.0, 1.0, 1.0] and pd.isna(ordered.line_no[5])
    assert list(ordered.index) == list(range(6))


def test_each_leads_hits_are_summarised_with_claims_capped_in_hit_order():
    hits = ordered_hits(_hits())
    leads = pd.Index(["P2", "P1", "P5"])
    mine = _unchanged(lambda: leads_hits(hits, "patient_id", leads), hits)
    assert list(mine.patient_id) == ["P1", "P1", "P1", "P1", "P2"]  # P9 is no lead
    summary = _unchanged(lambda: hit_summary(mine, "patient_id", leads), mine)
    assert list(summary.index) == ["P2", "P1", "P5"]  # the leads' order
    assert summary.to_dict("index") == {
        "P2": {"rule_hits": 1, "rule_ids": "R2", "rule_amount": 1.0, "evidence_claims": "C4"},
        "P1": {
            "rule_hits": 4,
            "rule_ids": "R1,R2",
            "rule_amount": 35.0,
            "evidence_claims": "C1,C2,C3",  # distinct, largest amounts first
        },
        "P5": {"rule_hits": 0, "rule_ids": "", "rule_amount": 0.0, "evidence_claims": ""},
    }
    capped = hit_summary(mine, "patient_id", leads, cap=2)
    assert capped.evidence_claims["P1"] == "C1,C2"
    # hits without the leads' key concern none of them
    assert leads_hits(hits.drop(columns="patient_id"), "patient_id", leads).empty
    assert hit_summary(hits.iloc[0:0], "patient_id", leads).rule_hits.tolist() == [0, 0, 0]


def test_the_evidence_sheet_names_the_lead_of_each_hit():
    hits = ordered_hits(_hits()).assign(
        provider_id=None, doctor_id=None, result="definite", severity="high", occurred=None
    )
    hits = hits.assign(message_zh="", message_en="", evidence="")
    mine = leads_hits(hits, "patient_id", pd.Index(["P2", "P1"]))
    sheet = _unchanged(lambda: evidence_sheet("patient", mine, "patient_id"), mine)
    assert list(sheet.columns) == EVIDENCE_COLUMNS
    assert list(sheet.lead_type.unique()) == ["patient"]
    assert list(sheet.lead_id) == ["P1", "P1", "P1", "P1", "P2"]  # the hits' order
    assert list(sheet.claim_id) == ["C1", "C1", "C2", "C3", "C4"]


# ----------------------------------------------------------------------------- composed


def _priced(t):
    # C1's XA01 (30.25) is above a cap of 30: one definite CAT-PRICE hit for patient 001
    t["catalog"] = [catalog_item("XA01", "western_drug", price_cap=30)]
    t["catalog"].append(catalog_item("LB01", "lab"))


@pytest.mark.parametrize(
    ("capacity", "definite_leads", "tiers_by_rank", "leads"),
    [
        (0, True, ["C", "C"], ["001"]),  # beyond the capacity, but a definite violation
        (0, False, ["C", "C"], []),
        (1, False, ["A", "B"], ["001"]),  # the rule part lifts 001 above 002
        (2, True, ["A", "A"], ["001", "002"]),
    ],
)
def test_score_period_composes_the_steps(
    make_dataset, capacity, definite_leads, tiers_by_rank, leads
):
    model = _stub_model(["n_claims"])
    with load_dataset(make_dataset(_priced)) as ds:
        result = pipeline.score_period(
            ds,
            Window(),
            load_rule_base(None),
            {"patient": model},
            {"patient": "m@1"},
            {"patient": capacity},
            definite_leads=definite_leads,
        )
    by_rank = result.scores.sort_values("rank")
    assert list(by_rank.entity_id) == ["001", "002"] and list(by_rank.tier) == tiers_by_rank
    if not leads:
        assert result.leads.empty and result.evidence.empty and result.explained == {}
        return
    assert list(result.leads.entity_id) == leads and list(result.leads.columns) == LEAD_COLUMNS
    first = result.leads.iloc[0]
    assert (first.rule_ids, first.rule_amount, first.evidence_claims) == ("CAT-PRICE", 0.5, "C1")
    assert result.explained == {"patient": "half the inputs"}
    assert list(result.evidence.lead_id) == ["001"] and list(result.evidence.claim_id) == ["C1"]


def test_the_pipeline_keeps_the_names_callers_import():
    for name in ("ScoreResult", "score_period", "check_inputs", "check_feature_set"):
        assert hasattr(pipeline, name)
    for name in ("check_currency", "evidence_claims", "ordered_hits", "tier"):
        assert hasattr(pipeline, name)
    assert pipeline.MAX_EVIDENCE_CLAIMS == 20
