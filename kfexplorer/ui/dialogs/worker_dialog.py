"""A dialog whose workers may answer after it has closed."""

from __future__ import annotations

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog


class WorkerDialog(QDialog):
    """A QDialog that remembers it closed for good (accepted, rejected or closed): a worker's late answer checks
    `closed_for_good` and is dropped instead of touching the dialog's widgets."""

    closed_for_good = False

    def done(self, result: int) -> None:
        self.closed_for_good = True
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed_for_good = True
        super().closeEvent(event)
