"""Score a period: champion models → scores, leads, evidence, report and manifest."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException

from fraudml.entities import ENTITIES
from fraudml.errors import ModelError
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.features.build import dropped_summary
from fraudml.io.atomic import write_json
from fraudml.loop.marks import lead_practitioners, mark_leads, read_credit, read_status
from fraudml.models.risk import EntityModel
from fraudml.report.casepack import (
    casepack_html,
    check_pdf_printer,
    pack_name,
    printing,
)
from fraudml.report.inputs import fee_lines, fund_paid_by_entity, period_claims
from fraudml.report.render import (
    LeadContext,
    lead_cards,
    pseudonymise,
    render_html,
    write_leads_csv,
    write_xlsx,
)
from fraudml.report.settings import ReportSettings
from fraudml.rulebase import Rule
from fraudml.scoring.leads import prioritise
from fraudml.scoring.pipeline import ScoreResult, score_period
from fraudml.scoring.repeats import earlier_leads, mark_repeats, sibling_outputs
from fraudml.settings import EngineSettings, ScoreSettings
from fraudml.tracking import mlflow_store as store
from fraudml.workflows.common import (
    Data,
    Out,
    claimed,
    data_path,
    guard_store,
    opened,
    rule_base,
    window_dict,
)
from fraudml.workflows.training import tracking_folder

log = logging.getLogger("fraudml")


def champions(ns: str) -> tuple[dict[str, EntityModel], dict[str, str], dict[str, str]]:
    """The champion model of every entity type registered under ``ns``, its
    ``name@version``, and why the entity types without one are not scored."""
    models, versions, missing = {}, {}, {}
    for entity in ENTITIES:
        name = store.model_name(ns, entity)
        try:
            models[entity], version = store.load_champion(name)
        except MlflowException:
            log.warning("no champion for %s: %s is not scored", name, entity)
            missing[entity] = f"no champion model {name}"
            continue
        versions[entity] = f"{name}@{version}"
    if not models:
        raise ModelError(
            f"no champion models under the namespace {ns!r}: run `make train DATA=… "
            f"MODELS={ns}` first, or score with MODELS= set to the namespace training "
            f"used. {store.describe_namespaces(store.namespaces())}"
        )
    return models, versions, missing


@dataclass
class ScoreRun:
    """What a scoring returns: scores, leads, evidence and the deduction list as written
    (pseudonymised when asked), the pipeline's full result, the manifest and where it was
    written."""

    scores: pd.DataFrame
    leads: pd.DataFrame
    evidence: pd.DataFrame
    result: ScoreResult
    manifest: dict[str, object] = field(default_factory=dict)
    path: Path | None = None
    #: every definite violation (扣款清单), one row per hit
    violations: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: members of the group leads (``groups.parquet``) and their proof
    groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_evidence: pd.DataFrame = field(default_factory=pd.DataFrame)


def score(
    data: Data,
    period: Window,
    *,
    settings: ScoreSettings | None = None,
    rules: Sequence[Rule] | None = None,
    out: Out = None,
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    cache: str | Path | None = None,
    report: ReportSettings | None = None,
) -> ScoreRun:
    """Score every entity of ``period`` with the champion models and pick the leads.

    Parameters
    ----------
    data : path or Dataset
        The dataset folder (validated here) or a dataset already validated.
    period : Window
        ``[start, end)`` on admit_time: the month (or any period) to score.
    settings : ScoreSettings, optional
        Capacities, definite leads, report language, pseudonyms, registry namespace.
    rules : list of Rule, optional
        The rule base (the shipped one when ``None``).
    cache : path, optional
        Kept validations to reuse (or to keep this one in): :mod:`fraudml.io.cache`.
    out : path, optional
        Write ``scores.parquet``, ``leads.parquet``/``leads.csv``, ``evidence.parquet``,
        ``report.html``, ``report.xlsx``, ``casepacks/*.pdf`` and ``manifest.json``
        there, whole or not at all.
    report : ReportSettings, optional
        Case packs (the top provider leads given a PDF each) and tier thresholds.

    Raises
    ------
    ModelError
        No champion models, or models of another feature set, shape or currency.
    NothingToScoreError
        No claims admitted in the period.
    """
    started = time.perf_counter()
    settings = settings or ScoreSettings()
    report = report or ReportSettings()
    status = read_status(settings.ledger) if settings.ledger is not None else None
    credit = read_credit(settings.ledger) if settings.ledger is not None else None
    if report.case_packs and out is not None:
        check_pdf_printer()
    if period.start is None and period.end is None:
        log.warning(
            "no period given (FROM=/UNTIL=): scoring the whole dataset, the months the models "
            "were trained on included. These scores are in-sample; give FROM= and UNTIL= to "
            "score a month the models have not seen"
        )
    rules = rule_base(rules)
    folder = tracking_folder(settings.store)
    guard_store(folder, data, "models.store")
    if (
        folder is not None
        and not (Path(folder) / "mlflow.db").is_file()
        and ("MLFLOW_TRACKING_URI" not in os.environ)
    ):
        # scoring reads models; it must not leave an empty store behind where none was
        raise ModelError(
            f"no tracking store at {folder} (no mlflow.db): run `make train DATA=…` first, "
            "or set models.store (or MLFLOW_TRACKING_URI) to the store training used"
        )
    with claimed(
        out, "score", protect=[folder] if folder else [], immutable=[data_path(data)]
    ) as output:
        store.configure(settings.store)
        timings: dict[str, float] = {}
        # partitioned claims: only the period's months and the look-back before them
        with opened(data, encoding, engine, cache, until=period.end) as ds:
            ns = store.namespace(settings.namespace)
            models, versions, missing = champions(ns)
            timings["load"] = time.perf_counter() - started
            result = score_period(
                ds,
                period,
                rules,
                models,
                versions,
                dict(settings.capacity),
                definite_leads=settings.definite_leads,
                explore_share=settings.explore_share,
                explore_bar=settings.explore_bar,
            )
            timings["score_and_explain"] = time.perf_counter() - started - timings["load"]
            timings["explain"] = result.explain_seconds
            for line in dropped_summary(result.dropped):
                log.warning("%s", line)
            dataset, fingerprint = str(ds.path), ds.fingerprint
            currency, warnings = ds.currency, list(ds.warnings)
            reconciliation = {c.table: c.accepted for c in ds.reconciliation.tables}
            t0 = time.perf_counter()
            inputs = period_claims(ds, period)
            scores, leads = prioritise(
                result.scores,
                result.leads,
                _fund_paid(inputs.claims, result.groups),
                report.tiers,
            )
            if status is not None:  # the points ledger: leads' suspended or watched doctors
                doctors = ds.table("doctors").to_pandas() if "doctors" in ds else None
                leads = mark_leads(leads, status, lead_practitioners(inputs.claims, doctors))
            contexts = lead_contexts(leads, inputs.claims, period, rules)
            packs = (
                leads[leads.entity_type == "provider"].sort_values("rank").head(report.case_packs)
                if len(leads)
                else leads
            )
            pack_lines = fee_lines(ds, _pack_claims(_evidence_of(result.evidence, packs)))
            for i in packs.index:
                mine = _pack_claims(_evidence_of(result.evidence, packs.loc[[i]]))
                contexts[i].fee_lines = pack_lines[pack_lines.claim_id.isin(mine)]
                contexts[i].name = inputs.provider_names.get(str(packs.entity_id[i]), "")
            timings["report_inputs"] = time.perf_counter() - t0
        evidence = result.evidence
        violations, deductions = result.violations, result.deductions
        groups, group_proof = result.groups, result.group_evidence
        if settings.pseudonymise:
            salt = str(settings.salt)
            scores, leads, evidence, violations, groups, group_proof = (
                pseudonymise(f, salt)
                for f in (scores, leads, evidence, violations, groups, group_proof)
            )
        # A lead an earlier month raised is marked, from the scoring outputs beside this one
        history = earlier_leads(
            sibling_outputs(output.path if output else None, settings.history),
            period.start.date() if period.start else None,
            ns,
        )
        leads = mark_repeats(leads, history)
        provider_names = inputs.provider_names
        rule_names = {r.id: (r.name.zh, r.name.en) for r in rules}
        window = window_dict(period)
        manifest: dict[str, object] = {
            "dataset": dataset,
            "fingerprint": fingerprint,
            "currency": currency,
            "window": window,
            "feature_set_version": FEATURE_SET_VERSION,
            "namespace": ns,
            # an open period scores the months the models learnt from as well
            "in_sample": period.start is None and period.end is None,
            # only the models that scored; the others' reasons in not_scored
            "models": result.models,
            "not_scored": {
                e: why
                for e in ENTITIES
                if (why := missing.get(e) or result.not_scored.get(e)) is not None
            },
            "warnings": warnings,
            "explained": result.explained,
            "dropped_features": result.dropped,
            "rows": {
                "accepted_input": reconciliation,
                "scored": scores.groupby("entity_type").size().to_dict() if len(scores) else {},
                "leads": leads.groupby("entity_type").size().to_dict() if len(leads) else {},
                "repeat_leads": int(leads["repeat"].sum()) if len(leads) else 0,
                "evidence": len(evidence),
                "violations": len(violations),
                "group_members": len(groups),
                "group_evidence": len(group_proof),
            },
            "deductions": {
                "providers": len(deductions),
                "amount": round(float(deductions.amount.sum()), 2) if len(deductions) else 0.0,
            },
            "pseudonymised": settings.pseudonymise,
            "tiers": vars(report.tiers),
            "config": dict(settings.params) or _settings_params(settings),
        }
        label = f"{window['start'] or '…'} – {window['end'] or '…'}"
        if output is not None:
            with output.staging() as tmp:
                scores.to_parquet(tmp / "scores.parquet", index=False)
                leads.to_parquet(tmp / "leads.parquet", index=False)
                write_leads_csv(leads, tmp / "leads.csv")
                evidence.to_parquet(tmp / "evidence.parquet", index=False)
                violations.to_parquet(tmp / "violations.parquet", index=False)
                groups.to_parquet(tmp / "groups.parquet", index=False)
                group_proof.to_parquet(tmp / "group_evidence.parquet", index=False)
                generated = datetime.now().isoformat("T", "seconds")
                t0 = time.perf_counter()
                pages = case_pack_pages(
                    leads.loc[packs.index],
                    evidence,
                    contexts,
                    tmp / "casepacks",
                    settings.lang,
                    label,
                    generated,
                    currency,
                    settings.pseudonymise,
                )
                manifest["case_packs"] = [path.name for _, path in pages]
                # the packs print in other processes while this one writes the report and
                # the workbook (each step's seconds are this process's)
                with printing(pages) as printed:
                    packing = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    html = render_html(
                        leads,
                        evidence,
                        result.explained,
                        settings.lang,
                        label,
                        generated,
                        currency=currency,
                        deductions=deductions,
                        groups=groups,
                        group_evidence=group_proof,
                        contexts=contexts,
                        violations_count=len(violations),
                        pseudonymised=settings.pseudonymise,
                        dataset=Path(dataset).name,
                        tier_rule=report.tiers,
                        provider_names=provider_names,
                    )
                    (tmp / "report.html").write_text(html, encoding="utf-8")
                    timings["report_html"] = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    write_xlsx(
                        leads,
                        evidence,
                        tmp / "report.xlsx",
                        violations,
                        deductions,
                        groups=groups,
                        group_evidence=group_proof,
                        lang=settings.lang,
                        rule_names=rule_names,
                        credit=credit,
                    )
                    timings["report_xlsx"] = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    printed()
                timings["case_packs"] = packing + time.perf_counter() - t0
                timings["total"] = time.perf_counter() - started
                manifest["seconds"] = {k: round(v, 1) for k, v in timings.items()}
                write_json(tmp / "manifest.json", manifest)
    log.info(
        "scored %s%s (%.1f s)",
        label,
        f" into {output.path}" if output is not None else "",
        time.perf_counter() - started,
    )
    return ScoreRun(
        scores,
        leads,
        evidence,
        result,
        manifest,
        output.path if output else None,
        violations,
        groups,
        group_proof,
    )


def _fund_paid(claims: pd.DataFrame, groups: pd.DataFrame) -> dict[str, pd.Series]:
    """Fund paid in the period per lead type and entity; a group's is its patients'."""
    out = {t: fund_paid_by_entity(claims, t) for t in ("patient", "provider", "doctor", "claim")}
    if len(groups) and {"group_id", "member_type", "member_id"} <= set(groups.columns):
        patients = groups[groups.member_type == "patient"]
        paid = patients.member_id.astype(str).map(out["patient"]).fillna(0.0)
        out["group"] = paid.groupby(patients.group_id.astype(str)).sum()
    return out


def lead_contexts(
    leads: pd.DataFrame, claims: pd.DataFrame, period: Window, rules: Sequence[Rule]
) -> dict[object, LeadContext]:
    """Each lead's context for its card, by the leads' index: the claims of its entity in
    the period (a claim lead: its patient's claims), the rules' names and the period."""
    if leads.empty:
        return {}
    names = {r.id: (r.name.zh, r.name.en) for r in rules}
    start = period.start.date() if period.start else None
    end = period.end.date() if period.end else None
    keys = {e: ENTITIES[e].key for e in ("patient", "provider", "doctor")}
    cols = [c for c in ("claim_id", "admit_time", "visit_type", "fund_paid") if c in claims]
    by: dict[str, dict[str, pd.DataFrame]] = {}

    def of(key: str, ids: set[str]) -> dict[str, pd.DataFrame]:
        if key not in claims:
            return {}
        mine = claims[claims[key].isin(ids)]
        return {str(k): g[cols] for k, g in mine.groupby(key, sort=False)}

    for etype, key in keys.items():
        ids = set(leads.entity_id[leads.entity_type == etype].astype(str))
        by[etype] = of(key, ids) if ids else {}
    patient_of: dict[str, str] = {}
    claim_ids = set(leads.entity_id[leads.entity_type == "claim"].astype(str))
    if claim_ids and "patient_id" in claims:
        mine = claims[claims.claim_id.isin(claim_ids)]
        patient_of = dict(zip(mine.claim_id.astype(str), mine.patient_id.astype(str), strict=True))
        by["claim"] = of("patient_id", set(patient_of.values()))
    empty = claims.iloc[0:0][cols] if cols else pd.DataFrame()
    out: dict[object, LeadContext] = {}
    for i, row in leads.iterrows():
        etype, eid = str(row.entity_type), str(row.entity_id)
        if etype == "claim":
            eid = patient_of.get(eid, "")
        mine = by.get(etype, {}).get(eid, empty)
        out[i] = LeadContext(mine, names, start, end)
    return out


def _evidence_of(evidence: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    if evidence.empty or leads.empty or "lead_type" not in evidence:
        return evidence.iloc[0:0]
    keys = set(zip(leads.entity_type.astype(str), leads.entity_id.astype(str), strict=True))
    pairs = zip(evidence.lead_type.astype(str), evidence.lead_id.astype(str), strict=True)
    return evidence[[k in keys for k in pairs]]


def _pack_claims(hits: pd.DataFrame) -> list[str]:
    """The evidence claims a case pack lists (its first claims by amount, per lead)."""
    from fraudml.report.cards import MAX_PACK_CLAIMS

    if hits.empty or "claim_id" not in hits:
        return []
    ordered = hits.dropna(subset=["claim_id"]).assign(claim_id=lambda h: h.claim_id.astype(str))
    total = ordered.groupby(["lead_id", "claim_id"], sort=False).amount.sum().reset_index()
    total = total.sort_values(["lead_id", "amount", "claim_id"], ascending=[True, False, True])
    return list(total.groupby("lead_id").head(MAX_PACK_CLAIMS).claim_id)


def case_pack_pages(
    packs: pd.DataFrame,
    evidence: pd.DataFrame,
    contexts: dict[object, LeadContext],
    folder: Path,
    lang: str,
    window: str,
    generated: str,
    currency: str,
    pseudonymised: bool,
) -> list[tuple[str, Path]]:
    """The HTML of each lead's PDF case pack of ``packs`` and its path in ``folder``
    (made), in order: what :func:`fraudml.report.casepack.printing` prints (WeasyPrint's
    layout takes ~0.5 s of a core per pack)."""
    if packs.empty:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    cards = lead_cards(packs, evidence, lang, currency, contexts, pack=True)
    pages = []
    for (_, lead), card in zip(packs.iterrows(), cards, strict=True):
        name = pack_name(lead["rank"], str(lead.entity_id))
        html = casepack_html(card, lang, window, generated, currency, pseudonymised)
        pages.append((html, folder / name))
    return pages


def _settings_params(settings: ScoreSettings) -> dict[str, object]:
    """The settings as the manifest records them when no configuration was given (the
    salt never)."""
    return {
        k: (dict(v) if isinstance(v, dict) else str(v) if isinstance(v, Path) else v)
        for k, v in vars(settings).items()
        if k not in ("params", "salt")
    }
