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
import math
import re
from collections.abc import Callable, Collection
from pathlib import Path

import pandas as pd
from jinja2 import Environment, select_autoescape

from fraudml.entities import ENTITIES
from fraudml.features.registry import unit_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: the characters an XLSX cell cannot hold (XML 1.0 forbids them; openpyxl refuses them)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: a group lead's patients drawn (those with the most days together), member rows listed
#: and proof rows shown in the HTML (the spreadsheet and the parquet files hold them all)
MAX_DRAWN = 60
MAX_MEMBER_ROWS = 200
MAX_PROOF_ROWS = 50
#: a member at this risk or more is drawn as flagged (as the group's reasons count them)
FLAGGED = 0.5

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
        "members": "团伙成员",
        "member_type": "类型",
        "patient": "参保人",
        "risk": "风险",
        "together": "结伴天数",
        "links": "关联（结伴天数）",
        "linked": "{n} 名参保人",
        "members_count": "{patients} 名参保人，{providers} 家定点机构",
        "members_left": "另有 {n} 名成员未列出，见 groups 工作表与 groups.parquet。",
        "drawing": "团伙关系图",
        "drawn_left": (
            "成员较多，只画出结伴天数最多的 {shown} 名参保人；"
            "另有 {patients} 名参保人、{providers} 家定点机构未画出。"
        ),
        "legend_high": "参保人（风险 ≥ 0.5）",
        "legend_low": "参保人（风险 < 0.5）",
        "legend_provider": "定点机构",
        "legend_edge": "连线粗细 = 结伴天数：{low} 天 / {high} 天",
        "proof": "结伴就诊的证据（日期与结算）",
        "day": "日期",
        "patient_id": "参保人",
        "claim": "结算编号",
        "admit": "就诊时间",
        "proof_left": "另有 {n} 条证据，见 group_evidence 工作表与 group_evidence.parquet。",
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
        "members": "Group members",
        "member_type": "type",
        "patient": "patient",
        "risk": "risk",
        "together": "days together",
        "links": "links (days together)",
        "linked": "{n} patients",
        "members_count": "{patients} patients, {providers} providers",
        "members_left": "{n} more members are not listed: see the groups sheet and groups.parquet.",
        "drawing": "Drawing of the group",
        "drawn_left": (
            "A large group: only the {shown} patients with the most days together are drawn; "
            "{patients} patients and {providers} providers are left out."
        ),
        "legend_high": "patient (risk ≥ 0.5)",
        "legend_low": "patient (risk < 0.5)",
        "legend_provider": "provider",
        "legend_edge": "line width = days together: {low} / {high} days",
        "proof": "Proof of the co-visits (dates and claims)",
        "day": "day",
        "patient_id": "patient",
        "claim": "claim",
        "admit": "admit time",
        "proof_left": "{n} more rows: see the group_evidence sheet and group_evidence.parquet.",
    },
}


