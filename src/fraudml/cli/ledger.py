"""``fraudml ledger``: the points ledger and the credit rating with settings from config."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import engine_settings, parse_date
from fraudml.errors import SettingError
from fraudml.loop.settings import CreditRules, PointsRules
from fraudml.workflows import load_rule_base
from fraudml.workflows.ledger import ledger, read_trainings


def _plain(node: DictConfig) -> dict:
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def settings_of(cfg: DictConfig) -> tuple[PointsRules, CreditRules]:
    """The typed rules of the ``ledger/points`` and ``ledger/credit`` groups."""
    try:
        points = PointsRules(**_plain(cfg.ledger.points))
        credit = CreditRules(**_plain(cfg.ledger.credit))
    except TypeError as exc:  # a key the rules do not have
        raise SettingError(f"ledger: {exc}") from None
    return points, credit


def run(cfg: DictConfig) -> int:
    until = parse_date(cfg.until, "UNTIL")
    points, credit = settings_of(cfg)
    trainings = read_trainings(cfg.trainings) if cfg.trainings else None
    if trainings is not None and points.restore_per_year == 0:
        raise SettingError(
            "trainings= is given but ledger.points.restore_per_year is 0 (the national rules "
            "restore no points); use a local variant such as ledger/points=local"
        )
    result = ledger(
        cfg.data.path,
        until=until.date() if until else None,
        points=points,
        credit=credit,
        trainings=trainings,
        rule_hits=bool(cfg.rule_hits),
        rules=load_rule_base(cfg.rules.files),
        out=cfg.out,
        encoding=cfg.data.encoding,
        engine=engine_settings(cfg),
        cache=cfg.data.cache,
    )
    m = result.manifest
    print(
        f"ledger as of {result.until}: {m['verdicts']} verdicts; practitioners "
        f"{m['practitioners']}; credit grades {m['grades']} → {result.path}"
    )
    return 0
