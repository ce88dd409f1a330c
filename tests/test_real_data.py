"""The Medicare adapter: exact mapping on hand-written files, the run without fee lines,
cross-validation over labelled providers, and a slice of the real files when present."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from fraudml import load_dataset
from fraudml.adapters import medicare
from fraudml.cli.main import main
from fraudml.features import Window, build_profiles
from fraudml.features.registry import FEATURES
from fraudml.io.errors import ContractError
from fraudml.io.write import write_dataset
from tests.medicare_files import beneficiary, claim_row, random_source, write_source


def real_source() -> Path | None:
    """The shared real files: ``$FRAUDML_REALDATA``, beside the repository, or the
    machine's shared folder."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (
        os.environ.get("FRAUDML_REALDATA"),
        here.parent / "shared" / "realdata" / "medicare-kaggle",
        "/work/shared/realdata/medicare-kaggle",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def source(tmp_path: Path) -> Path:
    benes = [
        beneficiary("BENE1", "1943-01-01", "1", ChronicCond_Diabetes="1", State="39", County="230"),
        beneficiary("BENE2", "1936-09-01", "2", DOD="2009-11-01", RenalDiseaseIndicator="Y"),
        beneficiary("BENE3", "1950-05-01", "2"),  # no claims: still a patient
    ]
    inpatient = [
        claim_row(
            "CLM1",
            "BENE1",
            "PRV1",
            "2009-04-12",
            "2009-04-18",
            reimbursed="26000",
            deductible="1068",
            attending="PHY1",
            OperatingPhysician="PHY2",
            diagnoses=("1970", "4019", "V5789"),
            procedures=("7092.0", "0044"),
        ),
        claim_row(
            "CLM2",
            "BENE2",
            "PRV2",
            "2009-08-31",
            "2009-09-02",
            reimbursed="5000",
            deductible="NA",
            attending="NA",
            OtherPhysician="PHY2",
            diagnoses=("6186",),
        ),
    ]
    outpatient = [
        claim_row(
            "CLM3",
            "BENE1",
            "PRV3",
            "2009-06-01",
            "2009-06-03",
            reimbursed="70",
            deductible="0",
            attending="PHY2",
            diagnoses=("0088",),
            inpatient=False,
        )
    ]
    labels = [("PRV1", "Yes"), ("PRV2", "No"), ("PRV9", "Yes")]  # PRV9 has no claims
    return write_source(tmp_path / "src", benes, inpatient, outpatient, labels)


def test_files_are_found_by_name(source: Path):
    files = medicare.find_sources(source)
    assert files.beneficiaries.name == "Train_Beneficiarydata-1.csv.gz"
    assert files.inpatient.name == "Train_Inpatientdata-1.csv.gz"
    assert files.outpatient is not None and files.outpatient.name.endswith(".csv")
    assert files.labels is not None and files.labels.name == "Train-1.csv"


