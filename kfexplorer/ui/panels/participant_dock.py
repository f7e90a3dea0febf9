"""The Participant dock (UI.md): everything known about the selected participant, in collapsible sections.

Selecting a participant shows their participants-table row at once; the rest (study, family, diagnoses,
phenotypes, timeline, specimens, files, imaging, notes) is read by a worker job
(kfexplorer.services.participant_detail) and bound when it arrives. A note opens in a read-only viewer after a
second worker job reads its text from the cache. Family members are links: `participant_requested` asks the window
to open them.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QCloseEvent,
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.services.jobs import JobFailure
from kfexplorer.services.participant_detail import (
    TIMELINE_KINDS,
    DiagnosisFact,
    NoteEvidence,
    NoteRecord,
    ParticipantDetail,
    PhenotypeFact,
    TimelineEvent,
    load_participant_detail,
    read_note_text,
)
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.cell_format import (
    DAYS_PER_YEAR,
    MISSING_TEXT,
    format_age_days,
    format_bytes,
    format_cell,
)
from kfexplorer.ui.preview_host import ensure_application, open_preview_workspace, show_preview
from kfexplorer.ui.widgets.empty_state import EmptyState

NONE_RECORDED = "none recorded"
PARTICIPANT_LINK = "participant:"
NOTE_LINK = "note:"
DERIVED_COLOUR = "#b35c00"
OBSERVED_SPAN_COLOUR = "#cdebc5"  # note viewer: a mention that counts as observed
NOT_OBSERVED_SPAN_COLOUR = "#e4e4e4"  # negated / uncertain / hypothetical / family
EVIDENCE_CONTEXT_CHARS = 60
SECONDARY_COLOUR = "#808080"
TIMELINE_COLOURS: dict[str, str] = {
    "Diagnosis": "#d1495b",
    "Phenotype": "#2e86ab",
    "Specimen": "#6a994e",
    "Imaging": "#8e5ea2",
    "Follow-up": "#555555",
}
SECTION_NAMES = ("Demographics", "Family", "Diagnoses", "Phenotypes", "Timeline", "Specimens", "Files", "Imaging",
                 "Notes")
DEMOGRAPHIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("participant_id", "Participant"),
    ("study_id", "Study"),
    ("sex", "Sex"),
    ("race", "Race"),
    ("ethnicity", "Ethnicity"),
    ("birth_year", "Birth year"),
    ("is_proband", "Proband"),
    ("affected_status", "Affected"),
    ("vital_status", "Vital status"),
)


# -- text ---------------------------------------------------------------------------------------------------------
def participant_headline(record: dict[str, Any]) -> str:
    """'PT_0042 · F · 6 y' from the id, sex and age columns when present."""
    parts = [str(record.get("participant_id") or record.get("fhir_id") or "Participant")]
    sex = record.get("sex")
    if sex:
        parts.append(str(sex)[:1].upper())
    age = record.get("age_at_last_follow_up_days")
    if isinstance(age, int | float) and not isinstance(age, bool):
        parts.append(f"{int(age / DAYS_PER_YEAR)} y")
    return " · ".join(parts)


def age_text(days: int | None) -> str:
    return "age unknown" if days is None else f"at {format_age_days(days)}"


def vital_status_text(record: dict[str, Any]) -> str:
    """'Alive at last follow-up, 3,770 d (10.3 y)'."""
    status = record.get("vital_status")
    age = record.get("age_at_last_follow_up_days")
    text = str(status) if status else MISSING_TEXT
    if isinstance(age, int | float) and not isinstance(age, bool):
        text += f" at last follow-up, {format_age_days(age)}"
    return text


def breakable(text: str) -> str:
    """Escaped text with zero-width spaces after separators, so long ids and file names wrap in a narrow dock."""
    escaped = html.escape(text)
    for separator in ("-", ".", "_", "/"):
        escaped = escaped.replace(separator, separator + "\u200b")
    return escaped


def _muted(text: str) -> str:
    return f'<span style="color:{SECONDARY_COLOUR}">{text}</span>'


def diagnosis_html(fact: DiagnosisFact) -> str:
    label = html.escape(fact.label or fact.code or "diagnosis")
    details = [html.escape(fact.code or "")] if fact.code else []
    details.append(age_text(fact.age_at_event_days))
    if fact.verification and fact.verification != "confirmed":
        details.append(html.escape(fact.verification))
    text = f"<b>{label}</b>"
    if fact.derived:
        text += f' <span style="color:{DERIVED_COLOUR}">[NLP-derived]</span>'
    return text + "<br>" + _muted(" · ".join(details))


def phenotype_html(fact: PhenotypeFact) -> str:
    label = html.escape(fact.label or fact.hpo_id or "phenotype")
    details = ([html.escape(fact.hpo_id)] if fact.hpo_id else []) + [age_text(fact.age_at_event_days)]
    derived = f' <span style="color:{DERIVED_COLOUR}">[NLP-derived]</span>' if fact.derived else ""
    if fact.observed is False:
        head = f'<span style="color:{SECONDARY_COLOUR}">✗ <s>{label}</s></span> {_muted("(not observed)")}'
    else:
        head = f"✓ <b>{label}</b>"
    return head + derived + "<br>" + _muted(" · ".join(details))


# -- widgets ------------------------------------------------------------------------------------------------------
class CollapsibleSection(QWidget):
    """A titled section whose body folds away; the title carries the item count."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.toggle = QToolButton()
        self.toggle.setObjectName(f"Section{name.replace('-', '')}")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = QFont(self.toggle.font())
        font.setBold(True)
        self.toggle.setFont(font)
        self.toggle.toggled.connect(self.set_expanded)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(20, 0, 0, 8)
        self.body_layout.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)
        self.set_count(None)

    def set_count(self, count: int | None) -> None:
        self.toggle.setText(self.name if count is None else f"{self.name} ({count:,})")

    def set_expanded(self, expanded: bool) -> None:
        if self.toggle.isChecked() != expanded:
            self.toggle.setChecked(expanded)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)

    @property
    def is_expanded(self) -> bool:
        return self.toggle.isChecked()

    def clear(self) -> None:
        while self.body_layout.count():
            item = self.body_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()

    def add_label(self, text: str, *, link_handler: Callable[[str], None] | None = None,
                  tooltip: str = "") -> QLabel:
        """A wrapped rich-text line; links call `link_handler(href)`."""
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        if link_handler is not None:
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            label.linkActivated.connect(link_handler)
        else:
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if tooltip:
            label.setToolTip(tooltip)
        self.body_layout.addWidget(label)
        return label

    def add_widget(self, widget: QWidget) -> None:
        self.body_layout.addWidget(widget)

    def set_message(self, text: str) -> QLabel:
        """Replace the body by one secondary line ('none recorded', 'Loading…')."""
        self.clear()
        return self.add_label(_muted(html.escape(text)))

    def texts(self) -> list[str]:
        """The plain text of the body's labels, in order (for tests and copy)."""
        texts = []
        for index in range(self.body_layout.count()):
            item = self.body_layout.itemAt(index)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QLabel):
                document_text = _plain_text(widget.text())
                texts.append(document_text)
        return texts


