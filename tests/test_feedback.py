"""Auditors' verdicts into labels: applied once, idempotent, refusals with file/row/reason."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from fraudml.loop.feedback import merge_labels, user_rows
from fraudml.loop.verdicts import (
    COLUMNS,
    VerdictError,
    check_verdicts,
    parse_responsible,
    read_verdicts,
)
from fraudml.workflows.feedback import feedback, read_history

NOW = datetime(2024, 12, 1, 9, 0, 0)


def _with_doctors_and_labels(tables: dict) -> None:
    tables["doctors"] = [
        {"doctor_id": "DR1", "provider_id": "H1", "role": "doctor", "department": "internal"}
    ]
    tables["claims"][0]["doctor_id"] = "DR1"
    tables["labels"] = [
        {
            "entity_type": "claim",
            "entity_id": "C1",
            "label": "1",
            "scheme": "phantom_billing",
            "decided_at": "2024-09-01",
            "source": "synthetic",
        },
        {
            "entity_type": "patient",
            "entity_id": "001",
            "label": "1",
            "scheme": "card_lending",
            "decided_at": "2024-02-01",
            "source": "court",
        },
    ]


def _verdict(**values: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    row.update(values)
    return row


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(path, index=False)
    return path


GOOD = [
    _verdict(
        entity_type="claim",
        entity_id="C1",
        verdict="confirmed",
        scheme="phantom_billing",
        decided_at="2024-04-30",
        amount_recovered="120.50",
        responsible="DR1:主要",
        points="6",
        source="飞行检查",
        note="虚构服务",
    ),
    _verdict(entity_type="patient", entity_id="002", verdict="cleared", decided_at="2024-04-30"),
    _verdict(entity_type="patient", entity_id="001"),  # not decided yet: skipped
    _verdict(
        entity_type="patient",
        entity_id="001",
        verdict="partial",
        scheme="card_lending",
        decided_at="2024-05-10",
    ),
]


def test_feedback_applied_once_then_nothing_changes(make_dataset, tmp_path):
    ds = make_dataset(_with_doctors_and_labels)
    verdicts = _write(tmp_path / "verdicts.csv", GOOD)

    first = feedback(ds, verdicts, now=NOW, today=date(2024, 12, 1))

    assert (first.read, first.blank, first.applied, first.already) == (3, 1, 3, 0)
    labels = pd.read_csv(ds / "labels.csv", dtype=str, keep_default_na=False)
    assert labels.to_dict("records") == [
        # the audit knew C1 before the simulator's label: known from the verdict's date
        {
            "entity_type": "claim",
            "entity_id": "C1",
            "label": "1",
            "scheme": "phantom_billing",
            "decided_at": "2024-04-30",
            "source": "audit",
        },
        # the court's earlier positive stands: the partial verdict confirms it later
        {
            "entity_type": "patient",
            "entity_id": "001",
            "label": "1",
            "scheme": "card_lending",
            "decided_at": "2024-02-01",
            "source": "court",
        },
        {
            "entity_type": "patient",
            "entity_id": "002",
            "label": "0",
            "scheme": "",
            "decided_at": "2024-04-30",
            "source": "audit",
        },
    ]
    assert (first.labels_added, first.labels_changed) == (1, 1)
    history = read_history(ds)
    assert list(history.row) == [2, 3, 5]
    assert list(history.verdict) == ["confirmed", "cleared", "partial"]
    assert history.amount_recovered.iloc[0] == 120.5
    assert history.responsible.iloc[0] == "DR1:主要"
    assert history.file.unique().tolist() == ["verdicts.csv"]
    replaced = pd.read_parquet(ds / "feedback" / "replaced-labels.parquet")
    assert replaced.source.tolist() == ["synthetic"]  # kept aside, not lost

    before = {
        p.name: p.read_bytes() for p in (ds / "labels.csv", ds / "feedback" / "verdicts.parquet")
    }
    again = feedback(ds, verdicts, now=datetime(2024, 12, 2), today=date(2024, 12, 2))
    assert (again.applied, again.already, again.labels_added, again.labels_changed) == (0, 3, 0, 0)
    after = {
        p.name: p.read_bytes() for p in (ds / "labels.csv", ds / "feedback" / "verdicts.parquet")
    }
    assert after == before

    # a later verdict overturns C1; feeding both files again changes nothing more
    later = _write(
        tmp_path / "appeal.csv",
        [
            _verdict(
                entity_type="claim",
                entity_id="C1",
                verdict="cleared",
                scheme="phantom_billing",
                decided_at="2024-11-20",
            )
        ],
    )
    third = feedback(ds, later, now=NOW, today=date(2024, 12, 1))
    assert (third.applied, third.labels_changed) == (1, 1)
    c1 = pd.read_csv(ds / "labels.csv", dtype=str).query("entity_id == 'C1'")
    assert c1[["label", "decided_at", "source"]].values.tolist() == [["0", "2024-11-20", "audit"]]
    assert len(read_history(ds)) == 4
    assert feedback(ds, verdicts, now=NOW).applied == 0
    assert feedback(ds, later, now=NOW).applied == 0


def test_unknown_entity_and_bad_rows_refused_with_file_row_reason(make_dataset, tmp_path):
    ds = make_dataset(_with_doctors_and_labels)
    original = (ds / "labels.csv").read_bytes()
    rows = [
        GOOD[0],
        _verdict(entity_type="claim", entity_id="C9", verdict="confirmed", decided_at="2024-04-30"),
        _verdict(
            entity_type="patient", entity_id="002", verdict="cleared", decided_at="30/04/2024"
        ),
        _verdict(entity_type="patient", entity_id="002", verdict="guilty", decided_at="2024-04-30"),
        _verdict(
            entity_type="claim",
            entity_id="C2",
            verdict="confirmed",
            decided_at="2024-04-30",
            responsible="DR7:主要",
            points="3",
        ),
        _verdict(
            entity_type="claim",
            entity_id="C1",
            verdict="cleared",
            decided_at="2024-05-01",
            points="3",
        ),
        _verdict(
            entity_type="patient",
            entity_id="002",
            verdict="confirmed",
            decided_at="2024-04-30",
            responsible="DR1:主要",
            points="13",
        ),
    ]
    verdicts = _write(tmp_path / "bad.csv", rows)

    with pytest.raises(VerdictError) as refused:
        feedback(ds, verdicts, now=NOW, today=date(2024, 12, 1))

    r = refused.value.refusals
    assert set(r.file) == {str(verdicts)}
    assert r.row.tolist() == [3, 4, 5, 6, 7, 8]
    text = " | ".join(r.reason)
    assert "claim 'C9' is not in the dataset" in text
    assert "decided_at '30/04/2024' is not a date" in text
    assert "verdict 'guilty' is not one of confirmed, cleared, partial" in text
    assert "points '13' is not a whole number from 1 to 12" in text
    assert "responsible practitioner 'DR7' is not in doctors" in text
    assert "points are given for a cleared verdict" in text
    assert f"{verdicts}: row 3: claim 'C9'" in str(refused.value)
    # nothing half-applied: the labels as they were, no history
    assert (ds / "labels.csv").read_bytes() == original
    assert not (ds / "feedback" / "verdicts.parquet").exists()


def test_merge_keeps_user_rows_and_latest_decision():
    users = pd.DataFrame(
        [
            ["claim", "C1", 1, "phantom_billing", date(2024, 9, 1), "synthetic"],
            ["claim", "C2", 1, "over_treatment", None, "court"],  # undated: known from the start
            ["claim", "C3", 1, None, date(2024, 1, 1), "synthetic"],  # no verdict: stands
        ],
        columns=["entity_type", "entity_id", "label", "scheme", "decided_at", "source"],
    )
    history = pd.DataFrame(
        [
            ["claim", "C1", 1, "phantom_billing", date(2024, 4, 30)],
            ["claim", "C2", 0, "over_treatment", date(2024, 5, 1)],
            ["claim", "C2", 1, "over_treatment", date(2024, 6, 1)],
        ],
        columns=["entity_type", "entity_id", "label", "scheme", "decided_at"],
    )
    merged = merge_labels(users, history, users)
    rows = merged.labels[["entity_id", "label", "decided_at", "source"]].values.tolist()
    assert rows == [
        ["C3", 1, date(2024, 1, 1), "synthetic"],
        ["C1", 1, date(2024, 4, 30), "audit"],
        # cleared, then confirmed again: a positive only from the second verdict on
        ["C2", 1, date(2024, 6, 1), "audit"],
    ]
    assert merged.replaced.entity_id.tolist() == ["C1", "C2"]
    # recomputed from what it wrote and what it kept aside: the same table
    again = merge_labels(user_rows(merged.labels, merged.replaced, history), history, merged.labels)
    assert again.labels.values.tolist() == merged.labels.values.tolist()
    assert (again.added, again.changed) == (0, 0)


def test_report_workbook_with_localised_headers_is_a_verdicts_file(tmp_path):
    sheet = pd.DataFrame(
        {
            "实体类型": ["参保人", "结算", "结算"],
            "实体编号": ["002", "'-C1", "C2"],  # the report writes "-C1" as "'-C1"
            "得分": [0.9, 0.8, 0.7],
            "核查结论": ["属实", "不属实", None],  # the auditor left C2 open
            "认定日期": [datetime(2024, 5, 2), "2024/05/03", None],
            "责任人": ["DR1：重要", None, None],
            "记分": [5, None, None],
            "处理意见": ["约谈", None, None],
        }
    )
    book = tmp_path / "report.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="概览", index=False)
        pd.DataFrame([["线索清单"]]).to_excel(writer, sheet_name="线索", index=False, header=False)
        sheet.to_excel(writer, sheet_name="线索", index=False, startrow=2)

    raw = read_verdicts(book, aliases={"处理意见": "note"})

    assert raw.blank == 1
    assert raw.rows.row.tolist() == [4, 5]  # the header is on row 3 under a title
    known = {"patient": {"002"}, "claim": {"-C1"}, "doctor": {"DR1"}}
    checked = check_verdicts(raw, lambda t, ids: ids & known.get(t, set()), date(2024, 12, 1))
    assert checked[
        ["entity_type", "entity_id", "verdict", "decided_at", "label"]
    ].values.tolist() == [
        ["patient", "002", "confirmed", date(2024, 5, 2), 1],
        ["claim", "-C1", "cleared", date(2024, 5, 3), 0],
    ]
    assert checked.responsible.iloc[0] == "DR1:重要"
    assert checked.points.iloc[0] == 5
    assert checked.note.iloc[0] == "约谈"
    assert checked.source.tolist() == ["audit", "audit"]

    # the same verdicts as Parquet read the same, and give the same verdict ids
    parquet = tmp_path / "verdicts.parquet"
    checked[list(COLUMNS)].to_parquet(parquet)
    again = check_verdicts(read_verdicts(parquet), lambda t, ids: ids, date(2024, 12, 1))
    assert again.verdict_id.tolist() == checked.verdict_id.tolist()


def test_a_missing_column_names_the_file_and_the_columns(tmp_path):
    path = tmp_path / "v.csv"
    pd.DataFrame({"entity_type": ["claim"], "entity_id": ["C1"]}).to_csv(path, index=False)
    from fraudml.errors import ContractError

    with pytest.raises(ContractError, match=r"v\.csv: missing column verdict, decided_at"):
        read_verdicts(path)


def test_responsible_parses_degrees_and_points():
    assert [
        (p.doctor_id, p.degree, p.points)
        for p in parse_responsible("D1:主要;D2：一般：2、D3:important")
    ] == [
        ("D1", "主要", None),
        ("D2", "一般", 2),
        ("D3", "重要", None),
    ]
    with pytest.raises(ValueError, match="degree"):
        parse_responsible("D1:首要")
    with pytest.raises(ValueError, match="id:degree"):
        parse_responsible("D1")


def test_cli_refuses_with_exit_2_and_lists_the_rows(make_dataset, tmp_path):
    from fraudml.cli.main import main

    ds = make_dataset(_with_doctors_and_labels)
    bad = _write(
        tmp_path / "bad.csv",
        [
            _verdict(
                entity_type="provider", entity_id="NOPE", verdict="cleared", decided_at="2024-04-30"
            )
        ],
    )
    listed = tmp_path / "refused.csv"
    code = main(["feedback", f"data.path={ds}", f"verdicts={bad}", f"feedback.refusals={listed}"])
    assert code == 2
    refused = pd.read_csv(listed, encoding="utf-8-sig")
    assert refused[["row", "reason"]].values.tolist() == [
        [2, "provider 'NOPE' is not in the dataset"]
    ]
    good = _write(tmp_path / "good.csv", GOOD[1:2])
    assert main(["feedback", f"data.path={ds}", f"verdicts={good}"]) == 0
    assert read_history(ds).entity_id.tolist() == ["002"]


def test_closed_loop_verdicts_come_from_the_truth_and_are_judged_exactly():
    from fraudml.evaluate.closed_loop import judge, truth_of, verdicts_for

    truth = truth_of(
        pd.DataFrame(
            {
                "entity_type": ["claim", "claim", "patient", "patient"],
                "entity_id": ["C1", "C1", "P1", "P2"],
                "label": [1, 1, 1, 0],
                "scheme": ["phantom_billing", "over_treatment", "card_lending", None],
            }
        )
    )
    leads = pd.DataFrame(
        {"entity_type": ["claim", "patient", "group"], "entity_id": ["C1", "P2", "G1"]}
    )
    verdicts = verdicts_for(leads, truth, datetime(2024, 7, 31))
    assert verdicts[["entity_id", "verdict", "scheme"]].fillna("").values.tolist() == [
        ["C1", "confirmed", "phantom_billing"],
        ["C1", "confirmed", "over_treatment"],
        ["P2", "cleared", ""],
    ]
    assert set(verdicts.decided_at) == {"2024-07-31"}
    scores = pd.DataFrame(
        {
            "entity_type": ["claim", "claim", "patient", "patient", "patient"],
            "entity_id": ["C1", "C2", "P1", "P2", "P3"],
            "score": [0.9, 0.1, 0.2, 0.8, 0.5],
        }
    )
    ap, recall = judge(scores, leads, truth)
    assert ap.set_index("entity_type").ap.round(3).to_dict() == {"claim": 1.0, "patient": 0.333}
    assert recall.set_index("scheme").recall.to_dict() == {
        "card_lending": 0.0,
        "over_treatment": 1.0,
        "phantom_billing": 1.0,
    }
