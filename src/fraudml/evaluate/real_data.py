"""docs/real-data.md from one command: ``make real-data`` (``python -m
fraudml.evaluate.real_data [SRC] [DOC]``).

Imports the Medicare provider-fraud files (``fraudml import medicare``) into a temporary
dataset, then measures, by stratified cross-validation over the labelled providers:

- the toolkit as ``fraudml train +experiment=medicare`` runs it (profiles, rules, anomaly
  and supervised models, network features; the risk score), for three fold seeds;
- the same with the default LightGBM settings (why the experiment picks shallow trees);
- a quick reference: LightGBM with default settings over 16 simple provider aggregates,
  and the toolkit's own learner (the experiment's shallow-tree RiskClassifier, same
  held-out part) over the same 16 aggregates, which separates features from learner;
- naive baselines: rank by total reimbursed, by claim count;
- the shared-physician network (issue 17): providers linked by the attending physicians
  they share (:func:`fraudml.graph.edges.provider_provider_edges` through ``doctor_id``),
  Leiden groups on it, and per-fold network features (:func:`fold_network_features`:
  group size, weighted degree, out-of-fold shares of neighbours and group members known
  positive) added to the toolkit's provider frame and to the quick reference, each
  paired against the same method without them.

Every method is scored out of fold on the same folds. Nothing is registered.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from sklearn.base import clone

from fraudml.adapters import medicare
from fraudml.config import register
from fraudml.entities import OWNERS
from fraudml.evaluate.metrics import paired_difference, ranking_metrics
from fraudml.evaluate.reference_search import (
    LEARNERS,
    aggregate_pool,
    learning_curve,
    quick_scores,
    subset_search,
)
from fraudml.features import FEATURE_SET_VERSION, Window
from fraudml.features.build import dropped_summary
from fraudml.graph.communities import MIN_GROUP_SIZE, leiden_groups
from fraudml.graph.edges import provider_provider_edges
from fraudml.graph.propagation import (
    group_flagged_share,
    neighbour_flagged_share,
    with_group_labels,
)
from fraudml.io import load_dataset
from fraudml.io.load import Dataset
from fraudml.io.write import write_dataset
from fraudml.log import setup_logging
from fraudml.models.estimators import RiskClassifier
from fraudml.models.fitting import cv_fitter, fit_in_order
from fraudml.models.frames import (
    checked_entities,
    frames_and_hits,
    labels_as_of,
    model_columns,
)
from fraudml.models.risk import fit_entity, score_frame
from fraudml.models.training import TrainingResult, cross_validate, entity_folds, inner_split
from fraudml.paths import conf_dir
from fraudml.window import prepare
from fraudml.workflows import load_rule_base

log = logging.getLogger("fraudml")

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SRC = ROOT.parent / "shared" / "realdata" / "medicare-kaggle"
SEEDS_AFTER = (0, 1, 2)  # fold seeds: cfg.seed + each
KS = (50, 100)
N_SUBSETS = 60  # random 16-aggregate quick models tried, each with both learners
FRACTIONS = (0.25, 0.5, 0.75, 1.0)  # shares of each training fold in the learning curve


def quick_aggregates(claims: pd.DataFrame) -> pd.DataFrame:
    """The quick reference's 16 simple per-provider aggregates of the claims."""
    c = claims.assign(los=(claims.discharge_time - claims.admit_time).dt.days)
    g = c.groupby("provider_id")
    out = pd.DataFrame(
        {
            "n_claims": g.size(),
            "n_patients": g.patient_id.nunique(),
            "n_attending": g.doctor_id.nunique(),
            "n_operating": g.operating_doctor_id.nunique(),
            "n_other": g.other_doctor_id.nunique(),
            "reimbursed_sum": g.fund_paid.sum(),
            "reimbursed_mean": g.fund_paid.mean(),
            "reimbursed_max": g.fund_paid.max(),
            "deductible_sum": g.cash_paid.sum(),
            "deductible_mean": g.cash_paid.mean(),
            "total_sum": g.total_amount.sum(),
            "los_mean": g.los.mean(),
            "los_max": g.los.max(),
            "los_sum": g.los.sum(),
            "n_diagnoses": g.diagnosis_code.nunique(),
        }
    )
    out["claims_per_patient"] = out.n_claims / out.n_patients
    out.index = out.index.astype(str)
    return out


def learner_on(
    X: pd.DataFrame, y: pd.Series, folds: list, seed: int, learner: RiskClassifier
) -> pd.Series:
    """Out-of-fold scores of the toolkit's learner over ``X``, holding out the same
    stratified fifth of each training fold for early stopping and calibration."""
    score = pd.Series(np.nan, index=y.index)
    for train_idx, test_idx in folds:
        fit_idx, later_idx = inner_split(y.iloc[train_idx], seed)
        Xt, yt = X.iloc[train_idx].to_numpy(float), y.iloc[train_idx].to_numpy()
        model = clone(learner).fit(
            Xt[fit_idx], yt[fit_idx], eval_set=(Xt[later_idx], yt[later_idx])
        )
        score.iloc[test_idx] = model.risk_score(X.iloc[test_idx].to_numpy(float))
    return score


# --- the shared-physician network (issue 17) ---------------------------------------------

