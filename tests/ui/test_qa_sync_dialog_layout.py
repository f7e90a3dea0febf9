"""QA: the Sync dialog at the size it opens with. Its Include row (Variants, FHIR (clinical), Imaging (DICOM),
Notes) sat on one line beside the chromosome grid and the labels were cut ("FHIR (clinica", "Imaging (DIC")."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox
from pytestqt.qtbot import QtBot

from kfexplorer.ui.dialogs.sync_dialog import INCLUDE_PARTS, SyncDialog
from kfexplorer.ui.job_signals import QtJobRunner


def test_every_checkbox_shows_its_whole_label(qtbot: QtBot, tmp_path: Path) -> None:
    jobs = QtJobRunner()
    dialog = SyncDialog(jobs, tmp_path / "cache")
    jobs.setParent(dialog)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)

    assert [box.text() for box in dialog.include_boxes.values()] == [label for _name, label in INCLUDE_PARTS]
    for box in dialog.findChildren(QCheckBox):
        if box.isVisible():  # Qt's own measure of the box, the gap and the whole text
            assert box.width() >= box.sizeHint().width(), box.text()
    jobs.shutdown()
