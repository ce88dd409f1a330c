"""Peer quantiles computed once per peer group (issue 15): on hand-built profiles, every
lead's quantiles equal those of the per-lead computation they replaced, missing group
values, absent features, text and empty groups included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudml.scoring import reasons
from fraudml.scoring.reasons import QUANTILES, PeerGroups, peer_quantiles

FEATURES = ["cost", "visits", "coded", "flag", "counted", "empty", "not_a_column"]


def _per_lead(peers: pd.DataFrame, columns: list[str], row: pd.Series, features: list[str]):
    """The computation per lead before issue 15: the lead's group's rows selected
    (missing values equal), then each feature's numeric values' quantiles."""
    if columns:
        same = np.ones(len(peers), dtype=bool)
        for c in columns:
            v = row.get(c)
            same &= peers[c].isna().to_numpy() if pd.isna(v) else (peers[c] == v).to_numpy()
        mine = peers[same]
    else:
        mine = peers
    out = {}
    for feat in features:
        if feat in mine.columns:
            values = pd.to_numeric(mine[feat], errors="coerce").dropna().to_numpy(float)
            if len(values):
                out[feat] = tuple(float(q) for q in np.quantile(values, QUANTILES))
    return out


def _patients() -> pd.DataFrame:
    """Patients in five peer groups, two with a missing group value; features of every
    kind the profiles hold."""
    return pd.DataFrame(
        {
            "age_band": ["30-39"] * 5 + ["60-69"] * 3 + [None, None, "30-39"],
            "gender": ["F"] * 5 + ["M"] * 3 + ["F", "F", None],
            "insurance_type": ["urban"] * 8 + ["rural", "rural", "urban"],
            "cost": [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, np.nan, 30.0, 7.5, 2.5, 9.0],
            "visits": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5],
            # text: numbers written out, and junk that reads as missing
            "coded": ["12", "x", "3", None, "7.5", "1", "2", "3", "bad", "4", "8"],
            "flag": [True, False, True, True, False, False, False, True, True, False, True],
            "counted": pd.array([1, 2, pd.NA, 4, 5, pd.NA, pd.NA, pd.NA, 1, 1, 2], "Int64"),
            # no value in any group: no quantiles
            "empty": [np.nan] * 11,
        }
    )


def test_each_leads_peer_quantiles_equal_the_per_lead_ones_missing_groups_included():
    peers = _patients()
    columns = ["age_band", "gender", "insurance_type"]
    groups = PeerGroups(peers, "patient")
    stranger = pd.Series({"age_band": "90+", "gender": "F", "insurance_type": "urban"})
    leads = [peers.iloc[i] for i in range(len(peers))] + [stranger]
    for row in leads:
        assert peer_quantiles(groups, row, FEATURES) == _per_lead(peers, columns, row, FEATURES)
    # exact values: the 30-39 urban women, and the rural women of unknown age (NaN keys)
    q = peer_quantiles(groups, peers.iloc[2], FEATURES)
    assert q["cost"] == pytest.approx((1.4, 2.0, 3.0, 4.0, 4.6))
    assert q["coded"] == pytest.approx((3.9, 5.25, 7.5, 9.75, 11.1))  # "x", None dropped
    assert q["flag"] == pytest.approx((0.0, 0.0, 1.0, 1.0, 1.0))
    assert q["counted"] == pytest.approx((1.3, 1.75, 3.0, 4.25, 4.7))
    assert set(q) == {"cost", "visits", "coded", "flag", "counted"}  # empty, absent: none
    assert peer_quantiles(groups, peers.iloc[8], ["cost", "coded"]) == {
        "cost": pytest.approx((3.0, 3.75, 5.0, 6.25, 7.0)),
        "coded": (4.0,) * 5,
    }
    assert peer_quantiles(groups, stranger, FEATURES) == {}  # a group no profile is in
    assert peer_quantiles(None, peers.iloc[0], FEATURES) == {}


def test_a_type_without_peer_groups_compares_with_every_profile():
    peers = _patients()
    groups = PeerGroups(peers, "no_such_type")
    for i in (0, 8):
        row = peers.iloc[i]
        assert peer_quantiles(groups, row, FEATURES) == _per_lead(peers, [], row, FEATURES)
    assert peer_quantiles(groups, peers.iloc[0], ["visits"]) == {
        "visits": pytest.approx((1.0, 2.5, 4.0, 5.0, 6.0))
    }


def test_the_leads_of_one_group_share_its_quantiles_computed_once(monkeypatch):
    peers = _patients()
    calls = []
    quantile = np.quantile
    monkeypatch.setattr(
        reasons.np, "quantile", lambda *a, **k: calls.append(1) or quantile(*a, **k)
    )
    groups = PeerGroups(peers, "patient")
    first = [peer_quantiles(groups, peers.iloc[i], ["cost", "visits"]) for i in range(5)]
    assert len(calls) == 2  # five leads, one group, two features
    assert all(q == first[0] for q in first)
    peer_quantiles(groups, peers.iloc[5], ["cost", "visits", "coded"])
    peer_quantiles(groups, peers.iloc[8], ["cost"])
    peer_quantiles(groups, peers.iloc[9], ["cost"])  # NaN key: the same group as 8
    assert len(calls) == 2 + 3 + 1