#: the network features added per fold, in this order (``net_``: supervised model only)
PHYSICIAN_NETWORK_FEATURES = (
    "net_physician_group_size",
    "net_physician_degree",
    "net_physician_neighbour_flagged_share",
    "net_physician_group_flagged_share",
)
#: comparisons of the network section: (with the network, without it)
NETWORK_PAIRS = {
    "toolkit_network_vs_toolkit": ("toolkit_network", "toolkit"),
    "quick_network_vs_quick": ("quick_network", "quick"),
    "quick_learner_network_vs_quick_learner": ("quick_learner_network", "quick_learner"),
    "toolkit_network_vs_quick": ("toolkit_network", "quick"),
}


@dataclass
class PhysicianNetwork:
    """Providers linked by the physicians they share, and its Leiden groups."""

    #: ``src`` < ``dst`` (provider ids), ``weight`` (distinct shared attending physicians)
    edges: pd.DataFrame
    #: ``member_id`` (provider), ``group_id``, ``group_size`` (groups of 3 or more)
    groups: pd.DataFrame


def physician_network(ds: Dataset) -> PhysicianNetwork:
    """The whole period's provider–provider edges through shared attending physicians
    (``doctor_id``), built by the engine, and Leiden on them. Label-free."""
    claims = prepare(ds, Window(), fees=False).claims
    edges = provider_provider_edges(claims, "doctor_id").to_pandas()
    edges = (
        edges[["src", "dst", "weight"]]
        .astype({"src": str, "dst": str, "weight": float})
        .sort_values(["src", "dst"])
        .reset_index(drop=True)
    )
    return PhysicianNetwork(edges, leiden_groups(edges))


def weighted_degree(edges: pd.DataFrame, ids: pd.Index) -> pd.Series:
    """Each id's summed edge weight (0 without an edge)."""
    both = pd.concat(
        [
            edges[["src", "weight"]].set_axis(["node", "weight"], axis=1),
            edges[["dst", "weight"]].set_axis(["node", "weight"], axis=1),
        ]
    )
    return both.groupby("node").weight.sum().reindex(ids, fill_value=0.0).astype(float)


def network_features(
    net: PhysicianNetwork, ids: pd.Index, positives: pd.Index, *, out_of_fold: bool
) -> pd.DataFrame:
    """:data:`PHYSICIAN_NETWORK_FEATURES` of ``ids`` when ``positives`` are the labels
    known: the size of the provider's Leiden group (0 outside one), its weighted degree,
    the weighted share of its neighbours known positive
    (:func:`~fraudml.graph.propagation.neighbour_flagged_share`) and the share of its
    other group members known positive
    (:func:`~fraudml.graph.propagation.group_flagged_share`), both counting only
    neighbours and members of other hash folds when ``out_of_fold``."""
    ids = pd.Index(ids).astype(str)
    members = net.groups.set_index("member_id")
    group = members.group_id if len(members) else pd.Series(dtype=object)
    return pd.DataFrame(
        {
            "net_physician_group_size": (
                members.group_size.reindex(ids).fillna(0).astype(float).to_numpy()
                if len(members)
                else np.zeros(len(ids))
            ),
            "net_physician_degree": weighted_degree(net.edges, ids).to_numpy(),
            "net_physician_neighbour_flagged_share": neighbour_flagged_share(
                net.edges, positives, ids, out_of_fold=out_of_fold
            ).to_numpy(),
            "net_physician_group_flagged_share": (
                group_flagged_share(group, positives, out_of_fold=out_of_fold)
                .reindex(ids)
                .fillna(0.0)
                .to_numpy()
            ),
        },
        index=ids,
    )


def fold_network_features(
    net: PhysicianNetwork, y: pd.Series, train_idx: np.ndarray, test_idx: np.ndarray
) -> pd.DataFrame:
    """The network features of one cross-validation fold, rows as ``y``.

    Only the training part's positive labels are known. Held-out providers read them as
    they are (scoring sees every known label); training providers read them out of fold
    (inner hash folds, as the toolkit's propagated group labels), so no provider ever
    reads its own label and no held-out label reaches any feature.
    """
    train = y.iloc[train_idx]
    positives = pd.Index(train.index[train.to_numpy() == 1]).astype(str)
    parts = [
        network_features(net, y.index[train_idx], positives, out_of_fold=True),
        network_features(net, y.index[test_idx], positives, out_of_fold=False),
    ]
    return pd.concat(parts).reindex(pd.Index(y.index).astype(str))


def provider_frame(
    frames: Mapping[str, pd.DataFrame], labels: pd.DataFrame | None, **cv: object
) -> pd.DataFrame:
    """The provider frame exactly as :func:`cross_validate`'s provider model reads it:
    ``frames`` (the whole period's profiles with rule aggregates) after the claim and
    patient models are cross-validated with ``cv`` (:func:`cv_fitter`'s arguments) and
    their scores become the owners' network features."""
    fitter = cv_fitter(labels, **cv)

    def claims_and_patients(entity: str, windows: Mapping[str, pd.DataFrame]):
        return None if entity in OWNERS else fitter(entity, windows)

    _, seen = fit_in_order({"all": frames}, claims_and_patients)
    every = seen["all"]["provider"]
    # as cv_fitter does first (no-op without a group column)
    return with_group_labels(every, labels_as_of(labels, "provider", None).index, out_of_fold=True)


