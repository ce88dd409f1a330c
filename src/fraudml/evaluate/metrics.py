"""Ranking metrics the way auditors work: how many of the top K leads are real, and how
much of the fraud they cover, overall and per scheme."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score


def _order(score: np.ndarray) -> np.ndarray:
    # highest first; ties broken by position so that results are reproducible
    return np.lexsort((np.arange(len(score)), -score))


def _missing_last(score: np.ndarray) -> np.ndarray:
    """Scores with missing values below every real score (finite, for sklearn)."""
    score = np.asarray(score, dtype=float)
    return np.where(np.isnan(score), -np.finfo(float).max, score)


def precision_recall_at_k(y: np.ndarray, score: np.ndarray, k: int) -> tuple[float, float]:
    """Precision and recall of the ``k`` highest scores."""
    y = np.asarray(y)
    k = min(int(k), len(y))
    if k == 0:
        return float("nan"), float("nan")
    top = _order(np.asarray(score, dtype=float))[:k]
    hits = float(y[top].sum())
    positives = float(y.sum())
    return hits / k, (hits / positives if positives else float("nan"))


def ranking_metrics(y: np.ndarray, score: np.ndarray, k: int) -> dict[str, float]:
    """Average precision, ROC-AUC, precision@K and recall@K (NaN where undefined)."""
    y = np.asarray(y).astype(int)
    score = _missing_last(score)
    both = 0 < y.sum() < len(y)
    p_at_k, r_at_k = precision_recall_at_k(y, score, k)
    return {
        "ap": float(average_precision_score(y, score)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(y, score)) if both else float("nan"),
        "precision_at_k": p_at_k,
        "recall_at_k": r_at_k,
        "positives": int(y.sum()),
        "n": len(y),
        "k": int(min(k, len(y))),
    }


def recall_at_k_by_scheme(
    y: np.ndarray, score: np.ndarray, scheme: pd.Series, k: int
) -> dict[str, float]:
    """Recall@K among the positives of each scheme."""
    y = np.asarray(y).astype(int)
    top = np.zeros(len(y), dtype=bool)
    top[_order(_missing_last(score))[: min(k, len(y))]] = True
    out = {}
    schemes = pd.Series(np.asarray(scheme), dtype="object")
    for name in sorted(schemes[y == 1].dropna().unique()):
        mine = (y == 1) & (schemes == name).to_numpy()
        out[str(name)] = float(top[mine].sum() / mine.sum())
    return out


def paired_difference(
    y: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Average-precision difference of two rankings of the same rows, with a paired,
    class-stratified bootstrap over rows.

    Both scores are resampled together (the same rows in every replicate), so what
    varies is which entities are in the sample, not which model saw them: the question
    "would ``a`` still beat ``b`` on another draw of entities like these?".

    Returns
    -------
    dict
        ``diff`` (AP of a minus AP of b on the rows given), ``lo`` and ``hi`` (2.5 and
        97.5 percentiles of the replicates), ``share_a_better`` (share of replicates in
        which a's AP is higher).
    """
    y = np.asarray(y).astype(int)
    a, b = _missing_last(score_a), _missing_last(score_b)
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError("paired_difference needs both classes")
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        rows = np.concatenate(
            [
                rng.choice(positives, size=len(positives)),
                rng.choice(negatives, size=len(negatives)),
            ]
        )
        diffs[i] = average_precision_score(y[rows], a[rows]) - average_precision_score(
            y[rows], b[rows]
        )
    return {
        "diff": float(average_precision_score(y, a) - average_precision_score(y, b)),
        "lo": float(np.percentile(diffs, 2.5)),
        "hi": float(np.percentile(diffs, 97.5)),
        "share_a_better": float((diffs > 0).mean()),
    }
