"""Build the three profiles of a window and write them; data frames in, data frames out."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import ibis.expr.types as ir

from fraudml.entities import ENTITIES
from fraudml.features.builders import BUILDERS, attach
from fraudml.features.peers import with_peers
from fraudml.features.registry import FEATURES, NEEDS_TEXT, Entity, features
from fraudml.graph import WindowGraph, window_graph
from fraudml.io.load import Dataset
from fraudml.window import Inputs, Window, prepare

log = logging.getLogger(__name__)


@dataclass
class Profiles:
    """The window's profiles as Ibis expressions, and what could not be computed."""

    tables: dict[str, ir.Table]
    window: Window
    #: entity → feature → why it was dropped
    dropped: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the window's prepared inputs, for the rules of the same window to reuse
    inputs: Inputs | None = None
    #: the window's network (groups and their evidence), for group leads
    graph: WindowGraph | None = None


def build_profiles(ds: Dataset, window: Window) -> Profiles:
    """Patient, provider, doctor, inpatient-stay and visit profiles of ``window``.

    The window's enriched claims (with their fee-line summary) are computed once into a
    temporary engine table by :func:`prepare`, and its network once by
    :func:`~fraudml.graph.window_graph` (patients gain their group's features and
    ``group_id``, providers and doctors their rings'); the profiles themselves stay lazy
    expressions until :func:`materialise` or a writer runs them.
    """
    x = prepare(ds, window)
    graph = window_graph(ds.con, x.claims)
    x.covisits = graph.days  # the co-visit signals read the network's evidence
    tables: dict[str, ir.Table] = {}
    dropped: dict[str, dict[str, str]] = {}
    for entity, builder in BUILDERS.items():
        ent: Entity = entity  # type: ignore[assignment]
        if entity == "doctor" and "doctors" not in ds and not _has_doctor_ids(ds):
            dropped["doctor"] = {f.name: "no doctor ids in claims" for f in features(ent)}
            continue
        available = features(ent, x.tables)
        missing = [f for f in FEATURES if f.entity == entity and f not in available]
        dropped[entity] = {
            f.name: "; ".join(NEEDS_TEXT[n] for n in f.needs if n not in x.tables) for f in missing
        }
        prof = builder(x)
        spec = ENTITIES[entity]
        if entity in graph.features:
            network = graph.features[entity]
            counts = [c for c in network.columns if c not in (spec.key, "group_id")]
            prof = attach(prof, network.select(spec.key, *counts), spec.key)
            if "group_id" in network.columns:  # outside any group: no group, not 0
                prof = attach(prof, network.select(spec.key, "group_id"), spec.key, None)
        cols = [f.name for f in available]
        prof = prof.select(spec.key, *spec.context, *cols)
        peer_cols = [f.name for f in available if f.peer]
        tables[entity] = with_peers(prof, list(spec.peer_groups), peer_cols)
    return Profiles(tables, window, dropped, x, graph)


def dropped_summary(dropped: dict[str, dict[str, str]]) -> list[str]:
    """One line per entity type and reason: the features the data could not give."""
    lines = []
    for entity, features_ in dropped.items():
        by_reason: dict[str, list[str]] = {}
        for name, why in features_.items():
            by_reason.setdefault(why, []).append(name)
        for why, names in by_reason.items():
            lines.append(
                f"{entity}: {len(names)} features not computed ({why}): {', '.join(names)}"
            )
    return lines


def _has_doctor_ids(ds: Dataset) -> bool:
    claims = ds.table("claims")
    return bool(claims.doctor_id.notnull().any().execute())


def materialise(ds: Dataset, profiles: Profiles) -> dict[str, ir.Table]:
    """Run the expressions once into engine tables (kept in DuckDB, not pandas)."""
    out = {}
    for entity, expr in profiles.tables.items():
        started = time.perf_counter()
        out[entity] = ds.con.create_table(f"profile_{entity}", expr, overwrite=True)
        n = out[entity].count().execute()
        log.info(
            "%-8s profile: %12s rows, %3d columns (%.1f s)",
            entity,
            f"{n:,}",
            len(out[entity].columns),
            time.perf_counter() - started,
        )
    return out
