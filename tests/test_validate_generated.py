"""Invariants on generated data with planted faults: every row accounted for, and the
quarantine agrees with an independent pandas implementation of the same rules."""

from __future__ import annotations

import pytest

from benchmarks.gen import generate
from benchmarks.validate_bench import run_pandas
from fraudml import load_dataset


@pytest.mark.parametrize("seed", [1, 2])
def test_reconciliation_and_quarantine_match_an_independent_oracle(tmp_path, seed):
    root = tmp_path / "ds"
    planted = generate(root, 40_000, seed=seed)
    with load_dataset(root, out=tmp_path / "out", memory_limit="1GB") as ds:
        counts = {t.table: t for t in ds.reconciliation.tables}
        for t in counts.values():
            assert t.accepted + t.quarantined == t.read
        assert {k: t.quarantined for k, t in counts.items()} == run_pandas(root)
        # the generator's own count of what it planted (it cannot see a rare double fault)
        for table, n in planted.items():
            assert abs(counts[table].quarantined - n) <= max(2, n // 100)
        assert counts["claim_items"].reasons.get("claim quarantined", 0) > 0
