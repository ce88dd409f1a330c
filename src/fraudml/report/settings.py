"""What a scoring run's report holds beyond the leads: the case packs and the tiers."""

from __future__ import annotations

from dataclasses import dataclass, field

from fraudml.errors import SettingError
from fraudml.scoring.rank import TierRule

#: provider leads given a PDF case pack (稽核线索包) by default
CASE_PACKS = 10


@dataclass(frozen=True)
class ReportSettings:
    """``case_packs``: the top provider leads (by rank) given a PDF case pack each (0:
    none); ``tiers``: how tiers are set from calibrated risk and money at stake."""

    case_packs: int = CASE_PACKS
    tiers: TierRule = field(default_factory=TierRule)

    def __post_init__(self) -> None:
        if (
            isinstance(self.case_packs, bool)
            or not isinstance(self.case_packs, int)
            or (self.case_packs < 0)
        ):
            raise SettingError(
                f"report.case_packs={self.case_packs!r}: expected a whole number, 0 or more"
            )
