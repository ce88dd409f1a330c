"""A small, safe expression language for rule conditions, compiled to Ibis expressions.

Rules say *what* to check in YAML, e.g. ``where: "cat_gender is not None and cat_gender !=
gender"``. The text is parsed with Python's :mod:`ast` and only a whitelist of node types
is accepted — comparisons, ``and``/``or``/``not``, arithmetic, ``in`` lists, literals,
column and parameter names and a few functions — then turned into an Ibis expression over
the rule's input table. Nothing is ``eval``-ed and no SQL text is built, so a rule file
cannot run code or inject SQL.
"""

from __future__ import annotations

import ast
import operator
import string
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from fraudml.errors import RuleBaseError


class RuleExpressionError(RuleBaseError, ValueError):
    """An expression in a rule file that cannot be compiled; the message says why.

    A fault of the run's input (the rule base), so commands report it and exit 2."""


_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITH: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _fn_date(x: ir.Value) -> ir.Value:
    return x.date()


def _fn_days_between(a: ir.Value, b: ir.Value) -> ir.Value:
    return a.date().delta(b.date(), unit="day")


def _fn_in_list(value: ir.Value, listed: ir.Value) -> ir.Value:
    """Whether ``value`` is one of the ``;``-separated codes of ``listed`` (a catalog's
    ``incompatible_with``, a practitioner's ``registered_departments``)."""
    wrapped = ibis.literal(";").concat(listed.replace(" ", "")).concat(";")
    return wrapped.contains(ibis.literal(";").concat(value.cast("string")).concat(";"))


def _fn_any_prefix(value: ir.Value, prefixes: ir.Value) -> ir.Value:
    """Whether ``value`` starts with one of the ``;``-separated ``prefixes`` (ICD-10
    indications: ``I10;I11`` covers ``I10`` and ``I11.9``)."""
    pattern = (
        ibis.literal("^(")
        .concat(prefixes.replace(" ", "").replace(".", "\\.").replace(";", "|"))
        .concat(")")
    )
    return value.cast("string").re_search(pattern)


#: Functions a rule may call.
FUNCTIONS: dict[str, Callable[..., ir.Value]] = {
    "date": _fn_date,
    "days_between": _fn_days_between,
    "abs": lambda x: x.abs(),
    "coalesce": lambda *xs: ibis.coalesce(*xs),
    "startswith": lambda x, prefix: x.startswith(prefix),
    "lower": lambda x: x.lower(),
    "upper": lambda x: x.upper(),
    "iif": lambda cond, then, otherwise: _as_bool(cond).ifelse(then, otherwise),
    "in_list": _fn_in_list,
    "any_prefix": _fn_any_prefix,
}


