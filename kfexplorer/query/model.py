"""The cohort model: an immutable tree of `and` / `or` / `not` over criteria (field, operator, values).

Every view of the app follows one `Cohort`. Field names are the registry's (kfexplorer.query.fields); this module
only checks shape, never meaning, so a cohort naming an unknown field still loads and is rejected, naming the
field, when it is compiled.

Our JSON (what `to_json` writes and `from_json` reads):

    {"kfexplorer_cohort": 1, "name": "…",
     "query": {"op": "and", "content": [
         {"field": "participant.sex", "op": "in", "values": ["female"]},
         {"op": "not", "content": [{"field": "participant.is_proband", "op": "in", "values": [true]}]}]}}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

COHORT_FORMAT_KEY = "kfexplorer_cohort"
COHORT_FORMAT_VERSION = 1

# The value that stands for "the field has no value" (as the Kids First portal writes it).
MISSING_VALUE = "__missing__"

Value = str | int | float | bool

OPERATORS: tuple[str, ...] = ("in", "not_in", "some_not_in", "all", "between", ">=", "<=", ">", "<", "contains")


class QueryError(ValueError):
    """A cohort that cannot be read or compiled, worded for the user in one line."""


class UnknownFieldError(QueryError):
    """A cohort names a field the registry does not know."""

    def __init__(self, field: str) -> None:
        super().__init__(f"unknown field {field!r}")
        self.field = field


@dataclass(frozen=True)
class Criterion:
    """One condition: `field` (a registry name) `op` (one of OPERATORS) `values`."""

    field: str
    op: str
    values: tuple[Value, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise QueryError("a criterion needs a field name")
        if self.op not in OPERATORS:
            raise QueryError(f"unknown operator {self.op!r} for field {self.field!r}")
        if not isinstance(self.values, tuple):
            object.__setattr__(self, "values", tuple(self.values))
        for value in self.values:
            if not isinstance(value, str | int | float | bool):
                raise QueryError(f"field {self.field!r}: values must be text, numbers or booleans")
        if not self.values:
            raise QueryError(f"field {self.field!r}: a criterion needs at least one value")


@dataclass(frozen=True)
class Group:
    """All (`and`) or any (`or`) of `children`; an empty `and` is everyone, an empty `or` no one."""

    op: Literal["and", "or"]
    children: tuple[Node, ...]

    def __post_init__(self) -> None:
        if self.op not in ("and", "or"):
            raise QueryError(f"unknown boolean operator {self.op!r}")
        if not isinstance(self.children, tuple):
            object.__setattr__(self, "children", tuple(self.children))


@dataclass(frozen=True)
class Not:
    """Participants (or, inside a variant expression, occurrences) that do not satisfy `child`."""

    child: Node


Node = Criterion | Group | Not


@dataclass(frozen=True)
class Cohort:
    """A named cohort: the tree `root`. Immutable: the `with_…` methods return new cohorts."""

    root: Node = Group("and", ())
    name: str = ""

    def top_level(self) -> tuple[Node, ...]:
        """The top-level criteria, in order (the children of a top-level `and`, else the root alone)."""
        if isinstance(self.root, Group) and self.root.op == "and":
            return self.root.children
        return (self.root,)

    def with_criterion(self, node: Node) -> Cohort:
        """This cohort `and` `node` (appended to a top-level `and`)."""
        return replace(self, root=Group("and", (*self.top_level(), node)))

    def without_top_level(self, index: int) -> Cohort:
        """This cohort without its top-level criterion number `index`."""
        children = list(self.top_level())
        del children[index]
        return replace(self, root=Group("and", tuple(children)))

    def without_field(self, field: str) -> Cohort:
        """This cohort without its top-level criteria on `field` (a facet's counts ignore the facet's own pick)."""
        kept = tuple(c for c in self.top_level() if not (isinstance(c, Criterion) and c.field == field))
        return replace(self, root=Group("and", kept))

    def with_name(self, name: str) -> Cohort:
        return replace(self, name=name)


def criterion(field: str, op: str, *values: Value) -> Criterion:
    return Criterion(field, op, tuple(values))


def all_of(*children: Node) -> Group:
    return Group("and", tuple(children))


def any_of(*children: Node) -> Group:
    return Group("or", tuple(children))


def negate(child: Node) -> Not:
    return Not(child)


def iter_criteria(node: Node) -> Iterator[Criterion]:
    """Every criterion of the tree, depth first, left to right."""
    if isinstance(node, Criterion):
        yield node
    elif isinstance(node, Not):
        yield from iter_criteria(node.child)
    else:
        for child in node.children:
            yield from iter_criteria(child)


# --- JSON --------------------------------------------------------------------------------------------------------


def node_to_json(node: Node) -> dict[str, Any]:
    if isinstance(node, Criterion):
        return {"field": node.field, "op": node.op, "values": list(node.values)}
    if isinstance(node, Not):
        return {"op": "not", "content": [node_to_json(node.child)]}
    return {"op": node.op, "content": [node_to_json(child) for child in node.children]}


def node_from_json(data: Any) -> Node:
    if not isinstance(data, Mapping):
        raise QueryError("a cohort node must be a JSON object")
    if "field" in data:
        values = data.get("values")
        if not isinstance(values, Sequence) or isinstance(values, str):
            raise QueryError(f"field {data.get('field')!r}: 'values' must be a list")
        return Criterion(str(data["field"]), str(data.get("op", "")), tuple(values))
    op = data.get("op")
    content = data.get("content", [])
    if not isinstance(content, Sequence) or isinstance(content, str):
        raise QueryError(f"operator {op!r}: 'content' must be a list")
    children = tuple(node_from_json(child) for child in content)
    if op == "not":
        if len(children) == 1:
            return Not(children[0])
        return Not(Group("and", children))
    if op in ("and", "or"):
        return Group(op, children)
    raise QueryError(f"unknown boolean operator {op!r}")


def cohort_to_json(cohort: Cohort) -> dict[str, Any]:
    return {COHORT_FORMAT_KEY: COHORT_FORMAT_VERSION, "name": cohort.name, "query": node_to_json(cohort.root)}


def cohort_from_json(data: Any) -> Cohort:
    if not isinstance(data, Mapping) or COHORT_FORMAT_KEY not in data:
        raise QueryError(f"not a kfexplorer cohort (no {COHORT_FORMAT_KEY!r} key)")
    version = data[COHORT_FORMAT_KEY]
    if version != COHORT_FORMAT_VERSION:
        raise QueryError(f"unsupported cohort format version {version!r}")
    name = data.get("name") or ""
    return Cohort(node_from_json(data.get("query", {"op": "and", "content": []})), str(name))


def is_cohort_document(data: Any) -> bool:
    """True for our JSON; anything else that is a JSON object or list is taken for a SQON."""
    return isinstance(data, Mapping) and COHORT_FORMAT_KEY in data
