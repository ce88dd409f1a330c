"""Group leads (团伙) in the report: members, the drawing, the proof, the spreadsheet."""

from __future__ import annotations

import html as htmllib
import json
import re

import openpyxl
import pandas as pd

from fraudml.report.render import (
    parse_links,
    pseudonymise,
    render_html,
    write_xlsx,
)

SCRIPT = "<script>alert(1)</script>"
FORMULA = "=cmd|' /C calc'!A0"


def _record(text: str) -> dict:
    return {"feature": "group", "text": text, "value": None, "peer": None, "weight": 0.0}


def _group_lead(group_id: str = "G1") -> dict:
    zh = ["3人于2024-03-01至2024-05-30期间结伴就诊9天，主要在C1（<b>诊所</b>）", "成员平均风险0.60"]
    en = ["3 people arrived together on 9 days, mostly at C1 (<b>clinic</b>)", "mean risk 0.60"]
    return {
        "entity_type": "group",
        "entity_id": group_id,
        "claim_kind": None,
        "score": 0.6,
        "rank": 1,
        "tier": "A",
        "model": "groups (patient m@1)",
        "reasons_zh": "；".join(zh),
        "reasons_en": "; ".join(en),
        "reasons_json": json.dumps(
            {"zh": [_record(x) for x in zh], "en": [_record(x) for x in en]}, ensure_ascii=False
        ),
        "rule_hits": 0,
        "rule_ids": "",
        "rule_amount": 0.0,
        "evidence_claims": "",
    }


def _members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group_id": ["G1"] * 5,
            "member_type": ["patient", "patient", "patient", "provider", "provider"],
            "member_id": ["A", SCRIPT, FORMULA, "C1", "C2"],
            "risk": [0.9, 0.3, 0.6, float("nan"), float("nan")],
            "days": [9, 4, 2, 7, 2],
            "links": ["C1:7;C2:2", "C1:4", "C1:2", "", ""],
        }
    )


