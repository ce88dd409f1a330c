"""Generalisation tables (issue 16): a scheme's own level, the headline of in-sample
against a shifted city, the withheld-scheme table, on hand-built inputs with exact values;
and one small end-to-end run on two tiny simulated cities."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from fraudml import load_dataset
from fraudml.evaluate.generalisation import (
    best_baseline,
    deduction_coverage,
    fit_and_evaluate,
    headline_table,
    own_levels,
    scheme_positives,
    score_elsewhere,
    unfound,
    withheld_levels,
    withheld_table,
)
from fraudml.features import FEATURE_SET_VERSION
from fraudml.models import ProfileIsolationForest, RiskClassifier, training
from fraudml.models.frames import frames_and_hits
from fraudml.models.training import time_split, train_and_evaluate
from fraudml.synth import SchemeConfig, SimulationConfig, simulate, write_dataset
from fraudml.synth.national import NATIONAL_SCHEMES
from fraudml.workflows import load_rule_base

NAN = float("nan")


def _scores(labels: list[int], schemes: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"risk": 0.5, "label": labels, "scheme": schemes})


def _schemes(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["entity", "method", "scheme", "recall_at_k"])


def _metrics(rows: list[tuple[str, str, float, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["entity", "method", "ap", "positives", "n"])


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=False
    )


SCORES = {
    "provider": _scores([1, 1, 0, 1], ["a", "b", None, "a"]),
    "patient": _scores([1, 0, 1, 1], ["a", None, "c", None]),
    "visit": _scores([1, 1, 1, 0], ["a", "a", "b", None]),
}


def test_scheme_positives_count_labelled_rows_per_level_in_fitting_order():
    _same(
        scheme_positives(SCORES),
        pd.DataFrame(
            {
                "entity": ["patient", "patient", "visit", "visit", "provider", "provider"],
                "scheme": ["a", "c", "a", "b", "a", "b"],
                "positives": [1, 1, 2, 1, 2, 1],
            }
        ),
    )
    assert list(scheme_positives({}).columns) == ["entity", "scheme", "positives"]


def test_own_level_holds_most_positives_and_a_tie_goes_to_the_type_fitted_first():
    # a: visit 2 = provider 2 > patient 1 -> visit (fitted before providers); b: tie -> visit
    _same(
        own_levels(scheme_positives(SCORES)),
        pd.DataFrame(
            {
                "scheme": ["a", "b", "c"],
                "entity": ["visit", "visit", "patient"],
                "positives": [2, 1, 1],
            }
        ),
    )
    more = pd.DataFrame(
        {"entity": ["visit", "doctor"], "scheme": ["over", "over"], "positives": [3, 4]}
    )
    _same(
        own_levels(more), pd.DataFrame({"scheme": ["over"], "entity": ["doctor"], "positives": [4]})
    )
    # an entity-level type with enough positives is the level the bureau acts on, however
    # many claims the scheme has; with too few, the claims decide
    acted = pd.DataFrame(
        {
            "entity": ["visit", "patient", "visit", "provider"],
            "scheme": ["gang", "gang", "dup", "dup"],
            "positives": [90, 13, 55, 1],
        }
    )
    _same(
        own_levels(acted),
        pd.DataFrame(
            {"scheme": ["dup", "gang"], "entity": ["visit", "patient"], "positives": [55, 13]}
        ),
    )
    assert own_levels(scheme_positives({})).empty


def test_best_baseline_is_the_highest_figure_among_baselines_only():
    values = pd.Series(
        {"risk": 0.9, "baseline_fund_paid": 0.2, "baseline_claim_count": 0.3, "anomaly": 0.5}
    )
    assert best_baseline(values) == ("claim_count", 0.3)
    assert best_baseline(pd.Series({"baseline_x": NAN, "baseline_y": 0.1})) == ("y", 0.1)
    assert best_baseline(pd.Series({"baseline_a": 0.4, "baseline_b": 0.4})) == ("a", 0.4)
    name, value = best_baseline(pd.Series({"risk": 1.0}))
    assert name is None and math.isnan(value)


def test_headline_sets_in_sample_and_shifted_ap_beside_their_best_baselines():
    in_sample = _metrics(
        [
            ("patient", "leads", 0.8, 10, 100),
            ("patient", "anomaly", 0.5, 10, 100),
            ("patient", "baseline_fund_paid", 0.2, 10, 100),
            ("patient", "baseline_claim_count", 0.25, 10, 100),
            ("doctor", "leads", 0.6, 2, 50),
            ("doctor", "baseline_fees", 0.1, 2, 50),
        ]
    )
    shifted = _metrics(
        [
            ("claim", "leads", 0.5, 5, 20),  # outside the vocabulary: after every known type
            ("claim", "baseline_fund_paid", 0.4, 5, 20),
            ("patient", "leads", 0.7, 12, 110),
            ("patient", "baseline_fund_paid", 0.3, 12, 110),
            ("patient", "baseline_claim_count", 0.1, 12, 110),
        ]
    )
    _same(
        headline_table(in_sample, shifted),
        pd.DataFrame(
            {
                "entity": ["patient", "doctor", "claim"],
                "in_sample_ap": [0.8, 0.6, NAN],
                "in_sample_baseline": ["claim_count", "fees", None],
                "in_sample_baseline_ap": [0.25, 0.1, NAN],
                "in_sample_positives": [10, 2, 0],
                "in_sample_n": [100, 50, 0],
                "shifted_ap": [0.7, NAN, 0.5],
                "shifted_baseline": ["fund_paid", None, "fund_paid"],
                "shifted_baseline_ap": [0.3, NAN, 0.4],
                "shifted_positives": [12, 0, 5],
                "shifted_n": [110, 0, 20],
            }
        ),
    )


WITHHELD = {
    "a": _schemes(
        [
            ("visit", "leads", "a", 0.5),
            ("visit", "anomaly", "a", 0.0),
            ("visit", "baseline_fund_paid", "a", 0.5),
            ("visit", "baseline_fee_lines", "a", 1.0),
            ("provider", "leads", "a", 1.0),
            ("visit", "leads", "b", 1.0),  # another scheme's figure in a's run: not a's
        ]
    ),
    "c": _schemes(
        [
            ("patient", "leads", "c", 0.0),
            ("patient", "anomaly", "c", 1.0),
            ("patient", "extremes", "c", 0.5),
            ("patient", "baseline_fund_paid", "c", 0.0),
            ("patient", "baseline_claim_count", "c", 0.0),
        ]
    ),
}
IN_SAMPLE = _schemes(
    [
        ("visit", "leads", "a", 1.0),
        ("provider", "leads", "a", 0.5),
        ("patient", "leads", "c", 1.0),
        ("doctor", "leads", "d", 0.5),
    ]
)


def test_withheld_table_reads_each_scheme_at_its_own_level_beside_labels_known():
    levels = pd.DataFrame(
        {
            "scheme": ["a", "c", "d"],
            "entity": ["visit", "patient", "doctor"],
            "positives": [2, 1, 3],
        }
    )
    _same(
        withheld_table(WITHHELD, IN_SAMPLE, levels, {"visit": 200, "patient": 100}),
        pd.DataFrame(
            {
                "scheme": ["a", "c", "d"],
                "entity": ["visit", "patient", "doctor"],
                "positives": [2, 1, 3],
                "k": [200, 100, 20],  # doctor: the vocabulary's default capacity
                "full_stack": [0.5, 0.0, NAN],
                "forest": [0.0, 1.0, NAN],
                "extremes": [NAN, 0.5, NAN],  # a: its run has no signal extremes
                "baseline": ["fee_lines", "fund_paid", None],
                "baseline_recall": [1.0, 0.0, NAN],
                "in_sample": [1.0, 1.0, 0.5],
            }
        ),
    )


def test_withheld_table_adds_a_column_per_other_city_at_the_same_level():
    levels = pd.DataFrame(
        {"scheme": ["a", "c"], "entity": ["visit", "patient"], "positives": [2, 1]}
    )
    away = {
        "heldout": {
            "a": _schemes([("visit", "leads", "a", 0.25), ("patient", "leads", "a", 1.0)]),
            # c has no positives in that city: NaN, not 0
        }
    }
    table = withheld_table(WITHHELD, IN_SAMPLE, levels, {}, away)
    assert list(table.columns)[-1] == "heldout"
    assert table.heldout.tolist()[0] == 0.25 and math.isnan(table.heldout.tolist()[1])


def test_deduction_coverage_counts_each_schemes_claims_with_a_definite_hit():
    labels = pd.DataFrame(
        {
            "entity_type": ["claim", "claim", "claim", "claim", "patient", "claim"],
            "entity_id": ["c1", "c2", "c3", "c9", "c1", "c1"],
            "label": [1, 1, 1, 1, 1, 0],
            "scheme": ["dup", "dup", "sub", "sub", "dup", None],
        }
    )
    # c9 is outside the window; the patient row and the negative are not claims of a scheme
    out = deduction_coverage(labels, {"c1", "c3", "c7"}, {"c1", "c2", "c3"})
    assert out.to_dict() == {"dup": 0.5, "sub": 1.0}
    assert deduction_coverage(None, {"c1"}, {"c1"}).empty


def test_withheld_levels_and_the_schemes_found_at_no_level():
    levels = withheld_levels(WITHHELD, IN_SAMPLE)
    _same(
        levels,
        pd.DataFrame(
            {
                "scheme": ["a", "a", "c"],
                "entity": ["visit", "provider", "patient"],
                "recall_at_k": [0.5, 1.0, 0.0],
                "known": [1.0, 0.5, 1.0],
            }
        ),
    )
    assert unfound(levels) == ["c"]
    assert unfound(withheld_levels({}, IN_SAMPLE)) == []


# ------------------------------------------------------------------ end to end (small)
SCHEMES = ("phantom_billing", "split_admission", "duplicate_billing", "fake_chronic")


def _city(seed: int, **settings) -> SimulationConfig:
    return SimulationConfig(
        seed=seed,
        n_patients=1500,
        start="2024-01-01",
        end="2024-09-01",
        schemes={s: SchemeConfig(prevalence=0.15, subtlety=0.2) for s in SCHEMES},
        **settings,
    )


@pytest.fixture(scope="module")
def cities(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("generalisation")
    home = write_dataset(simulate(_city(5)), root / "home")
    shifted = _city(6, price_level=1.2, provider_mix={"pharmacy": 30.0, "clinic": 12.0})
    return home, write_dataset(simulate(shifted), root / "shifted")


@pytest.mark.slow
def test_end_to_end_on_two_tiny_cities(cities, monkeypatch):
    home, away = cities
    rules = load_rule_base(None)
    kwargs = dict(
        anomaly=ProfileIsolationForest(n_estimators=30, random_state=0),
        supervised=RiskClassifier(n_estimators=40, early_stopping_rounds=10, random_state=0),
        min_positives=5,
    )
    capacity = {"patient": 20, "stay": 10, "visit": 40, "provider": 3, "doctor": 5}
    splits, labels, frames = {}, {}, {}
    for name, path in (("home", home), ("away", away)):
        with load_dataset(path) as ds:
            claims = ds.table("claims")
            span = (claims.admit_time.min().execute(), claims.admit_time.max().execute())
            split = time_split(
                *(t.to_pydatetime() for t in span),
                None,
                validation_days=30,
                gap_days=0,
                eval_days=None,
            )
            splits[name], labels[name] = split, ds.table("labels").to_pandas()
            parts = ("fit", "later", "evaluation") if name == "home" else ("evaluation",)
            frames[name] = {w: frames_and_hits(ds, getattr(split, w), rules)[0] for w in parts}
    split, windows, fit_kwargs = splits["home"], frames["home"], dict(kwargs)
    fit_kwargs |= dict(feature_set_version=FEATURE_SET_VERSION, currency="CNY")

    # the composition from frames made once is train_and_evaluate's run, figure for figure
    # (train_and_evaluate given the same frames: making them again would only cost time)
    made = {getattr(split, w): f for w, f in windows.items()}
    monkeypatch.setattr(training, "frames_and_hits", lambda ds, w, rules: (made[w], None, {}))
    withhold = [SCHEMES[0]]
    with load_dataset(home) as ds:
        reference = train_and_evaluate(
            ds, rules, split, capacity=capacity, withhold=withhold, **kwargs
        )
    _, withheld = fit_and_evaluate(
        windows,
        labels["home"],
        split.until,
        judge_labels=labels["home"],
        capacity=capacity,
        withhold=withhold,
        **fit_kwargs,
    )
    _same(withheld.metrics, reference.metrics)
    _same(withheld.schemes, reference.schemes)

    # scoring the shifted city with the fitted models is what a run fitted afresh gives
    fits, in_sample = fit_and_evaluate(
        windows,
        labels["home"],
        split.until,
        judge_labels=labels["home"],
        capacity=capacity,
        **fit_kwargs,
    )
    away_frames = frames["away"]["evaluation"]
    _, reused = score_elsewhere(fits, away_frames, labels["away"], capacity)
    _, refitted = fit_and_evaluate(
        {**windows, "evaluation": away_frames},
        labels["home"],
        split.until,
        judge_labels=labels["away"],
        capacity=capacity,
        **fit_kwargs,
    )
    _same(reused.metrics, refitted.metrics)
    _same(reused.schemes, refitted.schemes)

    head = headline_table(in_sample.metrics, reused.metrics)
    assert set(fits) <= set(head.entity)
    assert (head.shifted_n > 0).all() and head.shifted_ap.notna().any()
    levels = own_levels(scheme_positives(in_sample.scores))
    # the planted schemes and the national rules' cases planted with them
    national = {case for case, parent in NATIONAL_SCHEMES.items() if parent in SCHEMES}
    assert set(levels.scheme) == set(SCHEMES) | national
    table = withheld_table({SCHEMES[0]: withheld.schemes}, in_sample.schemes, levels, capacity)
    row = table.set_index("scheme").loc[SCHEMES[0]]
    assert row.entity == levels.set_index("scheme").at[SCHEMES[0], "entity"]
    assert 0.0 <= row.full_stack <= 1.0 and 0.0 <= row.in_sample <= 1.0
    assert table.full_stack.isna().sum() == len(levels) - 1  # only one scheme was withheld