def lead_type_names(lang: str) -> dict[str, str]:
    """Each lead type's name for people in ``lang``: the entity vocabulary's names, and
    the two lead types that are not profiled entities (a claim of either kind, a group)."""
    zh = lang == "zh"
    names = {e: (spec.zh if zh else spec.en) for e, spec in ENTITIES.items()}
    names["claim"] = "结算" if zh else "claim"
    names["group"] = "团伙" if zh else "group"
    return names


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
.scroll{max-height:26em;overflow:auto;display:inline-block}
@media print{.scroll{max-height:none;overflow:visible}}
</style></head><body>
<h1>{{ t.title }}</h1>
<p class="muted">{{ t.window }}: {{ window }} · {{ t.money }} {{ money }} · {{ generated }}</p>
{% for entity, rows in index %}
<h2>{{ t.leads }}: {{ names.get(entity, entity) }} ({{ rows|length }})</h2>
<p class="muted">{{ t.explained }}: {{ explained.get(entity, "") }}</p>
<table><tr><th>{{ t.rank }}</th><th>{{ t.id }}</th><th>{{ t.score }}</th><th>{{ t.tier }}</th>
<th>{{ t.rules }}</th></tr>
{% for r in rows %}<tr><td>{{ r.rank }}</td><td><a href="#{{ r.anchor }}">{{ r.entity_id }}</a></td>
<td>{{ "%.4f"|format(r.score) }}</td><td>{{ r.tier }}</td><td>{{ r.rule_ids }}</td></tr>
{% endfor %}</table>
{% endfor %}
{% for r in leads %}
<div class="lead" id="{{ r.anchor }}">
<h3>{{ names.get(r.entity_type, r.entity_type) }} {{ r.entity_id }} — {{ t.rank }} {{ r.rank }},
{{ t.score }} {{ "%.4f"|format(r.score) }}</h3>
<p><b>{{ t.reasons }}:</b></p><ul>{% for x in r.reasons %}<li>{{ x.text }}</li>{% endfor %}</ul>
{% if r.reasons and not r.is_group %}<p class="muted">{{ t.contrib }}</p>
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
{% if r.group %}{% set g = r.group %}
<p><b>{{ t.members }}</b> ({{ g.count }}):</p>
<div class="scroll"><table class="members">
<tr><th>{{ t.member_type }}</th><th>{{ t.id }}</th><th>{{ t.risk }}</th><th>{{ t.together }}</th>
<th>{{ t.links }}</th></tr>
{% for m in g.members %}<tr class="member"><td>{{ m.type }}</td><td>{{ m.id }}</td>\
<td>{{ m.risk }}</td><td>{{ m.days }}</td><td>{{ m.links }}</td></tr>
{% endfor %}</table></div>
{% if g.members_left %}<p class="muted">{{ g.members_left }}</p>{% endif %}
{% set d = g.drawing %}{% if d %}<p><b>{{ t.drawing }}</b></p>
{% if d.left_out %}<p class="muted drawn-left">{{ d.left_out }}</p>{% endif %}
<svg class="group" xmlns="http://www.w3.org/2000/svg" width="{{ d.width }}" \
height="{{ d.height }}" viewBox="0 0 {{ d.width }} {{ d.height }}" role="img" \
aria-label="{{ t.drawing }}" font-size="10">
{% for e in d.edges %}<line class="link" x1="{{ e.x1 }}" y1="{{ e.y1 }}" x2="{{ e.x2 }}" \
y2="{{ e.y2 }}" stroke="#7f9cc4" stroke-opacity="0.75" stroke-width="{{ e.width }}">\
<title>{{ e.title }}</title></line>
{% endfor %}{% for p in d.providers %}<rect class="provider" x="{{ p.rx }}" \
y="{{ p.ry }}" width="16" height="16" fill="#e67e22" stroke="#7a3e06">\
<title>{{ p.title }}</title></rect>
<text x="{{ p.x }}" y="{{ p.ly }}" text-anchor="middle">{{ p.label }}</text>
{% endfor %}{% for p in d.patients %}<circle class="patient" cx="{{ p.x }}" cy="{{ p.y }}" \
r="6" fill="{{ p.fill }}" stroke="#fff"><title>{{ p.title }}</title></circle>
<text x="{{ p.lx }}" y="{{ p.ly }}" text-anchor="{{ p.anchor }}" dominant-baseline="middle" \
transform="rotate({{ p.rotate }} {{ p.lx }} {{ p.ly }})">{{ p.label }}</text>
{% endfor %}{% set y = d.legend_y %}<g class="legend">
<circle cx="16" cy="{{ y }}" r="6" fill="#c0392b"></circle>
<text x="28" y="{{ y + 4 }}">{{ t.legend_high }}</text>
<circle cx="196" cy="{{ y }}" r="6" fill="#4f86c6"></circle>
<text x="208" y="{{ y + 4 }}">{{ t.legend_low }}</text>
<rect x="368" y="{{ y - 8 }}" width="16" height="16" fill="#e67e22"></rect>
<text x="390" y="{{ y + 4 }}">{{ t.legend_provider }}</text>
<line x1="10" y1="{{ y + 24 }}" x2="40" y2="{{ y + 24 }}" stroke="#7f9cc4" \
stroke-width="{{ d.thin }}"></line>
<line x1="50" y1="{{ y + 24 }}" x2="80" y2="{{ y + 24 }}" stroke="#7f9cc4" \
stroke-width="{{ d.thick }}"></line>
<text x="90" y="{{ y + 28 }}">{{ d.edge_legend }}</text></g></svg>
{% endif %}
{% if g.proof %}<p><b>{{ t.proof }}</b> ({{ g.proof_count }}):</p>
<table class="proof"><tr><th>{{ t.day }}</th><th>{{ t.provider }}</th><th>{{ t.patient_id }}</th>
<th>{{ t.claim }}</th><th>{{ t.admit }}</th></tr>
{% for e in g.proof %}<tr class="proof-row"><td>{{ e.day }}</td><td>{{ e.provider_id }}</td>\
<td>{{ e.patient_id }}</td><td>{{ e.claim_id }}</td><td>{{ e.admit_time }}</td></tr>
{% endfor %}</table>
{% if g.proof_left %}<p class="muted">{{ g.proof_left }}</p>{% endif %}{% endif %}
{% endif %}
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
    """Replace patient identifiers (patient leads, ``patient_id`` columns, patient
    members of groups) and group ids (a group's id is a hash of its members' ids, which
    anyone holding the id list could recompute)."""
    out = frame.copy()
    if "entity_type" in out and "entity_id" in out:
        mask = out.entity_type == "patient"
        out.loc[mask, "entity_id"] = [pseudonym(v, salt) for v in out.loc[mask, "entity_id"]]
        mask = out.entity_type == "group"
        out.loc[mask, "entity_id"] = [
            "G" + pseudonym(v, salt)[1:] for v in out.loc[mask, "entity_id"]
        ]
    if "member_type" in out and "member_id" in out:
        mask = out.member_type == "patient"
        out.loc[mask, "member_id"] = [pseudonym(v, salt) for v in out.loc[mask, "member_id"]]
    if "group_id" in out:
        out["group_id"] = [
            None if pd.isna(v) else "G" + pseudonym(v, salt)[1:] for v in out.group_id
        ]
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


