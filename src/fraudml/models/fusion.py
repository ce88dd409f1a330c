"""How the evidence of one entity becomes one risk score: a noisy-OR of channels.

Each channel is put on a probability-like scale of its own entity type, then combined::

    risk = 1 − (1 − supervised) · (1 − w_a · tail) · (1 − network) · (1 − lift · rules)

- ``supervised``: the LightGBM model's calibrated probability (Platt, on the later
  slice of the same entity type); 0 where no supervised model was trained;
- ``tail = F(anomaly) ** power``: ``F`` is the empirical distribution of the isolation
  forest's scores over the training window of the same entity type, so ``tail`` is near
  0 for ordinary behaviour and approaches 1 for the most abnormal; ``w_a`` caps what
  anomaly alone can give (``alone_weight`` for a type without a supervised model, where
  anomaly is the only learnt evidence);
- ``network``: the mean risk of an owner's claims (providers and doctors without a
  supervised model; a supervised owner reads it as an input instead);
- ``rules = 1 − exp(−severity score)``, weighted by ``lift``.

Why a noisy-OR: a scheme nobody has labelled yet has no weight in the supervised model,
which learnt the schemes known by UNTIL. A product or a learnt blend would let the
supervised part decide alone; here no channel can drive another to zero weight, so an
entity far out in behaviour, or with a definite violation, ranks high whatever the labels
know. The weights were chosen on schemes whose labels were withheld (docs/quality.md),
not on in-sample average precision: on the committed city with each scheme withheld in
turn, the mean share of a scheme's positives within the auditors' capacity at its own
level was 0.43 at anomaly weight 0.1, 0.40 at 0.25 and 0.39 at 0.5 (power 8, full weight
for types without a supervised model); with one weight for every type it was 0.38 at 0,
0.33 at 0.5, 0.36 at 0.8 (power 4) and 0.41 at 1.0. On the shifted city, 0.1 gave the
best mean AP of the non-zero weights (0.735, against 0.714 at 0.5); weight 0 gave 0.754
but counts no anomaly at all. Measured with feature set 3, before the label-free signals
of feature set 4 (``python -m fraudml.evaluate.quality data/synthetic/small /tmp/q.md
fusion.anomaly_weight=… fusion.alone_weight=…``). Re-checked with feature set 5, the
same command: 0.25 and 0.5 raised the withheld recall of phantom billing (0.06 → 0.12,
0.15) and fake admission (0.14 → 0.29) but lowered fake chronic (0.67 → 0.33, 0) and the
shifted city's visit AP (0.796 → 0.776, 0.746), so 0.1 stays.

Every channel is scaled per entity type (its own calibration or its own training
distribution), which keeps claims of both kinds (stays and visits) on one scale.

The noisy-OR cannot by itself keep room for a scheme nobody labelled: where the labelled
schemes' positives outnumber the auditors' capacity, their supervised probabilities fill
every place. :func:`reserve_order` therefore orders the leads with a share of each
capacity reserved for :func:`label_free` evidence (``evaluate.explore_share``; measured in
docs/quality.md). That evidence is the tail of the signal extremes
(:class:`~fraudml.models.extremes.SignalExtremes`: how far out an entity is on its two
most extreme signals, in their suspicious direction) with the rule part. It was the
isolation forest's tail before; with each scheme's labels withheld in turn, the mean
recall@K at the schemes' own levels went from 0.185 to 0.314 on the committed city, 0.128
to 0.248 on the shifted and 0.180 to 0.301 on the held-out (patient AP 0.801 → 0.823,
0.726 → 0.763, 0.842 → 0.860; visit AP 0.950 → 0.925, 0.868 → 0.850, 0.890 → 0.875).
Models pickled before the extremes keep the forest's tail.

A reserved place goes only to evidence of at least ``evaluate.explore_bar`` (0.85); a
place none reaches goes back to the risk order. With every label known, reserved leads
were confirmed far less often than the risk order's: the mean precision@K over the lead
types was 0.754, 0.782 and 0.783 on the committed, shifted and held-out cities with the
reserve, 0.908, 0.903 and 0.880 without. The bar 0.85 was the highest of 0.5, 0.8, 0.85,
0.9 and 0.95 at which the shifted city's mean withheld recall did not fall (0.248 → 0.251);
the other cities' stayed (0.314, 0.301) and the precision rose to 0.801, 0.805 and 0.816
(``python -m benchmarks.reserve_study``, feature set 6; with feature set 7 the bar gives
a mean withheld recall of 0.317, 0.251 and 0.301 and precision 0.801, 0.805 and 0.816).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudml.errors import SettingError

#: quantiles kept of the training window's anomaly scores (the tail's resolution)
QUANTILES = 1001


@dataclass(frozen=True)
class Fusion:
    """The weights of the risk score's channels (``conf/fusion``).

    Parameters
    ----------
    anomaly_weight
        What anomaly alone can give (0 … 1): the most abnormal entity's anomaly channel.
    anomaly_power
        How sharply the anomaly channel rises in the tail: ``F ** power`` (at 8, the
        95th percentile of training behaviour gives 0.66 of the weight, the median 0.004).
    alone_weight
        ``anomaly_weight`` for an entity type without a supervised model (too few
        labels), where anomaly is the only learnt evidence.
    """

    anomaly_weight: float = 0.1
    anomaly_power: float = 8.0
    alone_weight: float = 1.0

    def weight(self, supervised: bool) -> float:
        """The anomaly channel's weight, with or without a supervised model."""
        return self.anomaly_weight if supervised else self.alone_weight

    def __post_init__(self) -> None:
        w, k = self.anomaly_weight, self.anomaly_power
        for name, value in (("anomaly_weight", w), ("alone_weight", self.alone_weight)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value <= 1
            ):
                raise SettingError(f"fusion.{name}={value!r} (expected a number from 0 to 1)")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k <= 100:
            raise SettingError(f"fusion.anomaly_power={k!r} (expected a number above 0, ≤ 100)")


