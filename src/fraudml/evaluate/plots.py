"""Figures logged with each training run: precision-recall curves and SHAP summaries."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve


def pr_curves(scores: pd.DataFrame, methods: dict[str, np.ndarray], title: str, path: Path) -> Path:
    """Precision-recall curves of several rankings of the same labelled entities."""
    y = scores["label"].to_numpy()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if 0 < y.sum() < len(y):
        for name, s in methods.items():
            s = np.nan_to_num(np.asarray(s, dtype=float), nan=-1e300)
            precision, recall, _ = precision_recall_curve(y, s)
            ax.plot(recall, precision, label=name, linewidth=1.4)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def shap_summary(
    values: np.ndarray, X: np.ndarray, names: list[str], title: str, path: Path
) -> Path:
    """Mean |SHAP| per feature (top 20), the global view of what drives the model."""
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(importance)[::-1][:20][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(order) + 1.2))
    ax.barh([names[i] for i in order], importance[order], color="#3b6ea5")
    ax.set_xlabel("mean |SHAP value| (log-odds)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
