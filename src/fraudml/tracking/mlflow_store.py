"""MLflow: where runs and models go, the registered risk models, the champion alias.

By default tracking is an embedded SQLite database (a real database, so the Model
Registry works) with artifacts in a local folder; ``MLFLOW_TRACKING_URI`` points it
elsewhere (a server, another database).

Several trainings may share a store. A local store is initialised, and champions are
registered and moved, under an exclusive lock on a file in its folder (:func:`store_lock`):
two processes creating a fresh SQLite database's tables at once would otherwise collide.
Each training run is tagged with its host and process; the next training marks the runs
of this host whose process has gone as FAILED and, when one was interrupted while moving
champions, puts the champions it had replaced back (:func:`recover`), so the registry
never keeps champions of two trainings.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
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
#: the model-version tag holding the training data's currency (ISO 4217)
CURRENCY_TAG = "currency"
#: the lock file in a local store's folder (see :func:`store_lock`)
LOCK_FILE = ".fraudml-store.lock"
#: run tags: the host and process that run a training (see :func:`recover`)
HOST_TAG = "fraudml.host"
PID_TAG = "fraudml.pid"
#: run tags: the champion moves of a training, ``{model: {"previous": v | null, "new":
#: v}}``, and how far they got: "moving" (begun), "moved" (done) or "restored"
MOVES_TAG = "fraudml.champion_moves"
MOVES_STATE_TAG = "fraudml.champion_moves_state"


def configure(store_dir: str | Path) -> tuple[str, Path | None]:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or at ``store_dir/mlflow.db``.

    Returns the tracking URI and, for a store in a local database file, the folder for
    a new experiment's artifacts: ``artifacts`` beside the database (``None`` when a
    server or another store decides). Read the variable before MLflow does:
    ``set_tracking_uri`` writes it into the environment.
    """
    before = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    uri, artifacts = before["MLFLOW_TRACKING_URI"], None
    if not uri:
        store = Path(store_dir).resolve()
        store.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{store / 'mlflow.db'}"
        artifacts = store / "artifacts"
    elif uri.startswith("sqlite:///"):
        # a database file the shell names: left to MLflow, a new experiment's artifacts go
        # to ./mlruns under whatever folder the command runs in, apart from the database
        artifacts = Path(uri.removeprefix("sqlite:///")).resolve().parent / "artifacts"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # MLflow copies the URI into the environment for its subprocesses. Left there, it
    # would read as the user's choice at the next call: a notebook's second workflow with
    # another store, or a kernel started later, would silently use the first store.
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return uri, artifacts


def local_folder(uri: str) -> Path | None:
    """The folder of a local tracking store (where its lock lives); ``None`` for a
    server or a database elsewhere, which serialises its own writers."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).parent
    if uri.startswith("file:"):
        return Path(uri.removeprefix("file:").removeprefix("//"))
    if "://" not in uri and not uri.startswith("databricks"):  # a plain path
        return Path(uri)
    return None


#: the local stores whose lock this process holds, and how many times (re-entrant: a
#: second flock on the same file from this process would wait for itself)
_HELD: dict[Path, int] = {}


@contextmanager
def store_lock(folder: Path | None) -> Iterator[None]:
    """Hold the exclusive lock of the local store in ``folder`` (nothing when ``None``).

    ``fcntl.flock`` on :data:`LOCK_FILE`: the kernel releases it when the process ends,
    however it ends, so a killed training never leaves the store locked.
    """
    if folder is None:
        yield
        return
    key = Path(folder).resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    key.mkdir(parents=True, exist_ok=True)
    fd = os.open(key / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for the tracking store %s: another training holds it", key)
            fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Store:
    """An opened tracking store: its URI, artifact folder (local store only), the folder
    holding its lock (``None`` for a server) and the training experiment's id."""

    uri: str
    artifacts: Path | None
    folder: Path | None
    experiment_id: str


def open_store(store_dir: str | Path, experiment_name: str) -> Store:
    """Configure MLflow (:func:`configure`), create the experiment if new and settle the
    runs earlier trainings left behind (:func:`recover`), all under the store's lock.

    Call it before training: a store that cannot be opened stops the run at once, not
    after minutes of work.
    """
    uri, artifacts = configure(store_dir)
    folder = local_folder(uri)
    with store_lock(folder):
        experiment_id = experiment(experiment_name, artifacts)
        recover(experiment_id)
    return Store(uri, artifacts, folder, experiment_id)


