"""fraudml: find fraud, waste and abuse in medical-insurance claims."""

from fraudml.io import ContractError, Dataset, load_dataset

__version__ = "0.1.0"

__all__ = ["ContractError", "Dataset", "__version__", "load_dataset"]
