"""The ledger: claims and fee lines accumulated in NumPy batches, then priced and paid.

Legitimate care and every fraud scheme write through the same two calls,
:meth:`Ledger.add_claims` and :meth:`Ledger.add_items`; :meth:`Ledger.finish` turns the
batches into contract tables (ids by time, line numbers, totals, payment split).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fraudml.synth.catalog import DRUG_CATEGORIES
from fraudml.synth.world import DEPT, World

_LEVEL_PRICE = {3: 1.10, 2: 1.00, 1: 0.92, 0: 0.95}  # pharmacies (no level) at 0.95


@dataclass
class ClaimRefs:
    """Positions of claims in the ledger, with what the schemes need to know of them."""

    ref: np.ndarray
    patient: np.ndarray
    provider: np.ndarray
    admit: np.ndarray  # datetime64[s]
    days: np.ndarray  # length of stay in days (0 for a visit)


@dataclass
class Ledger:
    world: World
    catalog: pd.DataFrame
    rng: np.random.Generator
    _claims: list[dict[str, np.ndarray]] = field(default_factory=list)
    _items: list[dict[str, np.ndarray]] = field(default_factory=list)
    _n_claims: int = 0
    _trace_serial: int = 0
    #: claim ref → (scheme, date the fraud became known), for claim labels
    claim_scheme: dict[int, tuple[str, np.datetime64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._item_codes = pd.Index(self.catalog["item_code"])
        self.ref_price = self.catalog["ref_price"].to_numpy(float)
        self.category = self.catalog["item_category"].to_numpy(object)
        self.cap = self.catalog["price_cap"].to_numpy(float)
        self.is_drug = np.isin(self.category, DRUG_CATEGORIES)
        cat = self.catalog
        self.r_gender = cat["gender"].fillna("").to_numpy(object)
        self.r_min_age = cat["min_age"].fillna(-1).to_numpy(int)
        self.r_max_age = cat["max_age"].fillna(999).to_numpy(int)
        self.r_inpatient = cat["inpatient_only"].fillna(False).to_numpy(bool)
        self.r_min_level = cat["min_provider_level"].fillna(0).to_numpy(int)
        self.r_max_daily = cat["max_daily_quantity"].fillna(1e9).to_numpy(float)
        self.patient_age = self.world.age
        self.patient_gender = self.world.patients["gender"].to_numpy(object)
        self.provider_level = self.world.providers["level"].fillna(0).astype(int).to_numpy()
        levels = self.world.providers["level"].fillna(0).astype(int).to_numpy()
        self.price_factor = np.array([_LEVEL_PRICE[v] for v in levels])
        # doctors grouped by (provider, department) for vectorised choice
        d = self.world.doctors.sort_values(["provider_pos", "dept_idx", "doctor_id"])
        self._doc_ids = d["doctor_id"].to_numpy()
        key = d["provider_pos"].to_numpy() * 100 + d["dept_idx"].to_numpy()
        self._doc_key = key
        self._doc_provider = d["provider_pos"].to_numpy()

    # ------------------------------------------------------------------ claims
    def add_claims(
        self,
        patient: np.ndarray,
        provider: np.ndarray,
        visit_type: str | np.ndarray,
        department: str | np.ndarray,
        admit: np.ndarray,
        diagnosis: str | np.ndarray | None,
        days: np.ndarray | int = 0,
        scheme: str | None = None,
        decided: np.datetime64 | None = None,
        doctor: np.ndarray | None = None,
    ) -> ClaimRefs:
        n = len(patient)
        refs = np.arange(self._n_claims, self._n_claims + n)
        self._n_claims += n
        days = np.broadcast_to(np.asarray(days, dtype=np.int64), (n,)).copy()
        visit = np.broadcast_to(np.asarray(visit_type, dtype=object), (n,)).copy()
        dept = np.broadcast_to(np.asarray(department, dtype=object), (n,)).copy()
        diag = np.broadcast_to(np.asarray(diagnosis, dtype=object), (n,)).copy()
        admit = np.asarray(admit, dtype="datetime64[s]")
        # inpatients leave in the morning of the last day; a visit ends when it starts
        discharge = np.where(
            days > 0,
            admit.astype("datetime64[D]") + days.astype("timedelta64[D]") + np.timedelta64(10, "h"),
            admit,
        ).astype("datetime64[s]")
        discharge = np.maximum(discharge, admit)
        if doctor is None:
            doctor = self.pick_doctor(provider, dept)
        self._claims.append(
            {
                "ref": refs,
                "patient": np.asarray(patient),
                "provider": np.asarray(provider),
                "doctor": doctor,
                "visit_type": visit,
                "department": dept,
                "admit": admit,
                "discharge": discharge,
                "diagnosis": diag,
                "days": days,
            }
        )
        if scheme is not None:
            self.tag(refs, scheme, decided)
        return ClaimRefs(refs, np.asarray(patient), np.asarray(provider), admit, days)

    def tag(self, refs: np.ndarray, scheme: str, decided: np.datetime64 | None) -> None:
        """Label claims as part of ``scheme``, known from ``decided`` (first scheme wins)."""
        for r in refs:
            self.claim_scheme.setdefault(int(r), (scheme, decided))

    def pick_doctor(self, provider: np.ndarray, dept: np.ndarray) -> np.ndarray:
        """A doctor of the provider's department, else any of the provider's doctors."""
        dept_idx = np.array([DEPT.get(d, -1) if d is not None else -1 for d in dept])
        key = np.asarray(provider) * 100 + np.where(dept_idx < 0, 0, dept_idx)
        lo = np.searchsorted(self._doc_key, key, "left")
        hi = np.searchsorted(self._doc_key, key, "right")
        empty = hi == lo
        plo = np.searchsorted(self._doc_provider, provider, "left")
        phi = np.searchsorted(self._doc_provider, provider, "right")
        lo = np.where(empty, plo, lo)
        hi = np.where(empty, phi, hi)
        pick = lo + np.floor(self.rng.random(len(key)) * (hi - lo)).astype(int)
        out = self._doc_ids[np.minimum(pick, len(self._doc_ids) - 1)].astype(object)
        out[hi == lo] = None
        return out

    def codes_index(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=object)
        idx = self._item_codes.get_indexer(codes)
        if (idx < 0).any():
            raise KeyError(f"item codes not in the catalog: {sorted(set(codes[idx < 0]))}")
        return idx

    def allowed(
        self,
        codes: np.ndarray,
        qty: np.ndarray,
        patient: np.ndarray,
        provider: np.ndarray,
        inpatient: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lines the catalog allows (gender, age, inpatient-only, grade); quantity capped."""
        idx = self.codes_index(codes)
        g = self.r_gender[idx]
        age = self.patient_age[patient]
        keep = (g == "") | (g == self.patient_gender[patient])
        keep &= (age >= self.r_min_age[idx]) & (age <= self.r_max_age[idx])
        keep &= ~self.r_inpatient[idx] | inpatient
        keep &= self.provider_level[provider] >= self.r_min_level[idx]
        return keep, np.minimum(qty, self.r_max_daily[idx])

    # ------------------------------------------------------------------- items
    def add_items(
        self,
        claim: np.ndarray,
        item_code: np.ndarray | str,
        quantity: np.ndarray | float,
        item_time: np.ndarray,
        *,
        provider: np.ndarray,
        unit_price: np.ndarray | None = None,
        category: np.ndarray | None = None,
        trace: np.ndarray | bool = False,
        trace_code: np.ndarray | None = None,
        unlisted: bool = False,
    ) -> None:
        """Fee lines for ``claim`` refs; prices follow the catalog and hospital level.

        ``trace`` marks drug lines that carry one pack with a newly minted trace code;
        ``trace_code`` gives codes explicitly (a pack sold a second time). ``unlisted``
        codes are in no catalog entry: ``unit_price`` and ``category`` are then required.
        """
        n = len(claim)
        codes = np.broadcast_to(np.asarray(item_code, dtype=object), (n,))
        if unlisted:
            # codes in no catalog entry (目录外): priced and classed by the caller
            if unit_price is None or category is None:
                raise ValueError("items outside the catalog need their unit_price and category")
            idx = np.zeros(n, int)
            trace = False
        else:
            idx = self.codes_index(codes) if n else np.zeros(0, int)
        qty = np.broadcast_to(np.asarray(quantity, dtype=float), (n,)).copy()
        if unit_price is None:
            unit_price = np.round(self.ref_price[idx] * self.price_factor[provider], 2)
        unit_price = np.minimum(np.asarray(unit_price, float), 1e9)
        cat = self.category[idx] if category is None else np.asarray(category, dtype=object)
        if trace_code is None:
            trace_mask = np.broadcast_to(np.asarray(trace), (n,)) & self.is_drug[idx]
            codes_out = np.full(n, None, dtype=object)
            k = int(trace_mask.sum())
            if k:
                serial = np.arange(self._trace_serial, self._trace_serial + k)
                self._trace_serial += k
                prefix = 8_100_000 + idx[trace_mask]
                codes_out[trace_mask] = [
                    f"{p}{s:013d}" for p, s in zip(prefix, serial, strict=True)
                ]
                qty[trace_mask] = 1.0  # a line with a trace code carries one pack
        else:
            codes_out = np.asarray(trace_code, dtype=object)
        self._items.append(
            {
                "claim": np.asarray(claim),
                "item_code": np.asarray(codes, dtype=object),
                "category": cat,
                "quantity": qty,
                "unit_price": unit_price,
                "item_time": np.asarray(item_time, dtype="datetime64[s]"),
                "trace_code": codes_out,
            }
        )

    def drop_items(self, keep: Callable[[dict[str, np.ndarray]], np.ndarray]) -> None:
        """Keep the fee lines of each batch for which ``keep(batch)`` is true."""
        for b in self._items:
            mask = np.asarray(keep(b), dtype=bool)
            if not mask.all():
                for k in _ITEM_KEYS:
                    b[k] = b[k][mask]

    def items_frame(self) -> pd.DataFrame:
        """Fee lines so far (for schemes that copy or resell them)."""
        return pd.DataFrame(_concat(self._items, _ITEM_KEYS))

    # ------------------------------------------------------------------ finish
    def finish(
        self,
    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[str, np.datetime64 | None]]]:
        """Contract ``claims`` and ``claim_items`` frames and claim id → (scheme, decided)."""
        c = _concat(self._claims, _CLAIM_KEYS)
        it = _concat(self._items, _ITEM_KEYS)
        w = self.world
        order = np.lexsort((c["ref"], c["admit"]))
        claim_id = np.empty(len(order), dtype=object)
        claim_id[order] = [f"S{i:011d}" for i in range(len(order))]
        id_of_ref = np.empty(self._n_claims, dtype=object)
        id_of_ref[c["ref"]] = claim_id

        amount = np.round(it["quantity"] * it["unit_price"], 2)
        total = np.round(np.bincount(it["claim"], weights=amount, minlength=self._n_claims), 2)
        total = total[c["ref"]]
        fund, account, cash = self._payments(c, total)

        claims = (
            pd.DataFrame(
                {
                    "claim_id": claim_id,
                    "patient_id": w.patients["patient_id"].to_numpy()[c["patient"]],
                    "provider_id": w.providers["provider_id"].to_numpy()[c["provider"]],
                    "doctor_id": c["doctor"],
                    "visit_type": c["visit_type"],
                    "department": c["department"],
                    "admit_time": c["admit"],
                    "discharge_time": c["discharge"],
                    "diagnosis_code": c["diagnosis"],
                    "total_amount": total,
                    "fund_paid": fund,
                    "account_paid": account,
                    "cash_paid": cash,
                }
            )
            .iloc[order]
            .reset_index(drop=True)
        )

        # fee lines in claim order, then by time: integer sorts, not string sorts
        rank_of_ref = np.empty(self._n_claims, dtype=np.int64)
        rank_of_ref[c["ref"][order]] = np.arange(order.size)
        rank = rank_of_ref[it["claim"]]
        line_order = np.lexsort((it["item_time"], rank))
        rank = rank[line_order]
        first = np.searchsorted(rank, rank, side="left")
        line_no = np.arange(rank.size) - first + 1
        items = pd.DataFrame(
            {
                "claim_id": id_of_ref[it["claim"][line_order]],
                "line_no": line_no,
                "item_code": it["item_code"][line_order],
                "item_category": it["category"][line_order],
                "quantity": it["quantity"][line_order],
                "unit_price": it["unit_price"][line_order],
                "amount": amount[line_order],
                "item_time": it["item_time"][line_order],
                "trace_code": it["trace_code"][line_order],
            }
        )
        schemes = {str(id_of_ref[r]): s for r, s in self.claim_scheme.items()}
        return claims, items, schemes

    def _payments(
        self, c: dict[str, np.ndarray], total: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fund / personal account / cash by scheme rules (simplified municipal policy)."""
        w = self.world
        employee = w.patients["insurance_type"].to_numpy()[c["patient"]] == "employee"
        level = w.providers["level"].fillna(0).astype(int).to_numpy()[c["provider"]]
        visit = c["visit_type"]
        inpatient = visit == "inpatient"
        deductible = np.select([level == 3, level == 2], [1000.0, 700.0], 400.0)
        in_ratio = np.select([level == 3, level == 2], [0.80, 0.85], 0.90) + np.where(
            employee, 0.05, -0.05
        )
        out_ratio = np.where(visit == "outpatient_chronic", 0.70, 0.50)
        out_ratio = np.where(visit == "pharmacy", 0.0, out_ratio)
        out_ratio = np.where(visit == "other", 0.0, out_ratio)
        fund = np.where(inpatient, np.maximum(total - deductible, 0) * in_ratio, total * out_ratio)
        fund = np.round(fund, 2)
        rest = total - fund
        account_share = np.where(visit == "pharmacy", 1.0, np.where(inpatient, 0.0, 0.6))
        account = np.round(np.where(employee, rest * account_share, 0.0), 2)
        cash = np.round(total - fund - account, 2)
        # rounding may leave -0.00: fold it into the account share
        neg = cash < 0
        account[neg] = np.round(account[neg] + cash[neg], 2)
        cash[neg] = 0.0
        return fund, account, cash


_CLAIM_KEYS = (
    "ref",
    "patient",
    "provider",
    "doctor",
    "visit_type",
    "department",
    "admit",
    "discharge",
    "diagnosis",
    "days",
)
_ITEM_KEYS = ("claim", "item_code", "category", "quantity", "unit_price", "item_time", "trace_code")


def _concat(batches: list[dict[str, np.ndarray]], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not batches:
        return {k: np.array([]) for k in keys}
    return {k: np.concatenate([b[k] for b in batches]) for k in keys}
