"""Score a period: every entity gets a risk score and rank; leads get reasons and evidence.

Data frames in, data frames out: the registered models come in as :class:`EntityModel`
objects, the results leave as tables for the writers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from fraudml.entities import ENTITIES, OWNERS
from fraudml.errors import ModelError, NothingToScoreError
from fraudml.explain.contributions import explain, reasons
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.io.load import Dataset
from fraudml.models.frames import frames_and_hits
from fraudml.models.network import with_network_features
from fraudml.models.risk import LEGACY_CURRENCY, EntityModel, score_frame
from fraudml.models.training import admit_span, claims_in, span_text, window_text
from fraudml.rulebase import HIT_COLUMNS, Rule, rule_features

log = logging.getLogger(__name__)


@dataclass
class ScoreResult:
    #: every scored entity: entity_type, entity_id, score, rank, tier, model and parts
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


#: evidence claims listed per lead (the first ones in :func:`ordered_hits` order)
MAX_EVIDENCE_CLAIMS = 20
#: how hits are ordered before any cap: the largest amounts first, then by claim, fee
#: line and rule (the engine returns them in no fixed order); the other columns, in
#: this order, settle what remains, so that identical runs keep identical hits
HIT_ORDER: tuple[tuple[str, bool], ...] = (
    ("amount", False),
    ("claim_id", True),
    ("line_no", True),
    ("rule_id", True),
    ("entity_type", True),
    ("entity_id", True),
)


#: the evidence sheet: the lead, then each hit's rule, claim, amount and text
EVIDENCE_COLUMNS = [
    "lead_type",
    "lead_id",
    *(c for c in HIT_COLUMNS if c not in ("family", "entity_type", "entity_id")),
]


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


def ordered_hits(hits: pd.DataFrame) -> pd.DataFrame:
    """``hits`` in :data:`HIT_ORDER` (missing values last), renumbered from 0."""
    first = [c for c, _ in HIT_ORDER if c in hits.columns]
    by = [*first, *(c for c in hits.columns if c not in first)]
    ascending = [dict(HIT_ORDER).get(c, True) for c in by]
    ordered = hits.sort_values(by, ascending=ascending, na_position="last", kind="stable")
    return ordered.reset_index(drop=True)


def evidence_claims(lead_hits: pd.DataFrame, cap: int = MAX_EVIDENCE_CLAIMS) -> list[str]:
    """The distinct claims of a lead's (ordered) hits, the first ``cap`` of them."""
    return list(dict.fromkeys(lead_hits.claim_id.dropna().astype(str)))[:cap]


def tier(rank: int, capacity: int) -> str:
    """A: within the auditors' capacity; B: within three times it; C: the rest."""
    return "A" if rank <= capacity else ("B" if rank <= 3 * capacity else "C")


def score_period(
    ds: Dataset,
    window: Window,
    rules: Sequence[Rule],
    models: dict[str, EntityModel],
    versions: dict[str, str],
    capacity: dict[str, int],
    *,
    definite_leads: bool = True,
) -> ScoreResult:
    """Score every entity of ``window`` with ``models``; leads are the top ``capacity`` of
    each entity type plus (with ``definite_leads``) every entity with a definite rule
    violation."""
    check_claims_in_window(ds, window)
    check_feature_set(models)
    check_currency(models, ds.currency)
    frames, run, dropped = frames_and_hits(ds, window, rules)
    hits = ordered_hits(run.hits.to_pandas())
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
    if not scored:
        listed = "; ".join(f"{e}: {why}" for e, why in not_scored.items()) or "no models"
        raise NothingToScoreError(
            "no entity type with a champion model has anything to score in "
            f"{window_text(window)} ({listed})"
        )

    table, lead_rows, evidence, explained = [], [], [], {}
    explain_seconds = 0.0
    feats = {e: rule_features(run.rules, e) for e in scored}
    for entity, s in scored.items():
        frame = frames[entity]
        ordered = s.sort_values("risk", ascending=False, kind="stable")
        rank = pd.Series(range(1, len(ordered) + 1), index=ordered.index)
        k = int(capacity.get(entity, 100))
        model_name = f"{versions.get(entity, '?')}"
        out = pd.DataFrame(
            {
                "entity_type": entity,
                "entity_id": s.index.astype(str),
                "score": s.risk.to_numpy(),
                "rank": rank.reindex(s.index).to_numpy(),
                "anomaly_score": s.anomaly_score.to_numpy(),
                "supervised": s.supervised.to_numpy(),
                "rule_part": s.rule_part.to_numpy(),
                "model": model_name,
            }
        )
        out["tier"] = [tier(r, k) for r in out["rank"]]
        table.append(out)
        definite = frame.get("rule_definite_hits", pd.Series(0, index=frame.index)) > 0
        definite = definite & definite_leads
        chosen = s.index[(rank.reindex(s.index) <= k).to_numpy() | definite.to_numpy()]
        if len(chosen) == 0:
            continue
        lead_frame = frame.loc[chosen]
        t0 = time.perf_counter()
        why = explain(models[entity], lead_frame)
        explained[entity] = why.what
        zh = reasons(why, lead_frame, entity, feats[entity], "zh", currency=ds.currency)
        en = reasons(why, lead_frame, entity, feats[entity], "en", currency=ds.currency)
        explain_seconds += time.perf_counter() - t0
        key = ENTITIES[entity].key
        mine = hits[hits[key].isin(chosen)] if key in hits else hits.iloc[0:0]
        by_lead = mine.groupby(key)
        for lead in chosen:
            lead_hits = by_lead.get_group(lead) if lead in by_lead.groups else mine.iloc[0:0]
            claims = evidence_claims(lead_hits)
            lead_rows.append(
                {
                    "entity_type": entity,
                    "entity_id": str(lead),
                    "score": float(s.risk[lead]),
                    "rank": int(rank[lead]),
                    "tier": tier(int(rank[lead]), k),
                    "model": model_name,
                    "reasons_zh": "；".join(r["text"] for r in zh[str(lead)]),
                    "reasons_en": "; ".join(r["text"] for r in en[str(lead)]),
                    "reasons_json": json.dumps(
                        {"zh": zh[str(lead)], "en": en[str(lead)]}, ensure_ascii=False
                    ),
                    "rule_hits": len(lead_hits),
                    "rule_ids": ",".join(sorted(set(lead_hits.rule_id))),
                    "rule_amount": round(float(lead_hits.amount.sum()), 2),
                    "evidence_claims": ",".join(claims),
                }
            )
        if len(mine):
            evidence.append(
                mine.assign(lead_type=entity, lead_id=mine[key].astype(str))[EVIDENCE_COLUMNS]
            )
        log.info("%-8s %s scored, %d leads", entity, f"{len(s):,}", len(chosen))
    scores = pd.concat(table, ignore_index=True) if table else pd.DataFrame()
    leads = pd.DataFrame(lead_rows)
    if not leads.empty:
        leads = leads.sort_values(["entity_type", "rank"], kind="stable").reset_index(drop=True)
    ev = pd.concat(evidence, ignore_index=True) if evidence else pd.DataFrame()
    used = {e: versions.get(e, "?") for e in scored}
    return ScoreResult(scores, leads, ev, explained, explain_seconds, dropped, used, not_scored)
