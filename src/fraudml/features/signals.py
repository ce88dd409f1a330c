"""Label-free signals: schemes recognised by their shape before any audit labels them.

Each signal is a behaviour the bureaus name for a scheme, computed from a window's
claims alone, so that a scheme nobody has labelled yet can reach the risk score through
the anomaly model and the peers:

- card lending (冒名就医): a card used far from home at a provider it had never been to;
- gang swiping (组团空刷): the same people arriving at the same provider together on
  several days (a co-visit count; the network issue builds the full graph);
- group admissions (虚假住院): several stays admitted at one provider on one day for the
  same kind of illness.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: co-visits: arrivals at one provider within the same half hour
COVISIT_SLOT_MINUTES = 30


def covisit_pairs(c: ir.Table) -> ir.Table:
    """Patient pairs who arrived at the same provider in the same half hour, on two or
    more distinct days: ``provider_id``, ``a`` < ``b`` (patient ids) and ``days``.

    Outpatient and pharmacy claims only (a stay's admission time says little about
    arrival together).
    """
    v = (
        c.filter(c.visit_type != "inpatient")
        .select(
            "provider_id",
            "patient_id",
            "day",
            slot=c.admit_time.bucket(minutes=COVISIT_SLOT_MINUTES),
        )
        .distinct()
    )
    w = v.view()
    pairs = v.inner_join(
        w,
        [v.provider_id == w.provider_id, v.slot == w.slot, v.patient_id < w.patient_id],
    ).select(provider_id=v.provider_id, a=v.patient_id, b=w.patient_id, day=v.day)
    repeated = pairs.group_by(["provider_id", "a", "b"]).agg(days=pairs.day.nunique())
    return repeated.filter(repeated.days >= 2)


def covisit_partners(c: ir.Table) -> ir.Table:
    """Per patient with any: ``covisit_partners``, the distinct other patients it
    arrived with (:func:`covisit_pairs`) at any provider."""
    pairs = covisit_pairs(c)
    both = pairs.select(patient_id=pairs.a, partner=pairs.b).union(
        pairs.select(patient_id=pairs.b, partner=pairs.a)
    )
    return both.group_by("patient_id").agg(covisit_partners=both.partner.nunique())


def first_far_visits(c: ir.Table) -> ir.Table:
    """Each claim with ``far_first_visit``: 1 when it is the patient's first claim at
    that provider in the window and the provider lies outside the patient's region.

    Ties in time are settled by claim id, so the flag is the same from run to run.
    """
    order = ibis.window(group_by=[c.patient_id, c.provider_id], order_by=[c.admit_time, c.claim_id])
    first = ibis.row_number().over(order) == 0
    flagged = c.mutate(far_first_visit=(first & c.out_of_region).ifelse(1, 0))
    return flagged.select("claim_id", "patient_id", "far_first_visit")


def far_first_visits_per_patient(c: ir.Table) -> ir.Table:
    """Per patient: ``far_first_visits``, claims at providers outside its region it had
    not been to before in the window (:func:`first_far_visits`)."""
    flags = first_far_visits(c)
    return flags.group_by("patient_id").agg(far_first_visits=flags.far_first_visit.sum())


def same_day_admissions(c: ir.Table) -> ir.Table:
    """Each stay with ``same_day_admissions``: the other stays admitted at the same
    provider on the same day with the same diagnosis category (ICD-10's first three
    characters)."""
    stays = c.filter(c.visit_type == "inpatient")
    stays = stays.mutate(_category=stays.diagnosis_code.fill_null("").substr(0, 3))
    together = ibis.window(group_by=[stays.provider_id, stays.day, stays._category])
    return stays.select(
        "claim_id", same_day_admissions=(stays.count().over(together) - 1).cast("int64")
    )
