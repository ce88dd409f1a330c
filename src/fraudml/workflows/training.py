"""Train: fit, evaluate, track and register the risk models of a dataset.

:func:`train` is the workflow behind ``fraudml train``: it opens the tracking store
first (so a store that cannot be opened stops the run at once), validates the data,
checks that the split can train, fits and evaluates every entity type inside one MLflow
run, registers a version per entity type and moves the champions together.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import yaml
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from fraudml.errors import TrainingError
from fraudml.evaluate.plots import pr_curves, shap_summary
from fraudml.features import FEATURE_SET_VERSION
from fraudml.features.build import dropped_summary
from fraudml.io.atomic import write_json
from fraudml.io.load import Dataset
from fraudml.models import ProfileIsolationForest, RiskClassifier
from fraudml.models.training import (
    TimeSplit,
    TrainingResult,
    cross_validate,
    plan_time_split,
    require_claims,
    span_text,
    train_and_evaluate,
)
from fraudml.rulebase import Rule
from fraudml.rulebase.engine import fingerprint
from fraudml.settings import EngineSettings, TrainSettings
from fraudml.tracking import mlflow_store as store
from fraudml.workflows.common import (
    Data,
    Out,
    claimed,
    data_path,
    guard_store,
    opened,
    rule_base,
)

log = logging.getLogger("fraudml")

#: MLflow takes at most 1,000 metrics in one batch
METRICS_PER_BATCH = 1000


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def evaluation_table(result: TrainingResult) -> str:
    """The metrics as a fixed-width table for the terminal and CI logs."""
    m = result.metrics
    lines = [
        f"{'entity':<9} {'method':<24} {'AP':>6} {'ROC-AUC':>8} {'P@K':>6} {'R@K':>6} "
        f"{'K':>4} {'pos':>5} {'n':>7}"
    ]
    for row in m.itertuples():
        lines.append(
            f"{row.entity:<9} {row.method:<24} {row.ap:6.3f} {row.roc_auc:8.3f} "
            f"{row.precision_at_k:6.3f} {row.recall_at_k:6.3f} {row.k:4d} {row.positives:5d} "
            f"{row.n:7d}"
        )
    return "\n".join(lines)


def _artifacts(result: TrainingResult, params: dict, folder: Path) -> None:
    plain = json.loads(json.dumps(params, default=str))  # paths and estimators as text
    (folder / "config.yaml").write_text(
        yaml.safe_dump(plain, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    result.metrics.to_csv(folder / "evaluation.csv", index=False)
    result.schemes.to_csv(folder / "evaluation_by_scheme.csv", index=False)
    features = {
        e: {"anomaly": m.anomaly_features, "supervised": m.features, "note": m.note}
        for e, m in result.models.items()
    }
    (folder / "features.json").write_text(json.dumps(features, indent=2), encoding="utf-8")
    (folder / "dropped_features.json").write_text(
        json.dumps(result.dropped, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    for entity, model in result.models.items():
        scores = result.scores[entity]
        methods = {"risk": scores["risk"], "anomaly": scores["anomaly_score"]}
        if model.supervised is not None:
            methods["supervised"] = scores["supervised"]
        pr_curves(scores, methods, f"{entity}: evaluation window", folder / f"pr_{entity}.png")
        if model.supervised is None:
            continue
        names = model.features
        imp = pd.DataFrame(
            {"feature": names, "gain": model.supervised.feature_importances_}
        ).sort_values("gain", ascending=False)
        imp.to_csv(folder / f"importances_{entity}.csv", index=False)


def _shap(result: TrainingResult, folder: Path) -> None:
    """SHAP summary of each supervised model on (up to 2,000 rows of) its evaluation data."""
    for entity, model in result.models.items():
        if model.supervised is None or entity not in result.explain_inputs:
            continue
        X = result.explain_inputs[entity][:2000]
        values = model.supervised.explain(X).values  # the detector explains itself
        shap_summary(values, X, model.features, f"{entity}: SHAP", folder / f"shap_{entity}.png")


def _warn_undated_labels(ds) -> None:
    if "labels" not in ds:
        return
    labels = ds.table("labels")
    undated = labels.filter(labels.decided_at.isnull()).count().execute()
    if undated:
        log.warning(
            "%s labels have no decided_at: time-based training cannot know when they became "
            "known and leaves them out; for a labelled list without dates use "
            "evaluate.mode=cv",
            f"{undated:,}",
        )


def evaluation_mode(ds: Dataset, mode: str) -> str:
    """``auto``: cross-validation when the labels carry no decision date at all (a list
    for a whole period, which time-based training could not use), else time."""
    if mode != "auto":
        return mode
    if "labels" not in ds:
        return "time"
    labels = ds.table("labels")
    if labels.count().execute() and not labels.decided_at.notnull().any().execute():
        log.warning(
            "no label carries a decision date: evaluating by cross-validation over entities "
            "(evaluate.mode=auto; set evaluate.mode=time to refuse)"
        )
        return "cv"
    return "time"


@dataclass(frozen=True)
class DatasetFacts:
    """What the run records about the dataset, kept after it is closed."""

    path: Path
    fingerprint: str
    currency: str
    warnings: list[str]


def _plan(
    settings: TrainSettings, ds: Dataset, since: datetime | None, until: datetime | None
) -> TimeSplit | None:
    """The checked time split, or ``None`` for cross-validation: data that validates but
    cannot train stops here, before a run is started (:class:`TrainingError`)."""
    require_claims(ds)
    mode = evaluation_mode(ds, settings.mode)
    if mode == "cv":
        return None
    _warn_undated_labels(ds)
    split = plan_time_split(
        ds,
        since,
        until,
        validation_days=settings.validation_days,
        gap_days=settings.label_delay_days,
        eval_days=settings.eval_days,
    )
    log.info("time split: %s", split.as_dict())
    return split


def _fit(
    settings: TrainSettings,
    ds: Dataset,
    rules: Sequence[Rule],
    split: TimeSplit | None,
    common: dict,
) -> TrainingResult:
    """Train and evaluate every model the data allows (cross-validation without a split)."""
    if split is None:
        result = cross_validate(ds, rules, folds=settings.folds, seed=settings.seed, **common)
    else:
        result = train_and_evaluate(ds, rules, split, **common)
    if not result.models:
        raise TrainingError(
            "no entity type has profiles to fit and evaluate, so no model was trained; the "
            f"data's admit_time spans {span_text(require_claims(ds))}"
        )
    return result


def _log_run(
    params: dict, result: TrainingResult, facts: DatasetFacts, ns: str, rules: Sequence[Rule]
) -> None:
    """Tags and artifacts of the active run (its metrics are logged by :func:`_register`,
    beside the models they judge)."""
    mlflow.set_tags(
        {
            "git_commit": git_commit(),
            "dataset_fingerprint": facts.fingerprint,
            "dataset": str(facts.path),
            "currency": facts.currency,
            "namespace": ns,
            "feature_set_version": FEATURE_SET_VERSION,
            "rule_base": fingerprint(rules),
            "evaluation_mode": result.mode,
            **{
                f"split.{k}": str(v)
                for k, v in (result.split.as_dict() if result.split else {}).items()
            },
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        _artifacts(result, params, Path(tmp))
        _shap(result, Path(tmp))
        mlflow.log_artifacts(tmp)


def evaluation_metrics(metrics: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The run's metrics by entity type: ``eval/<entity>/<method>/<measure>`` for every
    measure the evaluation could compute (NaN ones are left out)."""
    out: dict[str, dict[str, float]] = {}
    for row in metrics.itertuples():
        for name in ("ap", "roc_auc", "precision_at_k", "recall_at_k"):
            value = getattr(row, name)
            if not np.isnan(value):
                key = f"eval/{row.entity}/{row.method}/{name}"
                out.setdefault(row.entity, {})[key] = float(value)
    return out


