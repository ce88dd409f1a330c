"""``fraudml import <source> SRC OUT``: a source extract as a contract dataset."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from fraudml.errors import SettingError
from fraudml.io.outputs import OutputClaim, claim_output
from fraudml.io.write import write_dataset

log = logging.getLogger("fraudml")

#: source name → what it reads (for messages); each has an adapter module.
SOURCES = {"medicare": "the Kaggle 'Healthcare Provider Fraud Detection Analysis' files"}


def run(cfg: DictConfig) -> int:
    if cfg.source not in SOURCES:
        raise SettingError(
            f"source={cfg.source!r}: unknown source (expected one of {', '.join(SOURCES)})"
        )
    if not cfg.src:
        raise SettingError("no source folder: fraudml import medicare SRC OUT (or src=dir)")

    started = time.perf_counter()
    with claim_output(cfg.out, "import", immutable=[Path(cfg.src)]) as output:
        return _import(cfg, output, started)


def _import(cfg: DictConfig, output: OutputClaim, started: float) -> int:
    from fraudml.adapters import medicare

    files = medicare.find_sources(Path(cfg.src))
    log.info(
        "reading %s: %s",
        SOURCES[cfg.source],
        ", ".join(str(p.name) for p in vars(files).values() if p is not None),
    )
    tables = medicare.convert(files, nrows=int(cfg.head) if cfg.head else None)
    out = write_dataset(tables, output, metadata=medicare.METADATA, command="import")
    for name, frame in tables.items():
        log.info("%-12s %12s rows", name, f"{len(frame):,}")
    log.info(
        "wrote %s (%.1f s); no fee lines: item-level features and rules are skipped",
        out,
        time.perf_counter() - started,
    )
    return 0
