"""File ▸ Preferences: the core settings of kfexplorer.config (cache location, download concurrency, theme, default
export format, spreadsheet-safe CSV). The theme previews live and reverts on Cancel; OK writes settings.json."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.config import EXPORT_FORMATS, THEMES, Settings, cache_root, load_settings, save_settings

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
EXPORT_FORMAT_LABELS = {"csv": "CSV (comma-separated)", "tsv": "TSV (tab-separated)", "parquet": "Parquet"}

ThemeApplier = Callable[[str], None]


class PreferencesDialog(QDialog):
    """Edits a copy of the settings; `settings_saved` carries the saved Settings after OK."""

    settings_saved = Signal(object)  # Settings

    def __init__(self, settings: Settings | None = None, *, settings_path: Path | None = None,
                 apply_theme: ThemeApplier | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._settings_path = settings_path
        self._original = settings if settings is not None else load_settings(settings_path)
        self._apply_theme = apply_theme

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(8)
        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(8)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)

        self.cache_root_edit = QLineEdit(self._original.cache_root)
        self.cache_root_edit.setPlaceholderText(str(cache_root()))
        self.cache_root_edit.setToolTip("Parent folder of the workspaces (one cache per release or project); "
                                        "empty = the platform default")
        self.cache_root_edit.setMinimumWidth(360)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._choose_cache_root)
        cache_row = QHBoxLayout()
        cache_row.setSpacing(8)
        cache_row.addWidget(self.cache_root_edit, 1)
        cache_row.addWidget(browse)
        form.addRow("Cache location:", cache_row)

        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setRange(1, 64)
        self.concurrency_spin.setValue(self._original.download_concurrency)
        self.concurrency_spin.setToolTip("Parallel downloads during a sync")
        form.addRow("Download concurrency:", self.concurrency_spin)

        self.theme_combo = QComboBox()
        for theme in THEMES:
            self.theme_combo.addItem(THEME_LABELS.get(theme, theme), theme)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(self._original.theme)))
        self.theme_combo.currentIndexChanged.connect(self._preview_theme)
        form.addRow("Theme:", self.theme_combo)

        self.export_combo = QComboBox()
        for export_format in EXPORT_FORMATS:
            self.export_combo.addItem(EXPORT_FORMAT_LABELS.get(export_format, export_format), export_format)
        self.export_combo.setCurrentIndex(max(0, self.export_combo.findData(self._original.export_format)))
        form.addRow("Default export format:", self.export_combo)

        self.spreadsheet_safe_check = QCheckBox("Neutralise cells a spreadsheet would run as formulas (=, +, -, @)")
        self.spreadsheet_safe_check.setChecked(self._original.spreadsheet_safe_csv)
        form.addRow("Spreadsheet-safe CSV:", self.spreadsheet_safe_check)
        layout.addLayout(form)

        note = QLabel("Window size and dock layout are remembered per workspace.")
        note.setEnabled(False)
        layout.addWidget(note)
        layout.addStretch(1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.buttons = buttons

    def edited_settings(self, base: Settings | None = None) -> Settings:
        """`base` (default: the settings the dialog opened with) with the form's values, validated."""
        return dataclasses.replace(
            base if base is not None else self._original,
            cache_root=self.cache_root_edit.text().strip(),
            download_concurrency=self.concurrency_spin.value(),
            theme=str(self.theme_combo.currentData()),
            export_format=str(self.export_combo.currentData()),
            spreadsheet_safe_csv=self.spreadsheet_safe_check.isChecked(),
        ).validated()

    def _choose_cache_root(self) -> None:
        start = self.cache_root_edit.text().strip() or str(cache_root())
        folder = QFileDialog.getExistingDirectory(self, "Cache location", start)
        if folder:
            self.cache_root_edit.setText(folder)

    def _preview_theme(self) -> None:
        if self._apply_theme is not None:
            self._apply_theme(str(self.theme_combo.currentData()))

    def accept(self) -> None:
        # Fields the form does not show (the recent workspaces) may have changed meanwhile: keep the file's.
        settings = self.edited_settings(load_settings(self._settings_path))
        save_settings(settings, self._settings_path)
        self.settings_saved.emit(settings)
        super().accept()

    def reject(self) -> None:
        if self._apply_theme is not None and str(self.theme_combo.currentData()) != self._original.theme:
            self._apply_theme(self._original.theme)  # undo the live preview
        super().reject()
