"""Doctors' practice signals (执业违规): exact values on hand-built datasets, the as-of
window, and the features dropped (and listed) when the doctors table or its optional
columns are absent or empty."""

from __future__ import annotations

from datetime import datetime

import pytest

from fraudml.features import Window
from tests.builders import claim
from tests.test_profiles import profiles

PRACTICE = [
    "practice_breach_claims",
    "claims_while_suspended",
    "unregistered_department_share",
    "other_provider_share",
    "max_patients_day",
]
NO_DOCTORS = "no doctors table (practitioners)"
NO_REGISTRATION = "doctors.registered_departments is empty (no practice registration)"
NO_SUSPENSION = "doctors.suspended_from is empty (no suspensions)"


def doctor(did, employer, role="doctor", department="internal", **more):
    return {
        "doctor_id": did,
        "provider_id": employer,
        "role": role,
        "department": department,
        **more,
    }


def visit(cid, patient, provider, when, doc, dept, visit_type="outpatient"):
    return dict(claim(cid, patient, provider, visit_type, when, doctor=doc), department=dept)


#: DR1 (employed by H1, registered for internal and general, suspended 03-10 … 03-12):
#: A2 (first day of the suspension), A3, A5 and A6 (its last day) are billed while
#: suspended; A2 is in cardiology, outside the registration; A4 is at the pharmacy D1,
#: not its employer, and has no department. Four claims on 03-12, by two patients.
#: DR2 (H1, no registration, suspended from 03-20 with no end): B2 lies in the open
#: suspension; its cardiology claim is no evidence without a registration.
#: DR3 (a pharmacist at D1, registered for pharmacy): E1, a general visit, is outside.
DOCTORS = [
    doctor(
        "DR1",
        "H1",
        registered_departments="internal; general",  # spaces are ignored, as DOC-DEPT does
        suspended_from="2024-03-10",
        suspended_to="2024-03-12",
    ),
    doctor("DR2", "H1", registered_departments="", suspended_from="2024-03-20", suspended_to=""),
    doctor(
        "DR3",
        "D1",
        role="pharmacist",
        department="pharmacy",
        registered_departments="pharmacy",
        suspended_from="",
        suspended_to="",
    ),
]
CLAIMS = [
    visit("A1", "001", "H1", "2024-03-09 09:00:00", "DR1", "internal"),
    visit("A2", "002", "H1", "2024-03-10 09:00:00", "DR1", "cardiology"),
    visit("A3", "001", "H1", "2024-03-12 10:00:00", "DR1", "general"),
    visit("A5", "001", "H1", "2024-03-12 11:00:00", "DR1", "internal"),
    visit("A6", "002", "H1", "2024-03-12 14:00:00", "DR1", "internal"),
    visit("A4", "002", "D1", "2024-03-13 09:00:00", "DR1", "", visit_type="pharmacy"),
    visit("B1", "001", "H1", "2024-03-19 09:00:00", "DR2", "internal"),
    visit("B2", "002", "H1", "2024-03-25 09:00:00", "DR2", "cardiology"),
    visit("E1", "002", "D1", "2024-03-05 09:00:00", "DR3", "general"),
    visit("E2", "001", "D1", "2024-03-05 10:00:00", "DR3", "pharmacy", visit_type="pharmacy"),
    visit("E3", "002", "D1", "2024-03-06 10:00:00", "DR3", "pharmacy", visit_type="pharmacy"),
]


def practice_dataset(make_dataset, doctors=DOCTORS, drop_columns=()):
    def edit(t):
        t["claims"] += [dict(c) for c in CLAIMS]
        if doctors is not None:
            t["doctors"] = [{k: v for k, v in d.items() if k not in drop_columns} for d in doctors]

    return make_dataset(edit)


def practice_dropped(dropped: dict[str, dict[str, str]]) -> dict[str, str]:
    """The doctor features of :data:`PRACTICE` dropped, with why (the base data has no
    catalog: the catalog features are dropped too, and not the subject here)."""
    return {k: v for k, v in dropped["doctor"].items() if k in PRACTICE}


def test_practice_signals_have_exact_values(make_dataset):
    frames, dropped = profiles(practice_dataset(make_dataset))
    doc = frames["doctor"]
    assert practice_dropped(dropped) == {}
    assert doc.claims_while_suspended.to_dict() == {"DR1": 4, "DR2": 1, "DR3": 0}
    # any breach: DR1's four suspended claims (A2 also outside its registration) and A4
    assert doc.practice_breach_claims.to_dict() == {"DR1": 5, "DR2": 1, "DR3": 1}
    # DR1: one of its five claims with a department; DR2 has no registration
    assert doc.unregistered_department_share.to_dict() == pytest.approx(
        {"DR1": 1 / 5, "DR2": 0.0, "DR3": 1 / 3}
    )
    assert doc.other_provider_share.to_dict() == pytest.approx(
        {"DR1": 1 / 6, "DR2": 0.0, "DR3": 0.0}
    )
    # distinct patients on the busiest day: A3 and A5 are one patient
    assert doc.max_patients_day.to_dict() == {"DR1": 2, "DR2": 1, "DR3": 2}
    assert doc.patients_per_day.to_dict() == pytest.approx({"DR1": 5 / 4, "DR2": 1.0, "DR3": 1.5})
    assert "max_patients_day__peer_z" in doc.columns  # compared with its peers


