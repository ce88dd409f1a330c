"""The fraud schemes supervision bureaus name, planted into the ledger with labels.

Each scheme is one function ``plant_<name>(ctx, cfg)``: it picks complicit entities,
writes their claims and fee lines through the ledger, and records labels with the date
the fraud became known (an audit some months after it began). ``docs/schemes.md``
describes each in Chinese and English with the signals that should reveal it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fraudml.synth.care import (
    COMMON_DRUGS,
    INPATIENT_BASE,
    Slot,
    _subset,
    add_slot_items,
    sample_times,
)
from fraudml.synth.ledger import ClaimRefs, Ledger
from fraudml.synth.world import World


@dataclass
class SchemeConfig:
    """How much of a scheme the city holds.

    Parameters
    ----------
    prevalence : float
        Share of eligible entities (providers, patients or doctors) that take part.
    start : str, optional
        First day of the scheme (ISO date); default a quarter into the period.
    subtlety : float
        0 = blatant, 1 = hard to see: scales intensity down and blends with normal care.
    """

    prevalence: float = 0.04
    start: str | None = None
    subtlety: float = 0.3


@dataclass
class Context:
    ledger: Ledger
    rng: np.random.Generator
    labels: list[dict] = field(default_factory=list)
    #: the simulator's label delay, in days (min, max)
    delay: tuple[int, int] = (60, 240)

    @property
    def world(self) -> World:
        return self.ledger.world

    def start(self, cfg: SchemeConfig) -> np.datetime64:
        if cfg.start:
            return np.datetime64(cfg.start, "D")
        w = self.world
        return w.start + (w.end - w.start) // 4

    def decided(self, start: np.datetime64) -> np.datetime64:
        return start + np.timedelta64(int(self.rng.integers(*self.delay)), "D")

    def label(self, entity_type: str, ids, scheme: str, decided: np.datetime64) -> None:
        for i in np.atleast_1d(ids):
            self.labels.append(
                {
                    "entity_type": entity_type,
                    "entity_id": str(i),
                    "label": 1,
                    "scheme": scheme,
                    "decided_at": decided,
                    "source": "synthetic",
                }
            )

    def pick(self, candidates: np.ndarray, prevalence: float, at_least: int = 1) -> np.ndarray:
        if candidates.size == 0:
            return candidates
        k = min(candidates.size, max(at_least, round(prevalence * candidates.size)))
        return np.sort(self.rng.choice(candidates, k, replace=False))

    def days(self, start: np.datetime64, n: int) -> np.ndarray:
        span = int((self.world.end - start).astype(int))
        return start + self.rng.integers(0, max(span, 1), n).astype("timedelta64[D]")

    def outpatient_visits(
        self,
        prov: int,
        cfg: SchemeConfig,
        per_month: float,
        department: str,
        diagnosis: str,
        scheme: str,
        patients: np.ndarray | None = None,
    ) -> tuple[ClaimRefs, np.datetime64]:
        """Outpatient visits billed by a complicit ``prov`` from the scheme's start on."""
        rng, w = self.rng, self.world
        start = self.start(cfg)
        decided = self.decided(start)
        n = max(5, rng.poisson(per_month * _intensity(cfg) * _months(self, start)))
        pool = np.arange(len(w.patients)) if patients is None else patients
        pat = rng.choice(pool, n)
        when = sample_times(w, rng, n, "outpatient", self.days(start, n))
        refs = self.ledger.add_claims(
            pat,
            np.full(n, prov),
            "outpatient",
            department,
            when,
            diagnosis,
            scheme=scheme,
            decided=decided,
        )
        return refs, decided

    def provider_id(self, pos):
        return self.world.providers["provider_id"].to_numpy()[pos]

    def patient_id(self, pos):
        return self.world.patients["patient_id"].to_numpy()[pos]


def _intensity(cfg: SchemeConfig) -> float:
    return 1.0 - 0.7 * float(np.clip(cfg.subtlety, 0, 1))


def _months(ctx: Context, start: np.datetime64) -> float:
    return max(float((ctx.world.end - start).astype(int)) / 30.4, 0.0)


def _other_region_patients(ctx: Context, region: str, n: int) -> np.ndarray:
    regions = ctx.world.patients["region"].to_numpy()
    pool = np.flatnonzero(regions != region)
    pool = pool if pool.size else np.arange(regions.size)
    return ctx.rng.choice(pool, min(n, pool.size), replace=False)


