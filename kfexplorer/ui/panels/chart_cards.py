"""Chart cards for the Summary and Compare tabs: a title, a pyqtgraph plot, and a context menu that exports the
chart as PNG / SVG and its data as CSV. Colours come from the application palette (the one the facets use), so
light and dark themes follow the system.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from pyqtgraph import exporters
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QContextMenuEvent, QFont, QPainter, QPalette
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QFileDialog, QFrame, QHBoxLayout, QLabel, QMenu, QVBoxLayout, QWidget

# Second and further series colours (after the palette's accent): distinct in light and dark themes.
SERIES_COLORS: tuple[str, ...] = ("#f97316", "#10b981", "#a855f7", "#ef4444", "#eab308")
LABEL_CHARS = 24
EXCLUDED_PREFIX = "not "  # the label of a bar whose value the cohort excludes (a NOT on the chart's field)


def chart_colors() -> dict[str, QColor]:
    """Accent, selected-bar, text, grid and background colours from the running application's palette."""
    palette = QApplication.palette()
    accent = palette.color(QPalette.ColorRole.Highlight)
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return {
        "accent": accent,
        "bar": QColor(accent.red(), accent.green(), accent.blue(), 150),
        "selected": accent.lighter(130) if dark else accent.darker(140),
        "text": palette.color(QPalette.ColorRole.Text),
        "muted": palette.color(QPalette.ColorRole.PlaceholderText),
        "background": palette.color(QPalette.ColorRole.Base),
    }


