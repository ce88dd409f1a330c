"""``fraudml validate``: load a dataset through the contract and report what was kept."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from fraudml.cli.common import engine_settings
from fraudml.io.reconcile import Reconciliation
from fraudml.workflows import validate

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
    engine = engine_settings(cfg)
    log.info("validating %s → %s", cfg.data.path, cfg.out)
    with validate(
        cfg.data.path,
        out=cfg.out,
        encoding=cfg.data.encoding,
        engine=engine,
        cache=cfg.data.cache,
    ) as ds:
        print(render(ds.reconciliation))
        log.info(
            "accepted + quarantined = read for every table; quarantine in %s",
            ds.database.parent / "quarantine" if ds.database else cfg.out,
        )
    return 0
