"""The ledger's status where claims and leads are: marks on leads, refusals of claims.

- :func:`mark_leads`: a scoring run's leads with the practitioners behind each lead who
  are suspended, terminated or under watch (the coordinator wires it into scoring);
- :class:`EligibilityGuard`: whether a claim's billing practitioner may be paid at the
  claim's time, for the in-process rules of the check service (a suspended or terminated
  practitioner's claim is refused; 暂停或终止期内发生的医保费用不予结算).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from fraudml.errors import SettingError

#: Severity order of the marks (most severe first); ``active`` is no mark.
SEVERITY = {"terminated": 0, "suspended": 1, "watch": 2}
MARK_COLUMNS = ("practitioner_mark", "practitioners_barred", "practitioners_watch")


def lead_practitioners(claims: pd.DataFrame, doctors: pd.DataFrame | None = None) -> pd.DataFrame:
    """Links from each possible lead to its practitioners (``entity_type``,
    ``entity_id``, ``doctor_id``): a claim to its billing practitioner, a patient and a
    provider to the practitioners who billed their claims of the period, a doctor to
    itself, and a provider also to the practitioners it employs (``doctors``)."""
    c = claims[claims.doctor_id.notna() & (claims.doctor_id.astype(str) != "")]
    frames = [
        pd.DataFrame({"entity_type": "claim", "entity_id": c.claim_id, "doctor_id": c.doctor_id}),
        pd.DataFrame(
            {"entity_type": "patient", "entity_id": c.patient_id, "doctor_id": c.doctor_id}
        ),
        pd.DataFrame(
            {"entity_type": "provider", "entity_id": c.provider_id, "doctor_id": c.doctor_id}
        ),
        pd.DataFrame({"entity_type": "doctor", "entity_id": c.doctor_id, "doctor_id": c.doctor_id}),
    ]
    if doctors is not None and not doctors.empty:
        frames.append(
            pd.DataFrame(
                {
                    "entity_type": "provider",
                    "entity_id": doctors.provider_id,
                    "doctor_id": doctors.doctor_id,
                }
            )
        )
        frames.append(
            pd.DataFrame(
                {
                    "entity_type": "doctor",
                    "entity_id": doctors.doctor_id,
                    "doctor_id": doctors.doctor_id,
                }
            )
        )
    links = pd.concat(frames, ignore_index=True).astype(str)
    return links.drop_duplicates().reset_index(drop=True)


def mark_leads(
    leads: pd.DataFrame, status: pd.DataFrame, links: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``leads`` with the ledger's marks of their practitioners.

    ``links`` (:func:`lead_practitioners` of the period's claims) say whose practitioners
    a lead has; without them only doctor leads are marked (as themselves).

    Adds ``practitioner_mark`` (the most severe status among the lead's practitioners:
    ``terminated``, ``suspended``, ``watch``, or empty), ``practitioners_barred`` (ids of
    those suspended or terminated, ``;``-joined) and ``practitioners_watch`` (ids under
    watch). Rows and their order are kept; a lead type without practitioners (a group)
    gets no mark.
    """
    if links is None:
        doctors = leads[leads.entity_type == "doctor"].entity_id.astype(str)
        links = pd.DataFrame({"entity_type": "doctor", "entity_id": doctors, "doctor_id": doctors})
    marked = status[status.status.isin(list(SEVERITY))][["doctor_id", "status"]].astype(str)
    joined = links.merge(marked, on="doctor_id")
    out = leads.copy()
    keys = list(zip(out.entity_type.astype(str), out.entity_id.astype(str), strict=True))
    per_lead: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for t, i, d, s in joined[["entity_type", "entity_id", "doctor_id", "status"]].itertuples(
        index=False
    ):
        per_lead.setdefault((t, i), []).append((d, s))
    mark, barred, watch = [], [], []
    for key in keys:
        found = sorted(per_lead.get(key, []), key=lambda x: (SEVERITY[x[1]], x[0]))
        mark.append(found[0][1] if found else None)
        barred.append(";".join(d for d, s in found if s in ("terminated", "suspended")) or None)
        watch.append(";".join(d for d, s in found if s == "watch") or None)
    for name, values in zip(MARK_COLUMNS, (mark, barred, watch), strict=True):
        out[name] = pd.Series(values, index=out.index, dtype=object)
    return out


