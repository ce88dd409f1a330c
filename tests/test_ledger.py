"""The points ledger, the person file, the credit rating and the marks, on hand-built
verdict histories (crossing a year boundary)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from fraudml.errors import SettingError
from fraudml.loop.credit import attribute, credit_rating
from fraudml.loop.ledger import doctor_suspensions, ledger
from fraudml.loop.marks import EligibilityGuard, lead_practitioners, mark_leads
from fraudml.loop.settings import CreditRules, PointsRules

NATIONAL = PointsRules()
LOCAL = PointsRules(interview_at=6, restore_per_year=4)
DOCTORS = pd.DataFrame({"doctor_id": ["D1", "D2", "D3"], "provider_id": ["H1", "H1", "H2"]})


def history(*rows: tuple) -> pd.DataFrame:
    """Verdicts: (doctor or responsible, decided_at, severity points[, verdict])."""
    out = []
    for i, row in enumerate(rows):
        responsible, day, points, *rest = row
        out.append(
            {
                "verdict_id": f"v{i}",
                "entity_type": "claim",
                "entity_id": f"C{i}",
                "verdict": rest[0] if rest else "confirmed",
                "scheme": "phantom_billing",
                "decided_at": date.fromisoformat(day),
                "amount_recovered": None,
                "responsible": responsible,
                "points": points,
                "note": None,
            }
        )
    return pd.DataFrame(out)


def status_of(result, doctor: str) -> dict:
    return result.status.set_index("doctor_id").loc[doctor].to_dict()


def test_points_follow_band_and_degree():
    h = history(
        ("D1:一般", "2024-03-01", 5),
        ("D2:重要", "2024-03-01", 5),
        ("D3:主要", "2024-03-01", 5),
        ("D1:主要:2", "2024-03-02", 11),  # explicit points win
        ("D2:主要", "2024-03-03", None),  # no points: named, not scored
        ("D3:主要", "2024-03-04", 12, "cleared"),  # cleared verdicts score nobody
    )
    result = ledger(h, DOCTORS, NATIONAL, date(2024, 4, 1))
    points = result.events[result.events.event == "points"]
    assert points[["doctor_id", "points", "degree"]].values.tolist() == [
        ["D1", 4, "一般"],
        ["D1", 2, "主要"],
        ["D2", 5, "重要"],
        ["D3", 6, "主要"],
    ]
    assert result.ledger[["doctor_id", "year", "points", "violations"]].values.tolist() == [
        ["D1", 2024, 6, 2],
        ["D2", 2024, 5, 1],
        ["D3", 2024, 6, 1],
    ]
    assert status_of(result, "D1")["status"] == "watch"  # 6 points: under watch
    assert status_of(result, "D2")["status"] == "active"
    # the person file holds the verdicts without points too
    others = result.events[result.events.event != "points"]
    assert others[["doctor_id", "event", "entity_id"]].values.tolist() == [
        ["D2", "named", "C4"],
        ["D3", "cleared", "C5"],
    ]


def test_points_reset_on_new_year_and_nine_suspend():
    h = history(
        ("D1:主要", "2023-11-01", 6),
        ("D1:主要", "2024-01-10", 6),  # a new year: 6, not 12
        ("D1:一般", "2024-05-01", 7),  # 6 + 7 = 13 ≥ 12: terminated, 1 year
        ("D2:主要", "2024-12-20", 9),  # 9: suspended one month, across the new year
        ("D2:主要", "2025-01-15", 3),  # new year: 3 points, the suspension runs on
    )
    mid = ledger(h, DOCTORS, NATIONAL, date(2024, 2, 1))
    assert status_of(mid, "D1")["status"] == "watch"
    assert status_of(mid, "D1")["year_points"] == 6
    assert status_of(mid, "D1")["total_points"] == 12
    assert mid.ledger[["doctor_id", "year", "year_points"]].values.tolist() == [
        ["D1", 2023, 6],
        ["D1", 2024, 6],
    ]

    end = ledger(h, DOCTORS, NATIONAL, date(2025, 1, 10))
    d1, d2 = status_of(end, "D1"), status_of(end, "D2")
    assert d1["status"] == "terminated"
    assert (d1["terminated_at"], d1["reregister_from"]) == (date(2024, 5, 1), date(2025, 5, 1))
    assert d1["year_points"] == 0  # 2025 has none yet; termination stands
    assert d2["status"] == "suspended"
    assert (d2["suspended_from"], d2["suspended_to"]) == (date(2024, 12, 20), date(2025, 1, 19))
    assert (
        ledger(h, DOCTORS, NATIONAL, date(2025, 1, 20))
        .status.set_index("doctor_id")
        .loc["D2", "status"]
        == "active"
    )  # 3 points in 2025, suspension over
    assert [e for e in end.events.event[end.events.doctor_id == "D1"]] == [
        "points",
        "points",
        "points",
        "terminated",
    ]
    assert doctor_suspensions(end.status).values.tolist() == [
        ["D1", date(2024, 5, 1), None],
        ["D2", date(2024, 12, 20), date(2025, 1, 19)],
    ]


def test_more_points_lengthen_a_suspension_and_twelve_at_once_bar_three_years():
    h = history(
        ("D1:主要", "2024-03-01", 9),  # suspended 1 month
        ("D1:一般", "2024-03-10", 1),  # 10: 2 months from today
        ("D2:主要", "2024-06-01", 12),  # 12 at once: 3 years
    )
    result = ledger(h, DOCTORS, NATIONAL, date(2024, 4, 20))
    d1, d2 = status_of(result, "D1"), status_of(result, "D2")
    assert d1["status"] == "suspended"
    assert (d1["suspended_from"], d1["suspended_to"]) == (date(2024, 3, 1), date(2024, 5, 9))
    assert d2["status"] == "active"  # decided after the day asked about
    later = ledger(h, DOCTORS, NATIONAL, date(2024, 7, 1))
    assert status_of(later, "D2")["reregister_from"] == date(2027, 6, 1)
    assert status_of(later, "D1")["status"] == "watch"


def test_local_interview_and_training_restore_at_most_four_a_year():
    h = history(("D1:主要", "2024-02-01", 6), ("D1:主要", "2024-09-01", 3))
    trainings = pd.DataFrame(
        {
            "doctor_id": ["D1", "D1", "D1"],
            "completed_at": ["2024-03-01", "2024-04-01", "2025-01-05"],
            "points": [3, 3, 3],
        }
    )
    result = ledger(h, DOCTORS, LOCAL, date(2024, 12, 31), trainings)
    events = [
        [r.date, r.event, None if pd.isna(r.points) else int(r.points), int(r.year_points)]
        for r in result.events.itertuples()
    ]
    assert events == [
        [date(2024, 2, 1), "points", 6, 6],
        [date(2024, 2, 1), "interview", None, 6],
        [date(2024, 3, 1), "restored", 3, 3],
        [date(2024, 4, 1), "restored", 1, 2],  # 4 a year at most
        [date(2024, 9, 1), "points", 3, 5],
    ]
    assert status_of(result, "D1")["status"] == "active"
    national = ledger(h, DOCTORS, NATIONAL, date(2024, 12, 31), trainings)
    # nationally nothing is restored: 9 points suspended D1 for September
    assert status_of(national, "D1")["year_points"] == 9
    assert status_of(national, "D1")["suspended_to"] == date(2024, 9, 30)
    assert "interview" not in set(national.events.event)


def test_rules_refuse_inconsistent_settings():
    with pytest.raises(SettingError, match="bands"):
        PointsRules(bands=((1, 3), (5, 12)))
    with pytest.raises(SettingError, match="suspend_months"):
        PointsRules(suspend_months={9: 7})
    with pytest.raises(SettingError, match="grades"):
        CreditRules(grades={"A": 60, "B": 90})


def test_credit_rating_items_and_grades():
    verdicts = history(("D1:主要", "2024-03-01", 3), ("", "2024-04-01", None))
    verdicts["amount_recovered"] = [500.0, 1000.0]
    verdicts.loc[1, "entity_type"], verdicts.loc[1, "entity_id"] = "provider", "H2"
    owners = pd.DataFrame({"claim_id": ["C0"], "provider_id": ["H1"]})
    attributed = attribute(verdicts, owners, DOCTORS)
    assert attributed.provider_id.tolist() == ["H1", "H2"]
    activity = pd.DataFrame(
        {
            "provider_id": ["H1", "H2", "H3"],
            "claims": [200, 50, 10],
            "fund_paid": [10000.0, 5000.0, 0.0],
        }
    )
    hits = pd.DataFrame({"provider_id": ["H1"], "rule_hits": [10]})
    status = pd.DataFrame(
        {
            "doctor_id": ["D1", "D2"],
            "provider_id": ["H1", "H1"],
            "status": ["suspended", "terminated"],
        }
    )
    providers = pd.DataFrame({"provider_id": ["H1", "H2", "H3"]})
    rating = credit_rating(
        providers, attributed, activity, hits, status, CreditRules(), date(2024, 12, 31)
    ).set_index("provider_id")
    # H1: 1 verdict (5) + 5% recovered (10) + 5 hits per 100 claims (5) + 5 + 10 = 35
    assert rating.loc["H1", ["score", "grade"]].tolist() == [65.0, "C"]
    assert rating.loc["H1", "recovered_percent"] == 5.0
    assert rating.loc["H1", "hits_per_100_claims"] == 5.0
    # H2: 1 verdict (5) + 20% recovered (40, capped at 30) = 35
    assert rating.loc["H2", ["deduct_recovered", "score", "grade"]].tolist() == [30.0, 65.0, "C"]
    assert rating.loc["H3", ["score", "grade"]].tolist() == [100.0, "A"]
    old = credit_rating(
        providers,
        attributed,
        activity,
        hits.iloc[0:0],
        status.iloc[0:0],
        CreditRules(),
        date(2026, 1, 1),
    ).set_index("provider_id")
    assert old.verdicts.tolist() == [0, 0, 0]  # out of the year's window


def test_leads_marked_and_claims_of_suspended_practitioners_refused():
    status = pd.DataFrame(
        {
            "doctor_id": ["D1", "D2", "D3"],
            "status": ["suspended", "watch", "active"],
            "suspended_from": [date(2024, 3, 1), None, None],
            "suspended_to": [date(2024, 3, 31), None, None],
            "terminated_at": [None, None, None],
            "reregister_from": [None, None, None],
        }
    )
    claims = pd.DataFrame(
        {
            "claim_id": ["C1", "C2", "C3"],
            "patient_id": ["P1", "P1", "P2"],
            "provider_id": ["H1", "H1", "H2"],
            "doctor_id": ["D1", "D2", None],
            "admit_time": [datetime(2024, 3, 31, 23), datetime(2024, 3, 5), datetime(2024, 3, 5)],
        }
    )
    leads = pd.DataFrame(
        {
            "entity_type": ["patient", "claim", "provider", "group", "doctor"],
            "entity_id": ["P1", "C3", "H2", "G1", "D2"],
            "score": [0.9, 0.8, 0.7, 0.6, 0.5],
        }
    )
    marked = mark_leads(leads, status, lead_practitioners(claims, DOCTORS))
    assert marked[
        ["entity_id", "practitioner_mark", "practitioners_barred", "practitioners_watch"]
    ].values.tolist() == [
        ["P1", "suspended", "D1", "D2"],
        ["C3", None, None, None],
        ["H2", None, None, None],  # D3 is active
        ["G1", None, None, None],
        ["D2", "watch", None, "D2"],
    ]
    guard = EligibilityGuard.from_status(status)
    refused = guard.refusals(claims)
    assert refused[["claim_id", "doctor_id", "status"]].values.tolist() == [
        ["C1", "D1", "suspended"]
    ]
    assert guard.check("D1", date(2024, 4, 1)) is None


def test_make_ledger_writes_status_person_file_and_credit(make_dataset, tmp_path):
    from fraudml.cli.main import main
    from fraudml.workflows.feedback import feedback

    def edit(tables: dict) -> None:
        tables["doctors"] = [
            {"doctor_id": "DR1", "provider_id": "H1", "role": "doctor", "department": "internal"}
        ]
        tables["claims"][0]["doctor_id"] = "DR1"

    ds = make_dataset(edit)
    verdicts = tmp_path / "v.csv"
    pd.DataFrame(
        {
            "entity_type": ["claim"],
            "entity_id": ["C1"],
            "verdict": ["confirmed"],
            "decided_at": ["2024-03-10"],
            "responsible": ["DR1:主要"],
            "points": ["8"],  # band 7-9, main responsibility: 9 points
            "amount_recovered": ["8"],
        }
    ).to_csv(verdicts, index=False)
    feedback(ds, verdicts, today=date(2024, 12, 1))
    out = tmp_path / "ledger"

    code = main(
        ["ledger", f"data.path={ds}", "until=2024-03-20", f"out={out}", "ledger/points=local"]
    )

    assert code == 0
    status = pd.read_parquet(out / "status.parquet").set_index("doctor_id")
    assert status.loc["DR1", ["status", "year_points"]].tolist() == ["suspended", 9]
    person = pd.read_csv(out / "person_file.csv", encoding="utf-8-sig")
    assert person.event.tolist() == ["points", "suspended", "interview"]  # local: 约谈 at 6
    credit = pd.read_parquet(out / "credit.parquet").set_index("provider_id")
    # H1: one verdict (5), 8 of 80 yuan recovered = 10% (20), one suspended doctor (5)
    assert credit.loc["H1", ["score", "grade"]].tolist() == [70.0, "C"]
    assert credit.loc["D1", ["score", "grade"]].tolist() == [100.0, "A"]
    suspensions = pd.read_parquet(out / "suspensions.parquet")
    assert suspensions.values.tolist() == [["DR1", date(2024, 3, 10), date(2024, 4, 9)]]


def test_without_links_only_doctor_leads_are_marked():
    status = pd.DataFrame({"doctor_id": ["D1"], "status": ["terminated"]})
    leads = pd.DataFrame({"entity_type": ["doctor", "claim"], "entity_id": ["D1", "D1"]})
    assert mark_leads(leads, status).practitioner_mark.tolist() == ["terminated", None]
