"""The facts and cases of the national smart-monitoring rules in the synthetic city.

Run after legitimate care and the schemes, on a random stream of its own (so every earlier
draw of the city is unchanged), it

* makes care coherent where the national rules look: an ICU stay bills the ICU bed and
  nursing instead of the ward's, not both; an operation comes with its anaesthesia and
  general anaesthesia with an operation;
* fills the optional contract columns: patients' dates of death (after their last care),
  practitioners' registered departments (those they work in) and suspensions (their claims
  in a suspension go to a colleague);
* plants the cases of the national rules, as claims of the scheme they belong to (care
  after death is phantom billing, a package billed as its parts duplicate billing …), each
  only when that scheme is planted.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fraudml.synth.care import COMMON_DRUGS, sample_times
from fraudml.synth.ledger import ClaimRefs, Ledger
from fraudml.synth.schemes import Context, SchemeConfig

MAJOR_SURGERY = ("SG001", "SG002", "SG003", "SG004", "SG006")
ANAESTHESIA = "TR010"


# ------------------------------------------------------------------ coherent care


def _claims(ledger: Ledger) -> pd.DataFrame:
    keys = ("ref", "patient", "provider", "doctor", "visit_type", "department", "admit", "days")
    return pd.DataFrame({k: np.concatenate([b[k] for b in ledger._claims]) for k in keys})


def _items(ledger: Ledger) -> pd.DataFrame:
    keys = ("claim", "item_code", "category", "quantity", "item_time")
    return pd.DataFrame({k: np.concatenate([b[k] for b in ledger._items]) for k in keys})


def coherent_care(ledger: Ledger) -> None:
    """ICU stays without the ward's bed and nursing; anaesthesia for every operation that
    lacks it, and none without an operation (no draw: the same city every time)."""
    items = _items(ledger)
    icu = set(items.claim[items.item_code == "BD002"])
    surgery = set(items.claim[items.category == "surgery"])
    major = set(items.claim[items.item_code.isin(MAJOR_SURGERY)])
    anaesthetised = set(items.claim[items.item_code == ANAESTHESIA])

    def keep(b: dict[str, np.ndarray]) -> np.ndarray:
        c = pd.Series(b["claim"])
        ward = np.isin(b["item_code"], ("BD001", "NS001")) & c.isin(icu).to_numpy()
        idle = (b["item_code"] == ANAESTHESIA) & ~c.isin(surgery).to_numpy()
        return ~(ward | idle)

    ledger.drop_items(keep)
    missing = np.array(sorted(major - anaesthetised), dtype=np.int64)
    if missing.size:
        first = items[items.claim.isin(missing) & items.item_code.isin(MAJOR_SURGERY)]
        first = first.groupby("claim").item_time.min()
        claims = _claims(ledger).set_index("ref").loc[first.index]
        ledger.add_items(
            first.index.to_numpy(),
            ANAESTHESIA,
            1.0,
            first.to_numpy(),
            provider=claims.provider.to_numpy(),
        )


# ------------------------------------------------------------------ the optional columns


def registered_departments(ledger: Ledger) -> pd.Series:
    """doctor id → the departments they work in (their own and those of their claims),
    ``;``-separated: the registration (执业注册) of the synthetic city."""
    c = _claims(ledger)
    c = c[c.doctor.notna() & c.department.notna()]
    docs = ledger.world.doctors.set_index("doctor_id")
    seen = c.groupby("doctor").department.agg(lambda d: set(d))
    out = {}
    for did, own in docs.department.items():
        depts = {own} | seen.get(did, set())
        out[did] = ";".join(sorted(d for d in depts if d))
    return pd.Series(out, name="registered_departments")


def deaths(ledger: Ledger, rng: np.random.Generator, share: float = 0.02) -> pd.Series:
    """patient position → date of death: a ``share`` of the people aged 70 and over whose
    last claim lies 45 days or more before the period's end die 1–20 days after it."""
    w = ledger.world
    c = _claims(ledger)
    last = c.groupby("patient").admit.max()
    end = w.end.astype("datetime64[s]")
    old = np.flatnonzero(w.age >= 70)
    cands = [p for p in old if p in last.index and last[p] < end - np.timedelta64(45, "D")]
    k = max(5, round(share * len(cands))) if cands else 0
    dead = np.sort(rng.choice(np.array(cands), min(k, len(cands)), replace=False))
    when = last.loc[dead].to_numpy().astype("datetime64[D]") + rng.integers(1, 21, dead.size)
    return pd.Series(when.astype("datetime64[D]"), index=dead)