def read_status(path: str | Path) -> pd.DataFrame:
    """The practitioners' status written by ``make ledger`` (its folder, or its
    ``status.parquet``), read before any work so that a wrong path stops at once (scoring's
    ``leads.ledger``, the check service's ``eligibility``)."""
    path = Path(path)
    file = path / "status.parquet" if path.is_dir() else path
    if not file.is_file():
        raise SettingError(
            f"{path}: no status.parquet there; give the folder `make ledger OUT=…` wrote, "
            "or its status.parquet"
        )
    status = pd.read_parquet(file)
    missing = {"doctor_id", "status"} - set(status.columns)
    if missing:
        raise SettingError(
            f"{file}: column {', '.join(sorted(missing))} missing (expected the status table "
            "`make ledger` writes: doctor_id, status, …)"
        )
    return status


def read_credit(path: str | Path) -> pd.DataFrame | None:
    """The providers' credit rating ``make ledger`` wrote beside the status (its folder's
    ``credit.parquet``), for the report's credit sheet; ``None`` when there is none."""
    path = Path(path)
    file = (path if path.is_dir() else path.parent) / "credit.parquet"
    return pd.read_parquet(file) if file.is_file() else None


@dataclass(frozen=True)
class Refusal:
    """Why a claim is refused: its practitioner's status at the claim's time."""

    doctor_id: str
    status: str
    since: date
    until: date | None
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class EligibilityGuard:
    """The practitioners who may not be paid, and when (from the ledger's status).

    Built once from the status frame (:func:`fraudml.loop.ledger.ledger`); cheap to ask
    per claim. A claim billed on a day from ``suspended_from`` to ``suspended_to``
    (inclusive), or on or after ``terminated_at``, is refused.
    """

    suspended: Mapping[str, tuple[date, date]] = field(default_factory=dict)
    terminated: Mapping[str, tuple[date, date | None]] = field(default_factory=dict)

    @classmethod
    def from_status(cls, status: pd.DataFrame) -> EligibilityGuard:
        def day(value: object) -> date | None:
            return None if value is None or pd.isna(value) else pd.Timestamp(value).date()

        suspended, terminated = {}, {}
        for r in status.itertuples(index=False):
            if day(r.terminated_at) is not None:
                terminated[str(r.doctor_id)] = (day(r.terminated_at), day(r.reregister_from))
            if day(r.suspended_from) is not None and day(r.suspended_to) is not None:
                suspended[str(r.doctor_id)] = (day(r.suspended_from), day(r.suspended_to))
        return cls(suspended, terminated)

    def check(self, doctor_id: object, when: datetime | date) -> Refusal | None:
        """The refusal of a claim billed by ``doctor_id`` at ``when``; ``None`` if payable."""
        if doctor_id is None or (isinstance(doctor_id, float) and pd.isna(doctor_id)):
            return None
        doctor = str(doctor_id)
        day = when.date() if isinstance(when, datetime) else when
        if doctor in self.terminated and self.terminated[doctor][0] <= day:
            since, barred = self.terminated[doctor]
            return Refusal(
                doctor,
                "terminated",
                since,
                barred,
                f"医师/药师 {doctor} 的医保支付资格已于 {since} 终止，费用不予结算",
                f"practitioner {doctor}'s payment eligibility ended on {since}; not payable",
            )
        if doctor in self.suspended:
            start, end = self.suspended[doctor]
            if start <= day <= end:
                return Refusal(
                    doctor,
                    "suspended",
                    start,
                    end,
                    f"医师/药师 {doctor} 的医保支付资格暂停至 {end}（含），暂停期内费用不予结算",
                    f"practitioner {doctor}'s payment eligibility is suspended to {end} inclusive; "
                    "not payable",
                )
        return None

    def refusals(self, claims: pd.DataFrame) -> pd.DataFrame:
        """The claims (``claim_id``, ``doctor_id``, ``admit_time``) refused, with why."""
        rows = []
        for r in claims[["claim_id", "doctor_id", "admit_time"]].itertuples(index=False):
            refusal = self.check(r.doctor_id, pd.Timestamp(r.admit_time).to_pydatetime())
            if refusal is not None:
                rows.append({"claim_id": r.claim_id, **refusal.__dict__})
        columns = ["claim_id", "doctor_id", "status", "since", "until", "message_zh", "message_en"]
        return pd.DataFrame(rows, columns=columns)