def _register(
    settings: TrainSettings, result: TrainingResult, ns: str, opened: store.Store, run_id: str
) -> dict[str, dict]:
    """Register every model, log the evaluation's metrics, then move the champions
    together, all under the store's lock (another training on the same store waits
    rather than interleaving its champions).

    The metrics are logged after the models, each entity type's linked to its model:
    MLflow copies every metric a run holds when a model is logged into it, so logged
    before, every model carried every entity type's metrics (on the committed city, five
    models and 156 metrics: 780 history reads, 3.7 s of a training under cProfile)."""
    metric = settings.champion_metric
    promotions, values, model_ids = [], {}, {}
    client = MlflowClient()
    with store.store_lock(opened.folder):
        for entity, model in result.models.items():
            row = result.metrics[
                (result.metrics.entity == entity) & (result.metrics.method == "risk")
            ].iloc[0]
            values[entity] = float(row[metric])
            name = store.model_name(ns, entity)
            version = store.log_entity_model(model, result.examples[entity], name, values[entity])
            tags = client.get_model_version(name, version).tags
            model_ids[entity] = tags.get(store.LOGGED_MODEL_TAG)
            promotions.append(
                store.decide(name, version, values[entity], force=settings.force_champion)
            )
        # the client, not the fluent API, which links a metric without a model to the
        # last model logged: the claims' metrics (no model of their own) stay the run's
        now = int(time.time() * 1000)
        metrics = [
            Metric(key, value, now, 0, model_id=model_ids.get(entity), run_id=run_id)
            for entity, measures in evaluation_metrics(result.metrics).items()
            for key, value in measures.items()
        ]
        for i in range(0, len(metrics), METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[i : i + METRICS_PER_BATCH])
        store.move_champions(run_id, promotions)
    registered = {}
    for entity, promotion in zip(result.models, promotions, strict=True):
        registered[entity] = {
            "model": promotion.name,
            "version": promotion.version,
            "champion": promotion.move,
        }
        log.info(
            "registered %s version %s (%s %.4f); champion: %s",
            promotion.name,
            promotion.version,
            metric,
            values[entity],
            promotion.why,
        )
    return registered


@dataclass
class TrainRun:
    """What a training returns: the models, metrics and scores of the evaluation, the
    MLflow run and the versions registered, and the manifest (``train.json``)."""

    result: TrainingResult
    run_id: str
    tracking_uri: str
    namespace: str
    registered: dict[str, dict]
    manifest: dict[str, object]
    path: Path | None = None


