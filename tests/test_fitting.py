"""Fitting apart from evaluation: the shared skeleton's order and network hand-over, and
evaluation as a pure function of held-out scores (exact values on hand-built frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudml.models.evaluation import baseline_scores, evaluate, evaluate_entity
from fraudml.models.fitting import EntityFit, fit_in_order
from fraudml.models.risk import EntityModel


def _model(entity: str, note: str = "") -> EntityModel:
    return EntityModel(
        entity=entity,
        anomaly=None,  # type: ignore[arg-type]  (never called here)
        anomaly_features=[],
        anomaly_reference=(0.0, 1.0),
        supervised=None,
        features=[],
        feature_set_version="test",
        note=note,
    )


def _scores(frame: pd.DataFrame, risk: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "anomaly_score": risk,
            "anomaly_level": risk,
            "supervised": np.nan,
            "rule_part": 0.0,
            "risk": risk,
        },
        index=frame.index,
    )


@pytest.fixture
def window():
    visits = pd.DataFrame(
        {"provider_id": ["H1", "H1", "H2"], "patient_id": ["p1", "p2", "p2"]},
        index=pd.Index(["v1", "v2", "v3"], name="claim_id"),
    )
    patients = pd.DataFrame({"n_claims": [1, 2]}, index=pd.Index(["p1", "p2"]))
    providers = pd.DataFrame({"n_claims": [2, 1]}, index=pd.Index(["H1", "H2"]))
    return {"patient": patients, "visit": visits, "provider": providers}


def test_skeleton_fits_in_vocabulary_order_and_hands_scores_to_owners(window):
    risk = {"patient": [0.2, 0.6], "visit": [0.1, 0.5, 0.9], "provider": [0.3, 0.4]}
    seen: list[tuple[str, pd.DataFrame]] = []

    def fitter(entity, frames):
        frame = frames["w"]
        seen.append((entity, frame))
        held = _scores(frame, risk[entity])
        return EntityFit(_model(entity), frame, held, {"w": held})

    before = {e: f.copy() for e, f in window.items()}
    fits, frames = fit_in_order({"w": window}, fitter)

    assert [e for e, _ in seen] == ["patient", "visit", "provider"]
    assert list(fits) == ["patient", "visit", "provider"]
    provider = dict(seen)["provider"]
    # H1's visits have risk 0.1 and 0.5; its patients p1 and p2 have 0.2 and 0.6
    assert provider.loc["H1", "net_claim_risk"] == pytest.approx(0.3)
    assert provider.loc["H1", "net_claim_risk_high"] == pytest.approx(0.5)
    assert provider.loc["H1", "net_patient_risk"] == pytest.approx(0.4)
    assert provider.loc["H2", "net_claim_risk"] == pytest.approx(0.9)
    assert provider.loc["H2", "net_patient_risk"] == pytest.approx(0.6)
    assert "net_claim_risk" in frames["w"]["provider"]
    # the caller's frames are left as they were
    for entity, frame in window.items():
        pd.testing.assert_frame_equal(frame, before[entity])


def test_a_type_its_fitter_skips_is_left_out(window):
    def fitter(entity, frames):
        if entity == "visit":
            return None
        frame = frames["w"]
        return EntityFit(_model(entity), frame, _scores(frame, [0.5] * len(frame)), {})

    fits, _ = fit_in_order({"w": window}, fitter)
    assert list(fits) == ["patient", "provider"]


def test_evaluation_judges_every_ranking_with_exact_values():
    frame = pd.DataFrame(
        {
            "fund_paid": [10.0, 40.0, 30.0, 20.0],
            "n_claims": [4, 3, 2, 1],
            "rule_severity_score": [0.0, 1.0, 0.0, 0.0],
        },
        index=pd.Index(["a", "b", "c", "d"]),
    )
    held = _scores(frame, [0.9, 0.8, 0.1, 0.2])
    fit = EntityFit(_model("patient"), frame, held, {})
    hindsight = pd.DataFrame({"label": [1, 1], "scheme": ["phantom", "gang"]}, index=["a", "c"])

    metrics, schemes, labelled = evaluate_entity("patient", fit, hindsight, k=2)

    by_method = metrics.set_index("method")
    assert list(by_method.index) == [
        "leads",
        "risk",
        "anomaly",
        "rules",
        "baseline_fund_paid",
        "baseline_claim_count",
    ]
    # risk ranks a, b, d, c: positives at 1 and 4 → AP (1/1 + 2/4) / 2
    assert by_method.loc["risk", "ap"] == pytest.approx(0.75)
    # without a reserve the lead order is the risk order
    assert by_method.loc["leads", "ap"] == pytest.approx(0.75)
    # claim count ranks a, b, c, d: positives at 1 and 3 → AP (1 + 2/3) / 2
    assert by_method.loc["baseline_claim_count", "ap"] == pytest.approx(5 / 6)
    assert by_method.loc["risk", "recall_at_k"] == pytest.approx(0.5)
    recall = schemes[schemes.method == "risk"].set_index("scheme").recall_at_k
    assert recall.to_dict() == {"gang": 0.0, "phantom": 1.0}
    assert labelled.label.tolist() == [1, 0, 1, 0]
    assert labelled.scheme.isna().tolist() == [False, True, False, True]
    assert labelled.scheme.dropna().tolist() == ["phantom", "gang"]
    assert "label" not in held  # the fit's own scores are not changed


def test_evaluate_gathers_every_entity_and_uses_the_capacity():
    frame = pd.DataFrame(
        {"fund_paid": [1.0, 2.0, 3.0], "n_claims": [1, 1, 1], "rule_severity_score": 0.0},
        index=pd.Index(["x", "y", "z"]),
    )
    fits = {"patient": EntityFit(_model("patient"), frame, _scores(frame, [0.3, 0.2, 0.1]))}
    labels = pd.DataFrame(
        {
            "entity_type": ["patient"],
            "entity_id": ["z"],
            "label": [1],
            "scheme": ["s"],
            "decided_at": ["2024-01-01"],
        }
    )
    one = evaluate(fits, labels, {"patient": 1})
    three = evaluate(fits, labels, {"patient": 3})
    risk1 = one.metrics.set_index("method").loc["risk"]
    risk3 = three.metrics.set_index("method").loc["risk"]
    assert (risk1.k, risk1.recall_at_k) == (1, 0.0)
    assert (risk3.k, risk3.recall_at_k) == (3, 1.0)
    assert one.scores["patient"].label.tolist() == [0, 0, 1]


def test_baselines_come_from_the_vocabulary():
    frame = pd.DataFrame({"n_claims": [2, 3], "cost_per_visit": [5.0, 1.0]}, index=["d1", "d2"])
    out = baseline_scores(frame, "doctor")
    assert out["baseline_fees"].tolist() == [10.0, 3.0]
    assert out["baseline_claim_count"].tolist() == [2, 3]
    assert set(baseline_scores(frame[["n_claims"]], "doctor")) == {"baseline_claim_count"}


def test_a_withheld_scheme_is_neither_positive_nor_negative_in_fitting(monkeypatch):
    import fraudml.models.fitting as fitting

    labels = pd.DataFrame(
        {
            "entity_type": ["patient", "patient", "claim", "patient"],
            "entity_id": ["a", "b", "a", "c"],
            "label": [1, 1, 1, 0],
            "scheme": ["card_lending", "phantom_billing", "card_lending", "card_lending"],
            "decided_at": ["2024-01-01"] * 4,
        }
    )
    assert list(fitting.withheld_entities(labels, "patient", ["card_lending"])) == ["a"]
    assert list(fitting.withheld_entities(labels, "stay", ["card_lending"])) == ["a"]
    assert fitting.withheld_entities(labels, "patient", []).empty

    seen = {}

    def fake_fit_entity(entity, fit, y_fit, later, y_later, **kw):
        seen.update(fit=list(fit.index), y_fit=list(y_fit), later=list(later.index))
        return _model(entity)

    monkeypatch.setattr(fitting, "fit_entity", fake_fit_entity)
    monkeypatch.setattr(fitting, "model_columns", lambda frame, entity: ([], []))
    monkeypatch.setattr(
        fitting, "score_frame", lambda model, frame: _scores(frame, [0.0] * len(frame))
    )
    frame = pd.DataFrame(
        {"x": [1, 2, 3, 4], "rule_severity_score": 0.0}, index=pd.Index(["a", "b", "c", "d"])
    )
    from datetime import datetime

    fitter = fitting.time_fitter(labels, datetime(2025, 1, 1), withhold=["card_lending"])
    fit = fitter("patient", {"fit": frame, "later": frame, "evaluation": frame})
    assert seen == {"fit": ["b", "c", "d"], "y_fit": [1, 0, 0], "later": ["b", "c", "d"]}
    assert list(fit.heldout.index) == ["a", "b", "c", "d"]  # still scored and judged
    assert list(fit.window_scores["fit"].index) == ["a", "b", "c", "d"]


def test_claims_of_both_kinds_are_judged_on_one_scale():
    from fraudml.models.evaluation import evaluate_claims

    stays = pd.DataFrame(
        {"rule_severity_score": [0.0, 2.0], "fund_paid": [900.0, 100.0]},
        index=pd.Index(["s1", "s2"]),
    )
    visits = pd.DataFrame(
        {"rule_severity_score": [1.0, 0.0, 0.0], "fund_paid": [50.0, 20.0, 10.0]},
        index=pd.Index(["v1", "v2", "v3"]),
    )
    labelled = {
        "stay": _scores(stays, [0.9, 0.2]).assign(label=[1, 0], scheme=["fake", None]),
        "visit": _scores(visits, [0.5, 0.95, 0.1]).assign(
            label=[0, 1, 0], scheme=[None, "phantom", None]
        ),
    }
    metrics, schemes = evaluate_claims(labelled, {"stay": stays, "visit": visits}, k=2)
    m = metrics.set_index("method")
    assert list(m.index) == ["leads", "risk", "rules", "baseline_fund_paid"]
    assert set(metrics.entity) == {"claim"}
    # risk ranks v2, s1, v1, s2, v3: both positives in the top two
    assert (m.loc["risk", "ap"], m.loc["risk", "recall_at_k"]) == (1.0, 1.0)
    assert (m.loc["risk", "positives"], m.loc["risk", "n"]) == (2, 5)
    # fund paid ranks s1, s2, v1, v2, v3: positives at 1 and 4
    assert m.loc["baseline_fund_paid", "ap"] == pytest.approx((1 + 2 / 4) / 2)
    risk = schemes[schemes.method == "risk"].set_index("scheme").recall_at_k.to_dict()
    assert risk == {"fake": 1.0, "phantom": 1.0}


def test_the_lead_order_reserves_a_share_of_the_capacity_for_label_free_evidence():
    frame = pd.DataFrame(
        {"fund_paid": [1.0, 2.0, 3.0, 4.0], "n_claims": 1, "rule_severity_score": 0.0},
        index=pd.Index(["a", "b", "c", "d"]),
    )
    held = _scores(frame, [0.9, 0.8, 0.7, 0.1]).assign(novelty=[0.0, 0.0, 0.1, 0.95])
    fit = EntityFit(_model("patient"), frame, held, {})
    # d is the unlabelled scheme: lowest risk, strongest label-free evidence
    hindsight = pd.DataFrame({"label": [1, 1], "scheme": ["known", "new"]}, index=["a", "d"])

    _, plain_schemes, _ = evaluate_entity("patient", fit, hindsight, k=2)
    reserved, schemes, _ = evaluate_entity("patient", fit, hindsight, k=2, explore_share=0.5)

    recall = schemes[schemes.method == "leads"].set_index("scheme").recall_at_k
    assert recall.to_dict() == {"known": 1.0, "new": 1.0}  # a, then d by the reserve
    before = plain_schemes[plain_schemes.method == "leads"].set_index("scheme").recall_at_k
    assert before.to_dict() == {"known": 1.0, "new": 0.0}
    # the order a, d, b, c puts both positives first; risk alone a, b, c, d: (1 + 2/4) / 2
    by_method = reserved.set_index("method")
    assert by_method.loc["leads", "ap"] == pytest.approx(1.0)
    assert by_method.loc["risk", "ap"] == pytest.approx(0.75)