def test_mapping_of_every_table(source: Path):
    t = medicare.convert(medicare.find_sources(source))
    p = t["patients"].set_index("patient_id")
    assert list(p.index) == ["BENE1", "BENE2", "BENE3"]
    assert list(p.gender) == ["M", "F", "F"]
    assert str(p.loc["BENE1", "birth_date"]) == "1943-01-01"
    assert p.loc["BENE1", "region"] == "39-230"
    assert set(p.insurance_type) == {"resident"}
    assert bool(p.loc["BENE1", "chronic_diabetes"]) and not p.loc["BENE2", "chronic_diabetes"]
    assert p.loc["BENE1", "n_chronic_conditions"] == 1
    assert str(p.loc["BENE2", "death_date"]) == "2009-11-01" and p.loc["BENE2", "renal_disease"]

    c = t["claims"].set_index("claim_id")
    one = c.loc["CLM1"]
    assert (one.patient_id, one.provider_id, one.doctor_id) == ("BENE1", "PRV1", "PHY1")
    assert one.visit_type == "inpatient" and one.diagnosis_code == "1970"
    assert one.admit_time == pd.Timestamp("2009-04-12")
    assert one.discharge_time == pd.Timestamp("2009-04-18")
    assert (one.fund_paid, one.cash_paid, one.account_paid, one.total_amount) == (
        26000,
        1068,
        0,
        27068,
    )
    two = c.loc["CLM2"]
    assert pd.isna(two.doctor_id) and two.cash_paid == 0 and two.total_amount == 5000
    visit = c.loc["CLM3"]  # an outpatient visit is a point in time
    assert visit.visit_type == "outpatient"
    assert visit.admit_time == visit.discharge_time == pd.Timestamp("2009-06-01")
    assert str(visit.claim_end) == "2009-06-03"

    providers = t["providers"].set_index("provider_id")
    assert providers.provider_type.to_dict() == {
        "PRV1": "hospital",
        "PRV2": "hospital",
        "PRV3": "clinic",
    }
    doctors = t["doctors"].set_index("doctor_id")
    # PHY2 operates at PRV1, is the other physician at PRV2 and attends at PRV3: a tie
    # of one claim each goes to the lowest provider id
    assert doctors.provider_id.to_dict() == {"PHY1": "PRV1", "PHY2": "PRV1"}

    codes = t["claim_codes"]
    mine = codes[codes.claim_id == "CLM1"]
    assert list(zip(mine.kind, mine.position, mine.code, strict=True)) == [
        ("diagnosis", 1, "1970"),
        ("diagnosis", 2, "4019"),
        ("diagnosis", 3, "V5789"),
        ("procedure", 1, "7092"),  # the float's ".0" is not part of the code
        ("procedure", 2, "0044"),  # leading zeros kept
    ]
    assert len(codes) == 5 + 1 + 1

    labels = t["labels"]
    assert labels[["entity_id", "label"]].values.tolist() == [["PRV1", 1], ["PRV2", 0]]
    assert labels.decided_at.isna().all() and set(labels.entity_type) == {"provider"}


def test_imported_dataset_validates_and_drops_what_it_lacks(source: Path, tmp_path: Path):
    out = write_dataset(medicare.convert(medicare.find_sources(source)), tmp_path / "ds")
    with load_dataset(out, memory_limit="1GB", threads=1) as ds:
        for check in ds.reconciliation.tables:
            assert check.quarantined == 0, check
        assert "claim_items" in ds.skipped
        built = build_profiles(ds, Window())
        provider = built.tables["provider"].to_pandas().set_index("provider_id")
    # what cannot be computed is absent and listed, never zero-filled
    for f in FEATURES:
        if f.entity == "provider" and "claim_items" in f.needs:
            assert f.name not in provider.columns
            assert "claim_items" in built.dropped["provider"][f.name]
    assert "night_share" not in provider.columns
    assert "dates only" in built.dropped["provider"]["night_share"]
    # claim_codes are present: the code mix is computed
    assert provider.loc["PRV1", "diagnoses_per_claim"] == 3
    assert provider.loc["PRV1", "procedures_per_claim"] == 2
    assert provider.loc["PRV2", "procedure_claim_share"] == 0
    assert provider.loc["PRV1", "max_los"] == 6


def test_missing_file_and_column_are_named(source: Path, tmp_path: Path):
    (source / "Train_Inpatientdata-1.csv.gz").unlink()
    with pytest.raises(ContractError, match="no inpatient file"):
        medicare.find_sources(source)
    broken = tmp_path / "broken"
    broken.mkdir()
    pd.DataFrame({"BeneID": ["B1"], "DOB": ["1940-01-01"]}).to_csv(
        broken / "Train_Beneficiarydata.csv", index=False
    )
    pd.DataFrame({"ClaimID": ["C1"]}).to_csv(broken / "Train_Inpatientdata.csv", index=False)
    with pytest.raises(ContractError, match=r"Train_Beneficiarydata.csv: column 'DOD'"):
        medicare.convert(medicare.find_sources(broken))


def test_bad_label_value_is_named(source: Path):
    (source / "Train-1.csv").write_text("Provider,PotentialFraud\nPRV1,Yes\nPRV2,Maybe\n")
    with pytest.raises(
        ContractError, match=r"Train-1.csv: row 2, column 'PotentialFraud'.*'Maybe'"
    ):
        medicare.convert(medicare.find_sources(source))
    (source / "Train-1.csv").write_text("Provider,PotentialFraud\nPRV1,\n")
    with pytest.raises(ContractError, match=r"row 1, column 'PotentialFraud'"):
        medicare.convert(medicare.find_sources(source))


