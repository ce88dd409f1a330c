"""Group leads (团伙线索): the window's co-visit groups, ranked by their members' risk and
by their own shape.

A group's score is a noisy-OR of two parts, so that neither can zero the other::

    score = 1 − (1 − mean member risk) · (1 − together share · density)

- the mean risk of its members, as the patient model scored them (the model reads each
  member's group features and, where labels are known, the share of fellow members
  already found);
- its shape, read without labels: how much of its members' outpatient and pharmacy care
  happens together (``group_together_share``) times how many of its member pairs keep
  arriving together (``group_density``). That is what 组团 means — people who seek care as
  a group, again and again — and it lets a gang nobody has labelled rank first although
  no single member looks suspicious. Families and dialysis cohorts also arrive together,
  but as pairs in a larger circle (lower density) or with much of their care apart
  (lower share).

The shape has no weight to tune. It was written from the scheme's definition and then
checked on the 50,000-patient city's evaluation window (42 groups of 3 or more): its five
gangs were its five highest shapes, where mean member risk alone put 22 % of their
members among the top 10 groups (``python -m fraudml.evaluate.quality
data/bench/city-50000 /tmp/q50k.md``; docs/quality.md reports the two small cities).

Each lead says who, where and when ("23 people arrived together at clinic X on 9 days
between …"); :func:`group_members` lists the members with their risk and
:func:`group_evidence` the dated claims that prove the co-visits.
"""

from __future__ import annotations

import json

import pandas as pd

from fraudml.graph import WindowGraph
from fraudml.models.network import HIGH
from fraudml.scoring.leads import LEAD_COLUMNS
from fraudml.scoring.rank import rank_entities

#: the auditors' default capacity for group leads per period
GROUP_CAPACITY = 10
#: evidence rows kept per group lead (the report shows the first days in full)
MAX_PROOF_ROWS = 400


def group_scores(graph: WindowGraph, patient_risk: pd.Series) -> pd.DataFrame:
    """One row per group, indexed by ``group_id``: ``risk`` (the group's score),
    ``member_risk`` (mean member risk), ``shape`` (together share × density),
    ``anomaly_score``, ``supervised`` and ``rule_part`` (empty: a group has no model of
    its own) and the group's description."""
    if graph.members.empty:
        return pd.DataFrame(columns=["risk", "anomaly_score", "supervised", "rule_part"])
    m = graph.members.assign(risk=graph.members.member_id.map(patient_risk).fillna(0.0))
    members = m.groupby("group_id").risk.mean()
    out = graph.groups.set_index("group_id").reindex(members.index)
    out["member_risk"] = members
    out["shape"] = (out.group_together_share * out.group_density).clip(0.0, 1.0)
    out["risk"] = 1.0 - (1.0 - members) * (1.0 - out["shape"])
    out["anomaly_score"] = float("nan")
    out["supervised"] = float("nan")
    out["rule_part"] = float("nan")
    out["flagged"] = (m.risk >= HIGH).groupby(m.group_id).sum().astype("int64")
    return out.sort_index()


def _day(t) -> str:
    return "" if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d")


def group_reasons(row: pd.Series, provider_names: dict[str, str]) -> tuple[str, str, str]:
    """The lead's reasons in Chinese and English, and as records."""
    where = str(row.main_provider)
    name = provider_names.get(where, "")
    shown = f"{where}（{name}）" if name else where
    shown_en = f"{where} ({name})" if name else where
    first, last = _day(row.first_time), _day(row.last_time)
    zh = [
        f"{int(row.group_size)}人于{first}至{last}期间结伴就诊{int(row.group_days)}天"
        f"，主要在{shown}",
        f"成员两两结伴比例{row.group_density:.0%}，"
        f"门诊购药结算中结伴占{row.group_together_share:.0%}",
        f"成员平均风险{row.member_risk:.2f}，{int(row.flagged)}人风险≥{HIGH}",
    ]
    en = [
        f"{int(row.group_size)} people arrived together on {int(row.group_days)} days "
        f"between {first} and {last}, mostly at {shown_en}",
        f"{row.group_density:.0%} of member pairs arrived together repeatedly; "
        f"{row.group_together_share:.0%} of their outpatient and pharmacy claims were made "
        "together",
        f"mean member risk {row.member_risk:.2f}; {int(row.flagged)} members at {HIGH} or more",
    ]

    # records shaped like a model's reasons; a group's reasons are facts, not weighted
    # contributions, so their weight is 0 and the report draws the group instead
    def record(text: str) -> dict[str, object]:
        return {"feature": "group", "text": text, "value": None, "peer": None, "weight": 0.0}

    records = {"zh": [record(t) for t in zh], "en": [record(t) for t in en]}
    return "；".join(zh), "; ".join(en), json.dumps(records, ensure_ascii=False)


