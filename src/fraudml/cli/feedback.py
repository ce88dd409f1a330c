"""``fraudml feedback``: apply a verdicts file to a dataset's labels."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import engine_settings
from fraudml.errors import SettingError
from fraudml.io.atomic import atomic_path
from fraudml.loop.verdicts import VerdictError
from fraudml.workflows.feedback import feedback

log = logging.getLogger("fraudml")


def run(cfg: DictConfig) -> int:
    if not cfg.verdicts:
        raise SettingError("verdicts is required (give VERDICTS=file, or verdicts=file)")
    settings = cfg.feedback
    aliases = OmegaConf.to_container(settings.aliases, resolve=True) or {}
    if not isinstance(aliases, dict):
        raise SettingError("feedback.aliases: expected a mapping of header → column")
    try:
        result = feedback(
            cfg.data.path,
            cfg.verdicts,
            aliases={str(k): str(v) for k, v in aliases.items()},
            sheet=settings.sheet,
            verdicts_encoding=str(settings.encoding),
            encoding=cfg.data.encoding,
            engine=engine_settings(cfg),
            cache=cfg.data.cache,
        )
    except VerdictError as exc:
        if settings.refusals:
            with atomic_path(Path(settings.refusals)) as tmp:
                exc.refusals.to_csv(tmp, index=False, encoding="utf-8-sig")
            log.info("every refused row is listed in %s", settings.refusals)
        raise
    print(
        f"verdicts: {result.read} filled in, {result.blank} rows without a verdict skipped; "
        f"{result.applied} applied, {result.already} applied before\n"
        f"labels: {result.labels_added} rows added, {result.labels_changed} changed "
        f"({result.labels_path}); history: {result.history} verdicts ({result.history_path})"
    )
    return 0
