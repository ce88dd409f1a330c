"""Data in: read a contract dataset, validate it, quarantine bad rows, reconcile counts."""

from fraudml.io.errors import ContractError, ReconciliationError
from fraudml.io.load import Dataset, load_dataset

__all__ = ["ContractError", "Dataset", "ReconciliationError", "load_dataset"]
