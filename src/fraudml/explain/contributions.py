"""Why a lead was flagged: SHAP contributions of the model that ranked it, and reasons
rendered from the feature registry with the entity's value and its peer median.

What is explained, stated once here and in every report:

- supervised entity types: the LightGBM model's **log-odds** (before calibration; the
  calibration is monotone, so the order of reasons is the same);
- anomaly-only entity types: the isolation forest's **mean isolation depth** — the
  average number of splits that isolate the entity; *lower* is more abnormal, so a
  feature pushing the depth down is a reason for suspicion.

Each model computes its own contributions (:meth:`fraudml.models.detector.Detector.explain`);
this module names them and turns them into reasons. Contributions plus the base value
equal the explained output (checked in tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudml.features.registry import FEATURES, Feature, unit_text
from fraudml.models.detector import Contributions, Detector
from fraudml.models.network import network_registry
from fraudml.models.risk import ANOMALY, EntityModel, supervised_inputs


@dataclass
class Explanation:
    values: np.ndarray
    base: float
    output: np.ndarray
    names: list[str]
    #: what ``output`` is, for the report
    what: str
    #: +1 when a higher output is more suspicious, -1 when lower is
    direction: int
    index: pd.Index


def explain(model: EntityModel, frame: pd.DataFrame) -> Explanation:
    """SHAP contributions for each row of ``frame`` (leads only: not cheap).

    The detector that ranks the entity type explains itself (:meth:`Detector.explain`):
    the supervised model where there is one, else the anomaly model. This adds the input
    names and the rows' index.
    """
    detector: Detector
    if model.supervised is not None:
        detector, X, names = model.supervised, supervised_inputs(model, frame), model.features
    else:
        detector, names = model.anomaly, model.anomaly_features
        X = frame[names].to_numpy(float, na_value=np.nan)
    made: Contributions = detector.explain(X)
    return Explanation(
        made.values, made.base, made.output, list(names), made.what, made.direction, frame.index
    )


def registry_entry(entity: str, column: str, rule_features: list[Feature]) -> Feature | None:
    """The registry text of a model input column (peer z-scores resolve to their feature)."""
    base = column.split("__", 1)[0]
    for f in (*FEATURES, *rule_features, *network_registry(entity)):
        if f.entity == entity and f.name == base:
            return f
    return None


def _num(x: float) -> str:
    if pd.isna(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.2f}"


def reasons(
    explanation: Explanation,
    frame: pd.DataFrame,
    entity: str,
    rule_features: list[Feature],
    lang: str,
    top: int = 5,
    currency: str = "CNY",
) -> dict[str, list[dict]]:
    """Per row, the ``top`` features pushing towards suspicion, as reason records:
    feature, text, value, peer median, contribution. Money reads in ``currency`` (the
    dataset's, ISO 4217).

    A feature and its peer z-score are one reason (their contributions added): the
    auditor reads the value and the peer median once.
    """
    out: dict[str, list[dict]] = {}
    toward = explanation.values * explanation.direction
    bases = [str(name).split("__", 1)[0] for name in explanation.names]
    merged = pd.DataFrame(toward, columns=range(len(bases))).T.groupby(bases, sort=False).sum()
    names, toward = list(merged.index), merged.to_numpy().T
    for i, key in enumerate(explanation.index):
        order = np.argsort(-toward[i], kind="stable")[:top]
        items = []
        for j in order:
            if toward[i, j] <= 0:
                break
            items.append(
                _reason(
                    names[j], frame.loc[key], entity, rule_features, lang, toward[i, j], currency
                )
            )
        out[str(key)] = items
    return out


def _reason(
    column: str,
    row: pd.Series,
    entity: str,
    rule_features,
    lang: str,
    weight: float,
    currency: str,
):
    if column == ANOMALY:
        text = "行为异常度（孤立森林）" if lang == "zh" else "anomaly (isolation forest)"
        return {"feature": column, "text": text, "value": None, "peer": None, "weight": weight}
    f = registry_entry(entity, column, rule_features)
    base = column.split("__", 1)[0]
    name = (f.zh if lang == "zh" else f.en) if f else base
    unit = unit_text(f.unit, lang, currency) if f else ""
    value = row.get(base, np.nan)
    peer = row.get(f"{base}__peer_median", np.nan)
    if lang == "zh":
        text = f"{name}: {_num(value)} {unit}".rstrip()
        if not pd.isna(peer):
            text += f"，同类中位数 {_num(peer)} {unit}".rstrip()
    else:
        text = f"{name}: {_num(value)} {unit}".rstrip()
        if not pd.isna(peer):
            text += f" (peer median {_num(peer)} {unit})".rstrip()
    return {
        "feature": base,
        "text": text,
        "value": None if pd.isna(value) else float(value),
        "peer": None if pd.isna(peer) else float(peer),
        "weight": float(weight),
    }
