"""engine=spark: the same validation, rule hits and profiles as DuckDB on a slice of the city.

One Spark session (local[2]) and one pair of datasets serve the whole module: Spark pays
seconds per query whatever the size, so the data is small (the committed city's first
150 patients) and the rules a handful that fire on it, from every family that does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fraudml.engine import spark
from fraudml.errors import SettingError
from fraudml.features.build import build_profiles
from fraudml.io.load import load_dataset
from fraudml.rulebase.engine import apply_rules, to_national
from fraudml.settings import EngineSettings
from fraudml.window import Window
from fraudml.workflows.common import load_rule_base
from tests.slices import city_slice

#: rules that fire on the slice, one or two per family (billing, catalog,
#: eligibility, frequency, inpatient, ratios)
RULES = (
    "BIL-DUP-DAY",
    "CAT-DAILY",
    "CAT-INDICATION",
    "ELG-DEATH-STAY",
    "FRQ-ADMISSION",
    "INP-SPLIT",
    "INP-DURING",
    "RAT-EXAM",
)
WINDOW = Window(None, None)

#: pyspark 4.0's own use of pandas 3 (``astype(copy=False)``), not fraudml's
pytestmark = pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")

missing = spark.missing_requirements()
needs_spark = pytest.mark.skipif(
    bool(missing), reason="engine=spark cannot run here: " + "; ".join(missing)
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """The slice validated (outputs written), ruled and profiled on each engine.

    The rule hits go through each engine's Parquet writer; of the profiles only the
    patients' are run (each profile costs Spark seconds; benchmarks/spark_bench.py
    compares every output of the whole city).
    """
    if missing:
        pytest.skip("engine=spark cannot run here: " + "; ".join(missing))
    # py4j logs every call to the JVM at DEBUG; under pytest's log capture that alone
    # took a third of the module's time
    py4j = logging.getLogger("py4j")
    level = py4j.level
    py4j.setLevel(logging.WARNING)
    root = tmp_path_factory.mktemp("spark")
    data = city_slice(root / "data")
    base = [r for r in load_rule_base() if r.id in RULES]
    assert len(base) == len(RULES)
    out = {}
    for name, engine in (("duckdb", EngineSettings()), ("spark", EngineSettings(name="spark"))):
        with load_dataset(data, out=root / name / "validated", engine=engine) as ds:
            built = build_profiles(ds, WINDOW, entities=["patient"])
            run = apply_rules(ds, WINDOW, base, built.inputs)  # the window's inputs reused
            hits = run.hits.order_by(["rule_id", "entity_id", "line_no"])
            ds.con.to_parquet(hits, root / name / "hits.parquet")
            out[name] = {
                "engine": ds.con.name,
                "reconciliation": ds.reconciliation.to_dict(),
                "claims": ds.table("claims").to_pyarrow(),
                "skipped": run.skipped,
                "review": to_national(run.hits, run.rules).drop("evidence").to_pyarrow(),
                "dropped": built.dropped,
                "patient": built.tables["patient"].to_pyarrow(),
            }
    py4j.setLevel(level)
    return root, out


def same_rows(a: pa.Table, b: pa.Table, key: list[str]) -> None:
    """Rows identical after sorting by ``key``; floats to 1e-9 relative (or 1e-9 absolute
    where a value is round-off of zero: a peer z-score whose peers are all equal)."""
    assert a.column_names == b.column_names
    assert a.num_rows == b.num_rows
    x = a.to_pandas().sort_values(key, kind="stable").reset_index(drop=True)
    y = b.to_pandas().sort_values(key, kind="stable").reset_index(drop=True)
    for column in x.columns:
        u, v = x[column], y[column]
        if pd.api.types.is_float_dtype(u) or pd.api.types.is_float_dtype(v):
            u, v = u.astype(float).to_numpy(), v.astype(float).to_numpy()
            assert np.allclose(u, v, rtol=1e-9, atol=1e-9, equal_nan=True), column
        else:
            assert u.astype(object).where(u.notna(), None).tolist() == (
                v.astype(object).where(v.notna(), None).tolist()
            ), column


def files(root: Path, name: str, step: str) -> list[str]:
    return sorted(str(p.relative_to(root / name / step)) for p in (root / name / step).rglob("*"))


@needs_spark
@pytest.mark.slow
def test_validation_is_the_same(runs) -> None:
    root, out = runs
    assert (out["duckdb"]["engine"], out["spark"]["engine"]) == ("duckdb", "pyspark")
    assert out["spark"]["reconciliation"] == out["duckdb"]["reconciliation"]
    assert sum(t["quarantined"] for t in out["spark"]["reconciliation"]) > 0  # dangling keys
    assert files(root, "spark", "validated") == files(root, "duckdb", "validated")
    report = {
        e: json.loads((root / e / "validated" / "validation.json").read_text())
        for e in ("duckdb", "spark")
    }
    assert report["spark"] == report["duckdb"]
    for table in ("chronic_registrations", "labels"):
        quarantine = {
            e: pq.read_table(root / e / "validated" / "quarantine" / f"{table}.parquet")
            for e in ("duckdb", "spark")
        }
        assert quarantine["spark"].equals(quarantine["duckdb"])
    same_rows(out["duckdb"]["claims"], out["spark"]["claims"], ["claim_id"])


@needs_spark
@pytest.mark.slow
def test_rule_hits_are_the_same(runs) -> None:
    root, out = runs
    duck, on_spark = (pq.read_table(root / e / "hits.parquet") for e in ("duckdb", "spark"))
    # every chosen rule fires: the comparison is not of nothing
    assert set(duck["rule_id"].to_pylist()) == set(RULES)
    assert out["spark"]["skipped"] == out["duckdb"]["skipped"] == {}
    assert on_spark.schema.types == duck.schema.types  # stored alike (nullability aside)
    same_rows(duck, on_spark, ["rule_id", "entity_id", "line_no"])
    # the national review's ids too: each engine's md5, not its own hash function
    review = [out[e]["review"] for e in ("duckdb", "spark")]
    assert review[0].num_rows == duck.num_rows
    same_rows(*review, ["jr_id"])


@needs_spark
@pytest.mark.slow
def test_patient_profiles_are_the_same(runs) -> None:
    _, out = runs
    assert out["spark"]["dropped"] == out["duckdb"]["dropped"]
    duck, on_spark = out["duckdb"]["patient"], out["spark"]["patient"]
    with_claims = set(out["duckdb"]["claims"]["patient_id"].to_pylist())
    assert duck.num_rows == len(with_claims) > 100 and duck.num_columns > 50
    same_rows(duck, on_spark, ["patient_id"])


def test_spark_that_cannot_start_stops_before_reading(monkeypatch, make_dataset, tmp_path) -> None:
    """A missing Java or pyspark is named at start-up: nothing read, nothing written."""
    monkeypatch.setattr(spark, "missing_requirements", lambda: ["no Java runtime found"])
    data = make_dataset()
    with pytest.raises(SettingError, match=r"engine=spark .* cannot start: no Java runtime"):
        load_dataset(data, out=tmp_path / "out", engine=EngineSettings(name="spark"))
    assert not (tmp_path / "out").exists()


def test_engine_group_spark_gives_its_settings() -> None:
    from hydra import compose, initialize_config_dir

    from fraudml.cli.common import engine_settings
    from fraudml.config import register
    from fraudml.paths import conf_dir

    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        duck = engine_settings(compose("rules", overrides=["data.path=x"]))
        on_spark = engine_settings(
            compose("rules", overrides=["data.path=x", "engine=spark", "engine.master='local[1]'"])
        )
    assert duck == EngineSettings()
    assert on_spark.name == "spark" and on_spark.master == "local[1]"
    assert on_spark.spark["spark.sql.shuffle.partitions"] == "4"
    with pytest.raises(SettingError, match=r"engine\.spark"):
        EngineSettings(name="spark", spark={"executor.memory": "4g"})


def partitioned_copy(flat: Path, out: Path) -> Path:
    """``flat`` with claims and fee lines Hive-partitioned by the claim's month."""
    out.mkdir(parents=True)
    claims = pq.read_table(flat / "claims.parquet")
    month = pc.strftime(claims["admit_time"], "%Y-%m")
    of_claim = dict(zip(claims["claim_id"].to_pylist(), month.to_pylist(), strict=True))
    items = pq.read_table(flat / "claim_items.parquet")
    by_claim = pa.array([of_claim[c] for c in items["claim_id"].to_pylist()])
    held = {"claims": (claims, month), "claim_items": (items, by_claim)}
    for name, (table, months) in held.items():
        for value in sorted(set(months.to_pylist())):
            folder = out / name / f"month={value}"
            folder.mkdir(parents=True)
            pq.write_table(table.filter(pc.equal(months, value)), folder / "part-0.parquet")
    for path in flat.glob("*.parquet"):
        if path.stem not in held:
            (out / path.name).write_bytes(path.read_bytes())
    return out


