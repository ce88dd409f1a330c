"""Label-free signals: schemes recognised by their shape before any audit labels them.

Each signal is a behaviour the bureaus name for a scheme, computed from a window's
claims alone, so that a scheme nobody has labelled yet can reach the risk score through
the anomaly model and the peers:

- card lending (冒名就医): a card used far from home at a provider it had never been to;
- gang swiping (组团空刷): the same people arriving at the same provider together on
  several days (a co-visit count; the network issue builds the full graph);
- group admissions (虚假住院): several stays admitted at one provider on one day for the
  same kind of illness;
- dialysis billed beyond its schedule (虚假门特, 透析超频次): more hemodialysis sessions in
  a week than the three a dialysis schedule holds;
- account cashing (套刷个人账户): pharmacy purchases paid from the personal account, at
  round totals;
- practitioner breaches (执业违规): a doctor billing while its fund-payment qualification
  is suspended, in a department it is not registered for, or at a provider other than its
  employer (read against the ``doctors`` table), and more patients in one day than a
  person can see.

Signals read from fee lines (prices pinned just under the cap for item substitution,
bed- and nursing-only stays for ghost admissions) are summed per claim with the other
fee-line counts (:func:`fraudml.window.claim_fees`) and gathered by the builders.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

#: hemodialysis sessions a week a dialysis schedule holds (three, for end-stage renal
#: disease); the claims' department names the sessions
DIALYSIS_DEPARTMENT = "hemodialysis"
DIALYSIS_PER_WEEK = 3
#: a total is round when it is a whole multiple of this many yuan
ROUND_TOTAL = 10.0


def covisit_pairs(days: ir.Table) -> ir.Table:
    """Patient pairs who arrived at the same provider within half an hour of each other
    on two or more distinct days: ``provider_id``, ``a`` < ``b`` (patient ids) and
    ``days``, from the window's dated co-visits (:func:`fraudml.graph.edges.covisit_days`,
    computed once per window for the network and these signals alike)."""
    repeated = days.group_by(["provider_id", "a", "b"]).agg(days=days.day.nunique())
    return repeated.filter(repeated.days >= 2)


def covisit_partners(days: ir.Table) -> ir.Table:
    """Per patient with any: ``covisit_partners``, the distinct other patients it
    arrived with (:func:`covisit_pairs`) at any provider."""
    pairs = covisit_pairs(days)
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


def dialysis_weeks(c: ir.Table, *by: str) -> ir.Table:
    """Hemodialysis sessions per patient and ISO week (Monday to Sunday), and per the
    further keys ``by`` (provider, doctor): ``sessions``, the distinct days with a claim
    of the hemodialysis department (two settlements of one day are one session), and
    ``beyond``, the sessions above :data:`DIALYSIS_PER_WEEK`."""
    d = c.filter(c.department == DIALYSIS_DEPARTMENT)
    d = d.filter(*[d[k].notnull() for k in by]) if by else d
    d = d.select(*by, "patient_id", "day", week=d.day.truncate("W")).distinct()
    weeks = d.group_by([*by, "patient_id", "week"]).agg(sessions=d.count())
    beyond = ibis.greatest(weeks.sessions - DIALYSIS_PER_WEEK, 0).cast("int64")
    return weeks.mutate(beyond=beyond)


def sessions_beyond_schedule(c: ir.Table) -> ir.Table:
    """Per patient with a hemodialysis session: ``sessions_beyond_schedule``, the sessions
    above three in each ISO week, summed over the window's weeks
    (:func:`dialysis_weeks`)."""
    weeks = dialysis_weeks(c)
    return weeks.group_by("patient_id").agg(sessions_beyond_schedule=weeks.beyond.sum())


def sessions_beyond_schedule_share(c: ir.Table, key: str) -> ir.Table:
    """Per ``key`` (``provider_id``, ``doctor_id``) with hemodialysis sessions:
    ``sessions_beyond_schedule_share``, the share of its sessions that lie beyond three a
    week for one patient there (:func:`dialysis_weeks` per ``key``, patient and week; a
    patient's sessions elsewhere count for the patient, not for it)."""
    weeks = dialysis_weeks(c, key)
    agg = weeks.group_by(key).agg(_beyond=weeks.beyond.sum(), _sessions=weeks.sessions.sum())
    return agg.select(key, sessions_beyond_schedule_share=agg._beyond / agg._sessions)


def round_total(c: ir.Table) -> ir.BooleanValue:
    """Whether a claim's total is a positive whole multiple of :data:`ROUND_TOTAL` yuan
    (to the cent)."""
    t = c.total_amount
    whole = (t / ROUND_TOTAL).round() * ROUND_TOTAL
    return (t > 0.005) & ((t - whole).abs() < 0.005)


def pharmacy_payments(c: ir.Table) -> ir.Table:
    """Per patient with a pharmacy purchase: ``pharmacy_account_share``, the share of its
    pharmacy spending paid from the personal account, and ``pharmacy_round_share``, the
    share of its pharmacy purchases with a round total (:func:`round_total`)."""
    ph = c.filter(c.visit_type == "pharmacy")
    agg = ph.group_by("patient_id").agg(
        _account=ph.account_paid.sum(),
        _total=ph.total_amount.sum(),
        _round=round_total(ph).ifelse(1, 0).sum(),
        _n=ph.count(),
    )
    return agg.select(
        "patient_id",
        pharmacy_account_share=(agg._account / agg._total.nullif(0)).fill_null(0.0),
        pharmacy_round_share=agg._round / agg._n,
    )


def _in_list(value: ir.StringValue, listed: ir.StringValue) -> ir.BooleanValue:
    """Whether ``value`` is one of the ``;``-separated codes of ``listed``, spaces ignored:
    the test the practitioner rule ``DOC-DEPT`` makes (``in_list`` of the rule base)."""
    wrapped = ibis.literal(";").concat(listed.replace(" ", "")).concat(";")
    return wrapped.contains(ibis.literal(";").concat(value).concat(";"))


def practice_breaches(
    c: ir.Table, doctors: ir.Table, *, registration: bool, suspension: bool
) -> ir.Table:
    """Per doctor with a claim, its claims read against its own row of ``doctors``:

    - ``other_provider_share``: the share of its claims at a provider other than its
      employer (``doctors.provider_id``; 非注册机构执业);
    - ``unregistered_department_share`` (when ``registration``): the share of its claims
      with a department that lie in one it is not registered for
      (``doctors.registered_departments``; 超执业范围). A doctor without a registration
      has 0: no registration is no evidence either way;
    - ``claims_while_suspended`` (when ``suspension``): its claims on a day of its
      suspension, ``suspended_from`` to ``suspended_to`` both included, open while
      ``suspended_to`` is empty (暂停医保支付资格期间结算);
    - ``practice_breach_claims`` (when both): its claims that break any of the three.

    A doctor's own counts, not the sum of the rule hits on its claims: a doctor who billed
    many patients' scheme claims collects more hits than one who billed three claims while
    suspended, and would drown it out. A doctor id that no row of ``doctors`` has counts
    as at its employer, registered and never suspended.
    """
    cols = {"_employer": doctors.provider_id}
    if registration:
        cols["_registered"] = doctors.registered_departments
    if suspension:
        cols["_from"] = doctors.suspended_from.cast("date")
        # an open suspension has no end; a source without the column has only open ones
        has_end = "suspended_to" in doctors.columns
        cols["_to"] = doctors.suspended_to.cast("date") if has_end else ibis.null("date")
    d = doctors.select(_doctor=doctors.doctor_id, **cols)
    billed = c.filter(c.doctor_id.notnull()).select("doctor_id", "provider_id", "department", "day")
    t = billed.left_join(d, billed.doctor_id == d._doctor)
    elsewhere = (t._employer.notnull() & (t.provider_id != t._employer)).fill_null(False)
    aggs = {"_n": t.count(), "_elsewhere": elsewhere.ifelse(1, 0).sum()}
    if registration:
        judged = t.department.notnull() & t._registered.notnull()
        outside = (judged & ~_in_list(t.department, t._registered)).fill_null(False)
        aggs |= {
            "_with_department": t.department.notnull().ifelse(1, 0).sum(),
            "_outside": outside.ifelse(1, 0).sum(),
        }
    if suspension:
        during = t._from.notnull() & (t.day >= t._from) & (t._to.isnull() | (t.day <= t._to))
        aggs["claims_while_suspended"] = during.fill_null(False).ifelse(1, 0).sum()
    if registration and suspension:
        # one count only where all three can be read: with a part missing it would mean
        # less on one dataset than on another under the same name
        breach = elsewhere | outside | during.fill_null(False)
        aggs["practice_breach_claims"] = breach.ifelse(1, 0).sum()
    agg = t.group_by("doctor_id").agg(**aggs)
    out = {"other_provider_share": agg._elsewhere / agg._n}
    if registration:
        share = agg._outside / agg._with_department.nullif(0)
        out["unregistered_department_share"] = share.fill_null(0.0)
    if suspension:
        out["claims_while_suspended"] = agg.claims_while_suspended
    if registration and suspension:
        out["practice_breach_claims"] = agg.practice_breach_claims
    return agg.select("doctor_id", **out)
