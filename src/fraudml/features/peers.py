"""Peer comparison (水位): each key feature against the median of its peer group.

For a feature ``x`` of an entity in peer group ``g`` the profile gains
``x__peer_median`` (the group median) and ``x__peer_z``, a robust z-score
``(x - median_g) / s_g`` with ``s_g = max(1.4826 * MAD_g, 1.2533 * meanAD_g)``: the MAD
alone collapses when most of a group shares one value (zero readmissions, say) and turns
tiny differences into huge scores; the mean absolute deviation (scaled to the normal) keeps
the scale honest there; a floor of 0.1% of the median absorbs floating-point noise. Where
the scale is zero, z is 0.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from fraudml.engine import scratch

MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.2533
#: Floor of the scale relative to the median: values equal but for floating-point noise
#: must not produce huge scores.
RELATIVE_FLOOR = 1e-3


#: Values a single peer-statistics statement may hold. The median is a holistic aggregate:
#: the engine keeps every value of a group in memory until the group is complete, and that
#: state does not spill to disk. At 100M fee lines the visit profile (22M rows, 7 peer
#: columns) needed more than an 8 GB memory limit in one statement, so the columns are
#: taken a few at a time (:func:`peer_statistics`): 40M doubles is about 320 MB of state.
VALUES_PER_STATEMENT = 40_000_000


def peer_keys(profile: ir.Table, group: list[str]) -> tuple[ir.Table, list[str]]:
    """``profile`` with the peer group's keys ``_g0, _g1, …`` (nulls as their own group)."""
    keys = [
        profile[g].fill_null(-1) if profile[g].type().is_numeric() else profile[g].fill_null("")
        for g in group
    ]
    gcols = [f"_g{i}" for i in range(len(group))]
    return profile.mutate(**dict(zip(gcols, keys, strict=True))), gcols


def _medians(t: ir.Table, gcols: list[str], columns: list[str]) -> ir.Table:
    return t.group_by(gcols).agg(**{f"_{c}__median": t[c].median() for c in columns})


def _deviations(t: ir.Table, med: ir.Table, gcols: list[str], columns: list[str]) -> ir.Table:
    # The deviations' aggregate carries the medians along (one value per group), so the
    # profile is joined to one table of group statistics: joined to the medians and to the
    # deviations separately, the engine computed the medians twice.
    m = t.inner_join(med, gcols)
    return m.group_by(gcols).agg(
        **{f"{c}__peer_median": m[f"_{c}__median"].max() for c in columns},
        **{f"_{c}__mad": (m[c] - m[f"_{c}__median"]).abs().median() for c in columns},
        **{f"_{c}__mean_ad": (m[c] - m[f"_{c}__median"]).abs().mean() for c in columns},
    )


def _scored(t: ir.Table, stats: ir.Table, gcols: list[str], columns: list[str]) -> ir.Table:
    """``t`` (with its group keys) joined to its group's statistics, with the z-scores."""
    t = t.inner_join(stats, gcols)
    z = {}
    for c in columns:
        median = t[f"{c}__peer_median"]
        scale = ibis.greatest(
            t[f"_{c}__mad"] * MAD_SCALE,
            t[f"_{c}__mean_ad"] * MEAN_AD_SCALE,
            median.abs() * RELATIVE_FLOOR,
        )
        scale = (scale > 1e-9).ifelse(scale, ibis.null("float64"))
        z[f"{c}__peer_z"] = ((t[c] - t[f"{c}__peer_median"]) / scale).fill_null(0.0)
    t = t.mutate(**z)
    drop = gcols + [
        c for c in t.columns if c.startswith("_") and c.endswith(("__mad", "__mean_ad"))
    ]
    return t.drop(*drop)


def with_peers(profile: ir.Table, group: list[str], columns: list[str]) -> ir.Table:
    """Add ``__peer_median`` and ``__peer_z`` for ``columns`` by peer ``group``, as one
    lazy expression (:func:`peer_statistics` computes the same values in bounded memory)."""
    if not columns:
        return profile
    t, gcols = peer_keys(profile, group)
    return _scored(t, _deviations(t, _medians(t, gcols, columns), gcols, columns), gcols, columns)


def peer_statistics(
    con: BaseBackend,
    keyed: ir.Table,
    gcols: list[str],
    columns: list[str],
    name: str,
    values_per_statement: int = VALUES_PER_STATEMENT,
) -> ir.Table:
    """The statistics :func:`with_peers` joins, computed into an intermediate table ``name``
    (:mod:`fraudml.engine.scratch`).

    ``keyed`` is an engine table with its group keys (:func:`peer_keys`). The columns
    are taken in batches of at most ``values_per_statement`` values (rows × columns), each
    batch its own statements, so that the engine never holds more median state than
    that; the batches' statistics (one row per group) are then joined, and only ``name``
    is left. The values are those of :func:`with_peers`: the same aggregates over the
    same rows.
    """
    rows = int(keyed.count().execute())
    per = max(1, values_per_statement // max(rows, 1))
    parts: dict[str, ir.Table] = {}
    for i in range(0, len(columns), per):
        batch = columns[i : i + per]
        med = scratch.create(con, f"{name}_m{i}", _medians(keyed, gcols, batch))
        dev = _deviations(keyed, med, gcols, batch)
        parts[f"{name}_d{i}"] = scratch.create(con, f"{name}_d{i}", dev)
        scratch.drop(con, f"{name}_m{i}")
    first, *rest = parts.values()
    for part in rest:
        first = first.inner_join(part, gcols)
    stats = scratch.create(con, name, first)
    for part in parts:
        scratch.drop(con, part)
    return stats


def with_peer_statistics(
    keyed: ir.Table, stats: ir.Table, gcols: list[str], columns: list[str]
) -> ir.Table:
    """``keyed`` (:func:`peer_keys`) with ``__peer_median`` and ``__peer_z`` from the
    statistics of :func:`peer_statistics`."""
    return _scored(keyed, stats, gcols, columns)
