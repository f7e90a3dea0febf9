"""The Venn dialog: pick 2–3 cohorts (queries of the bar, saved cohorts), see every region's count (one DuckDB query
in a worker), click a region to make it the cohort or save it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.compiler import describe
from kfexplorer.query.model import Cohort, QueryError
from kfexplorer.services.cohort_sets import VennCounts, region_cohort, region_words, venn_counts
from kfexplorer.services.jobs import JobFailure
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.dialogs.worker_dialog import WorkerDialog
from kfexplorer.ui.job_signals import QtJobRunner

CIRCLE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c")


class VennWidget(QWidget):
    """2–3 circles with the count of every region; clicking a region emits `region_clicked(mask)`."""

    region_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.counts: VennCounts | None = None
        self.selected = 0
        self.setMinimumSize(420, 340)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_data(self, names: Sequence[str], counts: VennCounts | None) -> None:
        self.names, self.counts, self.selected = list(names), counts, 0
        self.update()

    def circles(self) -> list[tuple[QPointF, float]]:
        size = len(self.names)
        if size < 2:
            return []
        w, h = self.width(), self.height() - 28
        radius = min(w, h) * (0.30 if size == 2 else 0.27)
        cx, cy = w / 2, 28 + h / 2
        if size == 2:
            return [(QPointF(cx - radius * 0.55, cy), radius), (QPointF(cx + radius * 0.55, cy), radius)]
        offset = radius * 0.62
        angles = (-150.0, -30.0, 90.0)
        return [(QPointF(cx + offset * math.cos(math.radians(a)), cy + offset * math.sin(math.radians(a))), radius)
                for a in angles]

    def region_path(self, mask: int) -> QPainterPath:
        path: QPainterPath | None = None
        circles = self.circles()
        for i, (centre, radius) in enumerate(circles):
            if mask >> i & 1:
                circle = QPainterPath()
                circle.addEllipse(centre, radius, radius)
                path = circle if path is None else path.intersected(circle)
        if path is None:
            return QPainterPath()
        for i, (centre, radius) in enumerate(circles):
            if not mask >> i & 1:
                circle = QPainterPath()
                circle.addEllipse(centre, radius, radius)
                path = path.subtracted(circle)
        return path

    def mask_at(self, point: QPointF) -> int:
        mask = 0
        for i, (centre, radius) in enumerate(self.circles()):
            if math.hypot(point.x() - centre.x(), point.y() - centre.y()) <= radius:
                mask |= 1 << i
        return mask

    def region_anchor(self, mask: int) -> QPointF:
        """A point inside region `mask` for its count: the mean of grid points of the region."""
        circles = self.circles()
        xs: list[float] = []
        ys: list[float] = []
        steps = 48
        for gx in range(steps):
            for gy in range(steps):
                point = QPointF(self.width() * (gx + 0.5) / steps, self.height() * (gy + 0.5) / steps)
                if circles and self.mask_at(point) == mask:
                    xs.append(point.x())
                    ys.append(point.y())
        if not xs:
            return QPointF(self.width() / 2, self.height() / 2)
        return QPointF(sum(xs) / len(xs), sum(ys) / len(ys))

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_colour = self.palette().color(QPalette.ColorRole.WindowText)
        circles = self.circles()
        if not circles:
            painter.setPen(text_colour)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Pick 2 or 3 cohorts")
            return
        for i, (centre, radius) in enumerate(circles):
            colour = QColor(CIRCLE_COLOURS[i])
            fill = QColor(colour)
            fill.setAlpha(55)
            painter.setBrush(fill)
            painter.setPen(QPen(colour, 2))
            painter.drawEllipse(centre, radius, radius)
        if self.selected:
            highlight = self.palette().color(QPalette.ColorRole.Highlight)
            highlight.setAlpha(150)
            painter.setBrush(highlight)
            painter.setPen(QPen(highlight.darker(140), 2))
            painter.drawPath(self.region_path(self.selected))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        for i, (centre, radius) in enumerate(circles):
            painter.setPen(QColor(CIRCLE_COLOURS[i]))
            total = f" ({self.counts.totals[i]:,})" if self.counts else ""
            above = i < 2 or len(circles) == 2
            y = centre.y() - radius - 22 if above else centre.y() + radius + 4
            if len(circles) == 3 and i < 2:
                y = centre.y() - radius - 22
            box = QRectF(centre.x() - radius, y, 2 * radius, 18)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._elided(self.names[i] + total, 2 * radius))
        painter.setPen(text_colour)
        if self.counts is None:
            painter.drawText(QRectF(0, self.height() - 24, self.width(), 20), Qt.AlignmentFlag.AlignCenter,
                             "Counting…")
            return
        for mask, count in self.counts.regions.items():
            anchor = self.region_anchor(mask)
            painter.drawText(QRectF(anchor.x() - 40, anchor.y() - 10, 80, 20), Qt.AlignmentFlag.AlignCenter,
                             f"{count:,}")

    def _elided(self, text: str, width: float) -> str:
        return self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(width))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        mask = self.mask_at(event.position())
        if mask and self.counts is not None:
            self.selected = mask
            self.update()
            self.region_clicked.emit(mask)


class VennDialog(WorkerDialog):
    """Choose 2–3 of `candidates` (name, cohort); `cohort_chosen(Cohort)` / `save_requested(Cohort)` for a region."""

    cohort_chosen = Signal(object)
    save_requested = Signal(object)
    computed = Signal()

    def __init__(self, jobs: QtJobRunner, workspace: Workspace | None, candidates: Sequence[tuple[str, Cohort]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Venn of cohorts")
        self.jobs, self.workspace = jobs, workspace
        self.candidates = list(candidates)
        self.picked: list[int] = []
        self.region = 0
        layout = QHBoxLayout(self)
        side = QVBoxLayout()
        side.addWidget(QLabel("Cohorts (check 2 or 3):"))
        self.cohort_list = QListWidget()
        for index, (name, cohort) in enumerate(self.candidates):
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, index)
            try:
                item.setToolTip(describe(cohort.root))
            except QueryError as error:
                item.setToolTip(f"cannot be read: {error}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.cohort_list.addItem(item)
        self.cohort_list.itemChanged.connect(lambda _item: self._picks_changed())
        side.addWidget(self.cohort_list, 1)
        self.region_label = QLabel("Click a region")
        self.region_label.setTextFormat(Qt.TextFormat.PlainText)
        self.region_label.setWordWrap(True)
        side.addWidget(self.region_label)
        self.make_button = QPushButton("Make this the cohort")
        self.make_button.clicked.connect(lambda: self.cohort_chosen.emit(self.region_cohort()))
        self.save_button = QPushButton("Save as cohort…")
        self.save_button.clicked.connect(lambda: self.save_requested.emit(self.region_cohort()))
        side.addWidget(self.make_button)
        side.addWidget(self.save_button)
        layout.addLayout(side, 1)
        self.venn = VennWidget()
        self.venn.region_clicked.connect(self.select_region)
        layout.addWidget(self.venn, 2)
        self.resize(820, 460)
        self._update_buttons()

    def pick(self, indices: Sequence[int]) -> None:
        self.cohort_list.blockSignals(True)
        for row in range(self.cohort_list.count()):
            self.cohort_list.item(row).setCheckState(
                Qt.CheckState.Checked if row in indices else Qt.CheckState.Unchecked)
        self.cohort_list.blockSignals(False)
        self._picks_changed()

    def _picks_changed(self) -> None:
        self.picked = [row for row in range(self.cohort_list.count())
                       if self.cohort_list.item(row).checkState() == Qt.CheckState.Checked]
        self.region = 0
        names = [self.candidates[i][0] for i in self.picked]
        if not 2 <= len(self.picked) <= 3:
            self.venn.set_data([], None)
            self.region_label.setText("Check 2 or 3 cohorts")
            self._update_buttons()
            return
        self.venn.set_data(names, None)
        self.region_label.setText("Click a region")
        self._update_buttons()
        workspace, cohorts = self.workspace, [self.candidates[i][1] for i in self.picked]
        if workspace is None:
            return
        picked = list(self.picked)

        def count(_progress: ProgressCallback, cancel: CancelToken) -> VennCounts:
            cancel.raise_if_cancelled()
            return venn_counts(workspace.cursor(), cohorts)

        self.jobs.submit(count, name="Venn counts", key="venn-counts",
                         on_finished=lambda counts: self._counted(picked, names, counts),
                         on_failed=self._failed)

    def _failed(self, failure: JobFailure) -> None:
        if self.closed_for_good:  # a worker answered after the dialog closed
            return
        self.region_label.setText(f"Could not count: {failure.message}")

    def _counted(self, picked: list[int], names: list[str], counts: VennCounts) -> None:
        if self.closed_for_good:  # a worker answered after the dialog closed
            return
        if picked != self.picked:
            return
        self.venn.set_data(names, counts)
        self.computed.emit()

    def select_region(self, mask: int) -> None:
        self.region = mask
        self.venn.selected = mask
        self.venn.update()
        names = [self.candidates[i][0] for i in self.picked]
        count = self.venn.counts.regions.get(mask, 0) if self.venn.counts else 0
        self.region_label.setText(f"{region_words(names, mask)}: {count:,} participants")
        self._update_buttons()

    def region_cohort(self) -> Cohort:
        names = [self.candidates[i][0] for i in self.picked]
        return region_cohort([self.candidates[i][1] for i in self.picked], self.region,
                             region_words(names, self.region))

    def _update_buttons(self) -> None:
        ready = bool(self.region) and 2 <= len(self.picked) <= 3
        self.make_button.setEnabled(ready)
        self.save_button.setEnabled(ready)
