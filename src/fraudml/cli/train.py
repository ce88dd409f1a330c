"""``fraudml train``: the training workflow with settings from the composed config."""

from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import engine_settings, parse_date
from fraudml.models.fusion import Fusion
from fraudml.settings import TrainSettings
from fraudml.workflows import evaluation_table, load_rule_base, train


def settings_of(cfg: DictConfig) -> TrainSettings:
    """Typed training settings from the ``train``, ``evaluate``, ``model`` and ``anomaly``
    groups; the resolved config is what the run logs."""
    ev, tr = cfg.evaluate, cfg.train
    return TrainSettings(
        anomaly=instantiate(cfg.anomaly, _convert_="all"),
        supervised=instantiate(cfg.model, _convert_="all"),
        capacity=ev.capacity,
        min_positives=tr.min_positives,
        mode=str(ev.mode),
        folds=ev.folds,
        validation_days=ev.validation_days,
        label_delay_days=ev.label_delay_days,
        eval_days=ev.eval_days,
        explore_share=ev.explore_share,
        explore_bar=ev.explore_bar,
        seed=cfg.seed,
        experiment=str(tr.experiment),
        namespace=tr.namespace,
        store=str(tr.store),
        force_champion=bool(tr.force_champion),
        champion_metric=str(tr.champion_metric),
        params=OmegaConf.to_container(cfg, resolve=True),
        fusion=Fusion(
            anomaly_weight=float(cfg.fusion.anomaly_weight),
            anomaly_power=float(cfg.fusion.anomaly_power),
            alone_weight=float(cfg.fusion.alone_weight),
        ),
    )


def run(cfg: DictConfig) -> int:
    until = parse_date(cfg.period.end, "UNTIL")
    since = parse_date(cfg.period.start, "FROM")
    settings = settings_of(cfg)
    result = train(
        cfg.data.path,
        until=until,
        since=since,
        settings=settings,
        rules=load_rule_base(cfg.rules.files),
        out=cfg.train.out or None,
        encoding=cfg.data.encoding,
        engine=engine_settings(cfg),
        cache=cfg.data.cache,
    )
    print(evaluation_table(result.result))
    return 0
