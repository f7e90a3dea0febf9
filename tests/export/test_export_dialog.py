"""The toolbar's Export ▾ in a real window: the dialog's choices become an export job whose file equals the raw
release's rows, with the sidecar beside it and a notice naming both; cohorts come in from files and lists."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

from export_release import RawRelease

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _ui_conftest() -> ModuleType:
    """tests/ui/conftest.py: offscreen setup and the fixture that fails a test on Qt warnings."""
    path = Path(__file__).resolve().parents[1] / "ui" / "conftest.py"
    spec = importlib.util.spec_from_file_location("kf_tests_ui_conftest_for_export", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fail_on_qt_warnings = _ui_conftest().fail_on_qt_warnings  # autouse in this module too

from pytestqt.qtbot import QtBot  # noqa: E402

from kfexplorer.query.model import Cohort, all_of, cohort_to_json, criterion  # noqa: E402
from kfexplorer.ui.main_window import MainWindow  # noqa: E402


def open_window(qtbot: QtBot, cache: Path) -> MainWindow:
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=15000):
        window.show()
    return window


def test_export_dialog_runs_a_job_that_writes_the_file_and_its_sidecar(qtbot: QtBot, raw_release: RawRelease,
                                                                        tmp_path: Path) -> None:
    window = open_window(qtbot, raw_release.cache)
    window.cohort_state.set_cohort(Cohort(all_of(criterion("participant.sex", "in", "female"))))
    assert window.export_action.isEnabled() and window.export_action.shortcut().toString() == "Ctrl+E"
    dialog = window.export_controller.show_dialog()
    assert dialog is not None and "Sex is female" in dialog.cohort_label.text()
    dialog.set_what("participants")
    dialog.set_format("tsv")
    assert dialog.columns_list.isVisibleTo(dialog) and dialog.path_edit.text().endswith("cohort-participants.tsv")
    dialog.set_columns(["sex"])
    out = tmp_path / "girls.tsv"
    dialog.path_edit.setText(str(out))
    assert "girls.tsv.cohort.json" in dialog.sidecar_label.text()
    dialog.grab().save(str(tmp_path / "export_dialog.png"))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: window.export_controller.last_result is not None or bool(window.error_notice.message),
                    timeout=15000)
    assert not window.error_notice.message
    lines = out.read_text(encoding="utf-8").splitlines()
    females = {p for p, sex in raw_release.sex.items() if sex == "female"}
    assert lines[0] == "participant_id\tsex"
    assert {line.split("\t")[0] for line in lines[1:]} == females and len(lines) - 1 == len(females)
    sidecar = json.loads((tmp_path / "girls.tsv.cohort.json").read_text())
    assert sidecar["participant_count"] == len(females) and sidecar["export"]["format"] == "tsv"
    notice = window.statusBar().currentMessage()
    assert str(out) in notice and "girls.tsv.cohort.json" in notice


def test_cohorts_come_in_from_a_file_and_a_pasted_list(qtbot: QtBot, raw_release: RawRelease,
                                                       tmp_path: Path) -> None:
    window = open_window(qtbot, raw_release.cache)
    cohort = Cohort(all_of(criterion("participant.sex", "in", "male")), "boys")
    path = tmp_path / "boys.json"
    path.write_text(json.dumps(cohort_to_json(cohort)))
    assert window.export_controller.import_cohort_file(path)
    assert window.cohort_state.cohort.root == cohort.root
    some = sorted(raw_release.sex)[:3]
    assert window.export_controller.add_participant_list("\n".join(some))
    last = window.cohort_state.top_level()[-1]
    assert getattr(last, "field", None) == "participant.id" and list(getattr(last, "values", ())) == some
    assert not window.export_controller.import_cohort_file(tmp_path / "missing.json")
    assert "missing.json" in window.error_notice.message


def test_the_dialog_starts_from_the_preferences(qtbot: QtBot, tmp_path: Path, monkeypatch: object) -> None:
    from kfexplorer.config import Settings, save_settings
    from kfexplorer.ui.dialogs.export_dialog import ExportDialog

    monkeypatch.setenv("KFEXPLORER_CONFIG_DIR", str(tmp_path / "config"))  # type: ignore[attr-defined]
    save_settings(Settings(export_format="parquet", spreadsheet_safe_csv=False))
    dialog = ExportDialog("everyone", ["participant_id", "sex"], folder=tmp_path)
    qtbot.addWidget(dialog)
    assert dialog.file_format == "parquet"
    save_settings(Settings(export_format="tsv", spreadsheet_safe_csv=True))
    again = ExportDialog("everyone", ["participant_id", "sex"], folder=tmp_path)
    qtbot.addWidget(again)
    assert again.file_format == "tsv" and again.safe_check.isChecked() and again.safe_check.isEnabled()
    again.set_format("csv")
    assert not dialog.safe_check.isChecked()