def names_in(text: str) -> set[str]:
    """The names an expression reads (columns or parameters); empty when it does not parse
    (compiling it reports why)."""
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def template_fields(template: str) -> set[str]:
    """The ``{field}`` names of a message template."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return set()


def compile_expr(text: str, table: ir.Table, params: Mapping[str, Any] | None = None) -> ir.Value:
    """Compile ``text`` into an Ibis expression over ``table``.

    Names resolve to ``params`` first, then to the table's columns.

    Raises
    ------
    RuleExpressionError
        On syntax errors, unknown names or constructs outside the whitelist.
    """
    params = dict(params or {})
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError as exc:
        raise RuleExpressionError(f"cannot parse {text!r}: {exc.msg}") from None

    def lit(value: Any) -> Any:
        return value

    def visit(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return visit(node.body)
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (bool, int, float, str)):
                return lit(node.value)
            raise RuleExpressionError(f"unsupported literal {node.value!r} in {text!r}")
        if isinstance(node, ast.Name):
            if node.id in params:
                return params[node.id]
            if node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
            if node.id in table.columns:
                return table[node.id]
            raise RuleExpressionError(
                f"unknown name {node.id!r} in {text!r}; columns here: "
                f"{', '.join(sorted(table.columns))}; parameters: {', '.join(params) or 'none'}"
            )
        if isinstance(node, (ast.List, ast.Tuple)):
            return [visit(e) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            values = [_as_bool(visit(v)) for v in node.values]
            out = values[0]
            for v in values[1:]:
                out = (out & v) if isinstance(node.op, ast.And) else (out | v)
            return out
        if isinstance(node, ast.UnaryOp):
            value = visit(node.operand)
            if isinstance(node.op, ast.Not):
                return ~_as_bool(value)
            if isinstance(node.op, ast.USub):
                return -value
            raise RuleExpressionError(f"unsupported operator in {text!r}")
        if isinstance(node, ast.BinOp):
            op = _ARITH.get(type(node.op))
            if op is None:
                raise RuleExpressionError(f"unsupported operator in {text!r}")
            return op(visit(node.left), visit(node.right))
        if isinstance(node, ast.Compare):
            left = visit(node.left)
            out = None
            for op_node, right_node in zip(node.ops, node.comparators, strict=True):
                right = visit(right_node)
                part = _compare(op_node, left, right, text)
                out = part if out is None else out & part
                left = right
            return out
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = getattr(node.func, "id", "?")
                raise RuleExpressionError(
                    f"unknown function {name!r} in {text!r}; known: {', '.join(FUNCTIONS)}"
                )
            if node.keywords:
                raise RuleExpressionError(f"keyword arguments are not supported in {text!r}")
            return FUNCTIONS[node.func.id](*[_as_value(visit(a)) for a in node.args])
        raise RuleExpressionError(f"unsupported construct {type(node).__name__} in {text!r}")

    result = visit(tree)
    return _as_value(result)


def _as_value(value: Any) -> Any:
    if isinstance(value, ir.Value):
        return value
    if isinstance(value, list):
        return value
    return ibis.literal(value)


def _as_bool(value: Any) -> ir.BooleanValue:
    value = _as_value(value)
    # a missing value never satisfies a condition
    return value.fill_null(False) if isinstance(value, ir.BooleanValue) else value


def _compare(op_node: ast.cmpop, left: Any, right: Any, text: str) -> ir.BooleanValue:
    if isinstance(op_node, (ast.Is, ast.IsNot)):
        if right is not None:
            raise RuleExpressionError(f"'is' compares with None only, in {text!r}")
        value = _as_value(left)
        return value.isnull() if isinstance(op_node, ast.Is) else value.notnull()
    if isinstance(op_node, (ast.In, ast.NotIn)):
        if not isinstance(right, list):
            raise RuleExpressionError(f"'in' needs a list like ['a', 'b'], in {text!r}")
        cond = _as_value(left).isin(right)
        return cond if isinstance(op_node, ast.In) else ~cond
    op = _COMPARE.get(type(op_node))
    if op is None:
        raise RuleExpressionError(f"unsupported comparison in {text!r}")
    return op(_as_value(left), _as_value(right))


def render(
    template: str,
    table: ir.Table,
    params: Mapping[str, Any] | None = None,
    labels: Mapping[str, Callable[[ir.Value], ir.Value]] | None = None,
    computed: Mapping[str, Callable[[ir.Table], ir.Value]] | None = None,
) -> ir.Value:
    """A message per row from ``template``: ``{name}`` fields are columns or parameters.

    Numbers are rounded to two decimals; missing values print as ``-``. A column named in
    ``labels`` is shown through its function (a code in the message's language); a field
    named in ``computed`` is made from the row by its function (a range with a missing
    bound in words).
    """
    params = dict(params or {})
    labels = dict(labels or {})
    computed = dict(computed or {})
    parts: list[ir.StringValue] = []
    for literal, field, spec, _conv in string.Formatter().parse(str(template)):
        if literal:
            parts.append(ibis.literal(literal))
        if field is None:
            continue
        if spec:
            raise RuleExpressionError(f"format specs are not supported: {{{field}:{spec}}}")
        if field in params:
            parts.append(ibis.literal(str(params[field])))
            continue
        if field in computed:
            parts.append(as_text(computed[field](table)))
            continue
        if field in labels and field in table.columns:
            parts.append(as_text(labels[field](table[field])))
            continue
        if field not in table.columns:
            raise RuleExpressionError(
                f"unknown field {{{field}}} in message {template!r}; "
                f"columns here: {', '.join(sorted(table.columns))}"
            )
        parts.append(as_text(table[field]))
    if not parts:
        return ibis.literal("")
    out = parts[0]
    for p in parts[1:]:
        out = out.concat(p)
    return out


def as_text(value: ir.Value) -> ir.StringValue:
    """A column as display text: two decimals for floats, ``-`` for missing."""
    dtype = value.type()
    if dtype.is_floating() or dtype.is_decimal():
        text = value.round(2).cast("string")
    elif dtype.is_timestamp():
        text = value.strftime("%Y-%m-%d %H:%M")
    else:
        text = value.cast("string")
    return text.fill_null("-")
