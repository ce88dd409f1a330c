"""Model inputs: a window's profiles with rule aggregates as frames, and labels as of a date.

This is where results leave the engine: profiles are computed and joined in DuckDB and
converted to pandas once, for the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from fraudml.entities import ENTITIES
from fraudml.features import FEATURES, Window, build_profiles, materialise
from fraudml.graph import WindowGraph
from fraudml.graph.propagation import with_group_labels
from fraudml.io.load import Dataset
from fraudml.rulebase import Rule, RuleRun, apply_rules, with_rule_aggregates


def entity_frames(ds: Dataset, window: Window, rules: Sequence[Rule]) -> dict[str, pd.DataFrame]:
    """Profiles of ``window`` with per-family rule aggregates, one frame per entity type,
    indexed by the entity key and sorted by it."""
    return frames_and_hits(ds, window, rules)[0]


@dataclass
class WindowFrames:
    """A window as the models see it."""

    #: one frame per entity type (:func:`entity_frames`)
    frames: dict[str, pd.DataFrame]
    #: the rule run behind their aggregates (for evidence and the deduction list)
    run: RuleRun
    #: features the data could not give: entity → feature → why
    dropped: dict[str, dict[str, str]]
    #: the window's network (groups, their members and proof)
    graph: WindowGraph | None


def window_frames(ds: Dataset, window: Window, rules: Sequence[Rule]) -> WindowFrames:
    """Profiles, rules and network of ``window``, as frames for the models.

    Patients also carry the share of their fellow group members with a positive label
    decided before the window starts (all labels for a window open at the start):
    what scoring that window would know. Training replaces it with the labels it may
    learn from, out of fold (:func:`fraudml.models.fitting.time_fitter`)."""
    w = label_free_frames(ds, window, rules)
    # only the patients' frame takes the labels: no read without it
    wanted = "patient" in w.frames and "labels" in ds
    labels = ds.table("labels").to_pandas() if wanted else None
    return WindowFrames(
        with_known_group_labels(w.frames, labels, window), w.run, w.dropped, w.graph
    )


def label_free_frames(ds: Dataset, window: Window, rules: Sequence[Rule]) -> WindowFrames:
    """:func:`window_frames` before any label is read: profiles, rule aggregates and the
    network, which depend on the claims of ``window`` only."""
    profiles = build_profiles(ds, window)
    tables = materialise(ds, profiles)
    run = apply_rules(ds, window, rules, profiles.inputs)
    out = {}
    for entity, table in tables.items():
        joined = with_rule_aggregates(table, run.hits, run.rules, entity)
        frame = joined.to_pandas().set_index(ENTITIES[entity].key).sort_index()
        frame.index = frame.index.astype(str)
        out[entity] = reproducible(frame)
    return WindowFrames(out, run, profiles.dropped, profiles.graph)


def with_known_group_labels(
    frames: dict[str, pd.DataFrame], labels: pd.DataFrame | None, window: Window
) -> dict[str, pd.DataFrame]:
    """``frames`` with the patients' share of fellow group members labelled positive
    before ``window`` starts; without a labels table no fellow member is known, so the
    share is 0, not missing."""
    if "patient" not in frames:
        return frames
    known = labels_as_of(labels, "patient", window.start)
    patients = with_group_labels(frames["patient"], known.index, out_of_fold=False)
    return {**frames, "patient": patients}


def frames_and_hits(
    ds: Dataset, window: Window, rules: Sequence[Rule]
) -> tuple[dict[str, pd.DataFrame], RuleRun, dict[str, dict[str, str]]]:
    """:func:`entity_frames`, the rule run behind their aggregates (for evidence) and the
    features the data could not give (entity → feature → why)."""
    w = window_frames(ds, window, rules)
    return w.frames, w.run, w.dropped


def reproducible(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to 9 decimals and to single precision (about 7 significant
    digits).

    The engine sums doubles in parallel, in an order that changes from run to run, so
    the last bits of a sum differ between runs; tree models can turn such differences
    into different splits. Rounding to single precision makes the same data give the same
    model inputs, and so the same scores, run after run.
    """
    floats = frame.select_dtypes("floating").columns
    if len(floats):
        frame = frame.copy()
        # decimals settle values near zero, single precision the large ones
        frame[floats] = frame[floats].round(9).astype("float32").astype("float64")
    return frame


def model_columns(frame: pd.DataFrame, entity: str) -> tuple[list[str], list[str]]:
    """The supervised model's inputs and the anomaly model's inputs in ``frame``.

    Supervised: every registered feature, its peer z-score, the rule aggregates and (for
    providers and doctors) the network features.
    Anomaly: behaviour only (registry entries with ``anomaly``), peer-normalised where a
    peer version exists (the raw value otherwise); rule hits stay out so the forest
    measures behaviour, not rules.
    """
    registered = [f for f in FEATURES if f.entity == entity and f.name in frame.columns]
    supervised = [f.name for f in registered]
    supervised += [f"{f.name}__peer_z" for f in registered if f"{f.name}__peer_z" in frame]
    supervised += [c for c in frame.columns if c.startswith(("rule_", "net_"))]
    anomaly = [
        f"{f.name}__peer_z" if f"{f.name}__peer_z" in frame else f.name
        for f in registered
        if f.anomaly
    ]
    return supervised, anomaly


def labels_as_of(
    labels: pd.DataFrame | None, entity: str, decided_before: datetime | None
) -> pd.DataFrame:
    """Positive labels of ``entity`` known before ``decided_before`` (all when ``None``).

    Returns a frame indexed by entity id with ``label`` (1) and ``scheme``. A label
    without a decision date counts only when no cut-off is given: when it became known
    cannot be shown, so it is never used for training.
    """
    empty = pd.DataFrame({"label": pd.Series(dtype=int), "scheme": pd.Series(dtype=str)})
    if labels is None or labels.empty:
        return empty
    mine = labels[(labels.entity_type == ENTITIES[entity].label_type) & (labels.label == 1)]
    if decided_before is not None:
        decided = pd.to_datetime(mine.decided_at)
        mine = mine[decided.notna() & (decided < pd.Timestamp(decided_before))]
    if mine.empty:
        return empty
    mine = mine.sort_values(["entity_id", "decided_at"]).drop_duplicates("entity_id")
    out = pd.DataFrame(
        {"label": 1, "scheme": mine.scheme.fillna("unknown").astype(str).to_numpy()},
        index=mine.entity_id.astype(str).to_numpy(),
    )
    return out


def checked_entities(labels: pd.DataFrame | None, entity: str) -> pd.Index | None:
    """Ids of ``entity`` with a label of either value, when the labels hold explicit
    negatives (checked and found clean) for it; ``None`` when they hold positives only,
    where every unlabelled entity counts as not known to be fraud."""
    if labels is None or labels.empty:
        return None
    mine = labels[labels.entity_type == ENTITIES[entity].label_type]
    if not (mine.label == 0).any():
        return None
    return pd.Index(mine.entity_id.astype(str).unique())


def target(frame: pd.DataFrame, positives: pd.DataFrame) -> pd.Series:
    """1 for entities of ``frame`` among ``positives``, else 0 (unlabelled = not known
    to be fraud)."""
    return pd.Series(frame.index.isin(positives.index).astype(int), index=frame.index)