def _settings_params(settings: TrainSettings) -> dict[str, object]:
    """The settings as the run logs them when no configuration was given."""
    out: dict[str, object] = {}
    for key, value in vars(settings).items():
        if key == "params":
            continue
        if hasattr(value, "get_params"):
            value = {"class": type(value).__name__, **value.get_params()}
        out[key] = dict(value) if isinstance(value, dict) else value
    return out


def train(
    data: Data,
    *,
    until: datetime | None = None,
    since: datetime | None = None,
    settings: TrainSettings | None = None,
    rules: Sequence[Rule] | None = None,
    out: Out = None,
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    cache: str | Path | None = None,
) -> TrainRun:
    """Fit, evaluate and register the risk models of ``data``.

    Parameters
    ----------
    data : path or Dataset
        The dataset folder (validated here) or a dataset already validated.
    until : datetime, optional
        Models learn from claims admitted, and labels decided, before it; they are
        judged on what follows (time mode). ``None``: two thirds into the data.
    since : datetime, optional
        The first admit time the models learn from.
    settings : TrainSettings, optional
        Estimators, evaluation mode, capacities, tracking store, champion rule.
    rules : list of Rule, optional
        The rule base (the shipped one when ``None``).
    cache : path, optional
        Kept validations to reuse (or to keep this one in): :mod:`fraudml.io.cache`.
    out : path, optional
        Also write ``evaluation.csv``, ``evaluation_by_scheme.csv`` and ``train.json``
        there, whole or not at all.

    Raises
    ------
    TrainingError
        When the data validates but cannot train (no claims, a part of the split empty).
    """
    started = time.perf_counter()
    settings = settings or TrainSettings()
    rules = rule_base(rules)
    params = dict(settings.params) or _settings_params(settings)
    # the defaults are the shipped config's (conf/model, conf/anomaly), seeded by the run
    anomaly = settings.anomaly or ProfileIsolationForest(random_state=settings.seed)
    supervised = settings.supervised or RiskClassifier(random_state=settings.seed)
    common = dict(
        anomaly=anomaly,
        supervised=supervised,
        capacity=dict(settings.capacity),
        min_positives=settings.min_positives,
        fusion=settings.fusion,
        explore_share=settings.explore_share,
        explore_bar=settings.explore_bar,
    )
    folder = tracking_folder(settings.store)
    guard_store(folder, data, "train.store")
    with claimed(
        out, "train", protect=[folder] if folder else [], immutable=[data_path(data)]
    ) as output:
        # The store is opened before any training: a fresh store is initialised under its
        # lock (two trainings creating its tables at once collide) and runs interrupted
        # earlier are settled, instead of either failing after minutes of training.
        opened_store = store.open_store(settings.store, settings.experiment)
        with opened(data, encoding, engine, cache) as ds:
            facts = DatasetFacts(ds.path, ds.fingerprint, ds.currency, list(ds.warnings))
            ns = store.namespace(settings.namespace)
            if "labels" not in ds:
                log.warning("no labels table: only the anomaly models can be trained and evaluated")
            split = _plan(settings, ds, since, until)
            # The run spans the training: one interrupted now is found RUNNING by the next
            # training, which knows it by its host and pid and marks it FAILED.
            with mlflow.start_run(
                experiment_id=opened_store.experiment_id,
                run_name=f"train {ns}",
                tags=store.run_identity(),
            ) as active:
                mlflow.log_params(store.flatten(params))
                result = _fit(settings, ds, rules, split, common)
                for line in dropped_summary(result.dropped):
                    log.warning("%s", line)
                log.info("evaluation:\n%s", evaluation_table(result))
                run_id = active.info.run_id
                _log_run(params, result, facts, ns, rules)
                registered = _register(settings, result, ns, opened_store, run_id)
        manifest: dict[str, object] = {
            "tracking_uri": opened_store.uri,
            "run_id": run_id,
            "evaluation_mode": result.mode,
            "split": result.split.as_dict() if result.split else None,
            "currency": facts.currency,
            "models": registered,
            "notes": {e: m.note for e, m in result.models.items() if m.note},
            "dropped_features": result.dropped,
            "warnings": facts.warnings,
        }
        if output is not None:
            with output.staging() as tmp:
                result.metrics.to_csv(tmp / "evaluation.csv", index=False)
                result.schemes.to_csv(tmp / "evaluation_by_scheme.csv", index=False)
                write_json(tmp / "train.json", manifest)
    log.info(
        "trained, evaluated and registered in %.1f s (run %s)",
        time.perf_counter() - started,
        run_id,
    )
    return TrainRun(
        result, run_id, opened_store.uri, ns, registered, manifest, output.path if output else None
    )


def tracking_folder(store_dir: str | Path) -> Path | None:
    """The local tracking store's folder (``None`` when ``MLFLOW_TRACKING_URI`` points
    at a server or a database elsewhere): no output may replace it."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return Path(store_dir) if not uri else store.local_folder(uri)
