"""The report's HTML (Jinja2, autoescaped): one template for the report and the case pack,
whose card macro both use. Self-contained: inline CSS and SVG, no script, a Content
Security Policy that lets nothing load; readable on screen and printed on A4."""

from __future__ import annotations

from jinja2 import Environment, select_autoescape

STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","WenQuanYi Micro Hei","PingFang SC",
"Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;
font-size:13px;text-align:left;vertical-align:top}th{background:#f2f4f7}
td.num,th.num{text-align:right;white-space:nowrap}
.lead{border-top:2px solid #3b6ea5;margin-top:1.5em;padding-top:.5em}
.muted{color:#666;font-size:12px}.note{background:#fff8e1;border:1px solid #f0d78c;
padding:.4em .8em}.why{font-size:15px}.tier-A{color:#a61b1b;font-weight:bold}
.tier-B{color:#9a5b00}tr.hit td{background:#fdecea}
.scroll{max-height:26em;overflow:auto;display:inline-block}
figure.peer{display:inline-block;margin:.3em 1.2em .3em 0;vertical-align:top;width:320px}
figure.peer figcaption{font-size:12px;line-height:1.3}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none}.scroll{max-height:none;overflow:visible}
figure,svg,tr{break-inside:avoid}.lead{break-before:auto}}
"""

TEMPLATE = """{%- macro card(c, t) -%}
<article class="lead" id="{{ c.anchor }}">
<h3>{{ c.type_name }} {{ c.entity_id }}{% if c.name %} · {{ c.name }}{% endif %} —
{{ t.rank }} {{ c.rank }} · <span class="tier-{{ c.tier }}">{{ c.tier_text }}</span> ·
{{ t.score }} {{ c.score }}{% if c.claim_kind %} · {{ c.claim_kind }}{% endif %}</h3>
<p class="why"><b>{{ t.why }}{{ t.colon }}</b> {{ c.why }}</p>
{% if c.repeat %}<p class="note repeat">{{ c.repeat }}</p>{% endif %}
{% if c.reserve %}<p class="note reserve">{{ c.reserve }}</p>{% endif %}
{% if c.money %}<p class="muted">{{ t.money_at_stake }} {{ c.money }} · {{ t.rule_money }}
{{ c.rule_money }} · {{ t.model_money }} {{ c.model_money }}</p>{% endif %}
{% if c.reasons %}<p><b>{{ t.reasons }}{{ t.colon }}</b></p><ul class="reasons">
{% for x in c.reasons %}<li>{{ x }}</li>{% endfor %}</ul>{% endif %}
{% if c.charts %}<p><b>{{ t.peer_charts }}</b> <span class="muted">{{ t.peer_note }}</span></p>
{% for g in c.charts %}<figure class="peer"><figcaption>{{ g.name }}{{ t.colon }}{{ g.value }} ·
{{ t.peer_median }} {{ g.peer }}</figcaption>
<svg class="peer" xmlns="http://www.w3.org/2000/svg" width="{{ g.width }}" \
height="{{ g.height }}" viewBox="0 0 {{ g.width }} {{ g.height }}" role="img" font-size="10">
<line x1="10" y1="14" x2="{{ g.width - 10 }}" y2="14" stroke="#ddd"></line>
{% if g.has_dist %}<rect x="{{ g.range[0] }}" y="10" \
width="{{ [g.range[1] - g.range[0], 1]|max }}" height="8" fill="#d5dbe3"></rect>\
<rect x="{{ g.box[0] }}" y="8" \
width="{{ [g.box[1] - g.box[0], 1]|max }}" height="12" fill="#8fa6c2"></rect>{% endif %}
<line x1="{{ g.median }}" y1="5" x2="{{ g.median }}" y2="23" stroke="#233" \
stroke-width="2"></line>
<circle class="lead-mark" cx="{{ g.lead }}" cy="14" r="5" fill="#c0392b" stroke="#fff">\
<title>{{ t.this_lead }} {{ g.value }}</title></circle>
<text x="10" y="38" text-anchor="start">{{ g.low }}</text>
<text x="{{ g.width - 10 }}" y="38" text-anchor="end">{{ g.high }}</text></svg></figure>
{% endfor %}{% endif %}
{% if not c.group %}<p><b>{{ t.evidence }}</b></p>
{% if c.rules %}<table class="rules"><tr><th>{{ t.rule }}</th><th>{{ t.rule_name }}</th>
<th class="num">{{ t.hits }}</th><th class="num">{{ t.claims }}</th>
<th class="num">{{ t.amount }}</th><th>{{ t.example }}</th></tr>
{% for r in c.rules %}<tr class="rule-row"><td>{{ r.rule_id }}</td><td>{{ r.name }}</td>\
<td class="num">{{ r.hits }}</td><td class="num">{{ r.claims }}</td>\
<td class="num">{{ r.amount_text }}</td><td>{{ r.example }}</td></tr>
{% endfor %}</table>
{% if c.claims %}<p><b>{{ t.claim_list }}</b></p><table class="claims"><tr>
<th>{{ t.claim }}</th><th>{{ t.admit }}</th><th>{{ t.visit_type }}</th>
<th class="num">{{ t.fund_paid }}</th><th>{{ t.rule }}</th><th class="num">{{ t.amount }}</th></tr>
{% for e in c.claims %}<tr class="claim-row"><td>{{ e.claim_id }}</td><td>{{ e.admit }}</td>\
<td>{{ e.visit_type }}</td><td class="num">{{ e.fund_paid }}</td><td>{{ e.rules }}</td>\
<td class="num">{{ e.amount_text }}</td></tr>
{% endfor %}</table>
{% if c.claims_left %}<p class="muted">{{ t.more_claims.format(n=c.claims_left) }}</p>{% endif %}
{% endif %}
{% else %}<p class="muted">{{ t.no_evidence }}</p>{% endif %}
{% if c.lines %}<p><b>{{ t.fee_lines }}</b> <span class="muted">{{ t.fee_lines_note }}</span></p>
<table class="lines"><tr><th>{{ t.claim }}</th>
<th>{{ t.line_no }}</th><th>{{ t.item_code }}</th><th>{{ t.item_category }}</th>
<th class="num">{{ t.quantity }}</th><th class="num">{{ t.unit_price }}</th>
<th class="num">{{ t.amount }}</th></tr>
{% for l in c.lines %}<tr class="line-row{% if l.hit %} hit{% endif %}">\
<td>{{ l.claim_id }}</td><td>{{ l.line_no }}</td>\
<td>{{ l.item_code }}</td><td>{{ l.category }}</td><td class="num">{{ l.quantity }}</td>\
<td class="num">{{ l.unit_price }}</td><td class="num">{{ l.amount }}</td></tr>
{% endfor %}</table>
{% if c.lines_left %}<p class="muted">{{ t.lines_left.format(n=c.lines_left) }}</p>{% endif %}\
{% endif %}
{% set tl = c.timeline %}{% if tl %}<p><b>{{ t.timeline }}</b>
<span class="muted">{{ t.timeline_note }}</span></p>
<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{{ tl.width }}" \
height="{{ tl.height }}" viewBox="0 0 {{ tl.width }} {{ tl.height }}" role="img" font-size="10">
<line x1="10" y1="{{ tl.axis_y }}" x2="{{ tl.width - 10 }}" y2="{{ tl.axis_y }}" \
stroke="#999"></line>
{% for b in tl.bars %}<rect x="{{ b.x }}" y="{{ b.y }}" width="{{ b.w }}" height="{{ b.h }}" \
fill="{{ b.fill }}"><title>{{ b.title }}</title></rect>{% endfor %}
<text x="10" y="{{ tl.axis_y + 14 }}" text-anchor="start">{{ tl.first }}</text>
<text x="{{ tl.width - 10 }}" y="{{ tl.axis_y + 14 }}" text-anchor="end">{{ tl.last }}</text>
<text x="{{ tl.width - 10 }}" y="8" text-anchor="end">{{ tl.top }}</text></svg>{% endif %}
{% endif %}
{% if c.group %}{% set g = c.group %}
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
</article>
{%- endmacro -%}
<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{{ title }}</title>
<style>{{ style|safe }}</style></head><body>
<h1>{{ title }}</h1>
<p class="muted">{{ t.period }}{{ t.colon }}{{ window }}{% if dataset %} · \
{{ t.data }}{{ t.colon }}{{ dataset }}{% endif %} · {{ t.money_unit }} {{ money }} · \
{{ t.generated }} {{ generated }}</p>
{% if pseudonymised %}<p class="note pseudonyms">{{ t.pseudonymised }}</p>{% endif %}
{% if s %}<section id="summary"><h2>{{ t.summary }}</h2>
<p><b>{{ t.leads_by_tier }}</b></p>
<table class="by-tier"><tr><th>{{ t.lead_type }}</th>{% for k in s.tiers %}\
<th class="num">{{ k }}</th>{% endfor %}<th class="num">{{ t.total }}</th>
<th class="num">{{ t.rule_money }}</th><th class="num">{{ t.model_money }}</th>
<th class="num">{{ t.money_at_stake }}</th></tr>
{% for r in s.rows %}<tr><td>{{ r.type }}</td>{% for n in r.tiers %}<td class="num">{{ n }}</td>\
{% endfor %}<td class="num">{{ r.total }}</td><td class="num">{{ r.rule_money }}</td>\
<td class="num">{{ r.model_money }}</td><td class="num">{{ r.money }}</td></tr>
{% endfor %}<tr><th>{{ t.total }}</th>{% for n in s.totals.tiers %}<th class="num">{{ n }}</th>\
{% endfor %}<th class="num">{{ s.totals.total }}</th><th class="num">{{ s.totals.rule_money }}</th>\
<th class="num">{{ s.totals.model_money }}</th><th class="num">{{ s.totals.money }}</th></tr>
</table>
<p class="muted">{{ t.model_money_note }}</p>
<p><b>{{ t.definite }}{{ t.colon }}</b> {{ s.definite }}{% if deductions %} — \
<a href="#deductions">{{ t.deductions }}</a>{% endif %}</p>
{% if s.top %}<p><b>{{ t.top_providers }}</b></p><table class="top"><tr><th>{{ t.id }}</th>
<th>{{ t.name }}</th><th>{{ t.tier }}</th><th class="num">{{ t.money_at_stake }}</th>
<th class="num">{{ t.rule_money }}</th></tr>
{% for p in s.top %}<tr><td><a href="#{{ p.anchor }}">{{ p.id }}</a></td><td>{{ p.name }}</td>\
<td>{{ p.tier }}</td><td class="num">{{ p.money }}</td><td class="num">{{ p.rule_money }}</td></tr>
{% endfor %}</table>{% endif %}
<p><b>{{ t.tiers_title }}</b></p><ul class="tier-rules">{% for x in s.tier_rules %}<li>{{ x }}</li>\
{% endfor %}</ul><p class="muted">{{ t.tier_money_note }} {{ t.score_note }}</p>
</section>{% endif %}
{% if index %}<h2>{{ t.contents }}</h2><p class="muted">{{ t.lead_order }}</p>{% endif %}
{% for name, rows, explained in index %}
<h3>{{ name }} ({{ rows|length }})</h3>
{% if explained %}<p class="muted">{{ t.explained }}{{ t.colon }}{{ explained }}</p>{% endif %}
<table class="index"><tr><th class="num">{{ t.rank }}</th><th>{{ t.id }}</th>\
<th>{{ t.tier }}</th><th class="num">{{ t.score }}</th><th class="num">{{ t.money_at_stake }}</th>\
<th>{{ t.why }}</th></tr>
{% for r in rows %}<tr><td class="num">{{ r.rank }}</td><td><a href="#{{ r.anchor }}">\
{{ r.entity_id }}</a></td><td class="tier-{{ r.tier }}">{{ r.tier_text }}</td>\
<td class="num">{{ r.score }}</td><td class="num">{{ r.money }}</td><td>{{ r.why }}</td></tr>
{% endfor %}</table>
{% endfor %}
{% for c in cards %}{{ card(c, t) }}
{% endfor %}
{% if deductions %}
<h2 id="deductions">{{ t.deductions }} ({{ deductions|length }})</h2>
<p class="muted">{{ t.deduct_note }}</p>
<table><tr><th>{{ t.provider }}</th><th class="num">{{ t.claims }}</th>
<th class="num">{{ t.lines }}</th><th class="num">{{ t.hits }}</th>
<th class="num">{{ t.deduct }}</th></tr>
{% for d in deductions %}<tr><td>{{ d.provider_id }}</td><td class="num">{{ d.claims }}</td>
<td class="num">{{ d.lines }}</td><td class="num">{{ d.hits }}</td>\
<td class="num">{{ d.amount }}</td></tr>
{% endfor %}</table>
{% endif %}
</body></html>
"""


def environment() -> Environment:
    """The autoescaping Jinja2 environment both the report and the case pack render in."""
    return Environment(autoescape=select_autoescape(default=True, default_for_string=True))
