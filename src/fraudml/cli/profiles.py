"""``fraudml profiles``: write the profiles of a window as Parquet."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from fraudml.cli.common import engine_settings, window_of
from fraudml.workflows import load_rule_base, profiles
from fraudml.workflows.common import claimed, opened

log = logging.getLogger("fraudml")


def run(cfg: DictConfig) -> int:
    window = window_of(cfg)
    engine = engine_settings(cfg)
    started = time.perf_counter()
    join = bool(cfg.rules.join)
    rules = load_rule_base(cfg.rules.files) if join else []
    # the folder is claimed before the dataset is read: a refused OUT stops at once
    with (
        claimed(cfg.out, "profiles", immutable=[Path(cfg.data.path)]) as output,
        opened(cfg.data.path, cfg.data.encoding, engine, cfg.data.cache) as ds,
    ):
        result = profiles(ds, window, rules=rules, join_rules=join, out=output)
    log.info("wrote %s (%.1f s)", result.path, time.perf_counter() - started)
    return 0
