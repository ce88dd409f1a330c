"""Report v2 on hand-built frames: reasons with a contrast, distinct ranks and tiers from
risk and money at stake, the summary first, leads in working order, cards, the Chinese
report free of English vocabulary, the auditors' workbook read back by feedback, and the
PDF case pack."""

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser

import openpyxl
import pandas as pd
import pytest

from fraudml.features import FEATURE_SET_VERSION
from fraudml.models.risk import ANOMALY, EntityModel
from fraudml.report.cards import LeadContext
from fraudml.report.casepack import casepack_html, pack_name, write_pdf
from fraudml.report.render import lead_cards, render_html
from fraudml.report.workbook import verdict_header_aliases, write_leads_csv, write_xlsx
from fraudml.scoring.leads import prioritise
from fraudml.scoring.rank import TierRule, distinct_ranks
from fraudml.scoring.reasons import refine

#: English words that must never reach the text of a Chinese report
ENGLISH = re.compile(
    r"\b(outpatient|inpatient|emergency|pharmacy|patients?|doctors?|providers?|claims?|"
    r"groups?|stays?|visits?|tier|score|rank|peer|median|yes|no|times?|anomaly|isolation|"
    r"forest|none|nan|male|female|amount|evidence|reasons?|hits?|rules?|lines?)\b",
    re.I,
)


def _model() -> EntityModel:
    return EntityModel(
        entity="provider",
        anomaly=None,  # type: ignore[arg-type]
        anomaly_features=["n_claims", "drug_share", "claims_per_patient"],
        anomaly_reference=(0.0, 1.0),
        supervised=None,
        features=["n_claims", ANOMALY],
        feature_set_version=FEATURE_SET_VERSION,
    )


# ------------------------------------------------------------------------ reasons


def test_reasons_give_the_contrast_and_leave_out_those_equal_to_the_peers():
    row = pd.Series(
        {
            "n_claims": 73.0,
            "n_claims__peer_median": 10.0,
            "n_claims__peer_z": 6.0,
            "fund_paid": 1254.0,
            "fund_paid__peer_median": 1254.0,
            "drug_share": 0.97,
            "drug_share__peer_median": 0.4,
            "drug_share__peer_z": 4.0,
            "claims_per_patient": 1.0,
            "claims_per_patient__peer_median": 1.4,
            "claims_per_patient__peer_z": -2.0,  # low: not the suspicious direction
        }
    )
    records = [
        {"feature": "n_claims", "text": "x", "value": 73.0, "peer": 10.0, "weight": 0.5},
        {"feature": "fund_paid", "text": "x", "value": 1254.0, "peer": 1254.0, "weight": 0.4},
        {"feature": ANOMALY, "text": "x", "value": None, "peer": None, "weight": 0.3},
    ]
    zh = refine(records, row, "provider", _model(), [], "zh", "CNY")
    en = refine(records, row, "provider", _model(), [], "en", "CNY")
    assert [r["feature"] for r in zh] == ["n_claims", ANOMALY]  # no contrast, left out
    assert zh[0]["text"] == "结算次数：73 次，7.3× 同类中位数 10 次"
    assert en[0]["text"] == "settlements: 73 times, 7.3× peer median 10 times"
    # the forest's share says what is unusual, not just "anomaly"
    # the forest's share says what is unusual (beyond the reasons already given), not
    # just "anomaly"; a share reads as a percentage against the peers'
    assert en[1]["text"] == (
        "unusual behaviour overall (isolation forest), furthest from peers in: drug share of "
        "fees: 97%, peer median 40% (+57 percentage points)"
    )
    assert zh[1]["text"] == (
        "整体行为异常（孤立森林），最偏离同类的是：药占比：97%，同类中位数 40%（+57 个百分点）"
    )
    # nothing unusual to name: said plainly, never a bare "anomaly (isolation forest)"
    (plain,) = refine(
        records[2:],
        row.drop(["drug_share__peer_z", "n_claims__peer_z"]),
        "provider",
        _model(),
        [],
        "en",
        "CNY",
    )
    assert plain["text"] == text_plain()


def text_plain() -> str:
    from fraudml.i18n import text

    return text("anomaly_plain", "en")


# --------------------------------------------------------------- ranks and tiers


