"""docs/rules.md, generated from the rule files: ``python -m fraudml.rulebase.docs``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from fraudml.rulebase.checks import CHECKS
from fraudml.rulebase.spec import CATEGORIES, RESULTS, SEVERITIES, STAGES, Rule, load_rules

HEADER = """# Rule base / 规则库

Generated from `conf/rules/*.yaml` by `python -m fraudml.rulebase.docs`; a test fails when
this file is out of date. Each rule names a compiled check (`src/fraudml/rulebase/checks.py`)
and tunes it in YAML: adding or tuning a rule is a YAML edit. `fraudml rules` (`make rules`)
writes the hits with evidence (`hits.parquet`), the national review shape
(`review.parquet`: rule_id, rule_name, vola_cont, patn_id, mdtrt_id, vola_amt, sev_deg,
vola_evid, …) and hits and amounts per rule family for each patient, provider and doctor
(`<entity>_rules.parquet`), which join the profiles as features.

Conditions (`where`, `amount`) are a small expression language compiled to engine
expressions — comparisons, `and`/`or`/`not`, arithmetic, `in [...]`, `is None`, and the
functions `date`, `days_between`, `abs`, `coalesce`, `startswith`, `lower`, `upper`,
`iif` (a value by condition), `in_list` (one of a `;`-separated list) and `any_prefix`
(starts with one of a `;`-separated list, for ICD-10 indications) — parsed with a
whitelist: a rule file cannot run code or inject SQL. Message fields that hold codes
(gender, visit type, fee category, department …) are shown in the message's language.
"""


def _params(rule: Rule) -> str:
    parts = [f"{k}={v}" for k, v in rule.params.items()]
    if rule.where:
        parts.append(f"where: `{rule.where}`")
    if rule.amount:
        parts.append(f"amount: `{rule.amount}`")
    return "; ".join(parts).replace("|", "\\|")


def render(rules: Sequence[Rule]) -> str:
    """The rule base as Markdown: a summary, then one table per national category (政策类,
    管理类, 医疗类) with each rule's metadata, check and policy basis."""
    counts = {c: sum(r.category == c for r in rules) for c in CATEGORIES}
    rows = [
        HEADER,
        f"{len(rules)} rules: "
        + ", ".join(f"{counts[c]} {CATEGORIES[c]}类 ({c})" for c in CATEGORIES)
        + ", in the categories of the national smart-monitoring rule base (智能监控规则库). "
        "A rule whose input the dataset lacks (a table, or an optional column such as "
        "`patients.death_date` or `catalog.indications` left empty) is skipped and listed, "
        "never run on a guess.",
        "",
    ]
    for category, zh in CATEGORIES.items():
        mine = [r for r in rules if r.category == category]
        if not mine:
            continue
        rows += [
            f"## {zh}类 / {category} ({len(mine)})",
            "",
            "| id | 规则名称 | name | family | 结果 result | scene | 环节 stage "
            "| window | check and parameters | severity | 依据 basis |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in mine:
            rows.append(
                f"| {r.id} | {r.name.zh} | {r.name.en} | {r.family_name.en} | "
                f"{RESULTS[r.result]} {r.result} | "
                f"{', '.join(r.scene)} | {STAGES[r.stage]} {r.stage} | {r.window} | "
                f"`{r.check}` {_params(r)} | {SEVERITIES[r.severity]} {r.severity} | "
                f"{r.basis.zh} / {r.basis.en} |".replace("\n", " ")
            )
        rows.append("")
    return "\n".join(rows)


def main() -> None:
    root = Path(__file__).resolve().parents[3]
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "conf" / "rules"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "docs" / "rules.md"
    target.write_text(render(load_rules([source], CHECKS)), encoding="utf-8")


if __name__ == "__main__":
    main()