def group_leads(
    scored: pd.DataFrame, capacity: int, model: str, provider_names: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scores sheet's and the leads sheet's rows of group leads: every group ranked,
    the top ``capacity`` as leads with their reasons."""
    if scored.empty:
        return pd.DataFrame(), pd.DataFrame(columns=LEAD_COLUMNS)
    ranked = rank_entities(scored, capacity)
    sheet = pd.DataFrame(
        {
            "entity_type": "group",
            "entity_id": ranked.index.astype(str),
            "claim_kind": None,
            "score": ranked["score"].to_numpy(),
            "rank": ranked["rank"].to_numpy(),
            "anomaly_score": float("nan"),
            "supervised": float("nan"),
            "rule_part": float("nan"),
            "model": model,
            "tier": ranked["tier"].to_numpy(),
        }
    )
    chosen = ranked[ranked["rank"] <= capacity].sort_values("rank")
    rows = []
    for gid, r in chosen.iterrows():
        zh, en, records = group_reasons(scored.loc[gid], provider_names)
        rows.append(
            {
                "entity_type": "group",
                "entity_id": str(gid),
                "claim_kind": None,
                "score": r["score"],
                "rank": r["rank"],
                "tier": r["tier"],
                "model": model,
                "reasons_zh": zh,
                "reasons_en": en,
                "reasons_json": records,
                "rule_hits": 0,
                "rule_ids": "",
                "rule_amount": 0.0,
                "evidence_claims": "",
            }
        )
    return sheet, pd.DataFrame(rows, columns=LEAD_COLUMNS)


def group_members(graph: WindowGraph, patient_risk: pd.Series, groups: pd.Index) -> pd.DataFrame:
    """Members of ``groups`` for the picture and the sheet: ``group_id``,
    ``member_type`` (``patient`` or ``provider``), ``member_id``, ``risk`` (patients),
    ``days`` (days the member arrived together with fellow members; for a provider, days
    members arrived there together) and the member–provider ``links`` as
    ``provider:days`` pairs."""
    cols = ["group_id", "member_type", "member_id", "risk", "days", "links"]
    if len(groups) == 0 or graph.members.empty:
        return pd.DataFrame(columns=cols)
    md = graph.member_days()
    md = md[md.group_id.isin(groups)]
    patients = graph.members[graph.members.group_id.isin(groups)]
    per = md.groupby(["group_id", "patient_id"]).days.sum()
    links = (
        md.sort_values(["group_id", "patient_id", "provider_id"])
        .assign(link=lambda d: d.provider_id.astype(str) + ":" + d.days.astype(str))
        .groupby(["group_id", "patient_id"])
        .link.agg(";".join)
    )
    p = pd.DataFrame(
        {
            "group_id": patients.group_id.to_numpy(),
            "member_type": "patient",
            "member_id": patients.member_id.to_numpy(),
            "risk": patients.member_id.map(patient_risk).to_numpy(float),
        }
    )
    key = pd.MultiIndex.from_arrays([p.group_id, p.member_id])
    p["days"] = per.reindex(key).fillna(0).astype("int64").to_numpy()
    p["links"] = links.reindex(key).fillna("").to_numpy()
    prov = md.groupby(["group_id", "provider_id"]).days.max().reset_index()
    q = pd.DataFrame(
        {
            "group_id": prov.group_id,
            "member_type": "provider",
            "member_id": prov.provider_id.astype(str),
            "risk": float("nan"),
            "days": prov.days.astype("int64"),
            "links": "",
        }
    )
    out = pd.concat([p, q], ignore_index=True)
    return out.sort_values(["group_id", "member_type", "member_id"]).reset_index(drop=True)[cols]


def group_evidence(graph: WindowGraph, claims: pd.DataFrame, groups: pd.Index) -> pd.DataFrame:
    """The claims that prove the co-visits of ``groups``: ``group_id``, ``day``,
    ``provider_id``, ``patient_id``, ``claim_id``, ``admit_time``: each member's claim on
    a day it arrived at that provider within the co-visit gap of a fellow member.

    ``claims`` holds the window's claims (``claim_id``, ``patient_id``,
    ``provider_id``, ``admit_time``)."""
    cols = ["group_id", "day", "provider_id", "patient_id", "claim_id", "admit_time"]
    proof = graph.proof(list(groups))
    if proof.empty:
        return pd.DataFrame(columns=cols)
    who = pd.concat(
        [
            proof[["group_id", "provider_id", "day", "a"]].rename(columns={"a": "patient_id"}),
            proof[["group_id", "provider_id", "day", "b"]].rename(columns={"b": "patient_id"}),
        ]
    ).drop_duplicates()
    c = claims.assign(day=pd.to_datetime(claims.admit_time).dt.date)
    who = who.assign(day=pd.to_datetime(who.day).dt.date)
    out = who.merge(c, on=["patient_id", "provider_id", "day"], how="inner")
    out = out.sort_values(["group_id", "day", "provider_id", "admit_time", "claim_id"])
    out = out.groupby("group_id", sort=False).head(MAX_PROOF_ROWS)
    return out[cols].reset_index(drop=True)
