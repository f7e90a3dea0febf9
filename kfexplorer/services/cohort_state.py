"""The cohort queries of the window, Qt-free: Q1, Q2, … each a cohort; the active one is *the* cohort.

The active query's root is always a group whose children are the pills of the query bar (its "top level"),
joined by that group's operator (`and` or `or`). Edits replace the immutable `Cohort`, are undoable (the whole set
of queries is one history entry) and tell the listeners (plain callables taking the active cohort).

Queries combine by number: `combine("1 and not (2 or 3)")` adds a query whose tree is Q1's tree and not (Q2's or
Q3's), so it stays a query (never a frozen list of ids), and makes it the active cohort.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from kfexplorer.query.model import Cohort, Criterion, Group, Node, Not, QueryError, Value

CohortListener = Callable[[Cohort], None]

_TOKEN = re.compile(r"\s*(?:(\d+)|(and|or|not)\b|([()]))", re.IGNORECASE)


@dataclass(frozen=True)
class QueriesSnapshot:
    """One history entry: every query and which one is active."""

    queries: tuple[Cohort, ...]
    active: int


def normalized(cohort: Cohort) -> Cohort:
    """The cohort with a group at its root (a lone criterion or `not` becomes a one-pill `and`)."""
    if isinstance(cohort.root, Group):
        if cohort.root.op == "or" and not cohort.root.children:
            return replace(cohort, root=Group("and", ()))
        return cohort
    return replace(cohort, root=Group("and", (cohort.root,)))


def query_label(index: int) -> str:
    return f"Q{index + 1}"


class _ExpressionParser:
    """`1 and not (2 or 3)` → a tree over the queries' roots; `and` binds tighter than `or`."""

    def __init__(self, text: str, roots: Sequence[Node]) -> None:
        self.roots = roots
        self.tokens: list[str] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = _TOKEN.match(text, position)
            if not found or found.end() == position:
                raise QueryError(f"cannot read the combination at {text[position:position + 12]!r}: "
                                 "use query numbers, and, or, not and brackets, e.g. 1 and not (2 or 3)")
            self.tokens.append((found.group(1) or found.group(2) or found.group(3)).lower())
            position = found.end()
            while position < len(text) and text[position].isspace():
                position += 1
        self.position = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("the combination is empty: e.g. 1 and not 2")
        node = self._or()
        if self.position != len(self.tokens):
            raise QueryError(f"unexpected {self.tokens[self.position]!r} in the combination")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise QueryError("the combination ends too early")
        self.position += 1
        return token

    def _or(self) -> Node:
        parts = [self._and()]
        while self._peek() == "or":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Group("or", tuple(parts))

    def _and(self) -> Node:
        parts = [self._not()]
        while self._peek() == "and":
            self._take()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else Group("and", tuple(parts))

    def _not(self) -> Node:
        if self._peek() == "not":
            self._take()
            return Not(self._not())
        token = self._take()
        if token == "(":
            node = self._or()
            if self._take() != ")":
                raise QueryError("a bracket is not closed in the combination")
            return node
        if token.isdigit():
            number = int(token)
            if not 1 <= number <= len(self.roots):
                raise QueryError(f"there is no query Q{number} (there are {len(self.roots)})")
            return self.roots[number - 1]
        raise QueryError(f"unexpected {token!r} in the combination")


def combine_queries(expression: str, queries: Sequence[Cohort]) -> Node:
    """The tree `expression` (e.g. "1 and (2 or 3)") makes of the queries' trees; QueryError, worded, otherwise."""
    return _ExpressionParser(expression, [q.root for q in queries]).parse()


