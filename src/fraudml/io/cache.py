"""Validate once: a validated dataset kept for every later command on the same files.

An entry is a folder ``<cache>/<key>/`` holding ``validated.duckdb`` (the accepted tables)
and ``validation.json`` (reconciliation, warnings, what was skipped). The key hashes the
dataset's fingerprint (every table file's name and bytes), ``dataset.json``, the CSV
encoding and the validating code itself, so that a changed file, setting or validator
builds a new entry instead of reusing a stale one. An entry is written whole (claimed,
staged, renamed into place) and opened read-only by any number of processes; entries of
earlier versions of the same dataset folder are removed when a new one is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from fraudml.errors import OutputError
from fraudml.io.outputs import OutputClaim, claim_output, written_by

log = logging.getLogger(__name__)

#: The command name in an entry's marker.
COMMAND = "validation-cache"
DATABASE = "validated.duckdb"
REPORT = "validation.json"


def _validator_digest() -> str:
    """A hash of the code that decides what is accepted: the contract and the io package."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*package.glob("*.py"), package.parent / "contract.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(fingerprint: str, encoding: str, metadata: dict[str, str], dataset: Path) -> str:
    """The entry name for this data, in this folder, read this way by this validator (the
    folder counts: the kept report names it in its warnings and file names)."""
    digest = hashlib.sha256()
    folder = str(Path(dataset).resolve())
    meta = json.dumps(metadata, sort_keys=True)
    for part in (fingerprint, encoding, meta, folder, _validator_digest()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:24]


def lookup(cache: Path, key: str) -> Path | None:
    """The complete entry for ``key``, or ``None``."""
    if not Path(cache).is_dir():
        return None
    entry = Path(cache) / key
    if written_by(entry) == COMMAND and (entry / DATABASE).is_file() and (entry / REPORT).is_file():
        return entry
    return None


def claim_entry(cache: Path, key: str, dataset: Path) -> OutputClaim | None:
    """Claim the entry for ``key`` to write it; ``None`` when another process is writing
    it (this run then validates without keeping the result)."""
    try:
        return claim_output(Path(cache) / key, COMMAND, immutable=[dataset])
    except (OutputError, OSError) as exc:  # held by another run, or no folder to be had
        log.warning("validation not kept in %s: %s", cache, exc)
        return None


def store_copy(cache: Path, key: str, dataset: Path, folder: Path) -> Path | None:
    """Keep a copy of the validation output ``folder`` (``make validate``'s) as the entry."""
    claim = claim_entry(cache, key, dataset)
    if claim is None:
        return None
    try:
        with claim.staging() as tmp:
            for name in (DATABASE, REPORT):
                shutil.copy2(folder / name, tmp / name)
        prune(cache, key, dataset)
        return claim.path
    finally:
        claim.release()


def read_report(entry: Path) -> dict:
    return json.loads((entry / REPORT).read_text(encoding="utf-8"))


def prune(cache: Path, keep: str, dataset: Path, scope: str = "all") -> None:
    """Remove the entries of earlier versions of ``dataset`` (another key, same folder,
    same ``scope``: ``all`` for the whole dataset, ``until …`` for a load of the months
    before a period's end, so that scoring a month keeps ``make validate``'s entry)."""
    here = str(Path(dataset).resolve())
    for entry in Path(cache).iterdir():
        if entry.name == keep or not entry.is_dir() or written_by(entry) != COMMAND:
            continue
        try:
            report = read_report(entry)
            same = (
                str(Path(report["dataset"]).resolve()) == here
                and report.get("scope", "all") == scope
            )
        except (OSError, ValueError, KeyError):
            continue
        if same:
            shutil.rmtree(entry, ignore_errors=True)
            log.info("removed the kept validation of an earlier version: %s", entry)