def provider_cv_scores(
    every: pd.DataFrame,
    labels: pd.DataFrame | None,
    y: pd.Series,
    folds: list,
    seed: int,
    fit_kwargs: dict,
    extra: list[pd.DataFrame] | None = None,
) -> pd.Series:
    """Out-of-fold ``risk`` of the toolkit's provider model on ``folds``, fitted as
    :func:`cv_fitter` fits it (same inputs, inner split, rule lift, fusion), with each
    fold's ``extra`` columns (rows as ``y``) added to its inputs when given."""
    checked = checked_entities(labels, "provider")
    frame = every[every.index.isin(checked)] if checked is not None else every
    positive = frame.index.isin(labels_as_of(labels, "provider", None).index)
    if not frame.index.equals(pd.Index(y.index).astype(str)) or (positive != y.to_numpy()).any():
        raise ValueError("the provider frame's labelled rows are not the toolkit's")
    features, anomaly_features = model_columns(every, "provider")
    score = pd.Series(np.nan, index=y.index)
    for k, (train_idx, test_idx) in enumerate(folds):
        part, test, names = frame, frame, features
        if extra is not None:
            added = extra[k].set_axis(frame.index)
            part = test = frame.join(added)
            names = [*features, *added.columns]
        part, y_part = part.iloc[train_idx], y.iloc[train_idx]
        fit_idx, later_idx = inner_split(y_part, seed)
        model = fit_entity(
            "provider",
            part.iloc[fit_idx],
            y_part.iloc[fit_idx],
            part.iloc[later_idx],
            y_part.iloc[later_idx],
            features=names,
            anomaly_features=anomaly_features,
            **fit_kwargs,
        )
        score.iloc[test_idx] = score_frame(model, test.iloc[test_idx])["risk"].to_numpy()
    return score


def per_fold(
    scorer, X: pd.DataFrame, y: pd.Series, folds: list, extra: list[pd.DataFrame]
) -> pd.Series:
    """Out-of-fold scores of ``scorer(X, y, folds)`` with each fold's ``extra`` columns
    joined to ``X`` for that fold only."""
    score = pd.Series(np.nan, index=y.index)
    for (train_idx, test_idx), added in zip(folds, extra, strict=True):
        Xk = X.join(added.set_axis(X.index))
        score.iloc[test_idx] = scorer(Xk, y, [(train_idx, test_idx)]).iloc[test_idx].to_numpy()
    return score


def network_summary(net: PhysicianNetwork, y: pd.Series, n_providers: int) -> dict[str, float]:
    """How much of the labelled data the network touches."""
    ids = pd.Index(y.index).astype(str)
    linked = ids.isin(pd.Index(pd.concat([net.edges.src, net.edges.dst]).unique()))
    grouped = ids.isin(net.groups.member_id)
    between = net.edges[net.edges.src.isin(ids) & net.edges.dst.isin(ids)]
    ends = y.set_axis(ids)
    both = (ends.reindex(between.src).to_numpy() == 1) & (ends.reindex(between.dst).to_numpy() == 1)
    return {
        "edges": len(net.edges),
        "providers": n_providers,
        "linked": int(pd.concat([net.edges.src, net.edges.dst]).nunique()),
        "groups": int(net.groups.group_id.nunique()) if len(net.groups) else 0,
        "grouped": len(net.groups),
        "labelled": len(ids),
        "labelled_linked": int(linked.sum()),
        "labelled_linked_positive": int(y.to_numpy()[linked].sum()),
        "labelled_grouped": int(grouped.sum()),
        "labelled_grouped_positive": int(y.to_numpy()[grouped].sum()),
        "labelled_edges": len(between),
        "labelled_edges_both_positive": int(both.sum()),
        "max_weight": float(net.edges.weight.max()) if len(net.edges) else 0.0,
    }


def metrics(y: pd.Series, score: pd.Series) -> dict[str, float]:
    m = {k: ranking_metrics(y.to_numpy(), score.to_numpy(dtype=float), k) for k in KS}
    first = m[KS[0]]
    return {
        "roc_auc": first["roc_auc"],
        "ap": first["ap"],
        **{f"p@{k}": m[k]["precision_at_k"] for k in KS},
    }


def _mean(results: dict[str, list[dict[str, float]]], method: str, key: str) -> float:
    return float(np.mean([x[key] for x in results[method]]))


def _std(results: dict[str, list[dict[str, float]]], method: str, key: str) -> float:
    return float(np.std([x[key] for x in results[method]]))


def _row(name: str, values: list[dict[str, float]]) -> str:
    cells = []
    for key in ("roc_auc", "ap", *(f"p@{k}" for k in KS)):
        v = np.array([x[key] for x in values])
        cells.append(f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v[0]:.3f}")
    return f"| {name} | " + " | ".join(cells) + " |"


