"""Risk models: isolation forests, calibrated LightGBM, the combined risk score."""

from fraudml.models.estimators import ProfileIsolationForest, RiskClassifier

__all__ = ["ProfileIsolationForest", "RiskClassifier"]
