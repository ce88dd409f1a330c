"""Score a period: champion models → scores, leads, evidence, report and manifest."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException

from fraudml.entities import ENTITIES
from fraudml.errors import ModelError
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.features.build import dropped_summary
from fraudml.io.atomic import write_json
from fraudml.models.risk import EntityModel
from fraudml.report.render import pseudonymise, render_html, write_leads_csv, write_xlsx
from fraudml.rulebase import Rule
from fraudml.scoring.pipeline import ScoreResult, score_period
from fraudml.settings import EngineSettings, ScoreSettings
from fraudml.tracking import mlflow_store as store
from fraudml.workflows.common import (
    Data,
    Out,
    claimed,
    data_path,
    guard_store,
    opened,
    rule_base,
    window_dict,
)
from fraudml.workflows.training import tracking_folder

log = logging.getLogger("fraudml")


def champions(ns: str) -> tuple[dict[str, EntityModel], dict[str, str], dict[str, str]]:
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


@dataclass
class ScoreRun:
    """What a scoring returns: scores, leads, evidence and the deduction list as written
    (pseudonymised when asked), the pipeline's full result, the manifest and where it was
    written."""

    scores: pd.DataFrame
    leads: pd.DataFrame
    evidence: pd.DataFrame
    result: ScoreResult
    manifest: dict[str, object] = field(default_factory=dict)
    path: Path | None = None
    #: every definite violation (扣款清单), one row per hit
    violations: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: members of the group leads (``groups.parquet``) and their proof
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_evidence: pd.DataFrame = field(default_factory=pd.DataFrame)


def score(
    data: Data,
    period: Window,
    *,
    settings: ScoreSettings | None = None,
    rules: Sequence[Rule] | None = None,
    out: Out = None,
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    cache: str | Path | None = None,
) -> ScoreRun:
    """Score every entity of ``period`` with the champion models and pick the leads.

    Parameters
    ----------
    data : path or Dataset
        The dataset folder (validated here) or a dataset already validated.
    period : Window
        ``[start, end)`` on admit_time: the month (or any period) to score.
    settings : ScoreSettings, optional
        Capacities, definite leads, report language, pseudonyms, registry namespace.
    rules : list of Rule, optional
        The rule base (the shipped one when ``None``).
    cache : path, optional
        Kept validations to reuse (or to keep this one in): :mod:`fraudml.io.cache`.
    out : path, optional
        Write ``scores.parquet``, ``leads.parquet``/``leads.csv``, ``evidence.parquet``,
        ``report.html``, ``report.xlsx`` and ``manifest.json`` there, whole or not at all.

    Raises
    ------
    ModelError
        No champion models, or models of another feature set, shape or currency.
    NothingToScoreError
        No claims admitted in the period.
    """
    started = time.perf_counter()
    settings = settings or ScoreSettings()
    rules = rule_base(rules)
    folder = tracking_folder(settings.store)
    guard_store(folder, data, "models.store")
    if (
        folder is not None
        and not (Path(folder) / "mlflow.db").is_file()
        and ("MLFLOW_TRACKING_URI" not in os.environ)
    ):
        # scoring reads models; it must not leave an empty store behind where none was
        raise ModelError(
            f"no tracking store at {folder} (no mlflow.db): run `make train DATA=…` first, "
            "or set models.store (or MLFLOW_TRACKING_URI) to the store training used"
        )
    with claimed(
        out, "score", protect=[folder] if folder else [], immutable=[data_path(data)]
    ) as output:
        store.configure(settings.store)
        timings: dict[str, float] = {}
        with opened(data, encoding, engine, cache) as ds:
            ns = store.namespace(ds.path, settings.namespace)
            models, versions, missing = champions(ns)
            timings["load"] = time.perf_counter() - started
            result = score_period(
                ds,
                period,
                rules,
                models,
                versions,
                dict(settings.capacity),
                definite_leads=settings.definite_leads,
            )
            timings["score_and_explain"] = time.perf_counter() - started - timings["load"]
            timings["explain"] = result.explain_seconds
            for line in dropped_summary(result.dropped):
                log.warning("%s", line)
            dataset, fingerprint = str(ds.path), ds.fingerprint
            currency, warnings = ds.currency, list(ds.warnings)
            reconciliation = {c.table: c.accepted for c in ds.reconciliation.tables}
        scores, leads, evidence = result.scores, result.leads, result.evidence
        violations, deductions = result.violations, result.deductions
        groups, group_proof = result.groups, result.group_evidence
        if settings.pseudonymise:
            salt = str(settings.salt)
            scores, leads, evidence, violations, groups, group_proof = (
                pseudonymise(f, salt)
                for f in (scores, leads, evidence, violations, groups, group_proof)
            )
        window = window_dict(period)
        manifest: dict[str, object] = {
            "dataset": dataset,
            "fingerprint": fingerprint,
            "currency": currency,
            "window": window,
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
                "scored": scores.groupby("entity_type").size().to_dict() if len(scores) else {},
                "leads": leads.groupby("entity_type").size().to_dict() if len(leads) else {},
                "evidence": len(evidence),
                "violations": len(violations),
                "group_members": len(groups),
                "group_evidence": len(group_proof),
            },
            "deductions": {
                "providers": len(deductions),
                "amount": round(float(deductions.amount.sum()), 2) if len(deductions) else 0.0,
            },
            "pseudonymised": settings.pseudonymise,
            "config": dict(settings.params) or _settings_params(settings),
        }
        label = f"{window['start'] or '…'} – {window['end'] or '…'}"
        if output is not None:
            with output.staging() as tmp:
                scores.to_parquet(tmp / "scores.parquet", index=False)
                leads.to_parquet(tmp / "leads.parquet", index=False)
                write_leads_csv(leads, tmp / "leads.csv")
                evidence.to_parquet(tmp / "evidence.parquet", index=False)
                violations.to_parquet(tmp / "violations.parquet", index=False)
                groups.to_parquet(tmp / "groups.parquet", index=False)
                group_proof.to_parquet(tmp / "group_evidence.parquet", index=False)
                html = render_html(
                    leads,
                    evidence,
                    result.explained,
                    settings.lang,
                    label,
                    datetime.now().isoformat("T", "seconds"),
                    currency=currency,
                    deductions=deductions,
                    groups=groups,
                    group_evidence=group_proof,
                )
                (tmp / "report.html").write_text(html, encoding="utf-8")
                write_xlsx(
                    leads,
                    evidence,
                    tmp / "report.xlsx",
                    violations,
                    deductions,
                    groups=groups,
                    group_evidence=group_proof,
                )
                timings["total"] = time.perf_counter() - started
                manifest["seconds"] = {k: round(v, 1) for k, v in timings.items()}
                write_json(tmp / "manifest.json", manifest)
    log.info(
        "scored %s%s (%.1f s)",
        label,
        f" into {output.path}" if output is not None else "",
        time.perf_counter() - started,
    )
    return ScoreRun(
        scores,
        leads,
        evidence,
        result,
        manifest,
        output.path if output else None,
        violations,
        groups,
        group_proof,
    )


def _settings_params(settings: ScoreSettings) -> dict[str, object]:
    """The settings as the manifest records them when no configuration was given (the
    salt never)."""
    return {
        k: (dict(v) if isinstance(v, dict) else str(v) if isinstance(v, Path) else v)
        for k, v in vars(settings).items()
        if k not in ("params", "salt")
    }