def evaluate(
    src: Path,
    work: Path,
    seeds: tuple[int, ...] = SEEDS_AFTER,
    n_subsets: int = N_SUBSETS,
    overrides: tuple[str, ...] = (),
) -> tuple[str, dict]:
    """Import, cross-validate, compare; the markdown and the raw numbers.

    ``seeds`` are the fold seeds (offsets from the config's seed), ``n_subsets`` the
    random quick models of the search, ``overrides`` extra Hydra overrides of the
    training config (a test shrinks the models with them).
    """
    started = time.perf_counter()
    files = medicare.find_sources(src)
    tables = medicare.convert(files)
    data = write_dataset(tables, work / "medicare", metadata=medicare.METADATA)
    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        base = ["+experiment=medicare", f"data.path={data}", *overrides]
        cfg = compose(config_name="train", overrides=base)
        default_cfg = compose(config_name="train", overrides=[*base, "model=lightgbm"])
    rules = load_rule_base(cfg.rules.files)
    results: dict[str, list[dict[str, float]]] = {}
    paired: list[dict[str, float]] = []
    network_paired: dict[str, list[dict[str, float]]] = {k: [] for k in NETWORK_PAIRS}
    reproduced: list[float] = []
    last: TrainingResult | None = None
    with load_dataset(data, memory_limit=cfg.engine.memory_limit) as ds:
        claims = ds.table("claims").to_pandas()
        patients = ds.table("patients").to_pandas()
        labels = ds.table("labels").to_pandas() if "labels" in ds else None
        aggregates = quick_aggregates(claims)  # the same for every fold seed
        log.info("the shared-physician network and its Leiden groups")
        net = physician_network(ds)  # label-free: the same for every fold seed
        profiles = frames_and_hits(ds, Window(), rules)[0]  # label-free, as cross_validate's
        for label, conf, offsets in (
            ("toolkit", cfg, seeds),
            ("toolkit_default_model", default_cfg, seeds[:1]),
        ):
            for offset in offsets:
                seed = int(cfg.seed) + offset
                log.info("cross-validation: %s, fold seed %d", label, seed)
                result = cross_validate(
                    ds,
                    rules,
                    folds=int(conf.evaluate.folds),
                    seed=seed,
                    anomaly=instantiate(conf.anomaly, _convert_="all"),
                    supervised=instantiate(conf.model, _convert_="all"),
                    capacity=dict(conf.evaluate.capacity),
                    min_positives=int(conf.train.min_positives),
                )
                scored = result.scores["provider"].sort_index()
                y = scored["label"].astype(int)
                results.setdefault(label, []).append(metrics(y, scored["risk"]))
                if label == "toolkit":
                    last = result
                    quick = aggregates.reindex(y.index)
                    folds = entity_folds(y, int(conf.evaluate.folds), seed)
                    quick_score = quick_scores(quick, y, folds, LEARNERS["default"], seed)
                    results.setdefault("quick", []).append(metrics(y, quick_score))
                    paired.append(
                        paired_difference(y.to_numpy(), scored["risk"].to_numpy(), quick_score)
                    )
                    learner = instantiate(conf.model, _convert_="all")
                    learner_score = learner_on(quick, y, folds, seed, learner)
                    results.setdefault("quick_learner", []).append(metrics(y, learner_score))
                    log.info("the shared-physician network's lift, fold seed %d", seed)
                    extra = [fold_network_features(net, y, tr, te) for tr, te in folds]
                    fit_kwargs = dict(
                        anomaly=instantiate(conf.anomaly, _convert_="all"),
                        supervised=instantiate(conf.model, _convert_="all"),
                        min_positives=int(conf.train.min_positives),
                        feature_set_version=FEATURE_SET_VERSION,
                        rule_lift=None,
                        currency=ds.currency,
                        fusion=None,
                    )
                    every = provider_frame(
                        profiles,
                        labels,
                        folds=int(conf.evaluate.folds),
                        seed=seed,
                        **fit_kwargs,
                    )
                    again = provider_cv_scores(every, labels, y, folds, seed, fit_kwargs)
                    reproduced.append(float(np.nanmax(np.abs(again - scored["risk"]))))
                    scores = {
                        "toolkit": scored["risk"],
                        "toolkit_network": provider_cv_scores(
                            every, labels, y, folds, seed, fit_kwargs, extra
                        ),
                        "quick": quick_score,
                        "quick_network": per_fold(
                            partial(quick_scores, params=LEARNERS["default"], seed=seed),
                            quick,
                            y,
                            folds,
                            extra,
                        ),
                        "quick_learner": learner_score,
                        "quick_learner_network": per_fold(
                            partial(learner_on, seed=seed, learner=learner),
                            quick,
                            y,
                            folds,
                            extra,
                        ),
                    }
                    for name in ("toolkit_network", "quick_network", "quick_learner_network"):
                        results.setdefault(name, []).append(metrics(y, scores[name]))
                    for key, (a, b) in NETWORK_PAIRS.items():
                        network_paired[key].append(
                            paired_difference(
                                y.to_numpy(), scores[a].to_numpy(), scores[b].to_numpy()
                            )
                        )
                    summary = network_summary(net, y, len(tables["providers"]))
                    results.setdefault("supervised", []).append(metrics(y, scored["supervised"]))
                    results.setdefault("anomaly", []).append(metrics(y, scored["anomaly_score"]))
                    results.setdefault("extremes", []).append(metrics(y, scored["signal_score"]))
                    results.setdefault("reimbursed", []).append(metrics(y, quick["reimbursed_sum"]))
                    results.setdefault("claims", []).append(metrics(y, quick["n_claims"]))
    assert last is not None
    search = reach_of_quick_models(
        claims,
        patients,
        aggregates,
        last,
        int(cfg.seed) + seeds[0],
        int(cfg.evaluate.folds),
        n_subsets,
    )
    seconds = time.perf_counter() - started
    sizes = {name: len(frame) for name, frame in tables.items()}
    network = {"paired": network_paired, "reproduced": reproduced, "summary": summary}
    text = render(
        results,
        paired,
        search,
        last,
        sizes,
        files,
        [int(cfg.seed) + o for o in seeds],
        int(cfg.evaluate.folds),
        seconds,
        network,
    )
    return text, {"results": results, "paired": paired, "sizes": sizes, "network": network}


