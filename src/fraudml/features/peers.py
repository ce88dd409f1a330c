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

MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.2533
#: Floor of the scale relative to the median: values equal but for floating-point noise
#: must not produce huge scores.
RELATIVE_FLOOR = 1e-3


def with_peers(profile: ir.Table, group: list[str], columns: list[str]) -> ir.Table:
    """Add ``__peer_median`` and ``__peer_z`` for ``columns`` by peer ``group``."""
    if not columns:
        return profile
    keys = [
        profile[g].fill_null(-1) if profile[g].type().is_numeric() else profile[g].fill_null("")
        for g in group
    ]
    t = profile.mutate(**{f"_g{i}": k for i, k in enumerate(keys)})
    gcols = [f"_g{i}" for i in range(len(group))]
    med = t.group_by(gcols).agg(**{f"_{c}__median": t[c].median() for c in columns})
    m = t.inner_join(med, gcols)
    # The deviations' aggregate carries the medians along (one value per group), so the
    # profile is joined to one table of group statistics: joined to the medians and to the
    # deviations separately, the engine computed the medians twice.
    dev = m.group_by(gcols).agg(
        **{f"{c}__peer_median": m[f"_{c}__median"].max() for c in columns},
        **{f"_{c}__mad": (m[c] - m[f"_{c}__median"]).abs().median() for c in columns},
        **{f"_{c}__mean_ad": (m[c] - m[f"_{c}__median"]).abs().mean() for c in columns},
    )
    t = t.inner_join(dev, gcols)
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
