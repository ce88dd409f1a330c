"""The catalog of the synthetic world (医保目录): items, prices, caps and restrictions.

It is also the toolkit's default catalog for datasets that ship none. Prices are typical
of a Chinese city in yuan; caps sit 20% above the reference price, as local price
regulation does.
"""

from __future__ import annotations

import pandas as pd

#: (code, name, category, reference price, restrictions)
#: restrictions: gender, min_age, max_age, max_daily_quantity, inpatient_only, min_level, tag
_ITEMS: list[tuple] = [
    # registration, consultation, general service
    ("RG001", "普通挂号", "registration", 1.0, {}),
    ("RG002", "专家挂号", "registration", 10.0, {"min_level": 2}),
    ("CN001", "普通门诊诊察费", "consultation", 10.0, {}),
    ("CN002", "主任医师诊察费", "consultation", 35.0, {"min_level": 2}),
    ("CN003", "急诊诊察费", "consultation", 15.0, {}),
    ("GS001", "一般诊疗费", "general_service", 10.0, {}),
    # beds and nursing (per day)
    ("BD001", "普通病房床位费", "bed", 50.0, {"inpatient_only": True, "max_daily": 1}),
    (
        "BD002",
        "重症监护病房床位费",
        "bed",
        300.0,
        {"inpatient_only": True, "max_daily": 1, "min_level": 2, "tag": "icu"},
    ),
    ("NS001", "一级护理", "nursing", 30.0, {"inpatient_only": True, "max_daily": 1}),
    ("NS002", "特级护理", "nursing", 120.0, {"inpatient_only": True, "max_daily": 1, "tag": "icu"}),
    # laboratory
    ("LB001", "血常规", "lab", 20.0, {"max_daily": 2}),
    ("LB002", "尿常规", "lab", 10.0, {"max_daily": 2}),
    ("LB003", "肝功能", "lab", 60.0, {"max_daily": 1}),
    ("LB004", "肾功能", "lab", 40.0, {"max_daily": 1}),
    ("LB005", "血糖", "lab", 8.0, {"max_daily": 4}),
    ("LB006", "血脂四项", "lab", 45.0, {"max_daily": 1}),
    ("LB007", "糖化血红蛋白", "lab", 70.0, {"max_daily": 1}),
    ("LB008", "C反应蛋白", "lab", 30.0, {"max_daily": 2}),
    ("LB009", "凝血功能", "lab", 55.0, {"max_daily": 2}),
    ("LB010", "肿瘤标志物全套", "lab", 380.0, {"max_daily": 1}),
    ("LB011", "前列腺特异性抗原", "lab", 90.0, {"gender": "M", "max_daily": 1}),
    ("LB012", "人乳头瘤病毒检测", "lab", 260.0, {"gender": "F", "max_daily": 1}),
    ("LB013", "心肌酶谱", "lab", 110.0, {"max_daily": 2}),
    # imaging and other exams
    ("EX001", "胸部X线摄影", "exam", 80.0, {"max_daily": 2}),
    ("EX002", "腹部彩色超声", "exam", 160.0, {"max_daily": 1}),
    ("EX003", "心电图", "exam", 25.0, {"max_daily": 3}),
    ("EX004", "头颅CT平扫", "exam", 300.0, {"max_daily": 1}),
    ("EX005", "腰椎磁共振", "exam", 650.0, {"max_daily": 1, "min_level": 2}),
    (
        "EX006",
        "冠状动脉造影",
        "exam",
        2600.0,
        {"max_daily": 1, "inpatient_only": True, "min_level": 3},
    ),
    ("EX007", "PET-CT", "exam", 7500.0, {"max_daily": 1, "min_level": 3}),
    ("EX008", "妇科彩超", "exam", 150.0, {"gender": "F", "max_daily": 1}),
    ("EX009", "骨密度测定", "exam", 120.0, {"max_daily": 1}),
    ("EX010", "心脏彩超", "exam", 280.0, {"max_daily": 1}),
    # treatment
    ("TR001", "静脉输液", "treatment", 12.0, {"max_daily": 4}),
    ("TR002", "肌肉注射", "treatment", 5.0, {"max_daily": 4}),
    ("TR003", "血液透析", "treatment", 420.0, {"max_daily": 1, "tag": "dialysis"}),
    ("TR004", "康复运动疗法", "treatment", 55.0, {"max_daily": 2, "tag": "rehab"}),
    ("TR005", "针灸", "treatment", 40.0, {"max_daily": 2}),
    ("TR006", "理疗(中频)", "treatment", 25.0, {"max_daily": 2, "tag": "rehab"}),
    ("TR007", "化学治疗(静脉)", "treatment", 150.0, {"max_daily": 1, "tag": "chemo"}),
    ("TR008", "雾化吸入", "treatment", 15.0, {"max_daily": 3}),
    (
        "TR009",
        "机械通气",
        "treatment",
        360.0,
        {"max_daily": 1, "inpatient_only": True, "tag": "icu"},
    ),
    (
        "TR010",
        "麻醉(全身)",
        "treatment",
        900.0,
        {"max_daily": 1, "inpatient_only": True, "tag": "anesthesia"},
    ),
    ("TR011", "小儿推拿", "treatment", 45.0, {"max_age": 14, "max_daily": 1}),
    ("TR012", "老年综合评估", "treatment", 80.0, {"min_age": 60, "max_daily": 1}),
    # surgery
    ("SG001", "阑尾切除术", "surgery", 2200.0, {"inpatient_only": True, "max_daily": 1}),
    (
        "SG002",
        "经皮冠状动脉支架植入术",
        "surgery",
        5200.0,
        {"inpatient_only": True, "min_level": 3, "max_daily": 1},
    ),
    (
        "SG003",
        "全膝关节置换术",
        "surgery",
        8500.0,
        {"inpatient_only": True, "min_level": 3, "max_daily": 1},
    ),
    (
        "SG004",
        "腰椎间盘切除术",
        "surgery",
        4800.0,
        {"inpatient_only": True, "min_level": 2, "max_daily": 1},
    ),
    ("SG005", "清创缝合术", "surgery", 180.0, {"max_daily": 2}),
    (
        "SG006",
        "剖宫产术",
        "surgery",
        2600.0,
        {"inpatient_only": True, "gender": "F", "max_daily": 1},
    ),
    # materials
    ("MT001", "一次性输液器", "material", 4.0, {"max_daily": 4}),
    (
        "MT002",
        "冠状动脉药物洗脱支架",
        "material",
        6800.0,
        {"inpatient_only": True, "min_level": 3, "max_daily": 3},
    ),
    (
        "MT003",
        "人工膝关节假体",
        "material",
        18000.0,
        {"inpatient_only": True, "min_level": 3, "max_daily": 1},
    ),
    ("MT004", "透析器", "material", 110.0, {"max_daily": 1, "tag": "dialysis"}),
    ("MT005", "医用敷料", "material", 8.0, {"max_daily": 6}),
    (
        "MT006",
        "骨科内固定钢板",
        "material",
        5500.0,
        {"inpatient_only": True, "min_level": 2, "max_daily": 2},
    ),
    # western drugs (per pack)
    ("XD001", "苯磺酸氨氯地平片", "western_drug", 28.0, {"max_daily": 2, "tag": "chronic:I10"}),
    ("XD002", "缬沙坦胶囊", "western_drug", 36.0, {"max_daily": 2, "tag": "chronic:I10"}),
    ("XD003", "二甲双胍缓释片", "western_drug", 22.0, {"max_daily": 2, "tag": "chronic:E11"}),
    ("XD004", "阿卡波糖片", "western_drug", 48.0, {"max_daily": 2, "tag": "chronic:E11"}),
    ("XD005", "门冬胰岛素注射液", "western_drug", 75.0, {"max_daily": 2, "tag": "chronic:E11"}),
    ("XD006", "阿托伐他汀钙片", "western_drug", 32.0, {"max_daily": 2, "tag": "chronic:I25"}),
    ("XD007", "氯吡格雷片", "western_drug", 95.0, {"max_daily": 2, "tag": "chronic:I25"}),
    ("XD008", "阿莫西林胶囊", "western_drug", 15.0, {"max_daily": 3}),
    ("XD009", "头孢呋辛酯片", "western_drug", 26.0, {"max_daily": 3}),
    ("XD010", "布洛芬缓释胶囊", "western_drug", 12.0, {"max_daily": 3}),
    ("XD011", "奥美拉唑肠溶胶囊", "western_drug", 18.0, {"max_daily": 2}),
    ("XD012", "对乙酰氨基酚片", "western_drug", 6.0, {"max_daily": 3}),
    ("XD013", "氯化钠注射液", "western_drug", 4.0, {"max_daily": 6}),
    ("XD014", "头孢曲松钠注射剂", "western_drug", 22.0, {"max_daily": 4}),
    ("XD015", "小儿氨酚黄那敏颗粒", "western_drug", 14.0, {"max_age": 14, "max_daily": 3}),
    (
        "XD016",
        "促红细胞生成素注射液",
        "western_drug",
        160.0,
        {"max_daily": 1, "tag": "chronic:N18"},
    ),
    ("XD017", "奥希替尼片", "western_drug", 5100.0, {"max_daily": 1, "tag": "oncology"}),
    ("XD018", "曲妥珠单抗注射液", "western_drug", 5500.0, {"max_daily": 1, "tag": "oncology"}),
    ("XD019", "来那度胺胶囊", "western_drug", 3800.0, {"max_daily": 1, "tag": "oncology"}),
    ("XD020", "低分子肝素钙注射液", "western_drug", 42.0, {"max_daily": 2}),
    ("XD021", "人血白蛋白", "western_drug", 380.0, {"max_daily": 2, "inpatient_only": True}),
    (
        "XD022",
        "丙泊酚注射液",
        "western_drug",
        60.0,
        {"max_daily": 4, "inpatient_only": True, "tag": "anesthesia"},
    ),
    ("XD023", "阿仑膦酸钠片", "western_drug", 65.0, {"max_daily": 1, "min_age": 50}),
    ("XD024", "非那雄胺片", "western_drug", 58.0, {"gender": "M", "max_daily": 1}),
    ("XD025", "黄体酮胶囊", "western_drug", 46.0, {"gender": "F", "max_daily": 2}),
    # patent (Chinese) medicines and herbal pieces
    ("ZC001", "复方丹参滴丸", "patent_drug", 30.0, {"max_daily": 2, "tag": "chronic:I25"}),
    ("ZC002", "连花清瘟胶囊", "patent_drug", 25.0, {"max_daily": 3}),
    ("ZC003", "六味地黄丸", "patent_drug", 20.0, {"max_daily": 2}),
    ("ZC004", "安宫牛黄丸", "patent_drug", 680.0, {"max_daily": 1}),
    ("ZC005", "血塞通软胶囊", "patent_drug", 38.0, {"max_daily": 2}),
    ("HB001", "中药饮片(黄芪)", "herbal", 3.5, {"max_daily": 30}),
    ("HB002", "中药饮片(当归)", "herbal", 4.2, {"max_daily": 30}),
    ("HB003", "中药饮片(人参)", "herbal", 28.0, {"max_daily": 15}),
    ("OT001", "救护车费", "other", 150.0, {"max_daily": 2}),
    # appended after the original list, so that every earlier item keeps its position (the
    # trace codes are numbered by it): the parts of the liver-function panel LB003, billed
    # apart by 分解收费, and calcium gluconate, not to be given with ceftriaxone (XD014)
    ("LB014", "谷丙转氨酶", "lab", 25.0, {"max_daily": 1}),
    ("LB015", "谷草转氨酶", "lab", 25.0, {"max_daily": 1}),
    ("LB016", "总胆红素", "lab", 20.0, {"max_daily": 1}),
    ("LB017", "血清白蛋白", "lab", 18.0, {"max_daily": 1}),
    ("XD026", "葡萄糖酸钙注射液", "western_drug", 5.0, {"max_daily": 4}),
    ("LB018", "血常规(五分类)", "lab", 35.0, {"max_daily": 2}),
]

