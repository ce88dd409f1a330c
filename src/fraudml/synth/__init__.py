"""A synthetic city: claims with the fraud schemes supervision bureaus name, labelled."""

from fraudml.io.write import write_dataset
from fraudml.synth.catalog import synthetic_catalog
from fraudml.synth.schemes import SCHEMES, SchemeConfig
from fraudml.synth.simulate import SimulationConfig, simulate

__all__ = [
    "SCHEMES",
    "SchemeConfig",
    "SimulationConfig",
    "simulate",
    "synthetic_catalog",
    "write_dataset",
]
