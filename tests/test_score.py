"""Scoring and explanations: additivity, safe reports, refusals, contract outputs."""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

from fraudml.errors import ModelError
from fraudml.explain.contributions import explain, reasons
from fraudml.models import ProfileIsolationForest, RiskClassifier
from fraudml.models.risk import fit_entity
from fraudml.report import render
from fraudml.report.render import neutralise, pseudonym, render_html, write_xlsx
from fraudml.scoring.pipeline import check_feature_set


def _frame(seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "n_claims": rng.poisson(5, 400).astype(float),
            "n_claims__peer_z": rng.normal(size=400),
            "n_claims__peer_median": 5.0,
            "total_amount": rng.gamma(2, 300, 400),
            "rule_severity_score": 0.0,
        },
        index=[f"P{i:03d}" for i in range(400)],
    )
    frame.loc[rng.random(400) < 0.05, "total_amount"] = np.nan  # some amounts missing
    y = pd.Series((frame.n_claims__peer_z + rng.normal(scale=0.5, size=400) > 1.3).astype(int))
    y.index = frame.index
    return frame, y


@pytest.mark.parametrize("supervised", [True, False])
def test_contributions_add_up_to_the_explained_output(supervised):
    frame, y = _frame(3)
    model = fit_entity(
        "patient",
        frame[:300],
        y[:300],
        frame[300:],
        y[300:],
        anomaly=ProfileIsolationForest(n_estimators=40, random_state=1),
        supervised=RiskClassifier(n_estimators=60, random_state=1),
        features=["n_claims", "n_claims__peer_z", "total_amount"],
        anomaly_features=["n_claims__peer_z", "total_amount"],
        min_positives=5 if supervised else 10_000,
        feature_set_version="t",
    )
    assert (model.supervised is not None) == supervised
    why = explain(model, frame)
    np.testing.assert_allclose(why.values.sum(axis=1) + why.base, why.output, atol=1e-6)
    text = reasons(why, frame, "patient", [], "zh")
    first = next(iter(r for r in text.values() if r))
    assert all(r["weight"] > 0 for r in first)
    by_feature = {r["feature"]: r["text"] for rs in text.values() for r in rs}
    if "n_claims" in by_feature:
        assert "结算次数" in by_feature["n_claims"] and "同类中位数 5 次" in by_feature["n_claims"]


def test_models_of_another_feature_set_are_refused():
    frame, y = _frame(4)
    model = fit_entity(
        "patient",
        frame,
        y,
        frame,
        y,
        anomaly=ProfileIsolationForest(n_estimators=10, random_state=0),
        supervised=RiskClassifier(),
        features=["n_claims"],
        anomaly_features=["n_claims"],
        min_positives=10_000,
        feature_set_version="0",
    )
    with pytest.raises(ModelError, match=r"patient \(version 0\).*Retrain"):
        check_feature_set({"patient": model})


def _lead(entity_id: str) -> dict:
    reasons_ = [{"text": "<b>bold</b> 结算次数: 46 次", "weight": 1.0}]
    return {
        "entity_type": "provider",
        "entity_id": entity_id,
        "score": 0.9,
        "rank": 1,
        "tier": "A",
        "model": "m@1",
        "reasons_zh": reasons_[0]["text"],
        "reasons_en": reasons_[0]["text"],
        "reasons_json": json.dumps({"zh": reasons_, "en": reasons_}),
        "rule_hits": 1,
        "rule_ids": "CAT-PRICE",
        "rule_amount": 1.0,
        "evidence_claims": '=HYPERLINK("http://x","y")',
    }


def test_untrusted_text_is_inert_in_html_and_spreadsheet(tmp_path):
    leads = pd.DataFrame([_lead("<script>alert(1)</script>"), _lead('=HYPERLINK("http://x")')])
    evidence = pd.DataFrame(
        {
            "lead_type": ["provider"],
            "lead_id": ["<script>alert(1)</script>"],
            "rule_id": ["CAT-PRICE"],
            "claim_id": ["<img src=x onerror=alert(2)>"],
            "line_no": [1],
            "amount": [1.0],
            "message_zh": ["<i>msg</i>"],
            "message_en": ["<i>msg</i>"],
        }
    )
    html = render_html(leads, evidence, {"provider": "x"}, "zh", "2024", "now")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>bold" not in html and "<i>msg" not in html
    assert "http://" not in html.split("<body>")[0]  # nothing fetched from the network
    path = tmp_path / "r.xlsx"
    write_xlsx(leads, evidence, path)
    sheet = openpyxl.load_workbook(path)["leads"]
    values = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert not any(v.startswith("=") for v in values)
    assert '\'=HYPERLINK("http://x")' in values
    assert neutralise("-1+2") == "'-1+2" and neutralise("ok") == "ok"


def test_pseudonyms_are_salted_and_stable():
    assert pseudonym("001", "s1") == pseudonym("001", "s1") != pseudonym("001", "s2")
    frame = pd.DataFrame({"entity_type": ["patient", "provider"], "entity_id": ["001", "H1"]})
    out = render.pseudonymise(frame, "salt")
    assert (
        out.entity_id[1] == "H1"
        and out.entity_id[0].startswith("P")
        and "001" not in out.entity_id[0]
    )