def test_ranks_are_distinct_and_ties_are_broken_by_money_then_id_whatever_the_order():
    score = pd.Series([0.9, 0.9, 0.9, 0.2], index=list("wxyz"))
    money = pd.Series([10.0, 50.0, 10.0, 0.0], index=score.index)
    ids = pd.Series(["b", "c", "a", "d"], index=score.index)
    ranks = distinct_ranks(score, money, ids)
    assert list(ranks) == [3, 1, 2, 4]
    shuffled = [2, 0, 3, 1]
    again = distinct_ranks(score.iloc[shuffled], money.iloc[shuffled], ids.iloc[shuffled])
    assert again.to_dict() == ranks.to_dict()


def test_tiers_come_from_risk_and_money_at_stake_not_from_the_capacity():
    scores = pd.DataFrame(
        {
            "entity_type": "claim",
            "entity_id": ["k1", "k2", "k3", "k4"],
            "score": [0.80, 0.80, 0.03, 0.30],
            "rank": [1, 2, 3, 4],
            "tier": "A",  # the pipeline's capacity tiers: all four within it
        }
    )
    leads = scores.assign(rule_amount=[0.0, 0.0, 1500.0, 0.0])
    paid = {"claim": pd.Series({"k1": 5000.0, "k2": 100.0, "k3": 10.0, "k4": 10.0})}
    new_scores, new_leads = prioritise(scores, leads, paid, TierRule(0.5, 0.2, 1000.0))
    # k1: high risk, 4,000 at stake → A; k2: high risk, 80 at stake → B;
    # k3: risk 0.03 but the rules found 1,500 → B; k4: risk 0.3 → B
    assert list(new_leads.tier) == ["A", "B", "B", "B"]
    assert list(new_leads.model_amount) == [4000.0, 80.0, 0.3, 3.0]
    assert list(new_leads.money_at_stake) == [4000.0, 80.0, 1500.3, 3.0]
    assert list(new_scores["rank"]) == [1, 2, 4, 3]
    low = prioritise(scores.assign(score=0.03), leads.assign(rule_amount=0.0), paid)[1]
    assert set(low.tier) == {"C"}  # within the capacity, but nothing to say it is worth it


# --------------------------------------------------------------------- the report


def _reasons(text_zh: str, text_en: str, **extra) -> str:
    base = {"feature": "n_claims", "value": 73.0, "peer": 10.0, "weight": 1.0, "unit": "次"}
    return json.dumps(
        {
            "zh": [dict(base, text=text_zh, name="结算次数", **extra)],
            "en": [dict(base, text=text_en, name="settlements", **extra)],
        },
        ensure_ascii=False,
    )


def _lead(etype: str, eid: str, rank: int, tier: str = "A", score: float = 0.99995) -> dict:
    return {
        "entity_type": etype,
        "entity_id": eid,
        "claim_kind": "visit" if etype == "claim" else None,
        "score": score,
        "rank": rank,
        "tier": tier,
        "model": "m@1",
        "reasons_zh": "结算次数：73 次",
        "reasons_en": "settlements: 73 times",
        "reasons_json": _reasons(
            "结算次数：73 次，7.3× 同类中位数 10 次",
            "settlements: 73 times, 7.3× peer median 10 times",
            dist=[2, 5, 10, 20, 40],
        ),
        "rule_hits": 2,
        "rule_ids": "CAT-PRICE",
        "rule_amount": 12.5,
        "evidence_claims": "C1",
        "money_at_stake": 1268.0,
        "model_amount": 1255.5,
    }


def _leads() -> pd.DataFrame:
    rows = [
        _lead("claim", "C9", 1),
        _lead("patient", "001", 1, "B", 0.4),
        _lead("doctor", "D7", 1),
        _lead("provider", "H2", 2, "B", 0.6),
        _lead("provider", "H1", 1),
    ]
    return pd.DataFrame(rows)


def _evidence() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_type": ["provider", "provider", "provider"],
            "lead_id": ["H1", "H1", "H1"],
            "rule_id": ["CAT-PRICE", "CAT-PRICE", "AGE-LIMIT"],
            "claim_id": ["C1", "C2", "C1"],
            "line_no": [1, 1, 2],
            "amount": [0.25, 12.25, 3.0],
            "message_zh": ["项目 XA01 单价 30.25 元，超过限价 30 元"] * 2 + ["限 14 岁以下使用"],
            "message_en": ["XA01 at 30.25 above its cap 30"] * 2 + ["for under-14s only"],
            "evidence": ['{"x": 1}'] * 3,
        }
    )


