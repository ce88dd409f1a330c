"""``fraudml score``: the scoring workflow with settings from the composed config."""

from __future__ import annotations

import os

from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import engine_settings, window_of
from fraudml.settings import ScoreSettings
from fraudml.workflows import load_rule_base, score


def settings_of(cfg: DictConfig) -> ScoreSettings:
    """Typed scoring settings; the salt comes from ``FRAUDML_PSEUDONYM_SALT``, never
    from the config (it must not be written with the report)."""
    return ScoreSettings(
        capacity=cfg.evaluate.capacity,
        definite_leads=bool(cfg.leads.definite),
        lang=str(cfg.report.lang),
        pseudonymise=bool(cfg.report.pseudonymise),
        salt=os.environ.get("FRAUDML_PSEUDONYM_SALT") or None,
        namespace=cfg.models.namespace,
        store=str(cfg.models.store),
        params=OmegaConf.to_container(cfg, resolve=True),
    )


def run(cfg: DictConfig) -> int:
    window = window_of(cfg)
    settings = settings_of(cfg)
    score(
        cfg.data.path,
        window,
        settings=settings,
        rules=load_rule_base(cfg.rules.files),
        out=cfg.out,
        encoding=cfg.data.encoding,
        engine=engine_settings(cfg),
        cache=cfg.data.cache,
    )
    return 0
