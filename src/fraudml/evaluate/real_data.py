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
- naive baselines: rank by total reimbursed, by claim count.

Every method is scored out of fold on the same folds. Nothing is registered.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from sklearn.base import clone

from fraudml.adapters import medicare
from fraudml.config import register
from fraudml.evaluate.metrics import paired_difference, ranking_metrics
from fraudml.evaluate.reference_search import (
    LEARNERS,
    aggregate_pool,
    learning_curve,
    quick_scores,
    subset_search,
)
from fraudml.features.build import dropped_summary
from fraudml.io import load_dataset
from fraudml.io.write import write_dataset
from fraudml.log import setup_logging
from fraudml.models.estimators import RiskClassifier
from fraudml.models.training import TrainingResult, cross_validate, entity_folds, inner_split
from fraudml.paths import conf_dir
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
    last: TrainingResult | None = None
    with load_dataset(data, memory_limit=cfg.engine.memory_limit) as ds:
        claims = ds.table("claims").to_pandas()
        patients = ds.table("patients").to_pandas()
        aggregates = quick_aggregates(claims)  # the same for every fold seed
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
                    results.setdefault("quick_learner", []).append(
                        metrics(y, learner_on(quick, y, folds, seed, learner))
                    )
                    results.setdefault("supervised", []).append(metrics(y, scored["supervised"]))
                    results.setdefault("anomaly", []).append(metrics(y, scored["anomaly_score"]))
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
    )
    return text, {"results": results, "paired": paired, "sizes": sizes}


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
        "- Money is in US dollars and diagnoses are ICD-9 here: the adapter keeps the "
        "source's values and declares the currency in the dataset's `dataset.json`, so "
        "reports write US dollars (see `fraudml/adapters/medicare.py`).",
        "",
    ]
    return "\n".join(lines)


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
