"""Training at scale: every model on a 50,000-patient city, beside the floor cost of one
plain LightGBM fit on the same patient features."""

from __future__ import annotations

import time
from pathlib import Path


def run_fraudml(root: Path, store: Path) -> dict:
    """``fraudml train`` as an operator runs it (validation, profiles of three windows,
    rules, five entity types, evaluation, MLflow logging and registration)."""
    import fraudml

    started = time.perf_counter()
    fraudml.train(root, settings=fraudml.TrainSettings(store=store))
    return {"seconds": time.perf_counter() - started}


def run_plain(root: Path) -> dict:
    """The floor: validation and patient profiles of the whole period, then one default
    LGBMClassifier fit on them with the labels."""
    from lightgbm import LGBMClassifier

    from fraudml import load_dataset
    from fraudml.features import Window
    from fraudml.models.frames import entity_frames, labels_as_of, model_columns, target
    from fraudml.workflows import load_rule_base

    started = time.perf_counter()
    with load_dataset(root) as ds:
        frames = entity_frames(ds, Window(), load_rule_base(None))
        labels = ds.table("labels").to_pandas()
    patient = frames["patient"]
    features, _ = model_columns(patient, "patient")
    y = target(patient, labels_as_of(labels, "patient", None))
    LGBMClassifier(verbose=-1).fit(patient[features].to_numpy(float), y.to_numpy())
    return {"seconds": time.perf_counter() - started, "rows": len(patient)}


def month_dataset(source: Path, target: Path, start: str, end: str) -> dict:
    """A dataset of one month of ``source``: its claims, their fee lines, every patient,
    provider, doctor, catalog entry and registration (labels left out)."""
    import duckdb

    def src(name: str) -> str:
        folder = source / name
        return (
            f"read_parquet('{folder}/*.parquet')"
            if folder.is_dir()
            else (f"read_parquet('{source / (name + '.parquet')}')")
        )

    target.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    month = f"admit_time >= TIMESTAMP '{start}' AND admit_time < TIMESTAMP '{end}'"
    con.execute(
        f"COPY (SELECT * FROM {src('claims')} WHERE {month}) TO '{target / 'claims.parquet'}'"
    )
    con.execute(
        f"COPY (SELECT i.* FROM {src('claim_items')} i SEMI JOIN "
        f"read_parquet('{target / 'claims.parquet'}') c USING (claim_id)) "
        f"TO '{target / 'claim_items.parquet'}'"
    )
    for name in ("patients", "providers", "doctors", "catalog", "chronic_registrations"):
        con.execute(f"COPY (SELECT * FROM {src(name)}) TO '{target / (name + '.parquet')}'")
    lines = con.execute(f"SELECT count(*) FROM read_parquet('{target / 'claim_items.parquet'}')")
    return {"claim_items": int(lines.fetchone()[0])}


#: Auditor capacity per entity type giving 500 leads in all (top K only).
SCORE_CAPACITY = {"patient": 200, "visit": 200, "stay": 40, "provider": 20, "doctor": 40}


def run_score(root: Path, store: Path, namespace: str, out: Path, scale: int = 1) -> dict:
    """``fraudml score`` of a month dataset with ``500 * scale`` leads (capacity only) and
    the champions of ``namespace``."""
    import json

    import fraudml
    from fraudml.settings import DEFAULT_CAPACITY

    started = time.perf_counter()
    settings = fraudml.ScoreSettings(
        capacity={**DEFAULT_CAPACITY, **{k: v * scale for k, v in SCORE_CAPACITY.items()}},
        definite_leads=False,
        namespace=namespace,
        store=store,
    )
    fraudml.score(root, fraudml.Window(), settings=settings, out=out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {
        "seconds": time.perf_counter() - started,
        "leads": sum(manifest["rows"]["leads"].values()),
        "explain_s": manifest["seconds"]["explain"],
        # what auditors receive: the report, the spreadsheet and the case packs
        "report_s": sum(
            manifest["seconds"].get(k, 0.0)
            for k in ("report_inputs", "report_html", "report_xlsx", "case_packs")
        ),
        "packs": len(manifest.get("case_packs", [])),
    }
