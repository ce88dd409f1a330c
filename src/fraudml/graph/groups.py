"""What a group (团伙) looks like, and what its members and providers gain from it.

Given the window's co-visit evidence (:func:`fraudml.graph.edges.covisit_days`), its
co-visit edges and the groups Leiden found in them (a membership table in the engine),
these expressions describe each group and give patients, providers and doctors their
group features. All of it is SQL; nothing here reads labels (that is
:mod:`fraudml.graph.propagation`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: group features a patient gains from its group (0 outside any group)
PATIENT_GROUP_FEATURES = (
    "group_size",
    "group_density",
    "group_days",
    "group_together_share",
    "group_regions",
)
PROVIDER_GROUP_FEATURES = ("ring_patients", "ring_days", "ring_patient_share", "far_regions")
DOCTOR_GROUP_FEATURES = ("ring_patient_share",)


def _share(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return ibis.ifelse(den > 0, num.cast("float64") / den, 0.0)


def inside_days(days: ir.Table, members: ir.Table) -> ir.Table:
    """Rows of :func:`covisit_days` whose two people belong to the same group, with its
    ``group_id``: the dated evidence that the group arrives together."""
    ma = members.select(a="member_id", ga="group_id")
    mb = members.select(b="member_id", gb="group_id")
    d = days.inner_join(ma, "a").inner_join(mb, "b")
    d = d.filter(d.ga == d.gb)
    return d.select("provider_id", "a", "b", "day", "first_time", "last_time", group_id=d.ga)


def _arrivals_inside(inside: ir.Table) -> ir.Table:
    """Each group member's arrivals together with fellow members: ``group_id``,
    ``patient_id``, ``provider_id``, ``day``."""
    return (
        inside.select("group_id", "provider_id", "day", patient_id="a")
        .union(inside.select("group_id", "provider_id", "day", patient_id="b"))
        .distinct()
    )


def group_table(c: ir.Table, inside: ir.Table, edges: ir.Table, members: ir.Table) -> ir.Table:
    """One row per group: ``group_id``, ``group_size``, ``group_density`` (share of
    member pairs joined by a co-visit edge), ``group_days`` (days on which members
    arrived together), ``group_together_share`` (share of members' outpatient and
    pharmacy claims made together with a fellow member), ``group_regions`` (members'
    distinct home regions), ``providers`` (where they arrived together), ``main_provider``
    (where most often; ties to the smallest id), ``first_time`` and ``last_time``."""
    sizes = members.group_by("group_id").agg(group_size=members.member_id.count())
    ma = members.select(src="member_id", ga="group_id")
    mb = members.select(dst="member_id", gb="group_id")
    e = edges.inner_join(ma, "src").inner_join(mb, "dst")
    e = e.filter(e.ga == e.gb)
    n_edges = e.group_by(group_id=e.ga).agg(_edges=e.count())
    when = inside.group_by("group_id").agg(
        group_days=inside.day.nunique(),
        providers=inside.provider_id.nunique(),
        first_time=inside.first_time.min(),
        last_time=inside.last_time.max(),
    )
    per_provider = inside.group_by(["group_id", "provider_id"]).agg(_d=inside.day.nunique())
    order = ibis.window(
        group_by=per_provider.group_id,
        order_by=[ibis.desc(per_provider._d), per_provider.provider_id],
    )
    main = per_provider.mutate(_r=ibis.row_number().over(order))
    main = main.filter(main._r == 0).select("group_id", main_provider="provider_id")

    arrivals = _arrivals_inside(inside)
    together = arrivals.group_by("group_id").agg(_together=arrivals.count())
    visits = c.filter(c.visit_type != "inpatient")
    visits = visits.select("patient_id", "provider_id", "day", "patient_region").distinct()
    mine = visits.inner_join(members.select(patient_id="member_id", g="group_id"), "patient_id")
    own = mine.group_by(group_id=mine.g).agg(
        _visits=mine.count(), group_regions=mine.patient_region.nunique()
    )
    t = (
        sizes.left_join(n_edges, "group_id")
        .select(sizes.group_id, sizes.group_size, n_edges._edges)
        .left_join(when, "group_id")
        .drop("group_id_right")
        .left_join(main, "group_id")
        .drop("group_id_right")
        .left_join(together, "group_id")
        .drop("group_id_right")
        .left_join(own, "group_id")
        .drop("group_id_right")
    )
    pairs = t.group_size * (t.group_size - 1) / 2
    return t.select(
        "group_id",
        "group_size",
        group_density=_share(t._edges.fill_null(0), pairs),
        group_days=t.group_days.fill_null(0),
        group_together_share=_share(t._together.fill_null(0), t._visits.fill_null(0)).clip(
            upper=1.0
        ),
        group_regions=t.group_regions.fill_null(0),
        providers=t.providers.fill_null(0),
        main_provider=t.main_provider,
        first_time=t.first_time,
        last_time=t.last_time,
    )


def patient_group_features(groups: ir.Table, members: ir.Table) -> ir.Table:
    """Per group member: ``patient_id``, ``group_id`` and :data:`PATIENT_GROUP_FEATURES`
    of its group."""
    m = members.select(patient_id="member_id", group_id="group_id")
    j = m.inner_join(groups, "group_id")
    return j.select("patient_id", "group_id", *PATIENT_GROUP_FEATURES)


def provider_group_features(c: ir.Table, inside: ir.Table) -> ir.Table:
    """Per provider: ``ring_patients`` (group members who arrived here together with a
    fellow member), ``ring_days`` (days on which that happened), ``ring_patient_share``
    (of its distinct patients) and ``far_regions`` (distinct home regions of the patients
    it treated outside their region: a pharmacy collecting cards, 卡聚集)."""
    arrivals = _arrivals_inside(inside)
    ring = arrivals.group_by("provider_id").agg(
        ring_patients=arrivals.patient_id.nunique(), ring_days=arrivals.day.nunique()
    )
    patients = c.group_by("provider_id").agg(_patients=c.patient_id.nunique())
    far = c.filter(c.out_of_region.fill_null(False) & c.patient_region.notnull())
    far = far.group_by("provider_id").agg(far_regions=far.patient_region.nunique())
    t = patients.left_join(ring, "provider_id").drop("provider_id_right")
    t = t.left_join(far, "provider_id").drop("provider_id_right")
    return t.select(
        "provider_id",
        ring_patients=t.ring_patients.fill_null(0),
        ring_days=t.ring_days.fill_null(0),
        ring_patient_share=_share(t.ring_patients.fill_null(0), t._patients),
        far_regions=t.far_regions.fill_null(0),
    )


def doctor_group_features(c: ir.Table, members: ir.Table) -> ir.Table:
    """Per doctor: ``ring_patient_share``, the share of its distinct patients who belong
    to a group."""
    d = c.filter(c.doctor_id.notnull()).select("doctor_id", "patient_id").distinct()
    m = members.select(patient_id="member_id", _in=ibis.literal(1))
    j = d.left_join(m, "patient_id")
    per = j.group_by("doctor_id").agg(_n=j.count(), _in=j._in.fill_null(0).sum())
    return per.select("doctor_id", ring_patient_share=_share(per._in, per._n))


def member_provider_days(inside: ir.Table) -> ir.Table:
    """For a group's picture and its proof: ``group_id``, ``patient_id``,
    ``provider_id`` and ``days`` (days the member arrived there with fellow members)."""
    arrivals = _arrivals_inside(inside)
    return arrivals.group_by(["group_id", "patient_id", "provider_id"]).agg(
        days=arrivals.day.nunique()
    )
