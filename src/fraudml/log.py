"""How fraudml's entry points log: progress and results to stderr, one line per step."""

from __future__ import annotations

import logging
import sys


def setup_logging() -> None:
    """Progress and results to stderr, one line per step."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("alembic", "mlflow", "numba", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
