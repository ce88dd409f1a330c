"""The monitoring report (动态监测专报): exact growth on a hand-built dataset, honest
growth where the base is missing, the peer comparison, the translation tables, untrusted
text, and the zh page in headless Chromium."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import fraudml
from fraudml import Window
from fraudml.errors import SettingError
from fraudml.i18n import CODES
from fraudml.monitoring import FOCUS_FIELDS, MonitorSettings
from fraudml.monitoring import text as tx
from fraudml.monitoring.tables import partial_months, peer_compare, robust_z
from tests.builders import claim, line
from tests.conftest import base_tables, write_csv_dataset

#: H1's name: markup and a formula, as an extract may hold them
NASTY = '=HYPERLINK("http://x")<script>alert(1)</script>'


def _tables() -> dict[str, list[dict[str, str]]]:
    """Claims in 2023-03, 2024-02, 2024-03 (the base C1, C2 and an orthopaedic stay) and
    2024-04; the data holds no 2023-04 and no 2024-01."""
    t = base_tables()
    t["providers"][0]["name"] = NASTY
    t["claims"] += [
        claim(
            "C01",
            "001",
            "H1",
            "outpatient",
            "2023-03-10 10:00:00",
            total="150",
            fund="100",
            account="30",
            cash="20",
        ),
        claim(
            "C02",
            "001",
            "H1",
            "outpatient",
            "2024-02-10 10:00:00",
            total="250",
            fund="200",
            account="30",
            cash="20",
        ),
        claim(
            "C03",
            "002",
            "H1",
            "inpatient",
            "2024-03-05 08:00:00",
            "2024-03-09 10:00:00",
            total="200",
            fund="120",
            account="0",
            cash="80",
        ),
        claim(
            "C04",
            "001",
            "H1",
            "outpatient",
            "2024-04-02 10:00:00",
            total="400",
            fund="300",
            account="50",
            cash="50",
        ),
    ]
    t["claims"][-2]["department"] = "orthopedics"
    t["claim_items"] += [
        line("C01", 1, "XA01", "western_drug", 2, 30),
        line("C02", 1, "XA01", "western_drug", 1, 25),
        line("C04", 1, "XA01", "western_drug", 10, 30),
    ]
    return t


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv_dataset(tmp_path_factory.mktemp("monitor") / "city", _tables())


@pytest.fixture(scope="module")
def dataset(root: Path):
    """The hand-built dataset validated once for the module's reports."""
    with fraudml.validate(root) as ds:
        yield ds


