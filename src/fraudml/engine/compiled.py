"""The SQL of each expression's shape, compiled once per process.

Ibis compiles an expression to SQL by rewriting its whole graph, in Python, every time it
runs; a profile or a rule is a graph of thousands of nodes. On the committed city a
training compiled 254 expressions (8.9 s of its 35 s), and on the suite's hand-built
datasets compiling was half of building the profiles, while the engine's own work was a
tenth of a second. Yet the expressions repeat: the three windows of a training, every
dataset of one schema, every command on the same data build the same shapes over
tables of other names.

:func:`install` gives a connection a compiler that keeps, per process, the compiled
query of each shape. An expression's *shape* is its graph with every table replaced by
its position (first seen, first numbered) and its schema; everything else (each node's
type, its literal values, data types, column names, window frames) is part of the key.
Two expressions of one shape compile to the same query but for the tables' names, so a
kept query is reused with this expression's tables put in. Expressions that hold what a
shape cannot name (in-memory frames, SQL text, parameters) and calls with a row limit
are compiled as before, and so is a query in which a table's name could be confused
with the query's own names (a check made once per shape, when it is first compiled).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import ibis.expr.operations as ops
import numpy as np
import sqlglot.expressions as sge
from ibis.common.graph import Node

#: shapes kept per process: a training uses about a hundred, a test session a few hundred
MAX_SHAPES = 512
#: the name a table takes in a kept query, by its position in the shape
_PLACEHOLDER = "__fraudml_table_{}__"

#: nodes whose SQL depends on more than their arguments: in-memory data (registered at
#: execution), SQL text, parameters given at execution, tables without a connection
_OPAQUE = (
    ops.InMemoryTable,
    ops.UnboundTable,
    ops.SQLQueryResult,
    ops.SQLStringView,
    ops.ScalarParameter,
)

_SCALARS = (
    str,
    int,
    float,
    bool,
    bytes,
    type(None),
    _dt.date,
    _dt.datetime,
    _dt.time,
    _dt.timedelta,
    decimal.Decimal,
    uuid.UUID,
    enum.Enum,
)


class _Unshaped(Exception):
    """The expression holds something a shape cannot name."""


def shape(op: Node) -> tuple[tuple, list[ops.DatabaseTable]]:
    """The key of ``op``'s shape, and its tables in their positions.

    Every node is listed once, in the order of a depth-first walk, as its type and its
    arguments; an argument that is a node is its position in the list. Raises
    :class:`_Unshaped` for a node whose compiled SQL depends on more than its arguments
    (in-memory data, SQL text, a parameter given at execution).
    """
    position: dict[int, int] = {}
    tokens: list[tuple] = []
    tables: list[ops.DatabaseTable] = []
    references: dict[Any, int] = {}
    # iterative post-order walk: graphs are deep enough to exhaust Python's recursion
    stack: list[tuple[Node, bool]] = [(op, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in position:
            continue
        if not expanded:
            stack.append((node, True))
            for child in reversed(_children(node)):
                if id(child) not in position:
                    stack.append((child, False))
            continue
        if isinstance(node, ops.DatabaseTable):
            token: tuple = ("table", len(tables), _value(node.schema, position))
            tables.append(node)
        elif isinstance(node, _OPAQUE):
            raise _Unshaped(type(node).__name__)
        elif isinstance(node, ops.Reference):
            # a self-join's reference is told apart by a process-wide counter: its value
            # differs from build to build while the query it compiles to does not, so the
            # shape numbers the references in the order they are met
            ref = references.setdefault((type(node), node.identifier), len(references))
            token = (type(node).__qualname__, position[id(node.parent)], ref)
        else:
            token = (
                type(node).__module__,
                type(node).__qualname__,
                tuple(_value(a, position) for a in node.__args__),
            )
        position[id(node)] = len(tokens)
        tokens.append(token)
    return tuple(tokens), tables


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, ops.DatabaseTable):
        return ()  # its schema is a value; its source (the connection) is not part of it
    return node.__children__


def _value(value: Any, position: dict[int, int]) -> Any:
    """A hashable stand-in for one argument: nodes by position, values by type and value."""
    if isinstance(value, Node):
        return ("node", position[id(value)])
    if isinstance(value, _SCALARS):
        # the type as well: 1, 1.0 and True are equal keys in Python, not in SQL
        return (type(value).__qualname__, value)
    if isinstance(value, np.generic):
        return (type(value).__qualname__, value.item())
    if isinstance(value, tuple | list):
        return ("seq", tuple(_value(v, position) for v in value))
    if isinstance(value, frozenset | set):
        return ("set", frozenset(_value(v, position) for v in value))
    if isinstance(value, Mapping):
        return ("map", tuple((_value(k, position), _value(v, position)) for k, v in value.items()))
    args = getattr(value, "__args__", None)
    if isinstance(args, tuple):  # ibis's value objects: data types, schemas, frames
        return (
            type(value).__module__,
            type(value).__qualname__,
            tuple(_value(a, position) for a in args),
        )
    raise _Unshaped(type(value).__name__)


def _names(table: ops.DatabaseTable) -> tuple[str, str, str]:
    namespace = table.namespace
    return table.name, namespace.database or "", namespace.catalog or ""


def _template(query: sge.Expression, tables: list[ops.DatabaseTable], dialect: Any) -> str | None:
    """The text of ``query`` with each of ``tables`` named by its position, or None when
    a table's name is also one of the query's own names (a common table expression's or
    an alias) or is left somewhere renaming did not reach, which the text could not tell
    apart. ``query`` is renamed in place: it is the compiler's new tree, no one else's."""
    where = {_names(t): i for i, t in enumerate(tables)}
    own = {a.name for a in query.find_all(sge.TableAlias)} | {
        c.alias for c in query.find_all(sge.CTE)
    }
    if any(name in own for name, _, _ in where):
        return None
    for node in list(query.find_all(sge.Table)):
        i = where.get((node.name, node.db, node.catalog))
        if i is not None:
            _rename(node, _PLACEHOLDER.format(i), None, None)
    real = {name for name, _, _ in where}
    if any(i.name in real for i in query.find_all(sge.Identifier)):
        return None
    return query.sql(dialect=dialect)


def _rename(node: sge.Table, name: str, db: str | None, catalog: str | None) -> None:
    quoted = node.this.quoted if isinstance(node.this, sge.Identifier) else True
    node.set("this", sge.to_identifier(name, quoted=quoted))
    node.set("db", sge.to_identifier(db, quoted=quoted) if db else None)
    node.set("catalog", sge.to_identifier(catalog, quoted=quoted) if catalog else None)


def _filled(template: str, tables: list[ops.DatabaseTable], dialect: Any) -> str:
    """``template`` with this expression's tables in their positions."""
    text = template
    for i, table in enumerate(tables):
        name, db, catalog = _names(table)
        placeholder = sge.to_identifier(_PLACEHOLDER.format(i), quoted=True).sql(dialect)
        real = sge.table_(name, db=db or None, catalog=catalog or None, quoted=True)
        text = text.replace(placeholder, real.sql(dialect))
    return text


