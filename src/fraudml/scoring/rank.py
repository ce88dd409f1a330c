"""Rank the scored entities of one type and put them in tiers: by the auditors' capacity
(the pipeline's first cut) and, for the report, by calibrated risk and money at stake."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudml.errors import SettingError
from fraudml.models.fusion import reserve_order

#: the scores sheet: one row per scored entity, in the order the entities were scored
SCORE_COLUMNS = [
    "entity_type",
    "entity_id",
    "claim_kind",
    "score",
    "rank",
    "anomaly_score",
    "signal_score",
    "supervised",
    "rule_part",
    "novelty",
    "reserve",
    "model",
    "tier",
]


def tier(rank: int, capacity: int) -> str:
    """A: within the auditors' capacity; B: within three times it; C: the rest."""
    return "A" if rank <= capacity else ("B" if rank <= 3 * capacity else "C")


def tiers(ranks: pd.Series, capacity: int) -> pd.Series:
    """The :func:`tier` of each rank.

    Parameters
    ----------
    ranks : Series
        Ranks (1 = riskiest), indexed by entity.
    capacity : int
        Leads the auditors can take for this entity type.

    Returns
    -------
    Series
        ``"A"``, ``"B"`` or ``"C"`` per entity, indexed like ``ranks``.
    """
    return pd.Series([tier(int(r), capacity) for r in ranks], index=ranks.index, dtype="str")


def rank_entities(
    scored: pd.DataFrame, capacity: int, explore_share: float = 0.0, explore_bar: float = 0.0
) -> pd.DataFrame:
    """Each scored entity's risk, rank and tier.

    Parameters
    ----------
    scored : DataFrame
        :func:`fraudml.models.risk.score_frame` of one entity type: ``risk``,
        ``anomaly_score``, ``supervised``, ``rule_part`` and ``novelty`` per entity (a
        frame without ``novelty`` ranks by risk alone).
    capacity : int
        Leads the auditors can take for this entity type (tier A).
    explore_share : float
        Share of ``capacity`` reserved for the highest label-free evidence
        (:func:`fraudml.models.fusion.reserve_order`); 0 ranks by risk alone.
    explore_bar : float
        Least label-free evidence (``novelty``) a reserved place takes; the places it
        leaves empty go back to the risk order.

    Returns
    -------
    DataFrame
        Indexed like ``scored``: ``score`` (the risk), ``rank``, ``tier``,
        ``anomaly_score``, ``signal_score`` (NaN where ``scored`` has none),
        ``supervised``, ``rule_part``, ``novelty`` and ``reserve`` (placed by the
        reserve).
    """
    risk = scored["risk"]
    novelty = scored.get("novelty", risk)
    # a stable sort first, so that the reserve's ties keep the risk order
    ordered = risk.sort_values(ascending=False, kind="stable").index
    order, reserved = reserve_order(
        risk.loc[ordered].to_numpy(),
        novelty.loc[ordered].to_numpy(),
        capacity,
        explore_share,
        explore_bar,
    )
    ranks = np.empty(len(order), dtype="int64")
    ranks[order] = np.arange(1, len(order) + 1)
    ranks = pd.Series(ranks, index=ordered).reindex(scored.index)
    return pd.DataFrame(
        {
            "score": risk,
            "rank": ranks,
            "tier": tiers(ranks, capacity),
            "anomaly_score": scored["anomaly_score"],
            # NaN for a model pickled before the signal extremes
            "signal_score": scored.get("signal_score", pd.Series(np.nan, index=scored.index)),
            "supervised": scored["supervised"],
            "rule_part": scored["rule_part"],
            "novelty": novelty,
            "reserve": pd.Series(reserved, index=ordered).reindex(scored.index),
        },
        index=scored.index,
    )


def scores_sheet(
    entity: str,
    ranked: pd.DataFrame,
    model: str | pd.Series,
    claim_kind: pd.Series | None = None,
) -> pd.DataFrame:
    """The scores sheet's rows of one lead type, in :data:`SCORE_COLUMNS`.

    Parameters
    ----------
    entity : str
        The lead type, in the labels' vocabulary (``claim`` for stays and visits).
    ranked : DataFrame
        :func:`rank_entities` of the lead type.
    model : str or Series
        The model that scored them, ``name@version`` (per row for claims, whose kinds
        have models of their own).
    claim_kind : Series, optional
        ``stay`` or ``visit`` per claim, indexed like ``ranked``; empty for other types.

    Returns
    -------
    DataFrame
        One row per entity in ``ranked``'s order, numbered from 0; ``entity_id`` as text.
    """
    sheet = pd.DataFrame(
        {
            "entity_type": entity,
            "entity_id": ranked.index.astype(str),
            "claim_kind": per_row(claim_kind, ranked.index),
            "score": ranked["score"].to_numpy(),
            "rank": ranked["rank"].to_numpy(),
            "anomaly_score": ranked["anomaly_score"].to_numpy(),
            "signal_score": ranked["signal_score"].to_numpy(),
            "supervised": ranked["supervised"].to_numpy(),
            "rule_part": ranked["rule_part"].to_numpy(),
            "novelty": ranked["novelty"].to_numpy(),
            "reserve": ranked["reserve"].to_numpy(dtype=bool),
            "model": per_row(model, ranked.index),
            "tier": ranked["tier"].to_numpy(),
        }
    )
    return sheet[SCORE_COLUMNS]


def per_row(value: object, index: pd.Index) -> object:
    """A per-row Series aligned to ``index`` as values; a scalar (or ``None``) as is."""
    if isinstance(value, pd.Series):
        return value.reindex(index).to_numpy(dtype=object)
    return value


