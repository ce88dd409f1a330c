"""``fraudml validate``: load a dataset through the contract and report what was kept."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from fraudml.io import load_dataset
from fraudml.io.reconcile import Reconciliation

log = logging.getLogger("fraudml")


def render(reconciliation: Reconciliation) -> str:
    """The reconciliation as a fixed-width text table (also readable in CI logs)."""
    header = f"{'table':<22} {'reason':<64} {'read':>12} {'accepted':>12} {'quarantined':>12}"
    lines = [header, "-" * len(header)]
    for table, reason, read, accepted, quarantined in reconciliation.rows():
        if table:
            lines.append(f"{table:<22} {'':<64} {read:>12,} {accepted:>12,} {quarantined:>12,}")
        else:
            lines.append(f"{'':<22} {reason[:64]:<64} {'':>12} {'':>12} {quarantined:>12,}")
    return "\n".join(lines)


def run(cfg: DictConfig) -> int:
    out = Path(cfg.out)
    log.info("validating %s → %s", cfg.data.path, out)
    with load_dataset(
        cfg.data.path,
        out=out,
        encoding=cfg.data.encoding,
        memory_limit=cfg.engine.memory_limit,
        threads=cfg.engine.threads,
    ) as ds:
        print(render(ds.reconciliation))
        for warning in ds.warnings:
            log.warning("%s", warning)
        log.info(
            "accepted + quarantined = read for every table; quarantine in %s",
            out / "quarantine",
        )
    return 0