# --------------------------------------------------------------------------- schemes
def plant_phantom_billing(ctx: Context, cfg: SchemeConfig) -> None:
    """空刷: a pharmacy or clinic swipes collected cards for drugs never dispensed."""
    w, rng, name = ctx.world, ctx.rng, "phantom_billing"
    cands = np.concatenate([w.providers_of("pharmacy"), w.providers_of("clinic")])
    cands = cands[~w.providers.specialist.to_numpy()[cands]]
    for prov in ctx.pick(cands, cfg.prevalence):
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        cards = _other_region_patients(
            ctx, w.providers.region.iloc[prov], int(rng.integers(15, 40))
        )
        swipes = rng.poisson(3 * _intensity(cfg) * _months(ctx, start), cards.size)
        pat = np.repeat(cards, swipes)
        when = ctx.days(start, pat.size).astype("datetime64[s]")
        # after hours: the cards are swiped when nobody is there
        hour = np.where(
            rng.random(pat.size) < 0.4 + 0.4 * _intensity(cfg),
            rng.choice([21, 22, 23, 6, 7], pat.size),
            rng.integers(9, 18, pat.size),
        )
        when = when + (hour * 3600 + rng.integers(0, 3600, pat.size)).astype("timedelta64[s]")
        kind = w.providers.provider_type.iloc[prov]
        refs = ctx.ledger.add_claims(
            pat,
            np.full(pat.size, prov),
            "pharmacy" if kind == "pharmacy" else "outpatient",
            "pharmacy" if kind == "pharmacy" else "general",
            when,
            None if kind == "pharmacy" else "J06.9",
            scheme=name,
            decided=decided,
        )
        add_slot_items(
            ctx.ledger,
            refs,
            (Slot(("ZC004", "XD007", "ZC001", "XD002"), lines=(1, 2), qty=(2, 4), trace=True),),
        )
        ctx.label("provider", ctx.provider_id(prov), name, decided)
        ctx.label("patient", ctx.patient_id(cards[swipes > 0]), name, decided)


def plant_gang_swiping(ctx: Context, cfg: SchemeConfig) -> None:
    """组团空刷: a recruited group visits the same provider together, again and again."""
    w, rng, name = ctx.world, ctx.rng, "gang_swiping"
    cands = np.concatenate([w.providers_of("clinic"), w.providers_of("hospital", 1)])
    for prov in ctx.pick(cands, cfg.prevalence):
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        elderly = np.flatnonzero(w.age >= 55)
        gang = rng.choice(elderly, min(int(rng.integers(6, 16)), elderly.size), replace=False)
        outings = max(2, rng.poisson(2.5 * _intensity(cfg) * _months(ctx, start)))
        t0 = ctx.days(start, outings).astype("datetime64[s]") + np.timedelta64(9 * 3600, "s")
        pat = np.tile(gang, outings)
        # the whole group within half an hour
        when = np.repeat(t0, gang.size) + rng.integers(0, 1800, pat.size).astype("timedelta64[s]")
        refs = ctx.ledger.add_claims(
            pat,
            np.full(pat.size, prov),
            "outpatient",
            "general",
            when,
            "I10",
            scheme=name,
            decided=decided,
        )
        add_slot_items(
            ctx.ledger,
            refs,
            (
                Slot(("CN001",)),
                Slot(("LB001", "LB003", "LB006"), lines=(2, 3)),
                Slot(("EX003", "EX002"), p=0.8),
                Slot(("ZC005", "XD006"), qty=(2, 3), trace=True),
            ),
        )
        ctx.label("provider", ctx.provider_id(prov), name, decided)
        ctx.label("patient", ctx.patient_id(gang), name, decided)


