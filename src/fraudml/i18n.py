"""The one translation table: every string a user reads in a report, in zh and en.

Reports, rule messages and spreadsheets render codes through :func:`code_label` (so that a
Chinese report never shows ``outpatient`` or ``F``), interface text through :func:`text` and
:func:`ui`, quantities through :func:`quantity` (percentages, yes/no, plurals) and
spreadsheet headers through :func:`header`. The tests check that every entry has a label
in both languages and that every key the report templates use is here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fraudml import contract
from fraudml.entities import ENTITIES

LANGS = ("zh", "en")

#: code list → code → (zh, en)
CODES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "gender": {"M": ("男", "male"), "F": ("女", "female")},
    "visit_type": {
        "outpatient": ("门诊", "outpatient"),
        "emergency": ("急诊", "emergency"),
        "outpatient_chronic": ("门诊慢特病", "chronic outpatient"),
        "inpatient": ("住院", "inpatient"),
        "pharmacy": ("药店购药", "pharmacy"),
        "other": ("其他", "other"),
    },
    "item_category": {
        "bed": ("床位费", "bed"),
        "consultation": ("诊察费", "consultation"),
        "exam": ("检查费", "examination"),
        "lab": ("化验费", "laboratory test"),
        "treatment": ("治疗费", "treatment"),
        "surgery": ("手术费", "surgery"),
        "nursing": ("护理费", "nursing"),
        "material": ("卫生材料费", "medical material"),
        "western_drug": ("西药费", "western drug"),
        "herbal": ("中草药费", "herbal medicine"),
        "patent_drug": ("中成药费", "Chinese patent drug"),
        "general_service": ("一般诊疗费", "general service"),
        "registration": ("挂号费", "registration"),
        "other": ("其他费", "other"),
    },
    "department": {
        "general": ("全科", "general practice"),
        "internal": ("内科", "internal medicine"),
        "cardiology": ("心内科", "cardiology"),
        "orthopedics": ("骨科", "orthopaedics"),
        "hemodialysis": ("血透室", "haemodialysis"),
        "rehabilitation": ("康复科", "rehabilitation"),
        "imaging": ("影像科", "imaging"),
        "laboratory": ("检验科", "laboratory"),
        "oncology": ("肿瘤科", "oncology"),
        "anesthesia": ("麻醉科", "anaesthesia"),
        "icu": ("重症医学科", "intensive care"),
        "surgery": ("外科", "surgery"),
        "pediatrics": ("儿科", "paediatrics"),
        "gynecology": ("妇科", "gynaecology"),
        "urology": ("泌尿外科", "urology"),
        "tcm": ("中医科", "traditional Chinese medicine"),
        "pharmacy": ("药房", "pharmacy"),
    },
    "insurance_type": {
        "employee": ("职工医保", "employee scheme"),
        "resident": ("城乡居民医保", "resident scheme"),
    },
    "provider_type": {
        "hospital": ("医院", "hospital"),
        "clinic": ("诊所/基层机构", "clinic"),
        "pharmacy": ("定点药店", "pharmacy"),
    },
    "role": {"doctor": ("医师", "doctor"), "pharmacist": ("药师", "pharmacist")},
    "level": {"1": ("一级", "grade 1"), "2": ("二级", "grade 2"), "3": ("三级", "grade 3")},
    "age_group": {"child": ("儿童", "children"), "adult": ("成人", "adults")},
    # the leads' types: the entity vocabulary's own names, and the two lead types that
    # are not profiled entities (a claim of either kind, a group)
    "lead_type": {
        **{name: (spec.zh, spec.en) for name, spec in ENTITIES.items()},
        "claim": ("结算", "claim"),
        "group": ("团伙", "group"),
    },
    "claim_kind": {"stay": ("住院", "stay"), "visit": ("门诊/购药", "visit")},
    "tier": {"A": ("A 级", "tier A"), "B": ("B 级", "tier B"), "C": ("C 级", "tier C")},
    "result": {"definite": ("明确违规", "definite"), "suspect": ("可疑", "suspect")},
    "severity": {"high": ("高", "high"), "medium": ("中", "medium"), "low": ("低", "low")},
    "verdict": {
        "confirmed": ("属实", "confirmed"),
        "cleared": ("不属实", "cleared"),
        "partial": ("部分属实", "partial"),
    },
    "member_type": {"patient": ("参保人", "patient"), "provider": ("定点机构", "provider")},
}

#: The contract's code lists, which :data:`CODES` must cover in full.
CONTRACT_CODES: Mapping[str, tuple[str, ...]] = {
    "visit_type": contract.VISIT_TYPES,
    "item_category": contract.ITEM_CATEGORIES,
    "department": contract.DEPARTMENTS,
    "gender": ("M", "F"),
    "insurance_type": ("employee", "resident"),
    "provider_type": ("hospital", "clinic", "pharmacy"),
    "role": ("doctor", "pharmacist"),
    "age_group": contract.AGE_GROUPS,
}

#: interface text of the report, the case pack and the spreadsheet: key → (zh, en).
#: ``{name}`` fields are filled by :func:`text`.
UI: Mapping[str, tuple[str, str]] = {
    "title": ("医保基金监管线索报告", "Medical-insurance fund supervision: leads"),
    "casepack_title": ("稽核线索包", "Case pack for on-site inspection"),
    "summary": ("概要", "Summary"),
    "period": ("评分期间", "period"),
    "data": ("数据", "data"),
    "generated": ("生成时间", "generated"),
    "money_unit": ("金额单位", "amounts in"),
    "leads_by_tier": ("各类线索数量（按等级）", "Leads by type and tier"),
    "lead_type": ("线索类型", "lead type"),
    "total": ("合计", "total"),
    "money_at_stake": ("涉及金额", "money at stake"),
    "rule_money": ("规则测算金额", "amount found by rules"),
    "model_money": ("模型预估金额", "amount estimated by the model"),
    "model_money_note": (
        "模型预估金额 = 风险分 × 期间医保基金支付（统筹基金与个人账户），"
        "是风险加权的估计，不是认定的违规金额。",
        "The model's estimate is risk × what the fund paid in the period (pooled fund and "
        "personal accounts): a risk-weighted estimate, not an amount found in violation.",
    ),
    "definite": ("明确违规", "Definite violations"),
    "definite_count": (
        "明确违规 {hits}，涉及 {providers}，扣款合计 {amount}",
        "{hits} at {providers}, {amount} to deduct",
    ),
    "top_providers": ("涉及金额最多的定点机构", "Providers with the most money at stake"),
    "tiers_title": ("等级说明", "How tiers are set"),
    "tier_A": (
        "A 级：校准风险 ≥ {high} 且涉及金额 ≥ {money}，优先稽核。",
        "Tier A: calibrated risk ≥ {high} and money at stake ≥ {money}; inspect first.",
    ),
    "tier_B": (
        "B 级：校准风险 ≥ {medium}，或规则测算金额 ≥ {money}。",
        "Tier B: calibrated risk ≥ {medium}, or an amount found by rules ≥ {money}.",
    ),
    "tier_C": ("C 级：其余线索，排队核查。", "Tier C: the other leads, to check in turn."),
    "tier_money_note": (
        "涉及金额 = 规则测算金额 + 模型预估金额。排名按风险分从高到低，"
        "同分按涉及金额、编号排列，名次不重复。",
        "Money at stake = the rules' amount + the model's estimate. Ranks follow the risk "
        "score, high to low; equal scores are ordered by money at stake, then id, so no two "
        "leads share a rank.",
    ),
    "score_note": (
        "风险分保留三位小数；高于 0.999 的写作“>0.999”，不写成 1。",
        "Risk scores are shown to three decimals; above 0.999 they read “>0.999”, never 1.",
    ),
    "pseudonymised": (
        "本报告中的参保人编号与团伙编号已做加盐哈希化处理（假名），与原始编号无法直接对应；对照表由数据管理方保管。",
        "Patient and group ids in this report are pseudonyms (salted hashes): they do not "
        "match the source ids; the key is kept by the data owner.",
    ),
    "contents": ("线索清单", "Leads"),
    "lead_order": (
        "按稽核工作顺序排列：定点机构与团伙，其次医师、参保人、结算。",
        "In the order an audit team works them: providers and groups, then doctors, "
        "patients, claims.",
    ),
    "rank": ("排名", "rank"),
    "id": ("编号", "id"),
    "name": ("名称", "name"),
    "score": ("风险分", "risk score"),
    "tier": ("等级", "tier"),
    "why": ("主要原因", "why"),
    "reasons": ("原因", "Reasons"),
    "no_reasons": ("无可列出的原因。", "No reason to list."),
    "explained": ("解释对象", "explained output"),
    "evidence": ("证据（按规则汇总）", "Evidence, by rule"),
    "no_evidence": ("规则未发现该线索的违规结算。", "The rules found no claim of this lead."),
    "rule": ("规则", "rule"),
    "rules_hit": ("{rules}命中 {hits}，涉及 {amount}", "{rules}: {hits}, {amount}"),
    "rule_name": ("规则名称", "rule name"),
    "hits": ("命中数", "hits"),
    "claims": ("结算数", "claims"),
    "amount": ("金额", "amount"),
    "example": ("示例", "example"),
    "claim_list": ("证据结算", "evidence claims"),
    "more_claims": ("另有 {n} 笔，见报表“证据”工作表。", "{n} more: see the evidence sheet."),
    "timeline": ("结算时间线", "Timeline of claims"),
    "timeline_note": (
        "每根竖条为一天的结算，高度为当天基金支付；红色为当天有规则命中的结算。",
        "One bar per day, as tall as what the fund paid that day; red where a rule hit a "
        "claim of that day.",
    ),
    "peer_charts": ("与同类比较", "Against peers"),
    "peer_note": (
        "灰色横条为同类 10%–90% 区间，深色为 25%–75%，竖线为中位数，红点为本线索。",
        "Grey bar: the peers' 10–90% range, dark: 25–75%, tick: median, red dot: this lead.",
    ),
    "this_lead": ("本线索", "this lead"),
    "peer_median": ("同类中位数", "peer median"),
    "contrast": ("{x}× 同类中位数", "{x}× peer median"),
    "peer_zero": ("同类中位数为 0", "peer median 0"),
    "anomaly_reason": (
        "整体行为异常（孤立森林），最偏离同类的是：{what}",
        "unusual behaviour overall (isolation forest), furthest from peers in: {what}",
    ),
    "extremes_reason": (
        "探索名额依据（无标签证据）：远超训练期同类的是：{what}",
        "reserve place (label-free evidence): far beyond the training window in: {what}",
    ),
    "extremes_share": ("训练期仅 {share} 同样极端", "only {share} of the training window as far"),
    "anomaly_plain": (
        "整体行为异常（孤立森林），各项指标组合少见",
        "unusual behaviour overall (isolation forest): a rare combination of measures",
    ),
    "fee_lines": ("费用明细", "Fee lines"),
    "fee_lines_note": (
        "每笔结算先列规则命中的明细行（底色标出），其余行随后。",
        "Of each claim, the lines a rule hit come first (shaded), then the others.",
    ),
    "line_no": ("行号", "line"),
    "item_code": ("项目编码", "item code"),
    "item_category": ("费用类别", "category"),
    "quantity": ("数量", "quantity"),
    "unit_price": ("单价", "unit price"),
    "claim": ("结算编号", "claim"),
    "admit": ("就诊时间", "admit time"),
    "visit_type": ("就诊类型", "visit type"),
    "fund_paid": ("基金支付", "paid by the fund"),
    "message": ("说明", "message"),
    "lines_left": ("另有 {n} 行未列出。", "{n} more lines are not listed."),
    "deductions": (
        "明确违规扣款清单（按定点机构汇总）",
        "Deduction list of definite violations, per provider",
    ),
    "deduct_note": (
        "明确违规不进入线索清单，逐条明细见 violations.parquet 与报表“扣款清单”工作表。",
        "Definite violations are not leads; every line is in violations.parquet and the "
        "violations sheet.",
    ),
    "provider": ("定点机构", "provider"),
    "lines": ("明细行数", "fee lines"),
    "deduct": ("扣款金额", "amount to deduct"),
    "members": ("团伙成员", "Group members"),
    "member_type": ("类型", "type"),
    "patient": ("参保人", "patient"),
    "risk": ("风险", "risk"),
    "together": ("结伴天数", "days together"),
    "links": ("关联（结伴天数）", "links (days together)"),
    "linked": ("{n} 名参保人", "{n} patients"),
    "members_count": (
        "{patients} 名参保人，{providers} 家定点机构",
        "{patients} patients, {providers} providers",
    ),
    "members_left": (
        "另有 {n} 名成员未列出，见报表“团伙成员”工作表与 groups.parquet。",
        "{n} more members are not listed: see the groups sheet and groups.parquet.",
    ),
    "drawing": ("团伙关系图", "Drawing of the group"),
    "drawn_left": (
        "成员较多，只画出结伴天数最多的 {shown} 名参保人；"
        "另有 {patients} 名参保人、{providers} 家定点机构未画出。",
        "A large group: only the {shown} patients with the most days together are drawn; "
        "{patients} patients and {providers} providers are left out.",
    ),
    "legend_high": ("参保人（风险 ≥ 0.5）", "patient (risk ≥ 0.5)"),
    "legend_low": ("参保人（风险 < 0.5）", "patient (risk < 0.5)"),
    "legend_provider": ("定点机构", "provider"),
    "legend_edge": (
        "连线粗细 = 结伴天数：{low} 天 / {high} 天",
        "line width = days together: {low} / {high} days",
    ),
    "proof": ("结伴就诊的证据（日期与结算）", "Proof of the co-visits (dates and claims)"),
    "day": ("日期", "day"),
    "patient_id": ("参保人", "patient"),
    "proof_left": (
        "另有 {n} 条证据，见报表“团伙证据”工作表与 group_evidence.parquet。",
        "{n} more rows: see the group_evidence sheet and group_evidence.parquet.",
    ),
    "none": ("无", "none"),
    "repeat": ("重复线索：首次于 {first} 提出", "repeat lead: first raised {first}"),
    "reserve": (
        "探索名额：风险排序之外，因行为异常或规则证据入选，尚无同类已核实案例",
        "exploration place: chosen beyond the risk order for unusual behaviour or rule "
        "evidence that no confirmed case resembles yet",
    ),
    "colon": ("：", ": "),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "page_of": ("第 {page} 页", "page {page}"),
    "verdict_help": (
        "稽核结论请填写“核查结论”列（属实 / 不属实 / 部分属实），make feedback 会读回。",
        "Record the audit's outcome in the verdict column (confirmed / cleared / partial); "
        "make feedback reads it back.",
    ),
}

#: what a lead type's explanation explains (the detectors' own words) → (zh, en)
EXPLAINED: Mapping[str, tuple[str, str]] = {
    "mean isolation depth of the isolation forest (lower = more abnormal)": (
        "孤立森林的平均隔离深度（越低越异常）",
        "mean isolation depth of the isolation forest (lower = more abnormal)",
    ),
    "log-odds of the supervised model (LightGBM, before calibration)": (
        "监督模型的对数几率（LightGBM，校准前）",
        "log-odds of the supervised model (LightGBM, before calibration)",
    ),
}

#: spreadsheet and CSV headers: column → (zh, en). The columns ``make feedback`` reads
#: back (entity_type … note) keep their names in :func:`verdict_header_aliases`.
HEADERS: Mapping[str, tuple[str, str]] = {
    "entity_type": ("线索类型", "entity type"),
    "entity_id": ("线索编号", "entity id"),
    "entity_type_name": ("线索类型名称", "lead type name"),
    "claim_kind": ("结算类型", "claim kind"),
    "score": ("风险分", "risk score"),
    "rank": ("排名", "rank"),
    "tier": ("等级", "tier"),
    "model": ("模型", "model"),
    "reasons": ("主要原因", "reasons"),
    "reasons_zh": ("主要原因", "reasons (Chinese)"),
    "reasons_en": ("主要原因（英文）", "reasons"),
    "rule_hits": ("规则命中数", "rule hits"),
    "rule_ids": ("命中规则", "rules hit"),
    "rule_amount": ("规则测算金额", "amount found by rules"),
    "model_amount": ("模型预估金额", "model's estimate"),
    "money_at_stake": ("涉及金额", "money at stake"),
    "fund_paid": ("基金支付（统筹与个人账户）", "paid by the fund (pooled and accounts)"),
    "evidence_claims": ("证据结算", "evidence claims"),
    "lead_type": ("线索类型", "lead type"),
    "lead_id": ("线索编号", "lead id"),
    "rule_id": ("规则编号", "rule id"),
    "rule_name": ("规则名称", "rule name"),
    "rule_zh": ("规则名称", "rule name (Chinese)"),
    "rule_en": ("规则名称（英文）", "rule name"),
    "result": ("判定", "result"),
    "severity": ("严重程度", "severity"),
    "patient_id": ("参保人编号", "patient id"),
    "provider_id": ("定点机构编号", "provider id"),
    "doctor_id": ("医师编号", "doctor id"),
    "claim_id": ("结算编号", "claim id"),
    "line_no": ("明细行号", "fee line"),
    "occurred": ("发生时间", "occurred"),
    "amount": ("金额", "amount"),
    "message": ("说明", "message"),
    "message_zh": ("说明", "message (Chinese)"),
    "message_en": ("说明（英文）", "message"),
    "claims": ("结算数", "claims"),
    "lines": ("明细行数", "fee lines"),
    "hits": ("命中数", "hits"),
    "group_id": ("团伙编号", "group id"),
    "member_type": ("成员类型", "member type"),
    "member_id": ("成员编号", "member id"),
    "risk": ("风险", "risk"),
    "days": ("结伴天数", "days together"),
    "links": ("关联（结伴天数）", "links (days together)"),
    "day": ("日期", "day"),
    "admit_time": ("就诊时间", "admit time"),
    "repeat": ("重复线索", "repeat"),
    "reserve": ("探索名额", "exploration place"),
    "first_raised": ("首次提出", "first raised"),
    "verdict": ("核查结论", "verdict"),
    "scheme": ("违规类型", "scheme"),
    "decided_at": ("结论日期", "decided at"),
    "amount_recovered": ("追回金额", "amount recovered"),
    # the providers' credit rating (make ledger's credit table)
    "grade": ("信用等级", "grade"),
    "credit_score": ("信用分", "credit score"),
    "verdicts": ("核查结论数", "verdicts"),
    "recovered_percent": ("追回占基金支付 %", "recovered, % of fund paid"),
    "hits_per_100_claims": ("每百笔结算规则命中", "rule hits per 100 claims"),
    "suspended": ("暂停资格医师数", "practitioners suspended"),
    "terminated": ("终止资格医师数", "practitioners terminated"),
    "deduct_verdicts": ("扣分：核查结论", "deducted: verdicts"),
    "deduct_recovered": ("扣分：追回金额", "deducted: recoveries"),
    "deduct_hits": ("扣分：规则命中", "deducted: rule hits"),
    "deduct_practitioners": ("扣分：医师资格", "deducted: practitioners"),
    "as_of": ("评价截至", "as of"),
    "responsible": ("责任人", "responsible"),
    "points": ("记分", "points"),
    "source": ("线索来源", "source"),
    "note": ("备注", "note"),
}

#: sheet names of the spreadsheet: key → (zh, en)
SHEETS: Mapping[str, tuple[str, str]] = {
    "leads": ("线索", "leads"),
    "evidence": ("证据", "evidence"),
    "violations": ("扣款清单", "violations"),
    "deductions": ("扣款汇总", "deductions"),
    "groups": ("团伙成员", "groups"),
    "group_evidence": ("团伙证据", "group_evidence"),
    "guide": ("说明", "guide"),
    "credit": ("信用评价", "credit rating"),
}

#: units of the feature registry (its Chinese unit) → (zh singular/plural, en singular,
#: en plural); ``比例`` and ``是/否`` have their own forms (percent, yes/no)
UNITS: Mapping[str, tuple[str, str, str]] = {
    "个": ("个", "", ""),
    "人": ("人", "person", "people"),
    "包": ("包", "pack", "packs"),
    "天": ("天", "day", "days"),
    "家": ("家", "provider", "providers"),
    "对": ("对", "pair", "pairs"),
    "岁": ("岁", "year", "years"),
    "次": ("次", "time", "times"),
    "次/人": ("次/人", "per patient", "per patient"),
    "种": ("种", "kind", "kinds"),
    "行": ("行", "line", "lines"),
    "项": ("项", "item", "items"),
    "分": ("分", "point", "points"),
}
RATIO, YES_NO, MONEY = "比例", "是/否", "元"

#: things counted in report text: noun → (zh with its measure word, en one, en many)
NOUNS: Mapping[str, tuple[str, str, str]] = {
    "rule": ("条规则", "rule", "rules"),
    "hit": ("次", "hit", "hits"),
    "claim": ("笔结算", "claim", "claims"),
    "lead": ("条线索", "lead", "leads"),
    "provider": ("家定点机构", "provider", "providers"),
    "line": ("行", "fee line", "fee lines"),
    "violation": ("条", "definite violation", "definite violations"),
}

#: money units by ISO 4217 code: (zh, en); other codes are written as the code
CURRENCIES: Mapping[str, tuple[str, str]] = {
    "CNY": ("元", "yuan"),
    "USD": ("美元", "US dollars"),
    "EUR": ("欧元", "euros"),
    "HKD": ("港元", "Hong Kong dollars"),
}


def _pick(labels: tuple[str, ...], lang: str) -> str:
    return labels[LANGS.index(lang)] if lang in LANGS else labels[-1]


def code_label(kind: str, code: object, lang: str) -> str:
    """``code`` of the code list ``kind`` in ``lang``; an unknown code is shown as it is
    (never guessed), an empty one as an empty string.

    >>> code_label("visit_type", "outpatient", "zh")
    '门诊'
    >>> code_label("gender", "X", "zh")
    'X'
    """
    if code is None or (isinstance(code, float) and code != code):
        return ""
    text = str(code)
    if isinstance(code, float) and code.is_integer():
        text = str(int(code))
    labels = CODES.get(kind, {}).get(text)
    if labels is None:
        return text
    return labels[LANGS.index(lang)] if lang in LANGS else text


def text(key: str, lang: str, **fields: object) -> str:
    """The interface text ``key`` in ``lang``, its ``{fields}`` filled.

    >>> text("linked", "en", n=3)
    '3 patients'
    """
    out = _pick(UI[key], lang)
    return out.format(**fields) if fields else out


def ui(lang: str) -> dict[str, str]:
    """Every interface text in ``lang`` (unfilled), for templates."""
    return {k: _pick(v, lang) for k, v in UI.items()}


def explained_text(what: str, lang: str) -> str:
    """What an explanation explains, in ``lang``: the detectors' texts of
    :data:`EXPLAINED`, also as ``kind: text`` parts joined by ``; `` (claims of two
    kinds); an unknown text as it is."""
    if not what:
        return ""
    parts = []
    for part in str(what).split("; "):
        kind, sep, rest = part.partition(": ")
        if sep and rest in EXPLAINED and kind in CODES["lead_type"]:
            parts.append(
                f"{code_label('lead_type', kind, lang)}{'：' if lang == 'zh' else ': '}"
                f"{_pick(EXPLAINED[rest], lang)}"
            )
        else:
            parts.append(_pick(EXPLAINED[part], lang) if part in EXPLAINED else part)
    return ("；" if lang == "zh" else "; ").join(parts)


def header(column: str, lang: str) -> str:
    """A spreadsheet header: ``column`` in ``lang`` (an unknown column as it is)."""
    labels = HEADERS.get(column)
    return column if labels is None else _pick(labels, lang)


def sheet_name(key: str, lang: str) -> str:
    """The name of the spreadsheet's sheet ``key`` in ``lang``."""
    return _pick(SHEETS[key], lang)