@pytest.fixture(scope="module")
def written(dataset, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("monitor-out") / "report"
    window = Window(datetime(2024, 3, 1), datetime(2024, 5, 1))
    return fraudml.monitor(dataset, window, out=out)


def _row(spending: pd.DataFrame, dimension: str, segment: str, month: str) -> pd.Series:
    hit = spending[
        (spending.dimension == dimension)
        & (spending.segment == segment)
        & (spending.month == month)
    ]
    assert len(hit) == 1, (dimension, segment, month)
    return hit.iloc[0]


def _is_empty(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def test_monthly_growth_month_on_month_and_year_on_year(written):
    sp = written.spending
    assert list(sp[sp.dimension == "total"].month) == ["2024-03", "2024-04"]
    march = _row(sp, "total", "all", "2024-03")  # C1 80 + C2 0 + C03 120
    assert march.fund_paid == pytest.approx(200.0) and march.claims == 3
    assert march.prev_fund_paid == pytest.approx(200.0) and march.mom == pytest.approx(0.0)
    assert march.last_year_fund_paid == pytest.approx(100.0) and march.yoy == pytest.approx(1.0)
    outpatient = _row(sp, "visit_type", "outpatient", "2024-03")
    assert outpatient.mom == pytest.approx(80 / 200 - 1)
    assert outpatient.yoy == pytest.approx(80 / 100 - 1)
    assert _row(sp, "visit_type", "outpatient", "2024-04").mom == pytest.approx(300 / 80 - 1)
    assert _row(sp, "insurance_type", "resident", "2024-03").fund_paid == pytest.approx(120.0)
    assert _row(sp, "provider_level", "3", "2024-03").fund_paid == pytest.approx(200.0)
    assert _row(sp, "provider_level", "ungraded", "2024-03").fund_paid == pytest.approx(0.0)
    assert _row(sp, "focus_field", "orthopedics", "2024-03").fund_paid == pytest.approx(120.0)
    # a fee line carries its share of the claim's fund: C1's lab line is 60 of 120.50
    assert _row(sp, "focus_field", "lab", "2024-03").fund_paid == pytest.approx(80 * 60 / 120.5)


def test_growth_is_empty_where_the_base_is_missing_or_zero(written):
    sp = written.spending
    april = _row(sp, "total", "all", "2024-04")
    assert april.fund_paid == pytest.approx(300.0) and april.mom == pytest.approx(0.5)
    # the data holds no 2023-04: no base, no growth (never infinity, never -100 %)
    assert _is_empty(april.last_year_fund_paid) and _is_empty(april.yoy)
    stay = _row(sp, "visit_type", "inpatient", "2024-03")
    # 2024-02 and 2023-03 are covered but had no stays: the base is 0, growth empty
    assert stay.prev_fund_paid == 0.0 and _is_empty(stay.mom)
    assert stay.last_year_fund_paid == 0.0 and _is_empty(stay.yoy)
    after = _row(sp, "visit_type", "inpatient", "2024-04")
    assert after.fund_paid == 0.0 and after.mom == pytest.approx(-1.0)
    # the period's bases: 2023-03..04 lacks April, 2024-01..02 lacks January
    assert written.tables.bases == {
        "yoy": {"from": "2023-03", "to": "2023-04", "held": False},
        "pop": {"from": "2024-01", "to": "2024-02", "held": False},
    }
    # the extract ends on 2024-04-02: April is partial, and the report says so
    assert written.tables.partial == {"2024-04": "2024-04-01..2024-04-02"}
    assert partial_months(date(2024, 1, 3), date(2025, 1, 4)) == {
        24288: "2024-01-03..2024-01-31",
        24300: "2025-01-01..2025-01-04",
    }
    assert partial_months(date(2024, 1, 1), date(2024, 12, 31)) == {}
    item = written.items.set_index("item_code").loc["XA01"]
    assert item.fund_paid == pytest.approx(80 * 60.5 / 120.5 + 300)
    assert _is_empty(item["yoy"]) and _is_empty(item["pop"]) and not item.abnormal
    page = (written.path / "monitor.zh.html").read_text(encoding="utf-8")
    assert "上年同期（2023-03 至 2023-04）数据未覆盖" in page
    assert "2024-04 数据不完整（仅含 2024-04-01..2024-04-02）" in page
    assert "inf" not in re.sub(r"<[^>]+>", " ", page).split()
    april_row = re.search(r"<tr><td>2024-04</td>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", april_row, re.S)
    # claims, fund, month before, m/m, a year earlier, y/y
    assert cells == ["1", "300.00", "200.00", "+50.0%", "—", "—"]


def test_an_item_s_abnormal_growth_against_the_month_before(dataset):
    april = fraudml.monitor(dataset, Window(datetime(2024, 4, 1), datetime(2024, 5, 1)))
    item = april.items.set_index("item_code").loc["XA01"]
    assert item.prev_period_fund_paid == pytest.approx(80 * 60.5 / 120.5)
    assert item["pop"] == pytest.approx(300 / (80 * 60.5 / 120.5) - 1)
    assert item.abnormal and _is_empty(item.last_year_fund_paid)


def test_the_period_is_whole_months(root, tmp_path, capsys):
    with pytest.raises(SettingError, match="first day of a month"):
        fraudml.monitor(root, Window(datetime(2024, 3, 15), datetime(2024, 5, 1)))
    from fraudml.cli.main import main

    out = tmp_path / "o"
    args = ["monitor", f"data.path={root}", "period.end=2024-05-02", f"out={out}"]
    assert main(args) == 2
    assert "UNTIL=2024-05-02 is not the first day of a month" in capsys.readouterr().err
    assert not out.exists()


def test_robust_z_and_peer_groups():
    z = robust_z(pd.Series([1.0, 2, 3, 4, 100]), pd.Series(["a"] * 5))
    assert z.iloc[4] == pytest.approx(97 / 1.4826) and z.iloc[2] == 0.0
    # MAD 0 (most share one value): the mean absolute deviation scales instead
    z = robust_z(pd.Series([5.0, 5, 5, 5, 9]), pd.Series(["a"] * 5))
    assert z.iloc[4] == pytest.approx(4 / (0.8 * 1.2533))
    assert robust_z(pd.Series([2.0, 2, 2]), pd.Series(["a"] * 3)).isna().all()
    frame = pd.DataFrame(
        {
            "provider_type": ["hospital"] * 6 + ["clinic"] * 2,
            "level_seg": ["3"] * 5 + ["2"] + ["1"] * 2,
            "x": [1.0, 2, 3, 4, 100, 3, 1, 9],
        }
    )
    out = peer_compare(frame, ["x"], MonitorSettings(min_peers=5))
    assert list(out.peer_group) == ["hospital:3"] * 5 + ["hospital"] + ["clinic"] * 2
    assert list(out.peers) == [5] * 5 + [6, 2, 2]
    assert list(out.departures) == ["", "", "", "", "x", "", "", ""]
    assert out.z_x.iloc[6:].isna().all()  # two clinics are too few to compare


def test_translation_tables_are_complete_in_both_languages(written):
    for table in (tx.UI, tx.HEADERS, tx.SHEETS, tx.FIELDS, tx.MEASURES):
        for key, (zh, en) in table.items():
            assert zh.strip() and en.strip(), key
            if key != "lang_other":  # the link to the English page reads in English
                assert re.search(r"[\u4e00-\u9fff]", zh), key  # the zh text is Chinese
            assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key
    assert set(tx.FIELDS) == {f.code for f in FOCUS_FIELDS}
    assert all(len(zh) <= 31 and len(en) <= 31 for zh, en in tx.SHEETS.values())
    shown = {c for frame in written.tables.as_dict().values() for c in frame.columns}
    assert shown - {"ym"} <= set(tx.HEADERS), shown - set(tx.HEADERS)
    departures = {m for d in written.providers.departures for m in d.split(";") if m}
    assert departures <= set(tx.MEASURES)


def test_untrusted_names_are_inert_in_html_and_spreadsheet(written):
    page = (written.path / "monitor.zh.html").read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    csp = "default-src 'none'; style-src 'unsafe-inline'"
    assert csp in page
    book = pd.read_excel(written.path / "monitor.zh.xlsx", sheet_name=None)
    assert set(book) == {"基金支出", "重点药品耗材", "重点领域机构", "机构偏离", "口径说明"}
    names = book["机构偏离"]["名称"].tolist()
    assert "'" + NASTY in names and "<script>alert(1)</script>" in names
    manifest = json.loads((written.path / "monitor.json").read_text(encoding="utf-8"))
    assert manifest["months"] == ["2024-03", "2024-04"]
    assert set(manifest["files"].values()) == {
        f"monitor.{lang}.{ext}" for lang in ("zh", "en") for ext in ("html", "xlsx")
    }


class _Text(HTMLParser):
    """The text a reader sees (not inside SVG, style or title)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in {"svg", "style", "title"}:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"svg", "style", "title"}:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def test_zh_report_has_no_untranslated_codes(written):
    parser = _Text()
    parser.feed((written.path / "monitor.zh.html").read_text(encoding="utf-8"))
    seen = " ".join(parser.parts).replace(NASTY, " ").replace("<script>alert(1)</script>", " ")
    vocabulary = {code for codes in CODES.values() for code in codes}
    vocabulary |= {en for codes in CODES.values() for _, en in codes.values()}
    vocabulary |= set(tx.HEADERS) | set(tx.MEASURES) | set(tx.FIELDS)
    vocabulary |= {"ungraded", "unknown", "all", "hospital:3", "None", "nan", "NaN"}
    vocabulary -= {"M", "F", "1", "2", "3"}  # single letters and digits occur in ids/dates
    found = sorted(w for w in vocabulary if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", seen))
    assert found == []
    assert "English version" in seen  # the link to the other language, on purpose


def test_zh_report_renders_in_headless_chromium(written, tmp_path):
    from PIL import Image

    chromium = shutil.which("chromium")
    assert chromium, "make test installs Debian's chromium (make browser)"
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,1400",
            f"--screenshot={shot}",
            (written.path / "monitor.zh.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert console == []  # nothing ran, nothing was blocked
    image = Image.open(shot).convert("L")
    histogram = image.histogram()
    assert image.size == (1000, 1400)
    assert sum(histogram[:100]) > 2_000 and histogram[255] > 100_000  # text and chart drawn


def test_without_fee_lines_the_report_says_so_and_keeps_the_claim_tables(tmp_path):
    tables = _tables()
    del tables["claim_items"]
    root = write_csv_dataset(tmp_path / "city", tables)
    result = fraudml.monitor(root, Window(datetime(2024, 3, 1)), out=tmp_path / "out")
    assert not result.tables.has_lines and result.items.empty
    assert _row(result.spending, "total", "all", "2024-03").fund_paid == pytest.approx(200.0)
    assert set(result.focus_providers.field) == {"orthopedics"}  # 检查/检验 need fee lines
    page = (result.path / "monitor.zh.html").read_text(encoding="utf-8")
    assert "数据集无费用明细" in page
    assert set(pd.read_excel(result.path / "monitor.en.xlsx", sheet_name=None)) == {
        "spending",
        "key items",
        "focus fields",
        "providers",
        "definitions",
    }
