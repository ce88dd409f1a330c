"""The auditor's report: self-contained HTML and a spreadsheet, safe with untrusted text.

Names and codes come from the data and are untrusted: the HTML escapes everything it
prints (Jinja2 autoescape; the chart is inline SVG with escaped labels, no script, no
network); the spreadsheet and the leads CSV neutralise every text cell a spreadsheet
program would read as a formula, and the spreadsheet shows control characters (which
the XLSX format cannot hold) as visible escapes such as ``\\x07``. Patient identifiers
can be replaced by a salted hash (the salt stays outside the report).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from jinja2 import Environment, select_autoescape

from fraudml.features.registry import unit_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: the characters an XLSX cell cannot hold (XML 1.0 forbids them; openpyxl refuses them)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

TEXT = {
    "zh": {
        "title": "医保基金监管线索报告",
        "leads": "线索",
        "entity": "对象类型",
        "id": "编号",
        "score": "风险分",
        "rank": "排名",
        "tier": "等级",
        "reasons": "主要原因",
        "rules": "规则命中",
        "amount": "违规金额",
        "evidence": "证据结算",
        "explained": "解释对象",
        "window": "评分期间",
        "contrib": "各特征贡献",
        "money": "金额单位",
        "deductions": "明确违规扣款清单（按定点机构汇总）",
        "provider": "定点机构",
        "claims": "结算数",
        "lines": "明细行数",
        "hits": "命中数",
        "deduct": "扣款金额",
        "deduct_note": (
            "明确违规不进入线索清单，逐条明细见 violations.parquet 与报表的 violations 工作表。"
        ),
    },
    "en": {
        "title": "Medical-insurance fund supervision: leads",
        "leads": "Leads",
        "entity": "entity type",
        "id": "id",
        "score": "risk score",
        "rank": "rank",
        "tier": "tier",
        "reasons": "main reasons",
        "rules": "rule hits",
        "amount": "amount in violation",
        "evidence": "evidence claims",
        "explained": "explained output",
        "window": "period",
        "contrib": "contributions",
        "money": "amounts in",
        "deductions": "Deduction list of definite violations, per provider",
        "provider": "provider",
        "claims": "claims",
        "lines": "fee lines",
        "hits": "hits",
        "deduct": "amount to deduct",
        "deduct_note": (
            "Definite violations are not leads; every line is in violations.parquet and "
            "the violations sheet."
        ),
    },
}

TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{{ t.title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei","PingFang SC",
"Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;
font-size:13px;text-align:left}th{background:#f2f4f7}.lead{border-top:2px solid #3b6ea5;
margin-top:1.5em;padding-top:.5em}.muted{color:#666;font-size:12px}
</style></head><body>
<h1>{{ t.title }}</h1>
<p class="muted">{{ t.window }}: {{ window }} · {{ t.money }} {{ money }} · {{ generated }}</p>
{% for entity, rows in index %}
<h2>{{ t.leads }}: {{ entity }} ({{ rows|length }})</h2>
<p class="muted">{{ t.explained }}: {{ explained.get(entity, "") }}</p>
<table><tr><th>{{ t.rank }}</th><th>{{ t.id }}</th><th>{{ t.score }}</th><th>{{ t.tier }}</th>
<th>{{ t.rules }}</th></tr>
{% for r in rows %}<tr><td>{{ r.rank }}</td><td><a href="#{{ r.anchor }}">{{ r.entity_id }}</a></td>
<td>{{ "%.4f"|format(r.score) }}</td><td>{{ r.tier }}</td><td>{{ r.rule_ids }}</td></tr>
{% endfor %}</table>
{% endfor %}
{% for r in leads %}
<div class="lead" id="{{ r.anchor }}">
<h3>{{ r.entity_type }} {{ r.entity_id }} — {{ t.rank }} {{ r.rank }}, {{ t.score }}
{{ "%.4f"|format(r.score) }}</h3>
<p><b>{{ t.reasons }}:</b></p><ul>{% for x in r.reasons %}<li>{{ x.text }}</li>{% endfor %}</ul>
{% if r.reasons %}<p class="muted">{{ t.contrib }}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{{ 24 * r.reasons|length + 10 }}"
role="img">{% for x in r.reasons %}
<text x="0" y="{{ 24 * loop.index0 + 17 }}" font-size="12">{{ x.text[:28] }}</text>
<rect x="300" y="{{ 24 * loop.index0 + 5 }}" width="{{ x.bar }}" height="16"
fill="#3b6ea5"></rect>{% endfor %}</svg>{% endif %}
{% if r.evidence %}<p><b>{{ t.rules }}</b> ({{ t.amount }} {{ r.rule_amount }}):</p>
<table><tr><th>rule</th><th>claim</th><th>line</th><th>{{ t.amount }}</th><th></th></tr>
{% for e in r.evidence %}<tr><td>{{ e.rule_id }}</td><td>{{ e.claim_id }}</td>
<td>{{ e.line_no }}</td><td>{{ e.amount }}</td><td>{{ e.message }}</td></tr>{% endfor %}
</table>{% endif %}
</div>
{% endfor %}
{% if deductions %}
<h2 id="deductions">{{ t.deductions }} ({{ deductions|length }})</h2>
<p class="muted">{{ t.deduct_note }}</p>
<table><tr><th>{{ t.provider }}</th><th>{{ t.claims }}</th><th>{{ t.lines }}</th>
<th>{{ t.hits }}</th><th>{{ t.deduct }}</th></tr>
{% for d in deductions %}<tr><td>{{ d.provider_id }}</td><td>{{ d.claims }}</td>
<td>{{ d.lines }}</td><td>{{ d.hits }}</td><td>{{ "%.2f"|format(d.amount) }}</td></tr>
{% endfor %}</table>
{% endif %}
</body></html>
"""