def _plain_text(rich: str) -> str:
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(rich)
    return document.toPlainText().replace("\u200b", "")


class TimelineWidget(QWidget):
    """Ages of the participant's facts on one axis, one lane per kind; hover a dot for what it is."""

    LANE_HEIGHT = 18
    AXIS_HEIGHT = 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.events: tuple[TimelineEvent, ...] = ()
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(280, 8 + len(TIMELINE_KINDS) * self.LANE_HEIGHT + self.AXIS_HEIGHT)

    def set_events(self, events: Sequence[TimelineEvent]) -> None:
        self.events = tuple(events)
        self.update()

    def _label_width(self) -> int:
        metrics = self.fontMetrics()
        return max(metrics.horizontalAdvance(kind) for kind in TIMELINE_KINDS) + 8

    def _max_years(self) -> float:
        longest = max((e.age_days for e in self.events), default=365)
        years = max(1.0, longest / DAYS_PER_YEAR)
        return float(int(years) + 1)

    def _point(self, event: TimelineEvent) -> QPointF:
        left = self._label_width()
        width = max(10, self.width() - left - 10)
        x = left + width * (event.age_days / DAYS_PER_YEAR) / self._max_years()
        y = 4 + TIMELINE_KINDS.index(event.kind) * self.LANE_HEIGHT + self.LANE_HEIGHT / 2
        return QPointF(x, y)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_colour = palette.color(palette.ColorRole.WindowText)
        grid_colour = palette.color(palette.ColorRole.Mid)
        left = self._label_width()
        right = self.width() - 10
        lanes_bottom = 4 + len(TIMELINE_KINDS) * self.LANE_HEIGHT
        metrics = self.fontMetrics()
        for index, kind in enumerate(TIMELINE_KINDS):
            y = 4 + index * self.LANE_HEIGHT
            painter.setPen(QPen(text_colour))
            painter.drawText(QRectF(0, y, left - 6, self.LANE_HEIGHT),
                             int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), kind)
            painter.setPen(QPen(grid_colour, 1, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(left, y + self.LANE_HEIGHT / 2), QPointF(right, y + self.LANE_HEIGHT / 2))
        painter.setPen(QPen(text_colour))
        painter.drawLine(QPointF(left, lanes_bottom), QPointF(right, lanes_bottom))
        years = self._max_years()
        step = max(1, int(years / 5 + 0.999))
        tick = 0
        while tick <= years:
            x = left + (right - left) * tick / years
            painter.drawLine(QPointF(x, lanes_bottom), QPointF(x, lanes_bottom + 4))
            label = f"{tick} y"
            painter.drawText(QPointF(x - metrics.horizontalAdvance(label) / 2, lanes_bottom + 4 + metrics.ascent()),
                             label)
            tick += step
        for event in self.events:
            colour = QColor(TIMELINE_COLOURS.get(event.kind, "#444444"))
            painter.setPen(QPen(colour, 1.5))
            painter.setBrush(QBrush(colour) if event.observed else Qt.BrushStyle.NoBrush)
            painter.drawEllipse(self._point(event), 4.0, 4.0)
        painter.end()

    def event_at(self, position: QPointF, radius: float = 6.0) -> list[TimelineEvent]:
        return [e for e in self.events
                if (self._point(e) - position).manhattanLength() <= radius * 1.5]

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hits = self.event_at(event.position())
        if hits:
            lines = [f"{e.kind}: {e.label}{'' if e.observed else ' (not observed)'} — {format_age_days(e.age_days)}"
                     for e in hits[:8]]
            QToolTip.showText(event.globalPosition().toPoint(), "\n".join(lines), self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)


def evidence_summary_html(evidence: Sequence[NoteEvidence]) -> str:
    """One line for the Notes section: the terms a note asserts (observed), then those it mentions otherwise."""
    observed = sorted({e.label for e in evidence if e.asserted and not e.restates_diagnosis})
    others = sorted({e.label for e in evidence if not e.asserted} - set(observed))
    parts = []
    if observed:
        parts.append(f'<span style="color:{DERIVED_COLOUR}">observed: {html.escape(", ".join(observed))}</span>')
    if others:
        parts.append(_muted(html.escape("not observed: " + ", ".join(others))))
    return " · ".join(parts)


def evidence_status(item: NoteEvidence) -> str:
    if item.restates_diagnosis:
        return "names the recorded diagnosis"
    status = "observed" if item.asserted else "not observed"
    return status + (f" ({', '.join(item.flags)})" if item.flags else "")


def evidence_context_html(text: str, item: NoteEvidence) -> str:
    """The mention in its surrounding text, the mention in bold."""
    start, end = max(0, min(item.start, len(text))), max(0, min(item.end, len(text)))
    lo, hi = max(0, start - EVIDENCE_CONTEXT_CHARS), min(len(text), end + EVIDENCE_CONTEXT_CHARS)
    before = ("…" if lo > 0 else "") + " ".join(text[lo:start].split())
    after = " ".join(text[end:hi].split()) + ("…" if hi < len(text) else "")
    return f"{html.escape(before)} <b>{html.escape(text[start:end])}</b> {html.escape(after)}"


class NoteViewer(QDialog):
    """A non-modal, read-only view of one note's text, its NLP evidence spans highlighted and listed with their
    context."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModal(False)
        self.setWindowTitle("Note")
        self.resize(560, 520)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        self.title_label = QLabel()
        self.title_label.setWordWrap(True)
        layout.addWidget(self.title_label)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setReadOnly(True)
        self.text_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        layout.addWidget(self.text_edit, 1)
        self.evidence_label = QLabel()
        self.evidence_label.setWordWrap(True)
        self.evidence_label.setTextFormat(Qt.TextFormat.RichText)
        self.evidence_scroll = QScrollArea()
        self.evidence_scroll.setWidgetResizable(True)
        self.evidence_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.evidence_scroll.setWidget(self.evidence_label)
        self.evidence_scroll.setMaximumHeight(180)
        layout.addWidget(self.evidence_scroll)
        self.highlighted_spans: list[tuple[int, int]] = []  # character ranges of the highlighted mentions
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    def show_note(self, participant_id: str, note: NoteRecord, text: str) -> None:
        title = note.title or note.document_id
        self.setWindowTitle(f"{title} — {participant_id}")
        self.title_label.setText(f"<b>{html.escape(title)}</b> {_muted(html.escape(note.document_id))}")
        self.text_edit.setPlainText(text)
        self._show_evidence(text, note.evidence)
        self.show()

    def _show_evidence(self, text: str, evidence: Sequence[NoteEvidence]) -> None:
        selections: list[QTextEdit.ExtraSelection] = []
        for item in evidence:
            if not 0 <= item.start < item.end <= len(text):
                continue
            selection = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.text_edit.document())
            cursor.setPosition(item.start)
            cursor.setPosition(item.end, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor  # type: ignore[attr-defined]
            text_format = QTextCharFormat()
            observed = item.asserted and not item.restates_diagnosis
            text_format.setBackground(QColor(OBSERVED_SPAN_COLOUR if observed else NOT_OBSERVED_SPAN_COLOUR))
            if observed:
                text_format.setFontWeight(QFont.Weight.Bold)
            selection.format = text_format  # type: ignore[attr-defined]
            selections.append(selection)
        self.text_edit.setExtraSelections(selections)
        self.highlighted_spans = [(i.start, i.end) for i in evidence if 0 <= i.start < i.end <= len(text)]
        if not evidence:
            self.evidence_label.setText(_muted("No phenotype mentions found in this note."))
            return
        rows = [f"<b>{html.escape(i.label)}</b> {_muted(html.escape(i.hpo_id))} — {html.escape(evidence_status(i))}"
                f"<br>{_muted(evidence_context_html(text, i))}" for i in evidence]
        self.evidence_label.setText("<b>Phenotype evidence (kfexplorer NLP)</b><br>" + "<br>".join(rows))


class ParticipantDetailPanel(QWidget):
    """Header, then collapsible sections; an empty state when nobody is selected.

    Signals: participant_requested(participant_id) — a family member link was clicked; detail_loaded(detail) —
    the worker's detail was bound; note_shown(document_id) — a note's text is in the viewer.
    """

    participant_requested = Signal(str)
    detail_loaded = Signal(object)
    note_shown = Signal(str)

    def __init__(self, jobs: QtJobRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.workspace: Workspace | None = None
        self._record: dict[str, Any] | None = None
        self._detail: ParticipantDetail | None = None
        self._request = 0
        self._fields: dict[str, QLabel] = {}
        self.note_viewer: NoteViewer | None = None

        self.stack = QStackedWidget(self)
        self.empty_state = EmptyState("No participant selected",
                                      "Select a row in a table, or search a participant (Ctrl+K), to see them here.")
        self.stack.addWidget(self.empty_state)
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(8, 8, 8, 8)
        details_layout.setSpacing(4)
        self.headline = QLabel()
        font = QFont(self.headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.headline.setFont(font)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details_layout.addWidget(self.headline)
        self.subtitle = QLabel()
        self.subtitle.setWordWrap(True)
        self.subtitle.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        details_layout.addWidget(self.subtitle)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        details_layout.addWidget(self.status_label)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        details_layout.addWidget(line)

        self.sections: dict[str, CollapsibleSection] = {}
        for name in SECTION_NAMES:
            section = CollapsibleSection(name)
            self.sections[name] = section
            details_layout.addWidget(section)
        demographics = QWidget()
        self.form = QFormLayout(demographics)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setHorizontalSpacing(8)
        self.form.setVerticalSpacing(4)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.sections["Demographics"].add_widget(demographics)
        self.timeline = TimelineWidget()
        details_layout.addStretch(1)

        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(details)
        self.stack.addWidget(self.scroll_area)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

    # -- state --------------------------------------------------------------------------------------------------
    @property
    def record(self) -> dict[str, Any] | None:
        """The participants-table row of the participant shown (None when nobody is)."""
        return self._record

    @property
    def detail(self) -> ParticipantDetail | None:
        return self._detail

    def set_workspace(self, workspace: Workspace | None) -> None:
        """The cache detail is read from; None (closing, syncing) clears the panel."""
        self.workspace = workspace
        if workspace is None:
            self.show_participant(None)

    def field_text(self, column: str) -> str | None:
        """The text shown for demographics `column` (None when the field is not shown)."""
        label = self._fields.get(column)
        return label.text() if label is not None else None

    def section_texts(self, name: str) -> list[str]:
        return self.sections[name].texts()

    # -- showing ------------------------------------------------------------------------------------------------
    def show_participant(self, record: dict[str, Any] | None) -> None:
        """Show `record` (a participants row) at once, then load the rest of the detail in a worker."""
        self._request += 1
        self._record = record
        self._detail = None
        if not record:
            self.stack.setCurrentIndex(0)
            return
        self._bind_record(record)
        participant_id = record.get("participant_id") or record.get("fhir_id")
        if participant_id is not None:
            self._start_loading(str(participant_id))

    def load_participant(self, participant_id: str) -> None:
        """Open `participant_id` (from any panel): the header reads 'Loading…' until the worker answers."""
        self._request += 1
        self._record = None
        self._detail = None
        self.headline.setText(participant_id)
        self.subtitle.setText("")
        self._clear_fields()
        self.stack.setCurrentIndex(1)
        self._start_loading(participant_id)

    def _start_loading(self, participant_id: str) -> None:
        for name in SECTION_NAMES[1:]:
            self.sections[name].set_count(None)
            self.sections[name].set_message("Loading…")
        workspace, jobs, request = self.workspace, self.jobs, self._request
        if workspace is None or jobs is None:
            self.status_label.setText(_muted("No release open: only the table row is shown."))
            for name in SECTION_NAMES[1:]:
                self.sections[name].set_message(NONE_RECORDED)
            return
        self.status_label.setText(_muted("Loading…"))

        def load(_progress: ProgressCallback, cancel: CancelToken) -> ParticipantDetail | None:
            cancel.raise_if_cancelled()
            return load_participant_detail(workspace, participant_id)

        jobs.submit(
            load,
            name="Participant detail",
            key="participant-detail",
            on_finished=lambda detail: self._detail_ready(request, participant_id, detail),
            on_failed=lambda failure: self._detail_failed(request, failure),
        )

    def _detail_failed(self, request: int, failure: JobFailure) -> None:
        if request != self._request:
            return
        self.status_label.setText(html.escape(f"Could not load the detail: {failure.message}"))

    def _detail_ready(self, request: int, participant_id: str, detail: ParticipantDetail | None) -> None:
        if request != self._request:
            return  # a newer selection superseded this one
        if detail is None:
            self.status_label.setText(html.escape(f"{participant_id} is not in this release."))
            for name in SECTION_NAMES[1:]:
                self.sections[name].set_message(NONE_RECORDED)
            return
        self._detail = detail
        self._record = detail.participant
        self.status_label.setText("")
        self._bind_record(detail.participant)
        self._bind_detail(detail)
        self.detail_loaded.emit(detail)

    # -- binding ------------------------------------------------------------------------------------------------
    def _clear_fields(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self._fields = {}

    def _add_field(self, column: str, title: str, text: str) -> None:
        label = QLabel(title)
        label.setProperty("column", column)
        label.setEnabled(False)  # secondary text colour
        field = QLabel(text)
        field.setTextFormat(Qt.TextFormat.PlainText)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        field.setWordWrap(True)
        field.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.form.addRow(label, field)
        self._fields[column] = field

    def _bind_record(self, record: dict[str, Any]) -> None:
        self.headline.setText(participant_headline(record))
        facts = []
        if record.get("is_proband") is True:
            facts.append("Proband")
        if isinstance(record.get("affected_status"), bool):
            facts.append("affected" if record["affected_status"] else "unaffected")
        if record.get("family_type"):
            facts.append(f"{record['family_type']} family")
        self.subtitle.setText(_muted(html.escape(" · ".join(facts))))
        self._clear_fields()
        for column, title in DEMOGRAPHIC_COLUMNS:
            if column == "participant_id" or column in record:
                value = record.get(column)
                text = vital_status_text(record) if column == "vital_status" else format_cell(column, value)
                self._add_field(column, title, text)
        self.stack.setCurrentIndex(1)

    def _bind_detail(self, detail: ParticipantDetail) -> None:
        if detail.study is not None:
            study = detail.study
            name = " · ".join(x for x in (study.study_code, study.title) if x)
            study_text = f"{study.study_id} — {name}" if name else study.study_id
            field = self._fields.get("study_id")
            if field is not None:
                field.setText(study_text)
                field.setToolTip(study.domain or "")
        self._bind_family(detail)
        self._bind_diagnoses(detail.diagnoses)
        self._bind_phenotypes(detail)
        self._bind_timeline(detail)
        self._bind_specimens(detail)
        self._bind_files(detail)
        self._bind_imaging(detail)
        self._bind_notes(detail)

    def _bind_family(self, detail: ParticipantDetail) -> None:
        section = self.sections["Family"]
        family = detail.family
        section.clear()
        if family is None:
            section.set_count(0)
            section.set_message(NONE_RECORDED)
            return
        section.set_count(len(family.members))
        kind = html.escape(family.family_type or "family type unknown")
        section.add_label(f"<b>{breakable(family.family_id)}</b> · {kind}")
        for member in family.members:
            relation = html.escape(member.relationship_to_proband or "relationship unknown")
            facts = [relation]
            if member.sex:
                facts.append(html.escape(member.sex))
            if member.affected_status is not None:
                facts.append("affected" if member.affected_status else "unaffected")
            if member.participant_id == detail.participant_id:
                section.add_label(f"<b>{html.escape(member.participant_id)}</b> (shown) · " + " · ".join(facts))
            else:
                href = PARTICIPANT_LINK + member.participant_id
                section.add_label(f'<a href="{html.escape(href, quote=True)}">{html.escape(member.participant_id)}'
                                  f"</a> · " + " · ".join(facts),
                                  link_handler=self._on_link, tooltip=f"Open {member.participant_id}")

    def _bind_diagnoses(self, diagnoses: Sequence[DiagnosisFact]) -> None:
        section = self.sections["Diagnoses"]
        section.clear()
        section.set_count(len(diagnoses))
        if not diagnoses:
            section.set_message(NONE_RECORDED)
        for fact in diagnoses:
            tip = ", ".join(fact.other_codes)
            section.add_label(diagnosis_html(fact), tooltip=f"Also coded as {tip}" if tip else "")

    def _bind_phenotypes(self, detail: ParticipantDetail) -> None:
        section = self.sections["Phenotypes"]
        section.clear()
        section.set_count(len(detail.phenotypes) + len(detail.note_phenotypes))
        if not detail.phenotypes and not detail.note_phenotypes:
            section.set_message(NONE_RECORDED)
            return
        for title, facts in (("Observed", detail.observed_phenotypes),
                             ("Not observed", detail.not_observed_phenotypes)):
            section.add_label(f"<i>{title} ({len(facts)})</i>")
            if not facts:
                section.add_label(_muted(NONE_RECORDED))
            for fact in facts:
                section.add_label(phenotype_html(fact))
        if detail.note_phenotypes:  # kfexplorer.nlp: asserted in a note; the evidence is in the Notes section
            section.add_label(f"<i>Observed in notes ({len(detail.note_phenotypes)})</i>",
                              tooltip="Derived from the clinical notes by kfexplorer's offline NLP; open a note "
                                      "in the Notes section to see the evidence")
            for fact in detail.note_phenotypes:
                section.add_label(phenotype_html(fact))

    def _bind_timeline(self, detail: ParticipantDetail) -> None:
        section = self.sections["Timeline"]
        section.clear()
        section.set_count(len(detail.timeline))
        if not detail.timeline:
            section.set_message(NONE_RECORDED)
            return
        self.timeline = TimelineWidget()
        self.timeline.set_events(detail.timeline)
        section.add_widget(self.timeline)
        section.add_label(_muted("Filled dot: observed · open dot: not observed · hover for details"))

    def _bind_specimens(self, detail: ParticipantDetail) -> None:
        section = self.sections["Specimens"]
        section.clear()
        section.set_count(len(detail.specimens))
        if not detail.specimens:
            section.set_message(NONE_RECORDED)
        for specimen in detail.specimens:
            kind = " · ".join(html.escape(x) for x in (specimen.sample_type, specimen.tissue) if x)
            parts = [age_text(specimen.age_at_collection_days)]
            if specimen.parent_sample_id:
                parts.append(f"from {breakable(specimen.parent_sample_id)}")
            section.add_label(f"<b>{breakable(specimen.sample_id)}</b> {kind}<br>{_muted(' · '.join(parts))}")

    def _bind_files(self, detail: ParticipantDetail) -> None:
        section = self.sections["Files"]
        section.clear()
        section.set_count(len(detail.files))
        if not detail.files:
            section.set_message(NONE_RECORDED)
        for record in detail.files:
            kind = " · ".join(html.escape(x) for x in (record.data_type, record.format) if x)
            name = breakable(record.file_name or record.file_id)
            section.add_label(f"<b>{kind or 'file'}</b> · {format_bytes(record.size)}<br>{_muted(name)}",
                              tooltip=record.file_id)

    def _bind_imaging(self, detail: ParticipantDetail) -> None:
        section = self.sections["Imaging"]
        section.clear()
        section.set_count(len(detail.imaging_studies))
        if not detail.imaging_studies:
            section.set_message(NONE_RECORDED)
        for study in detail.imaging_studies:
            series = f"{study.series_count:,} series"
            what = " · ".join([series, *study.modalities, *study.body_parts])
            section.add_label(f"<b>{html.escape(study.description or 'Imaging study')}</b><br>"
                              + _muted(html.escape(what) + " · " + age_text(study.age_at_scan_days)),
                              tooltip=f"Study UID {study.study_instance_uid}")

    def _bind_notes(self, detail: ParticipantDetail) -> None:
        section = self.sections["Notes"]
        section.clear()
        section.set_count(len(detail.notes))
        if not detail.notes:
            section.set_message(NONE_RECORDED)
        for index, note in enumerate(detail.notes):
            title = html.escape(note.title or note.document_id)
            summary = evidence_summary_html(note.evidence)
            section.add_label(f'<a href="{NOTE_LINK}{index}">{title}</a> {_muted(breakable(note.document_id))}'
                              + (f"<br>{summary}" if summary else ""),
                              link_handler=self._on_link, tooltip="Open the note text with its phenotype evidence")

    # -- links --------------------------------------------------------------------------------------------------
    def _on_link(self, href: str) -> None:
        if href.startswith(PARTICIPANT_LINK):
            self.participant_requested.emit(href[len(PARTICIPANT_LINK):])
        elif href.startswith(NOTE_LINK) and self._detail is not None:
            index = int(href[len(NOTE_LINK):])
            if 0 <= index < len(self._detail.notes):
                self.open_note(self._detail.notes[index])

    def open_note(self, note: NoteRecord) -> None:
        """Read the note's text from the cache in a worker, then show it in the read-only viewer."""
        workspace, jobs, detail = self.workspace, self.jobs, self._detail
        if workspace is None or jobs is None or detail is None:
            return
        if not note.path:
            self.status_label.setText(html.escape(f"{note.title or note.document_id}: no file in the release."))
            return
        cache_dir, path = workspace.cache_dir, note.path

        def read(_progress: ProgressCallback, cancel: CancelToken) -> str:
            cancel.raise_if_cancelled()
            return read_note_text(cache_dir, path)

        def shown(text: str) -> None:
            if self.note_viewer is None:
                self.note_viewer = NoteViewer(self)
            self.note_viewer.show_note(detail.participant_id, note, text)
            self.note_shown.emit(note.document_id)

        def failed(failure: JobFailure) -> None:
            self.status_label.setText(html.escape(f"Could not open the note: {failure.message}"))

        jobs.submit(read, name="Open note", key="participant-note", on_finished=shown, on_failed=failed)


class _PreviewPanel(ParticipantDetailPanel):
    """The panel alone (preview): owns its job runner and workspace and closes them with the window."""

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.jobs is not None:
            self.jobs.shutdown(timeout=5.0)
        if self.workspace is not None:
            self.workspace.close()
        super().closeEvent(event)


def preview(cache_dir: Path, exec_loop: bool = True) -> QWidget:
    """Open the Participant dock alone, showing the first participant of `cache_dir` (detail loaded in a worker)."""
    ensure_application()
    panel = _PreviewPanel()
    panel.jobs = QtJobRunner(parent=panel)
    workspace = open_preview_workspace(cache_dir)
    if workspace is not None:
        rows = workspace.participants_page(limit=1).table.to_pylist()
        panel.set_workspace(workspace)
        panel.show_participant(rows[0] if rows else None)
    return show_preview(panel, "Participant", exec_loop, size=(320, 760))


if __name__ == "__main__":
    preview(Path(sys.argv[1]))
