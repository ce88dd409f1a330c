"""Training and scoring under hostile ids, empty periods and splits, concurrent and
interrupted trainings, other currencies, missing entity types and repeated runs."""

from __future__ import annotations

import csv
import fcntl
import json
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import mlflow
import numpy as np
import openpyxl
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from fraudml import load_dataset
from fraudml.cli.main import main
from fraudml.errors import ModelError, NothingToScoreError, TrainingError
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.models import ProfileIsolationForest, RiskClassifier
from fraudml.models.frames import entity_frames, model_columns
from fraudml.models.risk import ANOMALY, EntityModel, fit_entity
from fraudml.models.training import check_time_split, time_split
from fraudml.report.render import render_html, write_leads_csv, write_xlsx
from fraudml.scoring.pipeline import check_currency, evidence_claims, ordered_hits, score_period
from fraudml.tracking import mlflow_store as store
from fraudml.workflows import load_rule_base
from tests.builders import claim
from tests.conftest import base_tables, some_rules_override, write_csv_dataset

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "data" / "synthetic" / "small"
NS = "reliability"
HOSTILE = '=HYPERLINK("http://x","y")'
BELL = "H\x07X"
#: the committed city's first patients: enough claims of every kind to train quickly
SUBSET_PATIENTS = 800
SCORE_PERIOD = ["period.start=2024-11-01", "period.end=2024-12-01"]


# ----------------------------------------------------------------------------- helpers


def _city_subset(root: Path, n_patients: int = SUBSET_PATIENTS) -> Path:
    """The first ``n_patients`` of the committed city with their claims and labels;
    without chronic_registrations, and without the providers' (nullable) names, so that
    the dataset carries a warning."""
    root.mkdir(parents=True)
    patients = pd.read_parquet(CITY / "patients.parquet").head(n_patients)
    claims = pd.read_parquet(CITY / "claims.parquet")
    claims = claims[claims.patient_id.isin(patients.patient_id)]
    items = pd.read_parquet(CITY / "claim_items.parquet")
    items = items[items.claim_id.isin(claims.claim_id)]
    labels = pd.read_parquet(CITY / "labels.parquet")
    keep = (
        labels.entity_type.isin(["provider", "doctor"])
        | labels.entity_id.isin(patients.patient_id)
        | labels.entity_id.isin(claims.claim_id)
    )
    tables = {"patients": patients, "claims": claims, "claim_items": items, "labels": labels[keep]}
    for name, frame in tables.items():
        frame.to_parquet(root / f"{name}.parquet", index=False)
    providers = pd.read_parquet(CITY / "providers.parquet").drop(columns="name")
    providers.to_parquet(root / "providers.parquet", index=False)
    for name in ("doctors", "catalog"):
        shutil.copy(CITY / f"{name}.parquet", root / f"{name}.parquet")
    return root


