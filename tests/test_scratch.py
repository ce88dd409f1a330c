"""Intermediate tables go to the dataset's scratch database file, not to DuckDB's
in-memory temporary tables, on a fresh validation and on a kept one alike."""

from __future__ import annotations

from fraudml import load_dataset
from fraudml.engine import scratch
from fraudml.window import Window, prepare


def _tables(ds) -> dict[str, tuple[str, bool]]:
    rows = ds.con.raw_sql(
        "SELECT table_name, database_name, temporary FROM duckdb_tables()"
    ).fetchall()
    return {name: (database, temporary) for name, database, temporary in rows}


def test_window_tables_live_in_the_scratch_file_and_go_with_the_dataset(make_dataset, tmp_path):
    root = make_dataset()
    for cache in (None, tmp_path / "kept", tmp_path / "kept"):  # fresh, keeping, kept
        ds = load_dataset(root, cache=cache, temp_directory=tmp_path / "tmp")
        folder = ds._tmp_dir
        assert (folder / scratch.FILE).is_file()
        x = prepare(ds, Window())
        made = {n: w for n, w in _tables(ds).items() if n.startswith("_window_")}
        name = x.claims.op().name
        # the claims, their fee summary, the repeated trace lines and the window's span
        assert name in made and len(made) == 4
        assert set(made.values()) == {(scratch.CATALOG, False)}
        assert int(x.claims.count().execute()) == int(ds.table("claims").count().execute())
        scratch.drop(ds.con, x.claims)
        scratch.drop(ds.con, name)  # dropping twice is no error
        assert name not in _tables(ds)
        ds.close()
        assert not folder.exists()
