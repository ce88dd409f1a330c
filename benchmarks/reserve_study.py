"""The capacity's reserve for label-free evidence: how its share and bar were chosen.

``python -m benchmarks.reserve_study [shares] [bars]`` (defaults ``0.2,0.3,0.4`` and
``0,0.5,0.8,0.85,0.9,0.95``) fits the default training configuration on the committed
city once with every label and once per scheme with that scheme's labels withheld, as
``make quality`` does, and scores the shifted and held-out cities with each fit (about
four minutes here). It then orders every fit's scores with each reserve (share × bar,
:func:`fraudml.models.fusion.reserve_order`) and prints, per city:

- the mean recall@K of each withheld scheme at its own level, over the schemes, and how
  many reach 0.5 (what the reserve is for: schemes nobody has labelled);
- the mean precision@K and AP over the lead types with every label known (what the
  reserve costs: places the risk order would have filled with confirmed leads).

Nothing is written; docs/quality.md quotes its figures.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fraudml.config import register
from fraudml.entities import CLAIM_KINDS, ENTITIES, lead_capacity
from fraudml.evaluate import quality
from fraudml.evaluate.generalisation import (
    fit_and_evaluate,
    own_levels,
    scheme_positives,
    score_elsewhere,
)
from fraudml.evaluate.metrics import ranking_metrics, recall_at_k_by_scheme
from fraudml.io import load_dataset
from fraudml.models.evaluation import lead_order
from fraudml.models.frames import frames_and_hits, window_frames
from fraudml.paths import conf_dir
from fraudml.synth import simulate, write_dataset
from fraudml.synth.simulate import simulation_config
from fraudml.workflows import load_rule_base

ROOT = Path(__file__).resolve().parents[1]
CITIES = ("committed", quality.SHIFTED, quality.HELDOUT)
#: city → entity type → held-out scores with ``label`` and ``scheme``
Scores = dict[str, dict[str, pd.DataFrame]]


def fitted_scores() -> tuple[dict[str | None, Scores], dict[str, int]]:
    """Scores of every fit (``None``: every label; a scheme: its labels withheld) on
    each city's evaluation window, and the capacity."""
    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data.path=data/synthetic/small"])
        sims = {
            name: compose(config_name="simulate", overrides=[f"simulate={name}"])
            for name in CITIES[1:]
        }
    rules = load_rule_base(cfg.rules.files)
    worlds = {}
    for name, sim in sims.items():
        path = ROOT / "data" / "generated" / name
        if not path.exists():  # make quality writes the same files from the same seed
            config = simulation_config(OmegaConf.to_container(sim.simulate, resolve=True))
            write_dataset(simulate(config), path)
        worlds[name] = quality._elsewhere(path, rules, cfg)
    with load_dataset(ROOT / "data/synthetic/small", memory_limit=cfg.engine.memory_limit) as ds:
        split, labels = quality._split(ds, cfg), quality._labels(ds)
        windows = {
            "fit": frames_and_hits(ds, split.fit, rules)[0],
            "later": frames_and_hits(ds, split.later, rules)[0],
            "evaluation": window_frames(ds, split.evaluation, rules).frames,
        }
        currency = ds.currency
    # the reserve is applied afterwards, to the scores (reserve_figures): none here
    kwargs = quality.fit_settings(cfg, currency)
    capacity = kwargs["capacity"]

    def run(withhold: list[str]) -> Scores:
        fits, evaluation = fit_and_evaluate(
            windows, labels, split.until, judge_labels=labels, withhold=withhold, **kwargs
        )
        out = {"committed": evaluation.scores}
        for name, w in worlds.items():
            out[name] = score_elsewhere(fits, w.frames, w.labels, capacity, w.split.until)[1].scores
        return out

    runs: dict[str | None, Scores] = {None: run([])}
    present = set(scheme_positives(runs[None]["committed"]).scheme)
    for scheme in sorted(present):
        runs[scheme] = run([scheme])
        print(f"  withheld {scheme}", file=sys.stderr, flush=True)
    return runs, capacity


def _lead_types(scores: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Entity types as scoring ranks them: stays and visits together as claims."""
    out = dict(scores)
    kinds = [k for k in CLAIM_KINDS if k in scores]
    if kinds:
        out["claim"] = pd.concat([scores[k] for k in kinds])
    return out


def _k(capacity: Mapping[str, int], lead_type: str) -> int:
    if lead_type == "claim":
        return lead_capacity(capacity, "claim", list(CLAIM_KINDS))
    return int(capacity.get(lead_type, ENTITIES[lead_type].capacity))


def reserve_figures(
    runs: Mapping[str | None, Scores], capacity: Mapping[str, int], share: float, bar: float
) -> dict[str, float]:
    """Per city: mean withheld recall, schemes found (≥ 0.5), mean precision@K and AP
    with every label known, with the reserve ``share`` × ``bar``."""
    row: dict[str, float] = {}
    for city in CITIES:
        levels = own_levels(scheme_positives(runs[None][city])).set_index("scheme")
        recalls = []
        for scheme, scores in runs.items():
            if scheme is None or scheme not in levels.index:
                continue
            level = levels.at[scheme, "entity"]
            frame = _lead_types(scores[city])[level]
            k = _k(capacity, level)
            order = lead_order(frame, k, share, bar).to_numpy()
            by = recall_at_k_by_scheme(frame.label.to_numpy(), order, frame.scheme, k)
            recalls.append(by.get(scheme, 0.0))
        precision, ap = [], []
        for lead_type, frame in _lead_types(runs[None][city]).items():
            k = _k(capacity, lead_type)
            m = ranking_metrics(frame.label.to_numpy(), lead_order(frame, k, share, bar), k)
            precision.append(m["precision_at_k"])
            ap.append(m["ap"])
        row |= {
            f"{city} recall": float(np.mean(recalls)),
            f"{city} found": int(np.sum(np.asarray(recalls) >= 0.5)),
            f"{city} precision@K": float(np.mean(precision)),
            f"{city} AP": float(np.mean(ap)),
        }
    return row


def markdown(table: pd.DataFrame) -> str:
    """``table`` as a Markdown table, figures to three places."""

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---:|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


def _numbers(argument: int, default: str) -> list[float]:
    text = sys.argv[argument] if len(sys.argv) > argument else default
    return [float(x) for x in text.split(",")]


def main() -> None:
    shares = _numbers(1, "0.2,0.3,0.4")
    bars = _numbers(2, "0,0.5,0.8,0.85,0.9,0.95")
    started = time.perf_counter()
    runs, capacity = fitted_scores()
    rows = [
        {"share": share, "bar": bar, **reserve_figures(runs, capacity, share, bar)}
        for share in [0.0, *shares]
        for bar in ([0.0] if share == 0 else bars)
    ]
    table = pd.DataFrame(rows)
    print(f"{len(runs) - 1} schemes withheld; {time.perf_counter() - started:.0f} s")
    print(markdown(table))


if __name__ == "__main__":
    main()
