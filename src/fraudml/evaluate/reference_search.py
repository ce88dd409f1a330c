"""How far can a quick model go on a dataset? A bar quoted from elsewhere ("a quick
LightGBM over 16 simple aggregates reaches …") is only a bar if it can be reproduced on
the same rows. This module searches for it instead of trusting one reconstruction:

- :func:`aggregate_pool`: a wide pool of simple per-provider aggregates of the claims and
  of the patients behind them (volume, money, stay length, age, chronic load, how widely
  the provider's patients and physicians travel);
- :func:`subset_search`: many random 16-aggregate quick models, each cross-validated on
  the same folds; the best of them is an *optimistic* estimate of what such a model can
  reach, because it is chosen on the very folds it is measured on;
- :func:`learning_curve`: the same quick model trained on shrinking shares of each
  training fold, to read how much more labels would buy.

Reference models only: pandas is fine here, they never run on the scoring path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier

from fraudml.evaluate.metrics import ranking_metrics

Folds = Sequence[tuple[np.ndarray, np.ndarray]]

# The two learners every subset is tried with: LightGBM's defaults, and shallow trees with
# row and column sampling (the settings of conf/model/lightgbm_small.yaml).
LEARNERS: dict[str, dict[str, float | int]] = {
    "default": {},
    "shallow": {
        "num_leaves": 4,
        "learning_rate": 0.03,
        "n_estimators": 400,
        "min_child_samples": 20,
        "colsample_bytree": 0.5,
        "subsample": 0.8,
        "subsample_freq": 1,
    },
}


def _per_claim(claims: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Claim rows with the simple per-claim quantities the pool aggregates."""
    c = claims.merge(
        patients.set_index("patient_id")[
            [x for x in ("birth_date", "death_date", "n_chronic_conditions") if x in patients]
        ],
        left_on="patient_id",
        right_index=True,
        how="left",
    )
    admit = pd.to_datetime(c.admit_time)
    out = pd.DataFrame(
        {
            "provider_id": c.provider_id.astype(str),
            "fund_paid": c.fund_paid.astype(float),
            "cash_paid": c.cash_paid.astype(float),
            "los": (pd.to_datetime(c.discharge_time) - admit).dt.days.astype(float),
            "has_operating": c.get("operating_doctor_id", pd.Series(index=c.index)).notna(),
            "has_other": c.get("other_doctor_id", pd.Series(index=c.index)).notna(),
        }
    )
    if "birth_date" in c:
        out["patient_age"] = (admit - pd.to_datetime(c.birth_date)).dt.days / 365.25
    if "death_date" in c:
        out["patient_died"] = c.death_date.notna()
    if "n_chronic_conditions" in c:
        out["chronic_conditions"] = c.n_chronic_conditions.astype(float)
    # how widely a claim's patient and attending physician travel between providers
    for key, name in (("patient_id", "patient"), ("doctor_id", "doctor")):
        grouped = c.groupby(key, dropna=True).provider_id
        out[f"{name}_claims"] = c[key].map(grouped.size()).astype(float)
        out[f"{name}_providers"] = c[key].map(grouped.nunique()).astype(float)
    return out


