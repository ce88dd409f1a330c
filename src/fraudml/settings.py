"""Typed settings with their ranges, checked before any work starts.

Entry points turn Hydra config into these; library functions check the same values
when called directly, so a wrong value stops with its key named instead of failing deep
inside the engine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from fraudml.entities import default_capacity
from fraudml.errors import SettingError

#: DuckDB's memory sizes: a number and a unit (``3GB``, ``512MiB``, ``1.5 GB``).
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_UNIT = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}
#: Below this DuckDB cannot even read a Parquet footer and fails with out-of-memory.
MIN_MEMORY = 128 * 1024**2


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - not on Linux
        return 1024**5


def max_threads() -> int:
    """More threads than this only thrash the machine (four per core, at least 64)."""
    return max(64, 4 * (os.cpu_count() or 1))


@dataclass(frozen=True)
class EngineSettings:
    """The engine: DuckDB's memory limit (``None``: DuckDB's default) and threads
    (``None``: every core); with ``name="spark"`` the pipelines run on Spark.

    Validation always runs on DuckDB (with these memory and thread settings); on Spark
    the accepted tables are handed over as Parquet in ``staging`` (``None``: a temporary
    folder, which only a local master can read) and every later step runs on the Spark
    session of ``master`` (``local[2]`` by default, a cluster's URL, or ``None`` for the
    session spark-submit or the platform provides) with the Spark properties in ``spark``
    (``conf/engine/spark.yaml``).
    """

    #: the engines a pipeline runs on: the embedded DuckDB, or Spark through Ibis's PySpark
    ENGINES: ClassVar[tuple[str, ...]] = ("duckdb", "spark")

    memory_limit: str | None = "3GB"
    threads: int | None = None
    name: str = "duckdb"
    master: str | None = "local[2]"
    spark: Mapping[str, str] = field(default_factory=dict)
    staging: str | None = None

    def __post_init__(self) -> None:
        limit = self.memory_limit
        if limit is not None:
            found = _MEMORY.match(limit) if isinstance(limit, str) else None
            if found is None:
                raise SettingError(
                    f"engine.memory_limit={limit!r} is not a memory size (expected a number "
                    "and a unit, such as 3GB or 512MB)"
                )
            size = float(found.group(1)) * _UNIT[found.group(2).upper()]
            if not MIN_MEMORY <= size <= _physical_memory():
                raise SettingError(
                    f"engine.memory_limit={limit!r} is out of range (expected at least 128MiB "
                    f"and at most this machine's {_physical_memory() / 1024**3:.0f} GiB)"
                )
        threads = self.threads
        if threads is not None and (
            isinstance(threads, bool)
            or not isinstance(threads, int)
            or not 1 <= threads <= max_threads()
        ):
            raise SettingError(
                f"engine.threads={threads!r} is not a thread count (expected a whole number "
                f"from 1 to {max_threads()}, or null for every core)"
            )
        if self.name not in self.ENGINES:
            raise SettingError(f"engine={self.name!r} is not an engine (expected duckdb or spark)")
        if self.master is not None and (
            not isinstance(self.master, str) or not self.master.strip()
        ):
            raise SettingError(
                f"engine.master={self.master!r} is not a Spark master (expected local[2], "
                "local[*], spark://host:7077, yarn, k8s://…, or null for the one spark-submit "
                "or the platform gives)"
            )
        if not isinstance(self.spark, Mapping) or not all(
            isinstance(k, str) and k.startswith("spark.") for k in self.spark
        ):
            raise SettingError(
                f"engine.spark={self.spark!r} is not a set of Spark properties (expected "
                "keys such as spark.executor.memory)"
            )
        # Spark takes text: true, not Python's True
        spark = {
            k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in self.spark.items()
        }
        object.__setattr__(self, "spark", spark)
        if self.staging is not None and (not isinstance(self.staging, str) or not self.staging):
            raise SettingError(
                f"engine.staging={self.staging!r} is not a folder (expected a path every "
                "Spark executor can read, or null for a temporary one)"
            )

    @property
    def spark_engine(self) -> bool:
        """Whether the pipelines after validation run on Spark."""
        return self.name == "spark"


def capacities(capacity: Mapping[str, object], key: str = "evaluate.capacity") -> dict[str, int]:
    """The auditors' capacity per entity type, each a whole number of at least 1."""
    if not isinstance(capacity, Mapping):
        raise SettingError(
            f"{key}={capacity!r} is not a capacity per entity type (expected e.g. "
            f"{key}.patient=100)"
        )
    out: dict[str, int] = {}
    for entity, value in capacity.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingError(
                f"{key}.{entity}={value!r} is not a capacity (expected a whole number of "
                "leads of at least 1)"
            )
        out[str(entity)] = int(value)
    return out


#: Leads the auditors can take per entity type and period (``evaluate.capacity``).
DEFAULT_CAPACITY: dict[str, int] = default_capacity()
#: Share of each capacity the lead order reserves for label-free evidence (signal
#: extremes and rules): chosen on schemes whose labels were withheld, on the shifted city
#: (docs/quality.md), not on in-sample AP.
EXPLORE_SHARE = 0.3
#: Least label-free evidence (``novelty``, 0 … 1) a reserved place takes: the highest bar
#: at which the shifted city's mean withheld-scheme recall did not fall (docs/quality.md).
#: Without a rule hit, 0.85 is an entity beyond 98% of the training window on its signal
#: extremes (``0.85 ** (1 / 8)`` with the tail's power 8).
EXPLORE_BAR = 0.85


