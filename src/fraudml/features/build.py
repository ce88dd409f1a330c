"""Build the three profiles of a window and write them; data frames in, data frames out."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir

from fraudml.engine import scratch
from fraudml.entities import ENTITIES
from fraudml.features.builders import BUILDERS, attach
from fraudml.features.peers import peer_keys, peer_statistics, with_peer_statistics
from fraudml.features.registry import FEATURES, NEEDS_TEXT, Entity, features
from fraudml.graph import WindowGraph, window_graph
from fraudml.io.load import Dataset
from fraudml.window import Inputs, Window, prepare

log = logging.getLogger(__name__)

#: Tags the temporary tables of each window's peer statistics: several windows' profiles
#: are built on one connection in training.
_TAGS = itertools.count()


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
    #: entity → the temporary tables its expression reads (its profile before the peer
    #: comparison, its peers' statistics), dropped by :func:`materialise`
    scratch: dict[str, list[str]] = field(default_factory=dict)


def build_profiles(ds: Dataset, window: Window, entities: Sequence[str] | None = None) -> Profiles:
    """Patient, provider, doctor, inpatient-stay and visit profiles of ``window`` (or only
    those of ``entities``, in the same order: each profile's peer statistics are computed
    here, which an engine with a cost per query, like Spark, pays for every entity type).

    The window's enriched claims (with their fee-line summary) are computed once into a
    temporary engine table by :func:`prepare`, and its network once by
    :func:`~fraudml.graph.window_graph` (patients gain their group's features and
    ``group_id``, providers and doctors their rings'). Each profile before its peer
    comparison, and its peers' statistics, are computed into temporary tables here
    (bounded memory, :func:`_with_peers`); the profiles with their peer medians and
    z-scores stay lazy expressions until :func:`materialise` or a writer runs them.
    """
    unknown = sorted(set(entities or ()) - set(BUILDERS))
    if unknown:
        raise ValueError(f"no profile of {unknown}: the entity types are {list(BUILDERS)}")
    x = prepare(ds, window)
    graph = window_graph(ds.con, x.claims)
    x.covisits = graph.days  # the co-visit signals read the network's evidence
    tables: dict[str, ir.Table] = {}
    dropped: dict[str, dict[str, str]] = {}
    scratch: dict[str, list[str]] = {}
    for entity, builder in BUILDERS.items():
        if entities is not None and entity not in entities:
            continue
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
        tables[entity], scratch[entity] = _with_peers(
            ds, prof, list(spec.peer_groups), peer_cols, entity
        )
    return Profiles(tables, window, dropped, x, graph, scratch)


def _with_peers(
    ds: Dataset, prof: ir.Table, group: list[str], columns: list[str], entity: str
) -> tuple[ir.Table, list[str]]:
    """The profile with its peer medians and z-scores, and the temporary tables it reads.
    The profile (with its group keys) and its peers' statistics are computed into
    temporary tables here, the statistics a few columns at a time
    (:func:`~fraudml.features.peers.peer_statistics`): in one expression the engine held
    every group's values of every column at once, which at 100M fee lines no memory limit
    of one machine allowed."""
    if not columns:
        return prof, []
    started = time.perf_counter()
    tag = f"{entity}_{next(_TAGS)}"
    keyed, gcols = peer_keys(prof, group)
    keyed = scratch.create(ds.con, f"_profile_{tag}", keyed)
    stats = peer_statistics(ds.con, keyed, gcols, columns, f"_peers_{tag}")
    log.debug("%s peers ready (%.1f s)", entity, time.perf_counter() - started)
    return with_peer_statistics(keyed, stats, gcols, columns), [f"_profile_{tag}", f"_peers_{tag}"]


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
    """Run the expressions once into engine tables (kept in DuckDB, not pandas).

    ``profiles.tables`` then names those tables, and each profile's temporary tables are
    dropped: each is a copy of its profile (at 100M fee lines the visit profile has 21.8M
    rows), which the engine would otherwise keep, in memory or spilled, until the
    connection closed."""
    out = {}
    for entity, expr in list(profiles.tables.items()):
        started = time.perf_counter()
        out[entity] = ds.con.create_table(f"profile_{entity}", expr, overwrite=True)
        profiles.tables[entity] = out[entity]
        for name in profiles.scratch.pop(entity, []):
            scratch.drop(ds.con, name)
        n = out[entity].count().execute()
        log.info(
            "%-8s profile: %12s rows, %3d columns (%.1f s)",
            entity,
            f"{n:,}",
            len(out[entity].columns),
            time.perf_counter() - started,
        )
    return out
