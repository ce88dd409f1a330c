"""Row builders for hand-built datasets: a claim, a fee line, a catalog entry (as text)."""

from __future__ import annotations


def claim(
    cid,
    patient,
    provider,
    visit,
    admit,
    discharge=None,
    total="100",
    fund="50",
    account="30",
    cash="20",
    diagnosis="J06.9",
    doctor="",
):
    return {
        "claim_id": cid,
        "patient_id": patient,
        "provider_id": provider,
        "doctor_id": doctor,
        "visit_type": visit,
        "department": "general",
        "admit_time": admit,
        "discharge_time": discharge or admit,
        "diagnosis_code": diagnosis,
        "total_amount": total,
        "fund_paid": fund,
        "account_paid": account,
        "cash_paid": cash,
    }


def line(cid, no, code, category, qty, price, when="", trace=""):
    amount = f"{float(qty) * float(price):.2f}"
    return {
        "claim_id": cid,
        "line_no": str(no),
        "item_code": code,
        "item_category": category,
        "quantity": str(qty),
        "unit_price": str(price),
        "amount": amount,
        "item_time": when,
        "trace_code": trace,
    }


def catalog_item(code, category, **restrictions):
    """A catalog row; ``restrictions`` are contract columns (price_cap, gender, …)."""
    row = {
        "item_code": code,
        "name": "",
        "item_category": category,
        "price_cap": "",
        "gender": "",
        "min_age": "",
        "max_age": "",
        "max_daily_quantity": "",
        "inpatient_only": "",
        "min_provider_level": "",
    }
    row.update({k: str(v) for k, v in restrictions.items()})
    return row
