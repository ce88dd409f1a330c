"""Risk models: isolation forests, calibrated LightGBM, the combined risk score."""

from fraudml.models.detector import Contributions, Detector
from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier

__all__ = ["Contributions", "Detector", "ProfileIsolationForest", "RiskClassifier"]