def plant_account_cashing(ctx: Context, cfg: SchemeConfig) -> None:
    """套刷个人账户: employees turn personal-account balance into cash at a pharmacy."""
    w, rng, name = ctx.world, ctx.rng, "account_cashing"
    pharmacies = w.providers_of("pharmacy")
    pharmacies = pharmacies[~w.providers.specialist.to_numpy()[pharmacies]]
    employees = np.flatnonzero(w.patients.insurance_type.to_numpy() == "employee")
    for prov in ctx.pick(pharmacies, cfg.prevalence):
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        # a fixed circle of customers per pharmacy: the scheme scales with pharmacies only
        people = np.sort(
            rng.choice(employees, min(int(rng.integers(5, 16)), employees.size), replace=False)
        )
        k = rng.poisson(8 * _intensity(cfg) * _months(ctx, start), people.size)
        pat = np.repeat(people, k)
        refs = ctx.ledger.add_claims(
            pat,
            np.full(pat.size, prov),
            "pharmacy",
            "pharmacy",
            sample_times(w, rng, pat.size, "pharmacy", ctx.days(start, pat.size)),
            None,
            scheme=name,
            decided=decided,
        )
        add_slot_items(
            ctx.ledger,
            refs,
            (Slot(("ZC004", "HB003", "ZC003"), lines=(1, 2), qty=(1, 3), trace=True),),
        )
        ctx.label("provider", ctx.provider_id(prov), name, decided)
        ctx.label("patient", ctx.patient_id(people[k > 0]), name, decided)


def plant_drug_reselling(ctx: Context, cfg: SchemeConfig) -> None:
    """倒卖/回流: patients hoard costly drugs across providers; a pharmacy resells the packs."""
    w, rng, name = ctx.world, ctx.rng, "drug_reselling"
    ledger = ctx.ledger
    pharmacies = w.providers_of("pharmacy")
    hospitals = w.providers_of("hospital")
    resellers = ctx.pick(pharmacies[~w.providers.specialist.to_numpy()[pharmacies]], cfg.prevalence)
    candidates = np.flatnonzero(w.age >= 40)
    for reseller in resellers:
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        hoarders = np.sort(
            rng.choice(candidates, min(int(rng.integers(3, 9)), candidates.size), replace=False)
        )
        k = rng.poisson(6 * _intensity(cfg) * _months(ctx, start), hoarders.size)
        pat = np.repeat(hoarders, k)
        prov = rng.choice(np.concatenate([hospitals, pharmacies]), pat.size)
        is_pharm = w.providers.provider_type.to_numpy()[prov] == "pharmacy"
        refs = ledger.add_claims(
            pat,
            prov,
            np.where(is_pharm, "pharmacy", "outpatient"),
            np.where(is_pharm, "pharmacy", "internal"),
            sample_times(w, rng, pat.size, "outpatient", ctx.days(start, pat.size)),
            np.where(is_pharm, None, "I25.1"),
            scheme=name,
            decided=decided,
        )
        before = len(ledger._items)
        add_slot_items(
            ledger, refs, (Slot(("XD007", "XD005", "ZC004"), lines=(1, 1), qty=(3, 6), trace=True),)
        )
        sold = [b for b in ledger._items[before:]]
        codes = np.concatenate([b["trace_code"] for b in sold])
        items = np.concatenate([b["item_code"] for b in sold])
        times = np.concatenate([b["item_time"] for b in sold])
        has = np.array([c is not None for c in codes])
        codes, items, times = codes[has], items[has], times[has]
        # 回流: some packs come back and are sold (and claimed) again by the reseller
        back = rng.random(codes.size) < 0.5 * _intensity(cfg) + 0.2
        if back.any():
            buyers = rng.choice(candidates, back.sum())
            when = times[back] + rng.integers(3, 40, back.sum()).astype("timedelta64[D]")
            keep = when < w.end.astype("datetime64[s]")
            if keep.any():
                resold = ledger.add_claims(
                    buyers[keep],
                    np.full(keep.sum(), reseller),
                    "pharmacy",
                    "pharmacy",
                    when[keep],
                    None,
                    scheme=name,
                    decided=decided,
                )
                ledger.add_items(
                    resold.ref,
                    items[back][keep],
                    1.0,
                    when[keep],
                    provider=resold.provider,
                    trace_code=codes[back][keep],
                )
        ctx.label("provider", ctx.provider_id(reseller), name, decided)
        ctx.label("patient", ctx.patient_id(hoarders[k > 0]), name, decided)


