"""Profiles of a window: patient, provider, doctor, stay and visit behaviour."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis.expr.types as ir

from fraudml.entities import ENTITIES
from fraudml.features import FEATURE_SET_VERSION, Window, build_profiles, materialise
from fraudml.features.build import dropped_summary
from fraudml.io.atomic import write_json
from fraudml.io.load import Dataset
from fraudml.rulebase import Rule, apply_rules, rule_features, with_rule_aggregates
from fraudml.rulebase.engine import fingerprint
from fraudml.workflows.common import Out, claimed, rule_base, window_dict

log = logging.getLogger("fraudml")


@dataclass
class ProfilesResult:
    """Profiles per entity type as Ibis tables over the dataset's engine (materialised
    while the dataset is open), what could not be computed, and where they were written."""

    tables: dict[str, ir.Table]
    #: entity → feature → why it was dropped
    dropped: dict[str, dict[str, str]]
    #: the manifest (``profiles.json``)
    manifest: dict[str, object] = field(default_factory=dict)
    path: Path | None = None


def profiles(
    dataset: Dataset,
    window: Window | None = None,
    *,
    rules: Sequence[Rule] | None = None,
    join_rules: bool = True,
    out: Out = None,
) -> ProfilesResult:
    """Build every profile of ``window`` (all of the data when ``None``).

    Parameters
    ----------
    dataset : Dataset
        A validated dataset (:func:`fraudml.validate`).
    window : Window, optional
        ``[start, end)`` on admit_time; profiles use only data up to its end.
    rules : list of Rule, optional
        The rule base whose hits per family join each profile (the shipped one when
        ``None``); ``join_rules=False`` leaves rule features out.
    out : path, optional
        Write ``<entity>.parquet`` and ``profiles.json`` there, whole or not at all.
    """
    window = window or Window()
    started = time.perf_counter()
    with claimed(out, "profiles", immutable=[dataset.path]) as output:
        built = build_profiles(dataset, window)
        tables = materialise(dataset, built)
        rule_info: dict[str, object] = {}
        if join_rules:
            # rule hits per family join each profile as features (0 where none fired)
            run = apply_rules(dataset, window, rule_base(rules), built.inputs)
            tables = {e: with_rule_aggregates(t, run.hits, run.rules, e) for e, t in tables.items()}
            rule_info = {
                "rule_base": fingerprint(run.rules),
                "rule_features": [f.name for f in rule_features(run.rules, "patient")],
                "skipped_rules": run.skipped,
            }
        manifest: dict[str, object] = {
            "dataset": str(dataset.path),
            "fingerprint": dataset.fingerprint,
            "window": window_dict(window),
            "feature_set_version": FEATURE_SET_VERSION,
            "dropped_features": built.dropped,
            **rule_info,
        }
        if output is not None:
            counts = {}
            with output.staging() as tmp:
                for entity, table in tables.items():
                    # rows in key order: the same data and config give the same file
                    dataset.con.to_parquet(
                        table.order_by(ENTITIES[entity].key), tmp / f"{entity}.parquet"
                    )
                    counts[entity] = int(table.count().execute())
                manifest["rows"] = counts
                manifest["seconds"] = round(time.perf_counter() - started, 1)
                write_json(tmp / "profiles.json", manifest)
    for line in dropped_summary(built.dropped):
        log.warning("%s", line)
    return ProfilesResult(tables, built.dropped, manifest, output.path if output else None)
