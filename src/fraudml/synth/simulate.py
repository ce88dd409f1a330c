"""Simulate a city's claims with planted fraud, and write it as a contract dataset."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fraudml.synth.care import simulate_care
from fraudml.synth.catalog import synthetic_catalog
from fraudml.synth.ledger import Ledger
from fraudml.synth.national import (
    coherent_care,
    deaths,
    plant_national,
    registered_departments,
    suspensions,
)
from fraudml.synth.schemes import SCHEMES, Context, SchemeConfig
from fraudml.synth.world import PROVIDER_MIX, build_world, chronic_registrations

log = logging.getLogger(__name__)


def default_schemes() -> dict[str, SchemeConfig]:
    return {name: SchemeConfig() for name in SCHEMES}


@dataclass
class SimulationConfig:
    """A synthetic city.

    Parameters
    ----------
    seed : int
        Same seed and config → byte-identical files.
    n_patients : int
        Insured people; providers and doctors scale with it.
    n_regions : int
        Insured-region codes (districts).
    start, end : str
        The period (ISO dates; ``end`` exclusive).
    label_delay_days : list of int
        Range of days between a scheme's start and the audit that labels it.
    audit_share : float
        Share of uninvolved providers and patients audited and labelled clean (0).
    schemes : dict
        Scheme name → :class:`SchemeConfig`; a scheme absent here is not planted.
    price_level : float
        Multiplier on the catalog's reference prices and caps, and so on every fee
        billed (1.0: the standard city's prices).
    provider_mix : dict
        Providers per 10,000 insured by kind (``hospital_3``, ``hospital_2``,
        ``hospital_1``, ``clinic``, ``pharmacy``); kinds left out keep the standard rate
        (:data:`fraudml.synth.world.PROVIDER_MIX`).
    """

    seed: int = 20240101
    n_patients: int = 5000
    n_regions: int = 4
    start: str = "2024-01-01"
    end: str = "2025-01-01"
    label_delay_days: list[int] = field(default_factory=lambda: [60, 240])
    audit_share: float = 0.05
    schemes: dict[str, SchemeConfig] = field(default_factory=default_schemes)
    price_level: float = 1.0
    provider_mix: dict[str, float] = field(default_factory=lambda: dict(PROVIDER_MIX))


def simulate(cfg: SimulationConfig) -> dict[str, pd.DataFrame]:
    """Build the city and its claims; return the contract tables as frames."""
    unknown = set(cfg.schemes) - set(SCHEMES)
    if unknown:
        raise ValueError(f"unknown schemes {sorted(unknown)}; known: {sorted(SCHEMES)}")
    seeds = np.random.SeedSequence(cfg.seed)
    world_seed, care_seed, label_seed, *scheme_seeds = seeds.spawn(3 + len(SCHEMES))
    rng = np.random.default_rng(world_seed)
    t = time.perf_counter()
    world = build_world(
        rng, cfg.n_patients, cfg.n_regions, cfg.start, cfg.end, provider_mix=cfg.provider_mix
    )
    catalog = synthetic_catalog(cfg.price_level)
    ledger = Ledger(world, catalog, np.random.default_rng(care_seed))
    years = float((world.end - world.start).astype(int)) / 365.25
    simulate_care(ledger, years)
    log.info(
        "legitimate care: %s claims (%.1f s)", f"{ledger._n_claims:,}", time.perf_counter() - t
    )
    labels: list[dict] = []
    # each scheme draws from its own stream: adding one leaves the others unchanged
    for (name, plant), seed in zip(SCHEMES.items(), scheme_seeds, strict=True):
        scheme_cfg = cfg.schemes.get(name)
        if scheme_cfg is None or scheme_cfg.prevalence <= 0:
            continue
        ledger.rng = np.random.default_rng(seed)
        ctx = Context(ledger, ledger.rng, delay=tuple(cfg.label_delay_days))
        plant(ctx, scheme_cfg)
        labels += ctx.labels
    # the national rules' facts and cases: a stream of their own, drawn after everything
    # above, so that every earlier draw of the city stays as it was
    (national_seed,) = seeds.spawn(1)
    national_rng = np.random.default_rng(national_seed)
    coherent_care(ledger)
    dead = deaths(ledger, national_rng)
    suspended = suspensions(ledger, national_rng)
    registered = registered_departments(ledger)
    labels += plant_national(ledger, national_rng, cfg.schemes, dead, suspended, cfg.price_level)
    claims, items, claim_schemes = ledger.finish()
    log.info(
        "claims %s, fee lines %s (%.1f s)",
        f"{len(claims):,}",
        f"{len(items):,}",
        time.perf_counter() - t,
    )
    label_rng = np.random.default_rng(label_seed)
    patients = world.patients.copy()
    death = pd.Series(pd.NaT, index=patients.index, dtype="datetime64[s]")
    death.iloc[dead.index.to_numpy()] = dead.to_numpy()
    patients["death_date"] = death.dt.date
    doctors = world.doctors[["doctor_id", "provider_id", "role", "department"]].copy()
    doctors["registered_departments"] = doctors.doctor_id.map(registered)
    stop = suspended.set_index("doctor")
    for col in ("suspended_from", "suspended_to"):
        doctors[col] = pd.to_datetime(doctors.doctor_id.map(stop[col])).dt.date
    tables = {
        "patients": patients,
        "providers": world.providers[
            ["provider_id", "provider_type", "level", "region", "beds", "name"]
        ],
        "doctors": doctors,
        "catalog": catalog.drop(columns=["ref_price", "tag"]),
        "claims": claims,
        "claim_items": items,
        "chronic_registrations": chronic_registrations(world, label_rng),
        "labels": _labels(labels, claim_schemes, world, label_rng, cfg.audit_share),
    }
    return tables


def _labels(entity_labels: list[dict], claim_schemes: dict, world, rng, audit_share: float):
    rows = list(entity_labels)
    for claim_id, (scheme, decided) in claim_schemes.items():
        rows.append(
            {
                "entity_type": "claim",
                "entity_id": claim_id,
                "label": 1,
                "scheme": scheme,
                "decided_at": decided,
                "source": "synthetic",
            }
        )
    frame = pd.DataFrame(
        rows, columns=["entity_type", "entity_id", "label", "scheme", "decided_at", "source"]
    )
    # one row per entity and scheme: the earliest decision wins
    frame = frame.sort_values("decided_at").drop_duplicates(["entity_type", "entity_id", "scheme"])
    # audited and found clean: providers and patients never involved in any scheme
    span = int((world.end - world.start).astype(int))
    for entity_type, ids in (
        ("provider", world.providers.provider_id.to_numpy()),
        ("patient", world.patients.patient_id.to_numpy()),
    ):
        involved = set(frame.loc[frame.entity_type == entity_type, "entity_id"])
        clean = np.array([i for i in ids if i not in involved], dtype=object)
        k = max(1, round(audit_share * clean.size)) if clean.size else 0
        pick = np.sort(rng.choice(clean, k, replace=False)) if k else clean[:0]
        decided = world.start + rng.integers(90, span + 180, k).astype("timedelta64[D]")
        frame = pd.concat(
            [
                frame,
                pd.DataFrame(
                    {
                        "entity_type": entity_type,
                        "entity_id": pick,
                        "label": 0,
                        "scheme": None,
                        "decided_at": decided,
                        "source": "synthetic",
                    }
                ),
            ],
            ignore_index=True,
        )
    frame["decided_at"] = pd.to_datetime(frame["decided_at"]).dt.date
    frame["label"] = frame["label"].astype("int64")
    return frame.sort_values(["entity_type", "entity_id", "scheme"]).reset_index(drop=True)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def simulation_config(raw: Mapping[str, object]) -> SimulationConfig:
    """A :class:`SimulationConfig` from plain values (a preset of ``conf/simulate`` as a
    mapping; its ``name`` is dropped)."""
    values = dict(raw)
    values.pop("name", None)
    schemes = {k: SchemeConfig(**v) for k, v in (values.pop("schemes", None) or {}).items()}
    return SimulationConfig(**values, schemes=schemes)  # type: ignore[arg-type]