def test_report_opens_in_headless_chromium_without_console_errors(tmp_path):
    import shutil
    import subprocess

    from PIL import Image

    chromium = shutil.which("chromium")
    assert chromium, "make test installs Debian's chromium (make browser)"
    fonts = subprocess.run(["fc-list"], capture_output=True, text=True, check=True).stdout
    assert "Noto Sans CJK" in fonts  # CJK text renders as glyphs, not empty boxes
    leads = pd.DataFrame([_lead("<script>alert(1)</script>"), _lead("H2")])
    evidence = pd.DataFrame(
        {
            "lead_type": ["provider"],
            "lead_id": ["H2"],
            "rule_id": ["CAT-PRICE"],
            "claim_id": ["C1"],
            "line_no": [1],
            "amount": [0.5],
            "message_zh": ["项目 XA01 单价 30.25 元，超过限价 30 元"],
            "message_en": ["x"],
        }
    )
    page = tmp_path / "report.html"
    page.write_text(
        render_html(leads, evidence, {"provider": "解释"}, "zh", "2024-11", "now"), encoding="utf-8"
    )
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,800",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == []  # no script ran, nothing was blocked or failed
    image = Image.open(shot).convert("L")
    histogram = image.histogram()
    dark = sum(histogram[:100])  # text pixels
    assert image.size == (1000, 800) and dark > 500 and histogram[255] > 10_000


def test_a_model_needing_columns_the_data_lacks_is_refused_by_name():
    from fraudml.models.risk import ANOMALY, EntityModel
    from fraudml.scoring.pipeline import check_inputs

    model = EntityModel(
        entity="provider",
        anomaly=None,  # type: ignore[arg-type]
        anomaly_features=["n_claims"],
        anomaly_reference=(0.0, 1.0),
        supervised=None,
        features=["n_claims", "drug_share", ANOMALY],
        feature_set_version="3",
    )
    frame = pd.DataFrame({"n_claims": [1.0], "rule_severity_score": 0.0, "net_claim_risk": 0.0})
    with pytest.raises(ModelError, match=r"drug_share\).*no claim_items table"):
        check_inputs("provider", model, frame, {"drug_share": "no claim_items table (fee lines)"})
    check_inputs("provider", model, frame.assign(drug_share=0.1), {})


def test_a_feature_and_its_peer_z_score_make_one_reason_with_units_in_the_report_language():
    from fraudml.explain.contributions import Explanation

    frame = pd.DataFrame(
        {"max_los": [35.0], "max_los__peer_median": [14.0], "n_claims": [3.0]}, index=["P1"]
    )
    why = Explanation(
        values=np.array([[0.4, 0.3, 0.5]]),
        base=0.0,
        output=np.array([1.2]),
        names=["max_los", "max_los__peer_z", "n_claims"],
        what="log-odds",
        direction=1,
        index=pd.Index(["P1"]),
    )
    (en,) = reasons(why, frame, "provider", [], "en").values()
    assert [r["feature"] for r in en] == ["max_los", "n_claims"]  # 0.7 before 0.5
    assert en[0]["weight"] == pytest.approx(0.7)
    assert en[0]["text"] == "longest stay: 35 days (peer median 14 days)"
    (zh,) = reasons(why, frame, "provider", [], "zh").values()
    assert zh[0]["text"] == "最长住院天数: 35 天，同类中位数 14 天"


def test_money_reads_in_the_dataset_currency():
    from fraudml.explain.contributions import Explanation

    frame = pd.DataFrame(
        {"fund_paid": [120000.0], "fund_paid__peer_median": [30000.0]}, index=["P1"]
    )
    why = Explanation(
        values=np.array([[0.9]]),
        base=0.0,
        output=np.array([0.9]),
        names=["fund_paid"],
        what="log-odds",
        direction=1,
        index=pd.Index(["P1"]),
    )
    (usd,) = reasons(why, frame, "provider", [], "en", currency="USD").values()
    assert (
        usd[0]["text"]
        == "paid by the pooled fund: 120,000 US dollars (peer median 30,000 US dollars)"
    )
    (zh,) = reasons(why, frame, "provider", [], "zh", currency="USD").values()
    assert zh[0]["text"] == "统筹基金支付: 120,000 美元，同类中位数 30,000 美元"
    (cny,) = reasons(why, frame, "provider", [], "en").values()
    assert cny[0]["text"].endswith("(peer median 30,000 yuan)")
    (other,) = reasons(why, frame, "provider", [], "en", currency="GBP").values()
    assert other[0]["text"].endswith("(peer median 30,000 GBP)")

    leads = pd.DataFrame(
        {
            "entity_type": ["provider"],
            "entity_id": ["P1"],
            "rank": [1],
            "score": [0.9],
            "tier": ["A"],
            "rule_ids": [""],
            "rule_amount": [0.0],
            "reasons_json": [json.dumps({"en": usd, "zh": zh})],
        }
    )
    html = render_html(leads, pd.DataFrame(), {}, "en", "2009", "now", currency="USD")
    assert "amounts in US dollars" in html and "yuan" not in html
    html = render_html(leads, pd.DataFrame(), {}, "zh", "2009", "now", currency="USD")
    assert "金额单位 美元" in html and "元" not in html.replace("美元", "")
