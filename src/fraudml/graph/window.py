"""A window's network, built once: co-visit evidence, groups and the features they give.

:func:`window_graph` runs the steps in order: the co-visit evidence and edges in the
engine (:mod:`.edges`), Leiden on the edges (:mod:`.communities`), then the groups'
description and the patients', providers' and doctors' group features back in the
engine (:mod:`.groups`). Profiles join the features; scoring turns the groups into
leads with their members, their picture and the dated co-visits that prove them.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from fraudml.engine import scratch
from fraudml.graph import edges as E
from fraudml.graph import groups as G
from fraudml.graph.communities import MEMBERSHIP_COLUMNS, leiden_groups

log = logging.getLogger(__name__)
_TAGS = itertools.count()
#: engine types of the membership handed back from Python (typed even when empty)
MEMBERSHIP_SCHEMA = {"member_id": "string", "group_id": "string", "group_size": "int64"}


@dataclass
class WindowGraph:
    """The window's groups and the engine tables behind them."""

    #: ``member_id`` (patient), ``group_id``, ``group_size``
    members: pd.DataFrame
    #: :func:`fraudml.graph.groups.group_table`, one row per group
    groups: pd.DataFrame
    #: the co-visit evidence (:func:`~fraudml.graph.edges.covisit_days`), in the engine
    days: ir.Table
    #: the co-visit edges (``src``, ``dst``, ``weight``, …)
    edges: pd.DataFrame
    #: entity type → its group features (key column first), in the engine
    features: dict[str, ir.Table]
    #: seconds spent: ``edges`` (engine), ``groups`` (Leiden), ``features`` (engine)
    seconds: dict[str, float]
    #: the co-visit evidence inside the groups (:func:`~fraudml.graph.groups.inside_days`),
    #: in the engine: what the group features, the picture and the proof all read
    inside: ir.Table | None = None

    def member_days(self) -> pd.DataFrame:
        """``group_id``, ``patient_id``, ``provider_id``, ``days`` (arrivals together)."""
        return G.member_provider_days(self.inside).to_pandas()

    def proof(self, group_ids: list[str]) -> pd.DataFrame:
        """The dated co-visits inside ``group_ids``: ``group_id``, ``provider_id``,
        ``day``, ``a``, ``b``, ``first_time``, ``last_time`` (one row per pair and day)."""
        chosen = self.inside.filter(self.inside.group_id.isin(list(group_ids)))
        return chosen.to_pandas().sort_values(["group_id", "day", "provider_id", "a", "b"])


def window_graph(con, claims: ir.Table, *, seed: int = 0) -> WindowGraph:
    """Build the network of a window whose enriched claims are ``claims``
    (:attr:`fraudml.window.Inputs.claims`) on the backend ``con``."""
    tag = next(_TAGS)
    started = time.perf_counter()
    days = scratch.create(con, f"_graph_covisit_days_{tag}", E.covisit_days(claims))
    edge_table = scratch.create(con, f"_graph_edges_{tag}", E.covisit_edges(days))
    edges = edge_table.to_pandas()
    t_edges = time.perf_counter() - started

    started = time.perf_counter()
    members = leiden_groups(edges, seed=seed)
    t_groups = time.perf_counter() - started

    started = time.perf_counter()
    m = scratch.create(
        con,
        f"_graph_members_{tag}",
        ibis.memtable(members[list(MEMBERSHIP_COLUMNS)], schema=MEMBERSHIP_SCHEMA),
    )
    inside = scratch.create(con, f"_graph_inside_{tag}", G.inside_days(days, m))
    groups = scratch.create(
        con, f"_graph_groups_{tag}", G.group_table(claims, inside, edge_table, m)
    )
    features = {
        "patient": G.patient_group_features(groups, m),
        "provider": G.provider_group_features(claims, inside),
        "doctor": G.doctor_group_features(claims, m),
    }
    group_frame = groups.to_pandas().sort_values("group_id").reset_index(drop=True)
    t_features = time.perf_counter() - started
    log.info(
        "network: %s co-visit edges, %s groups of %s people (edges %.1f s, Leiden %.1f s, "
        "group features %.1f s)",
        f"{len(edges):,}",
        f"{len(group_frame):,}",
        f"{len(members):,}",
        t_edges,
        t_groups,
        t_features,
    )
    return WindowGraph(
        members,
        group_frame,
        days,
        edges,
        features,
        {"edges": t_edges, "groups": t_groups, "features": t_features},
        inside,
    )
