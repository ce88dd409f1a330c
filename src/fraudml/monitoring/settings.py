"""The monitoring report's settings, checked when made."""

from __future__ import annotations

from dataclasses import dataclass

from fraudml.errors import SettingError

LANGS = ("zh", "en")


@dataclass(frozen=True)
class MonitorSettings:
    """How the report chooses what to show.

    Parameters
    ----------
    top_items : int
        Key drugs and consumables listed, by fund paid in the period.
    growth_alert : float
        Growth (0.5 = +50 %) at or above which an item's growth is abnormal.
    outlier_z : float
        Robust z-score (median and MAD of the peer group) at or above which a provider
        departs from its peers.
    min_peers : int
        Fewest providers a peer group needs before anyone in it is compared.
    top_providers : int
        Providers shown per focus field and in the departures table of the HTML (the
        spreadsheet holds them all).
    langs : tuple of str
        Report languages written (``zh``, ``en``).
    """

    top_items: int = 20
    growth_alert: float = 0.5
    outlier_z: float = 3.5
    min_peers: int = 5
    top_providers: int = 15
    langs: tuple[str, ...] = LANGS

    def __post_init__(self) -> None:
        for key in ("top_items", "min_peers", "top_providers"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingError(f"monitor.{key}={value!r} must be a whole number ≥ 1")
        for key in ("growth_alert", "outlier_z"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SettingError(f"monitor.{key}={value!r} must be a number > 0")
        langs = tuple(self.langs)
        if not langs or any(lang not in LANGS for lang in langs):
            raise SettingError(f"monitor.langs={list(langs)!r} must be some of {list(LANGS)}")
        object.__setattr__(self, "langs", langs)
