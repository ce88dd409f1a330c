"""Output folders, settings and error kinds: nothing lost, nothing half-written, exit 2.

Each test here failed before its fix: an OUT that held other files was replaced whole,
`out=.` failed only after the run, `engine.memory_limit=abc` gave a DuckDB traceback,
a zero capacity was accepted, and every error read "input does not meet the data
contract".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fraudml.cli.main import main
from fraudml.errors import OutputError, SettingError
from fraudml.io import load_dataset
from fraudml.io.outputs import MARKER, check_output, claim_output, written_by
from fraudml.settings import EngineSettings, capacities

ROOT = Path(__file__).resolve().parents[1]


# --- output folders -----------------------------------------------------------------------


def test_a_new_folder_is_written_whole_with_its_marker(tmp_path):
    with claim_output(tmp_path / "out", "rules") as output, output.staging() as tmp:
        (tmp / "a.txt").write_text("1")
        assert not (tmp_path / "out").exists()  # nothing visible before the end
    assert (tmp_path / "out" / "a.txt").read_text() == "1"
    assert written_by(tmp_path / "out") == "rules"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_previous_output_of_the_same_command_is_replaced(tmp_path):
    for text in ("old", "new"):
        with claim_output(tmp_path / "out", "rules") as output, output.staging() as tmp:
            (tmp / "a.txt").write_text(text)
    assert (tmp_path / "out" / "a.txt").read_text() == "new"


def test_a_folder_fraudml_did_not_write_is_refused_and_kept(tmp_path):
    out = tmp_path / "outputs"
    (out / "mlflow").mkdir(parents=True)
    (out / "mlflow" / "mlflow.db").write_text("registry")
    with pytest.raises(OutputError, match=r"not empty and was not written by fraudml"):
        claim_output(out, "score")
    assert (out / "mlflow" / "mlflow.db").read_text() == "registry"


def test_files_added_to_an_earlier_output_are_never_deleted(tmp_path):
    with claim_output(tmp_path / "out", "validate") as output, output.staging() as tmp:
        (tmp / "validation.json").write_text("{}")
    (tmp_path / "out" / "notes.txt").write_text("mine")
    (tmp_path / "out" / "mlflow").mkdir()
    with pytest.raises(OutputError, match=r"also holds what fraudml did not write \(mlflow, notes"):
        claim_output(tmp_path / "out", "validate")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_the_output_of_another_command_is_refused(tmp_path):
    with claim_output(tmp_path / "out", "rules") as output, output.staging() as tmp:
        (tmp / "hits.parquet").write_text("x")
    with pytest.raises(OutputError, match=r"holds the output of `fraudml rules`"):
        check_output(tmp_path / "out", "score")


def test_an_empty_folder_is_taken(tmp_path):
    (tmp_path / "out").mkdir()
    with claim_output(tmp_path / "out", "score") as output, output.staging() as tmp:
        (tmp / "x").write_text("1")
    assert (tmp_path / "out" / "x").is_file()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("/", "filesystem root"),
        (".", "working directory or one of its ancestors"),
        ("..", "working directory or one of its ancestors"),
        ("", "no output folder given"),
        (None, "no output folder given"),
    ],
)
def test_unusable_outputs_are_refused(out, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match=message):
        check_output(out, "score")


def test_the_dataset_and_what_holds_it_are_protected(tmp_path):
    data = tmp_path / "data" / "city"
    data.mkdir(parents=True)
    for out, message in (
        (data, "holds"),
        (tmp_path / "data", "holds"),
        (data / "scores", "is inside"),
    ):
        with pytest.raises(OutputError, match=message):
            check_output(out, "score", immutable=[data])
    store = tmp_path / "mlflow"
    with pytest.raises(OutputError, match="holds"):
        check_output(tmp_path, "score", protect=[store])
    # an output inside the tracking store's folder replaces nothing of the store
    assert check_output(store / "run", "train", protect=[store]) == (store / "run").resolve()


def test_a_second_run_into_a_held_folder_stops_at_once(tmp_path):
    held = claim_output(tmp_path / "out", "score")
    with pytest.raises(OutputError, match="being written by another fraudml run"):
        claim_output(tmp_path / "out", "score")
    held.release()
    claim_output(tmp_path / "out", "score").release()  # free again once released


def test_the_lock_holds_across_processes(tmp_path):
    code = (
        "import sys, time\n"
        "from fraudml.io.outputs import claim_output\n"
        f"c = claim_output({str(tmp_path / 'out')!r}, 'score')\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match="another fraudml run"):
            claim_output(tmp_path / "out", "score")
    finally:
        proc.kill()  # kill -9: the kernel releases the lock with the process
        proc.wait()
    claim_output(tmp_path / "out", "score").release()


def test_leftovers_of_an_interrupted_run_are_cleared_or_restored(tmp_path):
    (tmp_path / ".out.fraudml-abc.partial").mkdir()
    (tmp_path / ".out.y.fraudml-abc.partial").mkdir()  # a sibling output's, still at work
    old = tmp_path / ".out.old"
    old.mkdir()
    (old / MARKER).write_text(json.dumps({"command": "score"}))
    (old / "leads.csv").write_text("kept")
    # killed between moving the old output aside and moving the new one in
    claim_output(tmp_path / "out", "score").release()
    assert not (tmp_path / ".out.fraudml-abc.partial").exists()
    assert (tmp_path / ".out.y.fraudml-abc.partial").is_dir()
    assert (tmp_path / "out" / "leads.csv").read_text() == "kept"


def test_make_score_into_a_folder_holding_the_registry_keeps_it(make_dataset, tmp_path, capsys):
    out = tmp_path / "outputs"
    (out / "mlflow").mkdir(parents=True)
    (out / "mlflow" / "mlflow.db").write_text("registry")
    code = main(
        ["score", f"data.path={make_dataset()}", f"out={out}", f"models.store={out}/mlflow"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "output refused:" in err and "input does not meet the data contract" not in err
    assert (out / "mlflow" / "mlflow.db").read_text() == "registry"


def test_out_pointing_at_the_dataset_never_deletes_it(make_dataset, capsys):
    data = make_dataset()
    before = sorted(p.name for p in data.iterdir())
    assert main(["validate", f"data.path={data}", f"out={data}"]) == 2
    assert "output refused:" in capsys.readouterr().err
    assert sorted(p.name for p in data.iterdir()) == before


def test_out_dot_is_refused_before_any_work(make_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr("fraudml.cli.rules.opened", lambda *a, **k: seen.append(1))
    assert main(["rules", f"data.path={make_dataset()}", "out=."]) == 2
    assert seen == []  # refused before the dataset was opened
    assert "working directory" in capsys.readouterr().err


# --- validate writes its folder whole -----------------------------------------------------


def _two_datasets(make_dataset):
    def bad_visit(t):
        t["claims"][1]["visit_type"] = "walk-in"

    return make_dataset(), make_dataset(bad_visit)


def test_validate_failing_midway_leaves_the_previous_output(make_dataset, tmp_path, monkeypatch):
    clean, faulty = _two_datasets(make_dataset)
    out = tmp_path / "check"
    load_dataset(clean, out=out).close()
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    import fraudml.io.load as load

    real = load.checks.with_followers

    def fail_on_fee_lines(work, spec, *args):
        if spec.name == "claim_items":  # claims' quarantine is already written by now
            raise KeyboardInterrupt
        return real(work, spec, *args)

    monkeypatch.setattr(load.checks, "with_followers", fail_on_fee_lines)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(faulty, out=out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".check.") and p.is_dir()] == []


def test_validate_output_is_complete_and_its_database_reopens(make_dataset, tmp_path):
    _, faulty = _two_datasets(make_dataset)
    out = tmp_path / "check"
    with load_dataset(faulty, out=out) as ds:
        assert ds.database == out.resolve() / "validated.duckdb"
        assert ds.table("claims").count().execute() == 1
    report = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    assert report["quarantined"] == 2  # the claim and its fee line
    assert (out / "quarantine" / "claims.parquet").is_file()
    assert written_by(out) == "validate"


@pytest.mark.slow
def test_validate_killed_midway_never_mixes_two_runs(make_dataset, city_root, tmp_path):
    """kill -9 at any moment: OUT is the previous run's output or the new one, whole."""
    _, faulty = _two_datasets(make_dataset)
    out = tmp_path / "check"
    load_dataset(faulty, out=out).close()
    cmd = [str(ROOT / ".venv" / "bin" / "fraudml"), "validate", f"data.path={city_root}"]
    if not Path(cmd[0]).exists():
        cmd[0:1] = [sys.executable, "-m", "fraudml.cli.main"]
    proc = subprocess.Popen([*cmd, f"out={out}"], stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # kill once the city's first table has been validated
        if "patients" in line and "read" in line:
            break
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    report = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    quarantined = {p.stem for p in (out / "quarantine").glob("*.parquet")}
    assert report["dataset"] == str(faulty)  # still the previous run, whole
    assert quarantined == {t["table"] for t in report["tables"]}


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("engine.memory_limit=abc", "engine.memory_limit='abc' is not a memory size"),
        ("engine.threads=-1", "engine.threads=-1 is not a thread count"),
        ("engine.threads=0", "engine.threads=0 is not a thread count"),
    ],
)
def test_engine_settings_out_of_range_exit_2(override, message, make_dataset, tmp_path, capsys):
    code = main(["validate", f"data.path={make_dataset()}", f"out={tmp_path / 'o'}", override])
    assert code == 2
    err = capsys.readouterr().err
    assert f"invalid setting: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_engine_settings_accept_sizes_and_counts():
    assert EngineSettings("512MB", 2).threads == 2
    assert EngineSettings("1.5 GiB", None).memory_limit == "1.5 GiB"
    assert EngineSettings(None, None).memory_limit is None
    with pytest.raises(SettingError, match="not a thread count"):
        EngineSettings("1GB", True)  # a boolean is not a count


