"""The rule base (规则库): declarative rules in ``conf/rules/*.yaml`` compiled to engine
expressions; hits with evidence, per-entity aggregates, the national review shape."""

from fraudml.rulebase.checks import CHECKS
from fraudml.rulebase.engine import (
    HIT_COLUMNS,
    RuleRun,
    apply_rules,
    rule_aggregates,
    rule_features,
    to_national,
    with_rule_aggregates,
)
from fraudml.rulebase.expr import RuleExpressionError, compile_expr
from fraudml.rulebase.spec import Rule, RuleSpecError, load_rules, parse_family

__all__ = [
    "CHECKS",
    "HIT_COLUMNS",
    "Rule",
    "RuleExpressionError",
    "RuleRun",
    "RuleSpecError",
    "apply_rules",
    "compile_expr",
    "load_rules",
    "parse_family",
    "rule_aggregates",
    "rule_features",
    "to_national",
    "with_rule_aggregates",
]
