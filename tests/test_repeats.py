"""Leads an earlier month raised are marked repeat, from the earlier outputs beside."""

import json
from datetime import date

import pandas as pd

from fraudml.scoring.repeats import earlier_leads, mark_repeats, sibling_outputs


def _output(folder, start, end, ids, namespace="city"):
    folder.mkdir(parents=True)
    window = {"start": start, "end": end}
    (folder / "manifest.json").write_text(json.dumps({"window": window, "namespace": namespace}))
    pd.DataFrame({"entity_type": "patient", "entity_id": ids, "score": 0.5}).to_parquet(
        folder / "leads.parquet"
    )


def test_a_lead_of_an_earlier_month_is_a_repeat_with_its_first_month(tmp_path):
    root = tmp_path / "score"
    _output(root / "2024-09", "2024-09-01", "2024-10-01", ["P1", "P2"])
    _output(root / "2024-10", "2024-10-01", "2024-11-01", ["P2", "P3"])
    _output(root / "2024-12", "2024-12-01", "2025-01-01", ["P4"])  # later: not history
    _output(root / "other-city", "2024-09-01", "2024-10-01", ["P5"], namespace="other")
    (root / "notes").mkdir()  # not a scoring output: passed over
    folders = sibling_outputs(root / "2024-11", None)
    assert [f.name for f in folders] == ["2024-09", "2024-10", "2024-12", "notes", "other-city"]
    history = earlier_leads(folders, date(2024, 11, 1), "city")
    assert history.to_dict("records") == [
        {"entity_type": "patient", "entity_id": "P1", "first_raised": pd.Timestamp("2024-09-01")},
        {"entity_type": "patient", "entity_id": "P2", "first_raised": pd.Timestamp("2024-09-01")},
        {"entity_type": "patient", "entity_id": "P3", "first_raised": pd.Timestamp("2024-10-01")},
    ]
    leads = pd.DataFrame(
        {"entity_type": ["patient", "patient", "doctor"], "entity_id": ["P3", "P4", "P1"]},
        index=[5, 6, 7],
    )
    marked = mark_repeats(leads, history)
    assert list(marked.index) == [5, 6, 7]
    assert marked["repeat"].tolist() == [True, False, False]  # a doctor P1 is another entity
    assert marked["first_raised"].tolist()[0] == date(2024, 10, 1)
    assert marked["first_raised"].isna().tolist() == [False, True, True]


def test_an_open_period_has_no_earlier_month_and_an_empty_history_marks_nothing(tmp_path):
    _output(tmp_path / "a", "2024-09-01", "2024-10-01", ["P1"])
    assert earlier_leads([tmp_path / "a"], None).empty
    assert sibling_outputs(None, None) == []
    leads = pd.DataFrame({"entity_type": ["patient"], "entity_id": ["P1"]})
    marked = mark_repeats(leads, earlier_leads([], date(2024, 11, 1)))
    assert marked["repeat"].tolist() == [False]
