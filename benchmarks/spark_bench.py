"""engine=spark beside DuckDB on the same city: validate, rules, profiles, train and score,
timed and compared.

Each engine runs in its own child process (Spark's JVM and DuckDB's buffers are measured
apart): validate (with its quarantine and report written), the rule base (``hits``,
``review`` and per-entity files) and the profiles with their rule features, each written
as ``make rules`` / ``make profiles`` would; then ``fraudml.train`` up to
:data:`TRAIN_UNTIL` into an MLflow store of that engine's own, and ``fraudml.score`` of
:data:`SCORE_PERIOD` with the champions it registered (the README's Python example on
this city). Then every output file is compared, row for row, floats to 1e-9 relative (or
1e-9 absolute where a value is round-off of zero): Parquet, CSV and JSON as tables and
values; of the report, the workbook cell for cell, the HTML with its generation time
masked, and the case packs by name (PDFs carry their printing time).

Usage::

    python -m benchmarks.spark_bench [DATA]        # default data/synthetic/small
    python -m benchmarks.spark_bench DATA --steps validate,rules,profiles

``--steps`` runs and compares only some steps (validation always runs): on a 10M-line
city training and scoring on both engines would take most of an hour here, and the engine
part of them (profiles and rules of their windows) is what the three steps measure.

With ``SPARK_BENCH_KEEP=dir`` the two engines' outputs are written under ``dir`` and kept
(to look into a difference); otherwise they go to a temporary folder, removed after.

``section(data)`` gives the Markdown rows for docs/benchmarks.md (see benchmarks.run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from fraudml.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "data" / "synthetic" / "small"
STEPS = ("validate", "rules", "profiles", "train", "score")
#: each step's output folder
OUTPUTS = {
    "validate": "validated",
    "rules": "rules",
    "profiles": "profiles",
    "train": "train",
    "score": "score",
}
#: the README's Python example on this city: models learn from claims before September
#: 2024 (and are judged on what follows), then score November 2024
TRAIN_UNTIL = datetime(2024, 9, 1)
SCORE_PERIOD = (datetime(2024, 11, 1), datetime(2024, 12, 1))
#: the score's own folder below ``score/``: a month's folder, as ``make score`` writes, with
#: no sibling outputs for its repeat marks to read
SCORE_MONTH = "2024-11"
#: bookkeeping that differs by design between any two runs (the MLflow run and the store
#: it was logged in are each engine's own)
VOLATILE = {"seconds", "written_at", "started_at", "finished_at", "run_id", "tracking_uri"}
#: the report's generation time (``generated``), the one part of report.html that differs
#: by design between two runs
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
#: at most this many differing keys or cells are named per file
SHOWN = 5


def engine_settings(engine: str, driver_memory: str | None = None) -> EngineSettings:
    """The engine group's settings, as ``ENGINE=engine`` gives them (conf/engine/), with
    Spark's driver memory replaced when ``driver_memory`` is given: the bench runs as an
    operator would, not on the library's bare defaults (Spark's own 1g driver)."""
    from omegaconf import OmegaConf

    from fraudml.settings import EngineSettings

    group = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "engine" / f"{engine}.yaml"))
    if engine == "duckdb":
        return EngineSettings(memory_limit=group["memory_limit"], threads=group["threads"])
    spark = dict(group.get("spark") or {})
    if driver_memory is not None:
        spark["spark.driver.memory"] = driver_memory
    return EngineSettings(
        memory_limit=group["memory_limit"],
        threads=group["threads"],
        name=engine,
        master=group["master"],
        spark=spark,
        staging=group["staging"],
    )


def run_engine(
    data: Path,
    work: Path,
    engine: str,
    steps: tuple[str, ...] = STEPS,
    driver_memory: str | None = None,
) -> dict[str, float]:
    """Validate, rule, profile, train and score ``data`` on ``engine`` (of those, the
    ``steps`` asked for; validation always) with :func:`engine_settings`; seconds per
    step."""
    import fraudml
    from fraudml.io.load import load_dataset

    settings = engine_settings(engine, driver_memory)
    seconds: dict[str, float] = {}
    if engine == "spark":  # the JVM's start, apart from the work
        from fraudml.engine.spark import session

        started = time.perf_counter()
        session(settings)
        seconds["session"] = time.perf_counter() - started
    started = time.perf_counter()
    ds = load_dataset(data, out=work / engine / "validated", engine=settings)
    seconds["validate"] = time.perf_counter() - started
    # each engine its own tracking store, so that each scores with the models it trained
    store = work / engine / "mlflow"
    try:
        if "rules" in steps:
            started = time.perf_counter()
            fraudml.rules(ds, out=work / engine / "rules")
            seconds["rules"] = time.perf_counter() - started
        if "profiles" in steps:
            started = time.perf_counter()
            fraudml.profiles(ds, out=work / engine / "profiles")
            seconds["profiles"] = time.perf_counter() - started
        if "train" not in steps:
            return seconds
        started = time.perf_counter()
        fraudml.train(
            ds,
            until=TRAIN_UNTIL,
            settings=fraudml.TrainSettings(store=store),
            out=work / engine / "train",
        )
        seconds["train"] = time.perf_counter() - started
        if "score" not in steps:
            return seconds
        started = time.perf_counter()
        fraudml.score(
            ds,
            fraudml.Window(*SCORE_PERIOD),
            settings=fraudml.ScoreSettings(store=store),
            out=work / engine / "score" / SCORE_MONTH,
        )
        seconds["score"] = time.perf_counter() - started
    finally:
        ds.close()
    return seconds


def measure(
    data: Path,
    work: Path,
    engine: str,
    steps: tuple[str, ...] = STEPS,
    driver_memory: str | None = None,
) -> dict:
    """:func:`run_engine` in a child process: its seconds per step, peak memory (GiB,
    ``peak_gib``) and the 1-minute load average at its start and end (``load``)."""
    # a tracking URI in the environment would take both engines' models to one store
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    load = os.getloadavg()[0]  # the machine is shared: the load is reported with the times
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.spark_bench",
            str(data),
            "--child",
            engine,
            str(work),
            "--steps",
            ",".join(steps),
            *(["--driver-memory", driver_memory] if driver_memory else []),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"spark_bench: the {engine} run failed")
    result = json.loads(out.strip().splitlines()[-1])
    # the child's own maximum resident set (wait4); Spark's JVM may not be counted in it
    result["peak_gib"] = usage.ru_maxrss / 1024**2
    result["load"] = [load, os.getloadavg()[0]]
    return result


def _same(u: object, v: object) -> bool:
    """Equal, numbers to 1e-9 (relative or absolute), NaN equal to NaN."""
    import math

    if isinstance(u, bool) or isinstance(v, bool):
        return u == v
    if isinstance(u, (int, float)) and isinstance(v, (int, float)):
        if math.isnan(u) or math.isnan(v):
            return math.isnan(u) and math.isnan(v)
        return math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-9)
    return u == v


def json_diff(x: object, y: object, path: str = "") -> list[str]:
    """The paths (``a.b[2]``) where two JSON documents differ, :data:`VOLATILE` keys left
    out at every level."""
    if isinstance(x, dict) and isinstance(y, dict):
        found = []
        for key in sorted((set(x) | set(y)) - VOLATILE):
            where = f"{path}.{key}" if path else str(key)
            if key not in x or key not in y:
                found.append(where)
            else:
                found += json_diff(x[key], y[key], where)
        return found
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return [f"{path} (length {len(x)} vs {len(y)})"]
        return [
            d
            for i, (u, v) in enumerate(zip(x, y, strict=True))
            for d in json_diff(u, v, f"{path}[{i}]")
        ]
    return [] if _same(x, y) else [path]


def column_diff(
    xf: pd.DataFrame, yf: pd.DataFrame, xs: pa.Schema | None, ys: pa.Schema | None
) -> tuple[list[str], dict[str, str]]:
    """The columns whose values differ row for row, and the stored type pair
    (``double vs int64``) of each column stored differently (Parquet's schemas)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    differ, types = [], {}
    for column in xf.columns:
        u, v = xf[column], yf[column]
        decimal = False
        if xs is not None and ys is not None:
            tx, ty = xs.field(column).type, ys.field(column).type
            if tx != ty:
                types[column] = f"{tx} vs {ty}"
            decimal = pa.types.is_decimal(tx) or pa.types.is_decimal(ty)
        if decimal:
            u, v = u.astype(float), v.astype(float)  # compared as the models read them
        if pd.api.types.is_numeric_dtype(u) and pd.api.types.is_numeric_dtype(v):
            uu, vv = u.astype(float).to_numpy(), v.astype(float).to_numpy()
            if not np.allclose(uu, vv, rtol=1e-9, atol=1e-9, equal_nan=True):
                differ.append(column)
        elif u.astype(object).where(u.notna(), None).tolist() != (
            v.astype(object).where(v.notna(), None).tolist()
        ):
            differ.append(column)
    return differ, types


def reordered(xf: pd.DataFrame, yf: pd.DataFrame) -> bool:
    """Whether the two frames hold the same rows in another order (floats to 1e-9)."""

    def by_value(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.reset_index(drop=True)
        # sorted on every column as text, floats rounded first so that round-off sorts alike
        shown = frame.copy()
        for column in shown.columns:
            if shown[column].dtype.kind == "f":
                shown[column] = shown[column].round(6)
        order = shown.astype(str).sort_values(list(shown.columns), kind="stable").index
        return frame.loc[order].reset_index(drop=True)

    return not column_diff(by_value(xf), by_value(yf), None, None)[0]


def table_diff(label: str, xf: pd.DataFrame, yf: pd.DataFrame) -> list[str]:
    """What differs between two tables of one file, as lines naming ``label``."""
    if list(xf.columns) != list(yf.columns) or len(xf) != len(yf):
        return [f"{label}: columns or row count differ ({xf.shape} vs {yf.shape})"]
    differ, _ = column_diff(xf, yf, None, None)
    if not differ:
        return []
    if reordered(xf, yf):
        return [f"{label}: the same rows in another order ({', '.join(differ)} differ row for row)"]
    return [f"{label}: {column} values differ" for column in differ]


def workbook_diff(label: str, x_path: Path, y_path: Path) -> list[str]:
    """The sheets and first cells where two workbooks differ, value for value."""
    from openpyxl import load_workbook

    x, y = load_workbook(x_path, read_only=True), load_workbook(y_path, read_only=True)
    try:
        if x.sheetnames != y.sheetnames:
            return [f"{label}: sheets differ ({x.sheetnames} vs {y.sheetnames})"]
        found = []
        for name in x.sheetnames:
            a = [list(r) for r in x[name].iter_rows(values_only=True)]
            b = [list(r) for r in y[name].iter_rows(values_only=True)]
            if len(a) != len(b):
                found.append(f"{label} sheet {name}: {len(a)} vs {len(b)} rows")
                continue
            cells = [
                f"R{i + 1}C{j + 1}"
                for i, (ra, rb) in enumerate(zip(a, b, strict=True))
                for j in range(max(len(ra), len(rb)))
                if not _same(ra[j] if j < len(ra) else None, rb[j] if j < len(rb) else None)
            ]
            if cells:
                found.append(
                    f"{label} sheet {name}: {len(cells)} cells differ ({', '.join(cells[:SHOWN])})"
                )
        return found
    finally:
        x.close()
        y.close()


def html_diff(label: str, x_path: Path, y_path: Path) -> list[str]:
    """Whether two HTML reports differ beyond their generation time (first line that does)."""
    a = STAMP.sub("<time>", x_path.read_text(encoding="utf-8")).splitlines()
    b = STAMP.sub("<time>", y_path.read_text(encoding="utf-8")).splitlines()
    for i, (u, v) in enumerate(zip(a, b, strict=False)):
        if u != v:
            return [f"{label}: differs from line {i + 1} of {len(a)} (beyond its time stamp)"]
    return [] if len(a) == len(b) else [f"{label}: {len(a)} vs {len(b)} lines"]


def compare(work: Path, steps: tuple[str, ...] = STEPS) -> list[str]:
    """Every difference between the two engines' outputs of ``steps`` (empty: none)."""
    import pandas as pd
    import pyarrow.parquet as pq

    found: list[str] = []
    types: dict[str, list[str]] = {}  # the stored type pair → the columns stored so
    for step in (OUTPUTS[s] for s in STEPS if s in steps or s == "validate"):
        a, b = work / "duckdb" / step, work / "spark" / step
        names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
        other = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
        if names != other:
            found.append(f"{step}: files differ: {sorted(set(names) ^ set(other))}")
        for name in names:
            x_path, y_path, label = a / name, b / name, f"{step}/{name}"
            if not y_path.exists():
                continue
            if name.endswith(".json"):
                paths = json_diff(json.loads(x_path.read_text()), json.loads(y_path.read_text()))
                if paths:
                    found.append(f"{label}: {', '.join(repr(p) for p in paths[:SHOWN])} differ")
                    if len(paths) > SHOWN:
                        found[-1] += f" (and {len(paths) - SHOWN} more)"
            elif name.endswith(".csv"):
                found += table_diff(label, pd.read_csv(x_path), pd.read_csv(y_path))
            elif name.endswith(".xlsx"):
                found += workbook_diff(label, x_path, y_path)
            elif name.endswith(".html"):
                found += html_diff(label, x_path, y_path)
            elif name.endswith(".parquet"):
                x, y = pq.read_table(x_path), pq.read_table(y_path)
                if x.column_names != y.column_names or x.num_rows != y.num_rows:
                    found.append(f"{label}: columns or row count differ")
                    continue
                xf, yf = x.to_pandas(), y.to_pandas()
                differ, stored = column_diff(xf, yf, x.schema, y.schema)
                for column, pair in stored.items():
                    types.setdefault(pair, []).append(f"{label}:{column}")
                if differ and reordered(xf, yf):
                    found.append(
                        f"{label}: the same rows in another order "
                        f"({', '.join(differ)} differ row for row)"
                    )
                else:
                    found += [f"{label}: {column} values differ" for column in differ]
            # other files (the case packs' PDFs, which carry their printing time) are
            # compared by name only, above
    for pair, columns in types.items():
        names = sorted({c.rsplit(":", 1)[1] for c in columns})
        found.append(
            f"stored as {pair} (DuckDB vs Spark) in {len(columns)} columns of "
            f"{len({c.rsplit(':', 1)[0] for c in columns})} files: {', '.join(names)}"
        )
    return found


def section(
    data: Path = CITY,
    steps: tuple[str, ...] = STEPS,
    note: str = "",
    driver_memory: str | None = None,
) -> list[str]:
    """Both engines on ``data`` (the ``steps`` asked for), timed and compared: Markdown for
    docs/benchmarks.md; ``note`` is said after the heading (what the city is);
    ``driver_memory`` replaces conf/engine/spark.yaml's."""
    steps = tuple(s for s in STEPS if s in steps or s == "validate")
    keep = os.environ.get("SPARK_BENCH_KEEP")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="spark-bench-", dir=keep or None))
    try:
        print("spark: duckdb …", flush=True)
        duck = measure(data, work, "duckdb", steps)
        print("spark: spark local[2] …", flush=True)
        spark = measure(data, work, "spark", steps, driver_memory)
        differences = compare(work, steps)
    finally:
        if keep:
            print(f"spark: outputs kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    shown = data.relative_to(ROOT) if data.is_relative_to(ROOT) else data
    labels = {
        "validate": "validate (Spark: and the hand-over)",
        "rules": "rules (`hits`, `review`, per-entity files)",
        "profiles": "profiles (five entity types, with rule features)",
        "train": f"train (until {TRAIN_UNTIL:%Y-%m-%d}: fit, evaluate, register)",
        "score": f"score ({SCORE_PERIOD[0]:%Y-%m-%d} to {SCORE_PERIOD[1]:%Y-%m-%d}: "
        "scores, leads, report, case packs)",
    }
    spark_settings = engine_settings("spark", driver_memory)
    rows = [
        f"### engine=spark beside DuckDB on {shown}",
        "",
        *([note, ""] if note else []),
        "Each engine as its group in conf/engine/ sets it: DuckDB with memory_limit "
        f"{engine_settings('duckdb').memory_limit}; Spark on master {spark_settings.master} "
        "with "
        + ", ".join(f"`{k}: {v}`" for k, v in sorted(spark_settings.spark.items()))
        + (" (the driver memory given to this section)" if driver_memory else "")
        + ".",
        "",
        "| step | DuckDB (s) | Spark local[2] (s) | Spark / DuckDB |",
        "|---|---:|---:|---:|",
    ]
    for step in steps:
        rows.append(
            f"| {labels[step]} | {duck[step]:.1f} | {spark[step]:.1f} "
            f"| {spark[step] / duck[step]:.1f}× |"
        )
    total_d, total_s = sum(duck[s] for s in steps), sum(spark[s] for s in steps)
    counted = {3: "three", 4: "four", 5: "five"}.get(len(steps), str(len(steps)))
    rows += [
        f"| all {counted} | {total_d:.1f} | {total_s:.1f} | {total_s / total_d:.1f}× |",
        "",
        f"Starting the Spark session took {spark['session']:.1f} s more (not counted above). "
        "Validation runs on DuckDB on both; Spark's row adds handing the accepted tables over "
        "as Parquet. "
        + (
            "Train and score each build their windows' profiles and rule hits on the "
            "engine (train: the fit, label and evaluation windows; score: the period) and fit "
            "and score on the driver, each engine with an MLflow store of its own. "
            if "train" in steps
            else ""
        )
        + "Peak memory (the "
        f"child's max RSS): DuckDB {duck['peak_gib']:.2f} GiB, Spark {spark['peak_gib']:.2f} "
        "GiB (the Python driver; the JVM may be apart). Load average (1 min) at the start "
        f"and end of each run: DuckDB {duck['load'][0]:.1f}–{duck['load'][1]:.1f}, Spark "
        f"{spark['load'][0]:.1f}–{spark['load'][1]:.1f} (on {os.cpu_count()} cores).",
        "",
    ]
    if differences:
        rows += ["Differences between the engines' outputs:", ""]
        rows += [f"- {d}" for d in differences] + [""]
    else:
        rows += ["Every output file agrees: same files, rows, and values (1e-9).", ""]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="?", type=Path, default=CITY)
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "WORK"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--driver-memory",
        default=None,
        help="spark.driver.memory instead of conf/engine/spark.yaml's (such as 8g)",
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated steps of {', '.join(STEPS)} (validation always runs)",
    )
    args = parser.parse_args()
    steps = tuple(s for s in args.steps.split(",") if s)
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    if args.child:
        engine, work = args.child
        result = run_engine(args.data.resolve(), Path(work), engine, steps, args.driver_memory)
        print(json.dumps(result))
        return
    print("\n".join(section(args.data.resolve(), steps, driver_memory=args.driver_memory)))


if __name__ == "__main__":
    main()
