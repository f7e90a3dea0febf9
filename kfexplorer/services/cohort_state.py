"""The current cohort of the window, Qt-free: edits of its top-level criteria, undo / redo, and listeners.

Every edit replaces the immutable `Cohort` and tells the listeners (plain callables taking the new cohort).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kfexplorer.query.model import Cohort, Criterion, Group, Node, Value

CohortListener = Callable[[Cohort], None]


class CohortState:
    """Holds the current cohort; `undo` / `redo` walk its history; listeners hear every change."""

    def __init__(self, cohort: Cohort | None = None) -> None:
        self._cohort = cohort if cohort is not None else Cohort()
        self._undo: list[Cohort] = []
        self._redo: list[Cohort] = []
        self._listeners: list[CohortListener] = []

    @property
    def cohort(self) -> Cohort:
        return self._cohort

    def top_level(self) -> tuple[Node, ...]:
        """The top-level criteria (empty for "all participants")."""
        root = self._cohort.root
        if isinstance(root, Group) and root.op == "and":
            return root.children
        return (root,)

    # -- listeners ----------------------------------------------------------------------------------------------
    def add_listener(self, listener: CohortListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: CohortListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self._cohort)

    # -- edits --------------------------------------------------------------------------------------------------
    def set_cohort(self, cohort: Cohort) -> None:
        """Make `cohort` current (undoable); nothing happens when it equals the current one."""
        if cohort == self._cohort:
            return
        self._undo.append(self._cohort)
        self._redo.clear()
        self._cohort = cohort
        self._notify()

    def _with_children(self, children: Sequence[Node]) -> Cohort:
        return Cohort(Group("and", tuple(children)), self._cohort.name)

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
        self.set_cohort(self._with_children([]))

    def field_values(self, field: str) -> tuple[Value, ...]:
        """The values of the top-level `in` criterion on `field` (empty when there is none)."""
        for node in self.top_level():
            if isinstance(node, Criterion) and node.field == field and node.op == "in":
                return node.values
        return ()

    def set_field_values(self, field: str, values: Sequence[Value]) -> None:
        """Set `field in values` as a top-level criterion, in place of an existing `in` on that field;
        an empty `values` removes it."""
        children = list(self.top_level())
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

    # -- history ------------------------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._cohort)
        self._cohort = self._undo.pop()
        self._notify()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._cohort)
        self._cohort = self._redo.pop()
        self._notify()
        return True