def run_identity() -> dict[str, str]:
    """The tags naming who runs a training: host and process id."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (signal 0 tests without signalling)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def recover(experiment_id: str) -> None:
    """Settle what interrupted trainings left in ``experiment_id``: runs of this host
    still RUNNING whose process is gone become FAILED, and the champions a failed run
    had begun to move are put back (:func:`restore_champions`)."""
    client = MlflowClient()
    host = socket.gethostname()
    running = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        max_results=1000,
    )
    for run in running:
        pid = run.data.tags.get(PID_TAG, "")
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        client.set_terminated(run.info.run_id, "FAILED")
        log.warning(
            "training run %s (pid %s on %s) was interrupted: marked FAILED",
            run.info.run_id,
            pid,
            host,
        )
    moving = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{MOVES_STATE_TAG}` = 'moving'",
        order_by=["attributes.start_time DESC"],
        max_results=1000,
    )
    for run in moving:
        if run.info.status in ("RUNNING", "SCHEDULED"):
            continue  # a live training (here or on another host) is moving them now
        moves = json.loads(run.data.tags.get(MOVES_TAG, "{}"))
        restored = restore_champions(client, run.info.run_id, moves)
        log.warning(
            "training run %s was interrupted while moving champions; restored: %s",
            run.info.run_id,
            ", ".join(f"{n} to {v or 'no champion'}" for n, v in restored.items()) or "none",
        )


def _champion_version(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def restore_champions(
    client: MlflowClient, run_id: str, moves: dict[str, dict]
) -> dict[str, str | None]:
    """Put back the champions run ``run_id`` replaced (``moves`` as in :data:`MOVES_TAG`)
    and mark its moves restored, so that a later start does not undo later champions.
    Returns model → the version restored (``None``: the alias removed, as before).

    Only an alias still on the run's new version goes back: one not moved yet already is
    the previous champion, and one moved since belongs to a later training.
    """
    restored: dict[str, str | None] = {}
    for name, move in moves.items():
        if _champion_version(client, name) != move["new"]:
            continue
        try:
            if move["previous"] is None:
                client.delete_registered_model_alias(name, CHAMPION)
            else:
                client.set_registered_model_alias(name, CHAMPION, move["previous"])
        except MlflowException as exc:  # e.g. the previous version was deleted since
            log.warning("could not restore the champion of %s: %s", name, exc)
            continue
        restored[name] = move["previous"]
    client.set_tag(run_id, MOVES_STATE_TAG, "restored")
    return restored


def experiment(name: str, artifact_dir: Path | None) -> str:
    """The experiment's id; created (with ``artifact_dir`` when given) if it is new."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = artifact_dir.resolve().as_uri() if artifact_dir is not None else None
    return mlflow.create_experiment(name, artifact_location=location)


#: The namespace training registers into and scoring reads when the operator names none.
DEFAULT_NAMESPACE = "default"


def namespace(given: str | None = None) -> str:
    """The registry namespace the operator names (``MODELS=``, ``models.namespace``).

    A namespace is one line of champion models: next month's extract in a new folder,
    or a CSV copy of the same data, scores with the models its namespace holds. The
    dataset's path plays no part. Characters outside ``[A-Za-z0-9_-]`` become ``-``.
    """
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", str(given or DEFAULT_NAMESPACE)).strip("-")
    return text or DEFAULT_NAMESPACE


def namespaces() -> dict[str, dict[str, str | None]]:
    """Every namespace of the registry: entity type → its champion's version (``None``:
    registered, but no champion), for the message that says what exists."""
    found: dict[str, dict[str, str | None]] = {}
    for registered in MlflowClient().search_registered_models(max_results=1000):
        parts = registered.name.split(".")
        if len(parts) != 3 or parts[0] != "fraudml":
            continue
        aliases = getattr(registered, "aliases", None) or {}
        champion = aliases.get(CHAMPION) if isinstance(aliases, dict) else None
        found.setdefault(parts[1], {})[parts[2]] = str(champion) if champion else None
    return found


def describe_namespaces(found: dict[str, dict[str, str | None]]) -> str:
    """``found`` (:func:`namespaces`) as one line per namespace: its champions."""
    if not found:
        return "the registry holds no fraudml models"
    lines = []
    for ns in sorted(found):
        champions = [f"{e}@{v}" for e, v in sorted(found[ns].items()) if v]
        lines.append(f"  {ns}: " + (", ".join(champions) if champions else "no champion"))
    return "namespaces in the registry:\n" + "\n".join(lines)


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


#: the model-version tag naming the version's logged model (MLflow 3), which carries the
#: evaluation metrics of its entity type
LOGGED_MODEL_TAG = "logged_model_id"

