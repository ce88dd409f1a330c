"""Out of core on one machine: a city generated in parts, validated, profiled and ruled on
DuckDB under a memory limit, spilling to disk.

The city is :mod:`fraudml.synth.parts`: sub-cities of at most :data:`PART_LINES` fee lines
(at least two, so every size is a merged city), each simulated in a child process of its
own and written Hive-partitioned by month. The pipeline runs in one child: validation into
a DuckDB file, every profile of the whole period, then the whole rule base, with DuckDB's
``memory_limit`` at :data:`MEMORY_LIMIT` and its spill in a folder the parent watches
(bytes in it sampled every half second: the peaks are the spill and the scratch
database). Each size's figures are kept in ``data/bench/scale-results.json``, so that the
section shows every size measured (1M, 10M, 100M) whichever was run last.

Child use: ``python -m benchmarks.scale_bench part ROOT INDEX PATIENTS`` and
``python -m benchmarks.scale_bench pipeline ROOT WORK``.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "bench"
RESULTS = DATA / "scale-results.json"
#: The largest sub-city: the simulator peaks at 4.9 GiB for 10M fee lines.
PART_LINES = 10_000_000
#: Fee lines per patient-year of a simulated city (9,871,442 lines for 326,797 patients).
LINES_PER_PATIENT = 30.2
#: DuckDB's memory limit for the pipeline: well inside the 24 GiB the issue allows, and
#: below this shared machine's free memory; beyond it DuckDB spills.
MEMORY_LIMIT = "8GB"


def _child(*args: str, watch: Path | None = None) -> tuple[float, float, dict[str, int], dict]:
    """Run ``benchmarks.scale_bench args`` in a child: wall s, peak RSS GiB, the peak bytes
    in ``watch`` of DuckDB's spill and of the scratch database (:func:`_bytes_in`), and its
    JSON result."""
    peak = {"spill": 0, "scratch": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            for kind, size in _bytes_in(watch).items():
                peak[kind] = max(peak[kind], size)

    sampler = threading.Thread(target=sample, daemon=True) if watch is not None else None
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scale_bench", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if sampler is not None:
        sampler.start()
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"scale benchmark step {args[0]} failed")
    return seconds, usage.ru_maxrss / 1024**2, peak, json.loads(out.strip().splitlines()[-1])


def _bytes_in(folder: Path | None) -> dict[str, int]:
    """Bytes of files below ``folder``: the scratch database of intermediate tables
    (:mod:`fraudml.engine.scratch`, with its WAL) apart from everything else, DuckDB's
    spill."""
    from fraudml.engine.scratch import FILE

    total = {"spill": 0, "scratch": 0}
    if folder is None or not folder.exists():
        return total
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                kind = "scratch" if path.name.startswith(FILE) else "spill"
                total[kind] += path.stat().st_size
        except OSError:
            pass  # a spill file removed while counting
    return total


def plan(n_lines: int) -> tuple[int, int]:
    """Parts and patients per part for about ``n_lines`` fee lines."""
    parts = max(2, math.ceil(n_lines / PART_LINES))
    return parts, int(n_lines / parts / LINES_PER_PATIENT)


def city(n_lines: int) -> tuple[Path, dict]:
    """The city of about ``n_lines`` fee lines in parts, generated once and kept."""
    parts, patients = plan(n_lines)
    root = DATA / f"parts-{n_lines}"
    marker = root / ".complete"
    if marker.exists():
        return root, json.loads(marker.read_text())
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    made = {"parts": parts, "patients_per_part": patients, "seconds": 0.0, "peak_gib": 0.0}
    made |= {"claims": 0, "claim_items": 0, "bytes": 0}
    for index in range(parts):
        print(f"scale: part {index + 1}/{parts}, {patients:,} patients …", flush=True)
        seconds, peak, _, counts = _child("part", str(root), str(index), str(patients))
        made["seconds"] += seconds
        made["peak_gib"] = max(made["peak_gib"], peak)
        made["claims"] += counts["claims"]
        made["claim_items"] += counts["claim_items"]
    made["bytes"] = sum(_bytes_in(root).values())
    marker.write_text(json.dumps(made))
    return root, made


def measure(n_lines: int) -> dict:
    """Generate (once), then run the pipeline; the figures, also kept in RESULTS."""
    root, made = city(n_lines)
    work = DATA / f"scale-work-{n_lines}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        print(f"scale: validate, profile and rule {made['claim_items']:,} fee lines …", flush=True)
        seconds, peak, spill, result = _child("pipeline", str(root), str(work), watch=work / "tmp")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = {
        "lines": made["claim_items"],
        "claims": made["claims"],
        "parts": made["parts"],
        "data_gib": made["bytes"] / 1024**3,
        "generate_s": made["seconds"],
        "generate_peak_gib": made["peak_gib"],
        "seconds": seconds,
        "peak_gib": peak,
        "spill_gib": spill["spill"] / 1024**3,
        "scratch_gib": spill["scratch"] / 1024**3,
        "memory_limit": MEMORY_LIMIT,
        "date": time.strftime("%Y-%m-%d"),
        **result,
    }
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    kept[str(n_lines)] = figures
    RESULTS.write_text(json.dumps(kept, indent=2))
    return figures


def section(n_lines: int) -> list[str]:
    """Measure ``n_lines`` and write the table of every size measured so far."""
    measure(n_lines)
    kept = json.loads(RESULTS.read_text())
    sizes = sorted(kept.values(), key=lambda f: f["lines"])
    rows = [
        "### Out of core on one machine: a city in parts, validated, profiled and ruled "
        f"(DuckDB memory_limit={MEMORY_LIMIT}; target: 100M fee lines within 24 GiB)",
        "",
        "| fee lines | claims | parts | Parquet (GiB) | generating, in parts (s) | validation (s) "
        "| profiles (s) | rules (s) | pipeline wall time (s) | peak memory (GiB) | "
        "spill at peak (GiB) | scratch file at peak (GiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in sizes:
        # runs before the scratch file (2026-12-01) had none; one run (2026-12-02, 100M)
        # counted the two together, before they were told apart
        scratch = f.get("scratch_gib")
        together = f.get("spill_with_scratch", False)
        rows.append(
            f"| {f['lines']:,} | {f['claims']:,} | {f['parts']} | {f['data_gib']:.2f} "
            f"| {f['generate_s']:.0f} (peak {f['generate_peak_gib']:.1f} GiB) "
            f"| {f['validate_s']:.1f} | {f['profiles_s']:.1f} | {f['rules_s']:.1f} "
            f"| {f['seconds']:.1f} | {f['peak_gib']:.2f} "
            + (
                f"| {f['spill_gib']:.2f} with the scratch file | (in the spill) |"
                if together
                else f"| {f['spill_gib']:.2f} | "
                + ("none then" if scratch is None else f"{scratch:.2f}")
                + " |"
            )
        )
    growth = [
        f"{b['lines'] / a['lines']:.1f}× the lines took {b['seconds'] / a['seconds']:.1f}× "
        f"the time ({a['lines'] / 1e6:.0f}M → {b['lines'] / 1e6:.0f}M)"
        for a, b in itertools.pairwise(sizes)
    ]
    rows += [
        "",
        "Growth: " + ("; ".join(growth) if growth else "one size measured so far") + ".",
        "",
        "The city is independent sub-cities (`fraudml.synth.parts`: seeds of their own, "
        f"identifiers suffixed per part, at most {PART_LINES // 1_000_000}M fee lines each, "
        "each simulated in a process of its own), written as Hive-partitioned Parquet "
        "(`claims/month=YYYY-MM/part-NN.parquet`). The pipeline is one process: validation "
        "into a DuckDB file, every profile of the whole year, then the whole rule base; peak "
        "memory is its maximum resident set size, spill the most bytes found in DuckDB's "
        "temporary directory and scratch file the largest size of the scratch database of "
        "intermediate tables (`fraudml.engine.scratch`, compressed; both sampled every 0.5 s). "
        "Measured by "
        "`python -m benchmarks.run --only scale --lines N` "
        f"(`make bench ARGS=--lines=100000000` for 100M); last run {sizes[-1]['date']}.",
        "",
    ]
    return rows


def _part(root: Path, index: int, patients: int) -> dict:
    from fraudml.synth import SimulationConfig
    from fraudml.synth.parts import simulate_part

    return simulate_part(SimulationConfig(n_patients=patients), root, index)


def _pipeline(root: Path, work: Path) -> dict:
    from fraudml import load_dataset
    from fraudml.features import Window, build_profiles, materialise
    from fraudml.rulebase.engine import apply_rules
    from fraudml.settings import EngineSettings
    from fraudml.workflows.common import load_rule_base

    started = time.perf_counter()
    engine = EngineSettings(memory_limit=MEMORY_LIMIT)
    ds = load_dataset(
        root, database=work / "validated.duckdb", engine=engine, temp_directory=work / "tmp"
    )
    validated = time.perf_counter()
    window = Window()
    built = build_profiles(ds, window)
    tables = materialise(ds, built)
    profiled = time.perf_counter()
    run = apply_rules(ds, window, load_rule_base(), built.inputs)
    hits = int(run.hits.count().execute())
    ruled = time.perf_counter()
    accepted = {c.table: c.accepted for c in ds.reconciliation.tables}
    rows = {e: int(t.count().execute()) for e, t in tables.items()}
    ds.close()
    return {
        "validate_s": validated - started,
        "profiles_s": profiled - validated,
        "rules_s": ruled - profiled,
        "accepted_lines": accepted.get("claim_items", 0),
        "profile_rows": rows,
        "hits": hits,
    }


def main() -> None:
    step, *args = sys.argv[1:]
    if step == "part":
        result = _part(Path(args[0]), int(args[1]), int(args[2]))
    elif step == "pipeline":
        # progress of the long steps on stderr (stdout carries the result)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        # each rule's seconds: at 100M a rule's statement ran out of memory (2026-12-02)
        logging.getLogger("fraudml.rulebase.engine").setLevel(logging.DEBUG)
        result = _pipeline(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(f"unknown step {step}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