@needs_spark
@pytest.mark.slow
def test_partitioned_input_is_read_on_spark(runs) -> None:
    """The slice Hive-partitioned by month gives Spark the same validated claims."""
    root, out = runs
    data = partitioned_copy(root / "data", root / "partitioned")
    assert len(list((data / "claim_items").glob("month=*"))) == 12
    with load_dataset(data, engine=EngineSettings(name="spark")) as ds:
        assert ds.con.name == "pyspark"
        counts = ds.reconciliation.to_dict()
        claims = ds.table("claims").to_pyarrow()
    unsourced = [{k: v for k, v in c.items() if k != "source"} for c in counts]
    flat = [{k: v for k, v in c.items() if k != "source"} for c in out["duckdb"]["reconciliation"]]
    assert unsourced == flat
    same_rows(out["duckdb"]["claims"], claims, ["claim_id"])


@needs_spark
def test_one_parquet_file_keeps_the_order_and_types_without_collecting(tmp_path) -> None:
    """``to_parquet`` of a sorted table on Spark: Spark's parts are copied into one file in
    order (not collected in the driver, which spark.driver.maxResultSize bounds), with the
    expression's own types."""
    import ibis

    data = city_slice(tmp_path / "data", n_patients=60)
    with load_dataset(data, engine=EngineSettings(name="spark")) as ds:
        items = ds.table("claim_items")
        ordered = items.select("claim_id", "line_no", "amount", one=ibis.literal(1, "int8"))
        ordered = ordered.order_by([ibis.desc("amount"), "claim_id", "line_no"])
        ds.con.to_parquet(ordered, tmp_path / "lines.parquet")
        n = int(items.count().execute())
        scratch = Path(ds.con._fraudml_scratch)
        assert scratch.is_dir() and not list(scratch.glob("_out-*"))  # the parts are gone
    written = pq.read_table(tmp_path / "lines.parquet")
    assert written.num_rows == n > 100
    assert written.schema.field("one").type == pa.int8()
    frame = written.to_pandas()
    expected = frame.sort_values(
        ["amount", "claim_id", "line_no"], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected)