def parse_links(links: object, providers: Collection[str] = ()) -> list[tuple[str, int]]:
    """A member's ``links`` (``provider:days`` pairs joined by ``;``) as pairs. Provider
    ids are untrusted and may hold ``;`` or ``:`` themselves: pieces are joined until
    they name one of the group's ``providers`` (when given)."""
    if not isinstance(links, str) or not links:
        return []
    out: list[tuple[str, int]] = []
    buf: list[str] = []
    for piece in links.split(";"):
        buf.append(piece)
        pid, sep, days = ";".join(buf).rpartition(":")
        if sep and days.isdigit() and (not providers or pid in providers):
            out.append((pid, int(days)))
            buf = []
    for piece in buf:  # a provider the group does not list: read the pieces as they are
        pid, sep, days = piece.rpartition(":")
        if sep and days.isdigit():
            out.append((pid, int(days)))
    return out


def _day_text(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if pd.isna(value):  # type: ignore[arg-type]
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")  # type: ignore[arg-type]


def _time_text(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if pd.isna(value):  # type: ignore[arg-type]
        return ""
    return str(pd.Timestamp(value))  # type: ignore[arg-type]


def _number(value: object, default: float = float("nan")) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def _label(text: str, size: int = 18) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _text_width(text: str) -> float:
    """Roughly how wide ``text`` is at font size 10 (CJK characters are square)."""
    return sum(10.0 if ord(c) >= 0x2E80 else 6.2 for c in text)


def _members(frame: pd.DataFrame | None) -> tuple[list[dict], list[dict]]:
    """A group's patients and providers, each sorted by days together (most first), then
    id; every patient with its links."""
    if frame is None or not len(frame):
        return [], []
    records = frame.to_dict("records")
    providers = [
        {"id": str(r.get("member_id")), "days": int(_number(r.get("days"), 0.0))}
        for r in records
        if r.get("member_type") == "provider"
    ]
    known = {q["id"] for q in providers}
    patients = [
        {
            "id": str(r.get("member_id")),
            "risk": _number(r.get("risk")),
            "days": int(_number(r.get("days"), 0.0)),
            "links": sorted(parse_links(r.get("links"), known), key=lambda x: (-x[1], x[0])),
        }
        for r in records
        if r.get("member_type") == "patient"
    ]
    patients.sort(key=lambda x: (-x["days"], x["id"]))
    providers.sort(key=lambda x: (-x["days"], x["id"]))
    return patients, providers


def _edge_width(days: int, most: int) -> float:
    """A link's stroke width: rising with its days together, 5 at the group's most."""
    return round(0.8 + 4.2 * days / max(most, 1), 2)


def group_drawing(
    patients: list[dict], providers: list[dict], t: dict[str, str], max_drawn: int = MAX_DRAWN
) -> dict | None:
    """The geometry of a group's picture: patients (the first ``max_drawn`` by days
    together) evenly on a circle, grouped by the provider they arrive at most; the
    providers they link to on an inner ring (or in the middle when there is one), each
    near its patients; a line per patient–provider link, as wide as its days together.
    Pure geometry, the same for the same members; labels are escaped by the template."""
    if not patients and not providers:
        return None
    shown = patients[:max_drawn]
    linked = {pid for p in shown for pid, _ in p["links"]}
    drawn = [q for q in providers if q["id"] in linked] if shown else list(providers)
    order = {q["id"]: k for k, q in enumerate(drawn)}

    def main(p: dict) -> int:
        here = [(-d, order[pid]) for pid, d in p["links"] if pid in order]
        return min(here)[1] if here else len(order)

    ring = sorted(shown, key=lambda p: (main(p), -p["days"], p["id"]))
    n, m = len(ring), len(drawn)
    radius = max(90.0, n * 22 / (2 * math.pi))
    longest = max([_text_width(_label(p["id"])) for p in ring], default=0.0)
    margin = 20 + longest
    width = round(max(520.0, 2 * (radius + margin)))
    cx, cy = width / 2, margin + radius + 10
    angles = [-math.pi / 2 + 2 * math.pi * i / n for i in range(n)]
    at_patient: dict[str, tuple[float, float]] = {}
    at_provider: dict[str, tuple[float, float]] = {}
    patients_out = []
    for p, a in zip(ring, angles, strict=True):
        x, y = cx + radius * math.cos(a), cy + radius * math.sin(a)
        at_patient[p["id"]] = (x, y)
        lx, ly = cx + (radius + 11) * math.cos(a), cy + (radius + 11) * math.sin(a)
        left = math.cos(a) < -1e-9
        risk = p["risk"]
        patients_out.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "lx": round(lx, 1),
                "ly": round(ly, 1),
                "rotate": round(math.degrees(a) + (180 if left else 0), 1),
                "anchor": "end" if left else "start",
                "label": _label(p["id"]),
                "fill": (
                    "#999999" if math.isnan(risk) else "#c0392b" if risk >= FLAGGED else "#4f86c6"
                ),
                "title": f"{p['id']} · {t['risk']} "
                + ("—" if math.isnan(risk) else f"{risk:.2f}")
                + f" · {t['together']} {p['days']}",
            }
        )
    # each provider near the patients linking to it (circular mean, weighted by days),
    # the providers then spread evenly on the inner ring in that order
    target = {}
    for k, q in enumerate(drawn):
        sx = sy = 0.0
        for p, a in zip(ring, angles, strict=True):
            for pid, d in p["links"]:
                if pid == q["id"]:
                    sx, sy = sx + d * math.cos(a), sy + d * math.sin(a)
        mean = math.atan2(sy, sx) if (sx or sy) else -math.pi / 2 + 2 * math.pi * k / max(m, 1)
        target[q["id"]] = (mean + math.pi / 2) % (2 * math.pi)
    placed = sorted(drawn, key=lambda q: (round(target[q["id"]], 9), order[q["id"]]))
    inner = 0.0 if m == 1 else radius * 0.42
    base = target[placed[0]["id"]] - math.pi / 2 if placed else 0.0
    providers_out = []
    for j, q in enumerate(placed):
        a = base + 2 * math.pi * j / max(m, 1)
        x, y = cx + inner * math.cos(a), cy + inner * math.sin(a)
        at_provider[q["id"]] = (x, y)
        providers_out.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "rx": round(x - 8, 1),
                "ry": round(y - 8, 1),
                "ly": round(y + 19, 1),
                "label": _label(q["id"]),
                "title": f"{q['id']} · {t['together']} {q['days']}",
            }
        )
    most = max([d for p in ring for pid, d in p["links"] if pid in order], default=1)
    edges = []
    for p in ring:
        x1, y1 = at_patient[p["id"]]
        for pid, d in p["links"]:
            if pid not in order:
                continue
            x2, y2 = at_provider[pid]
            edges.append(
                {
                    "x1": round(x1, 1),
                    "y1": round(y1, 1),
                    "x2": round(x2, 1),
                    "y2": round(y2, 1),
                    "width": _edge_width(d, most),
                    "days": d,
                    "title": f"{p['id']} — {pid}: {t['together']} {d}",
                }
            )
    legend_y = round(cy + radius + margin + 6)
    left_patients, left_providers = len(patients) - n, len(providers) - m
    return {
        "width": width,
        "height": legend_y + 40,
        "legend_y": legend_y,
        "patients": patients_out,
        "providers": providers_out,
        "edges": edges,
        "thin": _edge_width(1, most),
        "thick": _edge_width(most, most),
        "edge_legend": t["legend_edge"].format(low=1, high=most),
        "left_out": (
            t["drawn_left"].format(shown=n, patients=left_patients, providers=left_providers)
            if left_patients or left_providers
            else ""
        ),
    }