def suspensions(ledger: Ledger, rng: np.random.Generator, share: float = 0.02) -> pd.DataFrame:
    """Suspended practitioners (医保支付资格暂停, from the points ledger): ``doctor``,
    ``suspended_from``, ``suspended_to`` (90 days). Their claims in the suspension go to a
    colleague of the same provider and department, who has one."""
    w = ledger.world
    docs = w.doctors
    colleague = {}
    for _, g in docs[docs.role == "doctor"].groupby(["provider_pos", "department"]):
        ids = g.doctor_id.to_numpy()
        if ids.size >= 2:
            for a, b in zip(ids, np.roll(ids, -1), strict=True):
                colleague[a] = b
    cands = np.array(sorted(colleague))
    k = max(2, round(share * cands.size)) if cands.size else 0
    picked = np.sort(rng.choice(cands, min(k, cands.size), replace=False)) if k else cands
    span = int((w.end - w.start).astype(int))
    start = w.start + rng.integers(30, max(31, span - 120), picked.size).astype("timedelta64[D]")
    stop = start + np.timedelta64(89, "D")
    for b in ledger._claims:
        day = b["admit"].astype("datetime64[D]")
        for did, a, z in zip(picked, start, stop, strict=True):
            hit = (b["doctor"] == did) & (day >= a) & (day <= z)
            if hit.any():
                b["doctor"] = b["doctor"].copy()
                b["doctor"][hit] = colleague[did]
    return pd.DataFrame({"doctor": picked, "suspended_from": start, "suspended_to": stop})


# ------------------------------------------------------------------ the cases


#: The national cases' schemes (their labels): name → the scheme they are planted with
#: (a case is planted only when that scheme is).
NATIONAL_SCHEMES: dict[str, str] = {
    "death_billing": "phantom_billing",
    "practitioner_breach": "phantom_billing",
    "provider_scope": "phantom_billing",
    "ghost_bed_days": "fake_admission",
    "unlisted_items": "catalog_breach",
    "sibling_substitution": "item_substitution",
    "care_mismatch": "over_treatment",
    "unbundling": "duplicate_billing",
    "drug_oversupply": "drug_reselling",
}


class _Plant:
    """Claims with fee lines for one national scheme's cases."""

    def __init__(self, ledger: Ledger, rng: np.random.Generator, name: str, cfg: SchemeConfig):
        self.ledger, self.rng, self.name = ledger, rng, name
        self.ctx = Context(ledger, rng)
        self.start = self.ctx.start(cfg)
        self.decided = self.ctx.decided(self.start)
        self.labels: list[dict] = []

    def when(self, n: int, kind: str = "outpatient") -> np.ndarray:
        return sample_times(self.ledger.world, self.rng, n, kind, self.ctx.days(self.start, n))

    def claims(
        self,
        patient,
        provider,
        visit: str,
        dept,
        admit,
        diagnosis,
        items: list[tuple[str, float]],
        days=0,
        doctor=None,
        daily: tuple[str, ...] = (),
        complicit: bool = False,
    ) -> ClaimRefs:
        """Claims of the scheme, each with ``items`` (code, quantity) at the admission and
        one line a day of the stay for each code of ``daily``; the patients are labelled
        when ``complicit`` (their card, their hoard), not when their card was only used."""
        patient = np.atleast_1d(np.asarray(patient))
        n = patient.size
        provider = np.broadcast_to(np.asarray(provider), (n,)).copy()
        refs = self.ledger.add_claims(
            patient,
            provider,
            visit,
            dept,
            np.asarray(admit, dtype="datetime64[s]"),
            diagnosis,
            days=days,
            scheme=self.name,
            decided=self.decided,
            doctor=None if doctor is None else np.broadcast_to(np.asarray(doctor, object), (n,)),
        )
        t = refs.admit + np.timedelta64(900, "s")
        for code, qty in items:
            self.ledger.add_items(refs.ref, code, float(qty), t, provider=refs.provider)
        for code in daily:
            stay = np.maximum(refs.days, 1)
            owner = np.repeat(np.arange(n), stay)
            k = np.arange(owner.size) - np.repeat(np.cumsum(stay) - stay, stay)
            when = refs.admit[owner] + (k * 86400).astype("timedelta64[s]")
            self.ledger.add_items(refs.ref[owner], code, 1.0, when, provider=refs.provider[owner])
        if complicit:
            self.label("patient", self.ledger.world.patients.patient_id.to_numpy()[patient])
        return refs

    def label(self, entity_type: str, ids) -> None:
        ids = np.unique(np.asarray(ids, dtype=object))
        self.ctx.label(entity_type, ids, self.name, self.decided)
        self.labels += self.ctx.labels
        self.ctx.labels = []


