"""Shared test helpers: tiny hand-built datasets written to the contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

HEAVY_REASON = "heavy end-to-end check: run by `make bench` (or pytest --heavy), not `make test`"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--heavy",
        action="store_true",
        help="also run the tests marked heavy (make bench runs them; make test skips them)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``heavy`` are skipped, with the reason shown, unless ``--heavy`` is given:
    the suite has a ten-minute budget on CI, and these repeat at full size what faster
    tests check piece by piece (a notebook's whole run, the real-data page)."""
    _slow_files_first(items)
    if config.getoption("--heavy"):
        return
    skip = pytest.mark.skip(reason=HEAVY_REASON)
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


def _slow_files_first(items: list[pytest.Item]) -> None:
    """Order the test files by how many of their tests are marked ``slow``, most first,
    keeping the order within each file.

    ``make test`` hands whole files to two processes (``--dist loadfile``) in this order;
    a long file started last would leave one process working alone at the end, so the
    long ones go first and the short ones fill in behind them."""

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    slow: dict[str, int] = {}
    for item in items:
        slow[file_of(item)] = slow.get(file_of(item), 0) + ("slow" in item.keywords)
    position = {f: i for i, f in enumerate(slow)}
    items.sort(key=lambda item: (-slow[file_of(item)], position[file_of(item)]))


PATIENTS = [
    {
        "patient_id": "001",
        "gender": "M",
        "birth_date": "1950-01-02",
        "insurance_type": "employee",
        "region": "110101",
    },
    {
        "patient_id": "002",
        "gender": "F",
        "birth_date": "1988-07-30",
        "insurance_type": "resident",
        "region": "110102",
    },
]
PROVIDERS = [
    {
        "provider_id": "H1",
        "provider_type": "hospital",
        "level": "3",
        "region": "110101",
        "beds": "800",
        "name": "市第一医院",
    },
    {
        "provider_id": "D1",
        "provider_type": "pharmacy",
        "level": "",
        "region": "110102",
        "beds": "",
        "name": "<script>alert(1)</script>",
    },
]
CLAIMS = [
    {
        "claim_id": "C1",
        "patient_id": "001",
        "provider_id": "H1",
        "doctor_id": "",
        "visit_type": "outpatient",
        "department": "internal",
        "admit_time": "2024-03-01 09:30:00",
        "discharge_time": "2024-03-01 09:30:00",
        "diagnosis_code": "I10",
        "total_amount": "120.50",
        "fund_paid": "80.00",
        "account_paid": "30.00",
        "cash_paid": "10.50",
    },
    {
        "claim_id": "C2",
        "patient_id": "002",
        "provider_id": "D1",
        "doctor_id": "",
        "visit_type": "pharmacy",
        "department": "pharmacy",
        "admit_time": "2024-03-02 15:00:00",
        "discharge_time": "2024-03-02 15:00:00",
        "diagnosis_code": "",
        "total_amount": "45.00",
        "fund_paid": "0.00",
        "account_paid": "45.00",
        "cash_paid": "0.00",
    },
]
CLAIM_ITEMS = [
    {
        "claim_id": "C1",
        "line_no": "1",
        "item_code": "XA01",
        "item_category": "western_drug",
        "quantity": "2",
        "unit_price": "30.25",
        "amount": "60.50",
        "item_time": "2024-03-01 09:40:00",
        "trace_code": "81000000000000000001",
    },
    {
        "claim_id": "C1",
        "line_no": "2",
        "item_code": "LB01",
        "item_category": "lab",
        "quantity": "1",
        "unit_price": "60",
        "amount": "60",
        "item_time": "",
        "trace_code": "",
    },
    {
        "claim_id": "C2",
        "line_no": "1",
        "item_code": "XA01",
        "item_category": "western_drug",
        "quantity": "1.5",
        "unit_price": "30",
        "amount": "45",
        "item_time": "",
        "trace_code": "",
    },
]


def base_tables() -> dict[str, list[dict[str, str]]]:
    """A small valid dataset, as text values (the way a CSV holds them)."""
    return {
        "patients": [dict(r) for r in PATIENTS],
        "providers": [dict(r) for r in PROVIDERS],
        "claims": [dict(r) for r in CLAIMS],
        "claim_items": [dict(r) for r in CLAIM_ITEMS],
    }


def write_csv_dataset(
    root: Path, tables: dict[str, list[dict[str, str]]], encoding: str = "utf-8"
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        frame = pd.DataFrame(rows, dtype="string")
        frame.to_csv(root / f"{name}.csv", index=False, encoding=encoding)
    return root


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Write ``base_tables()`` changed by ``edit`` as CSV and return the directory."""
    counter = {"n": 0}

    def _make(edit: Callable[[dict], None] | None = None, encoding: str = "utf-8") -> Path:
        tables = base_tables()
        if edit is not None:
            edit(tables)
        counter["n"] += 1
        return write_csv_dataset(tmp_path / f"ds{counter['n']}", tables, encoding)

    return _make


@pytest.fixture(scope="session")
def city_root() -> Path:
    """The committed small synthetic city."""
    return Path(__file__).resolve().parents[1] / "data" / "synthetic" / "small"


@pytest.fixture(autouse=True, scope="session")
def kept_validations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Commands keep their validations in a session folder, not in the repository's
    outputs/ (the config reads $FRAUDML_CACHE)."""
    import os

    folder = tmp_path_factory.mktemp("kept-validations")
    os.environ["FRAUDML_CACHE"] = str(folder)
    return folder


#: MLflow's variables naming a store; MLflow writes them into the environment itself.
MLFLOW_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True, scope="session")
def no_outside_store() -> None:
    """The suite never writes to a store the shell names (an operator's MLFLOW_TRACKING_URI
    would otherwise receive the tests' models); tests that want one set it themselves."""
    import os

    for name in MLFLOW_VARIABLES:
        os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def store_variables_restored() -> Iterator[None]:
    """Each test leaves MLflow's variables as it found them: ``mlflow.set_tracking_uri``
    copies its URI into the environment, where a later test's workflow, or a notebook
    kernel it starts, would read it as the user's choice."""
    import os

    before = {name: os.environ.get(name) for name in MLFLOW_VARIABLES}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


#: A part of the rule base with definite and suspicious rules of claims, lines and stays,
#: for the end-to-end tests whose subject is not the rules (registration, outputs, label
#: leakage): the whole base over three training windows costs most of a training's time,
#: and the rules have tests of their own (test_rules*.py).
SOME_RULES = [
    Path(__file__).resolve().parents[1] / "conf" / "rules" / name
    for name in ("billing.yaml", "catalog.yaml")
]


def some_rules_override() -> str:
    """:data:`SOME_RULES` as a Hydra override of ``rules.files``."""
    return "rules.files=[" + ",".join(f"'{p}'" for p in SOME_RULES) + "]"
