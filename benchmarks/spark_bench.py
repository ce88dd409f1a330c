"""engine=spark beside DuckDB on the same city: validation, rules and profiles, timed and compared.

Each engine runs in its own child process (Spark's JVM and DuckDB's buffers are measured
apart): validate (with its quarantine and report written), the rule base (``hits``,
``review`` and per-entity files) and the profiles with their rule features, each written
as ``make rules`` / ``make profiles`` would. Then every output file is compared, row for
row, floats to 1e-9 relative (or 1e-9 absolute where a value is round-off of zero).

Usage::

    python -m benchmarks.spark_bench [DATA]        # default data/synthetic/small

``section(data)`` gives the Markdown rows for docs/benchmarks.md (see benchmarks.run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITY = ROOT / "data" / "synthetic" / "small"
STEPS = ("validate", "rules", "profiles")
#: bookkeeping that differs by design between any two runs
VOLATILE = {"seconds", "written_at", "started_at", "finished_at"}


def run_engine(data: Path, work: Path, engine: str) -> dict[str, float]:
    """Validate, rule and profile ``data`` on ``engine``; seconds per step."""
    import fraudml
    from fraudml.io.load import load_dataset
    from fraudml.settings import EngineSettings

    settings = EngineSettings(name=engine)
    seconds: dict[str, float] = {}
    if engine == "spark":  # the JVM's start, apart from the work
        from fraudml.engine.spark import session

        started = time.perf_counter()
        session(settings)
        seconds["session"] = time.perf_counter() - started
    started = time.perf_counter()
    ds = load_dataset(data, out=work / engine / "validated", engine=settings)
    seconds["validate"] = time.perf_counter() - started
    try:
        started = time.perf_counter()
        fraudml.rules(ds, out=work / engine / "rules")
        seconds["rules"] = time.perf_counter() - started
        started = time.perf_counter()
        fraudml.profiles(ds, out=work / engine / "profiles")
        seconds["profiles"] = time.perf_counter() - started
    finally:
        ds.close()
    return seconds


def measure(data: Path, work: Path, engine: str) -> dict[str, float]:
    """:func:`run_engine` in a child process; its seconds and peak memory (GiB)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.spark_bench", str(data), "--child", engine, str(work)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"spark_bench: the {engine} run failed")
    result = json.loads(out.strip().splitlines()[-1])
    # the child's own maximum resident set (wait4); Spark's JVM may not be counted in it
    result["peak_gib"] = usage.ru_maxrss / 1024**2
    return result


def compare(work: Path) -> list[str]:
    """Every difference between the two engines' outputs (empty: none)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: list[str] = []
    types: dict[str, list[str]] = {}  # the stored type pair → the columns stored so
    for step in ("validated", "rules", "profiles"):
        a, b = work / "duckdb" / step, work / "spark" / step
        names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
        other = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
        if names != other:
            found.append(f"{step}: files differ: {sorted(set(names) ^ set(other))}")
        for name in names:
            x_path, y_path = a / name, b / name
            if not y_path.exists():
                continue
            if name.endswith(".json"):
                x, y = json.loads(x_path.read_text()), json.loads(y_path.read_text())
                for key in sorted((set(x) | set(y)) - VOLATILE):
                    if x.get(key) != y.get(key):
                        found.append(f"{step}/{name}: '{key}' differs")
                continue
            if not name.endswith(".parquet"):
                continue
            x, y = pq.read_table(x_path), pq.read_table(y_path)
            if x.column_names != y.column_names or x.num_rows != y.num_rows:
                found.append(f"{step}/{name}: columns or row count differ")
                continue
            xf, yf = x.to_pandas(), y.to_pandas()
            for column in x.column_names:
                tx, ty = x.schema.field(column).type, y.schema.field(column).type
                if tx != ty:
                    types.setdefault(f"{tx} vs {ty}", []).append(f"{step}/{name}:{column}")
                u, v = xf[column], yf[column]
                if pa.types.is_decimal(tx) or pa.types.is_decimal(ty):
                    u, v = u.astype(float), v.astype(float)  # compared as the models read them
                if pd.api.types.is_numeric_dtype(u) and pd.api.types.is_numeric_dtype(v):
                    uu, vv = u.astype(float).to_numpy(), v.astype(float).to_numpy()
                    if not np.allclose(uu, vv, rtol=1e-9, atol=1e-9, equal_nan=True):
                        found.append(f"{step}/{name}: {column} values differ")
                elif u.astype(object).where(u.notna(), None).tolist() != (
                    v.astype(object).where(v.notna(), None).tolist()
                ):
                    found.append(f"{step}/{name}: {column} values differ")
    for pair, columns in types.items():
        names = sorted({c.rsplit(":", 1)[1] for c in columns})
        found.append(
            f"stored as {pair} (DuckDB vs Spark; values agree) in {len(columns)} columns of "
            f"{len({c.rsplit(':', 1)[0] for c in columns})} files: {', '.join(names)}"
        )
    return found


def section(data: Path = CITY) -> list[str]:
    """Both engines on ``data``, timed and compared: Markdown for docs/benchmarks.md."""
    work = Path(tempfile.mkdtemp(prefix="spark-bench-"))
    try:
        print("spark: duckdb …", flush=True)
        duck = measure(data, work, "duckdb")
        print("spark: spark local[2] …", flush=True)
        spark = measure(data, work, "spark")
        differences = compare(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shown = data.relative_to(ROOT) if data.is_relative_to(ROOT) else data
    rows = [
        f"### engine=spark beside DuckDB on {shown}",
        "",
        "| step | DuckDB (s) | Spark local[2] (s) | Spark / DuckDB |",
        "|---|---:|---:|---:|",
    ]
    for step in STEPS:
        rows.append(
            f"| {step} | {duck[step]:.1f} | {spark[step]:.1f} | {spark[step] / duck[step]:.1f}× |"
        )
    total_d, total_s = sum(duck[s] for s in STEPS), sum(spark[s] for s in STEPS)
    rows += [
        f"| all three | {total_d:.1f} | {total_s:.1f} | {total_s / total_d:.1f}× |",
        "",
        f"Starting the Spark session took {spark['session']:.1f} s more (not counted above). "
        "Validation runs on DuckDB on both; Spark's row adds handing the accepted tables over "
        f"as Parquet. Peak memory (the child's max RSS): DuckDB {duck['peak_gib']:.2f} GiB, "
        f"Spark {spark['peak_gib']:.2f} GiB (the Python driver; the JVM may be apart).",
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
    args = parser.parse_args()
    if args.child:
        engine, work = args.child
        print(json.dumps(run_engine(args.data.resolve(), Path(work), engine)))
        return
    print("\n".join(section(args.data.resolve())))


if __name__ == "__main__":
    main()
