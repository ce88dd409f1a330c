"""The deduction list (扣款清单): definite violations apart from the leads, counted once
per fee line and totalled per provider (exact values on hand-built hits)."""

from __future__ import annotations

import pandas as pd
import pytest

from fraudml.entities import lead_capacity, lead_types
from fraudml.rulebase.spec import Text
from fraudml.scoring.violations import (
    DEDUCTION_COLUMNS,
    VIOLATION_COLUMNS,
    claim_deductions,
    deductions_by_provider,
    violations_sheet,
)


class _Rule:
    def __init__(self, rid: str, zh: str, en: str):
        self.id, self.name = rid, Text(zh, en)


RULES = [_Rule("CAT-PRICE", "超限价", "over price cap"), _Rule("CAT-AGE", "限年龄", "age")]


def _hit(rule, claim, line, amount, provider="H1", result="definite"):
    return {
        "rule_id": rule,
        "result": result,
        "severity": "high",
        "provider_id": provider,
        "claim_id": claim,
        "line_no": line,
        "patient_id": "p1",
        "doctor_id": "d1",
        "occurred": pd.Timestamp("2024-11-02"),
        "amount": amount,
        "message_zh": "…",
        "message_en": "…",
    }


@pytest.fixture
def hits():
    return pd.DataFrame(
        [
            _hit("CAT-PRICE", "C1", 1, 30.0),
            _hit("CAT-AGE", "C1", 1, 45.0),  # the same line again, larger: counted once
            _hit("CAT-AGE", "C1", 2, 10.0),
            _hit("FRQ-X", "C2", None, 100.0, result="suspicious"),  # not a violation
            _hit("INP-X", "C3", None, 80.0, provider="H2"),  # a claim-level violation
            _hit("CAT-AGE", "C3", 1, 20.0, provider="H2"),  # covered by the claim's 80
        ]
    )


def test_the_deduction_list_holds_definite_hits_only_with_rule_names(hits):
    v = violations_sheet(hits, RULES)
    assert list(v.columns) == VIOLATION_COLUMNS
    assert len(v) == 5 and "C2" not in set(v.claim_id)
    assert v.rule_zh.tolist() == ["超限价", "限年龄", "限年龄", "INP-X", "限年龄"]
    assert v.rule_en.iloc[0] == "over price cap"


def test_a_line_is_deducted_once_and_a_claim_level_amount_covers_its_lines(hits):
    per_claim = claim_deductions(violations_sheet(hits, RULES)).set_index("claim_id")
    assert per_claim.amount.to_dict() == {"C1": 55.0, "C3": 80.0}
    assert per_claim.lines.to_dict() == {"C1": 2, "C3": 1}
    assert per_claim.hits.to_dict() == {"C1": 3, "C3": 2}


def test_deductions_are_totalled_per_provider_largest_first(hits):
    out = deductions_by_provider(violations_sheet(hits, RULES))
    assert list(out.columns) == DEDUCTION_COLUMNS
    assert out.to_dict("records") == [
        {"provider_id": "H2", "claims": 1, "lines": 1, "hits": 2, "amount": 80.0},
        {"provider_id": "H1", "claims": 1, "lines": 2, "hits": 3, "amount": 55.0},
    ]


def test_no_definite_hit_gives_empty_sheets_with_their_columns(hits):
    none = violations_sheet(hits[hits.result != "definite"], RULES)
    assert none.empty and list(none.columns) == VIOLATION_COLUMNS
    assert list(deductions_by_provider(none).columns) == DEDUCTION_COLUMNS


def test_stays_and_visits_are_one_lead_type_with_the_sum_of_their_capacities():
    assert lead_types(["doctor", "visit", "patient", "stay"]) == {
        "patient": ["patient"],
        "claim": ["stay", "visit"],
        "doctor": ["doctor"],
    }
    capacity = {"patient": 100, "stay": 50, "visit": 200}
    assert lead_capacity(capacity, "claim", ["stay", "visit"]) == 250
    assert lead_capacity({**capacity, "claim": 120}, "claim", ["stay", "visit"]) == 120
    assert lead_capacity(capacity, "claim", ["visit"]) == 200
    assert lead_capacity({}, "doctor", ["doctor"]) == 20  # the vocabulary's default
