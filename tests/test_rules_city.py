"""The committed city holds a case of every shipped rule: the simulator fills the optional
columns the national rules read and plants their cases (fraudml.synth.national)."""

from __future__ import annotations

from pathlib import Path

from fraudml import load_dataset
from fraudml.features import Window
from fraudml.rulebase import CHECKS, apply_rules, load_rules
from tests.test_rules_national import CASES as NATIONAL

RULES_DIR = Path(__file__).resolve().parents[1] / "conf" / "rules"


def test_every_rule_has_a_case_in_the_committed_city(city_root):
    rules = load_rules([RULES_DIR], CHECKS)
    with load_dataset(city_root, memory_limit="1GB") as ds:
        run = apply_rules(ds, Window(), rules)
        hits = run.hits
        counts = hits.group_by("rule_id").agg(n=hits.count()).to_pandas()
        labels = ds.table("labels")
        fraud = labels.filter((labels.entity_type == "claim") & (labels.label == 1))
        found = hits.semi_join(fraud, hits.claim_id == fraud.entity_id)
        caught = set(found.select("rule_id").distinct().to_pandas().rule_id)
    assert run.skipped == {}
    assert set(counts.rule_id) == {r.id for r in rules}
    # each national rule finds a planted claim among its hits
    assert set(NATIONAL) <= caught
