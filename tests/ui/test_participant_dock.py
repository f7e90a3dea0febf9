"""The Participant dock over a real synced demo release: sections against the raw FHIR JSON, links, notes, timeline."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from kfexplorer.services.participant_detail import ParticipantDetail
from kfexplorer.ui.main_window import MainWindow
from kfexplorer.ui.panels.participant_dock import NONE_RECORDED, TIMELINE_COLOURS, ParticipantDetailPanel


def _load_detail_tests() -> ModuleType:
    """The release builder and FHIR oracle of tests/services/test_participant_detail.py (one build per session)."""
    name = "kf_tests_participant_detail"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / "services" / "test_participant_detail.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


detail_tests = _load_detail_tests()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    release, cache = detail_tests.build_detail_release(tmp_path_factory)
    return release, cache


@pytest.fixture(scope="module")
def oracle(built: tuple[Path, Path]) -> Any:
    return detail_tests.FhirOracle(built[0])


def open_window(qtbot: QtBot, cache: Path) -> MainWindow:
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=10000):
        window.show()
    return window


def show_and_wait(qtbot: QtBot, window: MainWindow, pid: str) -> ParticipantDetail:
    with qtbot.waitSignal(window.participant_panel.detail_loaded, timeout=5000) as blocker:
        window.show_participant(pid)
    detail = blocker.args[0]
    assert isinstance(detail, ParticipantDetail) and detail.participant_id == pid
    return detail


def section_labels(panel: ParticipantDetailPanel, name: str) -> list[QLabel]:
    layout = panel.sections[name].body_layout
    items = [layout.itemAt(i) for i in range(layout.count())]
    return [w for w in (item.widget() for item in items if item is not None) if isinstance(w, QLabel)]


def test_a_trio_proband_shows_every_section(qtbot: QtBot, built: tuple[Path, Path], oracle: Any) -> None:
    window = open_window(qtbot, built[1])
    proband = oracle.trio_probands()[0]
    show_and_wait(qtbot, window, proband)
    panel = window.participant_panel
    assert window.participant_dock.isVisible()
    assert panel.headline.text().startswith(f"{proband} · ")
    assert panel.field_text("participant_id") == proband
    assert " — KF-" in (panel.field_text("study_id") or "")  # the study's code and name beside its id
    assert panel.field_text("is_proband") == "Yes"
    vital = panel.field_text("vital_status") or ""
    assert " d (" in vital and " y)" in vital  # age at last follow-up as days and years

    family_text = "\n".join(panel.section_texts("Family"))
    for relative, relation in oracle.relatives(proband).items():
        assert f"{relative} · {relation}" in family_text
    assert f"{proband} (shown) · proband" in family_text
    assert panel.sections["Family"].toggle.text() == f"Family ({1 + len(oracle.relatives(proband))})"

    expected_dx = oracle.diagnoses(proband)
    assert panel.sections["Diagnoses"].toggle.text() == f"Diagnoses ({len(expected_dx)})"
    dx_text = "\n".join(panel.section_texts("Diagnoses"))
    for condition in expected_dx:
        assert oracle.preferred_label(condition) in dx_text

    phenotypes = oracle.phenotypes(proband)
    texts = panel.section_texts("Phenotypes")
    not_observed_at = texts.index(f"Not observed ({len(phenotypes['not observed'])})")
    assert texts[0] == f"Observed ({len(phenotypes['observed'])})"
    for label in phenotypes["observed"]:
        assert any(t.startswith(f"✓ {label}") for t in texts[1:not_observed_at])
    for label in phenotypes["not observed"]:
        assert any(t.startswith(f"✗ {label} (not observed)") for t in texts[not_observed_at:])

    detail = panel.detail
    assert detail is not None and panel.timeline.events == detail.timeline
    for name, records in (("Specimens", detail.specimens), ("Files", detail.files),
                          ("Imaging", detail.imaging_studies), ("Notes", detail.notes)):
        texts = panel.section_texts(name)
        assert texts == ([NONE_RECORDED] if not records else texts)
        assert len(texts) == max(1, len(records))
        assert panel.sections[name].toggle.text() == f"{name} ({len(records)})"


def test_family_links_open_the_member_and_table_selection_opens_a_row(qtbot: QtBot, built: tuple[Path, Path],
                                                                      oracle: Any) -> None:
    window = open_window(qtbot, built[1])
    proband = oracle.trio_probands()[0]
    show_and_wait(qtbot, window, proband)
    panel = window.participant_panel
    relative, relation = next(iter(oracle.relatives(proband).items()))
    link = next(label for label in section_labels(panel, "Family") if f"participant:{relative}" in label.text())
    with qtbot.waitSignal(panel.detail_loaded, timeout=5000) as blocker:
        link.linkActivated.emit(f"participant:{relative}")
    assert blocker.args[0].participant_id == relative
    assert panel.headline.text().startswith(relative)
    assert f"{relative} (shown) · {relation}" in "\n".join(panel.section_texts("Family"))

    model = window.participants_panel.model
    with qtbot.waitSignal(panel.detail_loaded, timeout=5000) as blocker:
        window.participants_panel.view.selectRow(3)
    assert blocker.args[0].participant_id == model.row_record(3)["participant_id"]


def test_a_newer_selection_wins_and_unknown_ids_say_so(qtbot: QtBot, built: tuple[Path, Path],
                                                       oracle: Any) -> None:
    window = open_window(qtbot, built[1])
    first, second = sorted(oracle.ref_by_pid)[:2]
    panel = window.participant_panel
    window.show_participant(first)
    with qtbot.waitSignal(panel.detail_loaded, timeout=5000) as blocker:
        window.show_participant(second)
    assert blocker.args[0].participant_id == second
    qtbot.wait(100)  # a late answer for `first` must not replace `second`
    assert panel.detail is not None and panel.detail.participant_id == second
    window.show_participant("PT_NOBODY")
    qtbot.waitUntil(lambda: "not in this release" in panel.status_label.text(), timeout=5000)
    assert panel.section_texts("Diagnoses") == [NONE_RECORDED]


def test_a_note_opens_in_a_read_only_viewer(qtbot: QtBot, built: tuple[Path, Path], oracle: Any) -> None:
    release, cache = built
    window = open_window(qtbot, cache)
    pid = next(p for p in sorted(oracle.ref_by_pid) if oracle.notes(p))
    detail = show_and_wait(qtbot, window, pid)
    panel = window.participant_panel
    note_labels = section_labels(panel, "Notes")
    assert len(note_labels) == len(oracle.notes(pid))
    with qtbot.waitSignal(panel.note_shown, timeout=5000):
        note_labels[0].linkActivated.emit("note:0")
    viewer = panel.note_viewer
    assert viewer is not None and viewer.isVisible() and not viewer.isModal()
    assert viewer.text_edit.isReadOnly()
    note = detail.notes[0]
    assert viewer.text_edit.toPlainText() == (release / str(note.path)).read_text(encoding="utf-8")
    viewer.close()


def test_timeline_tooltips_name_the_fact_under_the_mouse(qtbot: QtBot, built: tuple[Path, Path],
                                                         oracle: Any) -> None:
    window = open_window(qtbot, built[1])
    proband = oracle.trio_probands()[0]
    detail = show_and_wait(qtbot, window, proband)
    timeline = window.participant_panel.timeline
    qtbot.waitUntil(timeline.isVisible, timeout=2000)
    assert timeline.width() > 200
    event = next(e for e in detail.timeline if e.observed)
    point = timeline._point(event)
    assert event in timeline.event_at(point)
    assert timeline.event_at(point + QPoint(0, 200).toPointF()) == []
    image = timeline.grab().toImage()
    assert image.size() == timeline.size()
    assert image.pixelColor(point.toPoint()) == QColor(TIMELINE_COLOURS[event.kind])  # the dot is painted there
