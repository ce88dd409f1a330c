"""What the service knows of earlier claims, in DuckDB, and each check's window from it.

History tables (``h_*``) hold the patients, providers, claims and fee lines of the dataset
given at start (``DATA``) and of every recorded check after it. A check's window, in the
work tables (``w_*``, :mod:`fraudml.service.engine`), is its own claims and fee lines with
every earlier claim of the same patients, plus the earlier fee lines carrying one of its
trace codes: all that a history rule reads (frequency, stays, places, trace codes), so
the rules give the hits of a batch run over the whole history.

Lookups stay fast on a large city because each patient has a number (``pk``) and the
claims and fee lines are stored in its order, so DuckDB reads only the row groups holding
it. The coded fee lines are kept apart too, indexed by trace code (an ART index: a sorted
hash does not help DuckDB once a check names more than one code).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from fraudml.contract import (
    CATALOG,
    CHRONIC_REGISTRATIONS,
    CLAIM_ITEMS,
    CLAIMS,
    ENGINE_TYPE,
    PATIENTS,
    PROVIDERS,
    Table,
)
from fraudml.io.load import Dataset
from fraudml.service.engine import column_types, create_table_sql

log = logging.getLogger(__name__)

_ARROW = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
}
#: Above this many patients a check's lookups join a list instead of naming numbers.
_INLINE = 512
_ALL = "SELECT pk FROM r_claims"
_UNSENT = f"{_ALL} WHERE pk NOT IN (SELECT pk FROM r_patients)"


def arrow_schema(table: Table, *extra: tuple[str, pa.DataType]) -> pa.Schema:
    fields = [(c.name, _ARROW[ENGINE_TYPE[c.type]]) for c in table.columns]
    return pa.schema([*fields, *extra])


def _cols(table: Table, prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{c}"' for c in table.column_names)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


@dataclass
class Batch:
    """A check's rows as Arrow tables in the contract's columns.

    ``claims`` and ``items`` carry the patient's number (``pk``); ``items`` also carries
    its claim's ``admit_time`` as ``claim_admit_time``.
    """

    claims: pa.Table
    items: pa.Table
    patients: pa.Table
    providers: pa.Table
    #: patient id → number, for every patient of the batch
    keys: dict[str, int]
    #: the patients whose attributes came with the request
    sent_patients: set[str] = field(default_factory=set)


CLAIM_SCHEMA = arrow_schema(CLAIMS, ("pk", pa.int64()))
ITEM_SCHEMA = arrow_schema(
    CLAIM_ITEMS, ("pk", pa.int64()), ("claim_admit_time", pa.timestamp("us"))
)
PATIENT_SCHEMA = arrow_schema(PATIENTS, ("pk", pa.int64()))
PROVIDER_SCHEMA = arrow_schema(PROVIDERS)


class History:
    """The history tables on ``con`` (a DuckDB connection) and their patient numbers."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.keys: dict[str, int] = {}
        #: the highest patient number given so far
        self.top = 0
        #: provider id → its row as the service knows it (providers are few)
        self.provider_rows: dict[str, dict[str, Any]] = {}
        #: whether the service has the dataset's catalog and chronic-disease registrations
        self.catalog = False
        self.registrations = False
        self.loaded_from: str | None = None
        self.until: datetime | None = None

    # ------------------------------------------------------------------ start-up

    def create(self, index: bool = True) -> None:
        """Empty history tables (``index``: with the trace codes' index already)."""
        con = self.con
        con.execute(create_table_sql("h_patients", {**column_types(PATIENTS), "pk": "BIGINT"}))
        con.execute(create_table_sql("h_providers", column_types(PROVIDERS)))
        con.execute(create_table_sql("h_claims", {**column_types(CLAIMS), "pk": "BIGINT"}))
        con.execute(create_table_sql("h_items", {**column_types(CLAIM_ITEMS), "pk": "BIGINT"}))
        con.execute(
            create_table_sql(
                "h_registrations", {**column_types(CHRONIC_REGISTRATIONS), "pk": "BIGINT"}
            )
        )
        con.execute(
            create_table_sql(
                "h_traces",
                {
                    "trace_code": "VARCHAR",
                    "claim_id": "VARCHAR",
                    "line_no": "BIGINT",
                    "item_time": "TIMESTAMP",
                    "admit_time": "TIMESTAMP",
                    "pk": "BIGINT",
                },
            )
        )
        if index:
            con.execute("CREATE INDEX h_traces_code ON h_traces (trace_code)")

    def load(self, ds: Dataset, until: datetime | None = None) -> None:
        """The dataset's patients, providers, claims (admitted before ``until``) and fee
        lines as the history. ``ds`` must live on this connection."""
        started = time.perf_counter()
        con = self.con
        self.create(index=False)
        con.execute(
            f"INSERT INTO h_patients SELECT {_cols(PATIENTS)}, "
            "row_number() OVER (ORDER BY patient_id) AS pk FROM patients ORDER BY pk"
        )
        con.execute(f"INSERT INTO h_providers SELECT {_cols(PROVIDERS)} FROM providers")
        before = "" if until is None else f"WHERE c.admit_time < TIMESTAMP '{until.isoformat()}'"
        con.execute(
            f"INSERT INTO h_claims SELECT {_cols(CLAIMS, 'c.')}, p.pk FROM claims c "
            f"JOIN h_patients p USING (patient_id) {before} ORDER BY p.pk, c.admit_time"
        )
        if "claim_items" in ds:
            con.execute(
                f"INSERT INTO h_items SELECT {_cols(CLAIM_ITEMS, 'i.')}, c.pk FROM claim_items i "
                "JOIN h_claims c USING (claim_id) ORDER BY c.pk, i.claim_id, i.line_no"
            )
            con.execute(
                "INSERT INTO h_traces SELECT i.trace_code, i.claim_id, i.line_no, i.item_time, "
                "c.admit_time, c.pk FROM h_items i JOIN h_claims c USING (claim_id) "
                "WHERE i.trace_code IS NOT NULL ORDER BY i.trace_code"
            )
        con.execute("CREATE INDEX h_traces_code ON h_traces (trace_code)")
        if "catalog" in ds:
            # read by every check: held in memory beside the history
            con.execute(
                f"CREATE OR REPLACE TABLE h_catalog AS SELECT {_cols(CATALOG)} FROM catalog"
            )
            self.catalog = True
        if "chronic_registrations" in ds:
            con.execute(
                f"INSERT INTO h_registrations SELECT {_cols(CHRONIC_REGISTRATIONS, 'r.')}, p.pk "
                "FROM chronic_registrations r JOIN h_patients p USING (patient_id) ORDER BY p.pk"
            )
            self.registrations = True
        self.keys = dict(con.execute("SELECT patient_id, pk FROM h_patients").fetchall())
        self.top = max(self.keys.values(), default=0)
        self.provider_rows = {
            r["provider_id"]: r
            for r in con.sql("SELECT * FROM h_providers").to_arrow_table().to_pylist()
        }
        self.loaded_from = str(ds.path)
        self.until = until
        counts = self.counts()
        log.info(
            "history: %s claims, %s fee lines, %s patients, %s providers (%.1f s)",
            f"{counts['claims']:,}",
            f"{counts['items']:,}",
            f"{counts['patients']:,}",
            f"{counts['providers']:,}",
            time.perf_counter() - started,
        )

    def counts(self) -> dict[str, int]:
        out = {}
        for key, table in (
            ("claims", "h_claims"),
            ("items", "h_items"),
            ("patients", "h_patients"),
            ("providers", "h_providers"),
        ):
            out[key] = int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        return out

    # ------------------------------------------------------------------ per check

    def keys_for(self, patient_ids: Sequence[str]) -> dict[str, int]:
        """A number for each patient: its own, or a new one for a patient not seen yet."""
        out: dict[str, int] = {}
        top = self.top
        for pid in patient_ids:
            if pid in out:
                continue
            known = self.keys.get(pid)
            if known is None:
                top += 1
                known = top
            out[pid] = known
        return out

    @staticmethod
    def _pk_filter(pks: Sequence[int], otherwise: str) -> str:
        """``pk`` among ``pks``: named when few (DuckDB then reads only their row groups),
        else as the query ``otherwise`` that selects the same numbers."""
        if len(pks) <= _INLINE:
            return f"pk IN ({', '.join(str(int(k)) for k in pks)})"
        return f"pk IN ({otherwise})"

    @staticmethod
    def _id_filter(ids: Sequence[str], otherwise: str) -> str:
        if len(ids) <= _INLINE:
            return f"claim_id IN ({_quoted(ids)})"
        return f"claim_id IN ({otherwise})"

    def fill(self, batch: Batch) -> None:
        """The work tables: the batch's claims and the history they need.

        The batch's rows are registered with the connection for :meth:`record` too.
        """
        con = self.con
        con.register("r_claims", batch.claims)
        con.register("r_items", batch.items)
        if batch.sent_patients:
            con.register("r_patients", batch.patients)
        self._upsert_providers(batch)
        pks = sorted(set(batch.keys.values()))
        in_pks = self._pk_filter(pks, "SELECT pk FROM r_claims")
        ids = batch.claims.column("claim_id").to_pylist()
        sent = self._id_filter(ids, "SELECT claim_id FROM r_claims")
        unsent = [pk for pid, pk in batch.keys.items() if pid not in batch.sent_patients]
        parts = []
        if batch.sent_patients:
            parts.append(f"SELECT {_cols(PATIENTS)} FROM r_patients")
        if unsent:
            parts.append(
                f"SELECT {_cols(PATIENTS)} FROM h_patients WHERE "
                f"{self._pk_filter(unsent, _UNSENT if batch.sent_patients else _ALL)}"
            )
        patients = "INSERT INTO w_patients BY NAME " + " UNION ALL ".join(parts)
        registrations = ""
        if self.registrations:
            registrations = (
                f"DELETE FROM w_registrations; INSERT INTO w_registrations BY NAME SELECT "
                f"{_cols(CHRONIC_REGISTRATIONS)} FROM h_registrations WHERE {in_pks}; "
            )
        con.execute(
            "DELETE FROM w_claims; DELETE FROM w_items; DELETE FROM w_patients; "
            f"{registrations}{patients}; "
            f"INSERT INTO w_claims BY NAME SELECT {_cols(CLAIMS)} FROM r_claims UNION ALL "
            f"SELECT {_cols(CLAIMS)} FROM h_claims WHERE {in_pks} AND NOT {sent}; "
            f"INSERT INTO w_items BY NAME SELECT {_cols(CLAIM_ITEMS)} FROM r_items UNION ALL "
            f"SELECT {_cols(CLAIM_ITEMS)} FROM h_items WHERE {in_pks} AND NOT {sent}"
        )
        codes = [c for c in set(batch.items.column("trace_code").to_pylist()) if c is not None]
        if not codes:
            return
        # earlier sales of the batch's trace codes to other patients: their fee lines and
        # claims, for the trace-code look-back alone (without their patients they join
        # no other rule's window)
        coded = (
            f"IN ({_quoted(codes)})"
            if len(codes) <= _INLINE
            else "IN (SELECT trace_code FROM r_items)"
        )
        # the code alone in the condition: DuckDB then reads the index, not the table
        rows = con.execute(
            "SELECT claim_id, line_no, trace_code, item_time, admit_time, pk FROM h_traces "
            f"WHERE trace_code {coded}"
        ).fetchall()
        mine, own = set(pks), set(ids)
        others = [r[:5] for r in rows if r[5] not in mine and r[0] not in own]
        if others:
            names = ("claim_id", "line_no", "trace_code", "item_time", "admit_time")
            con.register(
                "r_others", pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in others])
            )
            con.execute(
                "INSERT INTO w_items BY NAME SELECT claim_id, line_no, trace_code, item_time "
                "FROM r_others; INSERT INTO w_claims BY NAME SELECT DISTINCT claim_id, "
                "admit_time FROM r_others"
            )

    def _upsert_providers(self, batch: Batch) -> None:
        """Providers the batch sends replace what the service knew of them (at once: the
        rules read the providers' table as it is)."""
        changed = [
            row
            for row in batch.providers.to_pylist()
            if self.provider_rows.get(row["provider_id"]) != row
        ]
        if not changed:
            return
        table = pa.Table.from_pylist(changed, schema=PROVIDER_SCHEMA)
        self.con.register("r_providers", table)
        self.con.execute(
            "DELETE FROM h_providers WHERE provider_id IN (SELECT provider_id FROM r_providers); "
            "INSERT INTO h_providers BY NAME SELECT * FROM r_providers"
        )
        for row in changed:
            self.provider_rows[row["provider_id"]] = row

    def record(self, batch: Batch, claim_ids: Sequence[str]) -> None:
        """Add ``claim_ids`` of the batch :meth:`fill` was given last to the history
        (replacing earlier versions of the same claims), with the patients it sent."""
        con = self.con
        if batch.sent_patients:
            sent = sorted(batch.keys[p] for p in batch.sent_patients)
            con.execute(
                f"DELETE FROM h_patients WHERE {self._pk_filter(sent, 'SELECT pk FROM r_patients')}"
                "; INSERT INTO h_patients BY NAME SELECT * FROM r_patients"
            )
        for pid, pk in batch.keys.items():
            self.keys.setdefault(pid, pk)
            self.top = max(self.top, pk)
        if not claim_ids:
            return
        every = len(claim_ids) == batch.claims.num_rows
        chosen = "" if every else f" WHERE claim_id IN ({_quoted(claim_ids)})"
        pks = sorted({batch.keys[p] for p in batch.claims.column("patient_id").to_pylist()})
        in_pks = self._pk_filter(pks, "SELECT pk FROM r_claims")
        ids = self._id_filter(claim_ids, "SELECT claim_id FROM r_claims" + chosen)
        again = con.execute(f"SELECT count(*) FROM h_claims WHERE {in_pks} AND {ids}").fetchall()[
            0
        ][0]
        if again:
            # a claim checked again replaces its earlier version
            codes = con.execute(
                f"SELECT DISTINCT trace_code FROM h_items WHERE {in_pks} AND {ids} "
                "AND trace_code IS NOT NULL"
            ).fetchall()
            con.execute(
                f"DELETE FROM h_claims WHERE {in_pks} AND {ids}; "
                f"DELETE FROM h_items WHERE {in_pks} AND {ids}"
            )
            if codes:
                con.execute(
                    f"DELETE FROM h_traces WHERE trace_code IN ({_quoted(c[0] for c in codes)}) "
                    f"AND {ids}"
                )
        items = f"FROM r_items{chosen}"
        coded = f"{items} {'AND' if chosen else 'WHERE'} trace_code IS NOT NULL"
        con.execute(
            f"INSERT INTO h_claims BY NAME SELECT * FROM r_claims{chosen}; "
            f"INSERT INTO h_items BY NAME SELECT * EXCLUDE (claim_admit_time) {items}; "
            "INSERT INTO h_traces SELECT trace_code, claim_id, line_no, item_time, "
            f"claim_admit_time, pk {coded}"
        )
