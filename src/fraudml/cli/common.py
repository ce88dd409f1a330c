"""What several commands read from their config: window, engine, rule base, output."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig

from fraudml.errors import RuleBaseError, SettingError
from fraudml.features import Window
from fraudml.io import load_dataset
from fraudml.io.load import Dataset
from fraudml.io.outputs import OutputClaim, claim_output
from fraudml.rules import CHECKS, Rule, RuleSpecError, load_rules
from fraudml.settings import EngineSettings

log = logging.getLogger("fraudml")


def parse_date(value: str | None, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise SettingError(f"{name}={value!r} is not a date (expected YYYY-MM-DD)") from exc


def window_of(cfg: DictConfig) -> Window:
    window = Window(parse_date(cfg.period.start, "FROM"), parse_date(cfg.period.end, "UNTIL"))
    if window.start and window.end and window.start >= window.end:
        raise SettingError(f"FROM={cfg.period.start} is not before UNTIL={cfg.period.end}")
    return window


def engine_settings(cfg: DictConfig) -> EngineSettings:
    """The engine group, checked (a wrong memory size or thread count stops at once)."""
    return EngineSettings(memory_limit=cfg.engine.memory_limit, threads=cfg.engine.threads)


def load_rule_base(files: list[str] | str | None) -> list[Rule]:
    """The configured rule files, or every file in the config directory's ``rules/``.

    A malformed rule base stops the run (exit code 2) naming the file, rule and field.
    """
    from fraudml.cli.main import conf_dir

    if files:
        paths = [Path(f) for f in ([files] if isinstance(files, str) else files)]
    else:
        paths = [conf_dir() / "rules"]
    try:
        return load_rules(paths, CHECKS)
    except RuleSpecError as exc:
        raise RuleBaseError(str(exc)) from None


def tracking_dir(store: str | Path) -> Path | None:
    """The local tracking store's folder (``None`` when ``MLFLOW_TRACKING_URI`` points
    at a server or a database elsewhere)."""
    from fraudml.tracking.mlflow_store import local_folder

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return Path(store) if not uri else local_folder(uri)


def claim(cfg: DictConfig, command: str, out: str | Path | None, extra: Iterable[Path] = ()):
    """Check and lock the command's output folder before any work starts: never the
    dataset, never the tracking store, never a folder fraudml did not write."""
    protect = []
    for key in ("models", "train"):
        store = cfg.get(key, {}).get("store") if key in cfg else None
        if store and (folder := tracking_dir(store)) is not None:
            protect.append(folder)
    immutable = [Path(cfg.data.path), *extra] if "data" in cfg else list(extra)
    return claim_output(out, command, protect, immutable)


def open_dataset(cfg: DictConfig, out: OutputClaim | None = None) -> Dataset:
    """The configured dataset, validated, with the configured engine settings; the
    dataset's warnings go to the log."""
    engine = engine_settings(cfg)
    ds = load_dataset(
        cfg.data.path,
        out=out,
        encoding=cfg.data.encoding,
        memory_limit=engine.memory_limit,
        threads=engine.threads,
    )
    for warning in ds.warnings:
        log.warning("%s", warning)
    return ds
