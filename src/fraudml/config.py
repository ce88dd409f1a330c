"""Structured configs: the typed shape of config groups, so a misspelt key fails early.

Only entry points (:mod:`fraudml.cli`) read these; library code takes plain arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from fraudml.synth.simulate import SimulationConfig


@dataclass
class DataConfig:
    """Where the input dataset is and how to read it."""

    path: str = MISSING
    encoding: str = "utf-8"
    #: kept validations reused by later commands on the same files; ``None``: none kept
    cache: str | None = None


@dataclass
class EngineConfig:
    """Settings of the embedded DuckDB engine."""

    memory_limit: str | None = "3GB"
    threads: int | None = None


@dataclass
class PeriodConfig:
    """``[start, end)`` on admit_time, ISO dates; ``None`` leaves a side open."""

    start: str | None = None
    end: str | None = None


@dataclass
class SimulateConfig(SimulationConfig):
    """A synthetic city and the name of its folder."""

    name: str = "small"


def register() -> None:
    """Make the schemas available to ``defaults`` lists as ``<group>_schema``."""
    cs = ConfigStore.instance()
    cs.store(group="data", name="data_schema", node=DataConfig)
    cs.store(group="engine", name="engine_schema", node=EngineConfig)
    cs.store(group="simulate", name="simulation_schema", node=SimulateConfig)
    cs.store(group="period", name="period_schema", node=PeriodConfig)