#: The catalog facts of the national smart-monitoring rules (contract columns of
#: ``catalog``), item by item. Legitimate care (:mod:`fraudml.synth.care`) keeps to them;
#: the schemes and :mod:`fraudml.synth.national` break them.
NATIONAL_FACTS: dict[str, dict[str, object]] = {
    # 限适应症: ICD-10 prefixes
    "TR003": {"indications": "N18;N19"},
    "XD016": {"indications": "N18"},
    "XD017": {"indications": "C", "days_per_unit": 14.0},
    "XD018": {"indications": "C", "days_per_unit": 14.0},
    "XD019": {"indications": "C", "days_per_unit": 14.0},
    "XD021": {"indications": "C;K70;K74;R18;E88"},
    # children-only and adults-only items
    "XD015": {"age_group": "child"},
    "TR011": {"age_group": "child"},
    "XD023": {"age_group": "adult"},
    "TR012": {"age_group": "adult"},
    # days of supply of the drugs most resold (超量开药, 重复开药)
    "XD005": {"indications": "E10;E11;E13;E14;O24"},
    "XD007": {"days_per_unit": 7.0},
    "ZC004": {"days_per_unit": 3.0},
    # courses (超疗程)
    "TR004": {"max_course_days": 90},
    "TR006": {"max_course_days": 90},
    # sibling codes: the dearer one stands in for the cheaper (串换)
    "LB001": {"sibling_group": "血常规"},
    "LB018": {"sibling_group": "血常规"},
    # the liver-function panel and its parts (分解收费)
    "LB014": {"bundle_of": "LB003"},
    "LB015": {"bundle_of": "LB003"},
    "LB016": {"bundle_of": "LB003"},
    "LB017": {"bundle_of": "LB003"},
    # 配伍禁忌: ceftriaxone and calcium
    "XD014": {"incompatible_with": "XD026"},
    "XD026": {"incompatible_with": "XD014"},
}
_FACT_TYPES = {
    "indications": "string",
    "age_group": "string",
    "days_per_unit": "Float64",
    "max_course_days": "Int64",
    "sibling_group": "string",
    "bundle_of": "string",
    "incompatible_with": "string",
}

