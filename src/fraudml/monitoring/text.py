"""Every string the monitoring report shows, in zh and en (codes of the contract's lists
come from :func:`fraudml.i18n.code_label`; a test checks both tables are complete)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from fraudml.i18n import code_label, money_unit
from fraudml.monitoring.settings import LANGS

#: key → (zh, en); ``{name}`` fields are filled by :func:`text`.
UI: Mapping[str, tuple[str, str]] = {
    "title": ("医保基金动态监测专报", "Medical-insurance fund monitoring report"),
    "period": ("监测期间", "period"),
    "data": ("数据", "data"),
    "generated": ("生成时间", "generated"),
    "money_unit": ("金额单位", "amounts in"),
    "covered": ("数据覆盖月份", "months the data covers"),
    "definitions": ("口径说明", "Definitions"),
    "def_growth": (
        "同比 = 本月 ÷ 上年同月 − 1；环比 = 本月 ÷ 上月 − 1。"
        "基期月份数据未覆盖或基期为 0 时显示“—”，不以无数据的月份计算增长。",
        "Year on year = this month ÷ the same month a year earlier − 1; month on month = "
        "this month ÷ the month before − 1. Where the data does not cover the base month, "
        "or the base is 0, growth shows “—”: no growth is computed against missing data.",
    ),
    "def_period": (
        "期间增长：本期与上年同期（同比）、与紧邻的等长前期（环比）比较；基期须每月均有数据。",
        "Period growth compares the period with the same months a year earlier (year on "
        "year) and with the period of the same length just before it (period on period); "
        "every month of the base must be covered.",
    ),
    "def_fund": (
        "金额为统筹基金支付。费用明细的基金支付按其金额占该结算明细合计的比例分摊。",
        "Amounts are the pooled fund's payment (fund_paid). A fee line's fund payment is "
        "the claim's, shared by the line's part of the claim's line amounts.",
    ),
    "def_focus": (
        "重点领域：骨科、血透、心内、康复、肿瘤、麻醉、重症按结算科室计整笔结算；"
        "检查、检验按费用明细类别（目录中有该项目时取目录类别）计明细。各领域有重叠，不可相加。",
        "Focus fields: orthopaedics, haemodialysis, cardiology, rehabilitation, oncology, "
        "anaesthesia and intensive care hold whole claims by their department; examinations "
        "and laboratory tests hold fee lines by category (the catalog's when it lists the "
        "item). Fields overlap and are never added up.",
    ),
    "def_peers": (
        "同类机构：同机构类型、同等级（不足 {min_peers} 家时取同机构类型）。偏离度为稳健 z 值"
        "（与同类中位数之差 ÷ 1.4826×MAD），≥ {z} 视为偏离。",
        "Peers: providers of the same type and grade (the whole type when a grade has fewer "
        "than {min_peers}). Departure is a robust z-score (difference from the peers' median "
        "÷ 1.4826 × MAD); {z} or more departs.",
    ),
    "def_items": (
        "重点药品耗材：西药、中成药、中药饮片和卫生材料，按本期基金支付排名；同比或环比增长"
        " ≥ {alert} 为异常增长。",
        "Key drugs and consumables: western and patent drugs, herbal medicine and medical "
        "materials, ranked by fund paid in the period; growth of {alert} or more on either "
        "basis is abnormal.",
    ),
    "base_missing": (
        "上年同期（{lo} 至 {hi}）数据未覆盖，同比显示“—”。",
        "The data does not cover the year before ({lo} to {hi}): year-on-year growth shows “—”.",
    ),
    "prev_missing": (
        "前期（{lo} 至 {hi}）数据未覆盖，环比显示“—”。",
        "The data does not cover the period before ({lo} to {hi}): period-on-period growth "
        "shows “—”.",
    ),
    "partial_month": (
        "{month} 数据不完整（仅含 {days}），该月金额及其增长偏低，不宜直接比较。",
        "{month} is only partly in the data ({days}): its amounts and growth read low and "
        "are not comparable as they stand.",
    ),
    "s_spending": ("一、基金支出", "1. Fund spending"),
    "s_items": ("二、重点药品耗材", "2. Key drugs and consumables"),
    "s_focus": ("三、重点领域", "3. Focus fields"),
    "s_providers": ("四、偏离同类机构的定点机构", "4. Providers departing from their peers"),
    "by_total": ("按月基金支出", "Fund spending by month"),
    "by_insurance_type": ("按险种", "By scheme"),
    "by_visit_type": ("按就诊类型", "By visit type"),
    "by_provider_level": ("按机构等级", "By provider grade"),
    "by_focus_field": ("按重点领域", "By focus field"),
    "chart_monthly": (
        "月度基金支出（柱：本期；点：上年同月）",
        "Fund paid by month (bars: this period; dots: a year earlier)",
    ),
    "chart_fields": ("重点领域本期基金支出", "Fund paid in the focus fields, this period"),
    "chart_items": (
        "重点药品耗材本期基金支出（红色：异常增长）",
        "Key drugs and consumables by fund paid (red: abnormal growth)",
    ),
    "this_period": ("本期", "this period"),
    "a_year_earlier": ("上年同月", "a year earlier"),
    "no_data": ("本期无数据", "no data in the period"),
    "no_lines": (
        "数据集无费用明细（claim_items），本节从略。",
        "The dataset has no fee lines (claim_items): this section is left out.",
    ),
    "none_depart": (
        "本期没有偏离同类的机构。",
        "No provider departs from its peers in this period.",
    ),
    "field_outliers": ("偏离同类 {n} 家", "{n} depart from peers"),
    "shown_of": (
        "显示前 {shown} 家，共 {total} 家（全部见表格文件）",
        "top {shown} of {total} shown (all in the spreadsheet)",
    ),
    "abnormal_yes": ("异常增长", "abnormal growth"),
    "outlier_yes": ("偏离", "departs"),
    "not_compared": ("同类不足，未比较", "too few peers"),
    "segment_all": ("全部", "all"),
    "segment_ungraded": ("未定级", "ungraded"),
    "segment_unknown": ("未知", "unknown"),
    "mom_short": ("环比", "m/m"),
    "yoy_short": ("同比", "y/y"),
    "lang_other": ("English version", "中文版"),
}

#: column → (zh, en): the headers of the HTML tables and the spreadsheet.
HEADERS: Mapping[str, tuple[str, str]] = {
    "dimension": ("维度", "breakdown"),
    "segment": ("类别", "segment"),
    "month": ("月份", "month"),
    "claims": ("结算人次", "claims"),
    "fund_paid": ("基金支付", "fund paid"),
    "prev_fund_paid": ("上月基金支付", "fund paid, month before"),
    "mom": ("环比", "month on month"),
    "last_year_fund_paid": ("上年同期基金支付", "fund paid, a year earlier"),
    "yoy": ("同比", "year on year"),
    "prev_period_fund_paid": ("前期基金支付", "fund paid, period before"),
    "pop": ("环比（期）", "period on period"),
    "rank": ("排名", "rank"),
    "item_code": ("项目编码", "item code"),
    "name": ("名称", "name"),
    "category": ("费用类别", "fee category"),
    "lines": ("明细条数", "fee lines"),
    "quantity": ("数量", "quantity"),
    "providers": ("机构数", "providers"),
    "abnormal": ("异常增长", "abnormal growth"),
    "field": ("重点领域", "focus field"),
    "provider_id": ("机构编码", "provider id"),
    "provider_type": ("机构类型", "provider type"),
    "level_seg": ("机构等级", "grade"),
    "fund_per_claim": ("次均基金支付", "fund paid per claim"),
    "field_share": ("占本机构基金支付", "share of the provider's fund paid"),
    "peer_group": ("同类组", "peer group"),
    "peers": ("同类机构数", "peers"),
    "z_fund_per_claim": ("次均偏离度", "z: fund per claim"),
    "z_field_share": ("占比偏离度", "z: share"),
    "drug_share": ("药品占比", "drug share"),
    "material_share": ("耗材占比", "material share"),
    "exam_lab_share": ("检查检验占比", "exam and lab share"),
    "inpatient_share": ("住院基金占比", "inpatient share of fund"),
    "z_yoy": ("同比偏离度", "z: year on year"),
    "z_pop": ("环比偏离度", "z: period on period"),
    "z_drug_share": ("药品占比偏离度", "z: drug share"),
    "z_material_share": ("耗材占比偏离度", "z: material share"),
    "z_exam_lab_share": ("检查检验占比偏离度", "z: exam and lab share"),
    "z_inpatient_share": ("住院占比偏离度", "z: inpatient share"),
    "max_z": ("最大偏离度", "largest z"),
    "departures": ("偏离指标", "departs on"),
    "outlier": ("是否偏离", "departs"),
}

#: sheet key → (zh, en); Excel allows 31 characters and no ``[]:*?/\``.
SHEETS: Mapping[str, tuple[str, str]] = {
    "spending": ("基金支出", "spending"),
    "items": ("重点药品耗材", "key items"),
    "focus_providers": ("重点领域机构", "focus fields"),
    "providers": ("机构偏离", "providers"),
    "notes": ("口径说明", "definitions"),
}

#: focus field code → (zh, en), as the national lists name them.
FIELDS: Mapping[str, tuple[str, str]] = {
    "orthopedics": ("骨科", "orthopaedics"),
    "hemodialysis": ("血透", "haemodialysis"),
    "cardiology": ("心内", "cardiology"),
    "exam": ("检查", "examinations"),
    "lab": ("检验", "laboratory tests"),
    "rehabilitation": ("康复", "rehabilitation"),
    "oncology": ("肿瘤", "oncology"),
    "anesthesia": ("麻醉", "anaesthesia"),
    "icu": ("重症", "intensive care"),
}

#: The measures a provider departs on (``departures``), as people read them.
MEASURES: Mapping[str, tuple[str, str]] = {
    "yoy": ("同比增长", "year-on-year growth"),
    "pop": ("环比增长", "period-on-period growth"),
    "drug_share": ("药品占比", "drug share"),
    "material_share": ("耗材占比", "material share"),
    "exam_lab_share": ("检查检验占比", "exam and lab share"),
    "inpatient_share": ("住院基金占比", "inpatient share"),
    "fund_per_claim": ("次均基金支付", "fund per claim"),
    "field_share": ("领域占比", "field share"),
}


DASH = "—"


def _pick(labels: tuple[str, str], lang: str) -> str:
    return labels[LANGS.index(lang)]


def text(key: str, lang: str, **fields: object) -> str:
    """The interface text ``key`` in ``lang``, its ``{name}`` fields filled."""
    value = _pick(UI[key], lang)
    return value.format(**fields) if fields else value


def header(column: str, lang: str) -> str:
    labels = HEADERS.get(column)
    return column if labels is None else _pick(labels, lang)


def sheet(key: str, lang: str) -> str:
    return _pick(SHEETS[key], lang)


def field_label(code: str, lang: str) -> str:
    labels = FIELDS.get(code)
    return code if labels is None else _pick(labels, lang)


def measure_label(code: str, lang: str) -> str:
    labels = MEASURES.get(code)
    return code if labels is None else _pick(labels, lang)


def departures_text(codes: object, lang: str) -> str:
    """``yoy;drug_share`` as ``同比增长、药品占比`` (``year-on-year growth, drug share``)."""
    if not isinstance(codes, str) or not codes:
        return ""
    sep = "、" if lang == "zh" else ", "
    return sep.join(measure_label(c, lang) for c in codes.split(";") if c)


def segment_label(dimension: str, segment: object, lang: str) -> str:
    """A segment of the spending table in ``lang``."""
    seg = "" if segment is None else str(segment)
    if dimension == "total":
        return text("segment_all", lang)
    if dimension == "focus_field":
        return field_label(seg, lang)
    if seg == "ungraded":
        return text("segment_ungraded", lang)
    if seg == "unknown":
        return text("segment_unknown", lang)
    kind = "level" if dimension == "provider_level" else dimension
    return code_label(kind, seg, lang)


def level_label(code: object, lang: str) -> str:
    return segment_label("provider_level", code, lang)


def peer_group_label(group: object, lang: str) -> str:
    """``hospital:3`` as ``医院·三级``."""
    if not isinstance(group, str) or not group:
        return ""
    kind, _, level = group.partition(":")
    out = code_label("provider_type", kind, lang)
    return f"{out}·{level_label(level, lang)}" if level else out


def missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def growth(x: object) -> str:
    """A growth rate as ``+12.3%``; an empty one (no base) as a dash."""
    if missing(x):
        return DASH
    return f"{100 * float(x):+,.1f}%"  # type: ignore[arg-type]


def share(x: object) -> str:
    return DASH if missing(x) else f"{100 * float(x):.1f}%"  # type: ignore[arg-type]


def amount(x: object) -> str:
    return DASH if missing(x) else f"{float(x):,.2f}"  # type: ignore[arg-type]


def whole(x: object) -> str:
    return DASH if missing(x) else f"{float(x):,.0f}"  # type: ignore[arg-type]


def zscore(x: object) -> str:
    return DASH if missing(x) else f"{float(x):.1f}"  # type: ignore[arg-type]


def unit(lang: str, currency: str) -> str:
    return money_unit(lang, currency)
