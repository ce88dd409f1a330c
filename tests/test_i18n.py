"""The translation table: every code, interface text, header and sheet name in zh and en,
every key the report's templates use present, quantities in each language's forms."""

import re

import pytest

from fraudml import i18n
from fraudml.i18n import (
    CODES,
    CONTRACT_CODES,
    HEADERS,
    LANGS,
    SHEETS,
    UI,
    code_label,
    count,
    quantity,
    score_text,
    text,
)
from fraudml.report import drawing, template
from fraudml.report.workbook import LEAD_SHEET, VERDICT_COLUMNS

CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("kind", sorted(CONTRACT_CODES))
def test_every_contract_code_has_a_label_in_each_language(kind):
    for code in CONTRACT_CODES[kind]:
        labels = CODES[kind][code]
        assert len(labels) == len(LANGS) and all(labels)
        # the Chinese label is not the English code copied across
        assert labels[0] != code


@pytest.mark.parametrize("table", ["CODES", "UI", "HEADERS", "SHEETS"])
def test_every_entry_has_a_chinese_and_an_english_text(table):
    entries = getattr(i18n, table)
    flat = (
        {f"{k}.{c}": v for k, codes in entries.items() for c, v in codes.items()}
        if table == "CODES"
        else dict(entries)
    )
    for key, labels in flat.items():
        assert len(labels) == 2 and all(labels), key
        zh, en = labels
        assert CJK.search(zh), f"{table}[{key}] has no Chinese: {zh!r}"
        assert not CJK.search(en), f"{table}[{key}] has Chinese in English: {en!r}"
        # the fields to fill are the same in both languages
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key


def test_every_key_the_templates_and_drawings_use_is_in_the_table():
    used = set(re.findall(r"\bt\.(\w+)", template.TEMPLATE))
    with open(drawing.__file__, encoding="utf-8") as fh:
        used |= set(re.findall(r"t\[\"(\w+)\"\]", fh.read()))
    assert used and used <= set(UI), sorted(used - set(UI))


def test_every_spreadsheet_column_has_a_header_and_every_sheet_a_name():
    assert set(LEAD_SHEET) <= set(HEADERS) and set(VERDICT_COLUMNS) <= set(HEADERS)
    assert {"leads", "evidence", "violations", "deductions", "groups", "group_evidence"} <= set(
        SHEETS
    )
    assert i18n.sheet_name("violations", "zh") == "扣款清单"


def test_code_label_renders_known_unknown_and_empty_codes():
    assert code_label("visit_type", "outpatient", "zh") == "门诊"
    assert code_label("visit_type", "outpatient", "en") == "outpatient"
    assert code_label("gender", "F", "zh") == "女"
    assert code_label("level", 3.0, "zh") == "三级"
    assert code_label("gender", "X", "zh") == "X"
    assert code_label("gender", None, "zh") == ""
    assert code_label("gender", float("nan"), "en") == ""
    assert code_label("lead_type", "claim", "zh") == "结算"


def test_quantities_read_as_percentages_yes_no_money_and_in_the_right_number():
    assert quantity(0.973, "比例", "zh") == "97.3%" and quantity(0.5, "比例", "en") == "50%"
    assert quantity(1.0, "是/否", "zh") == "是" and quantity(0.0, "是/否", "en") == "no"
    assert quantity(1254.0, "元", "zh") == "1,254 元"
    assert quantity(1254.0, "元", "en", "USD") == "1,254 US dollars"
    assert quantity(1, "次", "en") == "1 time" and quantity(3, "次", "en") == "3 times"
    assert quantity(1, "天", "en") == "1 day" and quantity(2.5, "天", "zh") == "2.50 天"
    assert quantity(680.0, "次/人", "en") == "680 per patient"
    assert quantity(None, "次", "zh") == "–"
    assert count(1, "claim", "en") == "1 claim" and count(2, "claim", "en") == "2 claims"
    assert count(2, "claim", "zh") == "2 笔结算"
    assert text("linked", "zh", n=3) == "3 名参保人"


def test_scores_are_shown_honestly():
    assert score_text(0.99995) == ">0.999" and score_text(1.0) == "1.000"
    assert score_text(0.0004) == "<0.001" and score_text(0.0) == "0.000"
    assert score_text(0.12345) == "0.123" and score_text(float("nan")) == "–"
