"""The suite benchmark reads pytest's output: its summary and its slowest tests; the
heavy marker is skipped unless asked for."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.suite_bench import slowest_tests, summary_line

OUTPUT = """\
........s.                                                               [100%]
============================= slowest 3 durations ==============================
97.32s setup    tests/test_spark.py::test_validation_is_the_same
6.76s call     tests/test_x.py::test_one[a-b]
0.01s teardown tests/test_x.py::test_two
=========================== short test summary info ============================
SKIPPED [2] tests/conftest.py: heavy end-to-end check
============ 770 passed, 2 skipped, 1 xfailed, 79 warnings in 1498.33s (0:24:58) ============
"""


def test_summary_and_slowest_are_read_from_pytest_output():
    assert summary_line(OUTPUT) == "770 passed, 2 skipped, 1 xfailed, 79 warnings"
    assert slowest_tests(OUTPUT) == [
        (97.32, "setup tests/test_spark.py::test_validation_is_the_same"),
        (6.76, "call tests/test_x.py::test_one[a-b]"),
        (0.01, "teardown tests/test_x.py::test_two"),
    ]


def test_heavy_tests_are_skipped_unless_asked_for(tmp_path: Path):
    """The suite's own conftest on a one-test folder: skipped with its reason, run with
    ``--heavy``."""
    shutil.copy(Path(__file__).parent / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    heavy: heavy\n")
    (tmp_path / "test_big.py").write_text(
        "import pytest\n\n\n@pytest.mark.heavy\ndef test_big():\n    pass\n"
    )

    def run(*args: str) -> str:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
        return done.stdout

    skipped = run()
    assert "1 skipped" in skipped and "run by `make bench`" in skipped
    assert "1 passed" in run("--heavy")
