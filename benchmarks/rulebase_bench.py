"""The whole rule base at the national breadth over ~10M fee lines, beside hand-written SQL.

``python -m benchmarks.rulebase_bench [--lines 10000000]``

The city is simulated by the current simulator (so the catalog's national columns, the
dates of death and the practitioners' registrations are filled and every rule runs) into
``data/bench/city-<patients>-<simulator hash>``, once. Then, each in a process of
its own (peak memory measured): the dataset is validated and every rule of
``conf/rules`` run by fraudml, hits with messages and evidence materialised; and the SQL an
engineer would write by hand counts the hits of a sample of rules, classic and national,
over the validated database. The run stops when a count differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "bench"
#: Fee lines per insured person of the standard city (benchmarks/run.py).
LINES_PER_PATIENT = 30.6

#: Hand-written DuckDB SQL counting the hits of a sample of rules over the validated tables.
SQL = {
    "CAT-GENDER": """
        SELECT count(*) FROM claim_items i
        JOIN claims c USING (claim_id) JOIN patients p USING (patient_id)
        JOIN catalog k USING (item_code)
        WHERE k.gender IS NOT NULL AND k.gender <> p.gender
    """,
    "CAT-PRICE": """
        SELECT count(*) FROM claim_items i JOIN catalog k USING (item_code)
        WHERE k.price_cap IS NOT NULL AND i.unit_price > k.price_cap + 0.005
    """,
    "CAT-DAILY": """
        WITH l AS (
            SELECT c.patient_id, i.item_code, i.quantity, k.max_daily_quantity AS cap,
                   CAST(coalesce(i.item_time, c.admit_time) AS DATE) AS day
            FROM claim_items i JOIN claims c USING (claim_id) JOIN catalog k USING (item_code)
            WHERE k.max_daily_quantity IS NOT NULL
        )
        SELECT count(*) FROM (
            SELECT cap, sum(quantity) OVER (PARTITION BY patient_id, item_code, day) AS q FROM l
        ) WHERE q > cap
    """,
    "BIL-TRACE": """
        SELECT count(*) FROM (
            SELECT row_number() OVER (
                PARTITION BY i.trace_code
                ORDER BY coalesce(i.item_time, c.admit_time), i.claim_id, i.line_no
            ) AS n
            FROM claim_items i JOIN claims c USING (claim_id)
            WHERE i.trace_code IS NOT NULL
        ) WHERE n > 1
    """,
    # 目录外: an item code no catalog entry lists
    "CAT-UNLISTED": """
        SELECT count(*) FROM claim_items i JOIN claims c USING (claim_id)
        WHERE NOT EXISTS (SELECT 1 FROM catalog k WHERE k.item_code = i.item_code)
    """,
    # 限适应症: the main diagnosis starts with none of the item's ICD-10 prefixes
    "CAT-INDICATION": r"""
        SELECT count(*) FROM claim_items i JOIN claims c USING (claim_id)
        JOIN catalog k USING (item_code)
        WHERE k.indications IS NOT NULL
          AND NOT regexp_matches(coalesce(c.diagnosis_code, ''),
              '^(' || replace(replace(replace(k.indications, ' ', ''), '.', '\.'), ';', '|')
              || ')')
    """,
    # 死亡后就医
    "ELG-DEATH": """
        SELECT count(*) FROM claims c JOIN patients p USING (patient_id)
        WHERE p.death_date IS NOT NULL AND CAST(c.admit_time AS DATE) > p.death_date
    """,
    # 暂停医保支付资格期间结算
    "DOC-SUSPENDED": """
        SELECT count(*) FROM claims c JOIN doctors d USING (doctor_id)
        WHERE c.visit_type IN ('outpatient', 'emergency', 'outpatient_chronic', 'other',
                               'inpatient', 'pharmacy')
          AND d.suspended_from IS NOT NULL
          AND CAST(c.admit_time AS DATE) >= d.suspended_from
          AND (d.suspended_to IS NULL OR CAST(c.admit_time AS DATE) <= d.suspended_to)
    """,
    # 分解收费: a part billed on a claim that bills its package
    "BIL-BUNDLE": """
        SELECT count(*) FROM claim_items i JOIN claims c USING (claim_id)
        JOIN catalog k USING (item_code)
        WHERE k.bundle_of IS NOT NULL AND c.visit_type <> 'pharmacy'
          AND EXISTS (SELECT 1 FROM claim_items j
                      WHERE j.claim_id = i.claim_id AND j.item_code = k.bundle_of)
    """,
    # 虚计床日: bed days beyond the days of the stay
    "INP-BEDDAYS": """
        WITH b AS (
            SELECT c.claim_id,
                   date_diff('day', CAST(c.admit_time AS DATE),
                             CAST(c.discharge_time AS DATE)) AS los,
                   coalesce(sum(CASE WHEN i.item_category = 'bed' THEN i.quantity END), 0)
                       AS bed_days
            FROM claims c LEFT JOIN claim_items i USING (claim_id)
            WHERE c.visit_type = 'inpatient'
            GROUP BY c.claim_id, c.admit_time, c.discharge_time
        )
        SELECT count(*) FROM b WHERE bed_days > los AND bed_days > 1
    """,
    # 手术无麻醉
    "MED-SURG-NO-ANAES": """
        SELECT count(*) FROM (
            SELECT c.claim_id,
                   sum(CASE WHEN i.item_code IN ('SG001', 'SG002', 'SG003', 'SG004', 'SG006')
                       THEN 1 ELSE 0 END) AS major,
                   sum(CASE WHEN i.item_code = 'TR010' THEN 1 ELSE 0 END) AS anaesthesia
            FROM claims c JOIN claim_items i USING (claim_id)
            WHERE c.visit_type = 'inpatient'
            GROUP BY c.claim_id
        ) WHERE major > 0 AND anaesthesia = 0
    """,
}


def simulator_hash() -> str:
    """A short hash of the simulator's source: a changed simulator simulates anew."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "src" / "fraudml" / "synth").glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def city(n_lines: int) -> Path:
    patients = int(n_lines / LINES_PER_PATIENT)
    root = DATA / f"city-{patients}-{simulator_hash()}"  # shared with benchmarks.run.city
    if not (root / ".complete").exists():
        print(f"simulating {patients:,} patients into {root} …", flush=True)
        result = _child("simulate", str(root), str(patients))
        (root / ".complete").write_text(json.dumps(result["result"]))
    return root


