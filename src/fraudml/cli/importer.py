"""``fraudml import <source> SRC OUT``: a source extract as a contract dataset."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from omegaconf import DictConfig

from fraudml.io.errors import ContractError
from fraudml.io.write import write_dataset

log = logging.getLogger("fraudml")

#: source name → what it reads (for messages); each has an adapter module.
SOURCES = {"medicare": "the Kaggle 'Healthcare Provider Fraud Detection Analysis' files"}


def run(cfg: DictConfig) -> int:
    if cfg.source not in SOURCES:
        raise ContractError(
            f"source={cfg.source!r}: unknown source (expected one of {', '.join(SOURCES)})"
        )
    if not cfg.src:
        raise ContractError("no source folder: fraudml import medicare SRC OUT (or src=dir)")
    from fraudml.adapters import medicare

    started = time.perf_counter()
    files = medicare.find_sources(Path(cfg.src))
    log.info(
        "reading %s: %s",
        SOURCES[cfg.source],
        ", ".join(str(p.name) for p in vars(files).values() if p is not None),
    )
    tables = medicare.convert(files, nrows=int(cfg.head) if cfg.head else None)
    out = write_dataset(tables, Path(cfg.out), metadata=medicare.METADATA)
    for name, frame in tables.items():
        log.info("%-12s %12s rows", name, f"{len(frame):,}")
    log.info(
        "wrote %s (%.1f s); no fee lines: item-level features and rules are skipped",
        out,
        time.perf_counter() - started,
    )
    return 0
