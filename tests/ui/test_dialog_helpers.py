"""The pieces dialogs share: reading a picked text file (kfexplorer.ui.dialogs.picked_text_file) and remembering a
close so that late worker answers are dropped (kfexplorer.ui.dialogs.worker_dialog)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from kfexplorer.query.model import Cohort
from kfexplorer.ui.dialogs.cohort_views import AttritionDialog, ImportCohortDialog
from kfexplorer.ui.dialogs.criterion_editor import CriterionEditor


def test_an_unreadable_file_is_named_in_the_dialog_and_changes_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    importer = ImportCohortDialog()
    qtbot.addWidget(importer)
    importer.text_box.setPlainText("kept")
    importer.load_file(tmp_path / "gone.json")
    assert importer.error_label.text() == "Could not read gone.json: No such file or directory"
    assert importer.text_box.toPlainText() == "kept"

    editor = CriterionEditor(None, None, Cohort())
    qtbot.addWidget(editor)
    editor.set_field("consequence.gene_symbol")
    editor.paste_box.setPlainText("TP53")
    editor.load_list_file(tmp_path / "panel.tsv")
    assert editor.error_label.text() == "Could not read panel.tsv: No such file or directory"
    assert editor.paste_box.toPlainText() == "TP53"


def test_a_picked_file_is_read_as_utf8_with_bad_bytes_replaced(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "cohort.json"
    path.write_bytes(b'{"op": "and", "content": []}\xff\n')
    importer = ImportCohortDialog()
    qtbot.addWidget(importer)
    importer.load_file(path)
    assert importer.text_box.toPlainText() == '{"op": "and", "content": []}\ufffd\n'
    assert importer.error_label.text() == ""


def test_worker_dialogs_know_when_they_closed_for_good(qtbot: QtBot) -> None:
    rejected = CriterionEditor(None, None, Cohort())
    closed = CriterionEditor(None, None, Cohort())
    for dialog in (rejected, closed):
        qtbot.addWidget(dialog)
        dialog.show()
    assert not rejected.closed_for_good and not closed.closed_for_good
    rejected.reject()
    assert rejected.closed_for_good and not closed.closed_for_good  # an instance's flag, not the class's
    closed.close()
    assert closed.closed_for_good
    assert not CriterionEditor.closed_for_good and not AttritionDialog.closed_for_good
