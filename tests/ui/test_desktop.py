"""The desktop shell: settings round trip and migration, theme switching, the File / View menus, workspaces and
their remembered layout, dropping a cohort file, the start page, the Preferences dialog."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication, QPushButton

from kfexplorer.config import Settings, load_settings, save_settings
from kfexplorer.ui.app import apply_theme, current_theme
from kfexplorer.ui.dialogs.preferences_dialog import PreferencesDialog
from kfexplorer.ui.main_window import MainWindow
from kfexplorer.ui.workspace_menu import workspace_key

# The ui cache fixture (tests/services/cache_fixture.py): participant i is "Female" when i is even.
UI_CACHE_PARTICIPANTS = 700


@pytest.fixture(autouse=True)
def private_config(qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """settings.json and the layout file in a private folder; the app theme restored afterwards."""
    folder = tmp_path / "config"
    monkeypatch.setenv("KFEXPLORER_CONFIG_DIR", str(folder))
    monkeypatch.setenv("KFEXPLORER_DATA_DIR", str(tmp_path / "data"))
    app = qapp
    before = current_theme(app)
    yield folder
    apply_theme(app, before)


def _window(qtbot, cache_dir: Path | None, resize: bool = True) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(cache_dir)
    qtbot.addWidget(window)
    window.desktop.enable_persistence()  # as run_gui does (the config folder is private to the test)
    if resize:  # as run_gui does, unless the workspace's layout was restored
        window.resize(1280, 800)
    window.show()
    qtbot.waitUntil(lambda: window.is_loaded, timeout=20_000)
    return window


def _lightness(role: QPalette.ColorRole) -> float:
    return QApplication.palette().color(role).lightnessF()


def _raw_settings(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "settings.json").read_text(encoding="utf-8"))


# -- settings -------------------------------------------------------------------------------------------------------
def test_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    chosen = Settings(cache_root="/data/kf", current_workspace="chd", recent_caches=["/a", "/b"],
                      download_concurrency=3, theme="dark", export_format="parquet", spreadsheet_safe_csv=False,
                      page_size=512)
    save_settings(chosen, path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["download_concurrency"] == 3 and raw["theme"] == "dark" and raw["export_format"] == "parquet"
    assert raw["spreadsheet_safe_csv"] is False and raw["recent_caches"] == ["/a", "/b"]
    assert load_settings(path) == chosen


def test_settings_migration_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    # An unversioned (version 0) file: "threads" and "dark_mode" were renamed; unknown keys are dropped.
    path.write_text(json.dumps({"threads": 4, "dark_mode": True, "window": "big"}), encoding="utf-8")
    migrated = load_settings(path)
    assert (migrated.version, migrated.download_concurrency, migrated.theme) == (1, 4, "dark")
    path.write_text(json.dumps({"dark_mode": False}), encoding="utf-8")
    assert load_settings(path).theme == "light"
    # Out-of-range values fall back to the defaults; a broken file gives all defaults.
    path.write_text(json.dumps({"version": 1, "theme": "purple", "download_concurrency": 999,
                                "export_format": "xls"}), encoding="utf-8")
    fixed = load_settings(path)
    assert (fixed.theme, fixed.download_concurrency, fixed.export_format) == ("system", 8, "csv")
    path.write_text(json.dumps({"version": 1, "recent_caches": ["/a", "/b", "/a", "", 7]}), encoding="utf-8")
    assert load_settings(path).recent_caches == ["/a", "/b"]
    path.write_text("{not json", encoding="utf-8")
    assert load_settings(path) == Settings()


# -- theme ----------------------------------------------------------------------------------------------------------
def test_theme_switch_changes_palette_and_is_saved(qtbot, private_config: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, None)
    window.desktop.theme_actions["dark"].trigger()
    assert _lightness(QPalette.ColorRole.Window) < 0.25 and _lightness(QPalette.ColorRole.WindowText) > 0.75
    qtbot.waitUntil(lambda: window.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.25)  # live
    assert _raw_settings(private_config)["theme"] == "dark"
    assert window.desktop.theme_actions["dark"].isChecked()
    window.desktop.theme_actions["light"].trigger()
    assert _lightness(QPalette.ColorRole.Window) > 0.85 and _lightness(QPalette.ColorRole.WindowText) < 0.3
    assert _raw_settings(private_config)["theme"] == "light"


def test_preferences_dialog_saves_and_previews_theme(qtbot, private_config: Path) -> None:  # type: ignore[no-untyped-def]
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, "light")
    save_settings(Settings(theme="light", recent_caches=["/kept/workspace"]))
    dialog = PreferencesDialog(apply_theme=lambda theme: apply_theme(app, theme))
    qtbot.addWidget(dialog)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    assert _lightness(QPalette.ColorRole.Window) < 0.25  # live preview
    dialog.reject()
    assert _lightness(QPalette.ColorRole.Window) > 0.85  # Cancel undoes the preview
    assert _raw_settings(private_config)["theme"] == "light"

    dialog = PreferencesDialog(apply_theme=lambda theme: apply_theme(app, theme))
    qtbot.addWidget(dialog)
    dialog.cache_root_edit.setText("/srv/kf-caches")
    dialog.concurrency_spin.setValue(5)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.export_combo.setCurrentIndex(dialog.export_combo.findData("tsv"))
    dialog.spreadsheet_safe_check.setChecked(False)
    with qtbot.waitSignal(dialog.settings_saved):
        dialog.accept()
    raw = _raw_settings(private_config)
    assert raw["cache_root"] == "/srv/kf-caches" and raw["download_concurrency"] == 5 and raw["theme"] == "dark"
    assert raw["export_format"] == "tsv" and raw["spreadsheet_safe_csv"] is False
    assert raw["recent_caches"] == ["/kept/workspace"]  # fields the dialog does not show are kept


# -- menus and workspaces -------------------------------------------------------------------------------------------
def test_menus_present_and_enabled(qtbot, ui_cache_dir: Path, private_config: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, None)
    titles = [action.text().replace("&", "") for action in window.menuBar().actions()]
    assert titles[:3] == ["File", "Edit", "View"] and "Help" in titles
    shell = window.desktop
    file_texts = {action.text(): action for action in shell.file_menu.actions()}
    for text in ("Open workspace…", "Forget this workspace", "Open the demo release", "Sync from a source…",
                 "Preferences…", "Quit"):
        assert text in file_texts, text
    assert shell.open_workspace_action.shortcut().toString() == "Ctrl+O"
    assert shell.quit_action.shortcut().toString() == "Ctrl+Q"
    assert not shell.forget_action.isEnabled()  # no workspace open yet
    view_texts = [action.text() for action in shell.view_menu.actions()]
    assert "Facets" in view_texts and "Participant" in view_texts and "Reset layout" in view_texts
    assert "Refresh\tF5" in view_texts and "Save" in file_texts and "Export" in file_texts  # keys in menus too
    shell.update_actions()
    assert not shell.undo_action.isEnabled() and not shell.redo_action.isEnabled()  # no history yet
    go_to_variants = next(a for a in shell.view_menu.actions() if a.menu() is not None and a.text() == "Go to tab")
    next(a for a in go_to_variants.menu().actions() if a.text() == "Variants\tCtrl+3").trigger()
    assert window.tabs.currentIndex() == 2
    needs_a_release = ("Forget this workspace", "Save", "Export")  # disabled until a release is open
    assert all(action.isEnabled() for action in shell.file_menu.actions() if action.text() not in needs_a_release
               and not action.isSeparator())
    assert not file_texts["Save"].isEnabled() and not file_texts["Export"].isEnabled()

    window.open_cache(ui_cache_dir)
    qtbot.waitUntil(lambda: window.workspace is not None, timeout=20_000)
    shell.update_actions()
    assert shell.forget_action.isEnabled()
    assert file_texts["Save"].isEnabled() and file_texts["Export"].isEnabled()
    assert "2026-11-01" in window.windowTitle()  # the title names the open release
    assert _raw_settings(private_config)["recent_caches"] == [str(ui_cache_dir.resolve())]
    shell.recent_menu.aboutToShow.emit()
    recent = [a for a in shell.recent_menu.actions() if a.text() == str(ui_cache_dir.resolve())]
    assert recent and recent[0].isChecked() and recent[0].isEnabled()

    shell.forget_action.trigger()
    assert _raw_settings(private_config)["recent_caches"] == []
    assert ui_cache_dir.is_dir()  # forgetting never deletes the folder


def test_switch_workspace_from_recent_list(qtbot, ui_cache_dir: Path, fresh_cache_dir: Path,  # type: ignore[no-untyped-def]
                                           private_config: Path) -> None:
    window = _window(qtbot, ui_cache_dir)
    qtbot.waitUntil(lambda: window.workspace is not None, timeout=20_000)
    window.open_cache(fresh_cache_dir)
    qtbot.waitUntil(lambda: window.counts.get("participants") == 300, timeout=20_000)
    assert _raw_settings(private_config)["recent_caches"] == [str(fresh_cache_dir.resolve()),
                                                              str(ui_cache_dir.resolve())]
    window.desktop.recent_menu.aboutToShow.emit()
    back = next(a for a in window.desktop.recent_menu.actions() if a.text() == str(ui_cache_dir.resolve()))
    back.trigger()
    qtbot.waitUntil(lambda: window.counts.get("participants") == UI_CACHE_PARTICIPANTS, timeout=20_000)
    assert window.cache_dir is not None and window.cache_dir.resolve() == ui_cache_dir.resolve()


def test_layout_remembered_per_workspace(qtbot, ui_cache_dir: Path, fresh_cache_dir: Path,  # type: ignore[no-untyped-def]
                                         private_config: Path) -> None:
    window = _window(qtbot, ui_cache_dir)
    qtbot.waitUntil(lambda: window.workspace is not None, timeout=20_000)
    window.facets_dock.hide()
    # The offscreen screen is 800×800 and the loaded window at least ~950 px wide: only the height is free.
    window.resize(1000, 740)
    window.close()
    assert (private_config / "window_layout.ini").is_file()

    again = _window(qtbot, ui_cache_dir, resize=False)
    qtbot.waitUntil(lambda: again.workspace is not None, timeout=20_000)
    assert again.desktop.layout_restored
    assert again.facets_dock.isHidden()
    assert again.height() == 740

    other = _window(qtbot, fresh_cache_dir)  # another workspace keeps its own (default) layout
    qtbot.waitUntil(lambda: other.workspace is not None, timeout=20_000)
    assert not other.desktop.layout_restored and not other.facets_dock.isHidden()
    assert workspace_key(ui_cache_dir) != workspace_key(fresh_cache_dir)


def test_window_without_persistence_writes_nothing(qtbot, ui_cache_dir: Path, private_config: Path) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(ui_cache_dir)  # as other tests and previews make it: no enable_persistence()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.workspace is not None, timeout=20_000)
    window.facets_dock.hide()
    window.close()
    assert not (private_config / "settings.json").exists() and not (private_config / "window_layout.ini").exists()


# -- drag and drop --------------------------------------------------------------------------------------------------
def _drop(window: MainWindow, paths: list[Path]) -> tuple[bool, bool]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(QPointF(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return enter.isAccepted(), drop.isAccepted()


def test_drop_sqon_file_sets_the_cohort(qtbot, ui_cache_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, ui_cache_dir)
    qtbot.waitUntil(lambda: window.workspace is not None, timeout=20_000)
    sqon = tmp_path / "females.sqon.json"
    sqon.write_text(json.dumps({"op": "and", "content": [{"op": "in", "content": {"field": "sex",
                                                                                     "value": ["Female"]}}]}))
    assert _drop(window, [sqon]) == (True, True)
    qtbot.waitUntil(lambda: bool(window.cohort_state.top_level()), timeout=10_000)
    criterion = window.cohort_state.top_level()[0]
    assert getattr(criterion, "field", None) == "participant.sex" and getattr(criterion, "values", None) == ("Female",)
    # Even-numbered participants are female in the fixture: half of 700.
    qtbot.waitUntil(lambda: window.cohort_label.text() == f"Cohort: 350 of {UI_CACHE_PARTICIPANTS:,} participants",
                    timeout=20_000)
    window.desktop.update_actions()  # Edit ▸ Undo takes the dropped cohort back
    assert window.desktop.undo_action.isEnabled()
    window.desktop.undo_action.trigger()
    assert not window.cohort_state.top_level()


def test_drop_rejects_other_files_and_reports_bad_json(qtbot, ui_cache_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, ui_cache_dir)
    qtbot.waitUntil(lambda: window.workspace is not None, timeout=20_000)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    entered, _dropped = _drop(window, [text_file])
    assert not entered
    broken = tmp_path / "broken.json"
    broken.write_text("{ not a cohort")
    _drop(window, [broken])
    qtbot.waitUntil(lambda: window.error_notice.isVisible(), timeout=10_000)
    assert not window.cohort_state.top_level()  # the cohort is unchanged


# -- start page -----------------------------------------------------------------------------------------------------
def test_start_page_offers_three_working_actions(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, tmp_path / "no-cache-here")
    assert window.centre_stack.currentWidget() is window.no_release_state
    buttons = [b for b in window.no_release_state.findChildren(QPushButton) if b.isVisible()]
    texts = [b.text() for b in buttons]
    assert len(buttons) == 3 and texts[0] == "Open the demo release" and texts[1] == "Sync from S3…"
    assert texts[2].startswith("Open a") and all(b.isEnabled() for b in buttons)
    buttons[1].click()
    assert window.sync_dialog is not None and window.sync_dialog.isVisible()
    window.sync_dialog.close()


# -- a dropped DICOM folder -----------------------------------------------------------------------------------------
def _dicom_folder(folder: Path) -> tuple[str, list[str]]:
    """Three instances of CT_small (numbers 3, 1, 2) and one MR_small, plus a non-DICOM file; the CT series UID
    and its SOP UIDs in InstanceNumber order."""
    import pydicom
    from pydicom.data import get_testdata_file

    folder.mkdir()
    ct_path, mr_path = get_testdata_file("CT_small.dcm"), get_testdata_file("MR_small.dcm")
    assert ct_path is not None and mr_path is not None
    by_number: dict[int, str] = {}
    for index, number in enumerate((3, 1, 2)):
        dataset = pydicom.dcmread(ct_path)
        dataset.SOPInstanceUID = f"{dataset.SOPInstanceUID}.{index + 10}"
        dataset.InstanceNumber = number
        dataset.save_as(folder / f"ct_{index}.dcm")
        by_number[number] = str(dataset.SOPInstanceUID)
    pydicom.dcmread(mr_path).save_as(folder / "mr.dcm")
    (folder / "README.txt").write_text("not DICOM")
    series_uid = str(pydicom.dcmread(ct_path, stop_before_pixels=True).SeriesInstanceUID)
    return series_uid, [by_number[n] for n in sorted(by_number)]


def test_read_folder_series_picks_the_largest_series_in_order(tmp_path: Path) -> None:
    from kfexplorer.ui.dicom_folder import NoDicomSeriesError, read_folder_series

    series_uid, sop_uids = _dicom_folder(tmp_path / "dicom")
    entry, instances = read_folder_series(tmp_path / "dicom")
    assert entry.series_instance_uid == series_uid and entry.instances == 3
    assert [i.sop_instance_uid for i in instances] == sop_uids
    assert [i.instance_number for i in instances] == [1, 2, 3]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(NoDicomSeriesError):
        read_folder_series(tmp_path / "empty")


def test_drop_dicom_folder_opens_the_viewer(qtbot, ui_cache_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, ui_cache_dir)
    qtbot.waitUntil(lambda: window.workspace is not None, timeout=20_000)
    series_uid, _sop_uids = _dicom_folder(tmp_path / "dicom")
    assert _drop(window, [tmp_path / "dicom"]) == (True, True)
    viewer = window.imaging_panel.viewer
    qtbot.waitUntil(lambda: viewer.entry is not None, timeout=20_000)
    assert viewer.entry.series_instance_uid == series_uid and viewer.slice_count() == 3
    assert window.tabs.currentWidget() is window.imaging_panel
    assert window.cache_dir is not None and window.cache_dir.resolve() == ui_cache_dir.resolve()  # still open