def pseudonym(value: str, salt: str) -> str:
    """A stable salted hash of an identifier (HMAC-SHA256, 16 hex characters)."""
    return "P" + hmac.new(salt.encode(), str(value).encode(), hashlib.sha256).hexdigest()[:16]


def pseudonymise(frame: pd.DataFrame, salt: str) -> pd.DataFrame:
    """Replace patient identifiers (patient leads and ``patient_id`` columns)."""
    out = frame.copy()
    if "entity_type" in out and "entity_id" in out:
        mask = out.entity_type == "patient"
        out.loc[mask, "entity_id"] = [pseudonym(v, salt) for v in out.loc[mask, "entity_id"]]
    if "lead_type" in out and "lead_id" in out:
        mask = out.lead_type == "patient"
        out.loc[mask, "lead_id"] = [pseudonym(v, salt) for v in out.loc[mask, "lead_id"]]
    if "patient_id" in out:
        out["patient_id"] = [None if pd.isna(v) else pseudonym(v, salt) for v in out.patient_id]
    return out


def neutralise(value: object) -> object:
    """A cell a spreadsheet would evaluate as a formula, made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def escape_control(value: object) -> object:
    """A text with the characters an XLSX cell cannot hold shown as ``\\xNN`` (visible, so
    an auditor sees that the id holds one, instead of the whole workbook failing)."""
    if isinstance(value, str):
        return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value


def _xlsx_cell(value: object) -> object:
    return neutralise(escape_control(value))


def text_cells(frame: pd.DataFrame, safe: Callable[[object], object]) -> pd.DataFrame:
    """``frame`` with ``safe`` applied to every cell of its text columns (numbers stay
    numbers: a spreadsheet reads ``-0.5`` in a number column as a number, not a formula)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype).startswith("str"):
            out[col] = out[col].map(safe).astype(object)
    return out


def write_leads_csv(leads: pd.DataFrame, path: Path) -> None:
    """The leads as CSV for spreadsheet programs (UTF-8 with BOM, so Excel reads the
    Chinese text), every text cell neutralised against formulas."""
    text_cells(leads, neutralise).to_csv(path, index=False, encoding="utf-8-sig")


def write_xlsx(
    leads: pd.DataFrame,
    evidence: pd.DataFrame,
    path: Path,
    violations: pd.DataFrame | None = None,
    deductions: pd.DataFrame | None = None,
) -> None:
    """The leads and evidence sheets, and the deduction list (every definite violation,
    and its total per provider) when given; text cells neutralised and control
    characters escaped."""
    sheets = [("leads", leads), ("evidence", evidence)]
    if violations is not None:
        sheets.append(("violations", violations))
    if deductions is not None:
        sheets.append(("deductions", deductions))
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets:
            text_cells(frame, _xlsx_cell).to_excel(writer, sheet_name=name, index=False)


def render_html(
    leads: pd.DataFrame,
    evidence: pd.DataFrame,
    explained: dict[str, str],
    lang: str,
    window: str,
    generated: str,
    currency: str = "CNY",
    deductions: pd.DataFrame | None = None,
    max_deductions: int = 100,
) -> str:
    """The self-contained HTML report of ``leads`` (autoescaped; amounts labelled with
    the dataset's ``currency``), and the deduction list per provider (its first
    ``max_deductions`` providers) when given."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    rows = []
    # evidence grouped once by lead: looking it up per lead must not rescan the table
    grouped = (
        {k: g for k, g in evidence.groupby(["lead_type", "lead_id"], sort=False)}
        if len(evidence)
        else {}
    )
    for i, r in enumerate(leads.itertuples()):
        parsed = json.loads(r.reasons_json)[lang] if isinstance(r.reasons_json, str) else []
        top = max([x["weight"] for x in parsed], default=1.0) or 1.0
        reasons = [dict(x, bar=round(300 * x["weight"] / top, 1)) for x in parsed]
        mine = grouped.get((r.entity_type, r.entity_id), evidence.iloc[0:0])
        ev = [
            {
                "rule_id": e.rule_id,
                "claim_id": e.claim_id,
                "line_no": "" if pd.isna(e.line_no) else int(e.line_no),
                "amount": e.amount,
                "message": e.message_zh if lang == "zh" else e.message_en,
            }
            for e in mine.head(50).itertuples()
        ]
        rows.append(
            {
                "anchor": f"lead-{i}",
                "entity_type": r.entity_type,
                "entity_id": r.entity_id,
                "rank": r.rank,
                "score": r.score,
                "tier": r.tier,
                "rule_ids": r.rule_ids,
                "rule_amount": r.rule_amount,
                "reasons": reasons,
                "evidence": ev,
            }
        )
    index = [(e, [x for x in rows if x["entity_type"] == e]) for e in leads.entity_type.unique()]
    money = unit_text("元", lang, currency)
    amount = (
        f"{TEXT[lang]['amount']}（{money}）"
        if lang == "zh"
        else f"{TEXT[lang]['amount']} ({money})"
    )
    return env.from_string(TEMPLATE).render(
        t=dict(TEXT[lang], amount=amount),
        lang=lang,
        index=index,
        leads=rows,
        explained=explained,
        deductions=(
            [] if deductions is None else deductions.head(max_deductions).to_dict("records")
        ),
        money=money,
        window=window,
        generated=generated,
    )
