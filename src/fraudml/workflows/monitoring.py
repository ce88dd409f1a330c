"""The monitoring report (动态监测专报) of a period: tables, HTML and XLSX in zh and en."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from fraudml.io.atomic import write_json
from fraudml.monitoring import MonitorSettings, MonitorTables, monitor_tables
from fraudml.monitoring.render import ReportInfo, write_reports
from fraudml.monitoring.tables import check_period, month_label
from fraudml.settings import EngineSettings
from fraudml.window import Window
from fraudml.workflows.common import Data, Out, claimed, data_path, opened, window_dict

log = logging.getLogger("fraudml")


@dataclass
class MonitorResult:
    """The report's tables (pandas), its manifest, and where it was written."""

    tables: MonitorTables
    manifest: dict[str, object] = field(default_factory=dict)
    path: Path | None = None

    @property
    def spending(self) -> pd.DataFrame:
        return self.tables.spending

    @property
    def items(self) -> pd.DataFrame:
        return self.tables.items

    @property
    def focus_providers(self) -> pd.DataFrame:
        return self.tables.focus_providers

    @property
    def providers(self) -> pd.DataFrame:
        return self.tables.providers


def monitor(
    data: Data,
    period: Window | None = None,
    *,
    settings: MonitorSettings | None = None,
    out: Out = None,
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    cache: str | Path | None = None,
) -> MonitorResult:
    """The monitoring report of ``period`` (whole months; all the data's months when
    ``None`` or open).

    Parameters
    ----------
    data : path or Dataset
        A dataset folder (validated here) or a dataset already open.
    period : Window, optional
        ``[start, end)`` on admit_time; both sides the first day of a month. The year
        before it is read too, as the base of the year-on-year growth.
    settings : MonitorSettings, optional
        How many items and providers to show, the growth and departure thresholds, and
        the languages written.
    out : path, optional
        Write ``monitor.<lang>.html``, ``monitor.<lang>.xlsx`` and ``monitor.json`` there,
        whole or not at all.
    """
    settings = settings or MonitorSettings()
    period = period or Window()
    check_period(period)  # a wrong FROM/UNTIL stops before the dataset is read
    started = time.perf_counter()
    with (
        claimed(out, "monitor", immutable=[data_path(data)]) as output,
        opened(data, encoding, engine, cache) as ds,
    ):
        tables = monitor_tables(ds, period, settings)
        manifest: dict[str, object] = {
            "dataset": str(ds.path),
            "fingerprint": ds.fingerprint,
            "window": window_dict(period),
            "months": [month_label(m) for m in tables.months],
            "bases": tables.bases,
            "partial_months": tables.partial,
            "settings": {
                "top_items": settings.top_items,
                "growth_alert": settings.growth_alert,
                "outlier_z": settings.outlier_z,
                "min_peers": settings.min_peers,
                "top_providers": settings.top_providers,
                "langs": list(settings.langs),
            },
            "rows": {k: len(v) for k, v in tables.as_dict().items()},
            "departing_providers": int((tables.providers.departures != "").sum()),
            "abnormal_items": int(tables.items.abnormal.sum()) if len(tables.items) else 0,
        }
        if output is not None:
            info = ReportInfo(
                dataset=ds.path.name,
                generated=datetime.now().isoformat(" ", "minutes"),
                currency=ds.currency,
            )
            with output.staging() as tmp:
                manifest["files"] = write_reports(tmp, tables, settings, info)
                manifest["seconds"] = round(time.perf_counter() - started, 1)
                write_json(tmp / "monitor.json", manifest)
    log.info(
        "monitor %s..%s: %d departing providers, %d abnormal items (%.1f s)",
        manifest["months"][0],
        manifest["months"][-1],
        manifest["departing_providers"],
        manifest["abnormal_items"],
        time.perf_counter() - started,
    )
    return MonitorResult(tables, manifest, output.path if output else None)
