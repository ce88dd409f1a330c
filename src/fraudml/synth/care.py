"""Legitimate care: who visits where, when, and what is billed.

Utilisation follows real claims in shape: most people have few visits, the elderly and the
chronically ill many; weekdays busier than weekends, the Spring Festival quiet, winter
respiratory peaks; loyalty to a home clinic and hospital. Legitimate heavy users are
included on purpose, as traps for naive detectors: dialysis three times a week, cancer
patients on expensive targeted drugs, chemotherapy readmissions every 21 days, frail
elderly on long stays, big tertiary and children's hospitals, night emergencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudml.synth.ledger import ClaimRefs, Ledger
from fraudml.synth.world import World


@dataclass(frozen=True)
class Slot:
    """A group of fee lines a visit may carry: pick ``lines`` items from ``pool``."""

    pool: tuple[str, ...]
    p: float = 1.0
    lines: tuple[int, int] = (1, 1)
    qty: tuple[int, int] = (1, 1)
    trace: bool = False  # drug packs: one line per pack, each with a trace code
    daily: bool = False  # one line per day of the stay


COMMON_DRUGS = ("XD008", "XD009", "XD010", "XD011", "XD012", "ZC002", "ZC003", "ZC005")
OUTPATIENT_BASE = (
    Slot(("RG001",)),
    Slot(("CN001",)),
    Slot(COMMON_DRUGS, p=0.75, lines=(1, 2), qty=(1, 2), trace=True),
    Slot(("LB001", "LB002", "LB008", "LB005"), p=0.35, lines=(1, 2)),
    Slot(("EX001", "EX003", "EX002"), p=0.12),
    Slot(("TR001", "TR002", "TR008"), p=0.12),
)
DEPT_EXTRA: dict[str, tuple[Slot, ...]] = {
    "orthopedics": (Slot(("EX001", "EX009"), p=0.6), Slot(("TR006", "TR004"), p=0.4)),
    "gynecology": (Slot(("LB012", "EX008"), p=0.5), Slot(("XD025",), p=0.3, trace=True)),
    "urology": (Slot(("LB011",), p=0.5), Slot(("XD024",), p=0.3, trace=True)),
    "pediatrics": (Slot(("XD015",), p=0.7, trace=True), Slot(("TR011",), p=0.2)),
    "tcm": (
        Slot(("TR005",), p=0.6),
        Slot(("HB001", "HB002", "HB003"), p=0.5, lines=(2, 3), qty=(7, 14)),
    ),
    "cardiology": (Slot(("EX003", "EX010"), p=0.6), Slot(("LB013", "LB006"), p=0.4)),
    "rehabilitation": (Slot(("TR004", "TR006"), lines=(1, 2)),),
}
EMERGENCY = (
    Slot(("CN003",)),
    Slot(("LB001", "LB008", "LB013", "LB009"), p=0.6, lines=(1, 3)),
    Slot(("EX001", "EX003", "EX004"), p=0.4, lines=(1, 2)),
    Slot(("TR001",), p=0.5),
    Slot(("XD013", "XD014"), p=0.5, qty=(1, 3)),
    Slot(("MT001", "MT005"), p=0.4),
    Slot(("SG005",), p=0.08),
    Slot(("OT001",), p=0.05),
)
PHARMACY = (Slot(COMMON_DRUGS, lines=(1, 3), qty=(1, 2), trace=True),)
CHRONIC_DRUGS = {
    "I10": ("XD001", "XD002"),
    "E11": ("XD003", "XD004", "XD005"),
    "I25": ("XD006", "XD007", "ZC001"),
}
DIALYSIS = (
    Slot(("TR003",)),
    Slot(("MT004",)),
    Slot(("XD016",), p=0.5, trace=True),
    Slot(("LB004",), p=0.1),
)
ONCOLOGY_DRUG = (Slot(("XD017", "XD018", "XD019"), trace=True),)
INPATIENT_BASE = (
    Slot(("BD001",), daily=True),
    Slot(("NS001",), daily=True),
    Slot(("TR001",), daily=True, p=0.8),
    Slot(("XD013", "XD014", "XD020", "XD011"), lines=(2, 4), qty=(2, 8)),
    Slot(("LB001", "LB003", "LB004", "LB009", "LB002"), lines=(2, 5)),
    Slot(("EX001", "EX002", "EX004", "EX010", "EX003"), lines=(1, 3)),
    Slot(("MT001", "MT005"), lines=(1, 2), qty=(2, 10)),
)
INPATIENT_EXTRA: dict[str, tuple[Slot, ...]] = {
    "cardiology": (
        Slot(("EX006",), p=0.3),
        Slot(("XD007",), p=0.6, qty=(1, 3)),
        Slot(("LB013",), p=0.8),
    ),
    "orthopedics": (Slot(("EX005",), p=0.5), Slot(("TR004", "TR006"), p=0.6, lines=(1, 3))),
    "surgery": (Slot(("SG001",), p=0.6), Slot(("TR010",), p=0.6), Slot(("XD022",), p=0.6)),
    "oncology": (Slot(("TR007",)), Slot(("XD018",)), Slot(("LB010",), p=0.7)),
    "rehabilitation": (Slot(("TR004", "TR006"), daily=True),),
    "gynecology": (Slot(("EX008",), p=0.6),),
}


def day_weights(world: World, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Calendar days of the period and their relative visit weights."""
    days = np.arange(world.start, world.end, dtype="datetime64[D]")
    weekday = (days.astype(int) + 3) % 7  # 0 = Monday
    month = days.astype("datetime64[M]").astype(int) % 12 + 1
    w = np.ones(days.size)
    if kind in {"outpatient", "inpatient", "outpatient_chronic"}:
        w *= np.where(weekday >= 5, 0.45, 1.0)
    w *= np.where(np.isin(month, (12, 1, 2)), 1.2, 1.0)
    md = month * 100 + (days - days.astype("datetime64[M]")).astype(int) + 1
    spring_festival = (md >= 209) & (md <= 217)  # 2024's; close enough in other years
    national_day = (md >= 1001) & (md <= 1007)
    w *= np.where(spring_festival, 0.3, 1.0) * np.where(national_day, 0.6, 1.0)
    return days, w / w.sum()


