"""The main window: counts, dock, error notice, keys, empty state, sync dialog, run_gui screenshots, previews."""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent
from kfexplorer.ui.main_window import MainWindow
from kfexplorer.ui.widgets.error_notice import install_excepthook


def oracle_counts(cache_dir: Path) -> dict[str, int]:
    con = duckdb.connect(str(cache_dir / "kfexplorer.duckdb"), read_only=True,
                         config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in ("participants", "variants", "imaging_series")}
    finally:
        con.close()


def open_window(qtbot: QtBot, cache_dir: Path | None, **kwargs: object) -> MainWindow:
    window = MainWindow(cache_dir, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=8000):
        window.show()
    return window


def test_toolbar_counts_and_status_match_the_cache(qtbot: QtBot, ui_cache_dir: Path) -> None:
    counts = oracle_counts(ui_cache_dir)
    window = open_window(qtbot, ui_cache_dir)
    text = window.cohort_label.text()
    assert f"{counts['participants']:,} participants" in text
    assert f"{counts['variants']:,} variants" in text
    assert f"{counts['imaging_series']:,} imaging series" in text
    assert window.release_status.text() == "release 2026-11-01"
    assert window.release_button.text() == "2026-11-01" and "KF test release" in window.release_button.toolTip()
    assert window.query_time_label.text().endswith("ms")
    assert window.participants_panel.model.rowCount() == 256
    assert window.tabs.currentWidget() is window.participants_panel


def test_selecting_a_row_fills_the_participant_dock(qtbot: QtBot, ui_cache_dir: Path) -> None:
    window = open_window(qtbot, ui_cache_dir)
    model = window.participants_panel.model
    window.participants_panel.view.selectRow(5)
    record = model.row_record(5)
    dock = window.participant_panel
    assert dock.record == record
    assert dock.field_text("participant_id") == record["participant_id"]
    assert dock.field_text("sex") == record["sex"]
    assert dock.headline.text().startswith(f"{record['participant_id']} · {record['sex'][0]}")
    window.participants_panel.view.clearSelection()
    assert dock.record is None


def test_a_failing_job_shows_the_notice_with_details(qtbot: QtBot, ui_cache_dir: Path) -> None:
    window = open_window(qtbot, ui_cache_dir)

    def failing_export(_progress: ProgressCallback, _cancel: CancelToken) -> None:
        raise RuntimeError("disk full while writing cohort.csv")

    with qtbot.waitSignal(window.error_notice.shown, timeout=5000):
        window.jobs.submit(failing_export, name="Export")
    notice = window.error_notice
    assert notice.isVisible()
    assert notice.message_label.text() == "Export failed — RuntimeError: disk full while writing cohort.csv"
    dialog = notice.open_details()
    assert not dialog.isModal()
    assert "failing_export" in dialog.details_edit.toPlainText()
    dialog.copy_button.click()
    assert "Traceback" in QGuiApplication.clipboard().text()
    dialog.close()
    notice.dismiss_button.click()
    assert not notice.isVisible()


def test_ui_thread_exceptions_reach_the_notice(qtbot: QtBot, ui_cache_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    window = open_window(qtbot, ui_cache_dir)
    chained: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda _t, exc, _tb: chained.append(exc))
    restore = install_excepthook(window.error_notice)
    try:
        raise KeyError("no such column")
    except KeyError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)  # what Python does for an uncaught exception
    finally:
        restore()
    assert window.error_notice.isVisible()
    assert "KeyError" in window.error_notice.message
    assert "no such column" in window.error_notice.details
    assert len(chained) == 1 and isinstance(chained[0], KeyError)  # the previous hook still sees it


