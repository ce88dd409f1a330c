"""Behavioural profiles of patients, providers and doctors, as engine expressions."""

from fraudml.features.build import Profiles, build_profiles, materialise
from fraudml.features.registry import FEATURE_SET_VERSION, FEATURES, Feature
from fraudml.window import Window

__all__ = [
    "FEATURES",
    "FEATURE_SET_VERSION",
    "Feature",
    "Profiles",
    "Window",
    "build_profiles",
    "materialise",
]
