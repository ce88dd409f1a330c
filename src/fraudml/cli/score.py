"""``fraudml score``: the scoring workflow with settings from the composed config."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import engine_settings, window_of
from fraudml.errors import SettingError
from fraudml.report.settings import ReportSettings
from fraudml.scoring.rank import TierRule
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
        history=Path(cfg.leads.history) if cfg.leads.history else None,
        ledger=Path(cfg.leads.ledger) if cfg.leads.ledger else None,
        explore_share=cfg.evaluate.explore_share,
        explore_bar=cfg.evaluate.explore_bar,
    )


def report_of(cfg: DictConfig) -> ReportSettings:
    """Case packs and tiers (``report.case_packs``, ``report.tiers.*``), checked."""
    tiers = cfg.report.tiers
    values = {}
    for key in ("high", "medium", "money"):
        try:
            values[key] = float(tiers[key])
        except (TypeError, ValueError):
            raise SettingError(f"report.tiers.{key}={tiers[key]!r}: expected a number") from None
    return ReportSettings(case_packs=cfg.report.case_packs, tiers=TierRule(**values))


def run(cfg: DictConfig) -> int:
    window = window_of(cfg)
    settings = settings_of(cfg)
    score(
        cfg.data.path,
        window,
        settings=settings,
        report=report_of(cfg),
        rules=load_rule_base(cfg.rules.files),
        out=cfg.out,
        encoding=cfg.data.encoding,
        engine=engine_settings(cfg),
        cache=cfg.data.cache,
    )
    return 0
