"""The workflows behind the commands, as a Python API (``fraudml.validate`` …).

Each takes explicit arguments and typed settings, returns a result object, and writes
(when given ``out``) through one atomic output step. The command line only turns Hydra
config into these settings and calls them.
"""

from fraudml.workflows.common import load_rule_base
from fraudml.workflows.feedback import FeedbackResult, feedback
from fraudml.workflows.ledger import LedgerRun, ledger
from fraudml.workflows.monitoring import MonitorResult, monitor
from fraudml.workflows.profiling import ProfilesResult, profiles
from fraudml.workflows.rule_run import RulesResult, rules
from fraudml.workflows.scoring import ScoreRun, champions, score
from fraudml.workflows.training import TrainRun, evaluation_mode, evaluation_table, train
from fraudml.workflows.validation import validate

__all__ = [
    "FeedbackResult",
    "LedgerRun",
    "MonitorResult",
    "ProfilesResult",
    "RulesResult",
    "ScoreRun",
    "TrainRun",
    "champions",
    "evaluation_mode",
    "evaluation_table",
    "feedback",
    "ledger",
    "load_rule_base",
    "monitor",
    "profiles",
    "rules",
    "score",
    "train",
    "validate",
]
