"""Why each lead was chosen: the model's contributions rendered as reasons an auditor can
check, in Chinese and English.

A reason gives the lead's value, its peers' median and the contrast between them
("7.3× 同类中位数"); a reason whose value equals the peer median explains nothing and is
left out. The isolation forest's share is said through what is unusual: the lead's
measures furthest from its peers. Ratios read as percentages, yes/no values as 是/否,
counts in the right number (:func:`fraudml.i18n.quantity`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudml.entities import ENTITIES
from fraudml.explain.contributions import explain, reasons, registry_entry
from fraudml.features.registry import Feature
from fraudml.i18n import LANGS, RATIO, YES_NO, quantity, text
from fraudml.models.risk import ANOMALY, EntityModel

#: per lead: the reasons as text in each language and as records (for the report)
REASON_COLUMNS = ["reasons_zh", "reasons_en", "reasons_json"]
#: measures named when the isolation forest's share is a reason
ANOMALY_NAMED = 2
#: the reason record of a reserved lead's signal extremes (``feature`` in reasons_json)
EXTREMES = "signal_extremes"
#: a surprise named as a reserve's reason: at most 10% of the training window as far out
FAR_OUT = -math.log(0.1)
#: a value within this relative distance of the peer median is the peer median
SAME = 1e-9
#: peer distribution kept per reason for the report's chart
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class LeadReasons:
    """The reasons of one entity type's leads and what their contributions explain."""

    #: what the contributions explain (:attr:`fraudml.explain.contributions.Explanation.what`)
    what: str
    #: indexed by lead, in :data:`REASON_COLUMNS`
    table: pd.DataFrame


def same_as_peer(value: float | None, peer: float | None) -> bool:
    """Whether ``value`` equals the peer median (a reason with no contrast)."""
    if value is None or peer is None:
        return False
    return math.isclose(value, peer, rel_tol=SAME, abs_tol=SAME)


def contrast(value: float, peer: float, lang: str) -> str:
    """``7.3× 同类中位数`` / ``7.3× peer median``; ``同类中位数为 0`` when the peers' is 0."""
    if peer == 0:
        return text("peer_zero", lang)
    x = value / peer
    shown = f"{x:,.0f}" if abs(x) >= 10 else f"{x:.1f}"
    if shown in ("1.0", "-1.0"):  # not equal (same_as_peer), but close: say by how much
        shown = f"{x:.2f}"
    return text("contrast", lang, x=shown)


def reason_text(name: str, unit: str, value, peer, lang: str, currency: str) -> str:
    """One reason: the measure, its value, and against the peers (when known)."""
    sep = "：" if lang == "zh" else ": "
    out = f"{name}{sep}{quantity(value, unit, lang, currency)}"
    if peer is None:
        return out
    shown = quantity(peer, unit, lang, currency)
    if unit == YES_NO or value is None:
        tail = f"{text('peer_median', lang)} {shown}"
    elif unit == RATIO:
        tail = _ratio_tail(value, peer, lang)
    elif peer == 0:
        tail = contrast(value, peer, lang)
    else:  # 7.3× 同类中位数 10 次
        tail = f"{contrast(value, peer, lang)} {shown}"
    return f"{out}{'，' if lang == 'zh' else ', '}{tail}"


def _ratio_tail(value: float, peer: float, lang: str) -> str:
    """A share against the peers' share, in percentage points."""
    median = quantity(peer, RATIO, lang)
    points = 100 * (value - peer)
    sign = "+" if points > 0 else "−"
    pts = f"{abs(points):,.1f}".removesuffix(".0")
    if lang == "zh":
        return f"同类中位数 {median}（{sign}{pts} 个百分点）"
    return f"peer median {median} ({sign}{pts} percentage points)"


def _feature_name(f: Feature | None, base: str, lang: str) -> str:
    return (f.zh if lang == "zh" else f.en) if f else base


def _unusual(
    row: pd.Series,
    entity: str,
    model: EntityModel,
    rule_features: list[Feature],
    skip: set[str],
) -> list[tuple[Feature, float, float, float]]:
    """The lead's measures furthest from its peers (by robust peer z-score in the
    suspicious direction) among the isolation forest's inputs: feature, value, peer
    median, z."""
    found = []
    for column in dict.fromkeys(c.split("__", 1)[0] for c in model.anomaly_features):
        if column in skip or f"{column}__peer_z" not in row.index:
            continue
        f = registry_entry(entity, column, rule_features)
        z = row.get(f"{column}__peer_z")
        if f is None or z is None or pd.isna(z):
            continue
        toward = {"high": z, "low": -z}.get(f.direction, abs(z))
        value, peer = row.get(column), row.get(f"{column}__peer_median")
        if toward > 0 and not pd.isna(value) and not pd.isna(peer):
            found.append((f, float(value), float(peer), float(toward)))
    found.sort(key=lambda x: -x[3])
    return [x for x in found if not same_as_peer(x[1], x[2])][:ANOMALY_NAMED]


