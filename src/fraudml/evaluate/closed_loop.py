"""The closed loop measured: do auditors' verdicts make next month's leads better?

The simulator plays the auditors. Month by month:

1. score month *m* with the champion models;
2. take a verdict on each of its leads from the simulator's truth (the synthetic city's
   labels table holds every planted scheme): ``confirmed`` (one verdict per scheme) when
   the entity is truly fraudulent, ``cleared`` otherwise, decided on the month's last day;
3. feed the verdicts back (:func:`fraudml.feedback`, as ``make
   feedback`` does) into a copy of the dataset, retrain with ``UNTIL`` = the next month,
   and score month *m + 1*.

The comparison arm (*without*) retrains the same way on the dataset as it is, without
verdicts: its labels become known only at their own dates. A third arm (*only*) starts
with no labels at all and learns from the verdicts on its own leads alone. Every arm is
judged against the truth on the scored month: AP per entity type over every scored
entity, and per scheme the recall of its positives among the leads.

Only the API is used (``fraudml.train``, ``fraudml.score``, ``fraudml.feedback``). ``python -m
fraudml.evaluate.closed_loop [dataset] [out.md] [first-month] [months]`` prints the
section (and writes it to ``out.md`` when given); :func:`closed_loop_section` returns it
for docs/quality.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see fraudml.evaluate.quality

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from sklearn.metrics import average_precision_score

import fraudml
from fraudml.config import register
from fraudml.models.fusion import Fusion
from fraudml.paths import conf_dir
from fraudml.settings import ScoreSettings, TrainSettings
from fraudml.window import Window

#: The lead types a verdict is taken on (group leads are handed over as their members).
VERDICT_TYPES = ("claim", "patient", "provider", "doctor")
#: without: the dataset's own labels only; with: those and the verdicts; only: the
#: verdicts alone (a bureau starting without labels, learning from its own audits)
ARMS = ("without", "with", "only")
#: the arms that take verdicts on their own leads
AUDITED = ("with", "only")


@dataclass
class ClosedLoop:
    """The measurement: one row per arm, month and entity type (AP), and per arm, month
    and scheme (recall of its positives among the leads)."""

    ap: pd.DataFrame
    recall: pd.DataFrame
    verdicts: pd.DataFrame
    months: list[datetime]
    seconds: float
    settings: dict[str, object] = field(default_factory=dict)


def month_starts(first: datetime, count: int) -> list[datetime]:
    """``count + 1`` month starts from ``first`` (the last one ends the last month)."""
    out = [first]
    for _ in range(count):
        nxt = (out[-1].replace(day=1) + timedelta(days=32)).replace(day=1)
        out.append(nxt)
    return out


def truth_of(labels: pd.DataFrame) -> pd.DataFrame:
    """The truly fraudulent entities and their schemes (label 1 rows, any date)."""
    pos = labels[labels.label.astype(int) == 1]
    out = pos[["entity_type", "entity_id", "scheme"]].drop_duplicates()
    scheme = out.scheme.astype(object).where(out.scheme.notna(), None)
    return out.astype({"entity_type": str, "entity_id": str}).assign(scheme=scheme)


def verdicts_for(leads: pd.DataFrame, truth: pd.DataFrame, decided: datetime) -> pd.DataFrame:
    """The auditors' verdicts on ``leads``: confirmed per true scheme, else cleared."""
    mine = leads[leads.entity_type.isin(VERDICT_TYPES)][["entity_type", "entity_id"]]
    mine = mine.astype(str).drop_duplicates()
    joined = mine.merge(truth, on=["entity_type", "entity_id"], how="left", indicator=True)
    found = (joined.pop("_merge") == "both").tolist()
    return pd.DataFrame(
        {
            "entity_type": joined.entity_type,
            "entity_id": joined.entity_id,
            "verdict": ["confirmed" if f else "cleared" for f in found],
            "scheme": [
                s if f and isinstance(s, str) else None
                for f, s in zip(found, joined.scheme, strict=True)
            ],
            "decided_at": decided.date().isoformat(),
            "source": "closed-loop simulation",
        }
    )