def run_simulate(root: Path, patients: int) -> dict:
    from fraudml.synth import SimulationConfig, simulate, write_dataset

    tables = simulate(SimulationConfig(n_patients=patients))
    write_dataset(tables, root)
    return {"claims": len(tables["claims"]), "claim_items": len(tables["claim_items"])}


def run_fraudml(root: Path, work: Path) -> dict:
    from fraudml import load_dataset
    from fraudml.features import Window
    from fraudml.rulebase import CHECKS, apply_rules, load_rules

    rules = load_rules([ROOT / "conf" / "rules"], CHECKS)
    started = time.perf_counter()
    ds = load_dataset(root, database=work / "validated.duckdb")
    validated = time.perf_counter()
    run = apply_rules(ds, Window(), rules)
    ran = time.perf_counter()
    hits = run.hits
    counts = hits.group_by("rule_id").agg(n=hits.count()).to_pandas()
    ds.close()
    return {
        "validate_s": validated - started,
        "rules_s": ran - validated,
        "rules": len(run.rules),
        "skipped": run.skipped,
        "hits": {r: int(n) for r, n in zip(counts.rule_id, counts.n, strict=True)},
    }


def run_sql(work: Path) -> dict:
    con = duckdb.connect(str(work / "validated.duckdb"), read_only=True)
    started = time.perf_counter()
    hits = {rule: int(con.execute(sql).fetchone()[0]) for rule, sql in SQL.items()}
    return {"seconds": time.perf_counter() - started, "hits": hits}


def _child(task: str, *args: str) -> dict:
    """``task`` in a process of its own: its result and its peak memory (GiB), as the
    child reports them on its last line."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.rulebase_bench", "--task", task, *args],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(n_lines: int) -> list[str]:
    """The rule base and the SQL sample over a city of ``n_lines``; Markdown lines."""
    import shutil
    import tempfile

    root = city(n_lines)
    lines = json.loads((root / ".complete").read_text())["claim_items"]
    work = Path(tempfile.mkdtemp(dir=DATA))
    try:
        print("rule base: fraudml …", flush=True)
        ours = _child("fraudml", str(root), str(work))
        print("rule base: hand-written SQL …", flush=True)
        sql = _child("sql", str(root), str(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mine, theirs = ours["result"], sql["result"]
    for rule in SQL:
        if mine["hits"].get(rule, 0) != theirs["hits"][rule]:
            raise SystemExit(
                f"rule {rule}: fraudml {mine['hits'].get(rule, 0)} hits, SQL {theirs['hits'][rule]}"
            )
    n_rules = mine["rules"]
    total = sum(mine["hits"].values())
    sample = ", ".join(SQL)
    rows = [
        f"### The rule base over {lines:,} fee lines (target ≤ 60 s)",
        "",
        "| implementation | rules | seconds | seconds per rule | hits | peak memory (GiB) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| fraudml: every rule in conf/rules, hits with messages and evidence materialised "
        f"| {n_rules} | {mine['rules_s']:.1f} | {mine['rules_s'] / n_rules:.2f} | {total:,} "
        f"| {ours['peak_gib']:.2f} |",
        f"| hand-written DuckDB SQL: {sample}, counts only | {len(SQL)} "
        f"| {theirs['seconds']:.1f} | {theirs['seconds'] / len(SQL):.2f} "
        f"| {sum(theirs['hits'].values()):,} | {sql['peak_gib']:.2f} |",
        "",
        f"Hits per rule for the {len(SQL)} are equal in both (checked by the run); rules "
        f"skipped: {mine['skipped'] or 'none'}. fraudml's time includes preparing the "
        "window's claims; its peak memory includes validating the dataset first "
        f"({mine['validate_s']:.0f} s, not counted above).",
        "",
        "| rule | hits |",
        "|---|---:|",
        *[f"| {r} | {n:,} |" for r, n in sorted(mine["hits"].items())],
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    tasks = {
        "simulate": lambda: run_simulate(Path(ns.args[0]), int(ns.args[1])),
        "fraudml": lambda: run_fraudml(Path(ns.args[0]), Path(ns.args[1])),
        "sql": lambda: run_sql(Path(ns.args[1])),
    }
    if ns.task in tasks:
        result = tasks[ns.task]()
        # ru_maxrss: the process's peak resident memory, KiB on Linux (DuckDB's included)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(json.dumps({"result": result, "peak_gib": peak}))
    else:
        print("\n".join(bench(ns.lines)))


if __name__ == "__main__":
    main()
