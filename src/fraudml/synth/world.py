"""The city: providers, doctors and patients, with chronic conditions and home providers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudml.contract import DEPARTMENTS

DEPT = {name: i for i, name in enumerate(DEPARTMENTS)}

#: Chronic and special conditions: ICD-10 code → (base prevalence, extra if aged 60+).
CONDITIONS: dict[str, tuple[float, float]] = {
    "I10": (0.05, 0.30),  # hypertension
    "E11": (0.03, 0.12),  # type 2 diabetes
    "I25": (0.005, 0.08),  # coronary heart disease
    "N18.5": (0.0015, 0.004),  # end-stage renal disease: dialysis
    "C34": (0.002, 0.008),  # lung cancer: targeted drugs, chemotherapy
}

#: Departments of a hospital by level (level 3 has all clinical departments).
_HOSPITAL_DEPTS = {
    3: tuple(d for d in DEPARTMENTS if d != "pharmacy"),
    2: (
        "internal",
        "cardiology",
        "orthopedics",
        "hemodialysis",
        "rehabilitation",
        "imaging",
        "laboratory",
        "surgery",
        "pediatrics",
        "gynecology",
        "general",
        "anesthesia",
    ),
    1: ("general", "internal", "tcm", "rehabilitation", "laboratory"),
}


@dataclass
class World:
    """Entity tables of the city, as frames with integer positions used by the simulator."""

    providers: pd.DataFrame
    doctors: pd.DataFrame
    patients: pd.DataFrame
    #: patient position → home clinic and home hospital positions
    home_clinic: np.ndarray
    home_hospital: np.ndarray
    #: boolean matrix patients × CONDITIONS
    conditions: np.ndarray
    registered: np.ndarray
    start: np.datetime64
    end: np.datetime64

    def condition(self, code: str) -> np.ndarray:
        return self.conditions[:, list(CONDITIONS).index(code)]

    @property
    def age(self) -> np.ndarray:
        days = (self.start - self.patients["birth_date"].to_numpy("datetime64[D]")).astype(int)
        return days // 365

    def providers_of(self, kind: str, level: int | None = None) -> np.ndarray:
        p = self.providers
        mask = p["provider_type"].to_numpy() == kind
        if level is not None:
            mask &= p["level"].fillna(0).to_numpy() == level
        return np.flatnonzero(mask)


def _region_codes(n: int) -> list[str]:
    return [f"3301{i + 2:02d}" for i in range(n)]


_DISTRICTS = ["上城", "拱墅", "西湖", "滨江", "萧山", "余杭", "临平", "钱塘", "富阳", "临安"]


#: The provider mix of the standard city: providers of each kind per 10,000 insured people
#: (hospitals by grade, clinics, pharmacies), besides the children's hospital and the
#: specialist pharmacy every city has.
PROVIDER_MIX: dict[str, float] = {
    "hospital_3": 2.0,
    "hospital_2": 4.0,
    "hospital_1": 6.0,
    "clinic": 20.0,
    "pharmacy": 20.0,
}
#: Each kind's (provider type, level) and the fewest of it a city has, however small.
_PROVIDER_KINDS: dict[str, tuple[str, int | None, int]] = {
    "hospital_3": ("hospital", 3, 1),
    "hospital_2": ("hospital", 2, 2),
    "hospital_1": ("hospital", 1, 3),
    "clinic": ("clinic", 1, 6),
    "pharmacy": ("pharmacy", None, 6),
}


def provider_counts(
    n_patients: int, mix: Mapping[str, float] | None = None
) -> dict[tuple[str, int | None], int]:
    """How many providers of each (type, level) a city of ``n_patients`` has.

    Parameters
    ----------
    n_patients : int
        Insured people.
    mix : mapping, optional
        Providers per 10,000 insured by kind (keys of :data:`PROVIDER_MIX`); kinds it
        leaves out keep the standard rate. ``None``: the standard mix.

    Returns
    -------
    dict
        (provider type, level) → count, never below the kind's minimum.
    """
    rates = {**PROVIDER_MIX, **(mix or {})}
    unknown = set(rates) - set(PROVIDER_MIX)
    if unknown:
        raise ValueError(
            f"unknown provider kinds {sorted(unknown)} in provider_mix; known: "
            f"{', '.join(PROVIDER_MIX)}"
        )
    negative = sorted(k for k, v in rates.items() if v < 0)
    if negative:
        raise ValueError(f"provider_mix rates must not be negative: {negative}")
    per10k = n_patients / 10_000
    return {
        (kind, level): max(least, round(rates[name] * per10k))
        for name, (kind, level, least) in _PROVIDER_KINDS.items()
    }


def build_providers(
    rng: np.random.Generator,
    n_patients: int,
    n_regions: int,
    mix: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Hospitals of three grades, clinics, pharmacies (one specialist per city), as many
    of each as :func:`provider_counts` gives for ``mix``."""
    regions = _region_codes(n_regions)
    counts = provider_counts(n_patients, mix)
    rows = []
    for (kind, level), n in counts.items():
        for i in range(n):
            region = regions[i % n_regions]
            district = _DISTRICTS[(i % n_regions) % len(_DISTRICTS)]
            if kind == "hospital":
                beds = int(rng.integers(*{3: (800, 2000), 2: (200, 600), 1: (30, 120)}[level]))
                name = f"{district}区第{i + 1}{'人民医院' if level > 1 else '医院'}"
            elif kind == "clinic":
                beds = None
                name = f"{district}{'社区卫生服务中心' if i % 2 == 0 else '村卫生室'}{i + 1}"
            else:
                beds = None
                name = f"{district}大药房{i + 1}号店"
            rows.append(
                {
                    "provider_type": kind,
                    "level": level,
                    "region": region,
                    "beds": beds,
                    "name": name,
                }
            )
    # A children's hospital and a specialist (DTP) pharmacy: legitimate heavy users.
    rows.append(
        {
            "provider_type": "hospital",
            "level": 3,
            "region": regions[0],
            "beds": 900,
            "name": "市儿童医院",
        }
    )
    rows.append(
        {
            "provider_type": "pharmacy",
            "level": None,
            "region": regions[0],
            "beds": None,
            "name": "市特药药房(双通道)",
        }
    )
    frame = pd.DataFrame(rows)
    frame.insert(0, "provider_id", [f"H{3301000 + i:08d}" for i in range(len(frame))])
    frame["level"] = frame["level"].astype("Int64")
    frame["beds"] = frame["beds"].astype("Int64")
    frame["children"] = frame["name"] == "市儿童医院"
    frame["specialist"] = frame["name"].str.contains("特药")
    return frame