def reach_of_quick_models(
    claims: pd.DataFrame,
    patients: pd.DataFrame,
    aggregates: pd.DataFrame,
    result: TrainingResult,
    seed: int,
    folds: int,
    n_subsets: int,
) -> dict[str, pd.DataFrame]:
    """The subset search and the learning curve on the first fold seed's folds."""
    y = result.scores["provider"].sort_index()["label"].astype(int)
    pool = aggregate_pool(claims, patients).reindex(y.index)
    split = entity_folds(y, folds, seed)
    log.info(
        "reference search: %d random 16-aggregate quick models × %d learners over %d aggregates",
        n_subsets,
        len(LEARNERS),
        pool.shape[1],
    )
    found = subset_search(pool, y, split, n_subsets, size=16, seed=seed)
    quick = aggregates.reindex(y.index)
    curve = learning_curve(quick, y, split, FRACTIONS, LEARNERS["shallow"], seed=seed)
    return {"search": found, "curve": curve, "pool": pool.columns.to_frame(index=False)}


def render(
    results: dict[str, list[dict[str, float]]],
    paired: list[dict[str, float]],
    search: dict[str, pd.DataFrame],
    result: TrainingResult,
    sizes: dict[str, int],
    files: medicare.SourceFiles,
    fold_seeds: list[int],
    folds: int,
    seconds: float,
    network: dict,
) -> str:
    scored = result.scores["provider"]
    n, pos = len(scored), int(scored["label"].sum())
    model = result.models["provider"]
    lines = [
        "# Real data: Medicare provider fraud / 真实数据：美国 Medicare 机构欺诈",
        "",
        f"Generated by `make real-data` on {date.today().isoformat()} in {seconds:.0f} s "
        '(2 cores). Source: the public Kaggle data "Healthcare Provider Fraud Detection '
        'Analysis" (US Medicare claims of 2009), read from '
        f"{', '.join(f'`{p.name}`' for p in vars(files).values() if p is not None)}. "
        f"{'No outpatient file: inpatient claims only. ' if files.outpatient is None else ''}"
        "Imported with `fraudml import medicare SRC OUT`: "
        + ", ".join(f"{k} {v:,}" for k, v in sizes.items())
        + ". No fee lines exist in this data.",
        "",
        f"**Protocol.** The labels are one list per provider for the whole period (no "
        f"decision dates), so evaluation is stratified {folds}-fold "
        f"cross-validation by provider (`evaluate.mode=cv`). Of the providers with claims, "
        f"{n:,} carry a label ({pos} potentially fraudulent, {pos / n:.1%}); as the labels "
        "hold explicit negatives, models learn from and are measured on these only, and "
        "the unlabelled providers are scored but not counted. Every method below is scored "
        f"out of fold on the same folds. Mean ± standard deviation over {len(fold_seeds)} "
        f"fold seeds ({', '.join(map(str, fold_seeds))}) where shown.",
        "",
        "| method | ROC-AUC | AP | precision@50 | precision@100 |",
        "|---|---:|---:|---:|---:|",
        _row("**fraudml** (`fraudml train +experiment=medicare`: risk score)", results["toolkit"]),
        _row("fraudml's LightGBM alone (the same run)", results["supervised"]),
        _row(
            "fraudml with the default LightGBM settings (`model=lightgbm`)",
            results["toolkit_default_model"],
        ),
        _row(
            "quick reference: default LightGBM over 16 simple provider aggregates", results["quick"]
        ),
        _row(
            "fraudml's learner (shallow-tree RiskClassifier) over the same 16 aggregates",
            results["quick_learner"],
        ),
        _row("fraudml's isolation forest alone (no labels)", results["anomaly"]),
        _row(
            "fraudml's signal extremes alone (no labels: the capacity's reserve ranks by them)",
            results["extremes"],
        ),
        _row("baseline: rank by total reimbursed", results["reimbursed"]),
        _row("baseline: rank by claim count", results["claims"]),
        "",
        "For scale, the issue that asked for this page quotes about ROC-AUC 0.91 and AP 0.76 "
        "for a quick LightGBM over 16 simple aggregates of these inpatient-only providers, "
        "and ROC-AUC 0.93–0.97, AP 0.72–0.76 in published work on the full data with the "
        "outpatient claims. The quick reference above is this page's own reconstruction "
        "(the 16 aggregates are listed in `fraudml/evaluate/real_data.py`), run on the "
        "same folds; the next section asks whether any such quick model reaches the "
        "quoted bar here.",
        "",
        "**fraudml against the quick reference, paired.** AP difference on the same "
        "providers and folds, with a 95% interval from a class-stratified bootstrap over "
        "providers (1,000 replicates; both scores resampled together):",
        "",
        "| fold seed | AP difference | 95% interval | replicates where fraudml is higher |",
        "|---|---:|---:|---:|",
        *(
            f"| {fold_seeds[i]} | {d['diff']:+.3f} | [{d['lo']:+.3f}, {d['hi']:+.3f}] | "
            f"{d['share_a_better']:.0%} |"
            for i, d in enumerate(paired)
        ),
        "",
        *render_network(results, network, fold_seeds),
        *render_search(search, fold_seeds[0]),
        "## What the provider model reads",
        "",
        f"{len(model.features)} inputs (profile features, peer z-scores, rule aggregates, "
        "network features from the stay and patient scores, the anomaly score). Features "
        "this data cannot give are dropped and listed, never zero-filled:",
        "",
    ]
    lines += [f"- {line}" for line in dropped_summary(result.dropped)]
    if model.supervised is not None:
        gain = pd.Series(model.supervised.booster_.feature_importances_, index=model.features)
        top = gain.sort_values(ascending=False).head(12)
        lines += [
            "",
            "Most used inputs of the final provider model (split counts):",
            "",
            "| input | splits |",
            "|---|---:|",
            *(f"| `{name}` | {int(v)} |" for name, v in top.items()),
            "",
            f"Rule lift chosen on the held-out slice: {model.rule_lift:g}.",
        ]
    lines += [
        "",
        "## Reading it",
        "",
        "- Volume dominates this data: ranking by total reimbursed alone reaches "
        f"{_mean(results, 'reimbursed', 'ap') / _mean(results, 'toolkit', 'ap'):.0%} of the "
        "toolkit's average precision.",
        f"- Against the quick reference on the same folds, fraudml's risk score is "
        f"{_mean(results, 'toolkit', 'roc_auc') - _mean(results, 'quick', 'roc_auc'):+.3f} "
        f"ROC-AUC and {_mean(results, 'toolkit', 'ap') - _mean(results, 'quick', 'ap'):+.3f} "
        f"AP (fold-seed standard deviation of the AP: "
        f"{_std(results, 'toolkit', 'ap'):.3f} and {_std(results, 'quick', 'ap'):.3f}).",
        f"- Paired on the same providers, fraudml's AP is higher than the quick reference's "
        f"in {sum(d['diff'] > 0 for d in paired)} of {len(paired)} fold seeds, and "
        f"{'every' if all(d['lo'] <= 0 <= d['hi'] for d in paired) else 'not every'} 95% "
        "interval holds zero: on these files fraudml does not clearly beat it.",
        f"- The best of {len(search['search'])} quick models tried on the first fold "
        f"seed's folds reaches AP {search['search'].ap.max():.3f}, and the best ROC-AUC of "
        f"any is {search['search'].roc_auc.max():.3f}, each picked on the folds that "
        "measure it (optimistic). The quoted 0.91 / 0.76 is not reproduced here: "
        "models of provider aggregates, fraudml's included, meet at about the same level "
        "on these inpatient-only files.",
        f"- From {curve_rows(search, -2)} to {curve_rows(search, -1)} training providers "
        f"the 16 aggregates with shallow trees gain {curve_gain(search):+.3f} AP: more "
        "labels of this kind would buy little.",
        f"- fraudml's own learner over the 16 aggregates scores "
        f"{_mean(results, 'quick_learner', 'roc_auc'):.3f} ROC-AUC and "
        f"{_mean(results, 'quick_learner', 'ap'):.3f} AP: the shallow-tree learner is what "
        "lifts the quick reference here, and the richer profiles (network, case mix, "
        "amount spread, rules, peer comparison) add nothing measurable beyond volume and "
        "stay length on these inpatient-only claims.",
        "- Shared physicians (issue 17): the network "
        f"{'lifts' if network_verdict(network['paired'])[0] else 'does not lift'} provider "
        "AP beyond the quick reference (numbers in the section on it above).",
        "- Money is in US dollars and diagnoses are ICD-9 here: the adapter keeps the "
        "source's values and declares the currency in the dataset's `dataset.json`, so "
        "reports write US dollars (see `fraudml/adapters/medicare.py`).",
        "",
    ]
    return "\n".join(lines)


