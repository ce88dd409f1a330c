"""``fraudml validate``: load a dataset through the contract and report what was kept."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from fraudml.cli.common import claim, open_dataset
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
    with claim(cfg, "validate", cfg.out) as output:
        log.info("validating %s → %s", cfg.data.path, output.path)
        with open_dataset(cfg, out=output) as ds:
            print(render(ds.reconciliation))
            log.info(
                "accepted + quarantined = read for every table; quarantine in %s",
                output.path / "quarantine",
            )
    return 0
