"""The query bar: the queries Q1, Q2, … (a combo; combine them by number), the active query's top-level criteria
as pills in plain words, the AND / OR between them, NOT on any pill, grouping, and the cohort's SQL / SQON /
import / attrition, undo / redo.

Clicking a pill opens its editor; Ctrl+click selects pills for grouping; right-click offers every edit of a pill.
The bar only edits the CohortState; every view (this bar included) follows the state's listeners.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QKeySequence, QMouseEvent, QPalette, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.compiler import describe, ontology_term_ids
from kfexplorer.query.model import Cohort, Criterion, Group, Node, Not, QueryError
from kfexplorer.services.cohort_count import term_labels
from kfexplorer.services.cohort_state import CohortState, query_label
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.dialogs.cohort_views import AttritionDialog, ImportCohortDialog, SqlDialog, SqonDialog
from kfexplorer.ui.dialogs.criterion_editor import CriterionEditor
from kfexplorer.ui.job_signals import QtJobRunner

PILL_MAX_WIDTH = 340


def pill_text(node: Node, labels: Mapping[str, str] | None = None) -> str:
    """A criterion in plain words (the compiler's description, bare ontology ids shown with their `labels`); the
    raw field name when it cannot be described."""
    try:
        return describe(node, labels)
    except QueryError as error:
        return f"⚠ {error}"


def query_title(index: int, cohort: Cohort) -> str:
    return f"{query_label(index)} · {cohort.name}" if cohort.name else query_label(index)


class CriterionPill(QFrame):
    """One top-level criterion: its words (click: edit), NOT, and a × that removes it."""

    clicked = Signal()
    selection_toggled = Signal()
    menu_requested = Signal(object)  # global QPoint

    def __init__(self, text: str, removable: bool, negated: bool = False, shown: str | None = None,
                 parent: QWidget | None = None) -> None:
        """`text` the criterion in words; `shown` what the label shows when not that (a NOT pill shows its
        criterion after the checked NOT button)."""
        super().__init__(parent)
        self.setObjectName("CohortPill")
        # style properties as text: PySide6 miscounts references of Python bools stored as properties
        self.setProperty("negated", "true" if negated else "false")
        self.setProperty("selected", "false")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4 if removable else 10, 2, 4 if removable else 10, 2)
        layout.setSpacing(4)
        self.not_button: QToolButton | None = None
        if removable:
            self.not_button = QToolButton()
            self.not_button.setObjectName("PillNot")
            self.not_button.setText("NOT")
            self.not_button.setCheckable(True)
            self.not_button.setChecked(negated)
            self.not_button.setAutoRaise(True)
            self.not_button.setToolTip("Exclude the participants this criterion matches (NOT)")
            layout.addWidget(self.not_button)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # values are data, never markup
        self.label.setToolTip(text)
        self.label.setText(self.label.fontMetrics().elidedText(shown or text, Qt.TextElideMode.ElideRight,
                                                               PILL_MAX_WIDTH))
        self.full_text = text
        layout.addWidget(self.label)
        self.remove_button: QToolButton | None = None
        if removable:
            self.remove_button = QToolButton()
            self.remove_button.setObjectName("PillRemove")
            self.remove_button.setText("×")
            self.remove_button.setToolTip("Remove this criterion")
            self.remove_button.setAutoRaise(True)
            layout.addWidget(self.remove_button)
        if removable:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
            self.setToolTip(text + "\nClick: edit · Ctrl+click: select for grouping · right-click: more")

    @property
    def is_selected(self) -> bool:
        return self.property("selected") == "true"

    def set_selected(self, selected: bool) -> None:
        self.setProperty("selected", "true" if selected else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.remove_button is not None:
            if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.set_selected(not self.is_selected)
                self.selection_toggled.emit()
            else:
                self.clicked.emit()
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self.remove_button is not None:
            self.menu_requested.emit(event.globalPos())


class QueryBar(QFrame):
    """Q combo, pills joined by AND / OR (or one 'All participants' pill), +, Group, SQL, SQON, Import, Attrition,
    Undo / Redo. `set_workspace` gives the editors and the attrition a cache to query (in workers)."""

    def __init__(self, state: CohortState, jobs: QtJobRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueryBar")
        self.state = state
        self.jobs = jobs
        self.workspace: Workspace | None = None
        self.editor: CriterionEditor | None = None
        self.term_labels: dict[str, str] = {}  # ontology id -> label, looked up in a worker for the pills
        self._labels_asked: set[str] = set()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(8)

        self.query_combo = QComboBox()
        self.query_combo.setObjectName("QueryCombo")
        self.query_combo.setToolTip("The queries; the one shown is the cohort every view follows")
        self.query_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.query_combo.activated.connect(self._query_picked)
        layout.addWidget(self.query_combo)
        self.query_menu_button = self._tool("Queries", "New query, duplicate or remove this query")
        query_menu = QMenu(self.query_menu_button)
        query_menu.addAction("New query", lambda: self.state.add_query())
        query_menu.addAction("Duplicate this query", lambda: self.state.add_query(self.state.cohort))
        query_menu.addAction("Remove this query", lambda: self.state.remove_query(self.state.active_index))
        self.query_menu_button.setMenu(query_menu)
        self.query_menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        layout.addWidget(self.query_menu_button)
        self.combine_edit = QLineEdit()
        self.combine_edit.setObjectName("CombineQueries")
        self.combine_edit.setPlaceholderText("Combine: 1 and not 2")
        self.combine_edit.setToolTip("Combine queries by number, e.g. 1 and (2 or 3), 1 and not 2; Enter makes it "
                                     "a new query and the cohort")
        self.combine_edit.setMinimumWidth(130)
        self.combine_edit.setMaximumWidth(170)
        self.combine_edit.returnPressed.connect(lambda: self.combine(self.combine_edit.text()))
        layout.addWidget(self.combine_edit)

        # the pills scroll sideways when they outgrow the bar, so the window never has to widen for them
        pill_area = QWidget()
        pill_area.setObjectName("PillArea")
        self.pill_row = QHBoxLayout(pill_area)
        self.pill_row.setContentsMargins(0, 0, 0, 0)
        self.pill_row.setSpacing(6)
        self.pill_scroll = QScrollArea()
        self.pill_scroll.setObjectName("PillScroll")
        self.pill_scroll.setWidget(pill_area)
        self.pill_scroll.setWidgetResizable(True)
        self.pill_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.pill_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.pill_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.pill_scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.pill_scroll.setMinimumWidth(160)
        layout.addWidget(self.pill_scroll, 1)
        self.add_button = self._tool("+", "Add a criterion")
        self.add_button.setObjectName("AddCriterion")
        self.add_button.clicked.connect(lambda: self.open_editor(None))
        layout.addWidget(self.add_button)
        self.group_button = self._tool("Group", "Group the Ctrl+clicked pills (any of them: OR; all: AND)")
        group_menu = QMenu(self.group_button)
        group_menu.addAction("Any of them (OR)", lambda: self.group_selected("or"))
        group_menu.addAction("All of them (AND)", lambda: self.group_selected("and"))
        self.group_button.setMenu(group_menu)
        self.group_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        layout.addWidget(self.group_button)
        self.message = QLabel()
        self.message.setObjectName("QueryMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setStyleSheet("color: #c0392b;")
        layout.addWidget(self.message)
        self.sql_button = self._tool("SQL", "The compiled SQL with its bound parameters (copyable)")
        self.sql_button.clicked.connect(self.show_sql)
        self.sqon_button = self._tool("SQON", "The cohort as a Kids First SQON (copyable)")
        self.sqon_button.clicked.connect(self.show_sqon)
        self.import_button = self._tool("Import…", "Import a SQON or cohort from a file or pasted text")
        self.import_button.clicked.connect(self.show_import)
        self.attrition_button = self._tool("Attrition", "Participants left after each criterion")
        self.attrition_button.clicked.connect(self.show_attrition)
        self.undo_button = self._tool("↶", "Undo the last cohort edit (Ctrl+Z)")
        self.undo_button.clicked.connect(self.state.undo)
        self.redo_button = self._tool("↷", "Redo (Ctrl+Shift+Z)")
        self.redo_button.clicked.connect(self.state.redo)
        for button in (self.sql_button, self.sqon_button, self.import_button, self.attrition_button,
                       self.undo_button, self.redo_button):
            layout.addWidget(button)
        self.undo_shortcut = QShortcut(QKeySequence("Ctrl+Z"), self)
        self.undo_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.undo_shortcut.activated.connect(self.state.undo)
        self.redo_shortcut = QShortcut(QKeySequence("Ctrl+Shift+Z"), self)
        self.redo_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.redo_shortcut.activated.connect(self.state.redo)
        self.pills: list[CriterionPill] = []
        self.op_buttons: list[QToolButton] = []
        self.apply_palette()
        self.state.add_listener(self._cohort_changed)
        self._cohort_changed(self.state.cohort)

    def _tool(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        return button

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        self.term_labels, self._labels_asked = {}, set()
        if workspace is not None:
            self._look_up_labels()

    def _look_up_labels(self) -> None:
        """Labels of the bare ontology ids the pills show (ontology_terms, in a worker); the pills redraw when
        they arrive."""
        workspace, jobs = self.workspace, self.jobs
        if workspace is None or jobs is None:
            return
        try:
            missing = {term for query in self.state.queries for term in ontology_term_ids(query)}
        except QueryError:
            return
        missing -= self._labels_asked
        if not missing:
            return
        self._labels_asked |= missing

        def look_up(_progress: ProgressCallback, cancel: CancelToken) -> dict[str, str]:
            cancel.raise_if_cancelled()
            return term_labels(workspace.cursor(), missing)

        jobs.submit(look_up, name="Term labels", key="pill-term-labels", on_finished=self._labels_found,
                    on_cancelled=lambda: self._labels_asked.difference_update(missing))

    def _labels_found(self, labels: dict[str, str]) -> None:
        if any(self.term_labels.get(term) != label for term, label in labels.items()):
            self.term_labels.update(labels)
            self._cohort_changed(self.state.cohort)

    def pill_texts(self) -> list[str]:
        return [pill.full_text for pill in self.pills]

    def selected_indices(self) -> list[int]:
        return [i for i, pill in enumerate(self.pills) if pill.is_selected and pill.remove_button is not None]

    # -- redraw -------------------------------------------------------------------------------------------------
    def _cohort_changed(self, _cohort: Cohort) -> None:
        while self.pill_row.count():
            item = self.pill_row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # at once: deletion waits for the event loop
                widget.deleteLater()
        self.pills, self.op_buttons = [], []
        children = self.state.top_level()
        if not children:
            pill = CriterionPill("All participants", removable=False)
            self.pills.append(pill)
            self.pill_row.addWidget(pill)
        op_word = self.state.top_op.upper()
        for index, node in enumerate(children):
            if index:
                toggle = QToolButton()
                toggle.setObjectName("OpToggle")
                toggle.setText(op_word)
                toggle.setAutoRaise(True)
                toggle.setToolTip("Click to join the criteria by " + ("OR" if op_word == "AND" else "AND"))
                toggle.clicked.connect(self.toggle_top_op)
                self.op_buttons.append(toggle)
                self.pill_row.addWidget(toggle)
            pill = CriterionPill(pill_text(node, self.term_labels), removable=True, negated=isinstance(node, Not),
                                 shown=pill_text(node.child, self.term_labels) if isinstance(node, Not) else None)
            assert pill.remove_button is not None and pill.not_button is not None
            pill.remove_button.clicked.connect(lambda _checked=False, i=index: self.state.remove(i))
            pill.not_button.clicked.connect(lambda _checked=False, i=index: self.state.negate(i))
            pill.clicked.connect(lambda i=index: self.open_editor(i))
            pill.selection_toggled.connect(self._update_buttons)
            pill.menu_requested.connect(lambda point, i=index: self._pill_menu(i).popup(point))
            self.pills.append(pill)
            self.pill_row.addWidget(pill)
        self.pill_row.addStretch(1)
        row_height = max(p.sizeHint().height() for p in self.pills)
        bar_height = self.pill_scroll.horizontalScrollBar().sizeHint().height()
        self.pill_scroll.setFixedHeight(row_height + bar_height + 2)
        self.query_combo.clear()
        for index, cohort in enumerate(self.state.queries):
            self.query_combo.addItem(query_title(index, cohort))
        self.query_combo.setCurrentIndex(self.state.active_index)
        self.combine_edit.setVisible(len(self.state.queries) > 1)
        self.message.clear()
        self._update_buttons()
        self._look_up_labels()

    def _update_buttons(self) -> None:
        self.undo_button.setEnabled(self.state.can_undo)
        self.redo_button.setEnabled(self.state.can_redo)
        self.group_button.setEnabled(len(self.selected_indices()) >= 2)
        self.attrition_button.setEnabled(bool(self.state.top_level()))

    def _pill_menu(self, index: int) -> QMenu:
        menu = QMenu(self)
        node = self.state.top_level()[index]
        inner = node.child if isinstance(node, Not) else node
        if isinstance(inner, Criterion):
            menu.addAction("Edit…", lambda: self.open_editor(index))
        menu.addAction("Remove NOT" if isinstance(node, Not) else "NOT (exclude these)",
                       lambda: self.state.negate(index))
        if isinstance(node, Group):
            menu.addAction("Ungroup", lambda: self.state.ungroup(index))
        if len(self.selected_indices()) >= 2:
            menu.addAction("Group selected as any (OR)", lambda: self.group_selected("or"))
            menu.addAction("Group selected as all (AND)", lambda: self.group_selected("and"))
        menu.addSeparator()
        menu.addAction("Remove", lambda: self.state.remove(index))
        return menu

    # -- edits --------------------------------------------------------------------------------------------------
    def toggle_top_op(self) -> None:
        self.state.set_top_op("or" if self.state.top_op == "and" else "and")

    def group_selected(self, op: str) -> None:
        try:
            self.state.group(self.selected_indices(), op)
        except QueryError as error:
            self.message.setText(str(error))

    def combine(self, expression: str) -> bool:
        """Make the combination of queries by number the cohort; a worded message when it cannot be read."""
        try:
            self.state.combine(expression)
        except QueryError as error:
            self.message.setText(str(error))
            self.message.setToolTip(str(error))
            return False
        self.combine_edit.clear()
        return True

    def _query_picked(self, index: int) -> None:
        if 0 <= index < len(self.state.queries) and index != self.state.active_index:
            self.state.select_query(index)

    def open_editor(self, index: int | None) -> CriterionEditor | None:
        """Open the editor of pill `index` (None: a new criterion); non-modal; OK writes it back."""
        node = self.state.top_level()[index] if index is not None else None
        negated = isinstance(node, Not)
        inner = node.child if isinstance(node, Not) else node
        if inner is not None and not isinstance(inner, Criterion):
            self.message.setText("A group is edited through its pills: right-click → Ungroup")
            return None
        if self.editor is not None:
            self.editor.close()
        editor = CriterionEditor(self.jobs, self.workspace, self.state.cohort, inner, parent=self.window())
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        before = self.state.cohort
        editor.criterion_accepted.connect(lambda item: self._editor_done(index, item, negated, before))
        editor.destroyed.connect(lambda *_: self._forget_editor(editor))
        self.editor = editor
        editor.show()
        return editor

    def _forget_editor(self, editor: CriterionEditor) -> None:
        if self.editor is editor:
            self.editor = None

    def _editor_done(self, index: int | None, item: Criterion, negated: bool, before: Cohort) -> None:
        node: Node = Not(item) if negated else item
        if index is None or self.state.cohort != before:
            self.state.add(node)  # a new criterion, or the query changed meanwhile: add rather than overwrite
        else:
            self.state.replace(index, node)

    # -- views of the cohort -------------------------------------------------------------------------------------
    def _show(self, dialog: QWidget) -> QWidget:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # parented to the window, which keeps it
        dialog.show()
        return dialog

    def show_sql(self) -> SqlDialog:
        dialog = SqlDialog(self.state.cohort, parent=self.window())
        self._show(dialog)
        return dialog

    def show_sqon(self) -> SqonDialog:
        dialog = SqonDialog(self.state.cohort, parent=self.window())
        self._show(dialog)
        return dialog

    def show_import(self, on_imported: Callable[[Cohort], None] | None = None) -> ImportCohortDialog:
        """Import into a new query (the current one stays as it was, one undo away)."""
        dialog = ImportCohortDialog(parent=self.window())
        dialog.cohort_imported.connect(on_imported or (lambda cohort: self.state.add_query(cohort)))
        self._show(dialog)
        return dialog

    def show_attrition(self) -> AttritionDialog | None:
        if self.jobs is None:
            return None
        dialog = AttritionDialog(self.jobs, self.workspace, self.state.cohort, parent=self.window())
        self._show(dialog)
        return dialog

    def apply_palette(self) -> None:
        palette = self.palette()
        accent = palette.color(QPalette.ColorRole.Highlight)
        mid = palette.color(QPalette.ColorRole.Mid)
        selected = palette.color(QPalette.ColorRole.Highlight).lighter(170)
        self.setStyleSheet(
            f"#CohortPill {{ border: 1px solid {accent.name()}; border-radius: 10px; }}"
            "#CohortPill[negated=\"true\"] { border: 1px dashed #c0392b; }"
            f"#CohortPill[selected=\"true\"] {{ background: {selected.name()}; }}"
            "#PillRemove { border: none; padding: 0 4px; }"
            "#PillNot { border: none; padding: 0 3px; font-size: 8pt; color: palette(mid); }"
            "#PillNot:checked { color: #c0392b; font-weight: bold; }"
            "#OpToggle { font-weight: bold; padding: 0 2px; }"
            f"#QueryBar {{ border-bottom: 1px solid {mid.name()}; }}"
        )
