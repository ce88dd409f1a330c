"""``fraudml train``: fit, evaluate, track and register the risk models of a dataset."""

from __future__ import annotations

import json
import logging
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
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from fraudml.cli.common import claim, load_rule_base, open_dataset, parse_date
from fraudml.errors import SettingError, TrainingError
from fraudml.evaluate.plots import pr_curves, shap_summary
from fraudml.features import FEATURE_SET_VERSION
from fraudml.features.build import dropped_summary
from fraudml.io.atomic import write_json
from fraudml.io.load import Dataset
from fraudml.models.training import (
    TimeSplit,
    TrainingResult,
    cross_validate,
    plan_time_split,
    require_claims,
    span_text,
    train_and_evaluate,
)
from fraudml.rules import Rule
from fraudml.rules.engine import fingerprint
from fraudml.settings import capacities
from fraudml.tracking import mlflow_store as store

log = logging.getLogger("fraudml")


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


def _artifacts(result: TrainingResult, cfg: DictConfig, folder: Path) -> None:
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
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
    import shap

    for entity, model in result.models.items():
        if model.supervised is None or entity not in result.explain_inputs:
            continue
        X = result.explain_inputs[entity][:2000]
        explainer = shap.TreeExplainer(model.supervised.booster_.booster_)
        values = np.asarray(explainer.shap_values(X))
        if values.ndim == 3:  # older shap: one array per class
            values = values[-1]
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


def run(cfg: DictConfig) -> int:
    if not cfg.train.out:
        return _train(cfg, None)
    with claim(cfg, "train", cfg.train.out) as output:
        return _train(cfg, output)


@dataclass(frozen=True)
class DatasetFacts:
    """What the run records about the dataset, kept after it is closed."""

    path: Path
    fingerprint: str
    currency: str
    warnings: list[str]


def _plan(
    cfg: DictConfig, ds: Dataset, since: datetime | None, until: datetime | None
) -> TimeSplit | None:
    """The checked time split, or ``None`` for cross-validation: data that validates but
    cannot train stops here, before a run is started (:class:`TrainingError`)."""
    require_claims(ds)
    mode = evaluation_mode(ds, str(cfg.evaluate.mode))
    if mode == "cv":
        return None
    if mode != "time":
        raise SettingError(f"evaluate.mode={cfg.evaluate.mode!r}: expected time, cv or auto")
    _warn_undated_labels(ds)
    split = plan_time_split(
        ds,
        since,
        until,
        validation_days=int(cfg.evaluate.validation_days),
        gap_days=int(cfg.evaluate.label_delay_days),
        eval_days=cfg.evaluate.eval_days,
    )
    log.info("time split: %s", split.as_dict())
    return split


def _fit(
    cfg: DictConfig, ds: Dataset, rules: Sequence[Rule], split: TimeSplit | None, common: dict
) -> TrainingResult:
    """Train and evaluate every model the data allows (cross-validation without a split)."""
    if split is None:
        result = cross_validate(
            ds, rules, folds=int(cfg.evaluate.folds), seed=int(cfg.seed), **common
        )
    else:
        result = train_and_evaluate(ds, rules, split, **common)
    if not result.models:
        raise TrainingError(
            "no entity type has profiles to fit and evaluate, so no model was trained; the "
            f"data's admit_time spans {span_text(require_claims(ds))}"
        )
    return result


def _log_run(
    cfg: DictConfig, result: TrainingResult, facts: DatasetFacts, ns: str, rules: Sequence[Rule]
) -> None:
    """Tags, evaluation metrics and artifacts of the active run."""
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
    for row in result.metrics.itertuples():
        for name in ("ap", "roc_auc", "precision_at_k", "recall_at_k"):
            value = getattr(row, name)
            if not np.isnan(value):
                mlflow.log_metric(f"eval/{row.entity}/{row.method}/{name}", float(value))
    with tempfile.TemporaryDirectory() as tmp:
        _artifacts(result, cfg, Path(tmp))
        _shap(result, Path(tmp))
        mlflow.log_artifacts(tmp)


def _register(
    cfg: DictConfig, result: TrainingResult, ns: str, opened: store.Store, run_id: str
) -> dict[str, dict]:
    """Register every model, then move the champions together, under the store's lock
    (another training on the same store waits rather than interleaving its champions)."""
    metric = str(cfg.train.champion_metric)
    promotions, values = [], {}
    with store.store_lock(opened.folder):
        for entity, model in result.models.items():
            row = result.metrics[
                (result.metrics.entity == entity) & (result.metrics.method == "risk")
            ].iloc[0]
            values[entity] = float(row[metric])
            name = store.model_name(ns, entity)
            version = store.log_entity_model(model, result.examples[entity], name, values[entity])
            promotions.append(
                store.decide(name, version, values[entity], force=bool(cfg.train.force_champion))
            )
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


def _train(cfg: DictConfig, output) -> int:
    started = time.perf_counter()
    rules = load_rule_base(cfg.rules.files)
    until = parse_date(cfg.period.end, "UNTIL")
    since = parse_date(cfg.period.start, "FROM")
    common = dict(
        anomaly=instantiate(cfg.anomaly, _convert_="all"),
        supervised=instantiate(cfg.model, _convert_="all"),
        capacity=capacities(cfg.evaluate.capacity),
        min_positives=int(cfg.train.min_positives),
    )
    # The store is opened before any training: a fresh store is initialised under its
    # lock (two trainings creating its tables at once collide) and runs interrupted
    # earlier are settled, instead of either failing after minutes of training.
    opened = store.open_store(cfg.train.store, cfg.train.experiment)
    with open_dataset(cfg) as ds:
        facts = DatasetFacts(ds.path, ds.fingerprint, ds.currency, list(ds.warnings))
        ns = store.namespace(ds.path, cfg.train.namespace)
        if "labels" not in ds:
            log.warning("no labels table: only the anomaly models can be trained and evaluated")
        split = _plan(cfg, ds, since, until)
        # The run spans the training: one interrupted now is found RUNNING by the next
        # training, which knows it by its host and pid and marks it FAILED.
        with mlflow.start_run(
            experiment_id=opened.experiment_id, run_name=f"train {ns}", tags=store.run_identity()
        ) as active:
            mlflow.log_params(store.flatten(OmegaConf.to_container(cfg, resolve=True)))
            result = _fit(cfg, ds, rules, split, common)
            for line in dropped_summary(result.dropped):
                log.warning("%s", line)
            print(evaluation_table(result))
            run_id = active.info.run_id
            _log_run(cfg, result, facts, ns, rules)
            registered = _register(cfg, result, ns, opened, run_id)
    if output is not None:
        with output.staging() as tmp:
            result.metrics.to_csv(tmp / "evaluation.csv", index=False)
            result.schemes.to_csv(tmp / "evaluation_by_scheme.csv", index=False)
            write_json(
                tmp / "train.json",
                {
                    "tracking_uri": opened.uri,
                    "run_id": run_id,
                    "evaluation_mode": result.mode,
                    "split": result.split.as_dict() if result.split else None,
                    "currency": facts.currency,
                    "models": registered,
                    "notes": {e: m.note for e, m in result.models.items() if m.note},
                    "dropped_features": result.dropped,
                    "warnings": facts.warnings,
                },
            )
    log.info(
        "trained, evaluated and registered in %.1f s (run %s)",
        time.perf_counter() - started,
        run_id,
    )
    return 0
