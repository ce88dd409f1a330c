"""The window layer: what every profile and rule reads from a window of a dataset.

A :class:`Window` is ``[start, end)`` on ``admit_time``. :func:`prepare` computes the
window's enriched claims (and, when asked, their fee-line summary) once into engine tables;
features (:mod:`fraudml.features`) and rules (:mod:`fraudml.rulebase`) both read them.
"""

from fraudml.window.claims import (
    Inputs,
    filled_columns,
    has_times_of_day,
    prepare,
    unregistered_chronic_claims,
)
from fraudml.window.fees import (
    CATALOG_COLUMNS,
    catalog_restrictions,
    claim_fees,
    fee_lines,
    over_daily_limit,
    repeated_trace_lines,
)
from fraudml.window.period import Window

__all__ = [
    "CATALOG_COLUMNS",
    "Inputs",
    "Window",
    "catalog_restrictions",
    "claim_fees",
    "fee_lines",
    "filled_columns",
    "has_times_of_day",
    "over_daily_limit",
    "prepare",
    "repeated_trace_lines",
    "unregistered_chronic_claims",
]
