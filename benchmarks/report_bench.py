"""Scoring a month with everything auditors receive: the HTML report, the spreadsheet and
the PDF case packs (稽核线索包) of the top 10 provider leads (target ≤ 60 s on the large
city's month). Usage, standalone (trains the champions first when no store is given)::

    python -m benchmarks.report_bench MONTH_DIR [--store DIR --namespace NAME] [--train CITY]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

#: the provider leads given a case pack in the measurement
CASE_PACKS = 10


def run(root: Path, store: Path, namespace: str, out: Path, packs: int = CASE_PACKS) -> dict:
    """``fraudml score`` of the month ``root`` with the champions of ``namespace``, its
    report, spreadsheet and ``packs`` case packs; wall time and the manifest's parts."""
    import fraudml
    from fraudml.report.settings import ReportSettings

    started = time.perf_counter()
    from fraudml.settings import DEFAULT_CAPACITY

    # at least ``packs`` provider leads, so that ``packs`` case packs are written
    capacity = {**DEFAULT_CAPACITY, "provider": max(DEFAULT_CAPACITY["provider"], packs)}
    settings = fraudml.ScoreSettings(capacity=capacity, namespace=namespace, store=store)
    fraudml.score(
        root,
        fraudml.Window(),
        settings=settings,
        out=out,
        report=ReportSettings(case_packs=packs),
    )
    seconds = time.perf_counter() - started
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    pdfs = sorted((out / "casepacks").glob("*.pdf"))
    return {
        "seconds": seconds,
        "leads": sum(manifest["rows"]["leads"].values()),
        "parts": manifest["seconds"],
        "case_packs": len(pdfs),
        "pdf_kib": round(sum(p.stat().st_size for p in pdfs) / 1024),
        "html_kib": round((out / "report.html").stat().st_size / 1024),
        "xlsx_kib": round((out / "report.xlsx").stat().st_size / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("month", type=Path)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--train", type=Path, help="city to train the champions on first")
    ap.add_argument("--packs", type=int, default=CASE_PACKS)
    args = ap.parse_args()
    store = args.store or Path(tempfile.mkdtemp(prefix="report-bench-"))
    if args.train is not None:
        import fraudml

        t0 = time.perf_counter()
        fraudml.train(
            args.train, settings=fraudml.TrainSettings(store=store, namespace=args.namespace)
        )
        print(f"trained in {time.perf_counter() - t0:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.month, store, args.namespace, Path(tmp) / "out", args.packs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