def judge(
    scores: pd.DataFrame, leads: pd.DataFrame, truth: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """AP per entity type over ``scores``; recall per scheme of its scored positives."""
    scored = scores[scores.entity_type.isin(VERDICT_TYPES)][["entity_type", "entity_id", "score"]]
    scored = scored.astype({"entity_id": str})
    positive = set(zip(truth.entity_type, truth.entity_id, strict=True))
    flags = [(t, i) in positive for t, i in zip(scored.entity_type, scored.entity_id, strict=True)]
    scored = scored.assign(positive=flags)
    ap_rows = []
    for entity_type, group in scored.groupby("entity_type"):
        n_pos = int(group.positive.sum())
        ap = average_precision_score(group.positive, group.score) if n_pos else float("nan")
        ap_rows.append(
            {"entity_type": entity_type, "ap": ap, "positives": n_pos, "scored": len(group)}
        )
    flagged = set(zip(leads.entity_type, leads.entity_id.astype(str), strict=True))
    in_scores = truth.merge(scored[["entity_type", "entity_id"]], on=["entity_type", "entity_id"])
    rec_rows = []
    for scheme, group in in_scores.groupby("scheme"):
        hit = sum(
            (t, i) in flagged for t, i in zip(group.entity_type, group.entity_id, strict=True)
        )
        rec_rows.append(
            {"scheme": scheme, "recall": hit / len(group), "found": hit, "positives": len(group)}
        )
    return pd.DataFrame(ap_rows), pd.DataFrame(rec_rows)


def train_settings(overrides: list[str] | None = None) -> tuple[TrainSettings, ScoreSettings]:
    """Lightweight training settings (``model=lightgbm_small``, a 30-day validation slice,
    a one-month evaluation window), forced to the champion every month."""
    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                "data.path=unused",
                "model=lightgbm_small",
                "evaluate.validation_days=30",
                "evaluate.eval_days=31",
                *(overrides or []),
            ],
        )
    ev = cfg.evaluate
    settings = TrainSettings(
        anomaly=instantiate(cfg.anomaly, _convert_="all"),
        supervised=instantiate(cfg.model, _convert_="all"),
        capacity=ev.capacity,
        min_positives=cfg.train.min_positives,
        mode="time",
        validation_days=ev.validation_days,
        label_delay_days=ev.label_delay_days,
        eval_days=ev.eval_days,
        explore_share=ev.explore_share,
        explore_bar=ev.explore_bar,
        seed=cfg.seed,
        experiment="closed-loop",
        force_champion=True,
        fusion=Fusion(
            anomaly_weight=float(cfg.fusion.anomaly_weight),
            anomaly_power=float(cfg.fusion.anomaly_power),
            alone_weight=float(cfg.fusion.alone_weight),
        ),
    )
    return settings, ScoreSettings(
        capacity=ev.capacity, explore_share=ev.explore_share, explore_bar=ev.explore_bar
    )


