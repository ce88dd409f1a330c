"""fraudml as a library: the workflows the commands run, callable from Python."""

from __future__ import annotations

import ast
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import fraudml
from fraudml.errors import SettingError
from fraudml.io.outputs import written_by
from tests.builders import catalog_item

ROOT = Path(__file__).resolve().parents[1]


def _imports(source: str) -> set[str]:
    """Every module a Python source imports (absolute names)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_nothing_outside_the_command_line_imports_it():
    """The library, the doc generators, notebooks and benchmarks use the API, not cli."""
    sources = {
        p: p.read_text(encoding="utf-8")
        for p in [*(ROOT / "src" / "fraudml").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
        if "cli" not in p.relative_to(ROOT).parts
    }
    sources |= {p: _notebook_code(p) for p in (ROOT / "notebooks").glob("*.ipynb")}
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in _imports(s) if m.startswith("fraudml.cli"))
        for p, s in sources.items()
    }
    assert {p: m for p, m in offenders.items() if m} == {}
    assert len(sources) > 40  # the scan saw the library, not an empty folder


def test_the_workflows_are_the_package_api():
    assert callable(fraudml.rules) and callable(fraudml.score)
    # the rule base and the scoring steps live in packages that the API does not shadow
    import fraudml.rulebase as rulebase
    import fraudml.scoring.pipeline as pipeline

    assert hasattr(rulebase, "apply_rules") and hasattr(pipeline, "score_period")
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = fraudml.nonsense


def _priced(t):
    # C1's XA01 (30.25) is above a cap of 30: one CAT-PRICE hit, 0.50 over
    t["catalog"] = [catalog_item("XA01", "western_drug", price_cap=30)]
    t["catalog"].append(catalog_item("LB01", "lab"))


def test_validate_profiles_and_rules_from_python(make_dataset, tmp_path):
    data = make_dataset(_priced)
    with fraudml.validate(data, out=tmp_path / "check") as ds:
        assert ds.reconciliation["claims"].accepted == 2
        window = fraudml.Window(datetime(2024, 3, 1), datetime(2024, 4, 1))
        hits = fraudml.rules(ds, window, out=tmp_path / "rules")
        assert hits.manifest["rules"]["CAT-PRICE"] == {"hits": 1, "amount": 0.5}
        assert hits.manifest["window"] == {"start": "2024-03-01", "end": "2024-04-01"}
        assert hits.run.hits.count().execute() == sum(
            r["hits"] for r in hits.manifest["rules"].values()
        )
        made = fraudml.profiles(ds, window)
        patient = made.tables["patient"].to_pandas().set_index("patient_id")
        assert patient.loc["001", "rule_catalog_amount"] == 0.5
        assert made.path is None  # nothing written without out
    assert written_by(tmp_path / "rules") == "rules"
    assert json.loads((tmp_path / "rules" / "rules.json").read_text())["rules"]["CAT-PRICE"] == {
        "hits": 1,
        "amount": 0.5,
    }
    review = pd.read_parquet(tmp_path / "rules" / "review.parquet")
    assert list(review.mdtrt_id) == ["C1"]


def test_profiles_write_the_same_files_as_the_command(make_dataset, tmp_path):
    from fraudml.cli.main import main

    data = make_dataset(_priced)
    assert main(["profiles", f"data.path={data}", f"out={tmp_path / 'cli'}"]) == 0
    with fraudml.validate(data) as ds:
        fraudml.profiles(ds, out=tmp_path / "api")
    written = sorted(p.name for p in (tmp_path / "cli").glob("*.parquet"))
    assert written == sorted(p.name for p in (tmp_path / "api").glob("*.parquet"))
    assert {"patient.parquet", "provider.parquet"} <= set(written)
    for name in written:
        cli = pd.read_parquet(tmp_path / "cli" / name)
        pd.testing.assert_frame_equal(cli, pd.read_parquet(tmp_path / "api" / name))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: fraudml.TrainSettings(mode="random"), "evaluate.mode='random'"),
        (lambda: fraudml.TrainSettings(folds=1), "evaluate.folds=1"),
        (lambda: fraudml.TrainSettings(champion_metric="f1"), "train.champion_metric='f1'"),
        (lambda: fraudml.TrainSettings(capacity={"patient": 0}), "capacity.patient=0"),
        (lambda: fraudml.ScoreSettings(lang="fr"), "report.lang='fr'"),
        (lambda: fraudml.ScoreSettings(explore_bar=1.5), "evaluate.explore_bar=1.5"),
        (lambda: fraudml.TrainSettings(explore_bar=True), "evaluate.explore_bar=True"),
        (lambda: fraudml.ScoreSettings(pseudonymise=True), "needs the salt"),
        (lambda: fraudml.EngineSettings("lots"), "engine.memory_limit='lots'"),
    ],
)
def test_settings_refuse_values_outside_their_range(make, message):
    with pytest.raises(SettingError, match=message):
        make()


def test_score_settings_never_show_the_salt():
    settings = fraudml.ScoreSettings(pseudonymise=True, salt="secret-salt")
    assert "secret-salt" not in repr(settings)


def test_train_and_score_require_a_dataset(capsys):
    from fraudml.cli.main import main

    for command in ("train", "score"):
        assert main([command]) == 2
        assert "invalid setting: data.path is required (give DATA=dir" in capsys.readouterr().err