def group_view(
    members: pd.DataFrame | None,
    proof: pd.DataFrame | None,
    t: dict[str, str],
    max_drawn: int = MAX_DRAWN,
    max_members: int = MAX_MEMBER_ROWS,
    max_proof: int = MAX_PROOF_ROWS,
) -> dict | None:
    """What the report shows of one group lead: its members table (patients with risk,
    days together and links, then the providers they gather at), its drawing and the
    first ``max_proof`` rows of its proof."""
    patients, providers = _members(members)
    proof = proof if proof is not None else pd.DataFrame()
    if not patients and not providers and not len(proof):
        return None
    linked: dict[str, int] = {}
    for p in patients:
        for pid, _ in p["links"]:
            linked[pid] = linked.get(pid, 0) + 1
    rows = [
        {
            "type": t["patient"],
            "id": p["id"],
            "risk": "" if math.isnan(p["risk"]) else f"{p['risk']:.2f}",
            "days": p["days"],
            "links": ", ".join(f"{pid} ({d})" for pid, d in p["links"]),
        }
        for p in patients[:max_members]
    ] + [
        {
            "type": t["provider"],
            "id": q["id"],
            "risk": "",
            "days": q["days"],
            "links": t["linked"].format(n=linked.get(q["id"], 0)),
        }
        for q in providers
    ]
    left = max(0, len(patients) - max_members)
    shown = [
        {
            "day": _day_text(e.get("day")),
            "provider_id": "" if e.get("provider_id") is None else str(e.get("provider_id")),
            "patient_id": "" if e.get("patient_id") is None else str(e.get("patient_id")),
            "claim_id": "" if e.get("claim_id") is None else str(e.get("claim_id")),
            "admit_time": _time_text(e.get("admit_time")),
        }
        for e in proof.head(max_proof).to_dict("records")
    ]
    return {
        "count": t["members_count"].format(patients=len(patients), providers=len(providers)),
        "members": rows,
        "members_left": t["members_left"].format(n=left) if left else "",
        "drawing": group_drawing(patients, providers, t, max_drawn),
        "proof": shown,
        "proof_count": len(proof),
        "proof_left": (
            t["proof_left"].format(n=len(proof) - len(shown)) if len(proof) > len(shown) else ""
        ),
    }