def run_closed_loop(
    dataset: str | Path,
    first: datetime = datetime(2024, 6, 1),
    months: int = 6,
    work: str | Path | None = None,
    overrides: list[str] | None = None,
) -> ClosedLoop:
    """Run the arms over ``months`` scored months from ``first`` (see the module).

    In month ``first`` *without* and *with* are the same models (no verdict yet) and are
    scored once; each later month is scored by every arm's models retrained up to it.
    ``work`` holds the dataset copy and the tracking store (a temporary folder when
    ``None``, removed afterwards).
    """
    started = time.perf_counter()
    own = work is None
    folder = Path(tempfile.mkdtemp(prefix="closed-loop-")) if own else Path(work)
    folder.mkdir(parents=True, exist_ok=True)
    base_train, base_score = train_settings(overrides)
    source = Path(dataset)
    copy = folder / "with-verdicts"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("feedback"))
    alone = folder / "verdicts-only"
    if alone.exists():
        shutil.rmtree(alone)
    shutil.copytree(source, alone, ignore=shutil.ignore_patterns("feedback", "labels.*"))
    truth = truth_of(pd.read_parquet(source / "labels.parquet"))
    data = {"without": source, "with": copy, "only": alone}
    cache = folder / "cache"

    def settings_of(arm: str) -> tuple[TrainSettings, ScoreSettings]:
        ns = f"closed-loop-{arm}"
        store = folder / "mlflow"
        t = replace(base_train, namespace=ns, store=store)
        s = ScoreSettings(capacity=base_score.capacity, namespace=ns, store=store)
        return t, s

    starts = month_starts(first, months)
    ap_rows, rec_rows, verdict_rows = [], [], []
    for i in range(months):
        start, end = starts[i], starts[i + 1]
        # the first month: without and with are the same models (no verdict yet)
        arms = ARMS if i > 0 else ("with", "only")
        for arm in arms:
            t, s = settings_of(arm)
            fraudml.train(data[arm], until=start, settings=t, cache=cache)
            run = fraudml.score(data[arm], Window(start, end), settings=s, cache=cache)
            ap, recall = judge(run.scores, run.leads, truth)
            name = "both" if (i == 0 and arm == "with") else arm
            ap_rows += [{"arm": name, "month": start, **r} for r in ap.to_dict("records")]
            rec_rows += [{"arm": name, "month": start, **r} for r in recall.to_dict("records")]
            if arm in AUDITED:
                decided = end - timedelta(days=1)
                verdicts = verdicts_for(run.leads, truth, decided)
                path = folder / f"verdicts-{arm}-{start:%Y-%m}.csv"
                verdicts.to_csv(path, index=False)
                fraudml.feedback(data[arm], path, cache=cache)
                verdict_rows.append(
                    {
                        "arm": arm,
                        "month": start,
                        "verdicts": len(verdicts),
                        "confirmed": int((verdicts.verdict == "confirmed").sum()),
                        "cleared": int((verdicts.verdict == "cleared").sum()),
                    }
                )
    result = ClosedLoop(
        pd.DataFrame(ap_rows),
        pd.DataFrame(rec_rows),
        pd.DataFrame(verdict_rows),
        starts[:-1],
        time.perf_counter() - started,
        {
            "model": "lightgbm_small",
            "validation_days": 30,
            "eval_days": 31,
            **dict(overrides=overrides or []),
        },
    )
    if own:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _f(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:.3f}"


def _value(frame: pd.DataFrame, month: datetime, arm: str, column: str) -> float:
    """``column`` of ``arm`` in ``month``; without and with are the same (``both``) in the
    first month."""
    here = frame[frame.month == month]
    mine = here[here.arm == arm]
    if mine.empty and arm in ("without", "with"):
        mine = here[here.arm == "both"]
    return float(mine[column].mean()) if not mine.empty else float("nan")


def _cell(frame: pd.DataFrame, month: datetime, column: str) -> str:
    return " / ".join(_f(_value(frame, month, arm, column)) for arm in ARMS)