def money_unit(lang: str, currency: str = "CNY") -> str:
    """The money unit of ``currency`` in ``lang`` (an unknown code as the code)."""
    zh, en = CURRENCIES.get(currency, (currency, currency))
    return zh if lang == "zh" else en


def number(x: float | None, digits: int | None = None) -> str:
    """A number for people: thousands separated, no digit cut; whole above 100, else two
    decimals (or ``digits``); a missing value as a dash."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if digits is not None:
        return f"{x:,.{digits}f}"
    if float(x).is_integer() or abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.2f}"


def money(x: float | None, lang: str, currency: str = "CNY") -> str:
    """An amount with two decimals and its unit: ``1,254.00 元`` / ``1,254.00 yuan``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{float(x):,.2f} {money_unit(lang, currency)}"


def quantity(x: float | None, unit: str, lang: str, currency: str = "CNY") -> str:
    """A value of the feature registry's ``unit`` as a report in ``lang`` writes it.

    Ratios read as percentages, yes/no values as 是/否 (yes/no), money in the dataset's
    ``currency``, counts with their unit in the right number (``1 time``, ``2 times``).

    >>> quantity(0.973, "比例", "zh"), quantity(1.0, "是/否", "zh"), quantity(1, "次", "en")
    ('97.3%', '是', '1 time')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if unit == RATIO:
        return f"{100 * x:,.1f}%".replace(".0%", "%")
    if unit == YES_NO:
        return text("yes" if x >= 0.5 else "no", lang)
    if unit == MONEY:
        return f"{number(x)} {money_unit(lang, currency)}"
    forms = UNITS.get(unit)
    if forms is None:
        return f"{number(x)} {unit}".rstrip() if lang == "zh" or not unit else number(x)
    zh, one, many = forms
    word = zh if lang == "zh" else (one if x == 1 else many)
    if lang == "zh":
        return f"{number(x)} {word}".rstrip()
    return f"{number(x)} {word}".rstrip()


def count(n: int, noun: str, lang: str) -> str:
    """``n`` things in ``lang``, in the right number: ``3 笔结算``, ``1 claim``, ``2 claims``."""
    zh, one, many = NOUNS[noun]
    if lang == "zh":
        return f"{n:,} {zh}"
    return f"{n:,} {one if n == 1 else many}"


def score_text(score: float | None) -> str:
    """A risk score to three decimals, honestly: never ``1.000`` or ``0.000`` for a
    score that is neither (``>0.999``, ``<0.001``)."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "–"
    s = float(score)
    if 0.999 < s < 1.0:
        return ">0.999"
    if 0.0 < s < 0.001:
        return "<0.001"
    return f"{s:.3f}"