def _by_group(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if frame is None or not len(frame) or "group_id" not in frame:
        return {}
    return {str(k): g for k, g in frame.groupby(frame.group_id.astype(str), sort=False)}


def _naive_times(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with time-zone-aware columns as local wall time (XLSX has no zones)."""
    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if not zoned:
        return frame
    return frame.assign(**{c: frame[c].dt.tz_localize(None) for c in zoned})


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
    groups: pd.DataFrame | None = None,
    group_evidence: pd.DataFrame | None = None,
) -> None:
    """The leads and evidence sheets, the deduction list (every definite violation, and
    its total per provider), and the group leads' members (``groups``) and the claims
    proving their co-visits (``group_evidence``) when given; text cells neutralised and
    control characters escaped."""
    sheets = [("leads", leads), ("evidence", evidence)]
    if violations is not None:
        sheets.append(("violations", violations))
    if deductions is not None:
        sheets.append(("deductions", deductions))
    if groups is not None:
        sheets.append(("groups", _naive_times(groups)))
    if group_evidence is not None:
        sheets.append(("group_evidence", _naive_times(group_evidence)))
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
    groups: pd.DataFrame | None = None,
    group_evidence: pd.DataFrame | None = None,
    max_drawn: int = MAX_DRAWN,
    max_proof: int = MAX_PROOF_ROWS,
) -> str:
    """The self-contained HTML report of ``leads`` (autoescaped; amounts labelled with
    the dataset's ``currency``), and the deduction list per provider (its first
    ``max_deductions`` providers) when given.

    A group lead shows its facts, its members from ``groups`` (as
    :func:`fraudml.scoring.groups.group_members` lists them), a drawing of them (the
    first ``max_drawn`` patients by days together) and the first ``max_proof`` claims of
    ``group_evidence`` that prove its co-visits; no contribution chart (its reasons are
    facts, not weighted contributions)."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    t = TEXT[lang]
    members_by, proof_by = _by_group(groups), _by_group(group_evidence)
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
                "is_group": r.entity_type == "group",
                "group": (
                    group_view(
                        members_by.get(str(r.entity_id)),
                        proof_by.get(str(r.entity_id)),
                        t,
                        max_drawn=max_drawn,
                        max_proof=max_proof,
                    )
                    if r.entity_type == "group"
                    else None
                ),
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
        t=dict(t, amount=amount),
        lang=lang,
        index=index,
        names=lead_type_names(lang),
        leads=rows,
        explained=explained,
        deductions=(
            [] if deductions is None else deductions.head(max_deductions).to_dict("records")
        ),
        money=money,
        window=window,
        generated=generated,
    )