#: Categories of fee lines that are drug packs and can carry a trace code.
DRUG_CATEGORIES = ("western_drug", "patent_drug")


def synthetic_catalog(price_level: float = 1.0) -> pd.DataFrame:
    """The catalog as a contract ``catalog`` table plus ``ref_price`` and ``tag`` columns.

    Parameters
    ----------
    price_level : float
        Multiplier on every reference price, and so on every cap (20% above it) and on
        every fee billed from it: a city dearer or cheaper than the standard one
        (1.0, the prices listed here).
    """
    if not price_level > 0:
        raise ValueError(f"price_level must be positive, got {price_level}")
    rows = []
    for code, name, category, listed, r in _ITEMS:
        price = listed * price_level
        if category in DRUG_CATEGORIES and "max_daily" in r:
            # drug limits count packs (one coded line per pack): a month's supply is legal
            r = {**r, "max_daily": 2 if r.get("tag") == "oncology" else 8}
        rows.append(
            {
                "item_code": code,
                "name": name,
                "item_category": category,
                "price_cap": round(price * 1.2, 2),
                "gender": r.get("gender"),
                "min_age": r.get("min_age"),
                "max_age": r.get("max_age"),
                "max_daily_quantity": float(r["max_daily"]) if "max_daily" in r else None,
                "inpatient_only": bool(r.get("inpatient_only", False)),
                "min_provider_level": r.get("min_level"),
                **{k: NATIONAL_FACTS.get(code, {}).get(k) for k in _FACT_TYPES},
                "ref_price": price,
                "tag": r.get("tag"),
            }
        )
    frame = pd.DataFrame(rows)
    for col in ("min_age", "max_age", "min_provider_level"):
        frame[col] = frame[col].astype("Int64")
    frame["max_daily_quantity"] = frame["max_daily_quantity"].astype("Float64")
    frame["gender"] = frame["gender"].astype("string")
    frame["tag"] = frame["tag"].astype("string")
    for col, dtype in _FACT_TYPES.items():
        frame[col] = frame[col].astype(dtype)
    # the catalog's columns in the contract's order, the simulator's own two at the end
    return frame[[*_CONTRACT_ORDER, "ref_price", "tag"]]


_CONTRACT_ORDER = (
    "item_code",
    "name",
    "item_category",
    "price_cap",
    "gender",
    "min_age",
    "max_age",
    "max_daily_quantity",
    "inpatient_only",
    "min_provider_level",
    *_FACT_TYPES,
)