def render_section(result: ClosedLoop, dataset: str, command: str) -> str:
    """The closed-loop section as markdown (a ``##`` heading and its tables)."""
    lines = [
        "## Closed loop: retraining on auditors' verdicts",
        "",
        f"The simulator plays the auditors on `{dataset}`: each month's leads get a verdict "
        "from the planted truth (confirmed per true scheme, else cleared, decided on the "
        "month's last day), fed back with the workflow of `make feedback`; the models are "
        "retrained up to the next month (`fraudml.train`) and score it (`fraudml.score`). "
        "Three arms retrain the same way: **without** on the dataset's own labels (the "
        "simulator's, each known from its own date), **with** on those and the verdicts, "
        "**only** on the verdicts alone (a bureau starting without labels, learning from its "
        "own audits of its own leads). Judged on the scored month against the truth: AP per "
        "entity type over every scored entity, and per scheme the share of its scored "
        "positives among the leads (the default capacities). Settings: "
        f"{result.settings['model']}, validation slice {result.settings['validation_days']} "
        "days; in the first month without and with are the same models.",
        "",
        f"Measured by `{command}` in {result.seconds / 60:.1f} min.",
        "",
        "Verdicts taken each month (on that month's leads of the arm):",
        "",
        "| month | arm | verdicts | confirmed | cleared |",
        "|---|---|---:|---:|---:|",
    ]
    for r in result.verdicts.itertuples():
        lines.append(f"| {r.month:%Y-%m} | {r.arm} | {r.verdicts} | {r.confirmed} | {r.cleared} |")
    ap = result.ap
    types = [t for t in VERDICT_TYPES if t in set(ap.entity_type)]
    lines += ["", "AP by month and entity type (without / with / only):", ""]
    lines.append("| month | " + " | ".join(types) + " |")
    lines.append("|---|" + "---|" * len(types))
    for month in result.months:
        here = ap[ap.month == month]
        cells = []
        for t in types:
            mine = here[here.entity_type == t]
            pos = int(mine.positives.iloc[0]) if not mine.empty else 0
            cells.append(f"{_cell(mine, month, 'ap')} ({pos} pos.)")
        lines.append(f"| {month:%Y-%m} | " + " | ".join(cells) + " |")
    rec = result.recall
    months = result.months
    lines += ["", "Recall of each scheme's positives among the leads (without / with / only):", ""]
    lines.append("| scheme | " + " | ".join(f"{m:%Y-%m}" for m in months) + " |")
    lines.append("|---|" + "---|" * len(months))
    for scheme in sorted(set(rec.scheme)):
        mine = rec[rec.scheme == scheme]
        lines.append(f"| {scheme} | " + " | ".join(_cell(mine, m, "recall") for m in months) + " |")
    later = months[1:]
    if later:

        def mean(frame: pd.DataFrame, arm: str, column: str) -> float:
            return float(pd.Series([_value(frame, m, arm, column) for m in later]).mean())

        recall = {
            a: mean(rec.groupby(["month", "arm"], as_index=False).recall.mean(), a, "recall")
            for a in ARMS
        }
        aps = {
            a: mean(ap.groupby(["month", "arm"], as_index=False).ap.mean(), a, "ap") for a in ARMS
        }
        lines += [
            "",
            f"From {later[0]:%Y-%m} to {later[-1]:%Y-%m} (the retrained months), the mean over "
            "months of the mean scheme recall: "
            + ", ".join(f"{_f(recall[a])} {a}" for a in ARMS)
            + "; of the mean AP over entity types: "
            + ", ".join(f"{_f(aps[a])} {a}" for a in ARMS)
            + ".",
        ]
    return "\n".join(lines) + "\n"


def closed_loop_section(
    dataset: str = "data/synthetic/small",
    first: datetime = datetime(2024, 6, 1),
    months: int = 6,
    overrides: list[str] | None = None,
) -> str:
    """Run the experiment and return its markdown section (for docs/quality.md)."""
    result = run_closed_loop(dataset, first, months, overrides=overrides)
    command = f"python -m fraudml.evaluate.closed_loop {dataset}"
    return render_section(result, dataset, command)


def main() -> None:
    args = sys.argv[1:]
    dataset = args[0] if args else "data/synthetic/small"
    target = Path(args[1]) if len(args) > 1 else None
    first = datetime.fromisoformat(args[2]) if len(args) > 2 else datetime(2024, 6, 1)
    months = int(args[3]) if len(args) > 3 else 6
    section = closed_loop_section(dataset, first, months)
    if target is not None:
        target.write_text(section, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