@dataclass(frozen=True)
class TierRule:
    """How tiers are set from calibrated risk and money at stake (documented in the report).

    A: risk ≥ ``high`` and money at stake ≥ ``money``; B: risk ≥ ``medium``, or an amount
    found by rules ≥ ``money``; C: the rest. ``money`` is in the dataset's currency.
    """

    high: float = 0.5
    medium: float = 0.2
    money: float = 1000.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.medium <= self.high <= 1.0:
            raise SettingError(
                f"report.tiers: expected 0 ≤ medium ≤ high ≤ 1, got medium={self.medium}, "
                f"high={self.high}"
            )
        if self.money < 0:
            raise SettingError(f"report.tiers.money={self.money}: expected 0 or more")


def money_at_stake(
    score: pd.Series, fund_paid: pd.Series, rule_amount: pd.Series | None = None
) -> pd.DataFrame:
    """What each entity puts at stake: the rules' amount, the model's estimate (risk ×
    fund paid in the period) and their sum.

    Parameters
    ----------
    score : Series
        Calibrated risk per entity.
    fund_paid : Series
        Fund paid in the period per entity (missing: 0), indexed like ``score``.
    rule_amount : Series, optional
        Amount the rules found per entity (missing or ``None``: 0).

    Returns
    -------
    DataFrame
        Indexed like ``score``: ``rule_amount``, ``model_amount`` and ``money_at_stake``,
        rounded to cents.
    """
    paid = fund_paid.reindex(score.index).fillna(0.0).astype(float)
    rules = (
        pd.Series(0.0, index=score.index)
        if rule_amount is None
        else rule_amount.reindex(score.index).fillna(0.0).astype(float)
    )
    model = (score.astype(float).fillna(0.0) * paid).round(2)
    return pd.DataFrame(
        {
            "rule_amount": rules.round(2),
            "model_amount": model,
            "money_at_stake": (rules + model).round(2),
        },
        index=score.index,
    )


def priority_tiers(
    score: pd.Series, money: pd.Series, rule_amount: pd.Series, rule: TierRule | None = None
) -> pd.Series:
    """The tier of each entity from its calibrated risk and money at stake (:class:`TierRule`).

    Parameters
    ----------
    score : Series
        Calibrated risk per entity.
    money : Series
        Money at stake per entity (:func:`money_at_stake`), indexed like ``score``.
    rule_amount : Series
        The rules' amount per entity, indexed like ``score``.
    rule : TierRule, optional
        The thresholds (the defaults when ``None``).

    Returns
    -------
    Series
        ``"A"``, ``"B"`` or ``"C"`` per entity, indexed like ``score``.
    """
    rule = rule or TierRule()
    risk = score.astype(float).fillna(0.0)
    money = money.reindex(score.index).fillna(0.0)
    rules = rule_amount.reindex(score.index).fillna(0.0)
    a = (risk >= rule.high) & (money >= rule.money)
    b = (risk >= rule.medium) | (rules >= rule.money)
    out = np.where(a, "A", np.where(b, "B", "C"))
    return pd.Series(out, index=score.index, dtype="str")


def lead_ranks(
    score: pd.Series,
    money: pd.Series,
    ids: pd.Series,
    novelty: pd.Series | None = None,
    reserve: pd.Series | None = None,
    rank: pd.Series | None = None,
) -> pd.Series:
    """:func:`distinct_ranks` that keeps the capacity's reserve in its place.

    The entities ``reserve`` marks held the ranks right after the first ``h`` (``h`` one
    less than the best of their ``rank``s); they keep that block, ordered by ``novelty``
    then money then id, and every other entity is ranked around it by
    :func:`distinct_ranks`' order. Without a reserve this is :func:`distinct_ranks`.

    >>> s = pd.Series([0.9, 0.8, 0.1]); m = pd.Series([0.0, 0.0, 0.0])
    >>> r = pd.Series([False, False, True]); old = pd.Series([1, 3, 2])
    >>> list(lead_ranks(s, m, pd.Series(["a", "b", "c"]), s, r, old))
    [1, 3, 2]
    """
    if reserve is None or rank is None or not reserve.fillna(False).astype(bool).any():
        return distinct_ranks(score, money, ids)
    marked = reserve.fillna(False).astype(bool).to_numpy()
    head = int(rank.to_numpy()[marked].min()) - 1
    others = distinct_ranks(score[~marked], money[~marked], ids[~marked])
    nov = (novelty if novelty is not None else score)[marked]
    block = distinct_ranks(nov, money[marked], ids[marked])
    out = pd.Series(0, index=score.index, dtype="int64")
    out[~marked] = np.where(others <= head, others, others + int(marked.sum()))
    out[marked] = block + head
    return out


def distinct_ranks(score: pd.Series, money: pd.Series, ids: pd.Series) -> pd.Series:
    """Ranks 1… by descending score, equal scores by descending money at stake, then by
    id: no two entities share a rank, and identical runs rank alike whatever the input
    order.

    >>> s = pd.Series([0.9, 0.9, 0.5]); m = pd.Series([10.0, 20.0, 0.0])
    >>> list(distinct_ranks(s, m, pd.Series(["b", "a", "c"])))
    [2, 1, 3]
    """
    order = pd.DataFrame(
        {
            "score": score.astype(float).fillna(-1.0).to_numpy(),
            "money": money.astype(float).fillna(0.0).to_numpy(),
            "id": ids.astype(str).to_numpy(),
        }
    )
    ordered = order.sort_values(
        ["score", "money", "id"], ascending=[False, False, True], kind="stable"
    ).index
    ranks = np.empty(len(order), dtype="int64")
    ranks[ordered.to_numpy()] = np.arange(1, len(order) + 1)
    return pd.Series(ranks, index=score.index)
