"""What every workflow shares: opening the data, the rule base, the output claim."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from fraudml.errors import OutputError, RuleBaseError
from fraudml.io.load import Dataset
from fraudml.io.outputs import OutputClaim, as_claim
from fraudml.paths import conf_dir
from fraudml.rulebase import CHECKS, Rule, RuleSpecError, load_rules
from fraudml.settings import EngineSettings
from fraudml.window import Window
from fraudml.workflows.validation import validate

log = logging.getLogger("fraudml")

#: What a workflow reads: a dataset folder, or a dataset already opened (validated).
Data = str | os.PathLike[str] | Dataset
#: Where a workflow writes: a folder, a folder already claimed, or nothing.
Out = str | os.PathLike[str] | OutputClaim | None


def load_rule_base(files: Sequence[str | Path] | str | Path | None = None) -> list[Rule]:
    """The rule files or folders ``files``, or the shipped rule base (``conf/rules/``).

    A malformed rule base raises :class:`RuleBaseError` naming the file, rule and field.
    """
    if files:
        paths = [Path(files)] if isinstance(files, str | Path) else [Path(f) for f in files]
    else:
        paths = [conf_dir() / "rules"]
    try:
        return load_rules(paths, CHECKS)
    except RuleSpecError as exc:
        raise RuleBaseError(str(exc)) from None


def rule_base(rules: Sequence[Rule] | None) -> list[Rule]:
    """``rules`` as given, or the shipped rule base when ``None``."""
    return load_rule_base() if rules is None else list(rules)


@contextmanager
def opened(
    data: Data,
    encoding: str = "utf-8",
    engine: EngineSettings | None = None,
    cache: str | Path | None = None,
    until: date | datetime | None = None,
) -> Iterator[Dataset]:
    """``data`` validated and open for the block; closed after it when opened here.
    ``until`` limits claim tables partitioned by month to the months before it.

    With ``cache``, a validation kept there for these very files is reused instead of
    validating again (:mod:`fraudml.io.cache`). The dataset's warnings go to the log, so
    that every command shows them.
    """
    if isinstance(data, Dataset):
        yield data
        return
    ds = validate(data, encoding=encoding, engine=engine, cache=cache, until=until)
    try:
        yield ds
    finally:
        ds.close()


def data_path(data: Data) -> Path:
    return data.path if isinstance(data, Dataset) else Path(data)


@contextmanager
def claimed(
    out: Out, command: str, protect: Iterable[Path] = (), immutable: Iterable[Path] = ()
) -> Iterator[OutputClaim | None]:
    """The output folder checked and locked for the block (``None`` when not writing).

    Claimed before any work, so a folder that may not be written stops the run at once.
    """
    if out is None:
        yield None
        return
    claim, owned = as_claim(out, command, protect, immutable)
    try:
        yield claim
    finally:
        if owned:
            claim.release()


def window_dict(window: Window) -> dict[str, str | None]:
    """The window as manifests write it: ISO dates (with the time when not midnight)."""

    def iso(value: datetime | None) -> str | None:
        if value is None:
            return None
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat()

    return {"start": iso(window.start), "end": iso(window.end)}


def guard_store(folder: Path | None, data: Data, key: str) -> None:
    """The tracking store may not live inside the dataset: raw data is never written."""
    if folder is None:
        return
    store, dataset = Path(folder).resolve(), data_path(data).resolve()
    if store == dataset or dataset in store.parents:
        raise OutputError(
            f"{key}={folder} is inside the dataset {dataset}, which fraudml never writes "
            "into; keep the tracking store elsewhere"
        )
