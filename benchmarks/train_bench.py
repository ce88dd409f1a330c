"""Training at scale: every model on a 50,000-patient city, beside the floor cost of one
plain LightGBM fit on the same patient features."""

from __future__ import annotations

import time
from pathlib import Path


def run_fraudml(root: Path, store: Path) -> dict:
    """``fraudml train`` as an operator runs it (validation, profiles of three windows,
    rules, five entity types, evaluation, MLflow logging and registration)."""
    from fraudml.cli.main import main

    started = time.perf_counter()
    code = main(["train", f"data.path={root}", f"train.store={store}"])
    if code != 0:
        raise SystemExit(f"fraudml train exited {code}")
    return {"seconds": time.perf_counter() - started}


def run_plain(root: Path) -> dict:
    """The floor: validation and patient profiles of the whole period, then one default
    LGBMClassifier fit on them with the labels."""
    from lightgbm import LGBMClassifier

    from fraudml import load_dataset
    from fraudml.cli.common import load_rule_base
    from fraudml.features import Window
    from fraudml.models.frames import entity_frames, labels_as_of, model_columns, target

    started = time.perf_counter()
    with load_dataset(root) as ds:
        frames = entity_frames(ds, Window(), load_rule_base(None))
        labels = ds.table("labels").to_pandas()
    patient = frames["patient"]
    features, _ = model_columns(patient, "patient")
    y = target(patient, labels_as_of(labels, "patient", None))
    LGBMClassifier(verbose=-1).fit(patient[features].to_numpy(float), y.to_numpy())
    return {"seconds": time.perf_counter() - started, "rows": len(patient)}
