"""Errors raised at the data boundary."""

from __future__ import annotations


class ContractError(Exception):
    """A structural fault: the dataset cannot be loaded as the contract describes.

    The message always names the file (or dataset directory), the column where one is
    involved, and the form that was expected, so an operator can fix the input.
    """


class ReconciliationError(AssertionError):
    """accepted + quarantined != read for some table: a bug in the loader, never ignored."""
