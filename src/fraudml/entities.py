"""The entity vocabulary: one spec per entity type fraudml profiles, models and ranks.

Every table that used to be kept beside its user (profile keys and context columns, peer
groups, the labels' entity type, the claim column naming an owner, naive baselines, the
order models are fitted in and the auditors' default capacity) is read from here.

Order matters: :data:`ENTITIES` lists the types in fitting order. Claim-level types
(stays, visits) and patients come first, so that providers and doctors, the *owners* of
claims, can be seen through the risk of their claims and patients
(:mod:`fraudml.models.network`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

Entity = Literal["patient", "provider", "doctor", "stay", "visit"]


@dataclass(frozen=True)
class EntitySpec:
    """What fraudml knows about one entity type.

    Attributes
    ----------
    name
        The type's name in profiles, models, scores and leads.
    key
        The profile's key column (and the claims' column naming the entity).
    label_type
        The ``entity_type`` labels use for it (stays and visits are ``claim``).
    context
        Columns a profile keeps beside its features: peer-group attributes and what a
        lead needs to be read (the claim's patient and provider, say).
    peer_groups
        Attributes whose combination forms the peer group (水位) features are compared in.
    owner
        For an entity that owns claims (a provider, a doctor): the claim column naming
        it; it then gains network features from its claims' and patients' risk.
    baselines
        Naive rankings evaluated beside the models: name → the columns whose product
        ranks (a single column for most).
    capacity
        The auditors' default capacity: leads they can take per period.
    zh, en
        The type's name for people.
    """

    name: Entity
    key: str
    label_type: str
    context: tuple[str, ...]
    peer_groups: tuple[str, ...]
    baselines: Mapping[str, tuple[str, ...]]
    capacity: int
    zh: str
    en: str
    owner: str | None = None
    #: set by :data:`ENTITIES`: position in the fitting order
    order: int = field(default=0, compare=False)

    @property
    def is_claim(self) -> bool:
        """Whether the type is a kind of claim (labels name it ``claim``)."""
        return self.label_type == "claim"


_SPECS = (
    EntitySpec(
        name="patient",
        key="patient_id",
        label_type="patient",
        # group_id: the window's co-visit group (fraudml.graph), missing outside any
        context=("age_band", "gender", "insurance_type", "group_id"),
        peer_groups=("age_band", "gender", "insurance_type"),
        baselines={"fund_paid": ("fund_paid",), "claim_count": ("n_claims",)},
        capacity=100,
        zh="参保人",
        en="patient",
    ),
    EntitySpec(
        name="stay",
        key="claim_id",
        label_type="claim",
        context=("patient_id", "provider_id", "level", "diagnosis_group", "admit_time"),
        peer_groups=("level", "diagnosis_group"),
        baselines={"fund_paid": ("fund_paid",), "length_of_stay": ("los_days",)},
        capacity=50,
        zh="住院结算",
        en="inpatient stay",
    ),
    EntitySpec(
        name="visit",
        key="claim_id",
        label_type="claim",
        context=(
            "patient_id",
            "provider_id",
            "doctor_id",
            "visit_type",
            "department",
            "admit_time",
        ),
        peer_groups=("visit_type", "department"),
        baselines={"fund_paid": ("fund_paid",), "fee_lines": ("n_lines",)},
        capacity=200,
        zh="门诊/购药结算",
        en="visit",
    ),
    EntitySpec(
        name="provider",
        key="provider_id",
        label_type="provider",
        context=("provider_type", "level"),
        peer_groups=("provider_type", "level"),
        baselines={"fund_paid": ("fund_paid",), "claim_count": ("n_claims",)},
        capacity=5,
        zh="定点机构",
        en="provider",
        owner="provider_id",
    ),
    EntitySpec(
        name="doctor",
        key="doctor_id",
        label_type="doctor",
        context=("department", "provider_id"),
        peer_groups=("department",),
        baselines={"fees": ("n_claims", "cost_per_visit"), "claim_count": ("n_claims",)},
        capacity=20,
        zh="医师",
        en="doctor",
        owner="doctor_id",
    ),
)

#: Every entity type, in fitting order.
ENTITIES: dict[str, EntitySpec] = {s.name: replace(s, order=i) for i, s in enumerate(_SPECS)}
#: The claim-level types (stays and visits), in fitting order.
CLAIM_KINDS: tuple[str, ...] = tuple(e for e, s in ENTITIES.items() if s.is_claim)
#: The types that own claims and gain network features (providers and doctors).
OWNERS: tuple[str, ...] = tuple(e for e, s in ENTITIES.items() if s.owner)


def spec(entity: str) -> EntitySpec:
    """The spec of ``entity``; :class:`ValueError` naming the known types otherwise."""
    try:
        return ENTITIES[entity]
    except KeyError:
        raise ValueError(
            f"unknown entity type {entity!r} (expected one of {', '.join(ENTITIES)})"
        ) from None


def default_capacity() -> dict[str, int]:
    """The auditors' default capacity per entity type."""
    return {e: s.capacity for e, s in ENTITIES.items()}


def lead_types(entities: Iterable[str]) -> dict[str, list[str]]:
    """The labels' entity types and the entity types among ``entities`` each gathers, in
    fitting order: stays and visits are both ``claim``, ranked on one scale."""
    out: dict[str, list[str]] = {}
    for name in sorted(set(entities), key=lambda e: spec(e).order):
        out.setdefault(spec(name).label_type, []).append(name)
    return out


def lead_capacity(capacity: Mapping[str, int], lead_type: str, kinds: Iterable[str]) -> int:
    """The auditors' capacity for one lead type: its own entry (``claim``, say) when
    given, else the sum of its kinds' (stays and visits) or their defaults."""
    if lead_type in capacity:
        return int(capacity[lead_type])
    return sum(int(capacity.get(k, spec(k).capacity)) for k in kinds)