class _Kept:
    """The process's kept queries, by shape (least recently used dropped first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.queries: OrderedDict[tuple, str | None] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> tuple[bool, str | None]:
        with self.lock:
            if key not in self.queries:
                self.misses += 1
                return False, None
            self.queries.move_to_end(key)
            self.hits += 1
            return True, self.queries[key]

    def put(self, key: tuple, template: str | None) -> None:
        with self.lock:
            self.queries[key] = template
            while len(self.queries) > self.size:
                self.queries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.queries.clear()
            self.hits = self.misses = 0


#: one per process and dialect (the key holds the dialect)
KEPT = _Kept(MAX_SHAPES)


#: compile every kept shape again and compare (``FRAUDML_CHECK_KEPT_SQL=1``): for a test
#: run that proves the kept queries are the ones Ibis gives, not for production
CHECK = os.environ.get("FRAUDML_CHECK_KEPT_SQL", "") not in ("", "0")


class KeptQueryMismatch(AssertionError):
    """A kept query differs from the one Ibis compiles for the same expression."""


def _check(kept: str, fresh: sge.Expression, dialect: Any) -> None:
    if kept != fresh.sql(dialect=dialect):
        raise KeptQueryMismatch(f"kept:\n{kept}\ncompiled:\n{fresh.sql(dialect=dialect)}")


class KeepingCompiler:
    """An Ibis SQL compiler that reuses the query of an expression's shape
    (:func:`shape`); everything but ``to_sqlglot`` is the wrapped compiler's.

    A reused query is handed on as its text, in a node that prints as that text: Ibis
    prints what ``to_sqlglot`` gives (``compile``) or puts it into an ``INSERT`` that it
    prints (DuckDB's ``create_table``); copying and printing the tree again were as dear
    as compiling it.
    """

    def __init__(self, compiler: Any) -> None:
        self._compiler = compiler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compiler, name)

    def to_sqlglot(self, expr: Any, *, limit: Any = None, params: Any = None) -> Any:
        if limit == "default":
            import ibis

            limit = ibis.options.sql.default_limit
        if limit is not None or params:
            return self._compiler.to_sqlglot(expr, limit=limit, params=params)
        try:
            tokens, tables = shape(expr.as_table().op())
        except _Unshaped:
            return self._compiler.to_sqlglot(expr)
        dialect = self._compiler.dialect
        key = (type(self._compiler).__qualname__, tokens)
        found, template = KEPT.get(key)
        if found and template is None:  # this shape's queries cannot be renamed
            return self._compiler.to_sqlglot(expr)
        if not found:
            template = _template(self._compiler.to_sqlglot(expr), tables, dialect)
            KEPT.put(key, template)
            if template is None:
                return self._compiler.to_sqlglot(expr)
        assert template is not None
        text = _filled(template, tables, dialect)
        if CHECK:
            _check(text, self._compiler.to_sqlglot(expr), dialect)
        return sge.Command(this=text)


def install(con: Any) -> Any:
    """Give the connection ``con`` the keeping compiler (once); returns ``con``."""
    compiler = con.compiler
    if not isinstance(compiler, KeepingCompiler):
        con.compiler = KeepingCompiler(compiler)
    return con