def test_practice_signals_read_only_the_window(make_dataset):
    # the window ends on 03-12: of DR1's suspended claims only A2 (03-10) is in it, and
    # A4 (at D1, 03-13) is not
    root = practice_dataset(make_dataset)
    doc = profiles(root, Window(datetime(2024, 3, 1), datetime(2024, 3, 12)))[0]["doctor"]
    assert doc.claims_while_suspended.to_dict() == {"DR1": 1, "DR3": 0}
    assert doc.practice_breach_claims.to_dict() == {"DR1": 1, "DR3": 1}
    assert doc.other_provider_share.to_dict() == {"DR1": 0.0, "DR3": 0.0}
    assert doc.unregistered_department_share.to_dict() == pytest.approx({"DR1": 0.5, "DR3": 1 / 3})
    assert doc.max_patients_day.to_dict() == {"DR1": 1, "DR3": 2}


def test_practice_signals_count_the_year_up_to_the_windows_end(make_dataset):
    """A breach stays evidence after its window: a window from 03-13 reads DR1's
    suspended claims of 03-10 to 03-12, and a claim at another provider 355 days before
    the end, not one 376 days before."""
    early = [
        visit("A0", "001", "D1", "2023-03-21 09:00:00", "DR1", "internal"),  # 376 days
        visit("A00", "001", "D1", "2023-04-11 09:00:00", "DR1", "internal"),  # 355 days
    ]

    def edit(t):
        t["claims"] += [dict(c) for c in CLAIMS + early]
        t["doctors"] = [dict(d) for d in DOCTORS]

    window = Window(datetime(2024, 3, 13), datetime(2024, 3, 31))
    doc = profiles(make_dataset(edit), window)[0]["doctor"]
    # only DR1 (A4) and DR2 (B1, B2) bill in the window; DR3 (03-05, 03-06) does not
    assert doc.n_claims.to_dict() == {"DR1": 1, "DR2": 2}
    assert doc.claims_while_suspended.to_dict() == {"DR1": 4, "DR2": 1}
    # DR1: A2, A3, A5, A6 while suspended, A4 and A00 away from its employer
    assert doc.practice_breach_claims.to_dict() == {"DR1": 6, "DR2": 1}
    # of DR1's seven claims in the year (A00, A1, A2, A3, A5, A6, A4): A4 and A00
    assert doc.other_provider_share.to_dict() == pytest.approx({"DR1": 2 / 7, "DR2": 0.0})


def test_absent_registration_and_suspension_drop_their_features(make_dataset):
    columns = ("registered_departments", "suspended_from", "suspended_to")
    root = practice_dataset(make_dataset, drop_columns=columns)
    frames, dropped = profiles(root)
    doc = frames["doctor"]
    assert practice_dropped(dropped) == {
        "practice_breach_claims": f"{NO_REGISTRATION}; {NO_SUSPENSION}",
        "claims_while_suspended": NO_SUSPENSION,
        "unregistered_department_share": NO_REGISTRATION,
    }
    assert "practice_breach_claims" not in doc.columns
    assert "claims_while_suspended" not in doc.columns
    assert "unregistered_department_share" not in doc.columns
    # the employer is a required column: that signal stays
    assert doc.other_provider_share.to_dict() == pytest.approx(
        {"DR1": 1 / 6, "DR2": 0.0, "DR3": 0.0}
    )


def test_empty_suspension_drops_only_its_feature(make_dataset):
    # the column is there but holds no value: no suspension is known, so none is counted
    no_suspension = [dict(d, suspended_from="", suspended_to="") for d in DOCTORS]
    frames, dropped = profiles(practice_dataset(make_dataset, doctors=no_suspension))
    assert practice_dropped(dropped) == {
        "practice_breach_claims": NO_SUSPENSION,
        "claims_while_suspended": NO_SUSPENSION,
    }
    assert "claims_while_suspended" not in frames["doctor"].columns
    assert frames["doctor"].unregistered_department_share["DR1"] == pytest.approx(1 / 5)


def test_open_suspension_without_an_end_column(make_dataset):
    # a source without suspended_to: every suspension runs open to the end of the data
    root = practice_dataset(make_dataset, drop_columns=("suspended_to",))
    frames, dropped = profiles(root)
    assert practice_dropped(dropped) == {}
    # DR1 from 03-10 on: A2, A3, A5, A6 and A4 (03-13)
    assert frames["doctor"].claims_while_suspended.to_dict() == {"DR1": 5, "DR2": 1, "DR3": 0}
    assert frames["doctor"].practice_breach_claims.to_dict() == {"DR1": 5, "DR2": 1, "DR3": 1}


def test_without_a_doctors_table_the_practice_features_are_listed(make_dataset):
    frames, dropped = profiles(practice_dataset(make_dataset, doctors=None))
    assert practice_dropped(dropped) == {
        "practice_breach_claims": f"{NO_DOCTORS}; {NO_REGISTRATION}; {NO_SUSPENSION}",
        "claims_while_suspended": f"{NO_DOCTORS}; {NO_SUSPENSION}",
        "unregistered_department_share": f"{NO_DOCTORS}; {NO_REGISTRATION}",
        "other_provider_share": NO_DOCTORS,
    }
    doc = frames["doctor"]
    assert not set(PRACTICE[:-1]) & set(doc.columns)
    # the busiest day needs the claims only
    assert doc.max_patients_day.to_dict() == {"DR1": 2, "DR2": 1, "DR3": 2}
