"""``fraudml import <source> SRC OUT``: a source extract as a contract dataset."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fraudml.errors import SettingError
from fraudml.io.outputs import OutputClaim, claim_output
from fraudml.io.write import write_dataset

if TYPE_CHECKING:
    from fraudml.adapters.mapping import Mapping

log = logging.getLogger("fraudml")

#: source name → what it reads (for messages); each has an adapter module.
SOURCES = {
    "medicare": "the Kaggle 'Healthcare Provider Fraud Detection Analysis' files",
    "national": "the national platform's extract (国家医保信息平台), as the mapping says",
}


def run(cfg: DictConfig) -> int:
    if cfg.source not in SOURCES:
        raise SettingError(
            f"source={cfg.source!r}: unknown source (expected one of {', '.join(SOURCES)})"
        )
    if not cfg.src:
        raise SettingError(f"no source folder: fraudml import {cfg.source} SRC OUT (or src=dir)")
    mapping = cfg.get("mapping")
    if mapping and cfg.source != "national":
        raise SettingError(f"mapping={mapping}: only the national source reads a mapping file")
    if cfg.head is not None and (not str(cfg.head).isdigit() or int(cfg.head) < 1):
        raise SettingError(f"head={cfg.head!r} (expected a number of claims, at least 1)")

    started = time.perf_counter()
    if cfg.source == "national":
        from fraudml.adapters import national
        from fraudml.adapters.mapping import load_mapping

        # the mapping is checked before the output folder is claimed or a file is read
        checked = load_mapping(Path(mapping)) if mapping else national.default_mapping()
        with claim_output(cfg.out, "import", immutable=[Path(cfg.src)]) as output:
            return _import_national(cfg, output, started, checked)
    with claim_output(cfg.out, "import", immutable=[Path(cfg.src)]) as output:
        return _import_medicare(cfg, output, started)


def _import_medicare(cfg: DictConfig, output: OutputClaim, started: float) -> int:
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


def _import_national(cfg: DictConfig, output: OutputClaim, started: float, mapping: Mapping) -> int:
    from fraudml.adapters import national

    log.info("reading %s from %s with the mapping %s", SOURCES["national"], cfg.src, mapping.path)
    tables = national.convert(Path(cfg.src), mapping, nrows=int(cfg.head) if cfg.head else None)
    out = write_dataset(tables, output, metadata=national.metadata(mapping), command="import")
    for name, frame in tables.items():
        log.info("%-22s %12s rows", name, f"{len(frame):,}")
    log.info(
        "wrote %s (%.1f s); validate it with: fraudml validate data.path=%s",
        out,
        time.perf_counter() - started,
        out,
    )
    return 0
