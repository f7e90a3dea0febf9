"""A small painted histogram for a numeric facet: one bar per bin, the bins inside the chosen range highlighted."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from kfexplorer.services.facet_queries import Histogram

HISTOGRAM_HEIGHT = 44


class FacetHistogram(QWidget):
    """Bars scaled to the largest bin; bins overlapping [low, high] drawn in the accent colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.histogram: Histogram | None = None
        self.low: float | None = None
        self.high: float | None = None
        self.format_value: Callable[[float], str] = lambda value: f"{value:g}"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(HISTOGRAM_HEIGHT)
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(160, HISTOGRAM_HEIGHT)

    def set_histogram(self, histogram: Histogram | None) -> None:
        self.histogram = histogram
        self.update()

    def set_range(self, low: float | None, high: float | None) -> None:
        self.low, self.high = low, high
        self.update()

    def bin_selected(self, index: int) -> bool:
        hist = self.histogram
        if hist is None or self.low is None or self.high is None:
            return False
        return hist.edges[index + 1] >= self.low and hist.edges[index] <= self.high

    def bin_at(self, x: float) -> int | None:
        hist = self.histogram
        if hist is None or not hist.counts or self.width() <= 2:
            return None
        index = int((x - 1) / ((self.width() - 2) / len(hist.counts)))
        return index if 0 <= index < len(hist.counts) else None

    def bin_text(self, index: int) -> str:
        """"low – high: N participants" for bin `index`."""
        hist = self.histogram
        assert hist is not None
        low, high = self.format_value(hist.edges[index]), self.format_value(hist.edges[index + 1])
        return f"{low} – {high}: {hist.counts[index]:,} participants"

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        index = self.bin_at(event.position().x())
        if index is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), self.bin_text(index), self)
        super().mouseMoveEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        try:
            palette = self.palette()
            rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
            painter.setPen(palette.color(QPalette.ColorRole.Mid))
            painter.drawLine(rect.bottomLeft(), rect.bottomRight())
            hist = self.histogram
            if hist is None or not hist.counts:
                return
            tallest = max(hist.counts) or 1
            width = rect.width() / len(hist.counts)
            painter.setPen(Qt.PenStyle.NoPen)
            accent = palette.color(QPalette.ColorRole.Highlight)
            muted = palette.color(QPalette.ColorRole.Mid)
            for index, count in enumerate(hist.counts):
                if count <= 0:
                    continue
                height = max(2.0, (rect.height() - 2) * count / tallest)
                bar = QRectF(rect.left() + index * width + 0.5, rect.bottom() - height, max(1.0, width - 1.5), height)
                painter.setBrush(accent if self.bin_selected(index) or self.low is None else muted)
                painter.drawRect(bar)
        finally:
            painter.end()