def explore_share(value: object, key: str = "evaluate.explore_share") -> float:
    """A share of the capacity from 0 up to (not including) 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise SettingError(f"{key}={value!r} (expected a share from 0 up to 1, such as 0.3)")
    return float(value)


def explore_bar(value: object, key: str = "evaluate.explore_bar") -> float:
    """The reserve's least label-free evidence, from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SettingError(f"{key}={value!r} (expected a number from 0 to 1, such as 0.85)")
    return float(value)


#: Evaluation metrics a champion can be chosen on.
CHAMPION_METRICS = ("ap", "roc_auc", "precision_at_k", "recall_at_k")


def _whole(value: object, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise SettingError(f"{key}={value!r} (expected a whole number of at least {least})")
    return int(value)


@dataclass(frozen=True)
class TrainSettings:
    """How :func:`fraudml.train` fits, evaluates and registers the models.

    ``anomaly`` and ``supervised`` are unfitted estimators (cloned per entity type);
    ``None`` takes :class:`~fraudml.models.ProfileIsolationForest` and
    :class:`~fraudml.models.RiskClassifier` with their defaults. ``mode`` is ``time``
    (fit before UNTIL, evaluate after), ``cv`` (stratified folds over entities, for
    labels without dates) or ``auto`` (cv when no label carries a date). ``params`` is
    what the run logs as its configuration (the command line passes its resolved config);
    empty, the settings themselves are logged.
    """

    anomaly: object | None = None
    supervised: object | None = None
    capacity: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    min_positives: int = 10
    mode: str = "auto"
    folds: int = 5
    validation_days: int = 60
    label_delay_days: int = 0
    eval_days: int | None = None
    seed: int = 20261122
    experiment: str = "fraudml"
    namespace: str | None = None
    store: str | Path = "outputs/mlflow"
    force_champion: bool = False
    champion_metric: str = "ap"
    params: Mapping[str, object] = field(default_factory=dict)
    #: the risk score's channel weights (``conf/fusion``); ``None`` takes the defaults
    fusion: object | None = None
    #: share of each capacity reserved for label-free evidence in the lead order
    #: (``evaluate.explore_share``, :func:`fraudml.models.fusion.reserve_order`)
    explore_share: float = EXPLORE_SHARE
    #: least label-free evidence a reserved place takes (``evaluate.explore_bar``)
    explore_bar: float = EXPLORE_BAR

    def __post_init__(self) -> None:
        object.__setattr__(self, "capacity", capacities(self.capacity))
        object.__setattr__(self, "explore_share", explore_share(self.explore_share))
        object.__setattr__(self, "explore_bar", explore_bar(self.explore_bar))
        if self.mode not in ("time", "cv", "auto"):
            raise SettingError(f"evaluate.mode={self.mode!r}: expected time, cv or auto")
        if self.champion_metric not in CHAMPION_METRICS:
            raise SettingError(
                f"train.champion_metric={self.champion_metric!r}: expected one of "
                f"{', '.join(CHAMPION_METRICS)}"
            )
        _whole(self.min_positives, "train.min_positives", 1)
        _whole(self.folds, "evaluate.folds", 2)
        _whole(self.validation_days, "evaluate.validation_days", 1)
        _whole(self.label_delay_days, "evaluate.label_delay_days", 0)
        if self.eval_days is not None:
            _whole(self.eval_days, "evaluate.eval_days", 1)


@dataclass(frozen=True)
class ScoreSettings:
    """How :func:`fraudml.score` scores a period and writes its report.

    ``namespace`` is the registry namespace of the models (``MODELS=``; ``None``: the
    default one), whatever folder the data is in; ``store`` the local tracking store when
    ``MLFLOW_TRACKING_URI`` is unset; ``definite_leads`` makes every entity with a
    definite rule violation a lead beyond the capacity (off: definite violations go to
    the deduction list, ``violations.parquet``, and only raise their entities' rank);
    ``salt`` (with ``pseudonymise``) keys the salted hash that replaces patient ids, and
    is never written; ``history`` is the folder of earlier scoring outputs whose leads
    mark this month's repeats (``None``: the folder that holds ``out``); ``ledger`` the
    folder ``make ledger`` wrote, whose status marks the leads' suspended, terminated or
    watched practitioners (``None``: no marks).
    """

    capacity: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    definite_leads: bool = False
    lang: str = "zh"
    pseudonymise: bool = False
    salt: str | None = field(default=None, repr=False)
    namespace: str | None = None
    store: str | Path = "outputs/mlflow"
    params: Mapping[str, object] = field(default_factory=dict)
    history: Path | None = None
    ledger: Path | None = None
    #: share of each capacity reserved for label-free evidence (``evaluate.explore_share``)
    explore_share: float = EXPLORE_SHARE
    #: least label-free evidence a reserved place takes (``evaluate.explore_bar``)
    explore_bar: float = EXPLORE_BAR

    def __post_init__(self) -> None:
        object.__setattr__(self, "capacity", capacities(self.capacity))
        object.__setattr__(self, "explore_share", explore_share(self.explore_share))
        object.__setattr__(self, "explore_bar", explore_bar(self.explore_bar))
        if self.lang not in ("zh", "en"):
            raise SettingError(f"report.lang={self.lang!r}: expected zh or en")
        if self.pseudonymise and not self.salt:
            raise SettingError(
                "report.pseudonymise=true needs the salt in FRAUDML_PSEUDONYM_SALT (kept "
                "outside the report)"
            )
