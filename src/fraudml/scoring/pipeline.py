"""Score a period: every entity gets a risk score and rank; leads get reasons and evidence.

Data frames in, data frames out: the registered models come in as :class:`EntityModel`
objects, the results leave as tables for the writers. :func:`score_period` composes the
steps, each a pure function of data frames in its own module:

- :mod:`fraudml.scoring.rank`: rank and tier the scored entities (the scores sheet);
- :mod:`fraudml.scoring.leads`: choose the leads (the top capacity of each lead type)
  and lay out the leads sheet;
- :mod:`fraudml.scoring.reasons`: explain the leads and render their reasons;
- :mod:`fraudml.scoring.evidence`: order the rule hits, summarise each lead's and lay out
  the evidence sheet;
- :mod:`fraudml.scoring.violations`: the definite violations as the deduction list,
  totalled per provider.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fraudml.entities import ENTITIES, OWNERS, lead_capacity, lead_types
from fraudml.errors import ModelError, NothingToScoreError
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.io.load import Dataset
from fraudml.models.frames import window_frames
from fraudml.models.network import with_network_features
from fraudml.models.risk import LEGACY_CURRENCY, EntityModel, score_frame
from fraudml.models.training import admit_span, claims_in, span_text, window_text
from fraudml.rulebase import Rule, rule_features
from fraudml.scoring.evidence import (
    EVIDENCE_COLUMNS,
    HIT_ORDER,
    MAX_EVIDENCE_CLAIMS,
    evidence_claims,
    evidence_sheet,
    hit_summary,
    leads_hits,
    ordered_hits,
)
from fraudml.scoring.groups import (
    GROUP_CAPACITY,
    group_evidence,
    group_leads,
    group_members,
    group_scores,
)
from fraudml.scoring.leads import choose_leads, definite_violations, lead_table
from fraudml.scoring.rank import rank_entities, scores_sheet, tier
from fraudml.scoring.reasons import lead_reasons
from fraudml.scoring.violations import deductions_by_provider, violations_sheet

# the entry, its checks and the step names callers imported from here before the split
__all__ = [
    "EVIDENCE_COLUMNS",
    "HIT_ORDER",
    "MAX_EVIDENCE_CLAIMS",
    "ScoreResult",
    "check_claims_in_window",
    "check_currency",
    "check_feature_set",
    "check_inputs",
    "evidence_claims",
    "not_scored_reason",
    "ordered_hits",
    "score_entities",
    "score_period",
    "tier",
]

log = logging.getLogger(__name__)


@dataclass
class ScoreResult:
    #: every scored entity: entity_type (claim for stays and visits), entity_id,
    #: claim_kind, score, rank, tier, model and parts
    scores: pd.DataFrame
    #: the leads with reasons (zh and en), rule hits and evidence claims
    leads: pd.DataFrame
    #: rule hits of the leads (the evidence sheet), in :func:`ordered_hits` order
    evidence: pd.DataFrame
    #: what each entity type's explanation explains
    explained: dict[str, str] = field(default_factory=dict)
    #: seconds spent explaining (SHAP and reasons) and how many leads were explained
    explain_seconds: float = 0.0
    #: features the data could not give: entity → feature → why
    dropped: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the models that scored: entity → registered name@version
    models: dict[str, str] = field(default_factory=dict)
    #: entity types with a model but nothing to score in the period: entity → why
    not_scored: dict[str, str] = field(default_factory=dict)
    #: every definite violation of the period (the deduction list, 扣款清单)
    violations: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the deduction list totalled per provider
    deductions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: members of the group leads (patients and the providers they gather at)
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the dated claims proving the group leads' co-visits
    group_evidence: pd.DataFrame = field(default_factory=pd.DataFrame)


def check_inputs(
    entity: str, model: EntityModel, frame: pd.DataFrame, dropped: dict[str, str]
) -> None:
    """Refuse to score data that lacks a column the model was trained on (a model trained
    on data with fee lines cannot score data without them), naming the columns and why."""
    missing = [c for c in model.inputs if c not in frame.columns]
    if missing:
        why = {dropped[c.split("__")[0]] for c in missing if c.split("__")[0] in dropped}
        raise ModelError(
            f"the {entity} model reads {len(missing)} columns this data cannot give "
            f"({', '.join(missing[:6])}{' …' if len(missing) > 6 else ''})"
            f"{': ' + '; '.join(sorted(why)) if why else ''}. Train on data of the same "
            "shape (make train DATA=…) and score with that namespace"
        )


def check_feature_set(models: dict[str, EntityModel]) -> None:
    """Refuse models built on another feature-set version: their inputs mean other things."""
    wrong = {e: m.feature_set_version for e, m in models.items()}
    wrong = {e: v for e, v in wrong.items() if v != FEATURE_SET_VERSION}
    if wrong:
        listed = ", ".join(f"{e} (version {v})" for e, v in wrong.items())
        raise ModelError(
            f"models built on another feature set: {listed}; this fraudml computes feature "
            f"set version {FEATURE_SET_VERSION}. Retrain with `make train` on this version."
        )


def check_currency(models: dict[str, EntityModel], currency: str) -> None:
    """Refuse models trained on money in another currency: their amounts, price caps
    and peer levels are in another unit (models from before the currency was recorded
    were trained on yuan)."""
    other: dict[str, list[str]] = {}
    for entity, model in models.items():
        trained = getattr(model, "currency", LEGACY_CURRENCY)
        if trained != currency:
            other.setdefault(trained, []).append(entity)
    if other:
        listed = ", ".join(f"{c} ({', '.join(entities)})" for c, entities in other.items())
        raise ModelError(
            f"the models were trained on data in {listed} and this dataset's amounts are in "
            f"{currency} (dataset.json currency): fees, payments and peer levels would be "
            "read in the wrong unit. Train on this dataset (make train DATA=…) and score "
            "with that namespace"
        )


def check_claims_in_window(ds: Dataset, window: Window) -> None:
    """Stop when no claim is admitted in ``window``, naming the span the data covers."""
    if claims_in(ds, window):
        return
    span = admit_span(ds)
    covered = (
        f"the data's claims are admitted from {span_text(span)}"
        if span
        else "the dataset holds no claims at all"
    )
    raise NothingToScoreError(
        f"no claims admitted in {window_text(window)} (FROM … UNTIL); {covered}"
    )


def not_scored_reason(
    entity: str, frames: dict[str, pd.DataFrame], dropped: dict[str, dict[str, str]]
) -> str | None:
    """Why ``entity`` has nothing to score in the period (``None`` when it has)."""
    if entity not in frames:
        why = sorted(set(dropped.get(entity, {}).values()))
        return f"no {entity} profiles: {'; '.join(why) or 'the data cannot give them'}"
    if frames[entity].empty:
        return f"the period's claims give no {entity} profiles"
    return None


def score_entities(
    frames: dict[str, pd.DataFrame],
    models: dict[str, EntityModel],
    dropped: dict[str, dict[str, str]],
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, str]]:
    """Score each entity type that has a model, in :data:`ENTITIES` order.

    Parameters
    ----------
    frames : dict of str to DataFrame
        Profiles per entity type.
    models : dict of str to EntityModel
        The models to score with.
    dropped : dict
        Features the data could not give: entity → feature → why.

    Returns
    -------
    scored : dict of str to DataFrame
        :func:`fraudml.models.risk.score_frame` per scored entity type.
    frames : dict of str to DataFrame
        ``frames`` with the network features of the owners (providers, doctors), which
        read the scores of the entity types scored before them.
    not_scored : dict of str to str
        Entity types with a model but nothing to score: why.
    """
    scored: dict[str, pd.DataFrame] = {}
    not_scored: dict[str, str] = {}
    networked = False
    for entity in ENTITIES:
        if entity in OWNERS and not networked:
            frames = with_network_features(frames, scored)
            networked = True
        if entity not in models:
            continue
        reason = not_scored_reason(entity, frames, dropped)
        if reason is not None:
            log.warning("%s has a champion model but is not scored: %s", entity, reason)
            not_scored[entity] = reason
            continue
        check_inputs(entity, models[entity], frames[entity], dropped.get(entity, {}))
        scored[entity] = score_frame(models[entity], frames[entity])
    return scored, frames, not_scored


def score_period(
    ds: Dataset,
    window: Window,
    rules: Sequence[Rule],
    models: dict[str, EntityModel],
    versions: dict[str, str],
    capacity: dict[str, int],
    *,
    definite_leads: bool = False,
    explore_share: float = 0.0,
    explore_bar: float = 0.0,
) -> ScoreResult:
    """Score every entity of ``window`` with ``models`` and choose the leads.

    Scores and leads speak the labels' vocabulary: stays and visits are ``claim`` (their
    ``claim_kind`` says which) and rank on one scale. Leads are the top ``capacity`` of
    each lead type (:func:`fraudml.entities.lead_capacity`); definite rule violations go
    to the deduction list (:mod:`fraudml.scoring.violations`), and with
    ``definite_leads`` every entity holding one is also a lead beyond the capacity.
    ``explore_share`` of each capacity is reserved for the highest label-free evidence
    of at least ``explore_bar`` (:func:`fraudml.models.fusion.reserve_order`).
    """
    check_claims_in_window(ds, window)
    check_feature_set(models)
    check_currency(models, ds.currency)
    w = window_frames(ds, window, rules)
    # patients carry their fellow group members' labels known when the period starts
    frames, run, dropped = w.frames, w.run, w.dropped
    hits = ordered_hits(run.hits.to_pandas())
    scored, frames, not_scored = score_entities(frames, models, dropped)
    if not scored:
        listed = "; ".join(f"{e}: {why}" for e, why in not_scored.items()) or "no models"
        raise NothingToScoreError(
            "no entity type with a champion model has anything to score in "
            f"{window_text(window)} ({listed})"
        )

    sheets: list[pd.DataFrame] = []
    lead_sheets: list[pd.DataFrame] = []
    evidence: list[pd.DataFrame] = []
    explained: dict[str, str] = {}
    explain_seconds = 0.0
    for lead_type, kinds in lead_types(scored).items():
        s = pd.concat([scored[kind] for kind in kinds])
        sizes = [len(scored[kind]) for kind in kinds]
        kind_of = pd.Series(np.repeat(kinds, sizes), index=s.index)
        model_of = pd.Series(np.repeat([versions.get(k, "?") for k in kinds], sizes), s.index)
        claim_kind = kind_of if lead_type == "claim" else None
        k = lead_capacity(capacity, lead_type, kinds)
        ranked = rank_entities(s, k, explore_share, explore_bar)
        sheets.append(scores_sheet(lead_type, ranked, model_of, claim_kind))
        definite = (
            pd.concat([definite_violations(frames[kind]) for kind in kinds])
            if definite_leads
            else None
        )
        chosen = choose_leads(ranked["rank"], k, definite)
        if len(chosen) == 0:
            continue
        t0 = time.perf_counter()
        reason_tables, whats = [], {}
        for kind in kinds:
            mine = chosen[(kind_of.loc[chosen] == kind).to_numpy()]
            if len(mine) == 0:
                continue
            why = lead_reasons(
                models[kind],
                frames[kind].loc[mine],
                kind,
                rule_features(run.rules, kind),
                ds.currency,
                peers=frames[kind],
                reserved=mine[ranked.loc[mine, "reserve"].to_numpy(dtype=bool)].astype(str),
            )
            reason_tables.append(why.table)
            whats[kind] = why.what
        explain_seconds += time.perf_counter() - t0
        explained[lead_type] = (
            next(iter(whats.values()))
            if len(kinds) == 1
            else "; ".join(f"{kind}: {what}" for kind, what in whats.items())
        )
        key = ENTITIES[kinds[0]].key  # the kinds of one lead type share their key
        mine_hits = leads_hits(hits, key, chosen)
        summary = hit_summary(mine_hits, key, chosen)
        lead_sheets.append(
            lead_table(
                lead_type,
                model_of.loc[chosen],
                ranked.loc[chosen],
                pd.concat(reason_tables),
                summary,
                None if claim_kind is None else claim_kind.loc[chosen],
            )
        )
        if len(mine_hits):
            evidence.append(evidence_sheet(lead_type, mine_hits, key))
        log.info("%-8s %s scored, %d leads", lead_type, f"{len(s):,}", len(chosen))
    members = proof = pd.DataFrame()
    if w.graph is not None and "patient" in scored:
        sheet, chosen_groups, members, proof = _group_part(
            ds, w.graph, scored["patient"]["risk"], frames, capacity, versions
        )
        if len(sheet):
            sheets.append(sheet)
        if len(chosen_groups):
            lead_sheets.append(chosen_groups)
        log.info("%-8s %s scored, %d leads", "group", f"{len(sheet):,}", len(chosen_groups))
    scores = pd.concat(sheets, ignore_index=True) if sheets else pd.DataFrame()
    leads = pd.concat(lead_sheets, ignore_index=True) if lead_sheets else pd.DataFrame()
    for sheet in (scores, leads):  # group rows have no reserve: never placed by it
        if "reserve" in sheet:
            sheet["reserve"] = sheet["reserve"].astype("boolean").fillna(False).astype(bool)
    if not leads.empty:
        leads = leads.sort_values(["entity_type", "rank"], kind="stable").reset_index(drop=True)
    ev = pd.concat(evidence, ignore_index=True) if evidence else pd.DataFrame()
    violations = violations_sheet(hits, run.rules)
    used = {e: versions.get(e, "?") for e in scored}
    return ScoreResult(
        scores,
        leads,
        ev,
        explained,
        explain_seconds,
        dropped,
        used,
        not_scored,
        violations,
        deductions_by_provider(violations),
        members,
        proof,
    )


def _group_part(
    ds: Dataset,
    graph,
    patient_risk: pd.Series,
    frames: dict[str, pd.DataFrame],
    capacity: dict[str, int],
    versions: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Group leads: the scores sheet's rows, the leads' rows, their members and proof."""
    scored = group_scores(graph, patient_risk)
    providers = ds.table("providers")
    names: dict[str, str] = {}
    if "name" in providers.columns:
        named = providers.select("provider_id", "name").to_pandas().dropna()
        names = dict(zip(named.provider_id.astype(str), named.name.astype(str), strict=True))
    k = int(capacity.get("group", GROUP_CAPACITY))
    model = f"groups (patient {versions.get('patient', '?')})"
    sheet, leads = group_leads(scored, k, model, names)
    chosen = pd.Index(leads.entity_id) if len(leads) else pd.Index([])
    members = group_members(graph, patient_risk, chosen)
    visits = frames.get("visit")
    if visits is None or visits.empty:
        return sheet, leads, members, pd.DataFrame()
    claims = visits[["patient_id", "provider_id", "admit_time"]].rename_axis("claim_id")
    return sheet, leads, members, group_evidence(graph, claims.reset_index(), chosen)