def _lock_is_held(folder: Path) -> bool:
    """Whether someone holds the store's lock (a new open file description cannot take
    it, even in the process that holds it)."""
    with open(folder / store.LOCK_FILE, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


def _score_args(data: Path, trained: dict, out: Path, *extra: str) -> list[str]:
    return [
        "score",
        f"data.path={data}",
        f"models.store={trained['store']}",
        f"models.namespace={NS}",
        f"out={out}",
        some_rules_override(),  # as the models were trained
        *extra,
    ]


def _tiny_model(entity: str) -> EntityModel:
    """A model that is never asked to score (its anomaly model is absent)."""
    return EntityModel(
        entity=entity,
        anomaly=None,  # type: ignore[arg-type]
        anomaly_features=["n_claims"],
        anomaly_reference=(0.0, 1.0),
        supervised=None,
        features=["n_claims", ANOMALY],
        feature_set_version=FEATURE_SET_VERSION,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Iterator[dict]:
    """One training of a small city subset into a local store (namespace ``NS``), with
    the registration steps and whether the store's lock was held at each recorded."""
    root = tmp_path_factory.mktemp("trained")
    data = _city_subset(root / "city")
    events: list[tuple[str, bool]] = []
    log_model, move = store.log_entity_model, store.move_champions

    def spy_log(*args, **kwargs):
        events.append(("register", _lock_is_held(root / "mlflow")))
        return log_model(*args, **kwargs)

    def spy_move(*args, **kwargs):
        events.append(("move", _lock_is_held(root / "mlflow")))
        return move(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setattr(store, "log_entity_model", spy_log)
        mp.setattr(store, "move_champions", spy_move)
        code = main(
            [
                "train",
                f"data.path={data}",
                f"train.store={root / 'mlflow'}",
                f"train.namespace={NS}",
                f"train.out={root / 'train'}",
                "anomaly.n_estimators=20",
                "model.n_estimators=20",
                some_rules_override(),  # reliability is the subject here, not the rules
            ]
        )
    assert code == 0
    yield {"root": root, "data": data, "store": root / "mlflow", "events": events}


@pytest.fixture
def local_store(trained, monkeypatch) -> MlflowClient:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{trained['store'] / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(uri, uri)


@pytest.fixture
def temp_store(tmp_path, monkeypatch) -> tuple[MlflowClient, str]:
    """An empty tracking store in ``tmp_path`` named by MLFLOW_TRACKING_URI, with the
    experiment ``fraudml``; the client and the experiment id."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment(
        "fraudml", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    return client, experiment


# ------------------------------------------- 1, 2: hostile text in the CSV and spreadsheet


def _leads(*ids: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entity_type": "provider",
            "entity_id": list(ids),
            "score": [-0.5] * len(ids),
            "rank": range(1, len(ids) + 1),
            "tier": "A",
            "model": "m@1",
            "reasons_zh": "+1 结算次数",
            "reasons_en": "-1 visits",
            "reasons_json": json.dumps({"zh": [], "en": []}),
            "rule_hits": 1,
            "rule_ids": "@SUM(A1)",
            "rule_amount": 1.0,
            "evidence_claims": "\tC1",
        }
    )


def test_leads_csv_neutralises_formulas_in_every_text_cell(tmp_path):
    path = tmp_path / "leads.csv"
    write_leads_csv(_leads(HOSTILE, "H1"), path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    assert header[:3] == ["entity_type", "entity_id", "score"]
    assert [r[1] for r in rows] == ["'" + HOSTILE, "H1"]
    first = dict(zip(header, rows[0], strict=True))
    assert first["reasons_zh"] == "'+1 结算次数" and first["reasons_en"] == "'-1 visits"
    assert first["rule_ids"] == "'@SUM(A1)" and first["evidence_claims"] == "'\tC1"
    assert first["score"] == "-0.5"  # numbers stay numbers


def test_xlsx_escapes_control_characters_visibly_and_html_stays_escaped(tmp_path):
    leads = _leads(BELL, "=\x1bX")
    evidence = pd.DataFrame(
        {
            "lead_type": ["provider"],
            "lead_id": [BELL],
            "rule_id": ["CAT-PRICE"],
            "claim_id": ["C\x00\x1f"],
            "line_no": [1],
            "amount": [1.0],
            "message_zh": ["ok\tkept"],
            "message_en": ["ok"],
        }
    )
    path = tmp_path / "r.xlsx"
    write_xlsx(leads, evidence, path)
    book = openpyxl.load_workbook(path)
    assert [c.value for c in book["leads"]["B"]] == ["entity_id", "H\\x07X", "'=\\x1bX"]
    assert book["evidence"]["D2"].value == "C\\x00\\x1f"
    assert book["evidence"]["G2"].value == "ok\tkept"  # tab is a legal character
    html = render_html(leads, evidence, {}, "en", "2024", "now")
    assert "<script" not in html and "H\x07X" in html  # the HTML escapes markup only


@pytest.mark.slow
def test_hostile_ids_are_inert_in_every_output_of_a_score(trained, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = tmp_path / "hostile"
    shutil.copytree(trained["data"], data)
    providers = pd.read_parquet(data / "providers.parquet")
    renamed = dict(zip(providers.provider_id[:2], [HOSTILE, BELL], strict=True))
    for table, column in (("providers", "provider_id"), ("claims", "provider_id")):
        frame = pd.read_parquet(data / f"{table}.parquet")
        frame[column] = frame[column].replace(renamed)
        frame.to_parquet(data / f"{table}.parquet", index=False)
    doctors = pd.read_parquet(data / "doctors.parquet")
    doctors["provider_id"] = doctors.provider_id.replace(renamed)
    doctors.to_parquet(data / "doctors.parquet", index=False)
    out = tmp_path / "out"
    args = _score_args(data, trained, out, *SCORE_PERIOD, "evaluate.capacity.provider=100")
    assert main(args) == 0
    leads = pd.read_parquet(out / "leads.parquet")
    assert {HOSTILE, BELL} <= set(leads.entity_id)  # every provider is a lead
    with open(out / "leads.csv", encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert "'" + HOSTILE in cells and BELL in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    sheet = openpyxl.load_workbook(out / "report.xlsx")["线索"]
    ids = [c.value for c in sheet["B"]]
    assert "'" + HOSTILE in ids and "H\\x07X" in ids


# --------------------------------------------------------- 3: a period without claims


def test_a_period_without_claims_stops_naming_the_data_span(make_dataset):
    with load_dataset(make_dataset()) as ds:
        window = Window(datetime(2030, 1, 1), datetime(2030, 2, 1))
        with pytest.raises(NothingToScoreError) as caught:
            score_period(ds, window, load_rule_base(None), {}, {}, {})
    assert str(caught.value) == (
        "no claims admitted in 2030-01-01 … 2030-02-01 (FROM … UNTIL); the data's claims "
        "are admitted from 2024-03-01 to 2024-03-02"
    )


@pytest.mark.slow
def test_score_of_an_empty_period_exits_2_without_output(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "out"
    period = ["period.start=2030-01-01", "period.end=2030-02-01"]
    assert main(_score_args(trained["data"], trained, out, *period)) == 2
    err = capsys.readouterr().err
    assert (
        "nothing to score: no claims admitted in 2030-01-01 … 2030-02-01 (FROM … UNTIL); "
        "the data's claims are admitted from 2024-01-01 to 2024-12-31"
    ) in err
    assert "Traceback" not in err and not out.exists()


# ---------------------------------------------------- 4: data that validates, cannot train


def _spread_dataset(make_dataset) -> Path:
    """The base dataset with one claim in each part of a split at UNTIL=2024-04-01 with a
    30-day validation slice: fitting (January), validation (March), evaluation (May)."""

    def spread(tables):
        for row, when in zip(
            tables["claims"], ("2024-01-10 09:00:00", "2024-03-20 09:00:00"), strict=True
        ):
            row["admit_time"] = row["discharge_time"] = when
        for row in tables["claim_items"]:
            row["item_time"] = ""
        tables["claims"].append(claim("C3", "001", "H1", "outpatient", "2024-05-01 10:00:00"))

    return make_dataset(spread)


def _write_without_claims(root: Path) -> Path:
    tables = base_tables()
    columns = {t: list(tables[t][0]) for t in ("claims", "claim_items")}
    for t in columns:
        del tables[t]
    write_csv_dataset(root, tables)
    for t, cols in columns.items():
        pd.DataFrame(columns=cols).to_csv(root / f"{t}.csv", index=False)
    return root


@pytest.mark.parametrize("mode", ["time", "cv"])
def test_training_without_claims_is_refused(tmp_path, monkeypatch, capsys, mode):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = _write_without_claims(tmp_path / "empty")
    args = ["train", f"data.path={root}", f"train.store={tmp_path / 'mlflow'}"]
    assert main([*args, f"evaluate.mode={mode}"]) == 2
    err = capsys.readouterr().err
    assert (
        "cannot train: the dataset holds no accepted claims (no admit_time span), so there "
        "is nothing to fit or evaluate"
    ) in err
    assert "Traceback" not in err


def test_training_on_a_split_with_an_empty_part_is_refused(make_dataset, tmp_path, monkeypatch):
    def far_apart(tables):
        for row, when in zip(
            tables["claims"], ("1900-01-01 09:00:00", "2100-01-01 09:00:00"), strict=True
        ):
            row["admit_time"] = row["discharge_time"] = when
        for row in tables["claim_items"]:
            row["item_time"] = ""

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = make_dataset(far_apart)
    store_dir = tmp_path / "mlflow"
    calls = []
    monkeypatch.setattr(
        "fraudml.workflows.training.train_and_evaluate", lambda *a, **k: calls.append(1)
    )
    assert main(["train", f"data.path={root}", f"train.store={store_dir}"]) == 2
    assert calls == []  # refused before training

    with load_dataset(root) as ds:
        split = time_split(
            datetime(1900, 1, 1),
            datetime(2100, 1, 1),
            None,
            validation_days=60,
            gap_days=0,
            eval_days=None,
        )
        with pytest.raises(TrainingError) as caught:
            check_time_split(ds, split)
    assert str(caught.value) == (
        "the validation slice 2033-03-03 … 2033-05-02 holds no claims (split: fitting "
        "window 1900-01-01 … 2033-03-03, validation slice 2033-03-03 … 2033-05-02, "
        "evaluation window 2033-05-02 … end of data); the data's admit_time spans "
        "1900-01-01 to 2100-01-01. Set UNTIL (period.end) where claims lie on both sides "
        "of it, or shorten evaluate.validation_days / evaluate.label_delay_days"
    )


def test_a_split_with_every_part_holding_claims_passes(make_dataset):
    with load_dataset(_spread_dataset(make_dataset)) as ds:
        split = time_split(
            datetime(2024, 1, 1),
            datetime(2024, 5, 1),
            datetime(2024, 4, 1),
            validation_days=30,
            gap_days=0,
            eval_days=None,
        )
        check_time_split(ds, split)  # no error
        empty_eval = time_split(
            datetime(2024, 1, 1),
            datetime(2024, 5, 1),
            datetime(2024, 4, 1),
            validation_days=30,
            gap_days=0,
            eval_days=10,
        )
        with pytest.raises(TrainingError, match=r"^the evaluation window 2024-04-01 … 2024-04"):
            check_time_split(ds, empty_eval)


# ------------------------------------------ 5: the store is opened first, under a lock

RACER = """
import sys, time
from pathlib import Path
from fraudml.tracking import mlflow_store as store
ready, go = Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.002)
print(store.open_store(sys.argv[1], "fraudml").experiment_id)
"""


def test_two_processes_initialise_a_fresh_store_at_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path / "mlflow"), str(tmp_path / f"r{i}"), go],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    while not all((tmp_path / f"r{i}").exists() for i in range(3)):
        if any(p.poll() is not None for p in racers):
            break
        time.sleep(0.01)
    go.touch()  # all three open the fresh store at the same moment
    results = [p.communicate(timeout=300) for p in racers]
    assert [p.returncode for p in racers] == [0, 0, 0], [err[-1500:] for _, err in results]
    assert len({out.strip() for out, _ in results}) == 1  # one experiment, shared


def test_training_opens_the_store_and_tags_its_run_before_it_trains(
    make_dataset, tmp_path, monkeypatch
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store_dir = tmp_path / "mlflow"
    seen: dict[str, object] = {}

    def train_and_evaluate(*args, **kwargs):
        uri = f"sqlite:///{store_dir / 'mlflow.db'}"
        seen["experiment"] = MlflowClient(uri).get_experiment_by_name("fraudml")
        seen["tags"] = dict(mlflow.active_run().data.tags)
        raise TrainingError("stopped by the test")

    monkeypatch.setattr("fraudml.workflows.training.train_and_evaluate", train_and_evaluate)
    args = [
        "train",
        f"data.path={_spread_dataset(make_dataset)}",
        f"train.store={store_dir}",
        "period.end=2024-04-01",
        "evaluate.validation_days=30",
        "evaluate.mode=time",
    ]
    assert main(args) == 2
    assert seen["experiment"] is not None  # the store existed before training began
    tags = seen["tags"]
    assert (tags["fraudml.host"], tags["fraudml.pid"]) == (socket.gethostname(), str(os.getpid()))
    assert not _lock_is_held(store_dir)  # released: training itself does not hold it


@pytest.mark.slow
def test_versions_are_registered_then_champions_move_together_under_the_lock(trained, local_store):
    assert trained["events"] == [("register", True)] * 5 + [("move", True)]
    run = mlflow.search_runs(experiment_names=["fraudml"], output_format="list")[0]
    tags = run.data.tags
    assert (tags["fraudml.host"], tags["fraudml.pid"]) == (socket.gethostname(), str(os.getpid()))
    assert tags["fraudml.champion_moves_state"] == "moved"
    moves = json.loads(tags["fraudml.champion_moves"])
    assert moves == {
        store.model_name(NS, e): {"previous": None, "new": "1"}
        for e in ("patient", "stay", "visit", "provider", "doctor")
    }


# ----------------------------------------------------------------- 6: the money's currency


def test_models_refuse_data_in_another_currency_and_old_models_read_yuan():
    model = _tiny_model("patient")
    assert model.currency == "CNY"
    check_currency({"patient": model}, "CNY")
    with pytest.raises(ModelError) as caught:
        check_currency({"patient": model, "provider": _tiny_model("provider")}, "USD")
    assert str(caught.value) == (
        "the models were trained on data in CNY (patient, provider) and this dataset's "
        "amounts are in USD (dataset.json currency): fees, payments and peer levels would "
        "be read in the wrong unit. Train on this dataset (make train DATA=…) and score "
        "with that namespace"
    )
    usd = fit_entity(
        "patient",
        pd.DataFrame({"a": [1.0, 2.0, 3.0], "rule_severity_score": 0.0}),
        pd.Series([0, 0, 0]),
        pd.DataFrame({"a": [1.0], "rule_severity_score": 0.0}),
        pd.Series([0]),
        anomaly=ProfileIsolationForest(n_estimators=5, random_state=0),
        supervised=RiskClassifier(),
        features=["a"],
        anomaly_features=["a"],
        min_positives=10,
        feature_set_version="t",
        currency="USD",
    )
    assert usd.currency == "USD"
    with pytest.raises(ModelError, match=r"in USD \(patient\) .* amounts are in CNY"):
        check_currency({"patient": usd}, "CNY")
    # a model pickled before the currency was recorded has no such attribute: yuan
    state = dict(model.__dict__)
    del state["currency"]
    old = EntityModel.__new__(EntityModel)
    old.__dict__.update(state)
    assert pickle.loads(pickle.dumps(old)).currency == "CNY"


@pytest.mark.slow
def test_cny_models_refuse_a_usd_dataset_naming_both(trained, tmp_path, local_store, capsys):
    version = local_store.get_model_version_by_alias(store.model_name(NS, "patient"), "champion")
    assert version.tags["currency"] == "CNY"
    data = tmp_path / "usd"
    shutil.copytree(trained["data"], data)
    (data / "dataset.json").write_text(json.dumps({"currency": "USD"}), encoding="utf-8")
    out = tmp_path / "out"
    assert main(_score_args(data, trained, out, *SCORE_PERIOD)) == 2
    err = capsys.readouterr().err
    assert "models: the models were trained on data in CNY (patient, stay, visit, provider," in err
    assert "amounts are in USD (dataset.json currency)" in err and not out.exists()
    train_json = json.loads((trained["root"] / "train" / "train.json").read_text("utf-8"))
    assert train_json["currency"] == "CNY"


# ----------------------------------- 7: entity types not scored, and the dataset's warnings


def test_an_entity_type_with_a_champion_but_nothing_to_score_is_reported(make_dataset, caplog):
    rules = load_rule_base(None)
    with load_dataset(make_dataset()) as ds:
        frames = entity_frames(ds, Window(), rules)
        features, anomaly_features = model_columns(frames["patient"], "patient")
        none = pd.Series(0, index=frames["patient"].index)
        patient = fit_entity(
            "patient",
            frames["patient"],
            none,
            frames["patient"],
            none,
            anomaly=ProfileIsolationForest(n_estimators=5, random_state=0),
            supervised=RiskClassifier(),
            features=features,
            anomaly_features=anomaly_features,
            min_positives=10,
            feature_set_version=FEATURE_SET_VERSION,
        )
        models = {"patient": patient, "stay": _tiny_model("stay"), "doctor": _tiny_model("doctor")}
        versions = {e: f"fraudml.t.{e}@1" for e in models}
        with caplog.at_level(logging.WARNING):
            result = score_period(ds, Window(), rules, models, versions, {"patient": 5})
    assert result.models == {"patient": "fraudml.t.patient@1"}
    assert result.not_scored == {
        "stay": "the period's claims give no stay profiles",
        "doctor": "no doctor profiles: no doctor ids in claims",
    }
    assert list(result.scores.entity_type.unique()) == ["patient"]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        "stay has a champion model but is not scored: the period's claims give no stay profiles"
    ) in warned
    assert (
        "doctor has a champion model but is not scored: no doctor profiles: no doctor ids in claims"
    ) in warned


def test_nothing_scored_at_all_stops(make_dataset):
    with load_dataset(make_dataset()) as ds, pytest.raises(NothingToScoreError) as caught:
        score_period(ds, Window(), load_rule_base(None), {"doctor": _tiny_model("doctor")}, {}, {})
    assert str(caught.value) == (
        "no entity type with a champion model has anything to score in start of data … "
        "end of data (doctor: no doctor profiles: no doctor ids in claims)"
    )


@pytest.mark.slow
def test_manifest_lists_the_models_used_what_was_not_scored_and_the_warnings(
    trained, tmp_path, monkeypatch
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = tmp_path / "nodoc"
    shutil.copytree(trained["data"], data)
    (data / "doctors.parquet").unlink()
    claims = pd.read_parquet(data / "claims.parquet")
    claims["doctor_id"] = pd.Series(pd.NA, index=claims.index, dtype="string")
    claims.to_parquet(data / "claims.parquet", index=False)
    out = tmp_path / "out"
    # the points ledger's status: every practitioner of the city under watch
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    doctor_ids = pd.read_parquet(trained["data"] / "doctors.parquet").doctor_id
    pd.DataFrame({"doctor_id": doctor_ids, "status": "watch"}).to_parquet(ledger / "status.parquet")
    assert main(_score_args(data, trained, out, *SCORE_PERIOD, f"leads.ledger={ledger}")) == 0
    leads = pd.read_parquet(out / "leads.parquet")
    patients = leads[leads.entity_type == "patient"]
    # no doctor ids in this copy's claims: no lead has a practitioner to mark
    assert len(patients) and patients.practitioner_mark.isna().all()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    # a copy of the data in another folder scores with its namespace's models
    assert manifest["namespace"] == NS and manifest["in_sample"] is False
    assert set(manifest["models"]) == {"patient", "stay", "visit", "provider"}
    assert manifest["not_scored"] == {"doctor": "no doctor profiles: no doctor ids in claims"}
    with load_dataset(data) as ds:
        assert manifest["warnings"] == ds.warnings
    assert "claims.doctor_id not checked: no doctors table in the dataset" in ds.warnings
    train_json = json.loads((trained["root"] / "train" / "train.json").read_text("utf-8"))
    with load_dataset(trained["data"]) as ds:
        assert train_json["warnings"] == ds.warnings
    absent = f"{trained['data'] / 'providers.parquet'}: column 'name' is absent: read as empty"
    assert ds.warnings == [absent]


def test_an_unknown_namespace_lists_the_namespaces_and_champions_that_exist(
    trained, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = _score_args(trained["data"], trained, tmp_path / "s", *SCORE_PERIOD)
    args[args.index(f"models.namespace={NS}")] = "models.namespace=elsewhere"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no champion models under the namespace 'elsewhere'" in err
    assert f"  {NS}: doctor@1, patient@1, provider@1, stay@1, visit@1" in err
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------ 8: the same run, the same leads


def _hits() -> pd.DataFrame:
    rows = [
        ("R1", "C2", 1, 10.0),
        ("R2", "C1", 2, 50.0),
        ("R1", "C1", 1, 50.0),
        ("R3", None, None, None),
        ("R2", "C1", 1, 50.0),
        ("R1", "C3", 1, 5.0),
        ("R4", "C2", None, 10.0),
    ]
    frame = pd.DataFrame(rows, columns=["rule_id", "claim_id", "line_no", "amount"])
    frame["line_no"] = frame.line_no.astype("Int64")
    return frame.assign(provider_id="H1", entity_id=frame.claim_id.fillna("H1"), evidence="")


def test_hits_are_ordered_by_amount_then_claim_line_and_rule_before_any_cap():
    hits = _hits()
    expected = [
        ("R1", "C1", 1),
        ("R2", "C1", 1),
        ("R2", "C1", 2),
        ("R1", "C2", 1),
        ("R4", "C2", None),
        ("R1", "C3", 1),
        ("R3", None, None),
    ]
    rng = np.random.default_rng(0)
    for _ in range(5):
        shuffled = hits.iloc[rng.permutation(len(hits))]
        ordered = ordered_hits(shuffled)
        got = [
            (
                r.rule_id,
                None if pd.isna(r.claim_id) else r.claim_id,
                None if pd.isna(r.line_no) else int(r.line_no),
            )
            for r in ordered.itertuples()
        ]
        assert got == expected
        assert list(ordered.index) == list(range(len(hits)))
        assert evidence_claims(ordered) == ["C1", "C2", "C3"]
        assert evidence_claims(ordered, cap=2) == ["C1", "C2"]


@pytest.mark.slow
def test_two_identical_scores_give_identical_leads_and_evidence(trained, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    period = ["period.start=2024-07-01", "period.end=2025-01-01"]
    outs = [tmp_path / "one", tmp_path / "two"]
    # the points ledger: one practitioner suspended, every other under watch
    doctor_ids = pd.read_parquet(trained["data"] / "doctors.parquet").doctor_id.astype(str)
    status = pd.DataFrame({"doctor_id": doctor_ids, "status": "watch"})
    status.loc[0, "status"] = "suspended"
    status.to_parquet(tmp_path / "status.parquet")
    credit = pd.DataFrame({"provider_id": ["H1", "H2"], "grade": ["A", "D"], "score": [96.0, 41.5]})
    credit.to_parquet(tmp_path / "credit.parquet")  # beside the status, as make ledger writes
    for out in outs:
        args = _score_args(trained["data"], trained, out, *period)
        assert main([*args, f"leads.ledger={tmp_path / 'status.parquet'}"]) == 0
    for name in ("leads.parquet", "evidence.parquet"):
        one, two = (pd.read_parquet(out / name) for out in outs)
        pd.testing.assert_frame_equal(one, two)
    leads = pd.read_parquet(outs[0] / "leads.parquet").set_index(["entity_type", "entity_id"])
    doctors = leads.loc["doctor"]
    expected = doctors.index.map(lambda d: "suspended" if d == doctor_ids[0] else "watch")
    assert doctors.practitioner_mark.tolist() == list(expected)
    sheet = openpyxl.load_workbook(outs[0] / "report.xlsx")["信用评价"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["定点机构编号", "信用等级", "信用分"],
        ["H1", "A", 96],
        ["H2", "D", 41.5],
    ]
    evidence = pd.read_parquet(outs[0] / "evidence.parquet")
    assert len(evidence) > 20
    for _, lead in evidence.groupby(["lead_type", "lead_id"], sort=False):
        assert lead.amount.fillna(-np.inf).is_monotonic_decreasing


# ------------------------------------------------- 9: interrupted and concurrent trainings


def _run(client: MlflowClient, experiment: str, **tags: str) -> str:
    return client.create_run(experiment, tags=tags).info.run_id


def _versions(client: MlflowClient, name: str, run_id: str, n: int) -> None:
    client.create_registered_model(name)
    for _ in range(n):
        client.create_model_version(name, source=f"runs:/{run_id}/m", run_id=run_id)


def _champion(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, "champion").version)
    except MlflowException:
        return None


def test_running_runs_of_this_host_whose_process_is_gone_are_marked_failed(
    temp_store, tmp_path, caplog
):
    client, experiment = temp_store
    host, dead = socket.gethostname(), str(_dead_pid())
    gone = _run(client, experiment, **{"fraudml.host": host, "fraudml.pid": dead})
    alive = _run(client, experiment, **{"fraudml.host": host, "fraudml.pid": str(os.getpid())})
    elsewhere = _run(client, experiment, **{"fraudml.host": "not-" + host, "fraudml.pid": dead})
    with caplog.at_level(logging.WARNING):
        opened = store.open_store(tmp_path / "unused", "fraudml")
    assert opened.experiment_id == experiment and opened.folder == tmp_path
    status = {r: client.get_run(r).info.status for r in (gone, alive, elsewhere)}
    assert status == {gone: "FAILED", alive: "RUNNING", elsewhere: "RUNNING"}
    assert (
        f"training run {gone} (pid {dead} on {host}) was interrupted: marked FAILED" in caplog.text
    )
    assert not (tmp_path / "unused").exists()


def test_champions_of_a_run_interrupted_while_moving_them_are_restored(temp_store, tmp_path):
    client, experiment = temp_store
    host = socket.gethostname()
    earlier = _run(client, experiment)
    for entity, n in (("patient", 2), ("stay", 1), ("visit", 2), ("doctor", 2)):
        _versions(client, f"fraudml.t.{entity}", earlier, n)
    moves = {
        "fraudml.t.patient": {"previous": "1", "new": "2"},  # moved
        "fraudml.t.stay": {"previous": None, "new": "1"},  # moved, had no champion before
        "fraudml.t.visit": {"previous": "1", "new": "2"},  # not moved yet
        "fraudml.t.doctor": {"previous": "1", "new": "2"},  # moved since by someone else
    }
    for name, alias in (
        ("fraudml.t.patient", "2"),
        ("fraudml.t.stay", "1"),
        ("fraudml.t.visit", "1"),
        ("fraudml.t.doctor", "3"),
    ):
        if name == "fraudml.t.doctor":
            client.create_model_version(name, source=f"runs:/{earlier}/m", run_id=earlier)
        client.set_registered_model_alias(name, "champion", alias)
    interrupted = _run(
        client,
        experiment,
        **{
            "fraudml.host": host,
            "fraudml.pid": str(_dead_pid()),
            "fraudml.champion_moves": json.dumps(moves),
            "fraudml.champion_moves_state": "moving",
        },
    )
    store.open_store(tmp_path, "fraudml")
    assert client.get_run(interrupted).info.status == "FAILED"
    assert {n: _champion(client, n) for n in moves} == {
        "fraudml.t.patient": "1",
        "fraudml.t.stay": None,
        "fraudml.t.visit": "1",
        "fraudml.t.doctor": "3",
    }
    assert client.get_run(interrupted).data.tags["fraudml.champion_moves_state"] == "restored"
    # restored once: a later champion is not undone by the old run at the next start
    client.set_registered_model_alias("fraudml.t.patient", "champion", "2")
    store.open_store(tmp_path, "fraudml")
    assert _champion(client, "fraudml.t.patient") == "2"


def test_a_failure_while_moving_champions_puts_the_previous_ones_back(temp_store, tmp_path):
    client, experiment = temp_store
    store.open_store(tmp_path, "fraudml")
    with mlflow.start_run(experiment_id=experiment) as active:
        for entity in ("patient", "stay"):
            _versions(client, f"fraudml.t.{entity}", active.info.run_id, 2)
            client.set_registered_model_alias(f"fraudml.t.{entity}", "champion", "1")
        promotions = [
            store.decide(f"fraudml.t.{e}", "2", 0.9, force=True) for e in ("patient", "stay")
        ]
        calls = []
        real = MlflowClient.set_registered_model_alias

        def flaky(self, name, alias, version):
            calls.append((name, version))
            if len(calls) == 2:
                raise KeyboardInterrupt  # the operator's Ctrl-C between two moves
            return real(self, name, alias, version)

        with pytest.MonkeyPatch.context() as mp, pytest.raises(KeyboardInterrupt):
            mp.setattr(MlflowClient, "set_registered_model_alias", flaky)
            store.move_champions(active.info.run_id, promotions)
    assert calls[:2] == [("fraudml.t.patient", "2"), ("fraudml.t.stay", "2")]
    assert _champion(client, "fraudml.t.patient") == "1"
    assert _champion(client, "fraudml.t.stay") == "1"
    run = client.get_run(active.info.run_id)
    assert run.data.tags["fraudml.champion_moves_state"] == "restored"


def test_each_workflow_uses_its_own_store_unless_the_shell_names_one(tmp_path, monkeypatch):
    """MLflow copies a tracking URI into the environment; fraudml must not then read its
    own earlier choice as the user's (a notebook training into one store and scoring from
    another would silently use the first)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    first, _ = store.configure(tmp_path / "a")
    second, artifacts = store.configure(tmp_path / "b")
    assert first == f"sqlite:///{(tmp_path / 'a').resolve() / 'mlflow.db'}"
    assert second == f"sqlite:///{(tmp_path / 'b').resolve() / 'mlflow.db'}"
    assert artifacts == (tmp_path / "b").resolve() / "artifacts"
    assert mlflow.get_tracking_uri() == second and mlflow.get_registry_uri() == second
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    # a database file the shell names keeps a new experiment's artifacts beside it (MLflow
    # alone would put them under the folder the command runs in); a server decides its own
    database = f"sqlite:///{tmp_path / 'server.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", database)
    assert store.configure(tmp_path / "c") == (database, tmp_path.resolve() / "artifacts")
    assert os.environ["MLFLOW_TRACKING_URI"] == database and not (tmp_path / "c").exists()
    server = "http://127.0.0.1:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    assert store.configure(tmp_path / "c") == (server, None)
    assert os.environ["MLFLOW_TRACKING_URI"] == server and not (tmp_path / "c").exists()
