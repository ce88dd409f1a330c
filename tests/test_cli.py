"""The fraudml program and its configs: commands, exit codes, every config composes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fraudml.cli.main import COMMANDS, conf_dir, main
from fraudml.cli.simulate import simulation_config
from fraudml.config import register
from fraudml.synth import SCHEMES
from tests.builders import catalog_item

ROOT = Path(__file__).resolve().parents[1]


def test_validate_command_writes_reconciliation_and_quarantine(make_dataset, tmp_path):
    def edit(t):
        t["claims"][1]["visit_type"] = "walk-in"

    out = tmp_path / "out"
    code = main(
        ["validate", f"data.path={make_dataset(edit)}", f"out={out}", "engine.memory_limit=1GB"]
    )
    assert code == 0
    report = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    claims = next(t for t in report["tables"] if t["table"] == "claims")
    assert (claims["read"], claims["accepted"], claims["quarantined"]) == (2, 1, 1)
    assert (out / "quarantine" / "claims.parquet").is_file()
    assert (out / "validated.duckdb").is_file()


def test_structural_fault_exits_2_with_the_message(make_dataset, tmp_path, capsys):
    root = make_dataset()
    (root / "claims.csv").unlink()
    assert main(["validate", f"data.path={root}", f"out={tmp_path / 'o'}"]) == 2
    assert "required table 'claims' is missing" in capsys.readouterr().err


def test_rules_command_writes_hits_review_and_aggregates(make_dataset, tmp_path):
    def edit(t):
        # C1's XA01 (30.25) is above a cap of 30: one CAT-PRICE hit, 0.50 over
        t["catalog"] = [catalog_item("XA01", "western_drug", price_cap=30)]
        t["catalog"].append(catalog_item("LB01", "lab"))

    out = tmp_path / "rules"
    code = main(["rules", f"data.path={make_dataset(edit)}", f"out={out}"])
    assert code == 0
    summary = json.loads((out / "rules.json").read_text(encoding="utf-8"))
    assert summary["rules"]["CAT-PRICE"] == {"hits": 1, "amount": 0.5}
    # what this small dataset lacks: rules are skipped and listed, never run on a guess
    needs = {
        "catalog.bundle_of": ["BIL-BUNDLE", "BIL-UNBUNDLE"],
        "catalog.indications": ["CAT-INDICATION"],
        "catalog.age_group": ["CAT-CHILD", "CAT-ADULT"],
        "catalog.max_course_days": ["CAT-COURSE"],
        "catalog.sibling_group": ["CAT-SIBLING"],
        "catalog.days_per_unit": ["DRG-SUPPLY", "DRG-SUPPLY-90", "DRG-OVERLAP", "DRG-OVERLAP-SAME"],
        "catalog.incompatible_with": ["DRG-INCOMPAT"],
        "chronic_registrations": ["CHR-UNREG"],
        "patients.death_date": ["ELG-DEATH", "ELG-DEATH-STAY"],
        "doctors": ["DOC-DEPT", "DOC-PROVIDER", "DOC-SUSPENDED", "DOC-ROLE"],
    }
    assert summary["skipped"] == {r: f"needs {n}" for n, rules in needs.items() for r in rules}
    review = pd.read_parquet(out / "review.parquet")
    assert list(review.mdtrt_id) == ["C1"] and list(review.vola_amt) == [0.5]
    patient = pd.read_parquet(out / "patient_rules.parquet")
    assert patient.set_index("patient_id").loc["001", "rule_catalog_amount"] == 0.5


def test_malformed_rule_base_exits_2_naming_the_file(make_dataset, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: x\nrules: [{id: X1, name: x}]\n", encoding="utf-8")
    code = main(["rules", f"data.path={make_dataset()}", f"files={bad}", f"out={tmp_path / 'o'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.yaml, rule X1: missing category" in err
    assert not (tmp_path / "o").exists()


def test_unknown_and_pending_commands(capsys):
    assert main(["nonsense"]) == 2
    pending = [name for name, c in COMMANDS.items() if c.target is None]
    for name in pending:
        assert main([name]) == 3
        assert "not available yet" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out


def test_misspelt_key_fails_at_composition():
    register()
    with (
        initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"),
        pytest.raises(Exception, match="encodng"),
    ):
        compose(config_name="validate", overrides=["data.encodng=gbk"])


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "conf").glob("*.yaml")))
def test_every_command_config_composes(name):
    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name=name, overrides=[])
        OmegaConf.resolve(cfg)
        assert cfg.seed is not None


@pytest.mark.parametrize("preset", ["small", "city"])
def test_simulation_presets_become_plain_configs(preset):
    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="simulate", overrides=[f"simulate={preset}"])
    sim = simulation_config(cfg.simulate)
    assert sim.n_patients == {"small": 8000, "city": 50000}[preset]
    assert set(sim.schemes) == set(SCHEMES)


def test_make_help_lists_every_target():
    out = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for target in (
        "setup",
        "demo",
        "data",
        "validate",
        "profiles",
        "rules",
        "train",
        "score",
        "test",
        "lint",
        "bench",
        "clean",
    ):
        assert f" {target} " in out.replace("\x1b[36m", " ").replace("\x1b[0m", " ")


def test_committed_dataset_is_the_small_preset(tmp_path):
    """data/synthetic/small is exactly what `fraudml simulate` makes by default."""
    out = tmp_path / "small"
    assert main(["simulate", f"out={out}"]) == 0
    committed = ROOT / "data" / "synthetic" / "small"
    for path in sorted(committed.glob("*.parquet")):
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name


def test_import_takes_its_source_folder_and_output_as_positional_arguments():
    from fraudml.cli.main import with_positionals

    assert with_positionals("import", ["medicare", "in", "out", "head=5"]) == [
        "source=medicare",
        "src=in",
        "out=out",
        "head=5",
    ]
    assert with_positionals("train", ["a=1"]) == ["a=1"]