def series_color(index: int) -> QColor:
    """Colour of series `index` of a chart: the accent first, then SERIES_COLORS."""
    if index == 0:
        return chart_colors()["accent"]
    return QColor(SERIES_COLORS[(index - 1) % len(SERIES_COLORS)])


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ChartCard(QFrame):
    """A framed chart: title row and a PlotWidget; right-click exports. Subclasses fill `csv_header/csv_rows`."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ChartCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        colors = chart_colors()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        header = QHBoxLayout()
        header.setSpacing(8)
        self.title_label = QLabel(title)
        font = QFont(self.title_label.font())
        font.setBold(True)
        self.title_label.setFont(font)
        header.addWidget(self.title_label)
        header.addStretch(1)
        self.note_label = QLabel()
        self.note_label.setEnabled(False)
        header.addWidget(self.note_label)
        layout.addLayout(header)
        self.header_layout = header
        self.plot = pg.PlotWidget(background=colors["background"])
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.setPen(colors["muted"])
            axis.setTextPen(colors["text"])
        self.plot.setMinimumHeight(200)
        layout.addWidget(self.plot, 1)
        self.csv_header: list[str] = []
        self.csv_rows: list[Sequence[Any]] = []

    @property
    def title(self) -> str:
        return self.title_label.text()

    # -- export -------------------------------------------------------------------------------------------------
    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = QMenu(self)
        menu.addAction("Export PNG…", lambda: self._ask_and_export("png"))
        menu.addAction("Export SVG…", lambda: self._ask_and_export("svg"))
        menu.addAction("Export data as CSV…", lambda: self._ask_and_export("csv"))
        menu.exec(event.globalPos())

    def _ask_and_export(self, kind: str) -> None:
        stem = "".join(ch if ch.isalnum() else "_" for ch in self.title.lower()).strip("_") or "chart"
        path, _filter = QFileDialog.getSaveFileName(self, f"Export {self.title}", f"{stem}.{kind}",
                                                    f"{kind.upper()} (*.{kind})")
        if not path:
            return
        {"png": self.export_png, "svg": self.export_svg, "csv": self.export_csv}[kind](Path(path))

    def export_png(self, path: Path) -> None:
        exporter = exporters.ImageExporter(self.plot.getPlotItem())
        exporter.parameters()["width"] = max(600, self.plot.width() * 2)
        exporter.export(str(path))

    def export_svg(self, path: Path) -> None:
        # Qt's own SVG generator: pyqtgraph 0.14's SVGExporter cannot parse the paths Qt 6.12 writes.
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(self.plot.size())
        generator.setViewBox(self.plot.rect())
        generator.setTitle(self.title)
        painter = QPainter(generator)
        try:
            self.plot.render(painter)
        finally:
            painter.end()

    def export_csv(self, path: Path) -> None:
        with Path(path).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.csv_header)
            writer.writerows(self.csv_rows)


class BarChartCard(ChartCard):
    """Bars with labels; `bar_clicked(index, shift)` when a bar's row (or column) is clicked.

    Horizontal: one row per bar, top to bottom, labels on the left axis, counts at the bar ends.
    Vertical: one column per bar at x = `positions` (a histogram). `selected` bars are darker; `excluded` bars
    (values the cohort excludes) are hatched and greyed, their label reads "not …"."""

    bar_clicked = Signal(int, bool)

    def __init__(self, title: str, horizontal: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.horizontal = horizontal
        self.labels: list[str] = []
        self.counts: list[int] = []
        self.positions: list[float] = []
        self.selected: set[int] = set()
        self.excluded: set[int] = set()
        # plot items are made once and updated on each redraw: a cohort edit redraws every card on the UI thread,
        # and making pyqtgraph items anew (a TextItem per bar) took ~0.3 s for the Summary grid
        self._bars: pg.BarGraphItem | None = None
        self._value_texts: list[pg.TextItem] = []  # the counts at the bar ends (horizontal), the first n shown
        plot_item = self.plot.getPlotItem()
        if horizontal:
            plot_item.invertY(True)
            self.plot.getAxis("left").setWidth(172)
            self.plot.getAxis("left").setStyle(hideOverlappingLabels=False, autoExpandTextSpace=False,
                                               textFillLimits=[(0, 1.0)])
            self.plot.hideAxis("bottom")
        else:
            self.plot.getAxis("left").setWidth(40)
        self.plot.scene().sigMouseClicked.connect(self._scene_clicked)
        self.empty_text = pg.TextItem("", color=chart_colors()["muted"], anchor=(0.5, 0.5))

    def set_bars(self, labels: Sequence[str], counts: Sequence[int], selected: set[int] | None = None,
                 positions: Sequence[float] | None = None, note: str = "", excluded: set[int] | None = None) -> None:
        self.labels, self.counts = list(labels), [int(c) for c in counts]
        self.positions = list(positions) if positions is not None else [float(i) for i in range(len(counts))]
        self.selected = set(selected or ())
        self.excluded = set(excluded or ())
        self.note_label.setText(note)
        self.redraw()

    def set_selected(self, selected: set[int], excluded: set[int] | None = None) -> None:
        excluded = self.excluded if excluded is None else set(excluded)
        if selected != self.selected or excluded != self.excluded:
            self.selected, self.excluded = set(selected), excluded
            self.redraw()

    def shown_labels(self) -> list[str]:
        """The bar labels as the chart shows them (excluded ones prefixed "not "), unshortened."""
        return [EXCLUDED_PREFIX + label if i in self.excluded else label for i, label in enumerate(self.labels)]

    def _brushes_and_pens(self, colors: dict[str, QColor]) -> tuple[list[QBrush], list[Any]]:
        brushes: list[QBrush] = []
        pens: list[Any] = []
        for i in range(len(self.counts)):
            if i in self.excluded:
                brushes.append(QBrush(colors["muted"], Qt.BrushStyle.BDiagPattern))
                pens.append(pg.mkPen(colors["muted"], width=1, style=Qt.PenStyle.DashLine))
            elif i in self.selected:
                brushes.append(pg.mkBrush(colors["selected"]))
                pens.append(pg.mkPen(colors["selected"], width=2))
            else:
                brushes.append(pg.mkBrush(colors["bar"]))
                pens.append(pg.mkPen(None))
        return brushes, pens

    def redraw(self) -> None:
        plot_item = self.plot.getPlotItem()
        colors = chart_colors()
        count = len(self.counts)
        if count == 0:
            self._show_value_texts(0, colors["text"])
            if self._bars is not None:
                self._bars.hide()
            self.empty_text.setText("No data for this cohort")
            self.empty_text.setColor(colors["muted"])
            if self.empty_text.scene() is None:
                plot_item.addItem(self.empty_text)
            self.empty_text.setPos(0.5, 0.5)
            self.empty_text.show()
            plot_item.setXRange(0, 1)
            plot_item.setYRange(0, 1)
            return
        self.empty_text.hide()
        brushes, pens = self._brushes_and_pens(colors)
        largest = max(max(self.counts), 1)
        if self.horizontal:
            shape: dict[str, Any] = {"x0": [0] * count, "y": self.positions, "height": 0.72, "width": self.counts}
            self.plot.getAxis("left").setTicks([[(p, short_label(label))
                                                 for p, label in zip(self.positions, self.shown_labels(),
                                                                     strict=True)]])
            self._show_value_texts(count, colors["text"])
            for text, position, value in zip(self._value_texts, self.positions, self.counts, strict=False):
                text.setText(f"{value:,}")
                text.setPos(value + largest * 0.01, position)
            plot_item.setXRange(0, largest * 1.4, padding=0)
            plot_item.setYRange(-0.6, count - 0.4, padding=0)
        else:
            shape = {"x": self.positions, "y0": [0] * count, "width": 0.9, "height": self.counts}
            self.plot.getAxis("left").setTicks(None)
            plot_item.setXRange(min(self.positions) - 0.6, max(self.positions) + 0.6, padding=0)
            plot_item.setYRange(0, largest * 1.08, padding=0)
        if self._bars is None:
            self._bars = pg.BarGraphItem(brushes=brushes, pens=pens, **shape)
            plot_item.addItem(self._bars)
        else:
            self._bars.setOpts(brushes=brushes, pens=pens, **shape)
            self._bars.show()

    def _show_value_texts(self, count: int, color: QColor) -> None:
        """Show the first `count` count labels (made when missing), in `color`; hide the others."""
        plot_item = self.plot.getPlotItem()
        while len(self._value_texts) < count:
            text = pg.TextItem("", color=color, anchor=(0, 0.5))
            plot_item.addItem(text)
            self._value_texts.append(text)
        for index, text in enumerate(self._value_texts):
            if index < count:
                text.setColor(color)
                text.show()
            else:
                text.hide()

    def shown_value_texts(self) -> list[str]:
        """The count labels the chart shows, top to bottom (horizontal charts)."""
        return [text.toPlainText() for text in self._value_texts if text.isVisible()]

    # -- clicks -------------------------------------------------------------------------------------------------
    def bar_at(self, view_point: QPointF) -> int | None:
        """The bar whose row (horizontal) or column (vertical) holds `view_point`, or None."""
        coordinate = view_point.y() if self.horizontal else view_point.x()
        for index, position in enumerate(self.positions):
            if abs(coordinate - position) <= 0.45:
                return index
        return None

    def bar_view_point(self, index: int) -> QPointF:
        """A point inside bar `index`, in view coordinates (for tests and keyboard access)."""
        if self.horizontal:
            return QPointF(max(self.counts[index], 1) / 2, self.positions[index])
        return QPointF(self.positions[index], max(self.counts[index], 1) / 2)

    def _scene_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self.counts:
            return
        view_box = self.plot.getPlotItem().getViewBox()
        if not view_box.sceneBoundingRect().contains(event.scenePos()):
            return
        index = self.bar_at(view_box.mapSceneToView(event.scenePos()))
        if index is not None:
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.bar_clicked.emit(index, shift)
