"""The toolbar's quick-search box (Ctrl+K): type a participant id, gene, HPO / MONDO term, region, rsID or HGVS;
a small popup lists the hits with their kind (and, for genes and terms, how many participants they select: hits
that occur in the release come first); choosing one opens the participant or adds the matching criterion.

The lookups run in a worker (kfexplorer.services.quick_search.search_cache); a newer keystroke cancels the older
search. The box only emits signals; the main window decides what a choice does.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QFrame, QLineEdit, QListWidget, QListWidgetItem, QWidget

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.model import QueryError
from kfexplorer.services.quick_search import QuickSearchHit, parsed_hits, search_cache
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.icon_library import themed_icon
from kfexplorer.ui.job_signals import QtJobRunner

SEARCH_DELAY_MS = 150
MAX_VISIBLE_HITS = 12
HIT_ROLE = Qt.ItemDataRole.UserRole + 1


class HitList(QListWidget):
    """The hits under the box: a child of the window (an overlay, not a popup window), never focused, so typing
    goes on in the box; Up / Down / Enter / Esc are handled by the box."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("QuickSearchHits")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setStyleSheet("#QuickSearchHits::item { padding: 3px 6px; }")
        self.hide()


class QuickSearchBox(QLineEdit):
    """`participant_chosen(str)` for a participant hit; `criterion_chosen(Node)` for any other; `hits` holds the
    latest answer (for the text `hits_text`)."""

    participant_chosen = Signal(str)
    criterion_chosen = Signal(object)  # kfexplorer.query.model.Node
    hits_ready = Signal()
    message = Signal(str)

    def __init__(self, jobs: QtJobRunner | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QuickSearch")
        self.setPlaceholderText("Go to participant / gene / HPO term / region / rsID / HGVS…  Ctrl+K")
        self.addAction(themed_icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.setClearButtonEnabled(True)
        self.setToolTip("Participant id, gene symbol, HPO or MONDO term (id or words), region chr17:7.66M-7.69M "
                        "as chr17:7660000-7690000, rsID, or HGVS (chr17:g.7675088C>T, TP53:p.R175H)")
        self.jobs = jobs
        self.workspace: Workspace | None = None
        self.hits: list[QuickSearchHit] = []
        self.hits_text = ""
        self._choose_when_ready = False
        self.hit_list = HitList()
        self.hit_list.itemClicked.connect(self._activated)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SEARCH_DELAY_MS)
        self.timer.timeout.connect(self.search_now)
        self.textEdited.connect(lambda _text: self.timer.start())
        self.returnPressed.connect(self._return_pressed)

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        self.hits, self.hits_text = [], ""

    # -- searching ----------------------------------------------------------------------------------------------
    def search_now(self) -> None:
        """Look the current text up: parsed kinds at once, the cache in a worker."""
        self.timer.stop()
        text = self.text().strip()
        if not text:
            self._show_hits("", [])
            return
        workspace = self.workspace
        if workspace is None or self.jobs is None:
            self._show_hits(text, parsed_hits(text))
            return

        def search(_progress: ProgressCallback, cancel: CancelToken) -> list[QuickSearchHit]:
            cancel.raise_if_cancelled()
            return search_cache(workspace.cursor(), text)

        self.jobs.submit(search, name="Quick search", key="quick-search",
                         on_finished=lambda hits: self._show_hits(text, hits))

    def _show_hits(self, text: str, hits: list[QuickSearchHit]) -> None:
        if text != self.text().strip():
            return  # an older answer: the newer search replaces it
        self.hits, self.hits_text = list(hits), text
        self.hit_list.clear()
        for hit in hits:
            counted = f"  ·  {hit.participants_words}" if hit.participants_words else ""
            item = QListWidgetItem(f"{hit.label}  ·  {hit.kind_words}{counted}")
            item.setData(HIT_ROLE, hit)
            item.setToolTip(f"{hit.kind_words}: {hit.value}" + (
                f" ({hit.participants_words} in this release)" if counted else ""))
            if hit.participants == 0:  # nothing to find: shown, but quieter than the hits with participants
                item.setForeground(self.hit_list.palette().placeholderText())
            self.hit_list.addItem(item)
        self.hits_ready.emit()
        if self._choose_when_ready:
            self._choose_when_ready = False
            if hits:
                self.choose(hits[0])
            else:
                self.message.emit(f"Nothing matches “{text}”")
            return
        if hits and self.hasFocus():
            self._show_popup()
        else:
            self._hide_popup()

    def _show_popup(self) -> None:
        window = self.window()
        if self.hit_list.parentWidget() is not window:
            self.hit_list.setParent(window)
        rows = min(self.hit_list.count(), MAX_VISIBLE_HITS)
        height = self.hit_list.sizeHintForRow(0) * rows + 2 * self.hit_list.frameWidth()
        corner = self.mapTo(window, QPoint(0, self.height()))
        wanted = self.hit_list.sizeHintForColumn(0) + 2 * self.hit_list.frameWidth() + 24  # room for a scrollbar
        width = min(max(self.width(), wanted), max(window.width() - corner.x() - 8, self.width()))
        self.hit_list.setGeometry(corner.x(), corner.y(), width, height)
        self.hit_list.setCurrentRow(0)
        self.hit_list.show()
        self.hit_list.raise_()

    def _hide_popup(self) -> None:
        self.hit_list.hide()

    @property
    def popup_visible(self) -> bool:
        return self.hit_list.isVisible()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.popup_visible and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            row = min(max(self.hit_list.currentRow() + step, 0), self.hit_list.count() - 1)
            self.hit_list.setCurrentRow(row)
            return
        if self.popup_visible and event.key() == Qt.Key.Key_Escape:
            self._hide_popup()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        if event.reason() != Qt.FocusReason.PopupFocusReason:
            QTimer.singleShot(150, self._hide_popup_unless_focused)  # a click on a hit lands first
        super().focusOutEvent(event)

    def _hide_popup_unless_focused(self) -> None:
        if not self.hasFocus():
            self._hide_popup()

    # -- choosing -----------------------------------------------------------------------------------------------
    def _return_pressed(self) -> None:
        text = self.text().strip()
        if not text:
            return
        if self.hits_text == text and not self.timer.isActive():
            row = self.hit_list.currentRow() if self.popup_visible else 0
            if self.hits:
                self.choose(self.hits[row if 0 <= row < len(self.hits) else 0])
            else:
                self.message.emit(f"Nothing matches “{text}”")
            return
        self._choose_when_ready = True
        self.search_now()

    def _activated(self, item: QListWidgetItem) -> None:
        hit = item.data(HIT_ROLE)
        if isinstance(hit, QuickSearchHit):
            self.choose(hit)

    def choose(self, hit: QuickSearchHit) -> None:
        """Open the participant, or add the hit's criterion; the box empties for the next search."""
        self._hide_popup()
        if hit.kind == "participant":
            self.participant_chosen.emit(hit.value)
        else:
            try:
                node = hit.criterion()
            except QueryError as error:
                self.message.emit(str(error))
                return
            self.criterion_chosen.emit(node)
        self.clear()
        self.hits, self.hits_text = [], ""
