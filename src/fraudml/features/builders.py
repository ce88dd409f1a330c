"""Per-entity profiles as Ibis expressions: patient, provider, doctor.

Each builder returns one row per entity seen in the window, with the columns named in
:mod:`fraudml.features.registry` plus the spec's context columns
(:mod:`fraudml.entities`).
Aggregates of different grains are computed separately and joined on the entity key.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from fraudml.features import signals
from fraudml.graph.edges import covisit_days
from fraudml.window import Inputs, unregistered_chronic_claims


def _n(cond: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows meet ``cond``."""
    return cond.ifelse(1, 0).sum()


def _share(part: ir.NumericValue, whole: ir.NumericValue) -> ir.FloatingValue:
    return (part / whole.nullif(0)).fill_null(0.0)


def distinct_counts(t: ir.Table, key: str | list[str], **columns: str) -> ir.Table:
    """Per ``key``, how many distinct non-null values each of ``columns`` (name → column)
    takes, each counted by an aggregate of its own.

    Kept out of the wide aggregates on purpose: a distinct count beside ordinary
    aggregates makes DuckDB copy the whole input into a shared intermediate first and
    join the pieces back, which costs more than these separate, narrow aggregates.
    """
    parts = [t.group_by(key).agg(**{name: t[col].nunique()}) for name, col in columns.items()]
    counts = parts[0]
    for part in parts[1:]:
        counts = counts.inner_join(part, key)
    return counts


def attach(base: ir.Table, other: ir.Table, key: str, fill: float | None = 0) -> ir.Table:
    """Left-join ``other``'s columns onto ``base`` by ``key``; missing counts become ``fill``."""
    return attach_all(base, [other], key, fill)


def attach_all(
    base: ir.Table, others: list[ir.Table], key: str, fill: float | None = 0
) -> ir.Table:
    """Left-join the columns of each of ``others`` onto ``base`` by ``key``; missing
    values become ``fill`` (kept missing when ``None``).

    One chain of joins and one final select, rather than a join, a drop and a fill per
    table: a profile gathers a dozen such tables, and the nested selects took ibis a
    noticeable share of the run to compile.
    """
    joined = base
    attached: list[str] = []
    for i, other in enumerate(others):
        # the key under a name of its own: tables of one join may not share a column name
        other = other.rename({f"_key{i}": key})
        joined = joined.left_join(other, [(key, f"_key{i}")])
        for name in other.columns:
            if name == f"_key{i}":
                continue
            if name in base.columns or name in attached:
                raise ValueError(f"column {name!r} is attached twice")
            attached.append(name)
    out = {name: joined[name] for name in base.columns}
    for name in attached:
        out[name] = joined[name] if fill is None else joined[name].fill_null(fill)
    return joined.select(**out)


def _stays(c: ir.Table) -> ir.Table:
    """Inpatient stays with the previous discharge at the same provider (readmission)."""
    stays = c.filter(c.visit_type == "inpatient")
    prev = stays.discharge_time.lag().over(
        ibis.window(
            group_by=[stays.patient_id, stays.provider_id],
            order_by=[stays.admit_time, stays.claim_id],
        )
    )
    gap_days = stays.admit_time.delta(prev, unit="second") / 86400.0
    return stays.mutate(readmit=(gap_days <= 15).fill_null(False))


