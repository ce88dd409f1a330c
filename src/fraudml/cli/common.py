"""What several commands read from their config: the window and the engine settings."""

from __future__ import annotations

from datetime import datetime

from omegaconf import DictConfig, OmegaConf

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


#: The commands that run on ``engine=spark`` (validation itself stays on DuckDB).
SPARK_COMMANDS = frozenset({"validate", "profiles", "rules", "train", "score"})


def _command() -> str | None:
    """The running command (its config's name), or ``None`` outside a Hydra run."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return str(HydraConfig.get().job.config_name)
    except ValueError:  # not inside a Hydra run (a test composing the config)
        return None


def engine_settings(cfg: DictConfig) -> EngineSettings:
    """The engine group, checked (a wrong memory size or thread count stops at once).

    ``engine=duckdb`` (conf/engine/duckdb.yaml) has only the memory limit and threads;
    ``engine=spark`` (conf/engine/spark.yaml) adds its name, master, staging folder and
    Spark properties.
    """
    name = OmegaConf.select(cfg, "engine.name", default="duckdb")
    if name == "duckdb":
        return EngineSettings(memory_limit=cfg.engine.memory_limit, threads=cfg.engine.threads)
    command = _command()
    if name == "spark" and command is not None and command not in SPARK_COMMANDS:
        # said at start-up: these keep DuckDB tables of their own (the service's history)
        # or were never checked on Spark
        raise SettingError(
            f"engine=spark: fraudml {command} runs on DuckDB only (engine=spark runs "
            f"{', '.join(sorted(SPARK_COMMANDS))}); leave engine at duckdb for {command}"
        )
    spark = OmegaConf.select(cfg, "engine.spark", default=None)
    return EngineSettings(
        memory_limit=cfg.engine.memory_limit,
        threads=cfg.engine.threads,
        name=name,
        master=OmegaConf.select(cfg, "engine.master", default="local[2]"),
        spark={} if spark is None else dict(OmegaConf.to_container(spark, resolve=True)),
        staging=OmegaConf.select(cfg, "engine.staging", default=None),
    )
