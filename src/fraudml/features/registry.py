"""The feature registry: every profile column's meaning, in Chinese and English.

Explanations and reports read feature text from here, never from hard-coded strings. A
test checks that every column the pipelines compute has an entry, and every entry a
column.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fraudml.entities import Entity

#: Bump when a feature's definition changes: models record it and refuse a mismatch.
#: 5: label-free signals for item substitution (near_cap_lines, near_cap_share), account
#: cashing (pharmacy_account_share, pharmacy_round_share), dialysis beyond its schedule
#: (sessions_beyond_schedule, sessions_beyond_schedule_share) and ghost admissions
#: (bed_nursing_share, bed_nursing_only, bed_nursing_only_share); the network's group
#: features (group_*, ring_*, far_regions); co-visits are arrivals within 30 minutes of
#: each other (covisit_partners, covisit_pairs), no longer within one fixed half hour.
#: 6: doctors' practice (执业违规), read against the doctors table: practice_breach_claims
#: for the forest, and its parts claims_while_suspended, unregistered_department_share and
#: other_provider_share for the supervised model; max_patients_day (the busiest day).
#: 7: the four practice features count the year up to the window's end
#: (window.claims.HISTORY_DAYS), not the window alone: a breach stays evidence after the
#: window it was billed in.
FEATURE_SET_VERSION = "7"


@dataclass(frozen=True)
class Feature:
    name: str
    entity: Entity
    family: str
    zh: str
    en: str
    unit: str
    #: "high": a high value is the suspicious direction; "low" the reverse; "both".
    direction: str = "high"
    #: optional tables the feature needs; without them it is dropped, and listed
    needs: tuple[str, ...] = ()
    #: also compared with peers (robust z-score and peer median columns)
    peer: bool = False
    #: read by the isolation forest. Context features (network position, case mix, size
    #: and spread of amounts) go to the supervised model only: labels can weigh them, but
    #: a forest cannot tell a relevant dimension from an irrelevant one, and every
    #: weakly relevant one dilutes its isolation of real outliers.
    anomaly: bool = True


_F = Feature
ITEMS = ("claim_items",)
#: fee lines read against the catalog's restrictions (price caps, limits, who may get it)
ITEMS_CATALOG = ("claim_items", "catalog")
#: claim times carry a time of day (some sources hold dates only)
TIMES = ("claim_times",)
#: every diagnosis and procedure of a claim (the optional ``claim_codes`` table)
CODES = ("claim_codes",)

#: the practitioners' table (employer, role); its optional columns as ``doctors.<column>``
#: when the dataset fills them (:data:`fraudml.window.claims.DOCTOR_PRACTICE_COLUMNS`)
DOCTORS = ("doctors",)
REGISTRATION = ("doctors", "doctors.registered_departments")
SUSPENSION = ("doctors", "doctors.suspended_from")
PRACTICE = ("doctors", "doctors.registered_departments", "doctors.suspended_from")

#: Why a feature is dropped when one of its needs is missing (for the run's output).
NEEDS_TEXT = {
    "doctors": "no doctors table (practitioners)",
    "doctors.registered_departments": "doctors.registered_departments is empty (no "
    "practice registration)",
    "doctors.suspended_from": "doctors.suspended_from is empty (no suspensions)",
    "claim_items": "no claim_items table (fee lines)",
    "catalog": "no catalog table (item restrictions and price caps)",
    "claim_codes": "no claim_codes table (diagnoses and procedures)",
    "claim_times": "claim times are dates only (no time of day)",
    "chronic_registrations": "no chronic_registrations table",
}

FEATURES: tuple[Feature, ...] = (
    # ---------------------------------------------------------------- patient: use
    _F("n_claims", "patient", "use", "结算次数", "settlements", "次", peer=True),
    _F("n_outpatient", "patient", "use", "普通门诊次数", "outpatient visits", "次", peer=True),
    _F("n_emergency", "patient", "use", "急诊次数", "emergency visits", "次"),
    _F(
        "n_outpatient_chronic",
        "patient",
        "use",
        "门诊慢特病结算次数",
        "chronic-disease outpatient settlements",
        "次",
    ),
    _F("n_pharmacy", "patient", "use", "定点药店购药次数", "pharmacy purchases", "次", peer=True),
    _F("n_inpatient", "patient", "inpatient", "住院次数", "admissions", "次", peer=True),
    _F("n_providers", "patient", "use", "就诊机构数", "distinct providers", "家", peer=True),
    _F("n_doctors", "patient", "use", "就诊医师数", "distinct doctors", "人"),
    _F("n_days", "patient", "use", "就诊天数", "days with claims", "天"),
    _F(
        "days_multi_provider",
        "patient",
        "use",
        "同日多机构就诊天数",
        "days with claims at two or more providers",
        "天",
        peer=True,
    ),
    _F("n_regions", "patient", "use", "就诊地区数", "distinct provider regions", "个"),
    _F(
        "region_switch_1h",
        "patient",
        "use",
        "1小时内异地就诊次数",
        "claims in another region within an hour of the previous one",
        "次",
        needs=TIMES,
    ),
    _F(
        "night_share",
        "patient",
        "use",
        "夜间就诊占比",
        "share of claims at night (21:00-07:00)",
        "比例",
        needs=TIMES,
    ),
    _F("weekend_share", "patient", "use", "周末就诊占比", "share of claims on weekends", "比例"),
    _F(
        "max_claims_7d",
        "patient",
        "use",
        "任意7天最多结算次数",
        "most claims in any 7 days",
        "次",
        peer=True,
    ),
    _F(
        "max_claims_30d",
        "patient",
        "use",
        "任意30天最多结算次数",
        "most claims in any 30 days",
        "次",
    ),
    _F("total_amount", "patient", "money", "医疗总费用", "total medical fees", "元", peer=True),
    _F("fund_paid", "patient", "money", "统筹基金支付", "paid by the pooled fund", "元", peer=True),
    _F(
        "account_paid",
        "patient",
        "money",
        "个人账户支付",
        "paid from the personal account",
        "元",
        peer=True,
    ),
    _F("cash_paid", "patient", "money", "个人现金支付", "paid in cash", "元", "low"),
    _F("fund_share", "patient", "money", "统筹支付占比", "pooled-fund share of fees", "比例"),
    _F(
        "account_share",
        "patient",
        "money",
        "个人账户支付占比",
        "personal-account share of fees",
        "比例",
    ),
    _F("drug_amount", "patient", "drugs", "药品费用", "drug fees", "元", needs=ITEMS, peer=True),
    _F(
        "expensive_drug_share",
        "patient",
        "drugs",
        "高值药品费用占比",
        "share of drug fees on packs of 500 yuan or more",
        "比例",
        needs=ITEMS,
    ),
    _F(
        "drug_packs_per_30d",
        "patient",
        "drugs",
        "每30天购药包数",
        "drug packs bought per 30 days of the window",
        "包",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "drug_providers",
        "patient",
        "drugs",
        "购药机构数",
        "providers selling drugs to the patient",
        "家",
        needs=ITEMS,
    ),
    _F(
        "repeated_trace_lines",
        "patient",
        "drugs",
        "追溯码重复结算行数",
        "fee lines whose trace code was settled before",
        "行",
        needs=ITEMS,
    ),
    _F(
        "restricted_item_hits",
        "patient",
        "catalog",
        "违反目录限定行数",
        "fee lines breaking a catalog restriction",
        "行",
        needs=ITEMS_CATALOG,
    ),
    # ---------------------------------------------------------------- patient: inpatient
    _F("mean_los", "patient", "inpatient", "平均住院天数", "mean length of stay", "天"),
    _F(
        "readmit_15d",
        "patient",
        "inpatient",
        "15天内同院再入院次数",
        "readmissions within 15 days at the same provider",
        "次",
    ),
    _F(
        "overlapping_stays",
        "patient",
        "inpatient",
        "住院时间重叠次数",
        "admissions overlapping another stay",
        "次",
    ),
    _F(
        "claims_during_stay",
        "patient",
        "inpatient",
        "住院期间门诊或购药次数",
        "outpatient or pharmacy claims during own stay",
        "次",
    ),
    # label-free signals (features/signals.py): gang swiping and card lending
    _F(
        "covisit_partners",
        "patient",
        "network",
        "多次结伴就诊的同伴人数",
        "other patients arriving with it (same provider, within 30 minutes) on two or more days",
        "人",
        needs=TIMES,
    ),
    _F(
        "far_first_visits",
        "patient",
        "use",
        "异地首次就诊机构次数",
        "claims at a provider outside its region it had not been to before",
        "次",
        peer=True,
    ),
    # label-free signals: account cashing (套刷个人账户) and dialysis beyond its schedule
    _F(
        "pharmacy_account_share",
        "patient",
        "money",
        "药店购药个人账户支付占比",
        "share of its pharmacy spending paid from the personal account",
        "比例",
        peer=True,
    ),
    _F(
        "pharmacy_round_share",
        "patient",
        "money",
        "药店整十金额结算占比",
        "share of its pharmacy purchases with a total that is a whole multiple of 10 yuan",
        "比例",
        peer=True,
    ),
    _F(
        "sessions_beyond_schedule",
        "patient",
        "use",
        "血液透析超每周3次的次数",
        "hemodialysis sessions (days) above three in an ISO week, summed over the weeks",
        "次",
    ),
    _F(
        "fees_outside_stay",
        "patient",
        "inpatient",
        "住院期外发生的费用行数",
        "inpatient fee lines dated outside the stay",
        "行",
        needs=ITEMS,
    ),
    _F(
        "bed_nursing_share",
        "patient",
        "inpatient",
        "住院床位护理费占比",
        "bed and nursing share of its stays' fees",
        "比例",
        needs=ITEMS,
    ),
    _F(
        "chronic_unregistered",
        "patient",
        "inpatient",
        "无认定的门特结算次数",
        "chronic-disease claims without a matching registration",
        "次",
        needs=("chronic_registrations",),
    ),
    # ---------------------------------------------------------------- provider
    _F("n_claims", "provider", "volume", "结算次数", "settlements", "次", peer=True),
    _F("n_patients", "provider", "volume", "就诊人数", "distinct patients", "人", peer=True),
    _F(
        "claims_per_patient",
        "provider",
        "volume",
        "人次人头比",
        "claims per patient",
        "次/人",
        peer=True,
    ),
    _F("total_amount", "provider", "volume", "医疗总费用", "total medical fees", "元", peer=True),
    _F("fund_paid", "provider", "volume", "统筹基金支付", "paid by the pooled fund", "元"),
    _F(
        "cost_per_outpatient",
        "provider",
        "cost",
        "次均门诊费用",
        "mean fees per outpatient visit",
        "元",
        peer=True,
    ),
    _F(
        "cost_per_admission",
        "provider",
        "cost",
        "次均住院费用",
        "mean fees per admission",
        "元",
        peer=True,
    ),
    _F(
        "drug_share",
        "provider",
        "ratio",
        "药占比",
        "drug share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "exam_lab_share",
        "provider",
        "ratio",
        "检查化验占比",
        "exam and lab share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "material_share",
        "provider",
        "ratio",
        "耗材占比",
        "material share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "treatment_share",
        "provider",
        "ratio",
        "治疗费占比",
        "treatment share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "admission_rate",
        "provider",
        "inpatient",
        "住院率",
        "admissions per settlement",
        "比例",
        peer=True,
    ),
    _F("mean_los", "provider", "inpatient", "平均住院天数", "mean length of stay", "天", peer=True),
    _F(
        "p90_los", "provider", "inpatient", "住院天数90分位", "90th percentile length of stay", "天"
    ),
    _F(
        "max_los",
        "provider",
        "inpatient",
        "最长住院天数",
        "longest stay",
        "天",
        peer=True,
        anomaly=False,
    ),
    _F(
        "inpatient_days",
        "provider",
        "inpatient",
        "住院总床日",
        "bed-days of all stays",
        "天",
        peer=True,
        anomaly=False,
    ),
    _F(
        "readmit_rate",
        "provider",
        "inpatient",
        "15天再入院率",
        "share of admissions readmitted within 15 days",
        "比例",
        peer=True,
    ),
    _F(
        "bed_nursing_share",
        "provider",
        "inpatient",
        "住院床位护理费占比",
        "bed and nursing share of its stays' fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "bed_nursing_only_share",
        "provider",
        "inpatient",
        "仅床位护理费住院占比",
        "share of its stays billing only bed, nursing and consultation (no care)",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "elderly_share",
        "provider",
        "patients",
        "老年患者占比",
        "share of patients aged 60+",
        "比例",
        peer=True,
    ),
    _F(
        "out_of_region_share",
        "provider",
        "patients",
        "异地患者占比",
        "share of claims by patients from another region",
        "比例",
        peer=True,
    ),
    _F(
        "round_amount_share",
        "provider",
        "billing",
        "整数金额占比",
        "share of settlements with a whole-ten amount",
        "比例",
        peer=True,
    ),
    _F(
        "night_share",
        "provider",
        "billing",
        "夜间结算占比",
        "share of claims at night",
        "比例",
        peer=True,
        needs=TIMES,
    ),
    _F(
        "max_claims_hour",
        "provider",
        "billing",
        "单小时最多结算数",
        "most claims in one hour",
        "次",
        needs=TIMES,
    ),
    _F(
        "sessions_beyond_schedule_share",
        "provider",
        "billing",
        "血液透析超每周3次占比",
        "share of its hemodialysis sessions above three a week for one patient",
        "比例",
    ),
    _F(
        "price_to_cap",
        "provider",
        "catalog",
        "单价与限价之比",
        "mean unit price over its cap",
        "比例",
        needs=ITEMS_CATALOG,
        peer=True,
    ),
    _F(
        "over_cap_lines",
        "provider",
        "catalog",
        "超限价行数",
        "fee lines priced above the cap",
        "行",
        needs=ITEMS_CATALOG,
    ),
    _F(
        "near_cap_share",
        "provider",
        "catalog",
        "贴近限价行占比",
        "share of capped fee lines priced at the cap or at most 5% below it",
        "比例",
        needs=ITEMS_CATALOG,
        peer=True,
    ),
    _F(
        "restricted_item_hits",
        "provider",
        "catalog",
        "违反目录限定行数",
        "fee lines breaking a catalog restriction",
        "行",
        needs=ITEMS_CATALOG,
        peer=True,
    ),
    _F(
        "repeated_trace_lines",
        "provider",
        "catalog",
        "追溯码重复结算行数",
        "fee lines whose trace code was settled before",
        "行",
        needs=ITEMS,
    ),
    _F(
        "shared_patient_providers",
        "provider",
        "network",
        "患者人均其他就诊机构数",
        "other providers per patient",
        "家",
        peer=True,
    ),
    _F(
        "covisit_pairs",
        "provider",
        "network",
        "结伴就诊患者对数",
        "patient pairs seen together (within 30 minutes) on two or more days",
        "对",
        peer=True,
        needs=TIMES,
    ),
    _F(
        "shared_patient_share",
        "provider",
        "network",
        "多机构就诊患者占比",
        "share of patients who also claimed at another provider",
        "比例",
        peer=True,
        anomaly=False,
    ),
    _F(
        "patient_linked_providers",
        "provider",
        "network",
        "共享患者的机构数",
        "other providers sharing a patient",
        "家",
        peer=True,
        anomaly=False,
    ),
    _F(
        "n_doctors",
        "provider",
        "network",
        "结算医师数",
        "distinct billing doctors",
        "人",
        anomaly=False,
    ),
    _F(
        "shared_doctor_share",
        "provider",
        "network",
        "多机构执业医师占比",
        "share of doctors who also bill at another provider",
        "比例",
        peer=True,
        anomaly=False,
    ),
    _F(
        "doctor_linked_providers",
        "provider",
        "network",
        "共享医师的机构数",
        "other providers sharing a doctor",
        "家",
        peer=True,
        anomaly=False,
    ),
    _F(
        "n_diagnoses",
        "provider",
        "case_mix",
        "主诊断种类数",
        "distinct main diagnoses",
        "种",
        anomaly=False,
    ),
    _F(
        "top_diagnosis_share",
        "provider",
        "case_mix",
        "最常见主诊断占比",
        "share of claims with the provider's most frequent main diagnosis",
        "比例",
        peer=True,
        anomaly=False,
    ),
    _F(
        "mean_patient_age",
        "provider",
        "patients",
        "患者平均年龄",
        "mean patient age at the claim",
        "岁",
        direction="both",
        anomaly=False,
    ),
    _F(
        "claim_amount_p90",
        "provider",
        "cost",
        "单次结算金额90分位",
        "90th percentile of the settlement amount",
        "元",
        peer=True,
        anomaly=False,
    ),
    _F(
        "claim_amount_max",
        "provider",
        "cost",
        "单次结算最高金额",
        "largest settlement",
        "元",
        anomaly=False,
    ),
    _F(
        "claim_amount_cv",
        "provider",
        "cost",
        "结算金额变异系数",
        "spread of settlement amounts (standard deviation over mean)",
        "比例",
        direction="both",
        anomaly=False,
    ),
    _F(
        "diagnoses_per_claim",
        "provider",
        "case_mix",
        "次均诊断数",
        "diagnoses per settlement",
        "个",
        needs=CODES,
        peer=True,
        anomaly=False,
    ),
    _F(
        "procedures_per_claim",
        "provider",
        "case_mix",
        "次均手术操作数",
        "procedures per settlement",
        "个",
        needs=CODES,
        peer=True,
        anomaly=False,
    ),
    _F(
        "procedure_claim_share",
        "provider",
        "case_mix",
        "有手术操作的结算占比",
        "share of settlements with a procedure",
        "比例",
        needs=CODES,
        peer=True,
        anomaly=False,
    ),
    _F(
        "codes_per_claim",
        "provider",
        "case_mix",
        "次均不同诊断与操作编码数",
        "distinct diagnosis and procedure codes per settlement",
        "个",
        needs=CODES,
        anomaly=False,
    ),
    # ---------------------------------------------------------------- doctor
    _F("n_claims", "doctor", "volume", "结算次数", "settlements billed", "次", peer=True),
    _F("n_patients", "doctor", "volume", "就诊人数", "distinct patients", "人"),
    _F("n_providers", "doctor", "network", "执业机构数", "providers billed at", "家"),
    _F(
        "patients_per_day",
        "doctor",
        "volume",
        "日均接诊人数",
        "patients per working day",
        "人",
        peer=True,
    ),
    _F(
        "max_patients_day",
        "doctor",
        "volume",
        "单日最多接诊人数",
        "patients seen on its busiest day",
        "人",
        peer=True,
    ),
    _F("cost_per_visit", "doctor", "cost", "次均费用", "mean fees per settlement", "元", peer=True),
    _F(
        "exam_lab_per_visit",
        "doctor",
        "ratio",
        "次均检查化验项数",
        "exam and lab lines per visit",
        "项",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "drug_share",
        "doctor",
        "ratio",
        "药占比",
        "drug share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "restricted_item_hits",
        "doctor",
        "catalog",
        "违反目录限定行数",
        "fee lines breaking a catalog restriction",
        "行",
        needs=ITEMS_CATALOG,
    ),
    _F(
        "near_cap_share",
        "doctor",
        "catalog",
        "贴近限价行占比",
        "share of capped fee lines priced at the cap or at most 5% below it",
        "比例",
        needs=ITEMS_CATALOG,
        peer=True,
    ),
    _F(
        "sessions_beyond_schedule_share",
        "doctor",
        "billing",
        "血液透析超每周3次占比",
        "share of its hemodialysis sessions above three a week for one patient",
        "比例",
    ),
    # 执业违规: the three breaches go to the supervised model one by one; the forest reads
    # their union (practice_breach_claims). Each breach is rare, and a tree splits on one
    # of its dimensions only by chance: three rare dimensions dilute one another and the
    # rest, where one holding them all isolates every breaching doctor when it is drawn.
    _F(
        "claims_while_suspended",
        "doctor",
        "practice",
        "近一年暂停医保支付资格期间结算次数",
        "settlements on days its fund-payment qualification was suspended (the year up to "
        "the window's end)",
        "次",
        needs=SUSPENSION,
        anomaly=False,
    ),
    _F(
        "unregistered_department_share",
        "doctor",
        "practice",
        "近一年非注册科室结算占比",
        "share of its settlements in a department it is not registered for (the year up to "
        "the window's end)",
        "比例",
        needs=REGISTRATION,
        anomaly=False,
    ),
    _F(
        "other_provider_share",
        "doctor",
        "practice",
        "近一年非注册机构结算占比",
        "share of its settlements at a provider other than its employer (the year up to "
        "the window's end)",
        "比例",
        needs=DOCTORS,
        anomaly=False,
    ),
    _F(
        "practice_breach_claims",
        "doctor",
        "practice",
        "近一年执业违规结算次数",
        "settlements while suspended, outside its registered departments or away from its "
        "employer (the year up to the window's end)",
        "次",
        needs=PRACTICE,
    ),
    # ---------------------------------------------------------------- stay (inpatient claim)
    _F("los_days", "stay", "inpatient", "住院天数", "length of stay", "天", peer=True),
    _F(
        "total_amount", "stay", "inpatient", "住院总费用", "total fees of the stay", "元", peer=True
    ),
    _F(
        "fund_paid", "stay", "inpatient", "统筹基金支付", "paid by the pooled fund", "元", peer=True
    ),
    _F("fees_per_day", "stay", "inpatient", "日均费用", "fees per day of stay", "元", peer=True),
    _F(
        "readmission_15d",
        "stay",
        "inpatient",
        "出院15天内同机构再入院",
        "readmitted within 15 days of a discharge at the same provider",
        "是/否",
    ),
    _F("age", "stay", "inpatient", "年龄", "age at admission", "岁", direction="both"),
    _F(
        "overlapping_stays",
        "stay",
        "inpatient",
        "与之重叠的住院数",
        "other stays overlapping it",
        "次",
    ),
    _F(
        "claims_during_stay",
        "stay",
        "inpatient",
        "住院期间门诊/购药次数",
        "outpatient or pharmacy claims during the stay",
        "次",
    ),
    _F(
        "same_day_admissions",
        "stay",
        "inpatient",
        "同院同日同类病种入院人数",
        "other stays admitted at the provider that day for the same diagnosis category",
        "人",
        peer=True,
    ),
    _F(
        "n_diagnosis_codes",
        "stay",
        "inpatient",
        "诊断数",
        "diagnoses on the claim",
        "个",
        needs=CODES,
        peer=True,
    ),
    _F(
        "n_procedure_codes",
        "stay",
        "inpatient",
        "手术操作数",
        "procedures on the claim",
        "个",
        needs=CODES,
        peer=True,
    ),
    _F("n_lines", "stay", "inpatient", "费用明细行数", "fee lines", "行", needs=ITEMS, peer=True),
    _F(
        "drug_share",
        "stay",
        "inpatient",
        "药占比",
        "drug share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "exam_lab_share",
        "stay",
        "inpatient",
        "检查检验占比",
        "exam and lab share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "material_share",
        "stay",
        "inpatient",
        "耗材占比",
        "material share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "restricted_item_hits",
        "stay",
        "inpatient",
        "违反目录限定行数",
        "fee lines breaking a catalog restriction",
        "行",
        needs=ITEMS_CATALOG,
    ),
    _F(
        "fees_outside_stay",
        "stay",
        "inpatient",
        "住院期外费用行数",
        "fee lines dated outside the stay",
        "行",
        needs=ITEMS,
    ),
    _F(
        "repeated_trace_lines",
        "stay",
        "inpatient",
        "重复追溯码行数",
        "fee lines with a trace code settled before",
        "行",
        needs=ITEMS,
    ),
    # label-free signals: item substitution (串换) and ghost admissions (挂床)
    _F(
        "near_cap_lines",
        "stay",
        "inpatient",
        "贴近限价行数",
        "fee lines priced at the cap or at most 5% below it",
        "行",
        needs=ITEMS_CATALOG,
        peer=True,
    ),
    _F(
        "bed_nursing_share",
        "stay",
        "inpatient",
        "床位护理费占比",
        "bed and nursing share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "bed_nursing_only",
        "stay",
        "inpatient",
        "仅有床位护理费",
        "only bed, nursing, consultation or registration lines: no treatment, drug, exam or lab",
        "是/否",
        needs=ITEMS,
    ),
    # ---------------------------------------------------------------- visit (other claims)
    _F("total_amount", "visit", "visit", "本次费用", "fees of the visit", "元", peer=True),
    _F("fund_paid", "visit", "visit", "统筹基金支付", "paid by the pooled fund", "元", peer=True),
    _F(
        "account_share",
        "visit",
        "visit",
        "个人账户支付占比",
        "share paid from the personal account",
        "比例",
    ),
    _F(
        "night",
        "visit",
        "visit",
        "夜间结算",
        "settled at night (21:00–07:00)",
        "是/否",
        needs=TIMES,
    ),
    _F("weekend", "visit", "visit", "周末结算", "settled on a weekend", "是/否"),
    _F("out_of_region", "visit", "visit", "异地就医", "outside the patient's region", "是/否"),
    _F("age", "visit", "visit", "年龄", "age at the visit", "岁", direction="both"),
    _F(
        "patient_claims_7d",
        "visit",
        "visit",
        "参保人7天内结算次数",
        "the patient's claims in the 7 days up to this one",
        "次",
    ),
    _F(
        "patient_providers_day",
        "visit",
        "visit",
        "参保人当日就诊机构数",
        "providers the patient visited that day",
        "家",
    ),
    _F(
        "far_first_visit",
        "visit",
        "visit",
        "异地首次就诊",
        "first claim of the patient at this provider, outside the patient's region",
        "是/否",
    ),
    _F("n_lines", "visit", "visit", "费用明细行数", "fee lines", "行", needs=ITEMS, peer=True),
    _F(
        "drug_share",
        "visit",
        "visit",
        "药占比",
        "drug share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "expensive_drug_share",
        "visit",
        "visit",
        "高价药占比",
        "share of drug fees on packs of 500 yuan or more",
        "比例",
        needs=ITEMS,
    ),
    _F(
        "exam_lab_lines",
        "visit",
        "visit",
        "检查检验项目数",
        "exam and lab lines",
        "行",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "exam_lab_share",
        "visit",
        "visit",
        "检查检验占比",
        "exam and lab share of fees",
        "比例",
        needs=ITEMS,
        peer=True,
    ),
    _F(
        "material_share",
        "visit",
        "visit",
        "耗材占比",
        "material share of fees",
        "比例",
        needs=ITEMS,
    ),
    _F(
        "price_to_cap",
        "visit",
        "visit",
        "单价与限价之比(均值)",
        "mean unit price over its cap",
        "比例",
        needs=ITEMS_CATALOG,
    ),
    _F(
        "restricted_item_hits",
        "visit",
        "visit",
        "违反目录限定行数",
        "fee lines breaking a catalog restriction",
        "行",
        needs=ITEMS_CATALOG,
    ),
    _F(
        "repeated_trace_lines",
        "visit",
        "visit",
        "重复追溯码行数",
        "fee lines with a trace code settled before",
        "行",
        needs=ITEMS,
    ),
    _F(
        "near_cap_lines",
        "visit",
        "visit",
        "贴近限价行数",
        "fee lines priced at the cap or at most 5% below it",
        "行",
        needs=ITEMS_CATALOG,
        peer=True,
    ),
    # ---------------------------------------------------------------- network: groups
    # the window's co-visit groups (团伙, fraudml.graph): Leiden on repeated arrivals together
    _F("group_size", "patient", "network", "所在团伙人数", "people in its co-visit group", "人"),
    _F(
        "group_density",
        "patient",
        "network",
        "团伙结伴密度",
        "share of its group's member pairs who arrived together on two or more days",
        "比例",
    ),
    _F(
        "group_days",
        "patient",
        "network",
        "团伙结伴就诊天数",
        "days on which members of its group arrived together",
        "天",
    ),
    _F(
        "group_together_share",
        "patient",
        "network",
        "团伙结伴就诊占比",
        "share of its group's outpatient and pharmacy claims made together with a member",
        "比例",
    ),
    _F(
        "group_regions",
        "patient",
        "network",
        "团伙成员参保地数",
        "home regions of its group's members",
        "个",
        anomaly=False,
    ),
    _F(
        "ring_patients",
        "provider",
        "network",
        "结伴就诊团伙成员数",
        "group members who arrived here together with fellow members",
        "人",
        peer=True,
    ),
    _F(
        "ring_days",
        "provider",
        "network",
        "团伙结伴就诊天数",
        "days on which group members arrived here together",
        "天",
        peer=True,
    ),
    _F(
        "ring_patient_share",
        "provider",
        "network",
        "团伙成员患者占比",
        "share of its patients who arrived here together with fellow group members",
        "比例",
        peer=True,
    ),
    _F(
        "far_regions",
        "provider",
        "network",
        "异地患者参保地数",
        "home regions of the patients it treated outside their region (card collection)",
        "个",
        peer=True,
    ),
    _F(
        "ring_patient_share",
        "doctor",
        "network",
        "团伙成员患者占比",
        "share of its patients who belong to a co-visit group",
        "比例",
    ),
)


#: How each unit reads in English reports (the registry holds the Chinese one).
UNIT_EN = {
    "个": "",
    "人": "people",
    "元": "yuan",
    "包": "packs",
    "天": "days",
    "家": "providers",
    "对": "pairs",
    "岁": "years",
    "是/否": "",
    "次": "times",
    "次/人": "per patient",
    "比例": "",
    "种": "kinds",
    "行": "lines",
    "项": "items",
    "分": "points",
}


#: Money units by ISO 4217 code (Chinese, English); other codes are written as the code.
CURRENCY_UNITS = {
    "CNY": ("元", "yuan"),
    "USD": ("美元", "US dollars"),
    "EUR": ("欧元", "euros"),
    "HKD": ("港元", "Hong Kong dollars"),
}


def unit_text(unit: str, lang: str, currency: str = "CNY") -> str:
    """``unit`` as a report in ``lang`` writes it (English from :data:`UNIT_EN`); the
    registry's money unit 元 becomes the dataset's ``currency``."""
    if unit == "元":
        zh, en = CURRENCY_UNITS.get(currency, (currency, currency))
        return zh if lang == "zh" else en
    return unit if lang == "zh" else UNIT_EN.get(unit, unit)


def features(entity: Entity, tables: set[str] | None = None) -> list[Feature]:
    """Features of ``entity`` computable from ``tables`` (all when ``None``)."""
    return [
        f for f in FEATURES if f.entity == entity and (tables is None or set(f.needs) <= tables)
    ]


def lookup(entity: Entity, name: str) -> Feature:
    """The registry entry of a profile column (peer columns resolve to their feature)."""
    base = name.split("__", 1)[0]
    for f in FEATURES:
        if f.entity == entity and f.name == base:
            return f
    raise KeyError(f"no feature {name!r} for {entity}")


def as_frame() -> pd.DataFrame:
    return pd.DataFrame([f.__dict__ for f in FEATURES])
