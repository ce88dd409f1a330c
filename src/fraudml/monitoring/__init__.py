"""The monitoring report (动态监测专报): fund spending and its growth, key drugs and
consumables, the national lists' focus fields, and providers that depart from their peers.

:mod:`~fraudml.monitoring.tables` computes the tables as Ibis expressions on the dataset's
engine, :mod:`~fraudml.monitoring.charts` draws them (matplotlib SVG) and
:mod:`~fraudml.monitoring.render` writes the HTML and XLSX in zh and en.
"""

from fraudml.monitoring.fields import FOCUS_FIELDS, KEY_CATEGORIES, FocusField
from fraudml.monitoring.settings import MonitorSettings
from fraudml.monitoring.tables import MonitorTables, monitor_tables

__all__ = [
    "FOCUS_FIELDS",
    "KEY_CATEGORIES",
    "FocusField",
    "MonitorSettings",
    "MonitorTables",
    "monitor_tables",
]
