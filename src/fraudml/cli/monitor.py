"""``fraudml monitor``: the monitoring report (动态监测专报) of a period."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from fraudml.cli.common import engine_settings, window_of
from fraudml.monitoring import MonitorSettings
from fraudml.workflows.monitoring import monitor

log = logging.getLogger("fraudml")


def settings_of(cfg: DictConfig) -> MonitorSettings:
    m = cfg.monitor
    return MonitorSettings(
        top_items=m.top_items,
        growth_alert=m.growth_alert,
        outlier_z=m.outlier_z,
        min_peers=m.min_peers,
        top_providers=m.top_providers,
        langs=tuple(m.langs),
    )


def run(cfg: DictConfig) -> int:
    window = window_of(cfg)
    settings = settings_of(cfg)
    result = monitor(
        cfg.data.path,
        window,
        settings=settings,
        out=cfg.out,
        encoding=cfg.data.encoding,
        engine=engine_settings(cfg),
        cache=cfg.data.cache,
    )
    log.info("wrote %s (%s s)", result.path, result.manifest.get("seconds"))
    return 0
