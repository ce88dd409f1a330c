"""fraudml: find fraud, waste and abuse in medical-insurance claims.

The workflows, as the commands run them::

    import fraudml

    with fraudml.validate("data/synthetic/small") as ds:
        profiles = fraudml.profiles(ds, fraudml.Window(until))
    run = fraudml.train("data/synthetic/small", until=datetime(2024, 9, 1))
    leads = fraudml.score("data/synthetic/small", fraudml.Window(start, end)).leads
"""

from fraudml.entities import ENTITIES, EntitySpec
from fraudml.errors import (
    ContractError,
    FraudmlError,
    ModelError,
    NothingToScoreError,
    OutputError,
    RuleBaseError,
    SettingError,
    TrainingError,
)
from fraudml.io import Dataset, load_dataset
from fraudml.report.settings import ReportSettings
from fraudml.settings import EngineSettings, ScoreSettings, TrainSettings
from fraudml.window import Window

#: The workflows and their results, imported on first use: ``import fraudml`` stays light
#: for a command that only validates (training and scoring pull in MLflow and LightGBM).
_WORKFLOWS = frozenset(
    {
        "FeedbackResult",
        "LedgerRun",
        "MonitorResult",
        "monitor",
        "ProfilesResult",
        "RulesResult",
        "ScoreRun",
        "TrainRun",
        "feedback",
        "ledger",
        "load_rule_base",
        "profiles",
        "rules",
        "score",
        "train",
        "validate",
    }
)


def __getattr__(name: str) -> object:
    if name in _WORKFLOWS:
        import fraudml.workflows as workflows

        return getattr(workflows, name)
    raise AttributeError(f"module 'fraudml' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "ENTITIES",
    "ContractError",
    "Dataset",
    "EngineSettings",
    "EntitySpec",
    "FeedbackResult",
    "FraudmlError",
    "LedgerRun",
    "ModelError",
    "MonitorResult",
    "NothingToScoreError",
    "OutputError",
    "ProfilesResult",
    "ReportSettings",
    "RuleBaseError",
    "RulesResult",
    "ScoreRun",
    "ScoreSettings",
    "SettingError",
    "TrainRun",
    "TrainSettings",
    "TrainingError",
    "Window",
    "__version__",
    "feedback",
    "ledger",
    "load_dataset",
    "load_rule_base",
    "monitor",
    "profiles",
    "rules",
    "score",
    "train",
    "validate",
]
