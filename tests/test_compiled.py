"""The kept SQL of an expression's shape (fraudml.engine.compiled): reused only where
Ibis would compile the same query, with the expression's own tables put in."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from fraudml.engine import compiled


@pytest.fixture
def kept():
    """An empty process-wide store for the test, the previous one restored after."""
    saved = compiled.KEPT
    compiled.KEPT = compiled._Kept(compiled.MAX_SHAPES)
    yield compiled.KEPT
    compiled.KEPT = saved


def _con(table: str, rows: list[tuple[str, float]]):
    con = compiled.install(ibis.duckdb.connect())
    con.create_table(table, pd.DataFrame(rows, columns=["patient_id", "amount"]))
    return con


def _per_patient(t):
    big = t.filter(t.amount > 10)
    per = big.group_by("patient_id").agg(total=big.amount.sum(), n=big.count())
    return per.order_by("patient_id")


def _fresh(con, expr) -> str:
    """What the wrapped Ibis compiler gives for ``expr``."""
    return con.compiler._compiler.to_sqlglot(expr).sql(dialect=con.compiler.dialect)


def test_a_second_table_of_the_same_shape_reuses_the_query_with_its_own_name(kept):
    a = _con("claims_a", [("p1", 5.0), ("p1", 20.0), ("p2", 30.0)])
    b = _con("claims_b", [("p3", 50.0), ("p3", 11.0), ("p4", 1.0)])
    first = _per_patient(a.table("claims_a"))
    assert first.execute().to_dict("list") == {
        "patient_id": ["p1", "p2"],
        "total": [20.0, 30.0],
        "n": [1, 1],
    }
    assert (kept.hits, kept.misses) == (0, 1)
    second = _per_patient(b.table("claims_b"))
    query = b.compiler.to_sqlglot(second)
    assert (kept.hits, kept.misses) == (1, 1)
    assert query.sql() == _fresh(b, second)  # the very text Ibis compiles
    assert '"claims_b"' in query.sql() and "claims_a" not in query.sql()
    assert second.execute().to_dict("list") == {"patient_id": ["p3"], "total": [61.0], "n": [2]}


def test_another_literal_or_type_is_another_shape(kept):
    con = _con("claims", [("p1", 5.0), ("p1", 20.0)])
    t = con.table("claims")
    con.compile(t.filter(t.amount > 10))
    con.compile(t.filter(t.amount > 11))
    con.compile(t.filter(t.amount > 10.0))  # 10 and 10.0 are equal keys in Python
    assert (kept.hits, kept.misses) == (0, 3)
    con.compile(t.filter(t.amount > 11))
    assert (kept.hits, kept.misses) == (1, 3)


def test_self_joins_built_again_have_one_shape(kept):
    """A self-join's reference carries a process-wide counter; two builds of one join
    are still one shape, and the reused text is Ibis's own."""
    con = _con("claims", [("p1", 5.0), ("p2", 20.0)])

    def pairs():
        t = con.table("claims")
        u = t.view()
        return t.join(u, t.patient_id != u.patient_id).select(a=t.patient_id, b=u.patient_id)

    one, two = pairs(), pairs()
    assert one.op() != two.op()  # the counters differ
    con.compile(one)
    text = con.compile(two)
    assert kept.hits == 1 and text == con.compile(two) == _fresh(con, two)
    assert sorted(map(tuple, two.execute().values.tolist())) == [("p1", "p2"), ("p2", "p1")]


def test_in_memory_frames_and_limits_are_compiled_as_before(kept):
    con = _con("claims", [("p1", 5.0)])
    frame = ibis.memtable(pd.DataFrame({"patient_id": ["p1"], "extra": [1]}))
    joined = con.table("claims").join(frame, "patient_id")
    assert joined.execute().extra.tolist() == [1]
    assert joined.execute().extra.tolist() == [1]
    con.table("claims").execute(limit=1)
    assert (kept.hits, kept.misses) == (0, 0) and not kept.queries


