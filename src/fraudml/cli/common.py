"""What several commands read from their config: the window and the rule base."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig

from fraudml.features import Window
from fraudml.io import load_dataset
from fraudml.io.errors import ContractError
from fraudml.io.load import Dataset
from fraudml.rules import CHECKS, Rule, RuleSpecError, load_rules


def parse_date(value: str | None, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ContractError(f"{name}={value!r} is not a date (expected YYYY-MM-DD)") from exc


def window_of(cfg: DictConfig) -> Window:
    window = Window(parse_date(cfg.period.start, "FROM"), parse_date(cfg.period.end, "UNTIL"))
    if window.start and window.end and window.start >= window.end:
        raise ContractError(f"FROM={cfg.period.start} is not before UNTIL={cfg.period.end}")
    return window


def load_rule_base(files: list[str] | str | None) -> list[Rule]:
    """The configured rule files, or every file in the config directory's ``rules/``.

    A malformed rule base is a structural fault of the run's input (exit code 2).
    """
    from fraudml.cli.main import conf_dir

    if files:
        paths = [Path(f) for f in ([files] if isinstance(files, str) else files)]
    else:
        paths = [conf_dir() / "rules"]
    try:
        return load_rules(paths, CHECKS)
    except RuleSpecError as exc:
        raise ContractError(f"rule base: {exc}") from None


def open_dataset(cfg: DictConfig) -> Dataset:
    """The configured dataset, validated, with the configured engine settings."""
    return load_dataset(
        cfg.data.path,
        encoding=cfg.data.encoding,
        memory_limit=cfg.engine.memory_limit,
        threads=cfg.engine.threads,
    )