def _contexts() -> dict[int, LeadContext]:
    claims = pd.DataFrame(
        {
            "claim_id": ["C1", "C2", "C3"],
            "admit_time": pd.to_datetime(
                ["2024-11-02 09:00", "2024-11-02 10:00", "2024-11-20 08:00"]
            ),
            "visit_type": ["outpatient", "inpatient", "outpatient"],
            "fund_paid": [680.0, 120.5, 33.0],
        }
    )
    lines = pd.DataFrame(
        {
            "claim_id": ["C1", "C1", "C1"],
            "line_no": [3, 1, 2],
            "item_code": ["ZZ09", "XA01", "LB01"],
            "item_category": ["bed", "western_drug", "lab"],
            "quantity": [1.0, 2.0, 1.0],
            "unit_price": [40.0, 30.25, 60.0],
            "amount": [40.0, 60.5, 60.0],
        }
    )
    names = {"CAT-PRICE": ("超限价", "above the price cap"), "AGE-LIMIT": ("限年龄", "age limit")}
    ctx = LeadContext(claims, names, date(2024, 11, 1), date(2024, 12, 1), lines, "市第一医院")
    return {4: ctx}


class _Text(HTMLParser):
    """The text a reader sees: no tags, no style sheet."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = False

    def handle_starttag(self, tag, attrs):
        self._skip = tag in ("style", "title") or self._skip

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._skip = False

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _visible(page: str) -> str:
    p = _Text()
    p.feed(page)
    return " ".join(p.parts)


def _page(lang: str = "zh", **kwargs) -> str:
    deductions = pd.DataFrame(
        {"provider_id": ["H1"], "claims": [2], "lines": [3], "hits": [3], "amount": [15.5]}
    )
    return render_html(
        _leads(),
        _evidence(),
        {"provider": "风险分" if lang == "zh" else "risk"},
        lang,
        "2024-11-01 – 2024-12-01",
        "2024-12-02T08:00:00",
        deductions=deductions,
        contexts=_contexts(),
        violations_count=3,
        dataset="month-2024-11",
        **kwargs,
    )


def test_the_report_opens_on_its_summary_and_lists_leads_in_working_order():
    page = _page()
    assert page.index('id="summary"') < page.index('class="lead"')
    # providers (by rank), then doctors, patients, claims
    anchors = re.findall(r'<article class="lead" id="lead-(\d+)"', page)
    assert anchors == ["4", "3", "2", "1", "0"]
    text = _visible(page)
    assert "明确违规 3 条，涉及 1 家定点机构，扣款合计 15.50 元" in text
    assert "A 级：校准风险 ≥ 0.5 且涉及金额 ≥ 1,000.00 元" in text
    assert "市第一医院" in text and "1,268.00 元" in text  # top providers by money at stake
    assert ">0.999" in text and "1.0000" not in text and "1.000" not in text
    assert "本报告中的参保人编号" not in text
    assert "本报告中的参保人编号" in _visible(_page(pseudonymised=True))


def test_a_card_groups_its_evidence_by_rule_with_a_timeline_and_a_peer_chart():
    (card,) = lead_cards(_leads().loc[[4]], _evidence(), "zh", contexts=_contexts())
    assert [
        (r["rule_id"], r["name"], r["hits"], r["claims"], r["amount"]) for r in card["rules"]
    ] == [
        ("CAT-PRICE", "超限价", 2, 2, 12.5),
        ("AGE-LIMIT", "限年龄", 1, 1, 3.0),
    ]
    assert card["why"] == "结算次数：73 次，7.3× 同类中位数 10 次；2 条规则命中 3 次，涉及 15.50 元"
    tl = card["timeline"]
    assert [b["fill"] for b in tl["bars"]] == ["#c0392b", "#4f86c6"]  # Nov 2 hit, Nov 20 not
    assert (tl["first"], tl["last"]) == ("2024-11-01", "2024-11-30")
    (chart,) = card["charts"]
    assert chart["lead"] > chart["box"][1] > chart["median"] > chart["box"][0]
    assert (chart["low"], chart["high"], chart["value"]) == ("2 次", "73 次", "73 次")  # whole
    assert [c["claim_id"] for c in card["claims"]] == ["C2", "C1"]
    assert card["claims"][0]["visit_type"] == "住院"
    assert card["repeat"] == ""
    repeat = _leads().loc[[4]].assign(repeat=True, first_raised=date(2024, 10, 1))
    (again,) = lead_cards(repeat, _evidence(), "zh", contexts=_contexts())
    assert again["repeat"] == "重复线索：首次于 2024-10-01 提出"


def test_the_chinese_report_shows_no_english_vocabulary():
    text = _visible(_page("zh"))
    found = sorted({m.group(0).lower() for m in ENGLISH.finditer(text)})
    assert found == [], found
    # the English report does use them (the scan can fail)
    assert ENGLISH.search(_visible(_page("en")))


@pytest.mark.parametrize("width", [1280, 794])  # desktop, A4 at 96 dpi
def test_the_report_renders_in_headless_chromium_at_desktop_and_a4_width(tmp_path, width):
    import shutil
    import subprocess

    from PIL import Image

    chromium = shutil.which("chromium")
    assert chromium, "make test installs Debian's chromium (make browser)"
    page = tmp_path / "report.html"
    page.write_text(_page(), encoding="utf-8")
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={width},1100",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert [line for line in run.stderr.splitlines() if "CONSOLE" in line] == []
    image = Image.open(shot).convert("L")
    histogram = image.histogram()
    assert image.size == (width, 1100) and sum(histogram[:100]) > 2000  # text was painted
    # nothing wider than the page: the right-most tenth is blank margin or wrapped text
    right = image.crop((int(width * 0.97), 0, width, 1100)).histogram()
    assert sum(right[:100]) < 50


# --------------------------------------------------------------------- the workbook


def test_the_auditors_workbook_is_localised_formatted_and_read_back_by_feedback(tmp_path):
    from fraudml.loop.verdicts import read_verdicts

    leads = _leads()
    leads.loc[0, "entity_id"] = '=HYPERLINK("http://x","y")'
    violations = pd.DataFrame(
        {
            "provider_id": ["H1"],
            "claim_id": ["C1"],
            "rule_id": ["CAT-PRICE"],
            "rule_zh": ["超限价"],
            "rule_en": ["cap"],
            "amount": [0.25],
            "message_zh": ["超"],
            "message_en": ["over"],
        }
    )
    path = tmp_path / "report.xlsx"
    write_xlsx(
        leads,
        _evidence(),
        path,
        violations,
        pd.DataFrame({"provider_id": ["H1"], "amount": [0.25]}),
        lang="zh",
        rule_names={"CAT-PRICE": ("超限价", "cap")},
    )
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:4] == ["线索", "证据", "扣款清单", "扣款汇总"]
    sheet = book["线索"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["线索类型", "线索编号", "线索类型名称"] and "核查结论" in header
    assert not any(h and re.fullmatch(r"[a-z_]+", h) for h in header)  # no snake_case
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert sheet.column_dimensions["K"].width > 10
    money = header.index("涉及金额") + 1
    assert sheet.cell(2, money).number_format == "#,##0.00"
    # in working order: providers, doctors, patients, claims; formula text neutralised
    assert [c.value for c in sheet["B"]][1:] == [
        "H1",
        "H2",
        "D7",
        "001",
        '\'=HYPERLINK("http://x","y")',
    ]
    assert all(len(str(c.value or "")) < 400 for row in sheet.iter_rows() for c in row)
    evidence = [c.value for c in book["证据"][1]]
    assert "规则名称" in evidence and "evidence" not in evidence and "说明（英文）" not in evidence
    # an auditor fills in two verdicts; make feedback reads them back through the aliases
    verdict, when = header.index("核查结论") + 1, header.index("结论日期") + 1
    for row, value in ((2, "属实"), (5, "不属实")):
        sheet.cell(row, verdict).value = value
        sheet.cell(row, when).value = "2024-12-15"
    book.save(path)
    raw = read_verdicts(path, aliases=verdict_header_aliases("zh"))
    got = raw.rows[["entity_type", "entity_id", "verdict", "decided_at"]].values.tolist()
    assert got == [
        ["provider", "H1", "属实", "2024-12-15"],
        ["patient", "001", "不属实", "2024-12-15"],
    ]
    assert verdict_header_aliases("en")["verdict"] == "verdict"
    # the headers are among those feedback understands without being told
    assert read_verdicts(path).rows.entity_id.tolist() == ["H1", "001"]
    csv = tmp_path / "leads.csv"
    write_leads_csv(leads, csv)
    assert "'=HYPERLINK" in csv.read_text(encoding="utf-8-sig")


# --------------------------------------------------------------------- case pack


def test_the_case_pack_renders_as_a_pdf_with_its_card_claims_and_fee_lines(tmp_path):
    from weasyprint import HTML

    (card,) = lead_cards(_leads().loc[[4]], _evidence(), "zh", contexts=_contexts(), pack=True)
    # the lines a rule hit first, marked; then the claim's others
    assert [(x["claim_id"], x["item_code"], x["category"], x["hit"]) for x in card["lines"]] == [
        ("C1", "XA01", "西药费", True),
        ("C1", "LB01", "化验费", True),
        ("C1", "ZZ09", "床位费", False),
    ]
    html = casepack_html(card, "zh", "2024-11", "now")
    path = tmp_path / pack_name(1, "H1/../x")
    assert path.name == "provider-001-H1_.._x.pdf"
    write_pdf(html, path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
    pages = HTML(string=html).render().pages
    text = []

    def walk(box):
        if hasattr(box, "text"):
            text.append(box.text)
        for child in getattr(box, "children", []):
            walk(child)

    for p in pages:
        walk(p._page_box)
    shown = "".join(text)
    assert "稽核线索包" in shown and "XA01" in shown and "超限价" in shown and "C2" in shown


def test_a_reason_carries_its_peer_groups_distribution_for_the_chart():
    from fraudml.scoring.reasons import PeerGroups, peer_quantiles

    peers = pd.DataFrame(
        {
            "provider_type": ["clinic"] * 5 + ["hospital"] * 2 + [None],
            "level": ["1"] * 5 + ["3", "3", None],
            "n_claims": [1.0, 2.0, 3.0, 4.0, 5.0, 100.0, 200.0, 7.0],
        }
    )
    groups = PeerGroups(peers, "provider")
    (q,) = peer_quantiles(groups, peers.iloc[0], ["n_claims"]).values()
    assert q == pytest.approx((1.4, 2.0, 3.0, 4.0, 4.6))  # the clinics' only
    assert peer_quantiles(groups, peers.iloc[7], ["n_claims"]) == {"n_claims": (7.0,) * 5}
    assert peer_quantiles(None, peers.iloc[0], ["n_claims"]) == {}


def test_each_lead_gets_its_claims_and_a_group_the_money_of_its_patients():
    from datetime import datetime

    from fraudml.features import Window
    from fraudml.workflows.scoring import _fund_paid, lead_contexts

    claims = pd.DataFrame(
        {
            "claim_id": ["K1", "K2", "K3"],
            "patient_id": ["001", "001", "002"],
            "provider_id": ["H1", "H2", "H1"],
            "doctor_id": ["D1", None, "D1"],
            "admit_time": pd.to_datetime(["2024-11-02", "2024-11-03", "2024-11-04"]),
            "visit_type": ["outpatient"] * 3,
            "fund_paid": [10.0, 20.0, 40.0],
        }
    )
    leads = pd.DataFrame(
        {
            "entity_type": ["provider", "claim", "doctor", "group"],
            "entity_id": ["H1", "K2", "D1", "G"],
        }
    )
    window = Window(datetime(2024, 11, 1), datetime(2024, 12, 1))
    ctx = lead_contexts(leads, claims, window, [])
    assert list(ctx[0].claims.claim_id) == ["K1", "K3"]
    assert list(ctx[1].claims.claim_id) == ["K1", "K2"]  # a claim: its patient's claims
    assert list(ctx[2].claims.claim_id) == ["K1", "K3"] and ctx[3].claims.empty
    assert (ctx[0].start, ctx[0].end) == (date(2024, 11, 1), date(2024, 12, 1))
    members = pd.DataFrame(
        {
            "group_id": ["G", "G", "G"],
            "member_type": ["patient", "patient", "provider"],
            "member_id": ["001", "002", "H1"],
        }
    )
    paid = _fund_paid(claims, members)
    assert paid["group"].to_dict() == {"G": 70.0} and paid["provider"].to_dict() == {
        "H1": 50.0,
        "H2": 20.0,
    }


def test_a_period_without_leads_still_gives_a_report_and_a_workbook(tmp_path):
    from fraudml.workflows.scoring import lead_contexts

    page = render_html(pd.DataFrame(), pd.DataFrame(), {}, "zh", "2024-11", "now")
    assert 'id="summary"' in page and 'class="lead"' not in page
    write_xlsx(pd.DataFrame(), pd.DataFrame(), tmp_path / "r.xlsx", lang="zh")
    assert openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames == ["线索", "证据", "说明"]
    assert lead_contexts(pd.DataFrame(), pd.DataFrame(), None, []) == {}  # type: ignore[arg-type]