def plant_fake_admission(ctx: Context, cfg: SchemeConfig) -> None:
    """虚假住院/挂床: admissions with little care; the 'patient' is seen elsewhere meanwhile."""
    w, rng, name = ctx.world, ctx.rng, "fake_admission"
    ledger = ctx.ledger
    cands = np.concatenate([w.providers_of("hospital", 1), w.providers_of("hospital", 2)])
    for prov in ctx.pick(cands, cfg.prevalence):
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        n = max(3, rng.poisson(4 * _intensity(cfg) * _months(ctx, start)))
        pat = rng.choice(np.flatnonzero(w.age >= 50), n)
        admit = sample_times(w, rng, n, "inpatient", ctx.days(start, n))
        days = rng.integers(7, 15, n)
        refs = ledger.add_claims(
            pat,
            np.full(n, prov),
            "inpatient",
            "internal",
            admit,
            rng.choice(np.array(["I10", "M54.5", "E11.9"]), n),
            days=days,
            scheme=name,
            decided=decided,
        )
        add_slot_items(
            ledger,
            refs,
            (
                Slot(("BD001",), daily=True),
                Slot(("NS001",), daily=True),
                Slot(("XD011", "XD012"), qty=(2, 4)),
                Slot(("LB001",), p=0.5),
            ),
        )
        # 挂床: the same person fills prescriptions at a pharmacy during the stay
        hang = rng.random(n) < 0.4 + 0.4 * _intensity(cfg)
        if hang.any():
            inside = admit[hang] + (rng.integers(1, 5, hang.sum()) * 86400).astype("timedelta64[s]")
            pharm = rng.choice(w.providers_of("pharmacy"), hang.sum())
            out = ledger.add_claims(pat[hang], pharm, "pharmacy", "pharmacy", inside, None)
            add_slot_items(ledger, out, (Slot(COMMON_DRUGS, trace=True),))
        ctx.label("provider", ctx.provider_id(prov), name, decided)
        ctx.label("patient", ctx.patient_id(np.unique(pat)), name, decided)


def plant_split_admission(ctx: Context, cfg: SchemeConfig) -> None:
    """分解住院: one stay billed as two, readmitted within days at the same hospital."""
    w, rng, name = ctx.world, ctx.rng, "split_admission"
    ledger = ctx.ledger
    for prov in ctx.pick(w.providers_of("hospital"), cfg.prevalence):
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        n = max(3, rng.poisson(5 * _intensity(cfg) * _months(ctx, start)))
        pat = rng.choice(np.flatnonzero(w.age >= 45), n)
        diag = rng.choice(np.array(["I63.9", "J44.1", "I50.9"]), n)
        first = sample_times(w, rng, n, "inpatient", ctx.days(start, n))
        d1 = rng.integers(5, 10, n)
        gap = rng.integers(1, 11, n)  # readmitted 1-10 days after discharge
        second = first + ((d1 + gap) * 86400).astype("timedelta64[s]")
        ok = second < (w.end - np.timedelta64(12, "D")).astype("datetime64[s]")
        pat, diag, first, d1, second = pat[ok], diag[ok], first[ok], d1[ok], second[ok]
        d2 = rng.integers(4, 9, pat.size)
        a = ledger.add_claims(
            pat,
            np.full(pat.size, prov),
            "inpatient",
            "internal",
            first,
            diag,
            days=d1,
            scheme=name,
            decided=decided,
        )
        b = ledger.add_claims(
            pat,
            np.full(pat.size, prov),
            "inpatient",
            "internal",
            second,
            diag,
            days=d2,
            scheme=name,
            decided=decided,
        )
        add_slot_items(ledger, a, INPATIENT_BASE)
        add_slot_items(ledger, b, INPATIENT_BASE)
        ctx.label("provider", ctx.provider_id(prov), name, decided)


def plant_over_treatment(ctx: Context, cfg: SchemeConfig) -> None:
    """过度诊疗/过度检查: doctors order tests and exams far beyond their peers."""
    w, rng, name = ctx.world, ctx.rng, "over_treatment"
    ledger = ctx.ledger
    docs = w.doctors
    at_hospital = w.providers.provider_type.to_numpy()[docs.provider_pos] == "hospital"
    clinical = docs.department.isin(
        [
            "internal",
            "cardiology",
            "orthopedics",
            "general",
            "gynecology",
            "urology",
            "pediatrics",
            "surgery",
        ]
    )
    cands = np.flatnonzero(clinical.to_numpy() & at_hospital)
    for d in ctx.pick(cands, cfg.prevalence / 2):
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        prov = int(docs.provider_pos.iloc[d])
        dept = docs.department.iloc[d]
        n = rng.poisson(12 * _months(ctx, start))
        pat = rng.choice(len(w.patients), n)
        refs = ledger.add_claims(
            pat,
            np.full(n, prov),
            "outpatient",
            dept,
            sample_times(w, rng, n, "outpatient", ctx.days(start, n)),
            rng.choice(np.array(["R51", "J06.9", "M54.5", "K29.7"]), n),
            doctor=np.full(n, docs.doctor_id.iloc[d], dtype=object),
        )
        heavy = rng.random(n) < 0.5 + 0.5 * _intensity(cfg)
        add_slot_items(ledger, refs, (Slot(("CN001",)), Slot(COMMON_DRUGS, p=0.6, trace=True)))
        add_slot_items(
            ledger,
            _subset(refs, heavy),
            (
                Slot(("LB001", "LB003", "LB004", "LB006", "LB008", "LB010", "LB013"), lines=(3, 6)),
                Slot(("EX004", "EX002", "EX010", "EX001"), lines=(1, 3)),
            ),
        )
        ledger.tag(refs.ref[heavy], name, decided)
        ctx.label("doctor", docs.doctor_id.iloc[d], name, decided)


