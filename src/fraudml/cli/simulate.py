"""``fraudml simulate``: write a synthetic city to the data contract."""

from __future__ import annotations

import logging
import time

from omegaconf import DictConfig, OmegaConf

from fraudml.io.outputs import OutputClaim, claim_output
from fraudml.synth import SimulationConfig, simulate, write_dataset
from fraudml.synth.simulate import simulation_config as plain_simulation_config

log = logging.getLogger("fraudml")


def simulation_config(node: DictConfig) -> SimulationConfig:
    """Plain dataclasses from the composed config (library code never sees Hydra)."""
    raw = OmegaConf.to_container(node, resolve=True)
    assert isinstance(raw, dict)
    return plain_simulation_config(raw)


def run(cfg: DictConfig) -> int:
    sim = simulation_config(cfg.simulate)
    started = time.perf_counter()
    with claim_output(cfg.out, "simulate") as output:
        return _simulate(sim, output, started)


def _simulate(sim: SimulationConfig, output: OutputClaim, started: float) -> int:
    log.info(
        "simulating %s patients, %s to %s, seed %s",
        f"{sim.n_patients:,}",
        sim.start,
        sim.end,
        sim.seed,
    )
    tables = simulate(sim)
    write_dataset(tables, output)
    for name, frame in tables.items():
        log.info("%-22s %12s rows", name, f"{len(frame):,}")
    log.info("wrote %s (%.1f s)", output.path, time.perf_counter() - started)
    return 0
