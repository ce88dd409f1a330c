"""``fraudml rules``: run the rule base over a window and write its hits."""

from __future__ import annotations

import logging
import time

from omegaconf import DictConfig

from fraudml.cli.common import claim, load_rule_base, open_dataset, window_of
from fraudml.io.atomic import write_json
from fraudml.rules import apply_rules, rule_aggregates, to_national
from fraudml.rules.engine import fingerprint

log = logging.getLogger("fraudml")


def run(cfg: DictConfig) -> int:
    window = window_of(cfg)
    started = time.perf_counter()
    rules = load_rule_base(cfg.get("files"))
    log.info("rule base: %d rules", len(rules))
    with claim(cfg, "rules", cfg.out) as output, open_dataset(cfg) as ds:
        result = apply_rules(ds, window, rules)
        with output.staging() as tmp:
            hits = result.hits.order_by(["rule_id", "entity_id", "line_no"])
            ds.con.to_parquet(hits, tmp / "hits.parquet")
            ds.con.to_parquet(to_national(hits, result.rules), tmp / "review.parquet")
            for entity in ("patient", "provider", "doctor"):
                agg = rule_aggregates(result.hits, result.rules, entity)
                ds.con.to_parquet(agg.order_by(agg.columns[0]), tmp / f"{entity}_rules.parquet")
            per_rule = (
                result.hits.group_by("rule_id")
                .agg(hits=result.hits.count(), amount=result.hits.amount.sum())
                .to_pandas()
                .set_index("rule_id")
            )
            write_json(
                tmp / "rules.json",
                {
                    "dataset": str(ds.path),
                    "fingerprint": ds.fingerprint,
                    "rule_base": fingerprint(rules),
                    "window": {"start": cfg.period.start, "end": cfg.period.end},
                    "rules": {
                        r.id: {
                            "hits": int(per_rule.hits.get(r.id, 0)),
                            "amount": round(float(per_rule.amount.get(r.id, 0.0)), 2),
                        }
                        for r in result.rules
                    },
                    "skipped": result.skipped,
                    "seconds": round(time.perf_counter() - started, 1),
                },
            )
    log.info("rule hits written to %s (%.1f s)", output.path, time.perf_counter() - started)
    return 0
