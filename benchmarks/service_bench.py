"""The service at scale: single-claim checks and batches over HTTP on loopback.

``fraudml serve`` runs as it is deployed, in a process of its own, with the large city's
claims before November 2024 as its history. The client sends the first November claims
one at a time, in the order they were admitted, each on the same keep-alive connection
(1,000 checks in a row: latency per check, measured at the client, JSON both ways
included), then the next claims in batches of 1,000 (throughput). Every check is at
事中 (``stage=in``), so each claim joins the history before the next one comes.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import duckdb

START = "2024-11-01"
SINGLES = 1_000
BATCH = 1_000
BATCHES = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plain(row: dict) -> dict:
    return {
        k: v.isoformat(sep=" ") if isinstance(v, datetime | date) else v for k, v in row.items()
    }


def requests_from(root: Path, n: int) -> list[dict]:
    """The first ``n`` claims admitted from :data:`START` with their fee lines, as a
    hospital system sends them (patient and provider by id)."""
    con = duckdb.connect()
    claims = con.execute(
        f"SELECT * FROM read_parquet('{root}/claims/*.parquet') WHERE admit_time >= "
        f"TIMESTAMP '{START}' ORDER BY admit_time, claim_id LIMIT {n}"
    )
    names = [d[0] for d in claims.description]
    rows = [dict(zip(names, r, strict=True)) for r in claims.fetchall()]
    con.execute("CREATE TABLE wanted (claim_id VARCHAR)")
    con.executemany("INSERT INTO wanted VALUES (?)", [[r["claim_id"]] for r in rows])
    items = con.execute(
        f"SELECT i.* FROM read_parquet('{root}/claim_items/*.parquet') i "
        "SEMI JOIN wanted USING (claim_id)"
    )
    item_names = [d[0] for d in items.description]
    lines: dict[str, list[dict]] = {}
    for r in items.fetchall():
        line = dict(zip(item_names, r, strict=True))
        lines.setdefault(line["claim_id"], []).append(_plain(line))
    return [{"claim": _plain(c), "items": lines.get(c["claim_id"], [])} for c in rows]


def _peak_gib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def _post(conn: http.client.HTTPConnection, path: str, body: dict) -> dict:
    payload = json.dumps(body).encode()
    conn.request("POST", path, payload, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status}: {data[:300]!r}")
    return json.loads(data)


def run(root: Path, work: Path) -> dict:
    wanted = requests_from(root, SINGLES + BATCH * BATCHES)
    singles, batched = wanted[:SINGLES], wanted[SINGLES:]
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fraudml.cli.main",
            "serve",
            f"data.path={root}",
            f"data.cache={work / 'kept'}",
            f"port={port}",
            f"history.until={START}",
            f"audit={work / 'audit.jsonl'}",
            "access_log=false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "FRAUDML_SERVE_TOKEN": ""},
    )
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            if server.poll() is not None:
                raise SystemExit(f"fraudml serve exited with {server.returncode}")
            if time.perf_counter() - started > 900:
                raise SystemExit("fraudml serve did not start within 15 minutes")
            try:
                conn.request("GET", "/health")
                health = json.loads(conn.getresponse().read())
                break
            except OSError:
                conn.close()
                time.sleep(1)
        ready = time.perf_counter() - started
        latencies, hits, decisions = [], 0, {}
        t_singles = time.perf_counter()
        for body in singles:
            t0 = time.perf_counter()
            answer = _post(conn, "/v1/check?stage=in", body)
            latencies.append(time.perf_counter() - t0)
            hits += len(answer["hits"])
            decisions[answer["decision"]] = decisions.get(answer["decision"], 0) + 1
        singles_s = time.perf_counter() - t_singles
        t0 = time.perf_counter()
        batch_hits = 0
        for i in range(0, len(batched), BATCH):
            answer = _post(conn, "/v1/check/batch?stage=in", {"claims": batched[i : i + BATCH]})
            batch_hits += sum(len(a["hits"]) for a in answer["results"])
        batch_s = time.perf_counter() - t0
        conn.close()
        peak = _peak_gib(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    body_mb = len(json.dumps({"claims": batched[:BATCH]})) / 1e6
    return {
        "history_claims": health["history"]["claims"],
        "history_lines": health["history"]["items"],
        "rules": health["rules"],
        "ready_s": ready,
        "singles": len(singles),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000,
        "singles_s": singles_s,
        "single_hits": hits,
        "decisions": decisions,
        "batch_claims": len(batched),
        "batch_size": BATCH,
        "batch_s": batch_s,
        "claims_per_s": len(batched) / batch_s,
        "batch_hits": batch_hits,
        "batch_body_mb": body_mb,
        "server_peak_gib": peak,
    }