def _patients(w, rng, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    pool = np.flatnonzero(mask) if mask is not None else np.arange(len(w.patients))
    return rng.choice(pool, n)


def plant_national(
    ledger: Ledger,
    rng: np.random.Generator,
    schemes: Mapping[str, SchemeConfig],
    dead: pd.Series,
    suspended: pd.DataFrame,
    price_level: float = 1.0,
) -> list[dict]:
    """The national rules' cases (:data:`NATIONAL_SCHEMES`), each with the scheme it is
    planted with; returns the entity labels (claims are tagged on the ledger). Prices of
    items outside the catalog follow the city's ``price_level``, as the catalog does."""
    w = ledger.world
    on = {k: v for k, v in schemes.items() if v.prevalence > 0}
    plants: dict[str, _Plant] = {}

    def plant(name: str) -> _Plant | None:
        parent = NATIONAL_SCHEMES[name]
        if parent not in on:
            return None
        if name not in plants:
            plants[name] = _Plant(ledger, rng, name, on[parent])
        return plants[name]

    p = w.providers
    kind = p.provider_type.to_numpy()
    level = p.level.fillna(0).astype(int).to_numpy()
    clinics = np.flatnonzero(kind == "clinic")
    pharmacies = np.flatnonzero((kind == "pharmacy") & ~p.specialist.to_numpy())
    hospitals = np.flatnonzero(kind == "hospital")
    big = np.flatnonzero((kind == "hospital") & (level >= 2))
    gender = w.patients.gender.to_numpy()
    end = w.end.astype("datetime64[s]")
    docs = w.doctors
    claims_now = _claims(ledger)
    provider_ids = p.provider_id.to_numpy()

    if pl := plant("death_billing"):
        # 死亡后就医: cards of the dead swiped at a clinic
        swiped = dead.iloc[rng.random(dead.size) < 0.5]
        for pat, died in swiped.items():
            n = int(rng.integers(1, 4))
            died = np.datetime64(died, "D")
            admit = died.astype("datetime64[s]") + (rng.integers(5, 60, n) * 86400 + 36000).astype(
                "timedelta64[s]"
            )
            admit = admit[admit < end]
            if admit.size:
                pl.claims(
                    np.full(admit.size, pat),
                    rng.choice(clinics),
                    "outpatient",
                    "general",
                    admit,
                    "J06.9",
                    [("CN001", 1), (str(rng.choice(COMMON_DRUGS)), 2)],
                    complicit=True,
                )

    if pl := plant("practitioner_breach"):
        # 暂停期间结算: suspended practitioners keep billing
        by_id = docs.set_index("doctor_id")
        for row in suspended.itertuples():
            d = by_id.loc[row.doctor]
            n = int(rng.integers(3, 8))
            day = row.suspended_from + rng.integers(0, 89, n).astype("timedelta64[D]")
            admit = day.astype("datetime64[s]") + np.timedelta64(10, "h")
            pl.claims(
                _patients(w, rng, n),
                int(d.provider_pos),
                "outpatient",
                d.department,
                admit,
                "J20.9",
                [("CN001", 1), ("LB001", 1)],
                doctor=row.doctor,
            )
            pl.label("doctor", [row.doctor])
        # 超执业范围: clinic doctors billing cardiology; hospital doctors billing at clinics
        gps = docs[(docs.department == "general") & np.isin(docs.provider_pos, clinics)]
        for did, pos in zip(gps.doctor_id.iloc[:3], gps.provider_pos.iloc[:3], strict=True):
            pl.claims(
                _patients(w, rng, 6, w.age >= 40),
                int(pos),
                "outpatient",
                "cardiology",
                pl.when(6),
                "I25.1",
                [("CN001", 1), ("EX010", 1)],
                doctor=did,
            )
            pl.label("doctor", [did])
        movers = docs[np.isin(docs.provider_pos, hospitals) & (docs.role == "doctor")]
        for did, dept in zip(movers.doctor_id.iloc[:3], movers.department.iloc[:3], strict=True):
            pl.claims(
                _patients(w, rng, 6),
                rng.choice(clinics),
                "outpatient",
                dept,
                pl.when(6),
                "J06.9",
                [("CN001", 1), ("XD008", 2)],
                doctor=did,
            )
            pl.label("doctor", [did])
        # 日接诊量: a clinic doctor with 95 visits in one day
        did, pos = gps.doctor_id.iloc[-1], int(gps.provider_pos.iloc[-1])
        day = pl.ctx.days(pl.start, 1)[0].astype("datetime64[s]")
        admit = day + np.timedelta64(8, "h") + np.arange(95) * np.timedelta64(5, "m")
        pl.claims(
            _patients(w, rng, 95),
            pos,
            "outpatient",
            "general",
            admit,
            "J06.9",
            [("CN001", 1), ("XD012", 1)],
            doctor=did,
        )
        pl.label("doctor", [did])
        # 非医师诊疗: visits billed under a pharmacist
        chemists = docs[(docs.role == "pharmacist") & np.isin(docs.provider_pos, pharmacies)]
        if len(chemists):
            did, pos = chemists.doctor_id.iloc[0], int(chemists.provider_pos.iloc[0])
            pl.claims(
                _patients(w, rng, 5),
                pos,
                "outpatient",
                "general",
                pl.when(5),
                "J06.9",
                [("XD010", 1)],
                doctor=did,
            )
            pl.label("doctor", [did])

    if pl := plant("provider_scope"):
        # 药店超范围: a pharmacy billing lab tests and injections
        pharm = rng.choice(pharmacies)
        pl.claims(
            _patients(w, rng, 12),
            pharm,
            "pharmacy",
            "pharmacy",
            pl.when(12, "pharmacy"),
            None,
            [("LB005", 1), ("TR002", 1), ("XD012", 1)],
        )
        # 节假日集中结算: the quietest clinic swipes cards on weekends until they are near
        # half of its claims
        counts = claims_now.provider.value_counts()
        quiet = min(clinics, key=lambda c: counts.get(c, 0))
        mine = claims_now[claims_now.provider == quiet]
        off = int(
            (((mine.admit.to_numpy().astype("datetime64[D]").astype(int) + 3) % 7) >= 5).sum()
        )
        n = max(60, int(np.ceil((0.45 * len(mine) - off) / 0.55)))
        span = int((w.end - pl.start).astype(int))
        days = pl.start + rng.integers(0, span, 4 * n).astype("timedelta64[D]")
        days = days[((days.astype(int) + 3) % 7) >= 5][:n]
        admit = days.astype("datetime64[s]") + rng.integers(9 * 3600, 17 * 3600, days.size).astype(
            "timedelta64[s]"
        )
        pl.claims(
            _patients(w, rng, days.size),
            quiet,
            "outpatient",
            "general",
            admit,
            "J06.9",
            [("CN001", 1), ("XD012", 1)],
        )
        pl.label("provider", provider_ids[[pharm, quiet]])

    if pl := plant("drug_oversupply"):
        # 单次超量开药: 98 days of clopidogrel on one purchase
        pl.claims(
            _patients(w, rng, 4, w.age >= 40),
            rng.choice(pharmacies, 4),
            "pharmacy",
            "pharmacy",
            pl.when(4, "pharmacy"),
            None,
            [("XD007", 14)],
            complicit=True,
        )

    if pl := plant("ghost_bed_days"):
        # 在院人数超床位: the smallest grade-1 hospital fills beyond its beds in a week
        small = [h for h in hospitals if level[h] == 1 and pd.notna(p.beds.iloc[h])]
        if small:
            h = min(small, key=lambda i: int(p.beds.iloc[i]))
            n = int(int(p.beds.iloc[h]) * 1.2) + 6
            first = pl.ctx.days(pl.start, 1)[0]
            admit = (first + rng.integers(0, 5, n).astype("timedelta64[D]")).astype(
                "datetime64[s]"
            ) + rng.integers(8 * 3600, 12 * 3600, n).astype("timedelta64[s]")
            pl.claims(
                _patients(w, rng, n, w.age >= 50),
                h,
                "inpatient",
                "internal",
                admit,
                "I10",
                [("XD011", 2), ("LB001", 1)],
                days=rng.integers(12, 16, n),
                daily=("BD001", "NS001"),
                complicit=True,
            )
            pl.label("provider", provider_ids[[h]])
        # 无住院资质: stays at a clinic
        k = rng.choice(clinics)
        pl.claims(
            _patients(w, rng, 4, w.age >= 50),
            k,
            "inpatient",
            "general",
            pl.when(4, "inpatient"),
            "J18.9",
            [("XD014", 2), ("TR001", 1)],
            days=rng.integers(3, 7, 4),
            daily=("BD001",),
            complicit=True,
        )
        # 挂床: bed and nursing only
        pl.claims(
            _patients(w, rng, 6, w.age >= 50),
            rng.choice(hospitals),
            "inpatient",
            "internal",
            pl.when(6, "inpatient"),
            "I10",
            [],
            days=rng.integers(5, 11, 6),
            daily=("BD001", "NS001"),
            complicit=True,
        )
        # 虚计床日: three more bed days than the stay
        refs = pl.claims(
            _patients(w, rng, 6, w.age >= 50),
            rng.choice(hospitals),
            "inpatient",
            "internal",
            pl.when(6, "inpatient"),
            "I10",
            [("LB001", 1), ("EX001", 1), ("XD011", 2)],
            days=rng.integers(4, 8, 6),
            daily=("BD001", "NS001"),
        )
        t = refs.admit + np.timedelta64(3600, "s")
        ledger.add_items(refs.ref, "BD001", 3.0, t, provider=refs.provider)
        ledger.add_items(refs.ref, "NS001", 2.0, t, provider=refs.provider)
        # 费用发生在住院期外: a lab test dated two days after the discharge
        after = refs.admit + ((refs.days + 2) * 86400).astype("timedelta64[s]")
        ledger.add_items(refs.ref, "LB003", 1.0, after, provider=refs.provider)

    if pl := plant("death_billing"):
        # 死亡后继续计费: stays of the dead billed on after the death
        for pat, died in dead.iloc[: min(4, dead.size)].items():
            died = np.datetime64(died, "D")
            admit = (died - np.timedelta64(2, "D")).astype("datetime64[s]") + np.timedelta64(9, "h")
            pl.claims(
                [pat],
                rng.choice(big),
                "inpatient",
                "internal",
                [admit],
                "I50.9",
                [("LB001", 1), ("EX001", 1)],
                days=6,
                daily=("BD001", "NS001", "TR001"),
            )

    if pl := plant("unlisted_items"):
        # 目录外: local codes in no catalog entry, billed to the fund
        n = 16
        refs = pl.claims(
            _patients(w, rng, n),
            rng.choice(clinics, n),
            "outpatient",
            "general",
            pl.when(n),
            "M54.5",
            [("CN001", 1)],
        )
        ledger.add_items(
            refs.ref,
            np.array([f"ZL{i % 4 + 1:04d}" for i in range(n)], dtype=object),
            1.0,
            refs.admit + np.timedelta64(1200, "s"),
            provider=refs.provider,
            unit_price=np.full(n, round(80.0 * price_level, 2)),
            category=np.full(n, "treatment", dtype=object),
            unlisted=True,
        )
        # 限成人: an adults-only drug for children
        kids = np.flatnonzero((w.age >= 6) & (w.age < 14))
        pl.claims(
            rng.choice(kids, 6),
            rng.choice(clinics),
            "outpatient",
            "general",
            pl.when(6),
            "M81.9",
            [("CN001", 1), ("XD023", 1)],
        )
        # 诊断与性别不符
        men = np.flatnonzero((gender == "M") & (w.age >= 20))
        women = np.flatnonzero((gender == "F") & (w.age >= 20))
        pl.claims(
            rng.choice(men, 4),
            rng.choice(big),
            "outpatient",
            "gynecology",
            pl.when(4),
            "N76.0",
            [("CN001", 1)],
        )
        pl.claims(
            rng.choice(women, 4),
            rng.choice(big),
            "outpatient",
            "urology",
            pl.when(4),
            "N40",
            [("CN001", 1)],
        )

    if pl := plant("sibling_substitution"):
        # 串换: the five-part blood count (LB018) billed for the ordinary one (LB001) at
        # the provider that bills the ordinary one least
        items = _items(ledger)
        lb001 = items[items.item_code == "LB001"].merge(
            claims_now[["ref", "provider"]], left_on="claim", right_on="ref"
        )
        units = lb001.groupby("provider").quantity.sum()
        units = units[units.index.isin(np.concatenate([clinics, hospitals]))]
        prov = int(units.idxmin()) if len(units) else int(clinics[0])
        n = max(25, int(units.min()) + 15) if len(units) else 25
        pl.claims(
            _patients(w, rng, n),
            prov,
            "outpatient",
            "general",
            pl.when(n),
            "J06.9",
            [("CN001", 1), ("LB018", 1)],
        )
        pl.label("provider", provider_ids[[prov]])

    if pl := plant("care_mismatch"):
        # 超疗程: rehabilitation every week for 20 weeks
        h = rng.choice(big)
        for pat in _patients(w, rng, 3, w.age >= 50):
            first = pl.ctx.days(pl.start, 1)[0]
            weeks = first + (7 * np.arange(20)).astype("timedelta64[D]")
            weeks = weeks[weeks < w.end].astype("datetime64[s]") + np.timedelta64(9, "h")
            pl.claims(
                np.full(weeks.size, pat),
                h,
                "outpatient",
                "rehabilitation",
                weeks,
                "M54.5",
                [("CN001", 1), ("TR004", 1)],
            )
        # 小手术全麻, 手术无麻醉, 麻醉无手术
        for extra, diag in (
            ([("SG005", 1), (ANAESTHESIA, 1)], "S01.8"),
            ([("SG001", 1)], "K35.8"),
            ([(ANAESTHESIA, 1), ("XD022", 2)], "K35.8"),
        ):
            pl.claims(
                _patients(w, rng, 4, w.age >= 18),
                rng.choice(big),
                "inpatient",
                "surgery",
                pl.when(4, "inpatient"),
                diag,
                [("LB001", 1), *extra],
                days=3,
                daily=("BD001",),
            )
        # 血液透析超次: two sessions a day, five in a week
        h2 = rng.choice(big)
        for pat in _patients(w, rng, 2, w.age >= 50):
            first = pl.ctx.days(pl.start, 1)[0].astype("datetime64[s]")
            times = first + np.array([8, 15, 24 + 8, 48 + 8, 72 + 8, 96 + 8], "timedelta64[h]")
            pl.claims(
                np.full(times.size, pat),
                h2,
                "outpatient",
                "internal",
                times,
                "N18.5",
                [("TR003", 1), ("MT004", 1)],
            )
        # 门诊过频: a patient seen 25 times in 25 days
        pat = _patients(w, rng, 1, w.age >= 60)[0]
        first = pl.ctx.days(pl.start, 1)[0].astype("datetime64[s]") + np.timedelta64(9, "h")
        pl.claims(
            np.full(25, pat),
            rng.choice(big),
            "outpatient",
            "internal",
            first + np.arange(25) * np.timedelta64(1, "D"),
            "I10",
            [("CN001", 1), ("TR001", 1)],
            complicit=True,
        )
        # 耗材占比: a grade-1 hospital billing orthopaedic plates (grade 2 and up) without
        # an operation
        level1 = np.flatnonzero((kind == "hospital") & (level == 1))
        if level1.size:
            h3 = rng.choice(level1)
            pl.claims(
                _patients(w, rng, 25, w.age >= 50),
                h3,
                "inpatient",
                "orthopedics",
                pl.when(25, "inpatient"),
                "S72.0",
                [("MT006", 2), ("MT005", 6)],
                days=3,
                daily=("BD001",),
            )
            pl.label("provider", provider_ids[[h3]])
        # 配伍禁忌: ceftriaxone with calcium
        pl.claims(
            _patients(w, rng, 6),
            rng.choice(big),
            "emergency",
            "general",
            pl.when(6, "emergency"),
            "J18.9",
            [("CN003", 1), ("XD014", 2), ("XD026", 2)],
        )
        # 虚记耗材: dialysers billed without a session
        pl.claims(
            _patients(w, rng, 8, w.age >= 50),
            rng.choice(big),
            "outpatient",
            "internal",
            pl.when(8),
            "N18.5",
            [("MT004", 1)],
        )

    if pl := plant("unbundling"):
        h = rng.choice(big)
        # 分解收费: the panel and its parts; the parts alone
        pl.claims(
            _patients(w, rng, 10),
            h,
            "outpatient",
            "internal",
            pl.when(10),
            "K76.0",
            [("CN001", 1), ("LB003", 1), ("LB014", 1), ("LB015", 1)],
        )
        pl.claims(
            _patients(w, rng, 10),
            h,
            "outpatient",
            "internal",
            pl.when(10),
            "K76.0",
            [("CN001", 1), ("LB014", 1), ("LB015", 1), ("LB016", 1), ("LB017", 1)],
        )
        # the same infusion twice on one visit
        pl.claims(
            _patients(w, rng, 8),
            h,
            "outpatient",
            "internal",
            pl.when(8),
            "J20.9",
            [("CN001", 1), ("TR001", 1), ("TR001", 1)],
        )
        pl.label("provider", provider_ids[[h]])
    return [row for pl in plants.values() for row in pl.labels]
