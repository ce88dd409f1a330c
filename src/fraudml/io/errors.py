"""Errors raised at the data boundary (the error kinds live in :mod:`fraudml.errors`)."""

from __future__ import annotations

from fraudml.errors import ContractError, OutputError

__all__ = ["ContractError", "OutputError", "ReconciliationError"]


class ReconciliationError(AssertionError):
    """accepted + quarantined != read for some table: a bug in the loader, never ignored."""