NETWORK_LABELS = {
    "toolkit_network_vs_toolkit": "fraudml + network − fraudml",
    "quick_network_vs_quick": "quick reference + network − quick reference",
    "quick_learner_network_vs_quick_learner": (
        "fraudml's learner over the 16 aggregates + network − the same without"
    ),
    "toolkit_network_vs_quick": "fraudml + network − quick reference",
}


def clearly(paired: list[dict[str, float]]) -> str:
    """``higher`` when every fold seed's 95% interval lies above zero, ``lower`` when
    every one lies below, else ``unclear``."""
    if paired and all(d["lo"] > 0 for d in paired):
        return "higher"
    if paired and all(d["hi"] < 0 for d in paired):
        return "lower"
    return "unclear"


def network_verdict(paired: dict[str, list[dict[str, float]]]) -> tuple[bool, str]:
    """Whether the network lifts provider AP (its own contribution to one of the methods
    clearly positive: every fold seed's 95% interval above zero), and the sentences that
    say so with the numbers."""
    own = {
        "toolkit_network_vs_toolkit": "fraudml",
        "quick_network_vs_quick": "the quick reference",
        "quick_learner_network_vs_quick_learner": "fraudml's learner over the 16 aggregates",
    }
    lifts = any(clearly(paired[k]) == "higher" for k in own)
    parts = [
        f"{name} {np.mean([d['diff'] for d in paired[k]]):+.3f} (interval above zero in "
        f"{sum(d['lo'] > 0 for d in paired[k])} of {len(paired[k])} fold seeds)"
        for k, name in own.items()
    ]
    head = (
        "The shared-physician network lifts provider AP on these files"
        if lifts
        else "The shared-physician network does not lift provider AP beyond the quick "
        "reference on these files"
    )
    return lifts, (
        f"{head}. Its own contribution, the mean paired AP difference over fold seeds: "
        + ", ".join(parts)
        + "; a lift counts only when every fold seed's 95% interval lies above zero"
    )


