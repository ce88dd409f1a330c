"""Risk models: isolation forests, signal extremes, calibrated LightGBM, the combined risk
score."""

from fraudml.models.detector import Contributions, Detector
from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier
from fraudml.models.extremes import SignalExtremes

__all__ = [
    "Contributions",
    "Detector",
    "ProfileIsolationForest",
    "RiskClassifier",
    "SignalExtremes",
]