def refine(
    records: list[dict],
    row: pd.Series,
    entity: str,
    model: EntityModel,
    rule_features: list[Feature],
    lang: str,
    currency: str,
    peers: dict[str, tuple[float, ...]] | None = None,
) -> list[dict]:
    """The contributions' reason records rewritten for auditors.

    Each keeps ``feature``, ``value``, ``peer`` and ``weight`` and gains ``unit`` and a
    ``text`` with the contrast; records whose value equals the peer median are left out;
    the isolation forest's record names the measures furthest from the peers; ``dist``
    holds the peer quantiles (:data:`QUANTILES`) when ``peers`` gives them.
    """
    out = []
    named = {r["feature"] for r in records}
    for r in records:
        if r["feature"] == ANOMALY:
            unusual = _unusual(row, entity, model, rule_features, named)
            what = ("、" if lang == "zh" else "; ").join(
                reason_text(_feature_name(f, f.name, lang), f.unit, v, p, lang, currency)
                for f, v, p, _ in unusual
            )
            words = text("anomaly_reason", lang, what=what) if what else text("anomaly_plain", lang)
            out.append(dict(r, text=words, unit="", shows=[f.name for f, *_ in unusual]))
            continue
        f = registry_entry(entity, r["feature"], rule_features)
        unit = f.unit if f else ""
        value, peer = r.get("value"), r.get("peer")
        if same_as_peer(value, peer):
            continue
        name = _feature_name(f, r["feature"], lang)
        rec = dict(r, text=reason_text(name, unit, value, peer, lang, currency), unit=unit)
        rec["name"] = name
        if peers and r["feature"] in peers:
            rec["dist"] = list(peers[r["feature"]])
        out.append(rec)
    return out


class PeerGroups:
    """The profiles of one entity type split once by peer group, for the quantiles of
    the leads' reasons (:func:`peer_quantiles`).

    A group's quantiles of a feature are computed once, for all the leads in the group
    (:meth:`quantiles`): leads share few groups (a month's 500 leads: 41 groups).
    """

    def __init__(self, peers: pd.DataFrame, entity: str) -> None:
        spec = ENTITIES.get(entity)
        self.columns = [c for c in (spec.peer_groups if spec else ()) if c in peers.columns]
        self.peers = peers
        self.rows = (
            peers.groupby(self.columns, dropna=False, sort=False).indices if self.columns else {}
        )
        self._keys = list(self.rows)
        self._at = {k: i for i, k in enumerate(self._keys)}
        #: (group, feature) → the quantiles, None when the group has no value of it
        self._done: dict[tuple[int, str], tuple[float, ...] | None] = {}

    def group(self, row: pd.Series) -> int:
        """The peer group of the profile ``row``: its position in :attr:`rows`; ``-1``
        when the type has no groups (all profiles), ``-2`` when no profile shares it."""
        if not self.columns:
            return -1
        key = tuple(row.get(c) for c in self.columns)
        key = key[0] if len(key) == 1 else key
        at = self._at.get(key)
        if at is None:  # a missing group value: groupby keys hold NaN, which never equals
            at = next((i for i, k in enumerate(self._keys) if _same_key(k, key)), -2)
        return at

    def _positions(self, group: int) -> np.ndarray | slice:
        """The rows of ``group`` in :attr:`peers`."""
        if group == -1:
            return slice(None)
        if group == -2:
            return np.array([], dtype=np.intp)
        return self.rows[self._keys[group]]

    def quantiles(self, group: int, feature: str) -> tuple[float, ...] | None:
        """The :data:`QUANTILES` of ``feature`` in ``group`` (:meth:`group`), ``None``
        without a numeric value there; computed on the first call for the pair."""
        done = (group, feature)
        if done not in self._done:
            values = pd.to_numeric(
                self.peers[feature].iloc[self._positions(group)], errors="coerce"
            )
            values = values.dropna().to_numpy(float)
            self._done[done] = (
                tuple(float(q) for q in np.quantile(values, QUANTILES)) if len(values) else None
            )
        return self._done[done]


def _same_key(a: object, b: object) -> bool:
    xs = a if isinstance(a, tuple) else (a,)
    ys = b if isinstance(b, tuple) else (b,)
    return all((pd.isna(x) and pd.isna(y)) or x == y for x, y in zip(xs, ys, strict=True))


def peer_quantiles(
    groups: PeerGroups | None, row: pd.Series, features: list[str]
) -> dict[str, tuple[float, ...]]:
    """The :data:`QUANTILES` of ``features`` among the peer group of the profile ``row``
    (empty without ``groups``)."""
    if groups is None:
        return {}
    group = groups.group(row)
    out = {}
    for feat in features:
        if feat in groups.peers.columns:
            q = groups.quantiles(group, feat)
            if q is not None:
                out[feat] = q
    return out


def _share(p: float) -> str:
    """A small share as a percentage with two significant digits (``0.16%``)."""
    return f"{100 * p:.2g}%"