def score_quantiles(seen: np.ndarray) -> np.ndarray:
    """The :data:`QUANTILES` quantiles of the training window's anomaly scores."""
    return np.quantile(np.asarray(seen, dtype=float), np.linspace(0.0, 1.0, QUANTILES))


def anomaly_tail(scores: np.ndarray, quantiles: np.ndarray, power: float) -> np.ndarray:
    """``F(score) ** power`` with ``F`` the training distribution's (piecewise linear
    between its quantiles; 0 below the lowest, 1 above the highest)."""
    q = np.asarray(quantiles, dtype=float)
    # ties in the quantiles (many equal scores) would make interp ill-defined: keep the
    # last position of each value, so a tied score reads its upper share
    values, last = np.unique(q[::-1], return_index=True)
    positions = (len(q) - 1 - last) / (len(q) - 1)
    share = np.interp(np.asarray(scores, dtype=float), values, positions, left=0.0, right=1.0)
    return share**power


def fuse(
    supervised: np.ndarray,
    anomaly: np.ndarray,
    network: np.ndarray,
    rules: np.ndarray,
    rule_lift: float,
) -> np.ndarray:
    """The noisy-OR of the channels (each in [0, 1]; see the module docstring)."""
    keep = (1.0 - supervised) * (1.0 - anomaly) * (1.0 - network) * (1.0 - rule_lift * rules)
    return 1.0 - keep


def label_free(tail: np.ndarray, rules: np.ndarray, rule_lift: float) -> np.ndarray:
    """The evidence no label taught: a label-free tail at full weight with the rule part,
    ``1 − (1 − tail) · (1 − lift · rules)``. It ranks the capacity's reserve
    (:func:`reserve_order`); the tail is the signal extremes' (the isolation forest's for
    a model pickled before them: :func:`fraudml.models.risk.score_frame`)."""
    tail = np.asarray(tail, dtype=float)
    return 1.0 - (1.0 - tail) * (1.0 - rule_lift * np.asarray(rules, dtype=float))


def reserved_slots(capacity: int, share: float) -> int:
    """How many of ``capacity`` leads the reserve takes: ``⌊capacity · share⌋``."""
    return int(np.floor(max(int(capacity), 0) * float(share) + 1e-9))


def reserve_order(
    risk: np.ndarray, novelty: np.ndarray, capacity: int, share: float, bar: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The order leads go to the auditors: most of the capacity by risk, a reserved
    share by label-free evidence.

    The first ``capacity − r`` places go to the highest risks, the next ``r``
    (:func:`reserved_slots`) to the highest ``novelty`` among the rest (only entities
    with some, ``novelty > 0``, and at least ``bar``), and every later place to the
    remaining risks in order: places the bar leaves empty go back to the risk order.
    Why: the supervised model ranks the schemes already labelled, and where their
    positives outnumber the capacity they take every place, however abnormal an entity
    of an unlabelled scheme is; the reserve keeps a share of each month's audits for the
    shapes nobody has labelled yet (docs/quality.md measures it with each scheme's labels
    withheld). Ties keep the input order (a stable sort), so callers sort first to break
    them.

    Parameters
    ----------
    risk, novelty : array
        Per entity, aligned.
    capacity : int
        Leads the auditors take of this type.
    share : float
        Share of ``capacity`` reserved (0 … 1); 0 gives the risk order.
    bar : float
        Least ``novelty`` a reserved place takes (0 … 1; ``evaluate.explore_bar``): an
        entity only a little out of the ordinary is left to the risk order. Why: with
        every label known, reserved leads are confirmed far less often than the risk
        order's, and a bar spends the reserve only where the label-free evidence is
        strong (docs/quality.md measures it).

    Returns
    -------
    order : ndarray of int
        Positions into ``risk``, first lead first (a permutation).
    reserved : ndarray of bool
        Per entity (aligned with ``risk``): placed by the reserve.

    Examples
    --------
    >>> order, reserved = reserve_order(
    ...     np.array([0.9, 0.8, 0.7, 0.1]), np.array([0.0, 0.0, 0.2, 0.9]), 2, 0.5
    ... )
    >>> order.tolist(), reserved.tolist()
    ([0, 3, 1, 2], [False, False, False, True])
    >>> order, reserved = reserve_order(
    ...     np.array([0.9, 0.8, 0.7, 0.1]), np.array([0.0, 0.0, 0.2, 0.9]), 2, 0.5, bar=0.95
    ... )
    >>> order.tolist(), reserved.tolist()
    ([0, 1, 2, 3], [False, False, False, False])
    """
    risk = np.asarray(risk, dtype=float)
    novelty = np.nan_to_num(np.asarray(novelty, dtype=float), nan=0.0)
    n = len(risk)
    by_risk = np.argsort(-np.nan_to_num(risk, nan=-1.0), kind="stable")
    reserved = np.zeros(n, dtype=bool)
    slots = min(reserved_slots(capacity, share), n)
    head = max(min(int(capacity), n) - slots, 0)
    if slots == 0:
        return by_risk, reserved
    placed = np.zeros(n, dtype=bool)
    placed[by_risk[:head]] = True
    by_novelty = np.argsort(-novelty, kind="stable")
    strong = (novelty[by_novelty] > 0) & (novelty[by_novelty] >= bar)
    candidates = by_novelty[~placed[by_novelty] & strong][:slots]
    reserved[candidates] = True
    placed[candidates] = True
    order = np.concatenate([by_risk[:head], candidates, by_risk[~placed[by_risk]]])
    return order, reserved