def render_network(
    results: dict[str, list[dict[str, float]]], network: dict, fold_seeds: list[int]
) -> list[str]:
    """The section on the shared-physician network (issue 17)."""
    s, paired = network["summary"], network["paired"]
    lifts, sentence = network_verdict(paired)
    names = {
        "toolkit": "fraudml",
        "quick": "the quick reference",
        "quick_learner": "fraudml's learner over the 16 aggregates",
    }
    ap = {m: _mean(results, m, "ap") for m in names}
    ap_net = {m: _mean(results, f"{m}_network", "ap") for m in names}
    top, top_net = max(ap, key=ap.get), max(ap_net, key=ap_net.get)
    best_without = (names[top], ap[top])
    best_with = (f"{names[top_net]} + network", ap_net[top_net])
    linked_rate = s["labelled_linked_positive"] / max(s["labelled_linked"], 1)
    grouped_rate = s["labelled_grouped_positive"] / max(s["labelled_grouped"], 1)
    lines = [
        "## Does the shared-physician network lift provider AP? / 共享医师网络",
        "",
        "**The network.** Two providers are linked when the same attending physician "
        "(`doctor_id`) bills claims at both; the edge's weight is the number of distinct "
        "physicians they share (`fraudml.graph.edges.provider_provider_edges(claims, "
        'via="doctor_id")`, on the whole period\'s claims, in the engine). '
        f"{s['edges']:,} edges join {s['linked']:,} of the {s['providers']:,} providers "
        f"(the heaviest: {s['max_weight']:.0f} shared physicians); Leiden "
        "(`fraudml.graph.communities.leiden_groups`) finds "
        f"{s['groups']:,} groups of {MIN_GROUP_SIZE} or more holding {s['grouped']:,} "
        f"providers. Of the {s['labelled']:,} labelled providers, {s['labelled_linked']:,} "
        f"have a neighbour ({s['labelled_linked_positive']} potentially fraudulent, "
        f"{linked_rate:.0%}) and {s['labelled_grouped']:,} are in a group "
        f"({s['labelled_grouped_positive']}, {grouped_rate:.0%}); "
        f"{s['labelled_edges']:,} edges join two labelled providers, "
        f"{s['labelled_edges_both_positive']} of them two positives.",
        "",
        "**Features**, added in each fold (`fold_network_features` in "
        "`fraudml/evaluate/real_data.py`):",
        "",
        "- `net_physician_group_size`: the size of the provider's Leiden group (0 outside "
        f"a group of {MIN_GROUP_SIZE} or more);",
        "- `net_physician_degree`: its weighted degree, the summed weight of its edges;",
        "- `net_physician_neighbour_flagged_share`: the weighted share of its neighbours "
        "known positive, the weight of its edges to known positives over the weight of "
        "all its counted edges (`fraudml.graph.propagation.neighbour_flagged_share`);",
        "- `net_physician_group_flagged_share`: the share of its other group members known "
        "positive (`fraudml.graph.propagation.group_flagged_share`).",
        "",
        "In each fold only the training part's labels are known. A held-out provider's "
        "shares read the training providers' positive labels (held-out and unlabelled "
        "neighbours count as not known positive); a training provider's shares count only "
        "neighbours and group members of other hash folds (`entity_fold`, inner out of "
        "fold), so no provider reads its own label and no held-out label reaches any "
        "feature. Group size and degree read no label. The toolkit's provider profile "
        "already holds the label-free `doctor_linked_providers` and `shared_doctor_share`.",
        "",
        "**Methods**, on the same folds and fold seeds as the table above. fraudml + "
        "network: the toolkit's provider model re-fitted in each fold as "
        "`cross_validate` fits it (the same provider frame, inputs, inner split, rule "
        "lift and fusion; the risk score), with the four features added to the "
        "supervised inputs (not to the isolation forest's). Without them the re-fit "
        "reproduces the toolkit's out-of-fold risk scores (largest difference "
        f"{max(network['reproduced']):.1e}). Quick reference + network: the 16 aggregates "
        "and the four features, default LightGBM; likewise with fraudml's learner.",
        "",
        "| method | ROC-AUC | AP | precision@50 | precision@100 |",
        "|---|---:|---:|---:|---:|",
        _row("**fraudml** (risk score, as above)", results["toolkit"]),
        _row("fraudml + shared-physician network", results["toolkit_network"]),
        _row("quick reference (default LightGBM, 16 aggregates)", results["quick"]),
        _row("quick reference + shared-physician network", results["quick_network"]),
        _row("fraudml's learner over the 16 aggregates", results["quick_learner"]),
        _row(
            "fraudml's learner over the 16 aggregates + shared-physician network",
            results["quick_learner_network"],
        ),
        "",
        "Paired AP differences on the same providers and folds (class-stratified "
        "bootstrap over providers, 1,000 replicates, both scores resampled together):",
        "",
        "| comparison | fold seed | AP difference | 95% interval | replicates where the "
        "first is higher |",
        "|---|---|---:|---:|---:|",
        *(
            f"| {NETWORK_LABELS[key]} | {fold_seeds[i]} | {d['diff']:+.3f} | "
            f"[{d['lo']:+.3f}, {d['hi']:+.3f}] | {d['share_a_better']:.0%} |"
            for key in NETWORK_PAIRS
            for i, d in enumerate(paired[key])
        ),
        "",
        f"**Verdict: {'yes' if lifts else 'no'}.** {sentence}. "
        f"fraudml with the network against the quick reference: "
        f"{np.mean([d['diff'] for d in paired['toolkit_network_vs_quick']]):+.3f} AP, "
        f"{_clear_text(clearly(paired['toolkit_network_vs_quick']))}. "
        f"The best mean AP with the network is {best_with[1]:.3f} ({best_with[0]}), "
        f"without it {best_without[1]:.3f} ({best_without[0]}). "
        "Measured by `make real-data` (`python -m fraudml.evaluate.real_data`), which "
        "writes this page.",
        "",
    ]
    return lines


