"""What scoring and explanations ask of a risk model: the :class:`Detector` protocol.

A detector learns from profile rows, gives each row a risk score (higher = more
suspicious) and says why, as additive per-feature :class:`Contributions` to an output it
names. Explanations and reports read only this; how a detector computes its
contributions (which trees, which library) stays inside the detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


# eq=False: equality of arrays has no single truth value, so contributions compare (and
# hash) by identity instead of failing on ``==``
@dataclass(frozen=True, eq=False)
class Contributions:
    """Additive per-feature contributions to one output of a detector.

    For every row ``values[i].sum() + base == output[i]`` (up to rounding).

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_features)
        Each feature's contribution to each row's output, in the detector's input order.
    base : float
        The output's expected value, which the contributions move away from.
    output : ndarray of shape (n_rows,)
        The explained output per row.
    what : str
        What ``output`` is, in words, for the report.
    direction : {1, -1}
        ``1`` when a higher output is more suspicious, ``-1`` when a lower one is.
    """

    values: np.ndarray
    base: float
    output: np.ndarray
    what: str
    direction: int

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"direction must be 1 or -1, got {self.direction!r}")
        if np.ndim(self.values) != 2 or np.shape(self.output) != (len(self.values),):
            raise ValueError(
                "contributions must be (n_rows, n_features) with one output per row, got "
                f"{np.shape(self.values)} and {np.shape(self.output)}"
            )


@runtime_checkable
class Detector(Protocol):
    """A risk model that scores profile rows and explains its scores.

    Implemented by :class:`~fraudml.models.estimators.ProfileIsolationForest` and
    :class:`~fraudml.models.estimators.RiskClassifier`. ``isinstance`` checks only that
    the three methods exist (a runtime-checkable protocol does not check signatures).
    """

    def fit(self, X, y=None) -> Detector:
        """Learn from the rows of ``X`` (and their labels ``y`` where the detector uses
        them); return the fitted detector."""
        ...

    def risk_score(self, X) -> np.ndarray:
        """One score per row of ``X``: higher = more suspicious."""
        ...

    def explain(self, X) -> Contributions:
        """Per-feature contributions, per row of ``X``, to the output the detector
        explains (see :attr:`Contributions.what` and :attr:`Contributions.direction`)."""
        ...
