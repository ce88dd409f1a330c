"""Network features: a provider or doctor seen through the risk of its claims and patients.

Fraud at a provider shows in its claims (phantom visits, over-treatment) and in the
people it treats (gangs, card lending); the claim-level and patient models see those
directly. A provider's or doctor's profile therefore gains the mean risk of its claims,
the share of its claims scored 0.5 or more, and the mean risk of its distinct patients,
all from the same window.
"""

from __future__ import annotations

import pandas as pd

from fraudml.entities import CLAIM_KINDS, ENTITIES, OWNERS
from fraudml.features.registry import Feature
from fraudml.graph.propagation import GROUP_FLAGGED

#: risk at or above which a claim counts as high-risk
HIGH = 0.5


def network_registry(entity: str) -> list[Feature]:
    """Registry entries of the network features (explanations read their text here):
    the owners' claim and patient risk, and the patients' propagated group labels
    (:mod:`fraudml.graph.propagation`)."""
    if entity == "patient":
        return [
            Feature(
                GROUP_FLAGGED,
                "patient",
                "network",
                "同团伙已查实人员占比",
                "share of the other members of its group already found to be fraud",
                "比例",
                anomaly=False,
            )
        ]
    return [
        Feature(
            "net_claim_risk",
            entity,  # type: ignore[arg-type]
            "network",
            "名下结算平均风险",
            "mean risk of its claims (visits and stays)",
            "概率",
        ),
        Feature(
            "net_claim_risk_high",
            entity,  # type: ignore[arg-type]
            "network",
            "名下高风险结算占比",
            f"share of its claims with risk ≥ {HIGH}",
            "比例",
        ),
        Feature(
            "net_patient_risk",
            entity,  # type: ignore[arg-type]
            "network",
            "名下参保人平均风险",
            "mean risk of its distinct patients",
            "概率",
        ),
    ]


NETWORK_FEATURES = tuple(f.name for f in network_registry("provider"))


def with_network_features(
    frames: dict[str, pd.DataFrame], scores: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """``frames`` with network features added to the provider and doctor frames.

    ``scores`` holds the window's ``risk`` per entity type (``score_frame`` output) for
    ``visit``, ``stay`` and ``patient``; what is missing contributes nothing.
    """
    parts = []
    for kind in CLAIM_KINDS:
        if kind in frames and kind in scores:
            named = [ENTITIES[o].owner for o in OWNERS]
            cols = [c for c in (*named, "patient_id") if c in frames[kind]]
            part = frames[kind][cols].copy()
            part["risk"] = scores[kind]["risk"].reindex(part.index)
            parts.append(part)
    claims = pd.concat(parts) if parts else pd.DataFrame(columns=["provider_id", "risk"])
    patient_risk = scores["patient"]["risk"] if "patient" in scores else pd.Series(dtype=float)
    out = dict(frames)
    for entity in OWNERS:
        owner = ENTITIES[entity].owner
        if entity not in frames:
            continue
        frame = frames[entity].copy()
        mine = claims[claims.get(owner, pd.Series(index=claims.index, dtype=object)).notna()]
        if owner in mine and len(mine):
            grouped = mine.assign(high=(mine.risk >= HIGH).astype(float)).groupby(owner)
            frame["net_claim_risk"] = grouped.risk.mean().reindex(frame.index)
            frame["net_claim_risk_high"] = grouped.high.mean().reindex(frame.index)
            pairs = mine[[owner, "patient_id"]].drop_duplicates()
            pairs = pairs.assign(p=pairs.patient_id.map(patient_risk))
            frame["net_patient_risk"] = pairs.groupby(owner).p.mean().reindex(frame.index)
        for name in NETWORK_FEATURES:
            frame[name] = frame[name].fillna(0.0) if name in frame else 0.0
        out[entity] = frame
    return out