def _proof(rows: int = 3, group_id: str = "G1") -> pd.DataFrame:
    patients = ["A", SCRIPT, FORMULA]
    return pd.DataFrame(
        {
            "group_id": [group_id] * rows,
            "day": [
                (pd.Timestamp("2024-03-01") + pd.Timedelta(days=i // 3)).date() for i in range(rows)
            ],
            "provider_id": ["C1"] * rows,
            "patient_id": [patients[i % 3] for i in range(rows)],
            "claim_id": [f"K{i}" for i in range(rows)],
            "admit_time": [
                pd.Timestamp("2024-03-01 09:00") + pd.Timedelta(days=i // 3, minutes=10 * (i % 3))
                for i in range(rows)
            ],
        }
    )


def _cells(fragment: str, row_class: str) -> list[list[str]]:
    rows = re.findall(rf'<tr class="{row_class}">(.*?)</tr>', fragment, flags=re.S)
    return [[htmllib.unescape(c) for c in re.findall(r"<td>(.*?)</td>", r, re.S)] for r in rows]


def _svg(page: str) -> str:
    (svg,) = re.findall(r'<svg class="group".*?</svg>', page, flags=re.S)
    return svg


def _widths(svg: str) -> dict[str, float]:
    """Each link's title → its stroke width."""
    return {
        htmllib.unescape(title): float(width)
        for width, title in re.findall(
            r'<line class="link"[^>]*stroke-width="([0-9.]+)"><title>(.*?)</title>', svg, re.S
        )
    }


def _report(lang: str = "zh", **kwargs) -> str:
    leads = pd.DataFrame([_group_lead()])
    return render_html(leads, pd.DataFrame(), {"group": "x"}, lang, "2024-03", "now", **kwargs)


def test_a_group_lead_shows_its_facts_members_drawing_and_proof():
    page = _report(groups=_members(), group_evidence=_proof())
    # the facts, escaped; no contribution chart (a group's reasons have no weights)
    assert "&lt;b&gt;诊所&lt;/b&gt;" in page and "<b>诊所" not in page
    assert "各特征贡献" not in page and page.count("<svg") == 1
    # members: patients by days together with their risk and links, then providers
    assert _cells(page, "member") == [
        ["参保人", "A", "0.90", "9", "C1 (7), C2 (2)"],
        ["参保人", SCRIPT, "0.30", "4", "C1 (4)"],
        ["参保人", FORMULA, "0.60", "2", "C1 (2)"],
        ["定点机构", "C1", "", "7", "3 名参保人"],
        ["定点机构", "C2", "", "2", "1 名参保人"],
    ]
    assert "(3 名参保人，2 家定点机构)" in page
    # the drawing: a circle per patient, a square per provider, a line per link
    svg = _svg(page)
    assert svg.count('<circle class="patient"') == 3
    assert svg.count('<rect class="provider"') == 2
    assert svg.count('<line class="link"') == 4
    widths = _widths(svg)
    assert set(widths) == {
        "A — C1: 结伴天数 7",
        "A — C2: 结伴天数 2",
        f"{SCRIPT} — C1: 结伴天数 4",
        f"{FORMULA} — C1: 结伴天数 2",
    }
    assert (
        widths["A — C1: 结伴天数 7"]
        > widths[f"{SCRIPT} — C1: 结伴天数 4"]
        > widths[f"{FORMULA} — C1: 结伴天数 2"]
        == widths["A — C2: 结伴天数 2"]
    )
    assert "连线粗细 = 结伴天数：1 天 / 7 天" in svg and "定点机构</text>" in svg  # the legend
    assert "drawn-left" not in page  # everyone drawn
    # the proof: dated claims
    assert _cells(page, "proof-row") == [
        ["2024-03-01", "C1", "A", "K0", "2024-03-01 09:00:00"],
        ["2024-03-01", "C1", SCRIPT, "K1", "2024-03-01 09:10:00"],
        ["2024-03-01", "C1", FORMULA, "K2", "2024-03-01 09:20:00"],
    ]
    # untrusted ids are text: nothing of them runs, in the tables or the drawing
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;…</text>" in svg  # a long label is cut, escaped
    assert "http://" not in page.split("<body>")[0]  # nothing fetched from the network
    # the same members make the same picture
    assert _report(groups=_members(), group_evidence=_proof()) == page


def test_the_drawing_is_labelled_in_the_report_language():
    page = _report("en", groups=_members(), group_evidence=_proof())
    assert _cells(page, "member")[3] == ["provider", "C1", "", "7", "3 patients"]
    svg = _svg(page)
    assert "line width = days together: 1 / 7 days" in svg
    assert "A — C1: days together 7" in _widths(svg)


def test_a_group_lead_without_its_members_shows_its_facts_only():
    page = _report()
    assert "3人于2024-03-01" in page
    assert "<svg" not in page and 'class="member"' not in page and "团伙成员" not in page


def test_a_large_group_draws_the_patients_with_the_most_days_and_says_who_is_left_out():
    n = 75
    members = pd.DataFrame(
        {
            "group_id": "G1",
            "member_type": ["patient"] * n + ["provider", "provider"],
            "member_id": [f"M{i:03d}" for i in range(n)] + ["C1", "C2"],
            "risk": [0.5] * n + [float("nan")] * 2,
            "days": [*range(1, n + 1), n, 1],
            # the member with the fewest days is the only one at C2
            "links": ["C2:1", *(f"C1:{i}" for i in range(2, n + 1)), "", ""],
        }
    )
    page = _report(groups=members, group_evidence=_proof(70))
    svg = _svg(page)
    drawn = re.findall(r'<circle class="patient"[^>]*><title>(M\d{3}) ·', svg)
    assert sorted(drawn) == [f"M{i:03d}" for i in range(n - 60, n)]  # the 60 most days
    assert svg.count('<rect class="provider"') == 1  # C2's only patient is left out
    assert svg.count('<line class="link"') == 60
    assert "只画出结伴天数最多的 60 名参保人；另有 15 名参保人、1 家定点机构未画出" in page
    # the members table lists everyone; the proof its first 50 rows and the count of the rest
    assert len(_cells(page, "member")) == n + 2
    assert len(_cells(page, "proof-row")) == 50
    assert "(70)" in page and "另有 20 条证据" in page
    small = _report(groups=members, group_evidence=_proof(70), max_drawn=10, max_proof=5)
    assert _svg(small).count('<circle class="patient"') == 10
    assert len(_cells(small, "proof-row")) == 5 and "另有 65 条证据" in small


def test_a_pseudonymised_group_is_shown_as_passed():
    salt = "s"
    leads = pseudonymise(pd.DataFrame([_group_lead()]), salt)
    members, proof = pseudonymise(_members(), salt), pseudonymise(_proof(), salt)
    page = render_html(
        leads, pd.DataFrame(), {}, "en", "2024", "now", groups=members, group_evidence=proof
    )
    gid = leads.entity_id[0]
    assert gid.startswith("G") and gid != "G1" and set(members.group_id) == {gid}
    rows = _cells(page, "member")
    assert [r[1] for r in rows[:3]] == list(members.member_id[:3])
    assert all(re.fullmatch(r"P[0-9a-f]{16}", r[1]) for r in rows[:3])
    assert [r[1] for r in rows[3:]] == ["C1", "C2"]  # providers keep their ids
    assert "&lt;script&gt;" not in page and "cmd|" not in page
    assert len(_cells(page, "proof-row")) == 3


def test_links_are_read_even_when_provider_ids_hold_the_separators():
    assert parse_links("C1:7;C2:2") == [("C1", 7), ("C2", 2)]
    assert parse_links("a;b:c:3;D:1", {"a;b:c", "D"}) == [("a;b:c", 3), ("D", 1)]
    assert parse_links("", {"C1"}) == [] and parse_links(None) == []
    assert parse_links("X:2", {"C1"}) == [("X", 2)]  # a provider the group does not list


def test_the_spreadsheet_has_safe_group_sheets_and_keeps_the_others(tmp_path):
    leads = pd.DataFrame([_group_lead()])
    evidence = pd.DataFrame(
        {"lead_type": ["provider"], "lead_id": ["H1"], "rule_id": ["R"], "claim_id": ["K"]}
    )
    members = _members()
    members.loc[1, "member_id"] = "bell\x07" + SCRIPT
    proof = _proof()
    proof["admit_time"] = proof.admit_time.dt.tz_localize("Asia/Shanghai")  # no zones in XLSX
    violations = pd.DataFrame({"rule_id": ["R"], "amount": [1.0]})
    deductions = pd.DataFrame({"provider_id": ["H1"], "amount": [1.0]})
    path = tmp_path / "r.xlsx"
    write_xlsx(leads, evidence, path, violations, deductions, groups=members, group_evidence=proof)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "leads",
        "evidence",
        "violations",
        "deductions",
        "groups",
        "group_evidence",
    ]
    for name in ("groups", "group_evidence"):
        values = [c.value for row in book[name].iter_rows() for c in row]
        text = [v for v in values if isinstance(v, str)]
        assert not any(v.startswith("=") for v in text)
        assert f"'{FORMULA}" in text
    groups = [[c.value for c in row] for row in book["groups"].iter_rows()]
    assert groups[0] == ["group_id", "member_type", "member_id", "risk", "days", "links"]
    assert groups[1][:3] == ["G1", "patient", "A"] and groups[1][4:] == [9, "C1:7;C2:2"]
    assert groups[2][2] == "bell\\x07" + SCRIPT  # control character shown, not dropped
    assert isinstance(groups[1][3], float) and groups[1][4] == 9  # numbers stay numbers
    proofs = [[c.value for c in row] for row in book["group_evidence"].iter_rows()]
    assert proofs[0] == ["group_id", "day", "provider_id", "patient_id", "claim_id", "admit_time"]
    assert str(proofs[1][5]) == "2024-03-01 09:00:00"
    # callers that pass no groups get the sheets they always had
    write_xlsx(leads, evidence, path)
    assert openpyxl.load_workbook(path).sheetnames == ["leads", "evidence"]


def test_a_report_with_a_group_lead_opens_in_headless_chromium_without_console_errors(tmp_path):
    import shutil
    import subprocess

    from PIL import Image

    chromium = shutil.which("chromium")
    assert chromium, "make test installs Debian's chromium (make browser)"
    fonts = subprocess.run(["fc-list"], capture_output=True, text=True, check=True).stdout
    assert "Noto Sans CJK" in fonts  # CJK text renders as glyphs, not empty boxes
    page = tmp_path / "report.html"
    page.write_text(_report(groups=_members(), group_evidence=_proof()), encoding="utf-8")
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,1800",
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
    image = Image.open(shot).convert("RGB")
    gray = image.convert("L").histogram()
    assert image.size == (1000, 1800) and sum(gray[:100]) > 500 and gray[255] > 10_000

    def near(colour: tuple[int, int, int]) -> int:
        return sum(
            n
            for n, c in image.getcolors(1000 * 1800)
            if all(abs(a - b) <= 24 for a, b in zip(c, colour, strict=True))
        )

    # the drawing was painted: provider squares (orange), flagged and other patients
    assert near((0xE6, 0x7E, 0x22)) > 2 * 200  # two squares and the legend's, 16×16 each
    assert near((0xC0, 0x39, 0x2B)) > 50 and near((0x4F, 0x86, 0xC6)) > 50


def test_lead_headings_name_the_lead_type_in_the_report_language():
    from fraudml.report.render import lead_type_names

    zh, en = lead_type_names("zh"), lead_type_names("en")
    assert (zh["group"], zh["claim"], zh["patient"], zh["provider"]) == (
        "团伙",
        "结算",
        "参保人",
        "定点机构",
    )
    assert (en["group"], en["doctor"]) == ("group", "doctor")
