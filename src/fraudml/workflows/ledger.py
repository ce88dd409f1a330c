"""The practitioners' points ledger and the providers' credit rating of a dataset.

``make ledger DATA=dir [UNTIL=date] OUT=dir`` reads the verdict history ``make feedback``
keeps in the dataset (``feedback/verdicts.parquet``) and writes, whole or not at all:

- ``status.parquet``/``.csv``: every practitioner's status as of UNTIL (``active``,
  ``watch``, ``suspended``, ``terminated``) with the year's and all points, the
  suspension and the bar on re-registration;
- ``ledger.parquet``/``.csv``: points added, restored and held per practitioner and year;
- ``person_file.parquet``/``.csv`` (一人一档): every event of every practitioner, each
  with the verdict and entity it comes from;
- ``credit.parquet``/``.csv`` (信用评价): every provider's score, grade and the items;
- ``suspensions.parquet``/``.csv``: ``doctor_id``, ``suspended_from``, ``suspended_to``
  as the doctors table names them, for the rule on billing while suspended;
- ``ledger.json``: the rules used, counts and the dataset's fingerprint.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from fraudml.io.atomic import write_json
from fraudml.io.load import Dataset
from fraudml.loop.credit import attribute, credit_rating
from fraudml.loop.ledger import Ledger, doctor_suspensions
from fraudml.loop.ledger import ledger as build_ledger
from fraudml.loop.settings import CreditRules, PointsRules
from fraudml.rulebase import Rule, apply_rules
from fraudml.settings import EngineSettings
from fraudml.window import Window
from fraudml.workflows.common import Data, Out, claimed, data_path, opened, rule_base
from fraudml.workflows.feedback import read_history

log = logging.getLogger("fraudml")

#: A CSV cell a spreadsheet would run as a formula starts so; it is written with a ``'``.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class LedgerRun:
    """The ledger (person file, yearly points, status) and the credit rating."""

    ledger: Ledger
    credit: pd.DataFrame
    until: date
    manifest: dict[str, object] = field(default_factory=dict)
    path: Path | None = None

    @property
    def status(self) -> pd.DataFrame:
        return self.ledger.status


def ledger(
    data: Data,
    *,
    until: date | None = None,
    points: PointsRules | None = None,
    credit: CreditRules | None = None,
    trainings: pd.DataFrame | None = None,
    rule_hits: bool = True,
    rules: list[Rule] | None = None,
    out: Out = None,
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    cache: str | Path | None = None,
) -> LedgerRun:
    """The points ledger and the credit rating of ``data`` as of ``until``.

    Parameters
    ----------
    data : path or Dataset
        The dataset whose verdict history (``make feedback``) is read.
    until : date, optional
        The day the status and the rating are for; verdicts decided before it count.
        Default: today.
    points, credit : PointsRules, CreditRules, optional
        The rules (the national points rules and the default rating when ``None``).
    trainings : DataFrame, optional
        Training completed (``doctor_id``, ``completed_at``, ``points``), for a local
        variant that restores points.
    rule_hits : bool
        Run the rule base over the rating window for the rule-hit item (off: no item).
    rules : list of Rule, optional
        The rule base (the shipped one when ``None``).
    out : path, optional
        Where to write the files listed in the module, whole or not at all.
    """
    started = time.perf_counter()
    until = until or date.today()
    points = points or PointsRules()
    credit = credit or CreditRules()
    root = data_path(data)
    with claimed(out, "ledger", immutable=[root]) as output:
        history = read_history(root)
        if history.empty:
            log.warning(
                "%s holds no verdicts yet (make feedback DATA=%s VERDICTS=file first): "
                "every practitioner is active and no verdict counts in the rating",
                root,
                root,
            )
        with opened(data, encoding, engine, cache) as ds:
            doctors = _doctors(ds)
            result = build_ledger(history, doctors, points, until, trainings)
            rating = _rating(ds, history, doctors, result, credit, until, rule_hits, rules)
            fingerprint = ds.fingerprint
        manifest: dict[str, object] = {
            "dataset": str(root),
            "fingerprint": fingerprint,
            "until": until.isoformat(),
            "verdicts": len(history),
            "practitioners": result.status.status.value_counts().to_dict(),
            "grades": rating.grade.value_counts().sort_index().to_dict(),
            "points_rules": _plain(points.__dict__),
            "credit_rules": _plain(credit.__dict__),
            "rule_hits": rule_hits,
            "seconds": round(time.perf_counter() - started, 2),
        }
        if output is not None:
            with output.staging() as tmp:
                for name, frame in (
                    ("status", result.status),
                    ("ledger", result.ledger),
                    ("person_file", result.events),
                    ("credit", rating),
                    ("suspensions", doctor_suspensions(result.status)),
                ):
                    frame.to_parquet(tmp / f"{name}.parquet", index=False)
                    _safe_text(frame).to_csv(tmp / f"{name}.csv", index=False, encoding="utf-8-sig")
                write_json(tmp / "ledger.json", manifest)
    log.info(
        "ledger as of %s: %s; credit grades %s",
        until,
        manifest["practitioners"],
        manifest["grades"],
    )
    return LedgerRun(result, rating, until, manifest, output.path if output else None)


def _doctors(ds: Dataset) -> pd.DataFrame:
    if "doctors" not in ds:
        log.warning("no doctors table: only practitioners named in verdicts get a status")
        return pd.DataFrame(
            {"doctor_id": pd.Series(dtype=str), "provider_id": pd.Series(dtype=str)}
        )
    return ds.table("doctors").select("doctor_id", "provider_id").to_pandas()


def _rating(
    ds: Dataset,
    history: pd.DataFrame,
    doctors: pd.DataFrame,
    result: Ledger,
    credit: CreditRules,
    until: date,
    rule_hits: bool,
    rules: list[Rule] | None,
) -> pd.DataFrame:
    start = datetime.combine(until - timedelta(days=credit.window_days), datetime.min.time())
    end = datetime.combine(until, datetime.min.time())
    claims = ds.table("claims")
    period = claims.filter((claims.admit_time >= start) & (claims.admit_time < end))
    activity = (
        period.group_by("provider_id")
        .agg(claims=period.count(), fund_paid=period.fund_paid.sum())
        .to_pandas()
    )
    wanted = sorted(set(history.entity_id[history.entity_type == "claim"].astype(str)))
    owners = (
        claims.filter(claims.claim_id.isin(wanted)).select("claim_id", "provider_id").to_pandas()
        if wanted
        else pd.DataFrame({"claim_id": [], "provider_id": []})
    )
    verdicts = attribute(history, owners, doctors) if not history.empty else history
    if rule_hits:
        run = apply_rules(ds, Window(start, end), rule_base(rules))
        h = run.hits.filter(run.hits.provider_id.notnull())
        hits = h.group_by("provider_id").agg(rule_hits=h.count()).to_pandas()
    else:
        hits = pd.DataFrame({"provider_id": [], "rule_hits": []})
    providers = ds.table("providers").select("provider_id").to_pandas()
    return credit_rating(providers, verdicts, activity, hits, result.status, credit, until)


def _safe_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as formulas, made plain text (notes, ids)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = [
                "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
                for v in out[col]
            ]
    return out


def _plain(values: dict[str, object]) -> dict[str, object]:
    return {k: (dict(v) if hasattr(v, "items") else v) for k, v in values.items()}


def read_trainings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A trainings file (CSV or Parquet: ``doctor_id``, ``completed_at``, ``points``)."""
    from fraudml.errors import ContractError

    file = Path(path)
    try:
        frame = (
            pd.read_parquet(file)
            if file.suffix == ".parquet"
            else pd.read_csv(file, dtype=str, encoding="utf-8-sig")
        )
    except (OSError, ValueError) as exc:
        raise ContractError(f"{file}: cannot read the trainings file ({exc})") from None
    missing = [c for c in ("doctor_id", "completed_at", "points") if c not in frame]
    if missing:
        raise ContractError(
            f"{file}: missing column {', '.join(missing)} (expected doctor_id, completed_at, "
            "points)"
        )
    for i, (when, pts) in enumerate(zip(frame.completed_at, frame.points, strict=True), start=2):
        try:
            pd.Timestamp(when)
            ok = float(pts).is_integer() and 1 <= float(pts) <= 12
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ContractError(
                f"{file}: row {i}: completed_at {when!r} / points {pts!r} (expected a date "
                "and whole points from 1 to 12)"
            )
    return frame.assign(points=frame.points.astype(float).astype(int))