def test_a_malformed_date_stops_the_import_naming_file_row_and_column(tmp_path: Path):
    benes = [beneficiary("B1", "1940-01-01"), beneficiary("B2", "01/02/1941")]
    inpatient = [claim_row("C1", "B1", "P1", "2009-01-01", "2009-01-03")]
    src = write_source(tmp_path / "src", benes, inpatient)
    with pytest.raises(
        ContractError,
        match=r"Train_Beneficiarydata-1.csv.gz: row 2, column 'DOB' holds '01/02/1941'",
    ):
        medicare.convert(medicare.find_sources(src))


def test_import_train_cv_and_score_every_provider(tmp_path: Path):
    """fraudml import → train +experiment=medicare (cross-validation over the labelled
    providers) → score: every provider scored, labelled or not, and every outpatient
    visit though no fee lines exist."""
    src = random_source(tmp_path / "src")
    data, store = tmp_path / "data", tmp_path / "store"
    assert main(["import", "medicare", str(src), str(data)]) == 0
    code = main(
        [
            "train",
            "+experiment=medicare",
            f"data.path={data}",
            f"train.store={store}",
            f"train.out={tmp_path / 'train'}",
            "evaluate.folds=3",
            "model.n_estimators=50",
            "model.min_child_samples=5",
            "anomaly.n_estimators=20",
        ]
    )
    assert code == 0
    metrics = pd.read_csv(tmp_path / "train" / "evaluation.csv")
    provider = metrics[(metrics.entity == "provider") & (metrics.method == "supervised")].iloc[0]
    assert provider.n == 75  # the labelled providers only: the last five carry no label
    assert provider.roc_auc > 0.5
    summary = json.loads((tmp_path / "train" / "train.json").read_text())
    assert "drug_share" in summary["dropped_features"]["provider"]
    assert (
        main(["score", f"data.path={data}", f"models.store={store}", f"out={tmp_path / 's'}"]) == 0
    )
    scores = pd.read_parquet(tmp_path / "s" / "scores.parquet")
    assert len(scores[scores.entity_type == "provider"]) == 80
    # outpatient visits, though no fee lines exist: claims of kind visit
    claims = scores[scores.entity_type == "claim"]
    assert len(claims[claims.claim_kind == "visit"]) == 80 * 3
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert "night_share" in manifest["dropped_features"]["provider"]
    assert manifest["currency"] == "USD"  # declared by the import in dataset.json
    assert json.loads((data / "dataset.json").read_text())["currency"] == "USD"


@pytest.mark.skipif(real_source() is None, reason="the shared real files are not on this machine")
def test_slice_of_the_real_files(tmp_path: Path):
    files = medicare.find_sources(real_source())
    tables = medicare.convert(files, nrows=2_000)
    claims = tables["claims"]
    assert len(claims) == 2_000 and claims.claim_id.is_unique
    assert set(claims.patient_id) <= set(tables["patients"].patient_id)
    assert set(tables["labels"].entity_id) <= set(tables["providers"].provider_id)
    raw = medicare.read_source(files.inpatient, medicare.INPATIENT_COLUMNS, nrows=2_000)
    codes = raw[list(medicare.DIAGNOSIS_COLUMNS + medicare.PROCEDURE_COLUMNS)]
    assert len(tables["claim_codes"]) == int((~codes.isin(["", "NA"])).sum().sum())
    out = write_dataset(tables, tmp_path / "ds")
    with load_dataset(out, memory_limit="1GB", threads=1) as ds:
        for check in ds.reconciliation.tables:
            assert check.accepted + check.quarantined == check.read
            assert check.quarantined == 0, check


