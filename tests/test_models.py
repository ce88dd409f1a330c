"""Models: scikit-learn conventions, metrics on hand-built rankings, time splits, labels as
of UNTIL, reproducibility, every config instantiates, and the champion alias."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from sklearn.utils.estimator_checks import parametrize_with_checks

from fraudml import load_dataset
from fraudml.cli.main import main
from fraudml.config import register
from fraudml.evaluate.metrics import precision_recall_at_k, ranking_metrics, recall_at_k_by_scheme
from fraudml.features import FEATURE_SET_VERSION
from fraudml.models import ProfileIsolationForest, RiskClassifier, SignalExtremes, frames
from fraudml.models.frames import label_free_frames, labels_as_of
from fraudml.models.risk import fit_entity, score_frame
from fraudml.models.training import time_split, train_and_evaluate
from fraudml.paths import conf_dir
from fraudml.workflows import load_rule_base
from tests.conftest import SOME_RULES, some_rules_override

ROOT = Path(__file__).resolve().parents[1]


@parametrize_with_checks(
    [
        ProfileIsolationForest(n_estimators=20, random_state=0),
        SignalExtremes(),
        RiskClassifier(n_estimators=30, early_stopping_rounds=0, calibration=None, random_state=0),
        RiskClassifier(n_estimators=30, early_stopping_rounds=5, random_state=0),
    ],
    expected_failed_checks=lambda est: (
        {
            "check_class_weight_classifiers": "early stopping and calibration hold out the "
            "last quarter of the rows, which the check's accuracy threshold does not expect"
        }
        if isinstance(est, RiskClassifier) and est.early_stopping_rounds
        else {}
    ),
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_precision_and_recall_at_k_on_a_hand_built_ranking():
    y = np.array([1, 0, 1, 0, 0, 1])
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.05])
    assert precision_recall_at_k(y, score, 2) == (0.5, 1 / 3)
    assert precision_recall_at_k(y, score, 3) == (2 / 3, 2 / 3)
    m = ranking_metrics(y, score, 3)
    assert m["ap"] == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    assert (m["positives"], m["n"], m["k"]) == (3, 6, 3)
    schemes = pd.Series(["a", None, "b", None, None, "b"])
    assert recall_at_k_by_scheme(y, score, schemes, 3) == {"a": 1.0, "b": 0.5}
    # ties keep their order: the first of two equal scores ranks first
    assert precision_recall_at_k(np.array([0, 1]), np.array([0.5, 0.5]), 1) == (0.0, 0.0)


def test_time_split_dates_and_refusal():
    s = time_split(
        datetime(2024, 1, 1, 8),
        datetime(2024, 12, 31, 22),
        None,
        validation_days=60,
        gap_days=10,
        eval_days=None,
    )
    assert s.as_dict() == {
        "start": "2024-01-01",
        "fit_end": "2024-06-22",  # 60 validation days before label_end
        "label_end": "2024-08-21",  # 10 days of label delay before UNTIL
        "until": "2024-08-31",  # two thirds into the period
        "eval_end": None,
    }
    with pytest.raises(ValueError, match="leaves no fitting window"):
        time_split(
            datetime(2024, 1, 1),
            datetime(2024, 3, 1),
            datetime(2024, 2, 1),
            validation_days=60,
            gap_days=0,
            eval_days=None,
        )


def test_labels_are_used_only_as_of_their_decision_date():
    labels = pd.DataFrame(
        {
            "entity_type": ["patient", "patient", "patient", "claim", "patient"],
            "entity_id": ["A", "B", "C", "A", "D"],
            "label": [1, 1, 0, 1, 1],
            "scheme": ["x", "y", None, "z", "w"],
            "decided_at": ["2024-05-01", "2024-09-01", "2024-01-01", "2024-01-01", None],
        }
    )
    known = labels_as_of(labels, "patient", datetime(2024, 6, 1))
    assert list(known.index) == ["A"]  # B decided later, C negative, D undated
    assert sorted(labels_as_of(labels, "patient", None).index) == ["A", "B", "D"]
    assert list(labels_as_of(labels, "stay", datetime(2024, 6, 1)).index) == ["A"]


def _fit_small(seed: int):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    frame["rule_severity_score"] = 0.0
    y = pd.Series((frame.a + rng.normal(scale=0.5, size=300) > 1.2).astype(int))
    return frame, y


def test_rule_hits_lift_the_risk_and_scores_are_reproducible():
    frame, y = _fit_small(1)
    kwargs = dict(
        anomaly=ProfileIsolationForest(n_estimators=50, random_state=3),
        supervised=RiskClassifier(n_estimators=60, random_state=3),
        features=["a", "b", "c"],
        anomaly_features=["a", "b", "c"],
        min_positives=5,
        feature_set_version="t",
    )
    one = fit_entity("patient", frame[:200], y[:200], frame[200:], y[200:], **kwargs)
    two = fit_entity("patient", frame[:200], y[:200], frame[200:], y[200:], **kwargs)
    pd.testing.assert_frame_equal(score_frame(one, frame), score_frame(two, frame))
    lifted = frame.assign(rule_severity_score=1.0)
    base, up = score_frame(one, frame), score_frame(one, lifted)
    assert (up.risk > base.risk).all()
    # one definite high-severity hit: rule part 1 − e⁻¹, lifting by half of it, beside the
    # supervised and anomaly channels (the noisy-OR of models/fusion.py)
    kept = (1 - base.supervised) * (1 - base.anomaly_part)
    expected = 1 - kept * (1 - 0.5 * (1 - np.exp(-1.0)))
    np.testing.assert_allclose(up.risk, expected, rtol=1e-12)


def test_too_few_positives_leave_the_anomaly_score_to_rank():
    frame, y = _fit_small(2)
    model = fit_entity(
        "doctor",
        frame[:200],
        pd.Series(0, index=frame.index[:200]),
        frame[200:],
        y[200:],
        anomaly=ProfileIsolationForest(n_estimators=20, random_state=0),
        supervised=RiskClassifier(),
        features=["a"],
        anomaly_features=["a", "b"],
        min_positives=5,
        feature_set_version="t",
    )
    assert model.supervised is None and "0 labelled positives" in model.note
    scored = score_frame(model, frame)
    assert scored.supervised.isna().all()
    assert np.all(np.diff(scored.sort_values("anomaly_score").risk.to_numpy()) >= 0)


@pytest.mark.parametrize("group", ["model", "anomaly"])
def test_every_model_config_composes_and_instantiates(group):
    register()
    names = sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))
    assert names
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        for name in names:
            cfg = compose(config_name="train", overrides=[f"{group}={name}"])
            est = instantiate(cfg[group], _convert_="all")
            assert hasattr(est, "risk_score") and est.get_params()["random_state"] == cfg.seed


def _small_training(root: Path):
    rules = load_rule_base(SOME_RULES)  # labels are the subject here, not the rules
    with load_dataset(root, memory_limit="1GB") as ds:
        split = time_split(
            datetime(2024, 1, 1),
            datetime(2024, 12, 31),
            datetime(2024, 9, 1),
            validation_days=60,
            gap_days=0,
            eval_days=None,
        )
        return train_and_evaluate(
            ds,
            rules,
            split,
            anomaly=ProfileIsolationForest(n_estimators=50, random_state=7),
            supervised=RiskClassifier(n_estimators=80, random_state=7),
            capacity={"patient": 50, "provider": 5, "doctor": 10, "stay": 20, "visit": 100},
            min_positives=10,
        )


@pytest.mark.slow
def test_a_label_decided_after_until_changes_nothing(city_root, tmp_path, monkeypatch):
    """Same data, seed and config give identical scores; labels decided after UNTIL are
    invisible to training, while the same labels dated before UNTIL do change it.

    The three datasets differ only in their labels, so each window's label-free frames
    (profiles, rule aggregates, network) are built once and shared; everything that
    reads labels (the group-label share, the fit, the evaluation) runs on each dataset's
    own."""
    built: dict = {}

    def label_free_once(ds, window, rules):
        if window not in built:
            built[window] = label_free_frames(ds, window, rules)
        return built[window]

    monkeypatch.setattr(frames, "label_free_frames", label_free_once)
    reference = _small_training(city_root)
    labels = pd.read_parquet(city_root / "labels.parquet")
    labelled = set(labels[labels.entity_type == "patient"].entity_id)
    fresh = [p for p in reference.scores["patient"].index if p not in labelled][:40]

    def with_labels(decided: str) -> Path:
        root = tmp_path / decided
        shutil.copytree(city_root, root)
        extra = pd.DataFrame(
            {
                "entity_type": "patient",
                "entity_id": fresh,
                "label": 1,
                "scheme": "late",
                "decided_at": pd.Timestamp(decided).date(),
                "source": "test",
            }
        )
        pd.concat([labels, extra]).to_parquet(root / "labels.parquet", index=False)
        return root

    late = _small_training(with_labels("2024-10-15"))
    early = _small_training(with_labels("2024-05-15"))
    for entity, scores in reference.scores.items():
        cols = ["anomaly_score", "supervised", "risk"]
        pd.testing.assert_frame_equal(scores[cols], late.scores[entity][cols])
    changed = ~np.isclose(reference.scores["patient"].risk, early.scores["patient"].risk)
    assert changed.any()


@pytest.fixture(scope="module")
def server_store(city_root, tmp_path_factory) -> tuple[str, Path]:
    """One training of the committed city into a tracking server's store
    (``MLFLOW_TRACKING_URI``, here SQLite), as an operator's shell would name it, and its
    folder. The registration test reads it and the scoring test scores from its
    champions; the registration test's promotions re-log the same patient model, so the
    scores do not depend on which runs first."""
    root = tmp_path_factory.mktemp("server-store")
    uri = f"sqlite:///{root / 'server.db'}"
    args = [
        "train",
        f"data.path={city_root}",
        f"train.store={root / 'unused'}",
        f"train.out={root / 'out'}",
        "anomaly.n_estimators=50",
        "model.n_estimators=80",
        some_rules_override(),  # registration and outputs are the subject, not the rules
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        assert main(args) == 0
    return uri, root


@pytest.mark.slow
def test_train_command_registers_champions_in_the_given_tracking_store(server_store):
    import mlflow
    from mlflow.tracking import MlflowClient

    from fraudml.tracking import mlflow_store as store

    uri, root = server_store
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    ns = store.namespace()  # the default namespace, whatever the data's folder
    for entity in ("patient", "stay", "visit", "provider", "doctor"):
        version = client.get_model_version_by_alias(store.model_name(ns, entity), "champion")
        assert (
            str(version.version) == "1"
            and version.tags["feature_set_version"] == FEATURE_SET_VERSION
        )
    run = mlflow.search_runs(experiment_names=["fraudml"]).iloc[0]
    assert run["tags.dataset_fingerprint"] and run["params.model.num_leaves"] == "31"
    assert run["metrics.eval/patient/risk/ap"] > run["metrics.eval/patient/anomaly/ap"]
    assert run["metrics.eval/claim/risk/ap"] > 0  # claims: stays and visits on one scale
    # each logged model carries its own entity type's evaluation, no other's
    for entity in ("patient", "stay", "visit", "provider", "doctor"):
        version = client.get_model_version_by_alias(store.model_name(ns, entity), "champion")
        model_id = version.tags[store.LOGGED_MODEL_TAG]
        logged = {m.key: m.value for m in mlflow.get_logged_model(model_id).metrics}
        assert logged and [k for k in logged if not k.startswith(f"eval/{entity}/")] == [], entity
        assert logged[f"eval/{entity}/risk/ap"] == run[f"metrics.eval/{entity}/risk/ap"]
    assert not (root / "unused").exists()  # the variable's store was used
    # the database's artifacts are beside it, not under the folder the command ran in
    assert (root / "artifacts").is_dir()
    assert mlflow.get_experiment_by_name("fraudml").artifact_location == (
        (root / "artifacts").resolve().as_uri()
    )
    # the pip requirements are named, LightGBM's booster among them, at installed versions
    from importlib.metadata import version as installed

    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{store.model_name(ns, 'stay')}/1"))
    pins = (folder / "requirements.txt").read_text(encoding="utf-8").split()
    assert {f"lightgbm=={installed('lightgbm')}", f"fraudml=={installed('fraudml')}"} <= set(pins)

    # the champion moves only on improvement, or when forced
    name = store.model_name(ns, "patient")
    model, version = store.load_champion(name)
    assert model.entity == "patient" and version == "1"
    frame = pd.DataFrame({c: [0.0, 1.0] for c in model.inputs})
    mlflow.set_experiment("fraudml")  # not the default experiment, whose artifacts are ./mlruns
    with mlflow.start_run():
        worse = store.log_entity_model(model, frame, name, metric=0.01)
        assert store.promote(name, worse, 0.01)[0] is False
        better = store.log_entity_model(model, frame, name, metric=0.999)
        assert store.promote(name, better, 0.999)[0] is True
        forced = store.log_entity_model(model, frame, name, metric=0.5)
        assert store.promote(name, forced, 0.5)[0] is False
        assert store.promote(name, forced, 0.5, force=True)[0] is True
    assert str(client.get_model_version_by_alias(name, "champion").version) == forced
    assert ns == "default" and store.namespace("city 2024/11") == "city-2024-11"
    # the forced patient version is its champion; the other types keep their first
    assert store.namespaces() == {
        "default": {
            e: (forced if e == "patient" else "1")
            for e in ("doctor", "patient", "provider", "stay", "visit")
        }
    }


@pytest.mark.slow
def test_cross_validation_mode_scores_every_entity_out_of_fold(city_root):
    from fraudml.models.training import cross_validate

    with load_dataset(city_root, memory_limit="1GB") as ds:
        result = cross_validate(
            ds,
            load_rule_base(SOME_RULES),
            folds=3,
            seed=5,
            anomaly=ProfileIsolationForest(n_estimators=30, random_state=5),
            supervised=RiskClassifier(n_estimators=60, random_state=5),
            capacity={"patient": 50, "provider": 5, "doctor": 10, "stay": 20, "visit": 100},
            min_positives=10,
        )
    assert result.mode == "cv" and result.split is None
    patient = result.scores["patient"]
    # every patient, labelled ones included, got a score from models that did not see its
    # label (labels without dates count here: that is what the mode is for)
    labels = pd.read_parquet(city_root / "labels.parquet")
    positives = set(labels[(labels.entity_type == "patient") & (labels.label == 1)].entity_id)
    assert patient.risk.notna().all()
    assert patient.label.sum() == len(positives & set(patient.index)) > 90
    m = result.metrics.set_index(["entity", "method"])
    assert m.loc[("patient", "risk"), "ap"] > m.loc[("patient", "baseline_fund_paid"), "ap"]
    assert set(result.models) == {"patient", "stay", "visit", "provider", "doctor"}


def test_rule_lift_is_chosen_on_the_later_slice():
    """Asked to choose (cross-validation), rules that fire on the held-out negatives get no
    weight and rules that fire on its positives keep the full lift; by default (time-based
    training) the lift stays 0.5."""
    frame, y = _fit_small(4)
    kwargs = dict(
        anomaly=ProfileIsolationForest(n_estimators=30, random_state=3),
        supervised=RiskClassifier(n_estimators=60, random_state=3),
        features=["b", "c"],  # the signal (a) is left out: the model alone ranks poorly
        anomaly_features=["b", "c"],
        min_positives=5,
        feature_set_version="t",
        rule_lift=None,
    )
    later = frame[200:].copy()
    misleading = later.assign(rule_severity_score=np.where(y[200:] == 0, 3.0, 0.0))
    model = fit_entity("patient", frame[:200], y[:200], misleading, y[200:], **kwargs)
    assert model.rule_lift == 0.0
    telling = later.assign(rule_severity_score=np.where(y[200:] == 1, 3.0, 0.0))
    model = fit_entity("patient", frame[:200], y[:200], telling, y[200:], **kwargs)
    assert model.rule_lift == 0.5
    kwargs["rule_lift"] = 0.5
    model = fit_entity("patient", frame[:200], y[:200], misleading, y[200:], **kwargs)
    assert model.rule_lift == 0.5


def test_checked_entities_only_when_labels_hold_negatives():
    from fraudml.models.frames import checked_entities

    labels = pd.DataFrame(
        {
            "entity_type": ["provider", "provider", "patient"],
            "entity_id": ["P1", "P2", "A"],
            "label": [1, 0, 1],
        }
    )
    assert sorted(checked_entities(labels, "provider")) == ["P1", "P2"]
    assert checked_entities(labels, "patient") is None  # positives only: unlabelled = clean
    assert checked_entities(None, "provider") is None


@pytest.mark.slow
def test_score_command_writes_the_contract_outputs_atomically(
    city_root, server_store, tmp_path, monkeypatch
):
    uri, _ = server_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    rules = some_rules_override()  # the outputs are the subject here, not the rules
    score = [
        "score",
        f"data.path={city_root}",
        "period.start=2024-11-01",
        "period.end=2024-12-01",
        rules,
    ]
    out = tmp_path / "out"

    def fail(*args, **kwargs):
        raise RuntimeError("killed mid-way")

    monkeypatch.setattr("fraudml.workflows.scoring.write_xlsx", fail)
    # Hydra reports the error; a failure that is no user's mistake exits 1, not 2
    assert main([*score, f"out={out}"]) == 1
    assert not out.exists()  # an interrupted run leaves no output directory
    monkeypatch.undo()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("FRAUDML_PSEUDONYM_SALT", "not-in-the-report")
    assert main([*score, f"out={out}", "report.pseudonymise=true", "report.lang=en"]) == 0
    scores = pd.read_parquet(out / "scores.parquet")
    leads = pd.read_parquet(out / "leads.parquet")
    assert {"entity_type", "entity_id", "score", "rank"} <= set(scores.columns)
    assert {"entity_type", "entity_id", "score", "rank", "model"} <= set(leads.columns)
    for _, g in scores.groupby("entity_type"):
        assert sorted(g["rank"]) == list(range(1, len(g) + 1))
        by_rank = g.sort_values("rank")
        # rank follows the score, but for the capacity's reserve, which follows novelty
        assert by_rank[~by_rank.reserve].score.is_monotonic_decreasing
        assert by_rank[by_rank.reserve].novelty.is_monotonic_decreasing
    reserved = scores[scores.reserve]
    assert set(reserved.entity_type) >= {"patient", "claim"}  # 30 of 100, 75 of 250
    sizes = reserved.groupby("entity_type").size()
    assert sizes.get("patient", 0) <= 30 and sizes.get("claim", 0) <= 75
    patients = leads[leads.entity_type == "patient"].entity_id
    assert len(patients) and patients.str.fullmatch(r"P[0-9a-f]{16}").all()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["pseudonymised"] and "not-in-the-report" not in json.dumps(manifest)
    assert set(manifest["models"]) == {"patient", "stay", "visit", "provider", "doctor"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "not-in-the-report" not in html and leads.entity_id.iloc[0] in html
    assert pd.read_csv(out / "leads.csv").shape[0] == len(leads)
    # the labels' vocabulary: stays and visits are claims, ranked on one scale; groups
    # are the network's leads
    assert set(scores.entity_type) == {"patient", "claim", "provider", "doctor", "group"}
    claims = scores[scores.entity_type == "claim"]
    assert set(claims.claim_kind) == {"stay", "visit"}
    assert scores[scores.entity_type != "claim"].claim_kind.isna().all()
    assert claims.entity_id.is_unique
    # leads are bounded by the capacity per lead type (claims: stays' + visits')
    per_type = leads.groupby("entity_type").size().to_dict()
    assert per_type["claim"] <= 50 + 200 and per_type["patient"] <= 100
    assert per_type.get("provider", 0) <= 5 and per_type.get("doctor", 0) <= 20
    assert 0 < per_type["group"] <= 10
    # group leads: their members (patients pseudonymised, like the group ids) and proof
    groups = pd.read_parquet(out / "groups.parquet")
    chosen = set(leads[leads.entity_type == "group"].entity_id)
    assert set(groups.group_id) == chosen and all(g.startswith("G") for g in chosen)
    members = groups[groups.member_type == "patient"]
    assert members.member_id.str.fullmatch(r"P[0-9a-f]{16}").all()
    proof = pd.read_parquet(out / "group_evidence.parquet")
    assert set(proof.group_id) <= chosen and proof.patient_id.str.startswith("P").all()
    # definite violations: their own output and sheets, not leads
    violations = pd.read_parquet(out / "violations.parquet")
    assert len(violations) == manifest["rows"]["violations"] > 0
    assert violations.patient_id.str.fullmatch(r"P[0-9a-f]{16}").all()  # pseudonymised
    sheets = pd.read_excel(out / "report.xlsx", sheet_name=None)
    assert {"leads", "evidence", "violations", "deductions"} <= set(sheets)
    deductions = sheets["deductions"]
    assert round(deductions.amount.sum(), 2) == manifest["deductions"]["amount"]
    assert "Deduction list" in html
    # report v2: summary first, money at stake, distinct ranks, tiers from risk and money,
    # the pseudonym note, and a PDF case pack per top provider lead
    assert html.index('id="summary"') < html.index('class="lead"') and "pseudonyms" in html
    assert {"money_at_stake", "model_amount", "rule_amount"} <= set(leads.columns)
    assert all(g["rank"].is_unique for _, g in leads.groupby("entity_type"))
    assert not ((leads.score < 0.2) & (leads.rule_amount < 1000) & (leads.tier != "C")).any()
    packs = sorted(p.name for p in (out / "casepacks").glob("*.pdf"))
    assert packs == sorted(manifest["case_packs"]) and len(packs) == min(10, per_type["provider"])
    assert all((out / "casepacks" / p).read_bytes().startswith(b"%PDF") for p in packs)
