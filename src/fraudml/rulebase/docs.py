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
functions `date`, `days_between`, `abs`, `coalesce`, `startswith`, `lower`, `upper` —
parsed with a whitelist: a rule file cannot run code or inject SQL.
"""


def _params(rule: Rule) -> str:
    parts = [f"{k}={v}" for k, v in rule.params.items()]
    if rule.where:
        parts.append(f"where: `{rule.where}`")
    if rule.amount:
        parts.append(f"amount: `{rule.amount}`")
    return "; ".join(parts).replace("|", "\\|")


def render(rules: Sequence[Rule]) -> str:
    rows = [
        HEADER,
        "| id | 规则名称 | name | family | 类别 category | 结果 result | scene | 环节 stage "
        "| window | check and parameters | severity |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rules:
        rows.append(
            f"| {r.id} | {r.name.zh} | {r.name.en} | {r.family_name.en} | "
            f"{CATEGORIES[r.category]} {r.category} | {RESULTS[r.result]} {r.result} | "
            f"{', '.join(r.scene)} | {STAGES[r.stage]} {r.stage} | {r.window} | "
            f"`{r.check}` {_params(r)} | {SEVERITIES[r.severity]} {r.severity} |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    root = Path(__file__).resolve().parents[3]
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "conf" / "rules"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "docs" / "rules.md"
    target.write_text(render(load_rules([source], CHECKS)), encoding="utf-8")


if __name__ == "__main__":
    main()