def test_quick_reference_aggregates_on_a_hand_built_frame():
    from fraudml.evaluate.real_data import quick_aggregates

    t = pd.Timestamp
    claims = pd.DataFrame(
        {
            "provider_id": ["P1", "P1", "P2"],
            "patient_id": ["A", "A", "B"],
            "doctor_id": ["D1", None, "D2"],
            "operating_doctor_id": [None, None, "D3"],
            "other_doctor_id": [None, None, None],
            "admit_time": [t("2009-01-01"), t("2009-02-01"), t("2009-03-01")],
            "discharge_time": [t("2009-01-05"), t("2009-02-11"), t("2009-03-01")],
            "fund_paid": [1000.0, 3000.0, 500.0],
            "cash_paid": [100.0, 100.0, 0.0],
            "total_amount": [1100.0, 3100.0, 500.0],
            "diagnosis_code": ["4019", "4019", "V57"],
        }
    )
    q = quick_aggregates(claims)
    assert q.shape == (2, 16)
    p1 = q.loc["P1"]
    assert (p1.n_claims, p1.n_patients, p1.n_attending, p1.claims_per_patient) == (2, 1, 1, 2)
    assert (p1.reimbursed_sum, p1.reimbursed_mean, p1.reimbursed_max) == (4000, 2000, 3000)
    assert (p1.los_mean, p1.los_max, p1.los_sum, p1.n_diagnoses) == (7, 10, 14, 1)
    assert q.loc["P2", "n_operating"] == 1


def test_auto_mode_cross_validates_labels_without_dates(source: Path, tmp_path: Path, city_root):
    from fraudml.workflows import evaluation_mode

    out = write_dataset(medicare.convert(medicare.find_sources(source)), tmp_path / "ds")
    with load_dataset(out, memory_limit="1GB", threads=1) as ds:
        assert evaluation_mode(ds, "auto") == "cv"
        assert evaluation_mode(ds, "time") == "time"  # asked for: kept
    with load_dataset(city_root, memory_limit="1GB", threads=1) as ds:
        assert evaluation_mode(ds, "auto") == "time"  # the city's labels carry dates


@pytest.mark.heavy  # the whole page, two seeds and every model pair: make bench
def test_real_data_page_on_a_generated_region(tmp_path: Path):
    """``make real-data`` end to end on a made-up region, models shrunk: every section
    is written from the run's own numbers."""
    from fraudml.evaluate.real_data import evaluate

    src = random_source(tmp_path / "src")
    text, raw = evaluate(
        src,
        tmp_path / "work",
        seeds=(0, 1),
        n_subsets=2,
        overrides=(
            "evaluate.folds=3",
            "model.n_estimators=50",
            "model.min_child_samples=5",
            "anomaly.n_estimators=20",
        ),
    )
    results = raw["results"]
    assert len(results["toolkit"]) == len(results["quick"]) == len(raw["paired"]) == 2
    assert len(results["toolkit_default_model"]) == 1
    base_rate = 0.25
    assert _mean_ap(results["toolkit"]) > base_rate + 0.2  # fraud bills more, stays longer
    for d in raw["paired"]:
        assert d["lo"] <= d["hi"] and 0 <= d["share_a_better"] <= 1
    assert "Mean ± standard deviation over 2 fold seeds (20261122, 20261123)" in text
    assert "| 20261123 |" in text  # the paired row of the second fold seed
    assert "## How far does a quick model reach on these files?" in text
    assert "2 random subsets of 16" in text
    assert "| 100% | 50 |" in text  # learning curve: 2/3 of 75 labelled providers
    assert "quoted 0.91 / 0.76" in text
    # the shared-physician network (issue 17): same folds and seeds, paired, a verdict
    from fraudml.evaluate.real_data import NETWORK_PAIRS, network_verdict

    for name in ("toolkit_network", "quick_network", "quick_learner_network"):
        assert len(results[name]) == 2
    network = raw["network"]
    assert set(network["paired"]) == set(NETWORK_PAIRS)
    for values in network["paired"].values():
        assert len(values) == 2
        assert all(d["lo"] <= d["hi"] and 0 <= d["share_a_better"] <= 1 for d in values)
    # without the network, the per-fold re-fit is the toolkit's own provider model
    assert max(network["reproduced"]) < 1e-9
    summary = network["summary"]
    assert summary["labelled"] == 75 and summary["edges"] > 0  # 150 physicians, 80 providers
    assert "## Does the shared-physician network lift provider AP?" in text
    lifts, sentence = network_verdict(network["paired"])
    assert f"**Verdict: {'yes' if lifts else 'no'}.** {sentence}." in text
    assert "| fraudml + network − fraudml | 20261123 |" in text
    assert "`make real-data`" in text


def _mean_ap(values: list[dict[str, float]]) -> float:
    return sum(v["ap"] for v in values) / len(values)