class CohortState:
    """Holds the queries; `undo` / `redo` walk their history; listeners hear every change of the active cohort."""

    def __init__(self, cohort: Cohort | None = None) -> None:
        self._queries: list[Cohort] = [normalized(cohort if cohort is not None else Cohort())]
        self._active = 0
        self._undo: list[QueriesSnapshot] = []
        self._redo: list[QueriesSnapshot] = []
        self._listeners: list[CohortListener] = []

    @property
    def cohort(self) -> Cohort:
        return self._queries[self._active]

    @property
    def queries(self) -> tuple[Cohort, ...]:
        return tuple(self._queries)

    @property
    def active_index(self) -> int:
        return self._active

    @property
    def top_op(self) -> str:
        """How the pills of the active query combine: "and" or "or"."""
        root = self.cohort.root
        return root.op if isinstance(root, Group) else "and"

    def top_level(self) -> tuple[Node, ...]:
        """The top-level criteria (the pills; empty for "all participants")."""
        root = self.cohort.root
        return root.children if isinstance(root, Group) else (root,)

    # -- listeners ----------------------------------------------------------------------------------------------
    def add_listener(self, listener: CohortListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: CohortListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self.cohort)

    # -- history ------------------------------------------------------------------------------------------------
    def _snapshot(self) -> QueriesSnapshot:
        return QueriesSnapshot(tuple(self._queries), self._active)

    def _restore(self, snapshot: QueriesSnapshot) -> None:
        self._queries = list(snapshot.queries)
        self._active = snapshot.active

    def _commit(self, queries: Sequence[Cohort], active: int) -> None:
        """Make `queries` (with `active`) current as one undoable step; nothing happens when nothing changed."""
        after = QueriesSnapshot(tuple(normalized(q) for q in queries), active)
        if after == self._snapshot():
            return
        self._undo.append(self._snapshot())
        self._redo.clear()
        self._restore(after)
        self._notify()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._snapshot())
        self._restore(self._undo.pop())
        self._notify()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._snapshot())
        self._restore(self._redo.pop())
        self._notify()
        return True

    # -- edits of the active query ------------------------------------------------------------------------------
    def set_cohort(self, cohort: Cohort) -> None:
        """Make `cohort` the active query (undoable); nothing happens when it equals the current one."""
        queries = list(self._queries)
        queries[self._active] = normalized(cohort)
        self._commit(queries, self._active)

    def _with_children(self, children: Sequence[Node], op: str | None = None) -> Cohort:
        top = op or self.top_op
        if not children:
            top = "and"
        return replace(self.cohort, root=Group("and" if top == "and" else "or", tuple(children)))

    def add(self, node: Node) -> None:
        """Append `node` as a top-level criterion."""
        self.set_cohort(self._with_children([*self.top_level(), node]))

    def replace(self, index: int, node: Node) -> None:
        """Replace top-level criterion number `index` with `node` (IndexError when there is none)."""
        children = list(self.top_level())
        children[index] = node
        self.set_cohort(self._with_children(children))

    def remove(self, index: int) -> None:
        """Remove top-level criterion number `index` (IndexError when there is none)."""
        children = list(self.top_level())
        del children[index]
        self.set_cohort(self._with_children(children))

    def clear(self) -> None:
        self.set_cohort(self._with_children([], "and"))

    def set_top_op(self, op: str) -> None:
        """Join the pills by `op` ("and" / "or")."""
        if op not in ("and", "or"):
            raise QueryError(f"unknown boolean operator {op!r}")
        self.set_cohort(self._with_children(self.top_level(), op))

    def negate(self, index: int) -> None:
        """Toggle NOT on top-level criterion (or group) number `index`."""
        node = self.top_level()[index]
        self.replace(index, node.child if isinstance(node, Not) else Not(node))

    def group(self, indices: Sequence[int], op: str = "or") -> None:
        """Put the top-level criteria `indices` (two or more) into one group joined by `op`, where the first was."""
        picked = sorted(set(indices))
        children = list(self.top_level())
        if len(picked) < 2:
            raise QueryError("select two or more criteria to group them")
        if op not in ("and", "or"):
            raise QueryError(f"unknown boolean operator {op!r}")
        members = tuple(children[i] for i in picked)
        kept: list[Node] = []
        for i, child in enumerate(children):
            if i == picked[0]:
                kept.append(Group("and" if op == "and" else "or", members))
            elif i not in picked:
                kept.append(child)
        self.set_cohort(self._with_children(kept))

    def ungroup(self, index: int) -> None:
        """Put the members of the group at `index` back at the top level, in its place."""
        children = list(self.top_level())
        node = children[index]
        if not isinstance(node, Group):
            raise QueryError("only a group can be ungrouped")
        self.set_cohort(self._with_children([*children[:index], *node.children, *children[index + 1:]]))

    def field_values(self, field: str) -> tuple[Value, ...]:
        """The values of the top-level `in` criterion on `field` (empty when there is none)."""
        for node in self.top_level():
            if isinstance(node, Criterion) and node.field == field and node.op == "in":
                return node.values
        return ()

    def set_field_values(self, field: str, values: Sequence[Value]) -> None:
        """Set `field in values` as a top-level criterion, in place of an existing `in` on that field;
        an empty `values` removes it."""
        self.set_fields_values({field: values})

    def set_fields_values(self, changes: Mapping[str, Sequence[Value]]) -> None:
        """`set_field_values` for several fields at once: one change of the cohort (one undo step)."""
        children = list(self.top_level())
        for field, values in changes.items():
            index = next((i for i, node in enumerate(children)
                          if isinstance(node, Criterion) and node.field == field and node.op == "in"), None)
            if not values:
                if index is not None:
                    del children[index]
            elif index is None:
                children.append(Criterion(field, "in", tuple(values)))
            else:
                children[index] = Criterion(field, "in", tuple(values))
        self.set_cohort(self._with_children(children))

    # -- several queries ----------------------------------------------------------------------------------------
    def add_query(self, cohort: Cohort | None = None) -> int:
        """Add a query (empty: all participants) and make it active; returns its index."""
        queries = [*self._queries, normalized(cohort if cohort is not None else Cohort())]
        self._commit(queries, len(queries) - 1)
        return len(queries) - 1

    def select_query(self, index: int) -> None:
        """Make query `index` the active cohort (IndexError when there is none)."""
        if not 0 <= index < len(self._queries):
            raise IndexError(index)
        self._commit(self._queries, index)

    def remove_query(self, index: int) -> None:
        """Remove query `index`; the last query left becomes empty instead."""
        if not 0 <= index < len(self._queries):
            raise IndexError(index)
        queries = list(self._queries)
        del queries[index]
        if not queries:
            queries = [Cohort()]
        active = self._active if self._active < index else max(0, self._active - 1)
        self._commit(queries, min(active, len(queries) - 1))

    def combine(self, expression: str) -> int:
        """Add the query `expression` makes of the others by number (e.g. "1 and not 2") and make it the
        cohort; returns its index. QueryError (worded for the user) when it cannot be read."""
        node = combine_queries(expression, self._queries)
        words = " ".join(f"Q{number}" if number else (word.lower() or bracket)
                         for number, word, bracket in _TOKEN.findall(expression))
        return self.add_query(Cohort(node, words.replace("( ", "(").replace(" )", ")")))
