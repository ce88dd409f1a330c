"""The test suite's wall time against its ten-minute budget, and the heavy checks.

``make test`` runs ``pytest -n 2 --dist loadfile``; tests marked ``heavy`` are skipped
there (tests/conftest.py) and run here with ``--heavy``, so that they still run and fail
loudly: a failing test stops the benchmark. Each run is a child process, timed from the
outside; the slowest tests are pytest's own ``--durations``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the suite's budget on CI, set-up aside (the developers' guide)
BUDGET_S = 600.0
#: how many of the slowest tests each run names
SLOWEST = 8
#: ``make test``'s command (the Makefile's ``test`` target), and the heavy checks'
SUITE = ["-n", "2", "--dist", "loadfile"]
HEAVY = ["--heavy", "-m", "heavy"]


@dataclass(frozen=True)
class SuiteRun:
    """One pytest run: its arguments, wall time, summary line and slowest tests."""

    args: list[str]
    seconds: float
    summary: str
    slowest: list[tuple[float, str]]


def run_pytest(args: list[str]) -> SuiteRun:
    """``pytest -q args`` in a child; stops the benchmark if any test fails."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += [*args, f"--durations={SLOWEST}"]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-5000:])
        raise SystemExit(f"pytest {' '.join(args)} failed (exit {proc.returncode})")
    return SuiteRun(args, seconds, summary_line(proc.stdout), slowest_tests(proc.stdout))


def summary_line(output: str) -> str:
    """pytest's last line without its ``=`` rule and time (``770 passed, 3 skipped``)."""
    lines = [line for line in output.splitlines() if line.strip()]
    last = lines[-1].strip("= ") if lines else ""
    return re.sub(r"\s+in [\d.]+s.*$", "", last)


def slowest_tests(output: str) -> list[tuple[float, str]]:
    """The ``--durations`` rows: seconds and ``phase test-id``."""
    rows = []
    for line in output.splitlines():
        m = re.match(r"^\s*([\d.]+)s\s+(setup|call|teardown)\s+(\S+)", line)
        if m:
            rows.append((float(m.group(1)), f"{m.group(2)} {m.group(3)}"))
    return rows


def section() -> list[str]:
    """The section of docs/benchmarks.md: the suite beside its budget, the heavy checks."""
    suite = run_pytest(SUITE)
    heavy = run_pytest(HEAVY)
    within = "within" if suite.seconds <= BUDGET_S else "over"
    out = [
        "### The test suite",
        "",
        "`make test` (`pytest -n 2 --dist loadfile`, the Makefile's set-up aside) and the heavy "
        "checks it skips (`pytest --heavy -m heavy`, in one process), each timed from outside "
        "on this machine.",
        "",
        "| run | wall (s) | budget (s) | result |",
        "|---|---:|---:|---|",
        f"| `make test` | {suite.seconds:.1f} | {BUDGET_S:.0f} ({within}) | {suite.summary} |",
        f"| heavy checks (`make bench` only) | {heavy.seconds:.1f} | — | {heavy.summary} |",
        "",
    ]
    for name, run in (("`make test`", suite), ("the heavy checks", heavy)):
        out.append(f"Slowest of {name} (pytest's `--durations`):")
        out.append("")
        out += [f"- {s:.1f} s {test}" for s, test in run.slowest]
        out.append("")
    return out