def _stay_pairs(c: ir.Table, stays: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Stays overlapping another stay of the same patient (``claim_id``, ``patient_id``,
    ``other``), and visits or purchases during a stay (``claim_id`` of the stay,
    ``patient_id``, ``visit_id``)."""
    a = stays.select("patient_id", "claim_id", "admit_time", "discharge_time")
    b = a.view()
    overlap = a.inner_join(
        b,
        [
            a.patient_id == b.patient_id,
            a.claim_id != b.claim_id,
            a.admit_time < b.discharge_time,
            b.admit_time < a.discharge_time,
        ],
    ).select(claim_id=a.claim_id, patient_id=a.patient_id, other=b.claim_id)
    visits = c.filter(c.visit_type.isin(["outpatient", "pharmacy", "emergency"])).select(
        "patient_id", visit_time="admit_time", visit_id="claim_id"
    )
    during = a.inner_join(
        visits,
        [
            a.patient_id == visits.patient_id,
            visits.visit_time > a.admit_time,
            visits.visit_time < a.discharge_time,
        ],
    ).select(claim_id=a.claim_id, patient_id=a.patient_id, visit_id=visits.visit_id)
    return overlap, during


def patient_profile(x: Inputs) -> ir.Table:
    c = x.claims
    base = c.group_by("patient_id").agg(
        gender=c.gender.arbitrary(),
        insurance_type=c.insurance_type.arbitrary(),
        age_band=c.age_band.max(),
        n_claims=c.count(),
        n_outpatient=_n(c.visit_type == "outpatient"),
        n_emergency=_n(c.visit_type == "emergency"),
        n_outpatient_chronic=_n(c.visit_type == "outpatient_chronic"),
        n_pharmacy=_n(c.visit_type == "pharmacy"),
        n_inpatient=_n(c.visit_type == "inpatient"),
        night_share=_n(c.night) / c.count(),
        weekend_share=_n(c.weekend) / c.count(),
        total_amount=c.total_amount.sum(),
        fund_paid=c.fund_paid.sum(),
        account_paid=c.account_paid.sum(),
        cash_paid=c.cash_paid.sum(),
    )
    base = base.mutate(
        fund_share=_share(base.fund_paid, base.total_amount),
        account_share=_share(base.account_paid, base.total_amount),
    )
    distinct = distinct_counts(
        c,
        "patient_id",
        n_providers="provider_id",
        n_doctors="doctor_id",
        n_regions="provider_region",
    )

    per_day = c.group_by(["patient_id", "day"]).agg(k=c.provider_id.nunique())
    multi = per_day.group_by("patient_id").agg(
        n_days=per_day.count(), days_multi_provider=_n(per_day.k >= 2)
    )

    order = ibis.window(group_by=c.patient_id, order_by=[c.admit_time, c.claim_id])
    w7 = ibis.window(
        group_by=c.patient_id,
        order_by=c.admit_time,
        range=(-ibis.interval(seconds=7 * 86400 - 1), ibis.interval(seconds=0)),
    )
    w30 = ibis.window(
        group_by=c.patient_id,
        order_by=c.admit_time,
        range=(-ibis.interval(seconds=30 * 86400 - 1), ibis.interval(seconds=0)),
    )
    seq = c.mutate(
        in7=c.count().over(w7),
        in30=c.count().over(w30),
        prev_region=c.provider_region.lag().over(order),
        prev_time=c.admit_time.lag().over(order),
    )
    switch = (seq.provider_region != seq.prev_region) & (
        seq.admit_time.delta(seq.prev_time, unit="second") <= 3600
    )
    bursts = seq.group_by("patient_id").agg(
        max_claims_7d=seq.in7.max(),
        max_claims_30d=seq.in30.max(),
        region_switch_1h=_n(switch.fill_null(False)),
    )

    stays = _stays(c)
    inpatient = stays.group_by("patient_id").agg(
        mean_los=stays.los.mean(), readmit_15d=_n(stays.readmit)
    )
    overlap, during = _stay_pairs(c, stays)
    overlap = overlap.group_by("patient_id").agg(overlapping_stays=overlap.claim_id.nunique())
    during = during.group_by("patient_id").agg(claims_during_stay=during.visit_id.nunique())

    label_free = [
        signals.covisit_partners(_covisit_days(x)),
        signals.far_first_visits_per_patient(_far(c)),
        signals.sessions_beyond_schedule(c),
        signals.pharmacy_payments(c),
    ]
    others = [distinct, multi, bursts, inpatient, overlap, during, *label_free]
    if x.registrations is not None:
        others.append(_chronic_unregistered(c, x.registrations))
    if x.fees is not None:
        others.append(_patient_fees(x.fees, x.days))
    return attach_all(base, others, "patient_id")


def _far(c: ir.Table) -> ir.Table:
    """The claims at providers outside the patient's region: the only ones a far first
    visit can be. Whether a claim is out of region depends on its patient and provider
    alone, so every claim of a (patient, provider) pair is kept or none is, and the first
    of a pair is the same as among all claims: the signal is unchanged, and its ordering
    window sorts these claims only (a third of them, typically) instead of all."""
    return c.filter(c.out_of_region)


def _chronic_unregistered(c: ir.Table, regs: ir.Table) -> ir.Table:
    missing = unregistered_chronic_claims(c, regs)
    return missing.group_by("patient_id").agg(chronic_unregistered=missing.count())


def _patient_fees(f: ir.Table, days: ir.NumericScalar) -> ir.Table:
    agg = f.group_by("patient_id").agg(
        drug_amount=f.drug_amount.sum(),
        _expensive=f.expensive_drug_amount.sum(),
        _packs=f.drug_packs.sum(),
        repeated_trace_lines=f.repeated_trace_lines.sum(),
        restricted_item_hits=f.breach_lines.sum(),
        fees_outside_stay=f.outside_stay_lines.sum(),
        _stay_fees=f.stay.ifelse(f.fees, 0.0).sum(),
        _stay_bed_nursing=f.stay.ifelse(f.bed_nursing_amount, 0.0).sum(),
    )
    agg = agg.mutate(
        expensive_drug_share=_share(agg._expensive, agg.drug_amount),
        drug_packs_per_30d=agg._packs * 30.0 / days,
        bed_nursing_share=_share(agg._stay_bed_nursing, agg._stay_fees),
    ).drop("_expensive", "_packs", "_stay_fees", "_stay_bed_nursing")
    drugs = f.filter(f.drug_lines > 0)
    providers = distinct_counts(drugs, "patient_id", drug_providers="provider_id")
    return attach(agg, providers, "patient_id")


def provider_profile(x: Inputs) -> ir.Table:
    c = x.claims
    outpatient = c.visit_type != "inpatient"
    base = c.group_by("provider_id").agg(
        provider_type=c.provider_type.arbitrary(),
        level=c.level.arbitrary(),
        n_claims=c.count(),
        total_amount=c.total_amount.sum(),
        fund_paid=c.fund_paid.sum(),
        cost_per_outpatient=outpatient.ifelse(c.total_amount, ibis.null("float64")).mean(),
        cost_per_admission=(~outpatient).ifelse(c.total_amount, ibis.null("float64")).mean(),
        admission_rate=_n(~outpatient) / c.count(),
        elderly_share=_n(c.age >= 60) / c.count(),
        out_of_region_share=_n(c.out_of_region) / c.count(),
        round_amount_share=_n((c.total_amount % 10).abs() < 0.005) / c.count(),
        night_share=_n(c.night) / c.count(),
        mean_patient_age=c.age.mean(),
        claim_amount_p90=c.total_amount.quantile(0.9),
        claim_amount_max=c.total_amount.max(),
        _amount_mean=c.total_amount.mean(),
        _amount_std=c.total_amount.std(),
    )
    distinct = distinct_counts(
        c,
        "provider_id",
        n_patients="patient_id",
        n_doctors="doctor_id",
        n_diagnoses="diagnosis_code",
    )
    base = attach(base, distinct, "provider_id")
    base = base.mutate(
        claim_amount_cv=_share(base._amount_std, base._amount_mean),
        claims_per_patient=base.n_claims / base.n_patients,
        cost_per_outpatient=base.cost_per_outpatient.fill_null(0.0),
        cost_per_admission=base.cost_per_admission.fill_null(0.0),
    ).drop("_amount_mean", "_amount_std")
    stays = _stays(c)
    inpatient = stays.group_by("provider_id").agg(
        mean_los=stays.los.mean(),
        p90_los=stays.los.quantile(0.9),
        max_los=stays.los.max(),
        inpatient_days=stays.los.sum(),
        readmit_rate=_n(stays.readmit) / stays.count(),
    )
    hours = c.group_by(["provider_id", c.admit_time.truncate("h").name("h")]).agg(k=c.count())
    burst = hours.group_by("provider_id").agg(max_claims_hour=hours.k.max())

    # a patient's providers counted on the (provider, patient) pairs, rather than by a
    # distinct count over every claim
    pairs = c.select("provider_id", "patient_id").distinct()
    per_patient = pairs.group_by("patient_id").agg(k=pairs.count())
    pairs = pairs.inner_join(per_patient, "patient_id")
    shared = pairs.group_by("provider_id").agg(
        shared_patient_providers=(pairs.k - 1).mean(),
        shared_patient_share=_n(pairs.k > 1) / pairs.count(),
    )
    others = [
        inpatient,
        burst,
        shared,
        _covisits(_covisit_days(x)),
        _linked_providers(c, "patient_id", "patient_linked_providers"),
        _shared_doctors(c),
        _linked_providers(c, "doctor_id", "doctor_linked_providers"),
        _top_diagnosis(c),
        signals.sessions_beyond_schedule_share(c, "provider_id"),
    ]
    if x.codes is not None:
        others.append(_code_mix(x.codes, c))
    if x.fees is not None:
        f = x.fees
        fees = f.group_by("provider_id").agg(
            _fees=f.fees.sum(),
            _drug=f.drug_amount.sum(),
            _exam_lab=f.exam_lab_amount.sum(),
            _material=f.material_amount.sum(),
            _treatment=f.treatment_amount.sum(),
            _ptc_sum=f.price_to_cap_sum.sum(),
            _ptc_n=f.price_to_cap_n.sum(),
            over_cap_lines=f.over_cap_lines.sum(),
            _near_cap=f.near_cap_lines.sum(),
            restricted_item_hits=f.breach_lines.sum(),
            repeated_trace_lines=f.repeated_trace_lines.sum(),
            _stays=_n(f.stay),
            _stay_fees=f.stay.ifelse(f.fees, 0.0).sum(),
            _stay_bed_nursing=f.stay.ifelse(f.bed_nursing_amount, 0.0).sum(),
            _no_care_stays=_n(f.stay & (f.care_lines == 0)),
        )
        fees = fees.mutate(
            drug_share=_share(fees._drug, fees._fees),
            exam_lab_share=_share(fees._exam_lab, fees._fees),
            material_share=_share(fees._material, fees._fees),
            treatment_share=_share(fees._treatment, fees._fees),
            price_to_cap=_share(fees._ptc_sum, fees._ptc_n),
            near_cap_share=_share(fees._near_cap, fees._ptc_n),
            bed_nursing_share=_share(fees._stay_bed_nursing, fees._stay_fees),
            bed_nursing_only_share=_share(fees._no_care_stays, fees._stays),
        )
        fees = fees.drop(*[col for col in fees.columns if col.startswith("_")])
        others.append(fees)
    return attach_all(base, others, "provider_id")


def _linked_providers(c: ir.Table, via: str, name: str) -> ir.Table:
    """Distinct other providers reached through a shared patient or doctor (``via``)."""
    a = c.filter(c[via].notnull()).select("provider_id", via).distinct()
    b = a.view()
    links = a.inner_join(b, [a[via] == b[via], a.provider_id != b.provider_id]).select(
        provider_id=a.provider_id, other=b.provider_id
    )
    return links.group_by("provider_id").agg(**{name: links.other.nunique()})


def _shared_doctors(c: ir.Table) -> ir.Table:
    """Share of a provider's billing doctors who also bill at another provider."""
    pairs = c.filter(c.doctor_id.notnull()).select("provider_id", "doctor_id").distinct()
    per_doctor = pairs.group_by("doctor_id").agg(k=pairs.provider_id.nunique())
    pairs = pairs.inner_join(per_doctor, "doctor_id")
    return pairs.group_by("provider_id").agg(shared_doctor_share=_n(pairs.k > 1) / pairs.count())


def _top_diagnosis(c: ir.Table) -> ir.Table:
    """Share of a provider's claims carrying its most frequent main diagnosis."""
    d = c.filter(c.diagnosis_code.notnull())
    counts = d.group_by(["provider_id", "diagnosis_code"]).agg(k=d.count())
    top = counts.group_by("provider_id").agg(_top=counts.k.max(), _all=counts.k.sum())
    return top.select("provider_id", top_diagnosis_share=_share(top._top, top._all))


def _claim_code_counts(codes: ir.Table) -> ir.Table:
    """Per claim: how many diagnoses and procedures it carries."""
    return codes.group_by("claim_id").agg(
        n_diagnosis_codes=_n(codes.kind == "diagnosis"),
        n_procedure_codes=_n(codes.kind == "procedure"),
    )


def _code_mix(codes: ir.Table, c: ir.Table) -> ir.Table:
    """A provider's diagnosis and procedure mix over all its claims (claims without codes
    count as zero)."""
    per_claim = attach(c.select("claim_id", "provider_id"), _claim_code_counts(codes), "claim_id")
    mix = per_claim.group_by("provider_id").agg(
        diagnoses_per_claim=per_claim.n_diagnosis_codes.mean(),
        procedures_per_claim=per_claim.n_procedure_codes.mean(),
        procedure_claim_share=_n(per_claim.n_procedure_codes > 0) / per_claim.count(),
        _claims=per_claim.count(),
    )
    distinct = codes.select("provider_id", "kind", "code").distinct()
    distinct = distinct.group_by("provider_id").agg(_codes=distinct.count())
    mix = attach(mix, distinct, "provider_id")
    return mix.mutate(codes_per_claim=_share(mix._codes, mix._claims)).drop("_claims", "_codes")


def _covisit_days(x: Inputs) -> ir.Table:
    """The window's dated co-visits: the network's (computed once by
    :func:`fraudml.graph.window_graph`) when profiles are built, else made here."""
    return x.covisits if x.covisits is not None else covisit_days(x.claims)


def _covisits(days: ir.Table) -> ir.Table:
    """Patient pairs at the same provider within half an hour, on two or more days."""
    repeated = signals.covisit_pairs(days)
    return repeated.group_by("provider_id").agg(covisit_pairs=repeated.count())


def _most_frequent(c: ir.Table, key: str, column: str) -> ir.Table:
    """Each ``key``'s most frequent ``column`` value; ties go to the smallest value, so
    the answer (and the peer group it picks) is the same on every run."""
    counts = c.group_by([key, column]).agg(_n=c.count())
    order = ibis.window(group_by=counts[key], order_by=[ibis.desc(counts._n), counts[column]])
    ranked = counts.mutate(_rank=ibis.row_number().over(order))
    return ranked.filter(ranked._rank == 0).select(key, column)


def doctor_profile(x: Inputs) -> ir.Table:
    # Every aggregate below groups all claims by doctor and only the base drops the group
    # of claims without one (the others join to the base, and a missing id matches
    # nothing): filtering the claims first instead gives the engine a shared filtered copy
    # of every claim to hold, which costs more than the one extra group per aggregate.
    c = x.claims
    base = c.group_by("doctor_id").agg(n_claims=c.count(), cost_per_visit=c.total_amount.mean())
    base = base.filter(base.doctor_id.notnull())
    most = [
        _most_frequent(c, "doctor_id", "department"),
        _most_frequent(c, "doctor_id", "provider_id"),
    ]
    base = attach_all(base, most, "doctor_id", fill=None)
    distinct = distinct_counts(c, "doctor_id", n_patients="patient_id", n_providers="provider_id")
    per_day = c.group_by(["doctor_id", "day"]).agg(k=c.patient_id.nunique())
    daily = per_day.group_by("doctor_id").agg(
        patients_per_day=per_day.k.mean(), max_patients_day=per_day.k.max()
    )
    others = [distinct, daily, signals.sessions_beyond_schedule_share(c, "doctor_id")]
    if x.doctors is not None:
        # the registration and the suspension only where the data fills them: their
        # features are dropped (and listed) otherwise, never computed on empty columns.
        # Read over the year up to the window's end (window.claims.HISTORY_DAYS), not the
        # window alone: a doctor who billed while suspended in spring still is one in the
        # autumn's window
        practice = signals.practice_breaches(
            c if x.history is None else x.history,
            x.doctors,
            registration="doctors.registered_departments" in x.tables,
            suspension="doctors.suspended_from" in x.tables,
        )
        others.append(practice)
    if x.fees is not None:
        f = x.fees.filter(x.fees.doctor_id.notnull())
        fees = f.group_by("doctor_id").agg(
            _lines=f.exam_lab_lines.sum(),
            _visits=f.count(),
            _fees=f.fees.sum(),
            _drug=f.drug_amount.sum(),
            _near_cap=f.near_cap_lines.sum(),
            _capped=f.price_to_cap_n.sum(),
            restricted_item_hits=f.breach_lines.sum(),
        )
        fees = fees.mutate(
            exam_lab_per_visit=_share(fees._lines, fees._visits),
            drug_share=_share(fees._drug, fees._fees),
            near_cap_share=_share(fees._near_cap, fees._capped),
        )
        fees = fees.drop(*[col for col in fees.columns if col.startswith("_")])
        others.append(fees)
    return attach_all(base, others, "doctor_id")


def stay_profile(x: Inputs) -> ir.Table:
    """One row per inpatient claim (stay) admitted in the window."""
    c = x.claims
    stays = _stays(c)
    base = stays.select(
        "claim_id",
        "patient_id",
        "provider_id",
        "level",
        "admit_time",
        diagnosis_group=stays.diagnosis_code.fill_null("").substr(0, 3),
        los_days=stays.los,
        total_amount=stays.total_amount,
        fund_paid=stays.fund_paid,
        fees_per_day=stays.total_amount / ibis.greatest(stays.los, 1),
        readmission_15d=stays.readmit.ifelse(1, 0),
        age=stays.age,
    )
    overlap, during = _stay_pairs(c, stays)
    overlap = overlap.group_by("claim_id").agg(overlapping_stays=overlap.other.nunique())
    during = during.group_by("claim_id").agg(claims_during_stay=during.visit_id.nunique())
    others = [overlap, during, signals.same_day_admissions(c)]
    if x.codes is not None:
        others.append(_claim_code_counts(x.codes))
    if x.fees is not None:
        f = x.fees
        fees = f.select(
            "claim_id",
            n_lines=f.n_lines,
            drug_share=_share(f.drug_amount, f.fees),
            exam_lab_share=_share(f.exam_lab_amount, f.fees),
            material_share=_share(f.material_amount, f.fees),
            restricted_item_hits=f.breach_lines,
            fees_outside_stay=f.outside_stay_lines,
            repeated_trace_lines=f.repeated_trace_lines,
            near_cap_lines=f.near_cap_lines,
            bed_nursing_share=_share(f.bed_nursing_amount, f.fees),
            bed_nursing_only=(f.care_lines == 0).ifelse(1, 0),
        )
        others.append(fees)
    return attach_all(base, others, "claim_id")


def visit_profile(x: Inputs) -> ir.Table:
    """One row per outpatient, emergency, chronic-disease or pharmacy claim (a visit)."""
    c = x.claims
    visits = c.filter(c.visit_type != "inpatient")
    week = ibis.window(
        group_by=visits.patient_id,
        order_by=visits.admit_time,
        range=(-ibis.interval(seconds=7 * 86400 - 1), ibis.interval(seconds=0)),
    )
    # Providers per patient and day as an aggregate joined back, not a distinct count over
    # a second window: two windows of different partitions in one select make the engine
    # sort every visit twice, and a distinct count over a window is dear in itself.
    pairs = visits.select("patient_id", "day", "provider_id").distinct()
    per_day = pairs.group_by(["patient_id", "day"]).agg(patient_providers_day=pairs.count())
    visits = visits.mutate(patient_claims_7d=visits.count().over(week)).inner_join(
        per_day, ["patient_id", "day"]
    )
    base = visits.select(
        "claim_id",
        "patient_id",
        "provider_id",
        "doctor_id",
        "visit_type",
        "department",
        "admit_time",
        total_amount=visits.total_amount,
        fund_paid=visits.fund_paid,
        account_share=_share(visits.account_paid, visits.total_amount),
        night=visits.night.ifelse(1, 0),
        weekend=visits.weekend.ifelse(1, 0),
        out_of_region=visits.out_of_region.fill_null(False).ifelse(1, 0),
        age=visits.age,
        patient_claims_7d=visits.patient_claims_7d,
        patient_providers_day=visits.patient_providers_day,
    )
    others = [signals.first_far_visits(_far(c)).select("claim_id", "far_first_visit")]
    if x.fees is not None:
        f = x.fees
        fees = f.select(
            "claim_id",
            n_lines=f.n_lines,
            drug_share=_share(f.drug_amount, f.fees),
            expensive_drug_share=_share(f.expensive_drug_amount, f.drug_amount),
            exam_lab_lines=f.exam_lab_lines,
            exam_lab_share=_share(f.exam_lab_amount, f.fees),
            material_share=_share(f.material_amount, f.fees),
            price_to_cap=_share(f.price_to_cap_sum, f.price_to_cap_n),
            restricted_item_hits=f.breach_lines,
            repeated_trace_lines=f.repeated_trace_lines,
            near_cap_lines=f.near_cap_lines,
        )
        others.append(fees)
    return attach_all(base, others, "claim_id")


BUILDERS = {
    "patient": patient_profile,
    "provider": provider_profile,
    "doctor": doctor_profile,
    "stay": stay_profile,
    "visit": visit_profile,
}
