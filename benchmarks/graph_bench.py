"""The network at scale: co-visit edges in the engine, then groups by Leiden (igraph's C
core) against networkx's Louvain on the same edges.

Child processes share one folder: ``edges`` validates the city (not timed), builds the
whole period's co-visit evidence and edges in DuckDB (timed) and writes the edge list;
``leiden`` (python-igraph's Leiden, fraudml's default), ``leidenalg`` and ``networkx``
each read it and find the groups (timed, with their own peak memory), writing the
membership so the run can compare them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd


def run_edges(root: Path, work: Path) -> dict:
    from fraudml import load_dataset
    from fraudml.features import Window
    from fraudml.graph import edges as E
    from fraudml.window import prepare

    ds = load_dataset(root, database=work / "validated.duckdb")
    x = prepare(ds, Window(), fees=False)
    started = time.perf_counter()
    days = ds.con.create_table("_bench_covisit_days", E.covisit_days(x.claims), temp=True)
    edges = E.covisit_edges(days).to_pandas()
    seconds = time.perf_counter() - started
    n_days = int(days.count().execute())
    claims = int(x.claims.count().execute())
    ds.close()
    edges[["src", "dst", "weight"]].to_parquet(work / "edges.parquet", index=False)
    return {"seconds": seconds, "edges": len(edges), "pair_days": n_days, "claims": claims}


def run_groups(work: Path, method: str) -> dict:
    from fraudml.graph import leiden_groups, networkx_groups

    edges = pd.read_parquet(work / "edges.parquet")
    started = time.perf_counter()
    if method == "networkx":
        members = networkx_groups(edges)
    else:
        members = leiden_groups(edges, implementation="igraph" if method == "leiden" else method)
    seconds = time.perf_counter() - started
    members.to_parquet(work / f"members_{method}.parquet", index=False)
    return {
        "seconds": seconds,
        "groups": int(members.group_id.nunique()),
        "members": len(members),
        "largest": int(members.group_size.max()) if len(members) else 0,
    }


def agreement(work: Path, other: str = "networkx") -> float:
    """Share of the member pairs Leiden (igraph) puts in one group that ``other`` also
    puts in one group (1.0 when both agree on every such pair)."""
    a = pd.read_parquet(work / "members_leiden.parquet")
    b = pd.read_parquet(work / f"members_{other}.parquet").set_index("member_id").group_id
    together = same = 0
    for _, g in a.groupby("group_id"):
        other = b.reindex(g.member_id).to_numpy()
        n = len(other)
        together += n * (n - 1) // 2
        counts = pd.Series(other).dropna().value_counts()
        same += int((counts * (counts - 1) // 2).sum())
    return same / together if together else 1.0