def extremes_reasons(
    model: EntityModel,
    leads: pd.DataFrame,
    entity: str,
    rule_features: list[Feature],
    currency: str,
) -> dict[str, dict[str, dict]]:
    """Why the capacity's reserve placed each of ``leads``: the signals its
    :class:`~fraudml.models.extremes.SignalExtremes` score is made of, each with its
    value, its peers' median and the share of the training window as far out.

    Returns
    -------
    dict
        Lead id → language → one reason record (``feature`` :data:`EXTREMES`, ``text``,
        ``weight`` the score, ``shows`` the signals named, those with at most a tenth of
        the training window as far out); a lead without such a signal is left out, and
        all are when the model has no extremes (one pickled before them).
    """
    extremes = getattr(model, "extremes", None)
    if extremes is None or leads.empty:
        return {}
    made = extremes.explain(leads[model.anomaly_features].to_numpy(float, na_value=np.nan))
    out: dict[str, dict[str, dict]] = {}
    for i, key in enumerate(leads.index):
        # only the signals far out enough to be why: a lead the reserve placed for its
        # rule evidence has none, and its rule hits say why elsewhere
        parts = [(j, float(v)) for j, v in enumerate(made.values[i]) if v >= FAR_OUT]
        if not parts:
            continue
        parts.sort(key=lambda x: -x[1])
        row = leads.loc[key]
        columns = [model.anomaly_features[j].split("__", 1)[0] for j, _ in parts]
        entries = [registry_entry(entity, c, rule_features) for c in columns]
        out[str(key)] = {}
        for lang in LANGS:
            said, sep = [], "；" if lang == "zh" else "; "
            for (_, surprise), column, f in zip(parts, columns, entries, strict=True):
                value, peer = row.get(column), row.get(f"{column}__peer_median")
                value = None if value is None or pd.isna(value) else float(value)
                peer = None if peer is None or pd.isna(peer) else float(peer)
                unit = f.unit if f else ""
                named = reason_text(
                    _feature_name(f, column, lang), unit, value, peer, lang, currency
                )
                share = text("extremes_share", lang, share=_share(math.exp(-surprise)))
                said.append(f"{named}{'，' if lang == 'zh' else ', '}{share}")
            out[str(key)][lang] = {
                "feature": EXTREMES,
                "text": text("extremes_reason", lang, what=sep.join(said)),
                "value": None,
                "peer": None,
                "weight": float(made.output[i]),
                "unit": "",
                "shows": columns,
            }
    return out


def lead_reasons(
    model: EntityModel,
    leads: pd.DataFrame,
    entity: str,
    rule_features: list[Feature],
    currency: str,
    peers: pd.DataFrame | None = None,
    reserved: Collection[str] = (),
) -> LeadReasons:
    """Explain the leads with the model that ranked them and render their reasons.

    Parameters
    ----------
    model : EntityModel
        The entity type's model.
    leads : DataFrame
        The leads' profile rows (explaining is not cheap: leads only).
    entity : str
        The entity type.
    rule_features : list of Feature
        Registry entries of the rule aggregates (:func:`fraudml.rulebase.rule_features`).
    currency : str
        ISO 4217 code money reads in (the dataset's).
    peers : DataFrame, optional
        Every profile of the entity type in the period: each reason then carries its peer
        group's quantiles (``dist``) for the report's chart.
    reserved : collection of str
        Leads the capacity's reserve placed: their first reason says which signals put
        them there (:func:`extremes_reasons`), as the model's contributions explain the
        risk, which did not.

    Returns
    -------
    LeadReasons
        ``table`` indexed like ``leads``: ``reasons_zh`` (joined with ``；``),
        ``reasons_en`` (joined with ``; ``) and ``reasons_json`` (``{"zh": […], "en": […]}``
        reason records, the Chinese text unescaped).
    """
    why = explain(model, leads)
    raw = {
        lang: reasons(why, leads, entity, rule_features, lang, currency=currency) for lang in LANGS
    }
    keys = [str(lead) for lead in leads.index]
    rows = dict(zip(keys, (leads.loc[k] for k in leads.index), strict=True))
    groups = PeerGroups(peers, entity) if peers is not None and len(peers) else None
    chosen = {str(r) for r in reserved}
    placed = extremes_reasons(
        model, leads[[k in chosen for k in keys]], entity, rule_features, currency
    )
    made: dict[str, dict[str, list[dict]]] = {}
    for k in keys:
        feats = [r["feature"] for r in raw["en"][k] if r["feature"] != ANOMALY]
        dist = peer_quantiles(groups, rows[k], feats)
        made[k] = {}
        for lang in LANGS:
            told = refine(raw[lang][k], rows[k], entity, model, rule_features, lang, currency, dist)
            if k in placed:  # its signals are said once, in the reserve's reason
                shown = set(placed[k][lang]["shows"])
                told = [placed[k][lang], *(r for r in told if r["feature"] not in shown)]
            made[k][lang] = told
    table = pd.DataFrame(
        {
            "reasons_zh": ["；".join(r["text"] for r in made[k]["zh"]) for k in keys],
            "reasons_en": ["; ".join(r["text"] for r in made[k]["en"]) for k in keys],
            "reasons_json": [json.dumps(made[k], ensure_ascii=False) for k in keys],
        },
        index=leads.index,
        columns=REASON_COLUMNS,
    )
    return LeadReasons(why.what, table)
