"""The monitoring report as a self-contained HTML page and an XLSX workbook, in zh or en.

The page carries a strict Content-Security-Policy (nothing loads, no script runs: it needs
none), every value from the data is escaped by Jinja2's autoescape, and the charts are
matplotlib SVG with their text drawn as paths. In the workbook, text that a spreadsheet
would evaluate as a formula is neutralised (:func:`fraudml.report.render.neutralise`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, select_autoescape

from fraudml.i18n import code_label
from fraudml.monitoring import charts
from fraudml.monitoring import text as tx
from fraudml.monitoring.fields import FOCUS_FIELDS
from fraudml.monitoring.settings import MonitorSettings
from fraudml.monitoring.tables import DIMENSIONS, PEER_MEASURES, MonitorTables, month_label
from fraudml.report.render import neutralise

#: Characters an XLSX cell cannot hold, shown as ``\\xNN``.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class ReportInfo:
    """What the report says about its run: the data, when, and the money's currency."""

    dataset: str
    generated: str
    currency: str = "CNY"


def report_name(lang: str, ext: str) -> str:
    return f"monitor.{lang}.{ext}"


TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei","PingFang SC",
"Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;
font-size:13px;text-align:left;vertical-align:top}th{background:#f2f4f7}
td.n{text-align:right;white-space:nowrap}.muted{color:#666;font-size:12px}
.g{display:block;color:#666;font-size:11px}.flag{color:#b03a2e;font-weight:bold}
.chart svg{max-width:100%;height:auto}.wide{overflow-x:auto}
section{margin-top:1.5em;border-top:2px solid #3b6ea5}
@media print{.wide{overflow:visible}body{margin:1em}}
</style></head><body>
<h1>{{ t.title }}</h1>
<p class="muted">{{ t.period }}: {{ period }} · {{ t.data }}: {{ info.dataset }} ·
{{ t.money_unit }} {{ unit }} · {{ t.generated }}: {{ info.generated }} ·
<a href="{{ other_href }}">{{ t.lang_other }}</a></p>
<p class="muted">{{ t.covered }}: {{ covered }}</p>
<h2>{{ t.definitions }}</h2>
<ul class="muted">{% for d in definitions %}<li>{{ d }}</li>{% endfor %}</ul>
{% for n in notes %}<p class="flag">{{ n }}</p>{% endfor %}

<section id="spending"><h2>{{ t.s_spending }}</h2>
<h3>{{ t.by_total }}</h3>
<div class="chart" role="img" aria-label="{{ t.chart_monthly }}">
<p class="muted">{{ t.chart_monthly }}</p>
{{ monthly_chart|safe }}</div>
<table><tr>{% for h in total_headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in total_rows %}<tr><td>{{ r.month }}</td><td class="n">{{ r.claims }}</td>
<td class="n">{{ r.fund }}</td><td class="n">{{ r.prev }}</td><td class="n">{{ r.mom }}</td>
<td class="n">{{ r.last }}</td><td class="n">{{ r.yoy }}</td></tr>{% endfor %}</table>
{% for b in breakdowns %}<h3>{{ b.title }}</h3>
<div class="wide"><table><tr><th>{{ b.segment }}</th>
{% for m in b.months %}<th>{{ m }}</th>{% endfor %}</tr>
{% for r in b.rows %}<tr><td>{{ r.label }}</td>{% for c in r.cells %}<td class="n">{{ c.fund }}
<span class="g">{{ t.mom_short }} {{ c.mom }}</span>
<span class="g">{{ t.yoy_short }} {{ c.yoy }}</span></td>{% endfor %}</tr>
{% endfor %}</table></div>{% endfor %}
</section>

<section id="items"><h2>{{ t.s_items }}</h2>
{% if items is none %}<p class="muted">{{ t.no_lines }}</p>{% else %}
{% if items_chart %}<div class="chart" role="img" aria-label="{{ t.chart_items }}">
<p class="muted">{{ t.chart_items }}</p>
{{ items_chart|safe }}</div>{% endif %}
<table><tr>{% for h in item_headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in items %}<tr><td class="n">{{ r.rank }}</td><td>{{ r.code }}</td><td>{{ r.name }}</td>
<td>{{ r.category }}</td><td class="n">{{ r.fund }}</td><td class="n">{{ r.last }}</td>
<td class="n">{{ r.yoy }}</td><td class="n">{{ r.prev }}</td><td class="n">{{ r.growth_pop }}</td>
<td class="flag">{{ r.flag }}</td></tr>{% endfor %}</table>{% endif %}
</section>

<section id="focus"><h2>{{ t.s_focus }}</h2>
{% if fields_chart %}<div class="chart" role="img" aria-label="{{ t.chart_fields }}">
<p class="muted">{{ t.chart_fields }}</p>
{{ fields_chart|safe }}</div>{% endif %}
{% for f in fields %}<h3>{{ f.label }}
{% if f.outliers %} <span class="flag">· {{ f.outliers }}</span>{% endif %}</h3>
{% if not f.rows %}<p class="muted">{{ t.no_data }}</p>{% else %}
<table><tr>{% for h in focus_headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in f.rows %}<tr><td>{{ r.id }}</td><td>{{ r.name }}</td><td>{{ r.peer }}</td>
<td class="n">{{ r.claims }}</td><td class="n">{{ r.fund }}</td><td class="n">{{ r.per_claim }}</td>
<td class="n">{{ r.share }}</td><td class="n">{{ r.z1 }}</td><td class="n">{{ r.z2 }}</td>
<td class="flag">{{ r.flag }}</td></tr>{% endfor %}</table>
{% if f.left %}<p class="muted">{{ f.left }}</p>{% endif %}{% endif %}{% endfor %}
</section>

<section id="providers"><h2>{{ t.s_providers }}</h2>
{% if not departing %}<p class="muted">{{ t.none_depart }}</p>{% else %}
<div class="wide"><table><tr>{% for h in provider_headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for r in departing %}<tr><td>{{ r.id }}</td><td>{{ r.name }}</td><td>{{ r.peer }}</td>
<td class="n">{{ r.fund }}</td><td class="n">{{ r.yoy }}</td><td class="n">{{ r.growth_pop }}</td>
{% for s in r.shares %}<td class="n">{{ s }}</td>{% endfor %}
<td class="n">{{ r.max_z }}</td><td class="flag">{{ r.departures }}</td></tr>{% endfor %}
</table></div>
{% if departing_left %}<p class="muted">{{ departing_left }}</p>{% endif %}{% endif %}
</section>
</body></html>
"""


def _headers(columns: list[str], lang: str) -> list[str]:
    return [tx.header(c, lang) for c in columns]


def _breakdown(spending: pd.DataFrame, dimension: str, lang: str) -> dict[str, object]:
    part = spending[spending.dimension == dimension]
    months = sorted(part.ym.unique())
    rows = []
    for segment, seg in part.groupby("segment", sort=False):
        by_month = {int(r.ym): r for r in seg.itertuples()}
        cells = []
        for m in months:
            r = by_month.get(int(m))
            cells.append(
                {
                    "fund": tx.amount(None if r is None else r.fund_paid),
                    "mom": tx.growth(None if r is None else r.mom),
                    "yoy": tx.growth(None if r is None else r.yoy),
                }
            )
        rows.append({"label": tx.segment_label(dimension, segment, lang), "cells": cells})
    return {
        "title": tx.text(f"by_{dimension}", lang),
        "segment": tx.header("segment", lang),
        "months": [month_label(int(m)) for m in months],
        "rows": rows,
    }


def _none(x: object) -> float | None:
    return None if tx.missing(x) or x is pd.NA else float(x)  # type: ignore[arg-type]


def context(
    tables: MonitorTables, lang: str, settings: MonitorSettings, info: ReportInfo
) -> dict[str, object]:
    """Everything the template shows, formatted for ``lang`` (escaped by the template)."""
    t = dict(tx.UI)
    t = {k: tx.text(k, lang) if "{" not in tx.UI[k][0] else "" for k in t}
    unit = tx.unit(lang, info.currency)
    sp = tables.spending
    total = sp[sp.dimension == "total"].sort_values("ym")
    first, last = month_label(tables.months[0]), month_label(tables.months[-1])
    notes = []
    for basis, key in (("yoy", "base_missing"), ("pop", "prev_missing")):
        base = tables.bases.get(basis, {})
        if base and not base.get("held"):
            notes.append(tx.text(key, lang, lo=base["from"], hi=base["to"]))
    for month, days in tables.partial.items():
        notes.append(tx.text("partial_month", lang, month=month, days=days))
    definitions = [
        tx.text("def_growth", lang),
        tx.text("def_period", lang),
        tx.text("def_fund", lang),
        tx.text("def_focus", lang),
        tx.text("def_items", lang, alert=tx.share(settings.growth_alert)),
        tx.text("def_peers", lang, min_peers=settings.min_peers, z=settings.outlier_z),
    ]
    ctx: dict[str, object] = {
        "lang": lang,
        "t": t,
        "info": info,
        "unit": unit,
        "period": first if first == last else f"{first} – {last}",
        "covered": _spans(tables.covered),
        "other_href": report_name("en" if lang == "zh" else "zh", "html"),
        "definitions": definitions,
        "notes": notes,
        "monthly_chart": charts.monthly_chart(
            [month_label(int(m)) for m in total.ym],
            [_none(v) for v in total.fund_paid],
            [_none(v) for v in total.last_year_fund_paid],
            (tx.text("this_period", lang), tx.text("a_year_earlier", lang)),
            unit,
        )
        if len(total)
        else "",
        "total_headers": _headers(
            ["month", "claims", "fund_paid", "prev_fund_paid", "mom", "last_year_fund_paid", "yoy"],
            lang,
        ),
        "total_rows": [
            {
                "month": r.month,
                "claims": tx.whole(_none(r.claims)),
                "fund": tx.amount(r.fund_paid),
                "prev": tx.amount(r.prev_fund_paid),
                "mom": tx.growth(r.mom),
                "last": tx.amount(r.last_year_fund_paid),
                "yoy": tx.growth(r.yoy),
            }
            for r in total.itertuples()
        ],
        "breakdowns": [
            _breakdown(sp, d, lang) for d in DIMENSIONS[1:] if (sp.dimension == d).any()
        ],
    }
    ctx.update(_items_context(tables, lang, unit))
    ctx.update(_focus_context(tables, lang, settings, unit))
    ctx.update(_providers_context(tables, lang, settings))
    return ctx


def _spans(months: list[int]) -> str:
    """Covered months as runs: ``2023-01 – 2023-12, 2024-03``."""
    runs: list[list[int]] = []
    for m in months:
        if runs and m == runs[-1][-1] + 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    return ", ".join(
        month_label(r[0]) if len(r) == 1 else f"{month_label(r[0])} – {month_label(r[-1])}"
        for r in runs
    )


def _items_context(tables: MonitorTables, lang: str, unit: str) -> dict[str, object]:
    items = tables.items
    if not tables.has_lines:
        return {"items": None, "items_chart": "", "item_headers": []}
    labels = [
        (str(r.name) if isinstance(r.name, str) and r.name else str(r.item_code))
        for r in items.itertuples()
    ]
    rows = [
        {
            "rank": i + 1,
            "code": r.item_code,
            "name": r.name if isinstance(r.name, str) else "",
            "category": code_label("item_category", r.category, lang),
            "fund": tx.amount(r.fund_paid),
            "last": tx.amount(r.last_year_fund_paid),
            "yoy": tx.growth(r.yoy),
            "prev": tx.amount(r.prev_period_fund_paid),
            "growth_pop": tx.growth(r.pop),
            "flag": tx.text("abnormal_yes", lang) if bool(r.abnormal) else "",
        }
        for i, r in enumerate(items.itertuples())
    ]
    return {
        "items": rows,
        "items_chart": charts.bar_chart(
            labels, [float(v) for v in items.fund_paid], unit, [bool(v) for v in items.abnormal]
        )
        if len(items)
        else "",
        "item_headers": _headers(
            [
                "rank",
                "item_code",
                "name",
                "category",
                "fund_paid",
                "last_year_fund_paid",
                "yoy",
                "prev_period_fund_paid",
                "pop",
                "abnormal",
            ],
            lang,
        ),
    }


def _focus_context(
    tables: MonitorTables, lang: str, settings: MonitorSettings, unit: str
) -> dict[str, object]:
    fp = tables.focus_providers
    sp = tables.spending
    period = sp[sp.dimension == "focus_field"].groupby("segment").fund_paid.sum()
    codes = [f.code for f in FOCUS_FIELDS]
    values = [float(period.get(c, 0.0)) for c in codes]
    fields = []
    for code in codes:
        part = fp[fp.field == code] if len(fp) else fp
        # the largest providers, and every one that departs from its peers however small
        top = pd.Series(range(len(part)), index=part.index) < settings.top_providers
        shown = part[top | (part.departures != "")] if len(part) else part
        out_n = int((part.departures != "").sum()) if len(part) else 0
        rows = [
            {
                "id": r.provider_id,
                "name": r.name if isinstance(r.name, str) else "",
                "peer": tx.peer_group_label(r.peer_group, lang),
                "claims": tx.whole(r.claims),
                "fund": tx.amount(r.fund_paid),
                "per_claim": tx.amount(r.fund_per_claim),
                "share": tx.share(r.field_share),
                "z1": tx.zscore(r.z_fund_per_claim),
                "z2": tx.zscore(r.z_field_share),
                "flag": tx.departures_text(r.departures, lang)
                or ("" if not tx.missing(r.z_fund_per_claim) else tx.text("not_compared", lang)),
            }
            for r in shown.itertuples()
        ]
        left = (
            tx.text("shown_of", lang, shown=len(shown), total=len(part))
            if len(part) > len(shown)
            else ""
        )
        fields.append(
            {
                "label": tx.field_label(code, lang),
                "rows": rows,
                "left": left,
                "outliers": tx.text("field_outliers", lang, n=out_n) if out_n else "",
            }
        )
    return {
        "fields": fields,
        "fields_chart": charts.bar_chart([tx.field_label(c, lang) for c in codes], values, unit)
        if any(values)
        else "",
        "focus_headers": _headers(
            [
                "provider_id",
                "name",
                "peer_group",
                "claims",
                "fund_paid",
                "fund_per_claim",
                "field_share",
                "z_fund_per_claim",
                "z_field_share",
                "departures",
            ],
            lang,
        ),
    }


def _providers_context(
    tables: MonitorTables, lang: str, settings: MonitorSettings
) -> dict[str, object]:
    pv = tables.providers
    flagged = pv[pv.departures != ""].sort_values(["max_z", "provider_id"], ascending=[False, True])
    shown = flagged.head(settings.top_providers)
    shares = ["drug_share", "material_share", "exam_lab_share", "inpatient_share"]
    rows = [
        {
            "id": r["provider_id"],
            "name": r["name"] if isinstance(r["name"], str) else "",
            "peer": tx.peer_group_label(r["peer_group"], lang),
            "fund": tx.amount(r["fund_paid"]),
            "yoy": tx.growth(r["yoy"]),
            "growth_pop": tx.growth(r["pop"]),
            "shares": [tx.share(r[s]) for s in shares],
            "max_z": tx.zscore(r["max_z"]),
            "departures": tx.departures_text(r["departures"], lang),
        }
        for _, r in shown.iterrows()
    ]
    return {
        "departing": rows,
        "departing_left": tx.text("shown_of", lang, shown=len(shown), total=len(flagged))
        if len(flagged) > len(shown)
        else "",
        "provider_headers": _headers(
            [
                "provider_id",
                "name",
                "peer_group",
                "fund_paid",
                "yoy",
                "pop",
                *shares,
                "max_z",
                "departures",
            ],
            lang,
        ),
    }


def render_html(
    tables: MonitorTables, lang: str, settings: MonitorSettings, info: ReportInfo
) -> str:
    """The report page in ``lang``: self-contained, escaped, no script."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return env.from_string(TEMPLATE).render(**context(tables, lang, settings, info))


# ---- the workbook -------------------------------------------------------------------

MONEY_COLUMNS = {
    "fund_paid",
    "prev_fund_paid",
    "last_year_fund_paid",
    "prev_period_fund_paid",
    "fund_per_claim",
}
PERCENT_COLUMNS = {
    "mom",
    "yoy",
    "pop",
    "field_share",
    "drug_share",
    "material_share",
    "exam_lab_share",
    "inpatient_share",
}
Z_COLUMNS = {f"z_{m}" for m in (*PEER_MEASURES, "fund_per_claim", "field_share")} | {"max_z"}


def _safe(value: object) -> object:
    if isinstance(value, str):
        return neutralise(CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value))
    return value


def sheets(tables: MonitorTables, lang: str) -> dict[str, pd.DataFrame]:
    """The workbook's sheets in ``lang``: codes as labels, localised headers (text not yet
    neutralised)."""
    sp = tables.spending.drop(columns=["ym"]).copy()
    sp["segment"] = [
        tx.segment_label(d, s, lang) for d, s in zip(sp.dimension, sp.segment, strict=True)
    ]
    sp["dimension"] = [tx.text(f"by_{d}", lang) for d in sp.dimension]
    items = tables.items.copy()
    items.insert(0, "rank", range(1, len(items) + 1))
    items["category"] = [code_label("item_category", c, lang) for c in items.category]
    items["abnormal"] = [tx.text("abnormal_yes", lang) if bool(a) else "" for a in items.abnormal]
    fp = tables.focus_providers.copy()
    pv = tables.providers.copy()
    for frame in (fp, pv):
        if "field" in frame:
            frame["field"] = [tx.field_label(c, lang) for c in frame.field]
        frame["provider_type"] = [code_label("provider_type", c, lang) for c in frame.provider_type]
        frame["level_seg"] = [tx.level_label(c, lang) for c in frame.level_seg]
        frame["peer_group"] = [tx.peer_group_label(g, lang) for g in frame.peer_group]
        frame["departures"] = [tx.departures_text(d, lang) for d in frame.departures]
    notes = pd.DataFrame({tx.text("definitions", lang): []})
    return {"spending": sp, "items": items, "focus_providers": fp, "providers": pv, "notes": notes}


def write_xlsx(
    path: Path,
    tables: MonitorTables,
    lang: str,
    settings: MonitorSettings,
    info: ReportInfo,
) -> None:
    """The workbook in ``lang``: one sheet per table with localised headers, frozen header
    row, filters, widths, two-decimal money and percentages; formula text neutralised."""
    from openpyxl.utils import get_column_letter

    frames = sheets(tables, lang)
    ctx_notes = [
        tx.text("def_growth", lang),
        tx.text("def_period", lang),
        tx.text("def_fund", lang),
        tx.text("def_focus", lang),
        tx.text("def_items", lang, alert=tx.share(settings.growth_alert)),
        tx.text("def_peers", lang, min_peers=settings.min_peers, z=settings.outlier_z),
        f"{tx.text('data', lang)}: {info.dataset}",
        f"{tx.text('money_unit', lang)}: {tx.unit(lang, info.currency)}",
    ]
    frames["notes"] = pd.DataFrame({tx.text("definitions", lang): ctx_notes})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for key, frame in frames.items():
            columns = list(frame.columns)
            out = frame.copy()
            # stored as shown: cents, tenths of a percent, z to two places
            for col in columns:
                digits = (
                    2 if col in MONEY_COLUMNS | Z_COLUMNS else 4 if col in PERCENT_COLUMNS else None
                )
                if digits is not None:
                    out[col] = pd.to_numeric(out[col], errors="coerce").round(digits)
            for col in out.columns:
                if out[col].dtype == object or str(out[col].dtype).startswith("str"):
                    out[col] = out[col].map(_safe).astype(object)
            out.columns = [c if key == "notes" else tx.header(c, lang) for c in columns]
            name = tx.sheet(key, lang)
            out.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            ws.freeze_panes = "A2"
            if len(out.columns):
                ws.auto_filter.ref = ws.dimensions
            for i, col in enumerate(columns, start=1):
                letter = get_column_letter(i)
                fmt = (
                    "#,##0.00"
                    if col in MONEY_COLUMNS
                    else "0.0%"
                    if col in PERCENT_COLUMNS
                    else "0.00"
                    if col in Z_COLUMNS
                    else None
                )
                if fmt:
                    for cell in ws[letter][1:]:
                        cell.number_format = fmt
                head = len(str(out.columns[i - 1]))
                body = out.iloc[:, i - 1].astype(str).str.len().max() if len(out) else 0
                ws.column_dimensions[letter].width = min(
                    60, max(10, head * 2, int(body) + 2 if body == body else 0)
                )


def write_reports(
    folder: Path,
    tables: MonitorTables,
    settings: MonitorSettings,
    info: ReportInfo,
) -> dict[str, str]:
    """``monitor.<lang>.html`` and ``monitor.<lang>.xlsx`` for each language; their names."""
    written: dict[str, str] = {}
    for lang in settings.langs:
        page = folder / report_name(lang, "html")
        page.write_text(render_html(tables, lang, settings, info), encoding="utf-8")
        book = folder / report_name(lang, "xlsx")
        write_xlsx(book, tables, lang, settings, info)
        written[f"html_{lang}"], written[f"xlsx_{lang}"] = page.name, book.name
    return written