_HOURS = {
    "outpatient": ([8, 9, 10, 11, 13, 14, 15, 16], [10, 16, 16, 12, 6, 12, 10, 6]),
    "outpatient_chronic": ([8, 9, 10, 11, 14, 15], [12, 16, 14, 10, 8, 6]),
    "pharmacy": (list(range(8, 22)), [4, 8, 10, 10, 7, 6, 7, 8, 9, 10, 10, 8, 5, 3]),
    "inpatient": ([8, 9, 10, 11, 14, 15, 16, 20, 2], [10, 14, 14, 10, 10, 8, 6, 3, 1]),
    "emergency": (
        list(range(24)),
        [4, 3, 3, 2, 2, 2, 3, 4, 6, 7, 7, 6, 5, 5, 5, 5, 6, 7, 8, 9, 9, 8, 6, 5],
    ),
}


def sample_times(
    world: World, rng: np.random.Generator, n: int, kind: str, days: np.ndarray | None = None
) -> np.ndarray:
    """Timestamps for ``n`` visits of ``kind`` (on ``days`` when given)."""
    if days is None:
        all_days, w = day_weights(world, kind)
        days = rng.choice(all_days, n, p=w)
    hours, hw = _HOURS.get(kind, _HOURS["outpatient"])
    hw = np.asarray(hw, float)
    hour = rng.choice(hours, n, p=hw / hw.sum())
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    return days.astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def add_slot_items(
    ledger: Ledger,
    refs: ClaimRefs,
    slots: tuple[Slot, ...],
    billed: np.ndarray | None = None,
) -> np.ndarray:
    """Fee lines for every claim in ``refs`` from ``slots``, vectorised per slot.

    An item is billed at most once per claim and day, and a drug's packs (one line each)
    within its daily limit: ``billed`` holds the (claim, item, day) keys that earlier
    calls for the same claims billed; the keys billed so far are returned for the next
    call.
    """
    rng = ledger.rng
    n = refs.ref.size
    seen = np.zeros(0, dtype=np.int64) if billed is None else billed
    for slot in slots:
        present = rng.random(n) < slot.p if slot.p < 1 else np.ones(n, bool)
        if slot.daily:
            lines = np.where(present, np.maximum(refs.days, 1), 0)
        else:
            lines = np.where(present, rng.integers(slot.lines[0], slot.lines[1] + 1, n), 0)
        if slot.trace:  # one line per pack
            packs = rng.integers(slot.qty[0], slot.qty[1] + 1, n)
            lines = lines * packs
        owner = np.repeat(np.arange(n), lines)
        if owner.size == 0:
            continue
        pool = np.asarray(slot.pool, dtype=object)
        if slot.trace:
            # the packs of one line group are the same product
            first = rng.integers(0, pool.size, n)
            codes = pool[first[owner]]
            qty = np.ones(owner.size)
        else:
            codes = pool[rng.integers(0, pool.size, owner.size)]
            qty = rng.integers(slot.qty[0], slot.qty[1] + 1, owner.size).astype(float)
        start = np.repeat(np.cumsum(lines) - lines, lines)
        k = np.arange(owner.size) - start  # position within the claim's lines of this slot
        stay = np.maximum(refs.days[owner], 1)
        day = np.where(slot.daily, k % stay, rng.integers(0, 1 << 30, owner.size) % stay)
        day = np.where(refs.days[owner] > 0, day, 0)
        offset = day * 86400 + np.where(refs.days[owner] > 0, 0, rng.integers(60, 1800, owner.size))
        time = refs.admit[owner] + offset.astype("timedelta64[s]")
        # Legitimate care bills only what the catalog allows for this patient and place,
        # and an item at most once per claim and day (its quantity already capped at the
        # daily limit): a second line would be the duplicate billing a scheme plants.
        keep, qty = ledger.allowed(
            codes, qty, refs.patient[owner], refs.provider[owner], refs.days[owner] > 0
        )
        idx = ledger.codes_index(codes)
        key = (refs.ref[owner].astype(np.int64) * 1024 + idx) * 4096 + day
        if slot.trace:
            # A drug line is one pack: a product's packs on one claim and day stay within
            # the catalog's daily limit.
            rank = pd.Series(key).groupby(key).cumcount().to_numpy()
            keep &= rank < ledger.r_max_daily[idx]
        else:
            keep &= ~np.isin(key, seen)
            keep &= ~pd.Series(key).duplicated().to_numpy()
            seen = np.concatenate([seen, key[keep]])
        ledger.add_items(
            refs.ref[owner][keep],
            codes[keep],
            qty[keep],
            time[keep],
            provider=refs.provider[owner][keep],
            trace=slot.trace,
        )
    return seen