def test_keys_switch_tabs_focus_search_and_refresh(qtbot: QtBot, ui_cache_dir: Path) -> None:
    window = open_window(qtbot, ui_cache_dir)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.participants_panel.view.setFocus()
    qtbot.keyClick(window.participants_panel.view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentIndex() == 0
    qtbot.keyClick(window.participants_panel.view, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Compare"
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.quick_search.hasFocus()
    with qtbot.waitSignal(window.loaded, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_F5)


def test_quick_search_jumps_to_a_participant(qtbot: QtBot, ui_cache_dir: Path) -> None:
    window = open_window(qtbot, ui_cache_dir)
    window.quick_search.setText("PT_00321")
    qtbot.keyClick(window.quick_search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.participant_panel.record is not None, timeout=5000)
    assert window.participant_panel.field_text("participant_id") == "PT_00321"


def test_no_cache_shows_the_empty_state(qtbot: QtBot, tmp_path: Path) -> None:
    window = open_window(qtbot, tmp_path / "nothing-here")
    assert window.centre_stack.currentWidget() is window.no_release_state
    assert window.no_release_state.title_label.text() == "No release yet"
    assert window.no_release_state.text_label.text() == "Open the demo release · Sync from S3 · Open a folder"
    assert [b.text() for b in window.no_release_state.buttons] == [
        "Open the demo release", "Sync from S3…", "Open a folder…"]


def fake_sync_keeping(keep: int, seen: dict[str, object]):  # type: ignore[no-untyped-def]
    """A stand-in for sync_release: opens the cache READ-WRITE (so the window must have closed its connection),
    reports progress in bytes, and keeps only the first `keep` participants."""

    def sync(source: str, cache_dir: Path, *, progress: ProgressCallback | None, cancel: CancelToken | None):  # type: ignore[no-untyped-def]
        seen["thread"] = threading.current_thread()
        seen["source"] = source
        assert progress is not None and cancel is not None
        con = duckdb.connect(str(cache_dir / "kfexplorer.duckdb"),
                             config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        try:
            for step in range(1, 5):
                cancel.raise_if_cancelled()
                progress(ProgressEvent("transfer", step * 1_000_000, 4_000_000, f"{step} of 4 objects"))
            con.execute("DELETE FROM participants WHERE participant_id NOT IN "
                        "(SELECT participant_id FROM participants ORDER BY 1 LIMIT ?)", [keep])
        finally:
            con.close()
        return {"planned": {"objects": 4, "bytes": 4_000_000}, "transferred": {"objects": 4, "bytes": 4_000_000},
                "skipped": {"objects": 0, "bytes": 0}, "deleted": {"objects": 0, "bytes": 0}, "quarantined": [],
                "seconds": 0.1}

    return sync


def test_sync_dialog_runs_a_sync_and_the_window_reloads(qtbot: QtBot, fresh_cache_dir: Path) -> None:
    seen: dict[str, object] = {}
    window = open_window(qtbot, fresh_cache_dir, sync_function=fake_sync_keeping(100, seen))
    assert window.participants_panel.model.rowCount() == 256
    dialog = window.show_sync_dialog()
    assert not dialog.isModal()
    dialog.source_edit.setText("file:///releases/kf-demo")
    with qtbot.waitSignal(window.loaded, timeout=8000):
        dialog.sync_button.click()
        assert dialog.cancel_button.isEnabled() and not dialog.sync_button.isEnabled()
    assert seen["source"] == "file:///releases/kf-demo" and seen["thread"] is not threading.main_thread()
    assert dialog.phase_label.text().startswith("Done: 4 objects synced")
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum()
    assert window.participants_panel.model.rowCount() == 100
    assert "100 participants" in window.cohort_label.text()
    assert oracle_counts(fresh_cache_dir)["participants"] == 100
    assert not window.error_notice.isVisible()


def test_cancelling_a_sync_keeps_the_cache_and_reopens_it(qtbot: QtBot, fresh_cache_dir: Path) -> None:
    release_gate = threading.Event()

    def slow_sync(source: str, cache_dir: Path, *, progress: ProgressCallback | None,
                  cancel: CancelToken | None) -> dict[str, object]:
        assert cancel is not None and progress is not None
        progress(ProgressEvent("list", 0, 0))
        release_gate.set()
        while True:
            cancel.raise_if_cancelled()
            threading.Event().wait(0.01)

    window = open_window(qtbot, fresh_cache_dir, sync_function=slow_sync)
    dialog = window.show_sync_dialog("/some/release")
    dialog.start_sync()
    qtbot.waitUntil(release_gate.is_set, timeout=5000)
    qtbot.waitUntil(window.job_status.isVisible, timeout=5000)
    dialog.close()  # the sync keeps running in the status bar
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    with qtbot.waitSignal(window.loaded, timeout=8000):
        qtbot.keyClick(window.participants_panel.view, Qt.Key.Key_Escape)  # Esc cancels the focused job
    assert dialog.phase_label.text().startswith("Cancelled")
    assert window.participants_panel.model.rowCount() == 256
    assert not window.error_notice.isVisible()


def test_run_gui_writes_a_screenshot_of_the_requested_size(qtbot: QtBot, ui_cache_dir: Path, tmp_path: Path) -> None:
    from kfexplorer.ui.app import run_gui

    shot = tmp_path / "window.png"
    assert run_gui(ui_cache_dir, screenshot=shot, size=(1100, 720)) == 0
    image = QImage(str(shot))
    assert shot.stat().st_size > 10_000
    assert (image.width(), image.height()) == (1100, 720)
    empty_shot = tmp_path / "empty.png"
    assert run_gui(tmp_path / "no-cache", screenshot=empty_shot, size=(900, 600)) == 0
    assert QImage(str(empty_shot)).size().toTuple() == (900, 600)


@pytest.mark.parametrize("module_name", [
    "kfexplorer.ui.main_window",
    "kfexplorer.ui.panels.participants_panel",
    "kfexplorer.ui.panels.participant_dock",
    "kfexplorer.ui.panels.facets_panel",
    "kfexplorer.ui.panels.coming_panels",
    "kfexplorer.ui.dialogs.sync_dialog",
])
def test_every_panel_previews_on_its_own(qtbot: QtBot, ui_cache_dir: Path, module_name: str) -> None:
    module = importlib.import_module(module_name)
    widget: QWidget = module.preview(ui_cache_dir, exec_loop=False)
    qtbot.addWidget(widget)
    assert widget.isVisible() and widget.windowTitle().startswith("kfexplorer preview")
    if isinstance(widget, MainWindow):
        qtbot.waitSignal(widget.loaded, timeout=8000, raising=False)
        qtbot.waitUntil(lambda: widget.is_loaded, timeout=8000)
    QApplication.processEvents()
    widget.close()


def write_tiny_release(root: Path, patients: int) -> Path:
    """release.json + one Patient NDJSON file (the raw release is also the oracle)."""
    import json

    (root / "fhir" / "Patient").mkdir(parents=True, exist_ok=True)
    (root / "release.json").write_text(json.dumps({"release_id": "2026-12-01", "schema_version": 1,
                                                   "title": "Tiny"}), encoding="utf-8")
    system = "https://kidsfirstdrc.org/participant_id"
    lines = [json.dumps({"resourceType": "Patient", "id": f"pt-{i:03d}",
                         "identifier": [{"system": system, "value": f"PT_{i:03d}"}],
                         "gender": "female" if i % 2 else "male"}) for i in range(patients)]
    (root / "fhir" / "Patient" / "patients.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_real_sync_from_empty_state_then_resync_while_open(qtbot: QtBot, tmp_path: Path) -> None:
    pytest.importorskip("kfexplorer.sync.engine")
    release = write_tiny_release(tmp_path / "release", 30)
    cache = tmp_path / "cache"
    window = open_window(qtbot, cache)
    assert window.centre_stack.currentWidget() is window.no_release_state
    dialog = window.show_sync_dialog(str(release))
    with qtbot.waitSignal(window.loaded, timeout=20000):
        dialog.sync_button.click()
    assert window.participants_panel.model.rowCount() == 30
    assert "Cohort: 30 participants" in window.cohort_label.text()
    assert window.release_status.text() == "release 2026-12-01"
    # The window now holds the cache open read-only; a second sync must close it, write, and reopen.
    write_tiny_release(release, 35)
    with qtbot.waitSignal(window.loaded, timeout=20000):
        dialog.sync_button.click()
    assert not window.error_notice.isVisible(), window.error_notice.details
    assert window.participants_panel.model.rowCount() == 35
    ids = [window.participants_panel.model.index(r, 0).data() for r in range(35)]
    assert ids == [f"PT_{i:03d}" for i in range(35)]


def test_a_release_library_opens_on_its_current_release(qtbot: QtBot, tmp_path: Path) -> None:
    """A cache root holding releases side by side opens on the current one (oracle: the release's own files)."""
    import json as json_module

    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    release = tmp_path / "release"
    generate_release(release, participants=24, occurrences=2000, seed=5, imaging=False)
    library = tmp_path / "library"
    sync_release(str(release), library, side_by_side=True)
    release_id = json_module.loads((release / "release.json").read_text())["release_id"]
    patients = sum(1 for _ in (release / "fhir" / "Patient").rglob("*.ndjson") for _ in _.read_text().splitlines())
    window = open_window(qtbot, library)
    assert window.release_status.text() == f"release {release_id}"
    assert window.cache_dir is not None and window.cache_dir != library and library in window.cache_dir.parents
    qtbot.waitUntil(lambda: window.participants_panel.model.rowCount() == patients, timeout=8000)


def test_compare_tab_opens_the_venn_of_the_queries(qtbot: QtBot, ui_cache_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from kfexplorer.ui.dialogs.venn_dialog import VennDialog

    monkeypatch.setenv("KFEXPLORER_DATA_DIR", str(tmp_path / "data"))  # the user database of saved cohorts
    window = open_window(qtbot, ui_cache_dir)
    window.tabs.setCurrentWidget(window.compare_panel)
    window.compare_panel.venn_button.click()
    dialogs = [w for w in window.findChildren(VennDialog) if w.isVisible()]
    assert len(dialogs) == 1
    dialogs[0].close()