#: The distributions a logged model needs to load and score: the pickled
#: :class:`RiskModel` holds fraudml's estimators (scikit-learn's isolation forest,
#: LightGBM's booster, NumPy arrays) and reads pandas frames. Named, not inferred: MLflow's
#: inference imports the model in a subprocess of its own (3.7 s of an 8,000-patient
#: training here) and left LightGBM out, which the booster needs.
MODEL_DISTRIBUTIONS = (
    "fraudml",
    "mlflow",
    "cloudpickle",
    "lightgbm",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
)


def model_requirements() -> list[str]:
    """Pins of :data:`MODEL_DISTRIBUTIONS` at their installed versions (a distribution not
    installed is left out: MLflow then installs the latest when serving)."""
    pins = []
    for name in MODEL_DISTRIBUTIONS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            log.warning("pip requirements of the logged models: %s is not installed", name)
    return pins


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
        pip_requirements=model_requirements(),
    )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_model_version_tag(registered_name, version, METRIC_TAG, repr(float(metric)))
    client.set_model_version_tag(
        registered_name, version, "feature_set_version", model.feature_set_version
    )
    client.set_model_version_tag(registered_name, version, "entity", model.entity)
    if info.model_id:  # the logged model the metrics of its entity type are linked to
        client.set_model_version_tag(registered_name, version, LOGGED_MODEL_TAG, info.model_id)
    client.set_model_version_tag(registered_name, version, CURRENCY_TAG, model.currency)
    return version


@dataclass(frozen=True)
class Promotion:
    """Whether registered model ``name`` is to move its champion to ``version``, why, and
    the champion it replaces (``None`` when it has none)."""

    name: str
    version: str
    move: bool
    why: str
    previous: str | None


def decide(name: str, version: str, metric: float, *, force: bool = False) -> Promotion:
    """Whether ``version`` is to become the champion: when it beats the current
    champion's metric, when forced, or when there is no champion."""
    client = MlflowClient()
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    previous = None if current is None else str(current.version)
    if previous == str(version):
        return Promotion(
            name, version, False, f"version {version} already is the champion", previous
        )
    best = float("nan")
    if current is not None:
        best = float(current.tags.get(METRIC_TAG, "nan"))
    better = current is None or np.isnan(best) or (not np.isnan(metric) and metric > best)
    if not (better or force):
        why = (
            f"kept version {previous} as champion ({best:.4f} ≥ {metric:.4f}); "
            "train.force_champion=true overrides"
        )
        return Promotion(name, version, False, why, previous)
    if current is None:
        why = "first version"
    elif np.isnan(best):
        why = f"version {previous} was not measured (no labels); the newer one replaces it"
    elif better:
        why = f"{metric:.4f} beats {best:.4f} of version {previous}"
    else:
        why = "forced"
    return Promotion(name, version, True, why, previous)


def promote(name: str, version: str, metric: float, *, force: bool = False) -> tuple[bool, str]:
    """Move the ``champion`` alias of one model to ``version`` when :func:`decide` says
    so. Returns (moved, why). A training moves its champions together with
    :func:`move_champions` instead."""
    promotion = decide(name, version, metric, force=force)
    if promotion.move:
        MlflowClient().set_registered_model_alias(name, CHAMPION, version)
    return promotion.move, promotion.why


def move_champions(run_id: str, promotions: list[Promotion]) -> None:
    """Move the champions of one training together, after all its versions are
    registered.

    The champions being replaced are written on the run first (:data:`MOVES_TAG`): when
    the moves fail, the previous champions go back at once; when the process dies
    between two moves, the next training puts them back (:func:`recover`), so a mix of
    this training's champions and the previous ones lasts no longer than that.
    """
    moves = {p.name: {"previous": p.previous, "new": p.version} for p in promotions if p.move}
    client = MlflowClient()
    client.set_tag(run_id, MOVES_TAG, json.dumps(moves))
    client.set_tag(run_id, MOVES_STATE_TAG, "moving")
    try:
        for name, move in moves.items():
            client.set_registered_model_alias(name, CHAMPION, move["new"])
    except BaseException:
        try:
            restore_champions(client, run_id, moves)
        except Exception:  # the next training's start puts them back
            log.exception("could not restore the previous champions of run %s", run_id)
        raise
    client.set_tag(run_id, MOVES_STATE_TAG, "moved")


def load_champion(name: str) -> tuple[EntityModel, str]:
    """The champion's :class:`EntityModel` and version."""
    client = MlflowClient()
    version = client.get_model_version_by_alias(name, CHAMPION)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}")
    return pyfunc.unwrap_python_model().model, str(version.version)
