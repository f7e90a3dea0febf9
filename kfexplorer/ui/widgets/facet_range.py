"""A numeric facet: a range over a small histogram, a range slider and two spin boxes, "missing" in or out.

Apply emits `range_chosen(field, (low, high, include_missing))` (the panel makes a `between` pill of it); Clear emits
`range_chosen(field, None)`. Allele frequencies slide on a log10 scale; ages in days show their years beside them.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget
from superqt import QDoubleRangeSlider

from kfexplorer.services.facet_queries import Histogram
from kfexplorer.ui.icon_library import themed_icon
from kfexplorer.ui.widgets.facet_frame import FacetFrame
from kfexplorer.ui.widgets.facet_histogram import FacetHistogram

DAYS_PER_YEAR = 365.25


def format_number(value: float, decimals: int) -> str:
    if decimals == 0:
        return f"{value:,.0f}"
    if abs(value) and abs(value) < 0.001:
        return f"{value:.2g}"
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")


class RangeFacet(FacetFrame):
    range_chosen = Signal(str, object)

    def __init__(self, field: str, title: str, *, unit: str = "", decimals: int = 2, log_scale: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(field, title, searchable=False, parent=parent)
        self.unit = unit
        self.decimals = decimals
        self.log_scale = log_scale
        self.histogram_data: Histogram | None = None
        self.chosen: tuple[float, float, bool] | None = None
        self._updating = False
        self.histogram = FacetHistogram()
        self.histogram.format_value = self.format_value
        self.body_layout.addWidget(self.histogram)
        self.slider = QDoubleRangeSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self._slider_moved)
        self.body_layout.addWidget(self.slider)
        spins = QHBoxLayout()
        spins.setContentsMargins(0, 0, 0, 0)
        self.low_spin = self._spin_box()
        self.high_spin = self._spin_box()
        spins.addWidget(self.low_spin, 1)
        spins.addWidget(QLabel("–"))
        spins.addWidget(self.high_spin, 1)
        self.body_layout.addLayout(spins)
        self.years = QLabel("")
        self.years.setEnabled(False)
        self.years.setVisible(unit == "days")
        self.body_layout.addWidget(self.years)
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        self.missing = QCheckBox("missing")
        self.missing.setToolTip("Also match participants whose value is missing")
        actions.addWidget(self.missing)
        actions.addStretch(1)
        self.apply_button = QToolButton()
        self.apply_button.setText("Apply")
        self.apply_button.setToolTip("Filter the cohort to this range")
        self.apply_button.clicked.connect(self.apply)
        self.clear_button = QToolButton()
        self.clear_button.setIcon(themed_icon("cancel"))
        self.clear_button.setAutoRaise(True)
        self.clear_button.setToolTip("Remove this range from the cohort")
        self.clear_button.clicked.connect(self.clear)
        actions.addWidget(self.apply_button)
        actions.addWidget(self.clear_button)
        self.body_layout.addLayout(actions)
        self.low_spin.valueChanged.connect(self._spin_changed)
        self.high_spin.valueChanged.connect(self._spin_changed)
        self._set_enabled(False)

    def format_value(self, value: float) -> str:
        text = format_number(value, self.decimals)
        if self.unit == "days":
            return f"{text} d ({value / DAYS_PER_YEAR:.1f} y)"
        return text

    def _spin_box(self) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setDecimals(self.decimals)
        box.setKeyboardTracking(False)
        box.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.NoButtons)
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        box.setMinimumWidth(52)
        box.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        return box

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.slider, self.low_spin, self.high_spin, self.apply_button):
            widget.setEnabled(enabled)
        self.clear_button.setEnabled(self.chosen is not None)

    # -- scale --------------------------------------------------------------------------------------------------
    def _to_slider(self, value: float) -> float:
        return math.log10(max(value, 1e-12)) if self.log_scale else value

    def _from_slider(self, position: float) -> float:
        value = 10 ** position if self.log_scale else position
        return round(value, self.decimals) if not self.log_scale else float(f"{value:.3g}")

    # -- model → view -------------------------------------------------------------------------------------------
    def show_histogram(self, histogram: Histogram, chosen: tuple[float, float, bool] | None) -> None:
        """Show `histogram`; `chosen` is the cohort's range on this field (None: no criterion)."""
        self.histogram_data = histogram
        self.histogram.set_histogram(histogram)
        self.set_note(f"{histogram.with_value:,}")
        self.note.setToolTip(f"{histogram.with_value:,} participants with a value")
        self.missing.setToolTip(f"Also match participants whose value is missing ({histogram.missing:,})")
        self.show_message("" if histogram.counts else "no values in this cohort")
        self.set_chosen(chosen)

    def bounds(self) -> tuple[float, float] | None:
        hist = self.histogram_data
        if hist is None or hist.lower is None or hist.upper is None:
            return None
        low, high = hist.lower, hist.upper
        if self.chosen is not None:
            low, high = min(low, self.chosen[0]), max(high, self.chosen[1])
        return low, high

    def set_chosen(self, chosen: tuple[float, float, bool] | None) -> None:
        self.chosen = chosen
        bounds = self.bounds()
        self._updating = True
        try:
            if bounds is None:
                self._set_enabled(False)
                return
            self._set_enabled(True)
            low, high = bounds
            precision = 10.0 ** -self.decimals
            spin_low = math.floor(low / precision) * precision if not self.log_scale else 0.0
            spin_high = math.ceil(high / precision) * precision if not self.log_scale else max(high, 1.0)
            for box in (self.low_spin, self.high_spin):
                box.setRange(spin_low, spin_high)
            self.slider.setRange(self._to_slider(low), self._to_slider(high))
            picked = (chosen[0], chosen[1]) if chosen is not None else (low, high)
            self.slider.setValue((self._to_slider(picked[0]), self._to_slider(picked[1])))
            self.low_spin.setValue(picked[0])
            self.high_spin.setValue(picked[1])
            self.missing.setChecked(bool(chosen and chosen[2]))
            self.histogram.set_range(*(picked if chosen is not None else (None, None)))
            self._show_years()
        finally:
            self._updating = False

    def _show_years(self) -> None:
        if self.unit == "days":
            low, high = self.low_spin.value() / DAYS_PER_YEAR, self.high_spin.value() / DAYS_PER_YEAR
            self.years.setText(f"{low:.1f} – {high:.1f} years")

    # -- view → model -------------------------------------------------------------------------------------------
    def _slider_moved(self, value: tuple[float, float]) -> None:
        if self._updating:
            return
        self._updating = True
        try:
            self.low_spin.setValue(self._from_slider(value[0]))
            self.high_spin.setValue(self._from_slider(value[1]))
            self.histogram.set_range(self.low_spin.value(), self.high_spin.value())
            self._show_years()
        finally:
            self._updating = False

    def _spin_changed(self, _value: float) -> None:
        if self._updating:
            return
        low, high = sorted((self.low_spin.value(), self.high_spin.value()))
        self._updating = True
        try:
            self.slider.setValue((self._to_slider(low), self._to_slider(high)))
            self.histogram.set_range(low, high)
            self._show_years()
        finally:
            self._updating = False

    def set_values(self, low: float, high: float, include_missing: bool = False) -> None:
        """Type a range into the spin boxes (as a user would), without applying it."""
        self.low_spin.setValue(low)
        self.high_spin.setValue(high)
        self.missing.setChecked(include_missing)

    def apply(self) -> None:
        low, high = sorted((self.low_spin.value(), self.high_spin.value()))
        self.range_chosen.emit(self.field, (low, high, self.missing.isChecked()))

    def clear(self) -> None:
        self.range_chosen.emit(self.field, None)
