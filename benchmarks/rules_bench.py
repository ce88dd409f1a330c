"""The rule base at scale: every shipped rule, against hand-written SQL for four of them.

The SQL is what an engineer would write by hand for the catalog gender and price-cap
rules, the daily-quantity limit and repeated trace codes; the run checks that it finds
exactly as many hits as fraudml does for those four.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

SUBSET = ("CAT-GENDER", "CAT-PRICE", "CAT-DAILY", "BIL-TRACE")

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
}


def run_fraudml(root: Path, work: Path) -> dict:
    from fraudml import load_dataset
    from fraudml.features import Window
    from fraudml.rulebase import CHECKS, apply_rules, load_rules

    rules = load_rules([Path(__file__).resolve().parents[1] / "conf" / "rules"], CHECKS)
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
        "hits": {r: int(n) for r, n in zip(counts.rule_id, counts.n, strict=True)},
    }


def run_sql(work: Path) -> dict:
    con = duckdb.connect(str(work / "validated.duckdb"), read_only=True)
    started = time.perf_counter()
    hits = {rule: int(con.execute(sql).fetchone()[0]) for rule, sql in SQL.items()}
    return {"seconds": time.perf_counter() - started, "hits": hits}
