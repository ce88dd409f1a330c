"""The kinds of error a user can meet, each with its own heading.

Every error here is the user's to fix (exit code 2, a message, no traceback). The kind
says what to look at: the data, a setting, the output folder, the models, the training
data or the rule base. A bug is none of these and keeps its traceback.
"""

from __future__ import annotations


class FraudmlError(Exception):
    """Something the user can fix; the message names what and where."""

    #: the heading the command line prints before the message
    kind = "error"


class ContractError(FraudmlError):
    """A structural fault: the dataset cannot be loaded as the contract describes.

    The message always names the file (or dataset directory), the column where one is
    involved, and the form that was expected, so an operator can fix the input.
    """

    kind = "input does not meet the data contract"


class SettingError(FraudmlError):
    """A configuration value is outside what the command accepts (named with its key)."""

    kind = "invalid setting"


class OutputError(FraudmlError):
    """The output folder cannot be written: it holds what fraudml did not write, it is
    the dataset or an ancestor of the working directory, or another run holds it."""

    kind = "output refused"


class ModelError(FraudmlError):
    """The registered models cannot score this data (none, or of another shape)."""

    kind = "models"


class TrainingError(FraudmlError):
    """The data validates but cannot train models (no claims, an empty split, …)."""

    kind = "cannot train"


class NothingToScoreError(FraudmlError):
    """The period holds nothing to score."""

    kind = "nothing to score"


class RuleBaseError(FraudmlError):
    """A rule file is malformed (the message names the file, the rule and the field)."""

    kind = "rule base"
