"""One benchmark task in its own process; prints its result as JSON on the last line."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    func, *args = sys.argv[1:]
    if func == "generate":
        from benchmarks.gen import generate

        result = generate(Path(args[0]), int(args[1]))
    elif func == "validate_fraudml":
        from benchmarks.validate_bench import run_fraudml

        result = run_fraudml(Path(args[0]))
    elif func == "validate_pandas":
        from benchmarks.validate_bench import run_pandas

        result = run_pandas(Path(args[0]))
    elif func == "simulate":
        from fraudml.synth import SimulationConfig, simulate, write_dataset

        tables = simulate(SimulationConfig(n_patients=int(args[1])))
        write_dataset(tables, Path(args[0]))
        result = {"claims": len(tables["claims"]), "claim_items": len(tables["claim_items"])}
    elif func.startswith("profiles_"):
        from benchmarks import profiles_bench

        if func == "profiles_fraudml":
            result = profiles_bench.run_fraudml(Path(args[0]), Path(args[1]))
        elif func == "profiles_kept":
            result = profiles_bench.run_kept(Path(args[0]), Path(args[1]))
        elif func == "profiles_sql":
            result = profiles_bench.run_sql(Path(args[1]))
        else:
            result = profiles_bench.run_pandas(Path(args[0]), Path(args[1]))
    elif func.startswith("graph_"):
        from benchmarks import graph_bench

        if func == "graph_edges":
            result = graph_bench.run_edges(Path(args[0]), Path(args[1]))
        else:
            result = graph_bench.run_groups(Path(args[1]), func.removeprefix("graph_"))
    elif func == "service":
        from benchmarks import service_bench

        result = service_bench.run(Path(args[0]), Path(args[1]))
    elif func.startswith("train_"):
        from benchmarks import train_bench

        if func == "train_fraudml":
            result = train_bench.run_fraudml(Path(args[0]), Path(args[1]))
        elif func == "train_month":
            result = train_bench.month_dataset(Path(args[0]), Path(args[1]), args[2], args[3])
        elif func == "train_score":
            result = train_bench.run_score(
                Path(args[0]), Path(args[1]), args[2], Path(args[3]), int(args[4])
            )
        else:
            result = train_bench.run_plain(Path(args[0]))
    else:
        raise SystemExit(f"unknown task {func}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
