"""``fraudml score``: champion models → scores, leads, report, manifest (atomically)."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime

from mlflow.exceptions import MlflowException
from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import claim, load_rule_base, open_dataset, window_of
from fraudml.errors import ModelError, SettingError
from fraudml.features import FEATURE_SET_VERSION
from fraudml.features.build import dropped_summary
from fraudml.io.atomic import write_json
from fraudml.models.frames import ENTITIES
from fraudml.report.render import pseudonymise, render_html, write_leads_csv, write_xlsx
from fraudml.score.pipeline import score_period
from fraudml.settings import capacities
from fraudml.tracking import mlflow_store as store

log = logging.getLogger("fraudml")


def champions(ns: str) -> tuple[dict, dict[str, str], dict[str, str]]:
    """The champion model of every entity type registered under ``ns``, its
    ``name@version``, and why the entity types without one are not scored."""
    models, versions, missing = {}, {}, {}
    for entity in ENTITIES:
        name = store.model_name(ns, entity)
        try:
            models[entity], version = store.load_champion(name)
        except MlflowException:
            log.warning("no champion for %s: %s is not scored", name, entity)
            missing[entity] = f"no champion model {name}"
            continue
        versions[entity] = f"{name}@{version}"
    if not models:
        raise ModelError(
            f"no champion models under the namespace {ns!r}: run `make train DATA=…` first, "
            "or set models.namespace to the namespace training used"
        )
    return models, versions, missing


def run(cfg: DictConfig) -> int:
    started = time.perf_counter()
    window = window_of(cfg)
    lang = str(cfg.report.lang)
    if lang not in ("zh", "en"):
        raise SettingError(f"report.lang={lang!r}: expected zh or en")
    salt = os.environ.get("FRAUDML_PSEUDONYM_SALT", "")
    if cfg.report.pseudonymise and not salt:
        raise SettingError(
            "report.pseudonymise=true needs the salt in FRAUDML_PSEUDONYM_SALT (kept outside "
            "the report)"
        )
    capacity = capacities(cfg.evaluate.capacity)
    rules = load_rule_base(cfg.rules.files)
    with claim(cfg, "score", cfg.out) as output:
        return _score(cfg, output, window, lang, salt, rules, capacity, started)


def _score(cfg, output, window, lang, salt, rules, capacity, started) -> int:
    store.configure(cfg.models.store)
    timings = {}
    with open_dataset(cfg) as ds:
        ns = store.namespace(ds.path, cfg.models.namespace)
        models, versions, missing = champions(ns)
        timings["load"] = time.perf_counter() - started
        result = score_period(
            ds,
            window,
            rules,
            models,
            versions,
            capacity,
            definite_leads=bool(cfg.leads.definite),
        )
        timings["score_and_explain"] = time.perf_counter() - started - timings["load"]
        timings["explain"] = result.explain_seconds
        for line in dropped_summary(result.dropped):
            log.warning("%s", line)
        fingerprint, currency, warnings = ds.fingerprint, ds.currency, list(ds.warnings)
        reconciliation = {c.table: c.accepted for c in ds.reconciliation.tables}
    scores, leads, evidence = result.scores, result.leads, result.evidence
    if cfg.report.pseudonymise:
        scores, leads, evidence = (pseudonymise(f, salt) for f in (scores, leads, evidence))
    period = f"{cfg.period.start or '…'} – {cfg.period.end or '…'}"
    with output.staging() as tmp:
        scores.to_parquet(tmp / "scores.parquet", index=False)
        leads.to_parquet(tmp / "leads.parquet", index=False)
        write_leads_csv(leads, tmp / "leads.csv")
        evidence.to_parquet(tmp / "evidence.parquet", index=False)
        html = render_html(
            leads,
            evidence,
            result.explained,
            lang,
            period,
            datetime.now().isoformat("T", "seconds"),
            currency=currency,
        )
        (tmp / "report.html").write_text(html, encoding="utf-8")
        write_xlsx(leads, evidence, tmp / "report.xlsx")
        timings["total"] = time.perf_counter() - started
        write_json(
            tmp / "manifest.json",
            {
                "dataset": str(cfg.data.path),
                "fingerprint": fingerprint,
                "currency": currency,
                "window": {"start": cfg.period.start, "end": cfg.period.end},
                "feature_set_version": FEATURE_SET_VERSION,
                # only the models that scored; the others' reasons in not_scored
                "models": result.models,
                "not_scored": {
                    e: why
                    for e in ENTITIES
                    if (why := missing.get(e) or result.not_scored.get(e)) is not None
                },
                "warnings": warnings,
                "explained": result.explained,
                "dropped_features": result.dropped,
                "rows": {
                    "accepted_input": reconciliation,
                    "scored": scores.groupby("entity_type").size().to_dict(),
                    "leads": leads.groupby("entity_type").size().to_dict() if len(leads) else {},
                    "evidence": len(evidence),
                },
                "pseudonymised": bool(cfg.report.pseudonymise),
                "config": OmegaConf.to_container(cfg, resolve=True),
                "seconds": {k: round(v, 1) for k, v in timings.items()},
            },
        )
    log.info("scored %s into %s (%.1f s)", period, output.path, time.perf_counter() - started)
    return 0
