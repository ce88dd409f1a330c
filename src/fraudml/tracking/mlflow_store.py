"""MLflow: where runs and models go, the registered risk models, the champion alias.

By default tracking is an embedded SQLite database (a real database, so the Model
Registry works) with artifacts in a local folder; ``MLFLOW_TRACKING_URI`` points it
elsewhere (a server, another database).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from fraudml.models.risk import EntityModel, score_frame

log = logging.getLogger(__name__)

CHAMPION = "champion"
#: the model-version tag holding the evaluation metric the champion is chosen on
METRIC_TAG = "eval_metric"


def configure(store_dir: str | Path) -> tuple[str, Path | None]:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or at ``store_dir/mlflow.db``.

    Returns the tracking URI and, for the local store, the folder for artifacts (``None``
    when a server or another store decides). Read the variable before MLflow does:
    ``set_tracking_uri`` writes it into the environment.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    artifacts = None
    if not uri:
        store = Path(store_dir).resolve()
        store.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{store / 'mlflow.db'}"
        artifacts = store / "artifacts"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri, artifacts


def experiment(name: str, artifact_dir: Path | None) -> str:
    """The experiment's id; created (with ``artifact_dir`` when given) if it is new."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = artifact_dir.resolve().as_uri() if artifact_dir is not None else None
    return mlflow.create_experiment(name, artifact_location=location)


def namespace(dataset_path: str | Path, given: str | None = None) -> str:
    """A registry namespace for a dataset: its folder name and a hash of its location,
    so that models of different datasets never share a champion."""
    if given:
        return re.sub(r"[^A-Za-z0-9_-]+", "-", given)
    path = Path(dataset_path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:6]
    return f"{re.sub(r'[^A-Za-z0-9_-]+', '-', path.name)}-{digest}"


def model_name(ns: str, entity: str) -> str:
    return f"fraudml.{ns}.{entity}"


class RiskModel(PythonModel):
    """A registered model: a frame of one entity type's model inputs in, risk scores out
    (an isolation forest has no ``predict_proba``, so the pyfunc returns scores)."""

    def __init__(self, model: EntityModel):
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
        return score_frame(self.model, model_input)["risk"]


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``a.b.c`` parameters (MLflow limits values to 6,000 characters)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out


def log_entity_model(
    model: EntityModel, example: pd.DataFrame, registered_name: str, metric: float
) -> str:
    """Log ``model`` as a pyfunc under the active run, register it; its version."""
    # doubles throughout: a count column may be missing (NaN) in a later window
    example = example.astype("float64")
    scores = score_frame(model, example)["risk"]
    info = mlflow.pyfunc.log_model(
        name=f"model_{model.entity}",
        python_model=RiskModel(model),
        signature=infer_signature(example, scores),
        input_example=example,
        registered_model_name=registered_name,
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_model_version_tag(registered_name, version, METRIC_TAG, repr(float(metric)))
    client.set_model_version_tag(
        registered_name, version, "feature_set_version", model.feature_set_version
    )
    client.set_model_version_tag(registered_name, version, "entity", model.entity)
    return version


def promote(name: str, version: str, metric: float, *, force: bool = False) -> tuple[bool, str]:
    """Move the ``champion`` alias to ``version`` when it beats the current champion's
    metric (or when forced, or when there is no champion). Returns (moved, why)."""
    client = MlflowClient()
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    if current is not None and str(current.version) == str(version):
        return False, f"version {version} already is the champion"
    best = float("nan")
    if current is not None:
        best = float(current.tags.get(METRIC_TAG, "nan"))
    better = current is None or np.isnan(best) or (not np.isnan(metric) and metric > best)
    if not (better or force):
        return False, (
            f"kept version {current.version} as champion ({best:.4f} ≥ {metric:.4f}); "
            "train.force_champion=true overrides"
        )
    client.set_registered_model_alias(name, CHAMPION, version)
    if current is None:
        why = "first version"
    elif np.isnan(best):
        why = f"version {current.version} was not measured (no labels); the newer one replaces it"
    elif better:
        why = f"{metric:.4f} beats {best:.4f} of version {current.version}"
    else:
        why = "forced"
    return True, why


def load_champion(name: str) -> tuple[EntityModel, str]:
    """The champion's :class:`EntityModel` and version."""
    client = MlflowClient()
    version = client.get_model_version_by_alias(name, CHAMPION)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}")
    return pyfunc.unwrap_python_model().model, str(version.version)