def build_doctors(rng: np.random.Generator, providers: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for pos, p in providers.iterrows():
        if p.provider_type == "pharmacy":
            depts, per = ("pharmacy",), (1, 3)
        elif p.provider_type == "clinic":
            depts, per = ("general",), (1, 4)
        elif p.children:
            depts, per = (
                ("pediatrics", "internal", "surgery", "imaging", "laboratory", "icu"),
                (3, 8),
            )
        else:
            depts = _HOSPITAL_DEPTS[int(p.level)]
            per = {3: (3, 8), 2: (2, 5), 1: (1, 3)}[int(p.level)]
        for dept in depts:
            for _ in range(int(rng.integers(per[0], per[1] + 1))):
                rows.append(
                    {
                        "provider_pos": pos,
                        "provider_id": p.provider_id,
                        "role": "pharmacist" if dept == "pharmacy" else "doctor",
                        "department": dept,
                    }
                )
    frame = pd.DataFrame(rows)
    frame.insert(0, "doctor_id", [f"D{i:07d}" for i in range(len(frame))])
    frame["dept_idx"] = frame["department"].map(DEPT).astype(int)
    return frame


def build_patients(
    rng: np.random.Generator, n: int, n_regions: int, start: np.datetime64
) -> tuple[pd.DataFrame, np.ndarray]:
    """Patients by age, gender and scheme; returns the frame and the condition matrix."""
    regions = np.array(_region_codes(n_regions))
    # weights of the bands: children 18%, adults 60%, elderly 22%
    band = rng.choice(3, n, p=[0.18, 0.60, 0.22])
    age = np.where(
        band == 0,
        rng.integers(0, 18, n),
        np.where(band == 1, rng.integers(18, 60, n), rng.integers(60, 95, n)),
    )
    birth = start - (age * 365 + rng.integers(0, 365, n)).astype("timedelta64[D]")
    gender = rng.choice(np.array(["M", "F"]), n)
    employee_p = np.where(age < 18, 0.0, np.where(age < 60, 0.65, 0.45))
    insurance = np.where(rng.random(n) < employee_p, "employee", "resident")
    conditions = np.zeros((n, len(CONDITIONS)), dtype=bool)
    for j, (base, elderly) in enumerate(CONDITIONS.values()):
        p = np.where(age >= 18, base, 0.0) + np.where(age >= 60, elderly, 0.0)
        conditions[:, j] = rng.random(n) < p
    frame = pd.DataFrame(
        {
            "patient_id": [f"{330100000000 + i:018d}" for i in range(n)],
            "gender": gender,
            "birth_date": birth.astype("datetime64[D]"),
            "insurance_type": insurance,
            "region": regions[rng.integers(0, n_regions, n)],
        }
    )
    return frame, conditions


def build_world(
    rng: np.random.Generator,
    n_patients: int,
    n_regions: int,
    start: str,
    end: str,
    provider_mix: Mapping[str, float] | None = None,
) -> World:
    t0, t1 = np.datetime64(start, "D"), np.datetime64(end, "D")
    providers = build_providers(rng, n_patients, n_regions, provider_mix)
    doctors = build_doctors(rng, providers)
    patients, conditions = build_patients(rng, n_patients, n_regions, t0)
    # Home providers: a clinic and a hospital in the patient's region (loyalty).
    home_clinic = np.empty(n_patients, dtype=int)
    home_hospital = np.empty(n_patients, dtype=int)
    for region, idx in patients.groupby("region").indices.items():
        clinics = np.flatnonzero(
            (providers.provider_type == "clinic") & (providers.region == region)
        )
        hosp = np.flatnonzero(
            (providers.provider_type == "hospital")
            & (providers.region == region)
            & ~providers.children
        )
        clinics = clinics if clinics.size else np.flatnonzero(providers.provider_type == "clinic")
        hosp = hosp if hosp.size else np.flatnonzero(providers.provider_type == "hospital")
        home_clinic[idx] = rng.choice(clinics, idx.size)
        home_hospital[idx] = rng.choice(hosp, idx.size)
    # Most chronic patients are registered (门慢门特认定); a few never applied.
    registered = conditions & (rng.random(conditions.shape) < 0.92)
    return World(
        providers, doctors, patients, home_clinic, home_hospital, conditions, registered, t0, t1
    )


def chronic_registrations(world: World, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    codes = list(CONDITIONS)
    pid = world.patients["patient_id"].to_numpy()
    for j, code in enumerate(codes):
        idx = np.flatnonzero(world.registered[:, j])
        since = world.start - rng.integers(30, 3000, idx.size).astype("timedelta64[D]")
        rows.append(
            pd.DataFrame(
                {
                    "patient_id": pid[idx],
                    "disease_code": code,
                    "valid_from": since,
                    "valid_to": pd.NaT,
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame["valid_from"] = frame["valid_from"].astype("datetime64[s]")
    frame["valid_to"] = frame["valid_to"].astype("datetime64[s]")
    return frame
