"""The notebooks import fraudml, are stored without outputs, and run on the small city."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
#: notebooks that train and score the whole small city (minutes each): their run is a heavy
#: check (``make bench``); the workflows they call are tested on their own (test_api.py,
#: test_score.py), and every notebook's cleanliness is checked here in any case
TRAINING = {"01_quick_start", "03_explain_a_lead"}


def _run_param(path: Path):
    marks = [pytest.mark.heavy] if path.stem in TRAINING else []
    return pytest.param(path, id=path.stem, marks=marks)


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01_quick_start.ipynb",
        "02_profiles_and_peers.ipynb",
        "03_explain_a_lead.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean(path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "stored with outputs"
            assert "def " not in cell.source and "class " not in cell.source, "library code"


@pytest.mark.slow
@pytest.mark.parametrize("path", [_run_param(p) for p in NOTEBOOKS])
def test_notebook_runs(path):
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
