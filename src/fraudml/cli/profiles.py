"""``fraudml profiles``: write the three profiles of a window as Parquet."""

from __future__ import annotations

import logging
import time

from omegaconf import DictConfig

from fraudml.cli.common import claim, load_rule_base, open_dataset, window_of
from fraudml.features import FEATURE_SET_VERSION, build_profiles, materialise
from fraudml.features.build import dropped_summary
from fraudml.features.entities import KEYS
from fraudml.io.atomic import write_json
from fraudml.rules import apply_rules, rule_features, with_rule_aggregates
from fraudml.rules.engine import fingerprint

log = logging.getLogger("fraudml")


def run(cfg: DictConfig) -> int:
    window = window_of(cfg)
    started = time.perf_counter()
    with claim(cfg, "profiles", cfg.out) as output, open_dataset(cfg) as ds:
        profiles = build_profiles(ds, window)
        tables = materialise(ds, profiles)
        rule_info = {}
        if cfg.rules.join:
            # rule hits per family join each profile as features (0 where none fired)
            rules = load_rule_base(cfg.rules.files)
            run_ = apply_rules(ds, window, rules)
            tables = {
                e: with_rule_aggregates(t, run_.hits, run_.rules, e) for e, t in tables.items()
            }
            rule_info = {
                "rule_base": fingerprint(run_.rules),
                "rule_features": [f.name for f in rule_features(run_.rules, "patient")],
                "skipped_rules": run_.skipped,
            }
        counts = {}
        with output.staging() as tmp:
            for entity, table in tables.items():
                # rows in key order: the same data and config give the same file
                ds.con.to_parquet(table.order_by(KEYS[entity]), tmp / f"{entity}.parquet")
                counts[entity] = int(table.count().execute())
            write_json(
                tmp / "profiles.json",
                {
                    "dataset": str(ds.path),
                    "fingerprint": ds.fingerprint,
                    "window": {"start": cfg.period.start, "end": cfg.period.end},
                    "feature_set_version": FEATURE_SET_VERSION,
                    "rows": counts,
                    "dropped_features": profiles.dropped,
                    **rule_info,
                    "seconds": round(time.perf_counter() - started, 1),
                },
            )
    for line in dropped_summary(profiles.dropped):
        log.warning("%s", line)
    log.info("wrote %s (%.1f s)", output.path, time.perf_counter() - started)
    return 0
