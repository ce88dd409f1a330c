"""A window's graphs as edge tables, built by the engine from its claims.

Every function takes the window's enriched claims (:attr:`fraudml.window.Inputs.claims`)
and returns a lazy Ibis table, so the edges are computed in SQL wherever the claims live
(DuckDB here, Spark later); only :mod:`fraudml.graph.communities` leaves the engine.
Each edge carries a ``weight`` and the ``first_time`` and ``last_time`` it was seen.

- :func:`covisit_days`: the evidence of a co-visit (two people arriving at one provider
  within :data:`COVISIT_GAP_MINUTES` of each other), one row per pair, provider and day;
- :func:`covisit_edges`: patient–patient, weight = days they arrived together (anywhere),
  kept when repeated on :data:`MIN_COVISIT_DAYS` days or more;
- :func:`patient_provider_edges`: who claims where, with ``far`` for a provider outside
  the patient's home region (cards used far from home, pharmacies drawing cards);
- :func:`doctor_patient_edges`: who treats whom;
- :func:`provider_provider_edges`: providers sharing patients or practitioners.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: two arrivals at one provider this close together count as arriving together
COVISIT_GAP_MINUTES = 30
#: a pair counts as a co-visit edge when it arrived together on this many days or more
MIN_COVISIT_DAYS = 2

#: columns of every edge table
EDGE_COLUMNS = ("src", "dst", "weight", "first_time", "last_time")


def _arrivals(c: ir.Table, gap_minutes: int) -> ir.Table:
    """Outpatient and pharmacy arrivals (a stay's admission time says little about
    arriving together), one per patient, provider and minute, with their time slot."""
    v = c.filter(c.visit_type != "inpatient")
    v = v.select(
        "provider_id",
        "patient_id",
        "day",
        t=v.admit_time,
        sec=v.admit_time.epoch_seconds(),
    ).distinct()
    return v.mutate(slot=(v.sec // (gap_minutes * 60)).cast("int64"))


def covisit_days(c: ir.Table, gap_minutes: int = COVISIT_GAP_MINUTES) -> ir.Table:
    """Pairs who arrived at the same provider within ``gap_minutes`` of each other:
    ``provider_id``, ``a`` < ``b`` (patient ids), ``day``, ``first_time`` and
    ``last_time`` (the earlier and the later arrival of that day's first such pair).

    Arrivals are bucketed into slots ``gap_minutes`` wide and paired within a slot or
    with the next one, so the join stays an equality join (a busy hospital's day is never
    paired whole) and a group that straddles a slot boundary is still found.
    """
    v = _arrivals(c, gap_minutes)
    w = v.view()
    same = v.inner_join(
        w,
        [v.provider_id == w.provider_id, v.slot == w.slot, v.patient_id < w.patient_id],
    ).select(
        provider_id=v.provider_id,
        a=v.patient_id,
        b=w.patient_id,
        day=v.day,
        t1=ibis.least(v.t, w.t),
        t2=ibis.greatest(v.t, w.t),
    )
    x = v.view()
    y = v.view()
    nxt = x.inner_join(
        y,
        [
            x.provider_id == y.provider_id,
            y.slot == x.slot + 1,
            x.patient_id != y.patient_id,
            (y.sec - x.sec) <= gap_minutes * 60,
        ],
    ).select(
        provider_id=x.provider_id,
        a=ibis.least(x.patient_id, y.patient_id),
        b=ibis.greatest(x.patient_id, y.patient_id),
        day=x.day,
        t1=x.t,
        t2=y.t,
    )
    pairs = same.union(nxt, distinct=False)
    return pairs.group_by(["provider_id", "a", "b", "day"]).agg(
        first_time=pairs.t1.min(), last_time=pairs.t2.max()
    )


def covisit_edges(days: ir.Table, min_days: int = MIN_COVISIT_DAYS) -> ir.Table:
    """Patient–patient edges from :func:`covisit_days`: ``src`` < ``dst``, ``weight``
    (distinct days they arrived together, at any provider), ``providers`` (how many
    providers), ``first_time`` and ``last_time``; pairs seen together on fewer than
    ``min_days`` days are left out (two neighbours meeting once are not a group)."""
    e = days.group_by([days.a.name("src"), days.b.name("dst")]).agg(
        weight=days.day.nunique(),
        providers=days.provider_id.nunique(),
        first_time=days.first_time.min(),
        last_time=days.last_time.max(),
    )
    return e.filter(e.weight >= min_days)


def patient_provider_edges(c: ir.Table) -> ir.Table:
    """Patient–provider edges: ``src`` (patient), ``dst`` (provider), ``weight``
    (claims), ``first_time``, ``last_time``, ``far`` (the provider lies outside the
    patient's home region) and ``home_region``."""
    return c.group_by([c.patient_id.name("src"), c.provider_id.name("dst")]).agg(
        weight=c.count(),
        first_time=c.admit_time.min(),
        last_time=c.admit_time.max(),
        far=c.out_of_region.fill_null(False).any(),
        home_region=c.patient_region.max(),
    )


def doctor_patient_edges(c: ir.Table) -> ir.Table:
    """Doctor–patient edges: ``src`` (doctor), ``dst`` (patient), ``weight`` (claims the
    doctor billed for the patient), ``first_time``, ``last_time``."""
    d = c.filter(c.doctor_id.notnull())
    return d.group_by([d.doctor_id.name("src"), d.patient_id.name("dst")]).agg(
        weight=d.count(), first_time=d.admit_time.min(), last_time=d.admit_time.max()
    )


def provider_provider_edges(c: ir.Table, via: str) -> ir.Table:
    """Provider–provider edges through shared ``via`` (``patient_id`` or ``doctor_id``):
    ``src`` < ``dst``, ``weight`` (distinct shared patients or practitioners),
    ``first_time`` and ``last_time`` of the shared entities' claims at either."""
    d = c.filter(c[via].notnull())
    seen = d.group_by(["provider_id", via]).agg(
        first_time=d.admit_time.min(), last_time=d.admit_time.max()
    )
    other = seen.view()
    pairs = seen.inner_join(
        other, [seen[via] == other[via], seen.provider_id < other.provider_id]
    ).select(
        src=seen.provider_id,
        dst=other.provider_id,
        via=seen[via],
        t1=ibis.least(seen.first_time, other.first_time),
        t2=ibis.greatest(seen.last_time, other.last_time),
    )
    return pairs.group_by(["src", "dst"]).agg(
        weight=pairs.via.nunique(), first_time=pairs.t1.min(), last_time=pairs.t2.max()
    )