def _clear_text(verdict: str) -> str:
    return {
        "higher": "every fold seed's 95% interval above zero",
        "lower": "every fold seed's 95% interval below zero",
        "unclear": "not every fold seed's 95% interval on one side of zero",
    }[verdict]


def curve_rows(search: dict[str, pd.DataFrame], i: int) -> str:
    return f"{search['curve'].train_rows.iloc[i]:,.0f}"


def curve_gain(search: dict[str, pd.DataFrame]) -> float:
    ap = search["curve"].ap
    return float(ap.iloc[-1] - ap.iloc[-2])


def render_search(search: dict[str, pd.DataFrame], seed: int) -> list[str]:
    """The section on how far quick models reach on these files."""
    found, curve = search["search"], search["curve"]
    best = found.iloc[0]
    quantiles = found.ap.quantile([0.5, 0.9])
    return [
        "## How far does a quick model reach on these files?",
        "",
        f"A pool of {len(search['pool'])} simple per-provider aggregates (claim count; "
        "distinct patients, physicians, diagnoses and DRGs; sum, mean and maximum of "
        "reimbursed, deductible, stay length, patient age, chronic conditions and death, "
        "operating and other physician present, and how many claims and providers each "
        "claim's patient and attending physician have; `fraudml/evaluate/"
        f"reference_search.py`). {found.subset.nunique()} random subsets of 16 of them, "
        f"each with LightGBM's defaults and with shallow trees, on the folds of seed {seed}:",
        "",
        "| | AP | ROC-AUC |",
        "|---|---:|---:|",
        f"| best quick model (by AP; {best.learner} learner) | {best.ap:.3f} | "
        f"{best.roc_auc:.3f} |",
        f"| best ROC-AUC of any quick model | {found.ap[found.roc_auc.idxmax()]:.3f} | "
        f"{found.roc_auc.max():.3f} |",
        f"| 90th percentile | {quantiles[0.9]:.3f} | {found.roc_auc.quantile(0.9):.3f} |",
        f"| median | {quantiles[0.5]:.3f} | {found.roc_auc.median():.3f} |",
        "",
        f"The best subset by AP: {best.inputs}. Picking the best of "
        f"{len(found)} on the folds that measure it flatters it; it is an upper reading of "
        "what a quick model reaches here, not a fair score.",
        "",
        "**More labels?** The quick reference's 16 aggregates with the search's shallow-tree "
        "LightGBM, "
        "each training fold cut to a stratified share (held-out parts unchanged):",
        "",
        "| share of each training fold | training providers | AP | ROC-AUC |",
        "|---:|---:|---:|---:|",
        *(
            f"| {r.fraction:.0%} | {r.train_rows:,.0f} | {r.ap:.3f} | {r.roc_auc:.3f} |"
            for r in curve.itertuples()
        ),
        "",
    ]


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SRC
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "real-data.md"
    setup_logging()
    with tempfile.TemporaryDirectory(prefix="fraudml-real-") as work:
        text, _ = evaluate(src, Path(work))
    target.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
