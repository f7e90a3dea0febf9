"""SQON import and export, compatible with the Kids First portal and Arranger.

A SQON node is `{"op": "and" | "or" | "not", "content": [nodes]}` or `{"op": <field operator>, "content":
{"field" | "fieldName": name, "value": value or [values]}}`. Read here:
- field operators `in`, `not-in` / `not in`, `some-not-in`, `all`, `between`, `>=` / `gte`, `<=` / `lte`,
  `>` / `gt`, `<` / `lt`, `=` / `eq` (as `in`), and our `contains`;
- the value `__missing__` (the field has no value), `set_id:<id>` values (replaced by the members of that set, which
  the caller gives), `pivot` (a node key or an `{"op": "pivot"}` wrapper: its content is evaluated as one variant
  expression, which is what our compiler does for any occurrence-level sub-expression anyway);
- several queries referring to each other: a JSON list of SQONs (or `{"queries": [...]}`) where an integer in a
  `content` list stands for the query at that index; the last query is the cohort.
Kids First field names (`mondo.name`, `observed_phenotype.name`, `genes.symbol`, …) map onto our fields through the
registry; ontology values may be written as the portal does ("Seizure (HP:0001250)") or as bare ids.
An unknown field is an UnknownFieldError naming it, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kfexplorer.query.fields import field_for_kf_name, field_spec, kf_name
from kfexplorer.query.model import Cohort, Criterion, Group, Node, Not, QueryError, Value

SET_ID_PREFIX = "set_id:"

_IMPORT_OPERATORS: dict[str, str] = {
    "in": "in", "=": "in", "eq": "in",
    "not-in": "not_in", "not in": "not_in", "not_in": "not_in", "!=": "not_in",
    "some-not-in": "some_not_in", "some_not_in": "some_not_in",
    "all": "all",
    "between": "between",
    ">=": ">=", "gte": ">=",
    "<=": "<=", "lte": "<=",
    ">": ">", "gt": ">",
    "<": "<", "lt": "<",
    "contains": "contains",
}

_EXPORT_OPERATORS: dict[str, str] = {
    "in": "in", "not_in": "not-in", "some_not_in": "some-not-in", "all": "all", "between": "between",
    ">=": ">=", "<=": "<=", ">": ">", "<": "<", "contains": "contains",
}


class _Reader:
    def __init__(self, queries: Sequence[Any], sets: Mapping[str, Sequence[str]]) -> None:
        self.queries = queries
        self.sets = sets
        self.resolving: set[int] = set()

    def query(self, index: int) -> Node:
        if not 0 <= index < len(self.queries):
            raise QueryError(f"SQON refers to query {index}, which does not exist")
        if index in self.resolving:
            raise QueryError(f"SQON query {index} refers to itself")
        self.resolving.add(index)
        try:
            return self.node(self.queries[index])
        finally:
            self.resolving.discard(index)

    def node(self, data: Any) -> Node:
        if isinstance(data, int) and not isinstance(data, bool):
            return self.query(data)
        if not isinstance(data, Mapping):
            raise QueryError("a SQON node must be a JSON object")
        op = str(data.get("op", "and")).strip().lower()
        content = data.get("content", [])
        if op == "pivot":
            return self.node(content)
        if op in ("and", "or", "not"):
            if isinstance(content, Mapping):
                content = [content]
            if not isinstance(content, Sequence) or isinstance(content, str):
                raise QueryError(f"SQON {op!r}: content must be a list")
            children = tuple(self.node(child) for child in content)
            if op == "not":
                return Not(children[0] if len(children) == 1 else Group("and", children))
            return Group("and" if op == "and" else "or", children)
        if op not in _IMPORT_OPERATORS:
            raise QueryError(f"unsupported SQON operator {op!r}")
        if not isinstance(content, Mapping):
            raise QueryError(f"SQON {op!r}: content must be an object with a field and a value")
        name = content.get("field", content.get("fieldName"))
        if not isinstance(name, str) or not name:
            raise QueryError(f"SQON {op!r}: no field name")
        spec = field_for_kf_name(name)
        raw = content.get("value", content.get("values"))
        values = list(raw) if isinstance(raw, list | tuple) else [raw]
        return Criterion(spec.name, _IMPORT_OPERATORS[op], tuple(self.values(values)))

    def values(self, values: Sequence[Any]) -> list[Value]:
        out: list[Value] = []
        for value in values:
            if isinstance(value, str) and value.startswith(SET_ID_PREFIX):
                set_id = value[len(SET_ID_PREFIX):]
                if set_id not in self.sets:
                    raise QueryError(f"the SQON uses the saved set {set_id!r}, which was not given")
                out.extend(str(member) for member in self.sets[set_id])
            elif isinstance(value, str | int | float | bool):
                out.append(value)
            else:
                raise QueryError("SQON values must be text, numbers or booleans")
        if not out:
            raise QueryError("a SQON criterion has no value")
        return out


def cohort_from_sqon(data: Any, sets: Mapping[str, Sequence[str]] | None = None, name: str = "") -> Cohort:
    """Read a SQON (or a list of SQONs referring to each other by index; the last is the cohort)."""
    queries: Sequence[Any]
    if isinstance(data, Mapping) and isinstance(data.get("queries"), list):
        queries = data["queries"]
    elif isinstance(data, list):
        queries = data
    else:
        queries = [data]
    if not queries:
        raise QueryError("the SQON holds no query")
    reader = _Reader(queries, sets or {})
    return Cohort(reader.query(len(queries) - 1), name)


def node_to_sqon(node: Node) -> dict[str, Any]:
    if isinstance(node, Criterion):
        spec = field_spec(node.field)
        return {"op": _EXPORT_OPERATORS[node.op], "content": {"field": kf_name(spec), "value": list(node.values)}}
    if isinstance(node, Not):
        return {"op": "not", "content": [node_to_sqon(node.child)]}
    return {"op": node.op, "content": [node_to_sqon(child) for child in node.children]}


def cohort_to_sqon(cohort: Cohort) -> dict[str, Any]:
    """The cohort as a Kids First-style SQON (Kids First field names where the field has one)."""
    return node_to_sqon(cohort.root)