def plant_item_substitution(ctx: Context, cfg: SchemeConfig) -> None:
    """串换: a cheap service delivered, a dearer one billed (code of another category)."""
    w, rng, name = ctx.world, ctx.rng, "item_substitution"
    ledger = ctx.ledger
    # (delivered, billed): the billed code belongs to another, dearer category
    swaps = [("MT005", "TR004"), ("HB001", "ZC004"), ("TR006", "EX009"), ("LB002", "EX002")]
    for prov in ctx.pick(w.providers_of("hospital"), cfg.prevalence):
        refs, decided = ctx.outpatient_visits(prov, cfg, 20, "rehabilitation", "M54.5", name)
        n = refs.ref.size
        add_slot_items(ledger, refs, (Slot(("RG001",)), Slot(("CN001",))))
        pick = rng.integers(0, len(swaps), n)
        delivered = np.array([swaps[i][0] for i in pick], dtype=object)
        billed = np.array([swaps[i][1] for i in pick], dtype=object)
        # billed under the dearer code at its cap, but with the delivered item's category
        cat = ledger.category[ledger.codes_index(delivered)]
        cap = ledger.cap[ledger.codes_index(billed)]
        ledger.add_items(
            refs.ref,
            billed,
            rng.integers(1, 3, n).astype(float),
            refs.admit + np.timedelta64(600, "s"),
            provider=refs.provider,
            unit_price=cap,
            category=cat,
        )
        ctx.label("provider", ctx.provider_id(prov), name, decided)