def test_a_table_named_like_an_alias_is_never_renamed(kept):
    """Ibis names its subqueries t0, t1, …: a table of that name cannot be told apart in
    the text, so its shape is compiled every time, and gives the right rows."""
    a = _con("t0", [("p1", 20.0), ("p2", 30.0)])
    b = _con("t1", [("p3", 50.0)])
    assert _per_patient(a.table("t0")).execute().patient_id.tolist() == ["p1", "p2"]
    assert _per_patient(b.table("t1")).execute().patient_id.tolist() == ["p3"]
    assert list(kept.queries.values()) == [None]


def test_the_store_keeps_at_most_its_size(kept):
    kept.size = 2
    con = _con("claims", [("p1", 5.0)])
    t = con.table("claims")
    for limit in (1, 2, 3):
        con.compile(t.filter(t.amount > limit))
    assert len(kept.queries) == 2
    con.compile(t.filter(t.amount > 1))  # the oldest went first
    assert (kept.hits, kept.misses) == (0, 4)


def test_the_check_mode_catches_a_wrong_kept_query(kept, monkeypatch):
    con = _con("claims", [("p1", 5.0)])
    t = con.table("claims")
    con.compile(t.filter(t.amount > 1))
    (key,) = kept.queries
    kept.queries[key] = kept.queries[key].replace("> 1", "> 2")
    monkeypatch.setattr(compiled, "CHECK", True)
    with pytest.raises(compiled.KeptQueryMismatch):
        con.compile(t.filter(t.amount > 1))


def test_install_is_idempotent():
    con = ibis.duckdb.connect()
    compiled.install(con)
    wrapper = con.compiler
    compiled.install(con)
    assert con.compiler is wrapper and isinstance(wrapper, compiled.KeepingCompiler)


def test_a_windows_span_in_days_rounds_up_and_takes_an_open_side_from_its_claims():
    """The one-row span table that lets every window's profiles share one shape keeps
    the literal span's arithmetic: whole days rounded up, at least one."""
    from datetime import datetime

    from fraudml.window import Window
    from fraudml.window.claims import _span

    times = pd.DataFrame({"admit_time": pd.to_datetime(["2024-03-01 08:00", "2024-03-03 20:00"])})
    claims = ibis.memtable(times)
    closed = Window(datetime(2024, 3, 1), datetime(2024, 3, 11, 6))
    assert _span(claims, closed).days.tolist() == [11.0]  # 10.25 days
    assert _span(claims, Window(datetime(2024, 3, 1))).days.tolist() == [3.0]  # to 03-03 20:00
    assert _span(claims, Window(None, datetime(2024, 3, 2))).days.tolist() == [1.0]  # 16 h
    assert _span(claims, Window()).days.tolist() == [3.0]  # 2.5 days of claims
    nothing = ibis.memtable(times.iloc[:0])
    assert _span(nothing, Window()).days.isna().tolist() == [True]


def test_the_span_bounds_the_practitioners_history_by_the_windows_end():
    """The history (window.claims.HISTORY_DAYS) ends where the window does; an open end
    holds its last claim, so the history ends just after it; no claim, no history."""
    from datetime import datetime

    from fraudml.window import Window
    from fraudml.window.claims import HISTORY_DAYS, _span

    times = pd.DataFrame({"admit_time": pd.to_datetime(["2024-03-01 08:00", "2024-03-03 20:00"])})
    claims = ibis.memtable(times)
    closed = _span(claims, Window(datetime(2024, 3, 1), datetime(2024, 3, 31)))
    assert HISTORY_DAYS == 365
    assert closed.history_to.tolist() == [pd.Timestamp("2024-03-31")]
    assert closed.history_from.tolist() == [pd.Timestamp("2023-04-01")]  # 2024 is a leap year
    open_end = _span(claims, Window(datetime(2024, 3, 1)))
    assert open_end.history_to.tolist() == [pd.Timestamp("2024-03-03 20:00:01")]
    assert open_end.history_from.tolist() == [pd.Timestamp("2023-03-04 20:00:01")]
    nothing = _span(ibis.memtable(times.iloc[:0]), Window())
    assert nothing.history_to.isna().tolist() == [True]
    assert nothing.history_from.isna().tolist() == [True]
