"""What several commands read from their config: the window and the engine settings."""

from __future__ import annotations

from datetime import datetime

from omegaconf import DictConfig

from fraudml.errors import SettingError
from fraudml.settings import EngineSettings
from fraudml.window import Window


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