def plant_catalog_breach(ctx: Context, cfg: SchemeConfig) -> None:
    """Catalog restrictions broken: gender, age, inpatient-only, grade, cap, daily quantity."""
    w, rng, name = ctx.world, ctx.rng, "catalog_breach"
    ledger = ctx.ledger
    men = np.flatnonzero((w.patients.gender.to_numpy() == "M") & (w.age >= 30))
    for prov in ctx.pick(
        np.concatenate(
            [w.providers_of("hospital", 1), w.providers_of("clinic"), w.providers_of("hospital", 2)]
        ),
        cfg.prevalence,
    ):
        # adult men: every restriction below is broken for them
        refs, decided = ctx.outpatient_visits(prov, cfg, 10, "general", "R69", name, men)
        n = refs.ref.size
        kind = np.arange(n) % 6
        add_slot_items(ledger, refs, (Slot(("CN001",)),))
        code = np.select(
            [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
            ["LB012", "TR011", "XD021", "EX007", "XD007"],
            "LB001",
        ).astype(object)
        idx = ledger.codes_index(code)
        qty = np.where(kind == 5, ledger.r_max_daily[idx] + rng.integers(2, 5, n), 1.0)
        price = np.round(ledger.ref_price[idx] * ledger.price_factor[prov], 2)
        price = np.where(kind == 4, np.round(ledger.cap[idx] * rng.uniform(1.2, 1.6, n), 2), price)
        ledger.add_items(
            refs.ref,
            code,
            qty,
            refs.admit + np.timedelta64(900, "s"),
            provider=refs.provider,
            unit_price=price,
        )
        ctx.label("provider", ctx.provider_id(prov), name, decided)


def plant_card_lending(ctx: Context, cfg: SchemeConfig) -> None:
    """冒名就医: one card used at two places at once (a different region within an hour)."""
    w, rng, name = ctx.world, ctx.rng, "card_lending"
    ledger = ctx.ledger
    owners = ctx.pick(np.flatnonzero(w.age >= 18), cfg.prevalence * 0.02, at_least=3)
    start = ctx.start(cfg)
    regions = w.providers.region.to_numpy()
    clinics = w.providers_of("clinic")
    for p_ in owners:
        decided = ctx.decided(start)
        k = max(2, rng.poisson(1.5 * _intensity(cfg) * _months(ctx, start)))
        home = w.home_clinic[p_]
        t = sample_times(w, rng, k, "outpatient", ctx.days(start, k))
        own = ledger.add_claims(
            np.full(k, p_), np.full(k, home), "outpatient", "general", t, "J06.9"
        )
        away_pool = clinics[regions[clinics] != regions[home]]
        away_pool = away_pool if away_pool.size else clinics
        borrowed = ledger.add_claims(
            np.full(k, p_),
            rng.choice(away_pool, k),
            "outpatient",
            "general",
            t + rng.integers(5, 55, k).astype("timedelta64[m]"),
            "K29.7",
            scheme=name,
            decided=decided,
        )
        add_slot_items(ledger, own, (Slot(("CN001",)), Slot(COMMON_DRUGS, trace=True)))
        add_slot_items(
            ledger, borrowed, (Slot(("CN001",)), Slot(COMMON_DRUGS, qty=(2, 3), trace=True))
        )
        ctx.label("patient", ctx.patient_id(p_), name, decided)


def plant_duplicate_billing(ctx: Context, cfg: SchemeConfig) -> None:
    """重复收费: the same item billed twice on one claim."""
    w, rng, name = ctx.world, ctx.rng, "duplicate_billing"
    ledger = ctx.ledger
    for prov in ctx.pick(w.providers_of("hospital"), cfg.prevalence):
        refs, decided = ctx.outpatient_visits(prov, cfg, 15, "internal", "J20.9", name)
        add_slot_items(ledger, refs, (Slot(("CN001",)),))
        exams = np.array(["EX002", "EX004", "LB003", "EX010"], dtype=object)
        code = rng.choice(exams, refs.ref.size)
        t = refs.admit + np.timedelta64(1200, "s")
        for _ in range(2):  # the same exam, same time, two lines
            ledger.add_items(refs.ref, code, 1.0, t, provider=refs.provider)
        ctx.label("provider", ctx.provider_id(prov), name, decided)


def plant_fake_chronic(ctx: Context, cfg: SchemeConfig) -> None:
    """虚假门特: chronic-disease claims for people with no registration of that disease."""
    w, rng, name = ctx.world, ctx.rng, "fake_chronic"
    ledger = ctx.ledger
    unregistered = np.flatnonzero(~w.registered.any(axis=1) & (w.age >= 35))
    for prov in ctx.pick(
        np.concatenate([w.providers_of("clinic"), w.providers_of("hospital", 1)]), cfg.prevalence
    ):
        start = ctx.start(cfg)
        decided = ctx.decided(start)
        people = rng.choice(
            unregistered, min(int(rng.integers(4, 12)), unregistered.size), replace=False
        )
        k = rng.poisson(max(1.0, _months(ctx, start) * _intensity(cfg)), people.size)
        pat = np.repeat(people, k)
        refs = ledger.add_claims(
            pat,
            np.full(pat.size, prov),
            "outpatient_chronic",
            "internal",
            sample_times(w, rng, pat.size, "outpatient_chronic", ctx.days(start, pat.size)),
            rng.choice(np.array(["E11", "I10"]), pat.size),
            scheme=name,
            decided=decided,
        )
        add_slot_items(
            ledger,
            refs,
            (
                Slot(("CN001",)),
                Slot(("XD005", "XD002", "XD004"), lines=(1, 2), qty=(2, 4), trace=True),
            ),
        )
        ctx.label("provider", ctx.provider_id(prov), name, decided)
        ctx.label("patient", ctx.patient_id(people[k > 0]), name, decided)


SCHEMES: dict[str, Callable[[Context, SchemeConfig], None]] = {
    "phantom_billing": plant_phantom_billing,
    "gang_swiping": plant_gang_swiping,
    "account_cashing": plant_account_cashing,
    "drug_reselling": plant_drug_reselling,
    "fake_admission": plant_fake_admission,
    "split_admission": plant_split_admission,
    "over_treatment": plant_over_treatment,
    "item_substitution": plant_item_substitution,
    "catalog_breach": plant_catalog_breach,
    "card_lending": plant_card_lending,
    "duplicate_billing": plant_duplicate_billing,
    "fake_chronic": plant_fake_chronic,
}
