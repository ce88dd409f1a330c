"""Validate once: a kept validation is reused by later commands on the same files, and
rebuilt when a file, the encoding or the dataset's declarations change."""

from __future__ import annotations

import logging

import pandas as pd

from fraudml.cli.main import main
from fraudml.io import load_dataset
from fraudml.io.cache import COMMAND
from fraudml.io.outputs import written_by


def _entries(cache):
    return sorted(p for p in cache.iterdir() if p.is_dir() and written_by(p) == COMMAND)


def _bad_visit(t):
    t["claims"][1]["visit_type"] = "walk-in"


def test_the_second_load_reuses_the_first_validation(make_dataset, tmp_path, caplog):
    data, cache = make_dataset(_bad_visit), tmp_path / "cache"
    caplog.set_level(logging.INFO, logger="fraudml.io.load")
    with load_dataset(data) as plain:
        expected = plain.table("claims").to_pandas()
        counts = plain.reconciliation.to_dict()
        warnings = list(plain.warnings)
    with load_dataset(data, cache=cache) as first:
        assert first.reconciliation.to_dict() == counts
    assert "no kept validation of these files yet" in caplog.text
    caplog.clear()
    with load_dataset(data, cache=cache) as again:
        assert "reusing the validation of these files" in caplog.text
        assert again.reconciliation.to_dict() == counts  # 2 read, 1 accepted, 1 quarantined
        assert again.warnings == warnings
        pd.testing.assert_frame_equal(again.table("claims").to_pandas(), expected)
        # later steps make their own tables beside the read-only kept ones
        again.con.create_table("scratch", again.table("claims").limit(1))
    assert len(_entries(cache)) == 1
    assert not any("accepted" in r.getMessage() for r in caplog.records)  # not validated again


def test_two_readers_share_one_kept_validation(make_dataset, tmp_path):
    data, cache = make_dataset(), tmp_path / "cache"
    load_dataset(data, cache=cache).close()
    with load_dataset(data, cache=cache) as a, load_dataset(data, cache=cache) as b:
        assert a.table("claims").count().execute() == b.table("claims").count().execute() == 2


def test_a_changed_file_is_validated_again_and_the_old_entry_removed(make_dataset, tmp_path):
    data, cache = make_dataset(), tmp_path / "cache"
    load_dataset(data, cache=cache).close()
    (old,) = _entries(cache)
    frame = pd.read_csv(data / "claims.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "visit_type"] = "walk-in"
    frame.to_csv(data / "claims.csv", index=False)
    with load_dataset(data, cache=cache) as ds:
        assert ds.reconciliation["claims"].quarantined == 1
    (new,) = _entries(cache)
    assert new != old and not old.exists()


def test_the_encoding_and_the_currency_are_part_of_the_key(make_dataset, tmp_path):
    data, cache = make_dataset(), tmp_path / "cache"
    load_dataset(data, cache=cache).close()
    (utf8,) = _entries(cache)
    load_dataset(data, cache=cache, encoding="utf-8-sig").close()
    (sig,) = _entries(cache)  # validated again; the folder keeps its latest entry only
    assert sig != utf8
    (data / "dataset.json").write_text('{"currency": "USD"}', encoding="utf-8")
    with load_dataset(data, cache=cache, encoding="utf-8-sig") as ds:
        assert ds.currency == "USD"
    assert _entries(cache) != [sig]


def test_make_validate_then_profiles_validates_once(make_dataset, tmp_path, capsys):
    data, cache = make_dataset(), tmp_path / "cache"
    cache_arg = f"data.cache={cache}"
    assert main(["validate", f"data.path={data}", f"out={tmp_path / 'v'}", cache_arg]) == 0
    assert len(_entries(cache)) == 1
    capsys.readouterr()
    assert main(["profiles", f"data.path={data}", f"out={tmp_path / 'p'}", cache_arg]) == 0
    err = capsys.readouterr().err
    assert "reusing the validation of these files" in err
    assert "accepted" not in err  # no table was validated a second time
    assert main(["profiles", f"data.path={data}", f"out={tmp_path / 'q'}", "data.cache=null"]) == 0
    for name in ("patient.parquet", "provider.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "p" / name), pd.read_parquet(tmp_path / "q" / name)
        )


def test_a_damaged_kept_validation_is_validated_again(make_dataset, tmp_path, caplog):
    data, cache = make_dataset(), tmp_path / "cache"
    load_dataset(data, cache=cache).close()
    (entry,) = _entries(cache)
    (entry / "validated.duckdb").write_bytes(b"not a database at all" * 100)
    caplog.set_level(logging.INFO, logger="fraudml.io.load")
    with load_dataset(data, cache=cache) as ds:
        assert ds.table("claims").count().execute() == 2
    assert "is unreadable" in caplog.text and "validating again" in caplog.text
    with load_dataset(data, cache=cache) as ds:  # rebuilt whole
        assert ds.table("claims").count().execute() == 2


def test_a_cache_that_cannot_be_a_folder_only_costs_the_reuse(make_dataset, tmp_path, caplog):
    data, cache = make_dataset(), tmp_path / "not-a-folder"
    cache.write_text("a file")
    with load_dataset(data, cache=cache) as ds:
        assert ds.table("claims").count().execute() == 2
    assert "validation not kept" in caplog.text


def test_a_copy_in_another_folder_has_its_own_kept_validation(make_dataset, tmp_path):
    import shutil

    data, cache = make_dataset(), tmp_path / "cache"
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    load_dataset(data, cache=cache).close()
    with load_dataset(copy, cache=cache) as ds:
        assert ds.path == copy
        assert all(str(data) not in w for w in ds.warnings)
    assert len(_entries(cache)) == 2
