"""The entity vocabulary: one spec per type, and every table that needs it reads it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fraudml.entities import CLAIM_KINDS, ENTITIES, OWNERS, default_capacity, spec
from fraudml.features.builders import BUILDERS
from fraudml.features.registry import FEATURES
from fraudml.settings import DEFAULT_CAPACITY, ScoreSettings, TrainSettings

SRC = Path(__file__).resolve().parents[1] / "src" / "fraudml"
NAMES = set(ENTITIES)


def test_fitting_order_puts_claims_and_patients_before_their_owners():
    order = list(ENTITIES)
    assert order == ["patient", "stay", "visit", "provider", "doctor"]
    assert [ENTITIES[e].order for e in order] == [0, 1, 2, 3, 4]
    for owner in OWNERS:
        assert all(order.index(k) < order.index(owner) for k in (*CLAIM_KINDS, "patient"))


def test_every_type_has_a_builder_and_registered_features():
    assert set(BUILDERS) == NAMES
    assert {f.entity for f in FEATURES} == NAMES


def test_specs_agree_with_the_labels_and_the_claims():
    assert {s.label_type for s in ENTITIES.values()} == {"claim", "patient", "provider", "doctor"}
    assert CLAIM_KINDS == ("stay", "visit")
    assert OWNERS == ("provider", "doctor")
    for kind in CLAIM_KINDS:
        assert ENTITIES[kind].key == "claim_id"
    # an owner's column is one the claims of some kind carry in their context
    for owner in OWNERS:
        column = ENTITIES[owner].owner
        assert column == ENTITIES[owner].key
        assert any(column in ENTITIES[k].context for k in CLAIM_KINDS)


def test_peer_groups_are_context_columns_and_baselines_are_features():
    names = {(f.entity, f.name) for f in FEATURES}
    for entity, s in ENTITIES.items():
        assert set(s.peer_groups) <= set(s.context), entity
        for columns in s.baselines.values():
            assert all((entity, c) in names for c in columns), (entity, columns)


def test_default_capacity_is_the_specs_and_settings_use_it():
    assert default_capacity() == {e: s.capacity for e, s in ENTITIES.items()}
    assert default_capacity() == DEFAULT_CAPACITY
    assert dict(TrainSettings().capacity) == default_capacity()
    assert dict(ScoreSettings().capacity) == default_capacity()


def test_an_unknown_type_is_named():
    with pytest.raises(ValueError, match=r"'claims'.*patient, stay, visit, provider, doctor"):
        spec("claims")
    assert spec("doctor").zh == "医师"


def _tables_keyed_by_every_type(tree: ast.AST) -> list[int]:
    """Line numbers of dict literals whose keys are three or more entity type names: the
    shape the vocabulary's tables had when each module kept its own."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if len(keys & NAMES) >= 3:
                lines.append(node.lineno)
    return lines


def test_no_module_keeps_its_own_table_of_entity_types():
    # the builders' dispatch table maps a type to its function, which is not a fact
    # about the type; the contract's table maps the labels' types to input tables; the
    # simulator writes the world rather than reading it; the window graph hands each type
    # its group features, a dispatch like the builders'; the check service's request
    # parts map to the contract's tables, like the contract's own table
    allowed = {
        SRC / "service" / "schema.py",
        SRC / "entities.py",
        SRC / "features" / "builders.py",
        SRC / "contract.py",
        SRC / "graph" / "window.py",
    }
    found = {}
    for path in SRC.rglob("*.py"):
        if path in allowed or "synth" in path.parts:
            continue
        lines = _tables_keyed_by_every_type(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            found[str(path.relative_to(SRC))] = lines
    assert found == {}
