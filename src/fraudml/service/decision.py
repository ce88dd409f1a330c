"""From hits to a decision, and 熔断: suspending a provider that keeps breaching."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from fraudml.service.schema import DECISIONS
from fraudml.service.settings import DecisionPolicy, SuspensionSettings

#: The reason a suspended provider's claim is rejected.
SUSPENDED = "suspended"


def decide(hits: Iterable[dict[str, Any]], stage: str, policy: DecisionPolicy) -> str:
    """The strongest decision of ``hits`` for a check at ``stage``; ``pass`` without any."""
    decision = "pass"
    for hit in hits:
        mine = policy.of_hit(stage, hit["stage"], hit["result"], hit["severity"])
        decision = max(decision, mine, key=DECISIONS.index)
    return decision


class Suspension:
    """Claims with a definite violation per provider, by admit time, and whether a
    provider is suspended when one of its claims comes in."""

    def __init__(self, settings: SuspensionSettings) -> None:
        self.settings = settings
        self._breaches: dict[str, dict[str, datetime]] = {}

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def breaches(self, provider_id: str, at: datetime, claim_id: str | None = None) -> int:
        """Claims of the provider with a definite violation admitted in the window that
        ends at ``at`` (``claim_id`` itself not counted)."""
        start = at - timedelta(days=self.settings.window_days)
        seen = self._breaches.get(provider_id, {})
        return sum(1 for cid, t in seen.items() if start < t <= at and cid != claim_id)

    def suspended(self, provider_id: str, at: datetime, claim_id: str | None = None) -> bool:
        if not self.settings.enabled:
            return False
        return self.breaches(provider_id, at, claim_id) >= self.settings.threshold

    def note(self, provider_id: str, claim_id: str, at: datetime) -> None:
        """A checked claim of the provider that holds a definite violation."""
        self._breaches.setdefault(provider_id, {})[claim_id] = at
        self._forget(provider_id, at)

    def _forget(self, provider_id: str, at: datetime) -> None:
        # what lies far behind every window is forgotten: memory stays bounded
        horizon = at - timedelta(days=4 * self.settings.window_days)
        seen = self._breaches[provider_id]
        for cid in [c for c, t in seen.items() if t < horizon]:
            del seen[cid]