def aggregate_pool(claims: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Simple per-provider aggregates: the claim count, distinct counts of the ids and
    codes on the claims, and the sum, mean and maximum of every per-claim quantity.

    Parameters
    ----------
    claims, patients
        Contract tables (``claims`` needs provider_id, patient_id, doctor_id, the two
        times and the amounts; other columns are used when present).

    Returns
    -------
    pandas.DataFrame
        One row per provider (index: provider_id as text), float columns.
    """
    per_claim = _per_claim(claims, patients)
    g = per_claim.groupby("provider_id")
    quantities = [c for c in per_claim.columns if c != "provider_id"]
    stats = g[quantities].agg(["sum", "mean", "max"]).astype(float)
    stats.columns = [f"{column}_{how}" for column, how in stats.columns]
    parts = {"n_claims": g.size().astype(float), **dict(stats.items())}
    by_provider = claims.assign(provider_id=claims.provider_id.astype(str)).groupby("provider_id")
    for column in (
        "patient_id",
        "doctor_id",
        "operating_doctor_id",
        "other_doctor_id",
        "diagnosis_code",
        "drg_code",
    ):
        if column in claims:
            parts[f"distinct_{column}"] = by_provider[column].nunique().astype(float)
    return pd.DataFrame(parts).sort_index()


def quick_scores(
    X: pd.DataFrame, y: pd.Series, folds: Folds, params: dict, seed: int = 0
) -> pd.Series:
    """Out-of-fold probabilities of LightGBM with ``params`` over ``X`` (rows as ``y``)."""
    score = pd.Series(np.nan, index=y.index)
    for train_idx, test_idx in folds:
        model = LGBMClassifier(random_state=seed, verbose=-1, n_jobs=2, **params)
        model.fit(X.iloc[train_idx], y.iloc[train_idx])
        score.iloc[test_idx] = model.predict_proba(X.iloc[test_idx])[:, 1]
    return score


def subset_search(
    X: pd.DataFrame,
    y: pd.Series,
    folds: Folds,
    n_subsets: int,
    size: int = 16,
    seed: int = 0,
) -> pd.DataFrame:
    """Cross-validate ``n_subsets`` random ``size``-column subsets of ``X`` with each of
    :data:`LEARNERS` on the same ``folds``.

    Returns
    -------
    pandas.DataFrame
        One row per (subset, learner): ``subset`` (number), ``learner``, ``roc_auc``,
        ``ap``, ``inputs`` (comma-separated column names), best average precision first.
    """
    rng = np.random.default_rng(seed)
    size = min(size, X.shape[1])
    rows = []
    for number in range(n_subsets):
        columns = sorted(rng.choice(X.columns.to_numpy(), size=size, replace=False).tolist())
        for learner, params in LEARNERS.items():
            score = quick_scores(X[columns], y, folds, params, seed)
            m = ranking_metrics(y.to_numpy(), score.to_numpy(), 1)
            rows.append(
                {
                    "subset": number,
                    "learner": learner,
                    "roc_auc": m["roc_auc"],
                    "ap": m["ap"],
                    "inputs": ", ".join(columns),
                }
            )
    out = pd.DataFrame(rows)
    return out.sort_values(["ap", "subset", "learner"], ascending=[False, True, True]).reset_index(
        drop=True
    )


def learning_curve(
    X: pd.DataFrame,
    y: pd.Series,
    folds: Folds,
    fractions: Sequence[float],
    params: dict,
    seed: int = 0,
) -> pd.DataFrame:
    """Out-of-fold metrics when each training fold is cut to a stratified share.

    The held-out parts stay whole, so every row is measured on the same providers.

    Returns
    -------
    pandas.DataFrame
        ``fraction``, ``train_rows`` (mean over folds), ``roc_auc``, ``ap``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for fraction in fractions:
        score = pd.Series(np.nan, index=y.index)
        sizes = []
        for train_idx, test_idx in folds:
            kept = _stratified_share(y.iloc[train_idx].to_numpy(), fraction, rng)
            chosen = train_idx[kept]
            sizes.append(len(chosen))
            model = LGBMClassifier(random_state=seed, verbose=-1, n_jobs=2, **params)
            model.fit(X.iloc[chosen], y.iloc[chosen])
            score.iloc[test_idx] = model.predict_proba(X.iloc[test_idx])[:, 1]
        m = ranking_metrics(y.to_numpy(), score.to_numpy(), 1)
        rows.append(
            {
                "fraction": float(fraction),
                "train_rows": float(np.mean(sizes)),
                "roc_auc": m["roc_auc"],
                "ap": m["ap"],
            }
        )
    return pd.DataFrame(rows)


def _stratified_share(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of ``fraction`` of each class of ``y`` (at least one of each)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    kept = []
    for cls in np.unique(y):
        members = np.flatnonzero(y == cls)
        n = max(1, round(fraction * len(members)))
        kept.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(kept))
