"""``fraudml rules``: run the rule base over a window and write its hits."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from fraudml.cli.common import engine_settings, window_of
from fraudml.workflows import load_rule_base, rules
from fraudml.workflows.common import claimed, opened

log = logging.getLogger("fraudml")


def run(cfg: DictConfig) -> int:
    window = window_of(cfg)
    engine = engine_settings(cfg)
    started = time.perf_counter()
    base = load_rule_base(cfg.get("files"))
    # the folder is claimed before the dataset is read: a refused OUT stops at once
    with (
        claimed(cfg.out, "rules", immutable=[Path(cfg.data.path)]) as output,
        opened(cfg.data.path, cfg.data.encoding, engine, cfg.data.cache) as ds,
    ):
        result = rules(ds, window, base=base, out=output)
    log.info("rule hits written to %s (%.1f s)", result.path, time.perf_counter() - started)
    return 0
