"""The rule base over a window: hits, the national review shape, aggregates per entity."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fraudml.io.atomic import write_json
from fraudml.io.load import Dataset
from fraudml.rulebase import Rule, RuleRun, apply_rules, rule_aggregates, to_national
from fraudml.rulebase.engine import fingerprint
from fraudml.window import Window
from fraudml.workflows.common import Out, claimed, rule_base, window_dict

log = logging.getLogger("fraudml")


@dataclass
class RulesResult:
    """The run of the rule base (hits as an Ibis table, rules, skipped rules), the
    summary per rule (``rules.json``) and where it was written."""

    run: RuleRun
    manifest: dict[str, object] = field(default_factory=dict)
    path: Path | None = None


def rules(
    dataset: Dataset,
    window: Window | None = None,
    *,
    base: Sequence[Rule] | None = None,
    out: Out = None,
) -> RulesResult:
    """Apply the rule base to ``window`` of ``dataset``.

    Parameters
    ----------
    dataset : Dataset
        A validated dataset (:func:`fraudml.validate`).
    window : Window, optional
        ``[start, end)`` on admit_time (all of the data when ``None``).
    base : list of Rule, optional
        The rules (:func:`fraudml.load_rule_base`); the shipped rule base when ``None``.
    out : path, optional
        Write ``hits.parquet``, ``review.parquet``, ``<entity>_rules.parquet`` and
        ``rules.json`` there, whole or not at all.
    """
    window = window or Window()
    started = time.perf_counter()
    chosen = rule_base(base)
    log.info("rule base: %d rules", len(chosen))
    with claimed(out, "rules", immutable=[dataset.path]) as output:
        run = apply_rules(dataset, window, chosen)
        per_rule = (
            run.hits.group_by("rule_id")
            .agg(hits=run.hits.count(), amount=run.hits.amount.sum())
            .to_pandas()
            .set_index("rule_id")
        )
        manifest: dict[str, object] = {
            "dataset": str(dataset.path),
            "fingerprint": dataset.fingerprint,
            "rule_base": fingerprint(chosen),
            "window": window_dict(window),
            "rules": {
                r.id: {
                    "hits": int(per_rule.hits.get(r.id, 0)),
                    "amount": round(float(per_rule.amount.get(r.id, 0.0)), 2),
                }
                for r in run.rules
            },
            "skipped": run.skipped,
        }
        if output is not None:
            con = dataset.con
            with output.staging() as tmp:
                hits = run.hits.order_by(["rule_id", "entity_id", "line_no"])
                con.to_parquet(hits, tmp / "hits.parquet")
                con.to_parquet(to_national(hits, run.rules), tmp / "review.parquet")
                for entity in ("patient", "provider", "doctor"):
                    agg = rule_aggregates(run.hits, run.rules, entity)
                    con.to_parquet(agg.order_by(agg.columns[0]), tmp / f"{entity}_rules.parquet")
                manifest["seconds"] = round(time.perf_counter() - started, 1)
                write_json(tmp / "rules.json", manifest)
    return RulesResult(run, manifest, output.path if output else None)