def _nb(rng: np.random.Generator, mean: np.ndarray, dispersion: float = 1.5) -> np.ndarray:
    """Negative binomial counts: most people few visits, a long tail of heavy users."""
    mean = np.maximum(mean, 1e-6)
    return rng.negative_binomial(dispersion, dispersion / (dispersion + mean))


def _weighted_providers(
    world: World, kind: str, min_level: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    p = world.providers
    mask = (p.provider_type == kind).to_numpy() & (p.level.fillna(0).to_numpy() >= min_level)
    idx = np.flatnonzero(mask)
    w = p.beds.fillna(50).to_numpy(float)[idx]
    return idx, w / w.sum()


def simulate_care(ledger: Ledger, years: float) -> None:
    """All legitimate claims of the period."""
    w, rng = ledger.world, ledger.rng
    n = len(w.patients)
    age = w.age
    elderly = age >= 60
    child = age < 14
    n_cond = w.conditions.sum(axis=1)
    gender = w.patients.gender.to_numpy()
    employee = w.patients.insurance_type.to_numpy() == "employee"
    hospitals, hosp_w = _weighted_providers(w, "hospital")
    big, big_w = _weighted_providers(w, "hospital", min_level=2)
    children_hosp = np.flatnonzero(w.providers.children.to_numpy())

    # --- ordinary outpatient visits
    visits = _nb(rng, years * (1.5 + 3 * elderly + 1.5 * n_cond + 1.5 * (age < 6)))
    pat = np.repeat(np.arange(n), visits)
    u = rng.random(pat.size)
    prov = np.where(u < 0.5, w.home_clinic[pat], w.home_hospital[pat])
    other = u > 0.82
    prov[other] = rng.choice(hospitals, other.sum(), p=hosp_w)
    kids = child[pat] & (rng.random(pat.size) < 0.5) & (children_hosp.size > 0)
    if children_hosp.size:
        prov[kids] = children_hosp[0]
    is_clinic = w.providers.provider_type.to_numpy()[prov] == "clinic"
    dept = _outpatient_departments(rng, pat, child, gender, n_cond, is_clinic)
    diag = _diagnoses(rng, dept, w, pat)
    refs = ledger.add_claims(
        pat, prov, "outpatient", dept, sample_times(w, rng, pat.size, "outpatient"), diag
    )
    billed = add_slot_items(ledger, refs, OUTPATIENT_BASE)
    for d, slots in DEPT_EXTRA.items():
        sel = dept == d
        if sel.any():
            billed = add_slot_items(ledger, _subset(refs, sel), slots, billed)

    # --- registered chronic conditions: monthly outpatient_chronic visits
    for code, drugs in CHRONIC_DRUGS.items():
        who = np.flatnonzero(w.registered[:, _cond_index(code)])
        k = rng.poisson(11 * years, who.size)
        pat = np.repeat(who, k)
        prov = np.where(rng.random(pat.size) < 0.6, w.home_clinic[pat], w.home_hospital[pat])
        dept = "cardiology" if code == "I25" else "internal"
        times = sample_times(w, rng, pat.size, "outpatient_chronic")
        # one prescription visit per condition and day: a second the same day would
        # double the day's drug quantity
        once = ~pd.DataFrame({"p": pat, "d": times.astype("datetime64[D]")}).duplicated()
        once = once.to_numpy()
        refs = ledger.add_claims(
            pat[once], prov[once], "outpatient_chronic", dept, times[once], code
        )
        add_slot_items(
            ledger,
            refs,
            (
                Slot(("CN001",)),
                Slot(drugs, lines=(1, 2), qty=(2, 3), trace=True),
                Slot(("LB005", "LB007", "LB006"), p=0.25),
            ),
        )

    # --- dialysis: three sessions a week at the home hospital's dialysis unit
    # (special conditions are paid as outpatient_chronic only once registered)
    dial = np.flatnonzero(w.registered[:, _cond_index("N18.5")])
    if dial.size:
        days = np.arange(w.start, w.end, dtype="datetime64[D]")
        weekday = (days.astype(int) + 3) % 7
        pats, when = [], []
        for p_ in dial:
            slot = rng.integers(0, 2)  # Mon/Wed/Fri or Tue/Thu/Sat
            d = days[np.isin(weekday, (0, 2, 4) if slot == 0 else (1, 3, 5))]
            d = d[rng.random(d.size) < 0.97]  # a missed session now and then
            pats.append(np.full(d.size, p_))
            when.append(d)
        pat = np.concatenate(pats)
        prov = np.array([_dialysis_provider(w, h) for h in w.home_hospital[pat]])
        refs = ledger.add_claims(
            pat,
            prov,
            "outpatient_chronic",
            "hemodialysis",
            sample_times(w, rng, pat.size, "outpatient_chronic", np.concatenate(when)),
            "N18.5",
        )
        add_slot_items(ledger, refs, DIALYSIS)

    # --- cancer: monthly targeted drug (tertiary hospital or specialist pharmacy)
    cancer = np.flatnonzero(w.registered[:, _cond_index("C34")])
    if cancer.size:
        k = rng.poisson(11 * years, cancer.size)
        pat = np.repeat(cancer, k)
        specialist = np.flatnonzero(w.providers.specialist.to_numpy())
        tertiary = w.providers_of("hospital", 3)
        prov = np.where(rng.random(pat.size) < 0.5, specialist[0], rng.choice(tertiary, pat.size))
        is_pharm = w.providers.provider_type.to_numpy()[prov] == "pharmacy"
        refs = ledger.add_claims(
            pat,
            prov,
            np.where(is_pharm, "pharmacy", "outpatient_chronic"),
            np.where(is_pharm, "pharmacy", "oncology"),
            sample_times(w, rng, pat.size, "outpatient_chronic"),
            "C34",
        )
        add_slot_items(ledger, refs, ONCOLOGY_DRUG)
        # chemotherapy cycles: short admissions 21 days apart at one tertiary hospital
        on_chemo = cancer[rng.random(cancer.size) < 0.6]
        span = int((w.end - w.start).astype(int))
        for p_ in on_chemo:
            cycles = int(rng.integers(4, 7))
            first = int(rng.integers(0, max(1, span - 21 * cycles)))
            starts = w.start + (first + 21 * np.arange(cycles)).astype("timedelta64[D]")
            starts = starts[starts < w.end - np.timedelta64(4, "D")]
            hosp = np.full(starts.size, rng.choice(tertiary))
            refs = ledger.add_claims(
                np.full(starts.size, p_),
                hosp,
                "inpatient",
                "oncology",
                sample_times(w, rng, starts.size, "inpatient", starts),
                "C34",
                days=rng.integers(2, 4, starts.size),
            )
            add_slot_items(ledger, refs, INPATIENT_BASE[:2] + INPATIENT_EXTRA["oncology"])

    # --- pharmacy purchases (personal account for employees)
    k = _nb(rng, years * np.where(employee, 2.0 + 2.0 * n_cond, 0.6))
    pat = np.repeat(np.arange(n), k)
    pharmacies = w.providers_of("pharmacy")
    pharmacies = pharmacies[~w.providers.specialist.to_numpy()[pharmacies]]
    home_pharm = pharmacies[(np.arange(n) * 7919) % pharmacies.size]
    prov = np.where(rng.random(pat.size) < 0.7, home_pharm[pat], rng.choice(pharmacies, pat.size))
    refs = ledger.add_claims(
        pat, prov, "pharmacy", "pharmacy", sample_times(w, rng, pat.size, "pharmacy"), None
    )
    add_slot_items(ledger, refs, PHARMACY)

    # --- emergencies, many at night
    k = rng.poisson(years * (0.10 + 0.15 * elderly + 0.1 * (age < 6)))
    pat = np.repeat(np.arange(n), k)
    prov = rng.choice(big, pat.size, p=big_w)
    refs = ledger.add_claims(
        pat,
        prov,
        "emergency",
        "general",
        sample_times(w, rng, pat.size, "emergency"),
        rng.choice(np.array(["R10.4", "S01.8", "J18.9", "I20.0", "R50.9"]), pat.size),
    )
    add_slot_items(ledger, refs, EMERGENCY)

    # --- admissions; the frail elderly on long stays
    k = rng.poisson(years * (0.04 + 0.12 * elderly + 0.15 * w.condition("I25")))
    pat = np.repeat(np.arange(n), k)
    prov = np.where(
        rng.random(pat.size) < 0.6, w.home_hospital[pat], rng.choice(big, pat.size, p=big_w)
    )
    depts = np.array(
        ["internal", "cardiology", "orthopedics", "surgery", "rehabilitation", "gynecology"],
        dtype=object,
    )
    dept = depts[rng.choice(6, pat.size, p=[0.38, 0.17, 0.17, 0.18, 0.05, 0.05])]
    dept[(dept == "gynecology") & (gender[pat] == "M")] = "surgery"
    los = np.maximum(1, np.round(rng.lognormal(np.log(6), 0.5, pat.size))).astype(int)
    frail = (age[pat] >= 80) & (rng.random(pat.size) < 0.15)
    los[frail] = rng.integers(20, 46, frail.sum())
    level = w.providers.level.fillna(0).astype(int).to_numpy()[prov]
    refs = ledger.add_claims(
        pat,
        prov,
        "inpatient",
        dept,
        sample_times(w, rng, pat.size, "inpatient"),
        _diagnoses(rng, dept, w, pat),
        days=los,
    )
    billed = add_slot_items(ledger, refs, INPATIENT_BASE)
    for d, slots in INPATIENT_EXTRA.items():
        sel = dept == d
        if sel.any() and d != "oncology":
            billed = add_slot_items(ledger, _subset(refs, sel), slots, billed)
    # big procedures where the hospital grade allows them
    _procedure(ledger, refs, (dept == "cardiology") & (level >= 3), ("SG002", "MT002"), 0.3)
    _procedure(ledger, refs, (dept == "orthopedics") & (level >= 3), ("SG003", "MT003"), 0.2)
    _procedure(ledger, refs, (dept == "orthopedics") & (level == 2), ("SG004", "MT006"), 0.2)
    _procedure(ledger, refs, (dept == "gynecology"), ("SG006",), 0.3)
    icu = (level >= 2) & (rng.random(pat.size) < 0.04)
    if icu.any():
        add_slot_items(
            ledger,
            _subset(refs, icu),
            (Slot(("BD002",), daily=True), Slot(("NS002",), daily=True), Slot(("TR009",), p=0.5)),
        )


def _procedure(
    ledger: Ledger, refs: ClaimRefs, mask: np.ndarray, codes: tuple[str, ...], p: float
) -> None:
    sel = mask & (ledger.rng.random(mask.size) < p)
    if sel.any():
        sub = _subset(refs, sel)
        add_slot_items(ledger, sub, tuple(Slot((c,)) for c in codes))


def _subset(refs: ClaimRefs, mask: np.ndarray) -> ClaimRefs:
    return ClaimRefs(
        refs.ref[mask], refs.patient[mask], refs.provider[mask], refs.admit[mask], refs.days[mask]
    )


def _cond_index(code: str) -> int:
    from fraudml.synth.world import CONDITIONS

    return list(CONDITIONS).index(code)


def _dialysis_provider(world: World, home: int) -> int:
    """The home hospital if it has a dialysis unit, else the biggest one that has."""
    p = world.providers
    level = p.level.iloc[home]
    if pd.notna(level) and level >= 2:
        return home
    return int(np.flatnonzero((p.level.fillna(0) >= 2).to_numpy())[0])


def _outpatient_departments(rng, pat, child, gender, n_cond, is_clinic) -> np.ndarray:
    n = pat.size
    names = np.array(
        [
            "general",
            "internal",
            "orthopedics",
            "cardiology",
            "tcm",
            "gynecology",
            "urology",
            "rehabilitation",
        ],
        dtype=object,
    )
    dept = names[rng.choice(names.size, n, p=[0.25, 0.30, 0.12, 0.08, 0.08, 0.09, 0.04, 0.04])]
    dept[(dept == "gynecology") & (gender[pat] == "M")] = "urology"
    dept[(dept == "urology") & (gender[pat] == "F")] = "gynecology"
    dept[(n_cond[pat] > 0) & (rng.random(n) < 0.4)] = "internal"
    dept[child[pat]] = "pediatrics"
    dept[is_clinic] = "general"
    return dept


_DIAG = {
    "general": ("J06.9", "K29.7", "R51", "J20.9"),
    "internal": ("I10", "E11.9", "K29.7", "J20.9"),
    "orthopedics": ("M54.5", "M17.9", "S83.2", "M47.8"),
    "cardiology": ("I25.1", "I48", "I10", "I20.0"),
    "tcm": ("M54.5", "R51", "K59.0"),
    "gynecology": ("N76.0", "N92.0", "O80"),
    "urology": ("N40", "N20.0"),
    "rehabilitation": ("I69.3", "M54.5"),
    "pediatrics": ("J06.9", "J18.9", "A08.4"),
    "surgery": ("K35.8", "K80.2", "K40.9"),
}


def _diagnoses(rng, dept: np.ndarray, world: World, pat: np.ndarray) -> np.ndarray:
    out = np.empty(dept.size, dtype=object)
    for d in np.unique(dept):
        sel = dept == d
        pool = np.array(_DIAG.get(d, ("R69",)), dtype=object)
        out[sel] = pool[rng.integers(0, pool.size, sel.sum())]
    return out