@pytest.mark.parametrize("value", [0, -3])
def test_a_capacity_below_one_is_refused(value):
    with pytest.raises(SettingError, match=rf"evaluate.capacity.stay={value} is not a capacity"):
        capacities({"patient": 100, "stay": value})
    assert capacities({"patient": 100}) == {"patient": 100}


def test_score_refuses_a_zero_capacity_before_work(make_dataset, tmp_path, capsys):
    out = tmp_path / "o"
    code = main(["score", f"data.path={make_dataset()}", f"out={out}", "evaluate.capacity.stay=0"])
    assert code == 2
    assert "invalid setting: evaluate.capacity.stay=0" in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_override_exits_2_not_1(capsys):
    assert main(["validate", "data.encodng=gbk"]) == 2
    assert main(["validate", "engine.threads=abc"]) == 2


# --- error kinds --------------------------------------------------------------------------


def test_errors_say_their_own_kind(make_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FRAUDML_PSEUDONYM_SALT", raising=False)
    data = make_dataset()
    code = main(["score", f"data.path={data}", f"out={tmp_path / 's'}", "report.pseudonymise=true"])
    assert code == 2
    err = capsys.readouterr().err
    assert "invalid setting: report.pseudonymise=true needs the salt" in err
    assert "data contract" not in err
    store = tmp_path / "empty-store"
    code = main(["score", f"data.path={data}", f"out={tmp_path / 's'}", f"models.store={store}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "models: no tracking store at" in err
    assert "data contract" not in err
    (data / "claims.csv").unlink()
    assert main(["validate", f"data.path={data}", f"out={tmp_path / 'v'}"]) == 2
    assert "input does not meet the data contract: " in capsys.readouterr().err


def test_engine_settings_have_upper_bounds_too():
    with pytest.raises(SettingError, match=r"engine.threads=100000 is not a thread count"):
        EngineSettings("1GB", 100000)
    with pytest.raises(SettingError, match=r"engine.memory_limit='99999999TB' is out of range"):
        EngineSettings("99999999TB")
    with pytest.raises(SettingError, match=r"engine.memory_limit='1KB' is out of range"):
        EngineSettings("1KB")


def test_a_capacity_that_is_not_per_entity_type_exits_2(make_dataset, tmp_path, capsys):
    code = main(
        ["score", f"data.path={make_dataset()}", f"out={tmp_path / 'o'}", "evaluate.capacity=5"]
    )
    assert code == 2
    assert "invalid setting: evaluate.capacity=5 is not a capacity per entity type" in (
        capsys.readouterr().err
    )


def test_the_tracking_store_may_not_live_in_the_dataset(make_dataset, capsys):
    data = make_dataset()
    before = sorted(p.name for p in data.iterdir())
    for command, key in (("train", "train.store"), ("score", "models.store")):
        assert main([command, f"data.path={data}", f"{key}={data / 'mlflow'}"]) == 2
        assert f"{key}={data / 'mlflow'} is inside the dataset" in capsys.readouterr().err
    assert sorted(p.name for p in data.iterdir()) == before


def test_scoring_without_a_store_leaves_none_behind(make_dataset, tmp_path, capsys):
    store = tmp_path / "nowhere"
    code = main(
        ["score", f"data.path={make_dataset()}", f"models.store={store}", f"out={tmp_path / 's'}"]
    )
    assert code == 2
    assert "models: no tracking store at" in capsys.readouterr().err
    assert not store.exists()
