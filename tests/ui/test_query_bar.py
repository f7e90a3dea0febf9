"""The query bar over a synced demo release: pill editor → model → count, NOT, AND/OR and groups, Q1/Q2 combination,
SQON export → import, attrition, saved cohorts, the Venn dialog. Oracles read the raw release (FHIR NDJSON)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kfexplorer.query.model import Cohort, Criterion, Group, Not, QueryError, criterion
from kfexplorer.store.user_db import UserDatabase
from kfexplorer.ui.dialogs.criterion_editor import CriterionEditor
from kfexplorer.ui.dialogs.saved_cohorts import SavedCohortsDialog, save_cohort
from kfexplorer.ui.main_window import MainWindow

KF = "https://kidsfirstdrc.org/"
SEX = "participant.sex"
STUDY = "participant.study_id"


def _lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(folder.rglob("*.ndjson"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _identifier(resource: dict[str, Any], suffix: str) -> str:
    return next(str(i["value"]) for i in resource.get("identifier", []) if i.get("system") == KF + suffix)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """The cache, and sets read from the raw FHIR: 'all', 'sex:<gender>', 'study:<id>', 'hpo:<id>' (observed)."""
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    base = tmp_path_factory.mktemp("query-bar")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), cache)
    fhir = release / "fhir"
    sets: dict[str, set[str]] = {"all": set()}
    patients: dict[str, str] = {}
    for patient in _lines(fhir / "Patient"):
        pid = _identifier(patient, "participant_id")
        patients["Patient/" + patient["id"]] = pid
        sets["all"].add(pid)
        sets.setdefault("sex:" + patient.get("gender", ""), set()).add(pid)
    studies = {r["id"]: _identifier(r, "study_id") for r in _lines(fhir / "ResearchStudy")}
    for subject in _lines(fhir / "ResearchSubject"):
        study = studies[subject["study"]["reference"].split("/", 1)[1]]
        sets.setdefault("study:" + study, set()).add(patients[subject["individual"]["reference"]])
    for cond in _lines(fhir / "Condition"):
        status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
        for coding in cond.get("code", {}).get("coding", []):
            if coding.get("system", "").endswith("hp.owl") and "confirmed" in status:  # observed phenotypes
                sets.setdefault("hpo:" + coding["code"], set()).add(patients[cond["subject"]["reference"]])
    return cache, sets


@pytest.fixture
def window(qtbot: QtBot, synced: tuple[Path, dict[str, set[str]]], tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> MainWindow:
    monkeypatch.setenv("KFEXPLORER_DATA_DIR", str(tmp_path / "user-data"))
    main = MainWindow(synced[0])
    qtbot.addWidget(main)
    main.resize(1280, 800)
    with qtbot.waitSignal(main.loaded, timeout=15000):
        main.show()
    return main


def _study(sets: dict[str, set[str]]) -> str:
    studies = sorted((k for k in sets if k.startswith("study:")), key=lambda k: (len(sets[k]), k))
    return studies[0].split(":", 1)[1]


def wait_count(qtbot: QtBot, window: MainWindow, expected: set[str]) -> None:
    total = window.counts.get("participants", 0)
    if window.cohort_state.top_level():
        text = f"Cohort: {len(expected):,} of {total:,} participants"
    else:
        text = f"Cohort: {len(expected):,} participants"
    qtbot.waitUntil(lambda: window.cohort_label.isEnabled() and window.cohort_label.text().startswith(text),
                    timeout=15000)


def _editor_values(qtbot: QtBot, editor: CriterionEditor) -> dict[str, int]:
    qtbot.waitUntil(lambda: bool(editor.value_counts) and all(n >= 0 for n in editor.value_counts.values()),
                    timeout=15000)
    return dict(editor.value_counts)


def test_edit_a_pill_through_the_editor_and_not(qtbot: QtBot, window: MainWindow,
                                                synced: tuple[Path, dict[str, set[str]]]) -> None:
    _, sets = synced
    bar = window.query_bar
    editor = bar.open_editor(None)
    assert editor is not None
    editor.set_field(SEX)
    assert [editor.operator_combo.itemData(i) for i in range(editor.operator_combo.count())] == [
        "in", "not_in", "some_not_in", "all"]
    counts = _editor_values(qtbot, editor)
    assert counts == {k[4:]: len(v) for k, v in sets.items() if k.startswith("sex:")}  # counts of the raw release
    editor.set_checked(["female"])
    editor.accept()
    assert window.cohort_state.top_level() == (criterion(SEX, "in", "female"),)
    assert bar.pill_texts() == ["Sex is female"]
    wait_count(qtbot, window, sets["sex:female"])

    # click the pill: its editor opens with "female" checked; pick "male" instead
    qtbot.mouseClick(bar.pills[0].label, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.editor is not None and bar.editor.isVisible(), timeout=5000)
    editor = bar.editor
    assert editor is not None and editor.spec.name == SEX
    _editor_values(qtbot, editor)
    assert editor.checked_values() == ["female"]
    editor.set_checked(["male"])
    editor.accept()
    assert window.cohort_state.top_level() == (criterion(SEX, "in", "male"),)
    wait_count(qtbot, window, sets["sex:male"])

    # NOT on the pill: everyone but the boys
    assert bar.pills[0].not_button is not None
    qtbot.mouseClick(bar.pills[0].not_button, Qt.MouseButton.LeftButton)
    assert window.cohort_state.top_level() == (Not(criterion(SEX, "in", "male")),)
    assert bar.pill_texts() == ["not (Sex is male)"] and bar.pills[0].not_button.isChecked()  # type: ignore[union-attr]
    wait_count(qtbot, window, sets["all"] - sets["sex:male"])

    # an incomplete criterion is refused with a worded message, the model is untouched
    editor = bar.open_editor(None)
    assert editor is not None
    editor.set_field("participant.age_at_last_follow_up_days")
    editor.set_operator("between")
    editor.low_edit.setText("10")
    editor.high_edit.setText("ten")
    editor.accept()
    assert "'ten' is not a number" in editor.error_label.text() and editor.isVisible()
    editor.close()
    assert len(window.cohort_state.top_level()) == 1


def test_and_or_group_and_combined_queries(qtbot: QtBot, window: MainWindow,
                                           synced: tuple[Path, dict[str, set[str]]]) -> None:
    _, sets = synced
    bar, state = window.query_bar, window.cohort_state
    study = _study(sets)
    state.add(criterion(SEX, "in", "female"))
    state.add(criterion(STUDY, "in", study))
    wait_count(qtbot, window, sets["sex:female"] & sets["study:" + study])
    assert [b.text() for b in bar.op_buttons] == ["AND"]
    bar.op_buttons[0].click()
    assert state.top_op == "or" and [b.text() for b in bar.op_buttons] == ["OR"]
    wait_count(qtbot, window, sets["sex:female"] | sets["study:" + study])
    # Ctrl+click both pills, group them (AND) → one pill
    for pill in list(bar.pills):
        qtbot.mouseClick(pill.label, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier)
    assert bar.selected_indices() == [0, 1] and bar.group_button.isEnabled()
    bar.group_selected("and")
    assert len(state.top_level()) == 1 and isinstance(state.top_level()[0], Group)
    wait_count(qtbot, window, sets["sex:female"] & sets["study:" + study])

    # Q2 = boys; "1 or 2" typed in the bar becomes Q3 and the cohort
    state.add_query(Cohort(criterion(SEX, "in", "male")))
    assert bar.query_combo.count() == 2 and bar.query_combo.currentIndex() == 1 and bar.combine_edit.isVisible()
    wait_count(qtbot, window, sets["sex:male"])
    bar.combine_edit.setText("1 or 2")
    qtbot.keyClick(bar.combine_edit, Qt.Key.Key_Return)
    assert state.active_index == 2 and bar.query_combo.currentText() == "Q3 · Q1 or Q2"
    wait_count(qtbot, window, (sets["sex:female"] & sets["study:" + study]) | sets["sex:male"])
    assert not bar.combine("1 and 7") and "no query Q7" in bar.message.text()
    # undo (Ctrl+Z) goes back to Q2, redo returns
    bar.undo_shortcut.activated.emit()
    assert state.active_index == 1 and bar.query_combo.count() == 2
    wait_count(qtbot, window, sets["sex:male"])
    bar.redo_shortcut.activated.emit()
    assert state.active_index == 2
    bar.query_combo.activated.emit(0)
    assert state.active_index == 0


def test_sql_sqon_round_trip_import_errors_and_attrition(qtbot: QtBot, window: MainWindow,
                                                         synced: tuple[Path, dict[str, set[str]]]) -> None:
    _, sets = synced
    bar, state = window.query_bar, window.cohort_state
    study = _study(sets)
    state.add(criterion(STUDY, "in", study))
    state.add(Not(criterion(SEX, "in", "female")))
    expected = sets["study:" + study] - sets["sex:female"]
    wait_count(qtbot, window, expected)
    sql = bar.show_sql().text_view.toPlainText()
    assert f"-- ?1 = {study!r}" in sql and "-- ?2 = 'female'" in sql and study not in sql.split("\n\n")[0]
    sqon_text = bar.show_sqon().text_view.toPlainText()
    sqon = json.loads(sqon_text)
    assert sqon["content"][0] == {"op": "in", "content": {"field": "study_id", "value": [study]}}
    importer = bar.show_import()
    importer.text_box.setPlainText(sqon_text)
    assert importer.import_text()
    assert state.active_index == 1 and state.cohort.root == Group("and", (criterion(STUDY, "in", study),
                                                                           Not(criterion(SEX, "in", "female"))))
    wait_count(qtbot, window, expected)
    bad = bar.show_import()
    bad.text_box.setPlainText('{"op": "and", "content": [{"op": "in", "content": '
                              '{"field": "favourite_colour", "value": ["blue"]}}]}')
    assert not bad.import_text() and "favourite_colour" in bad.error_label.text()
    assert len(state.queries) == 2
    attrition = bar.show_attrition()
    assert attrition is not None
    with qtbot.waitSignal(attrition.computed, timeout=15000):
        pass
    assert [s.count for s in attrition.steps] == [len(sets["study:" + study]), len(expected)]
    assert attrition.table.item(0, 1).text() == f"{len(sets['all']):,}  (100 %)"


def test_saved_cohorts_survive_reopen_and_injection_is_inert(
        qtbot: QtBot, window: MainWindow, synced: tuple[Path, dict[str, set[str]]], tmp_path: Path) -> None:
    _, sets = synced
    name = "girls'); DROP TABLE saved_cohorts; -- <b>bold</b>"
    window.cohort_state.add(criterion(SEX, "in", "female"))
    assert window.save_cohort(name) == name
    window.save_cohort("nobody", Cohort(criterion(SEX, "in", "female' OR 1=1 --")))
    path = window.user_database.path
    reopened = UserDatabase(path)
    try:
        saved = {c.name: c for c in reopened.cohorts(window.release.release_id if window.release else None)}
        assert set(saved) == {name, "nobody"}
        assert saved[name].definition["query"]["content"] == [
            {"field": SEX, "op": "in", "values": ["female"]}]
        assert reopened.cohorts("another-release") == []
    finally:
        reopened.close()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM saved_cohorts").fetchone()[0] == 2
    dialog = window.show_saved_cohorts()
    assert dialog.names() == sorted([name, "nobody"])
    dialog.select("nobody")
    dialog.open_selected()
    assert window.cohort_state.cohort.name == "nobody"
    wait_count(qtbot, window, set())  # the injected value matches no one
    dialog.select(name)
    assert dialog.rename_selected("Girls") and dialog.names() == ["Girls", "nobody"]
    assert not dialog.rename_selected("nobody") and "exists already" in dialog.status.text()
    dialog.open_selected()
    wait_count(qtbot, window, sets["sex:female"])
    dialog.select("nobody")
    dialog.delete_selected()
    assert dialog.names() == ["Girls"]
    # a second dialog over a fresh database handle sees the same
    other = UserDatabase(path)
    try:
        assert [c.name for c in SavedCohortsDialog(other, window.release.release_id if window.release else None
                                                   ).database.cohorts()] == ["Girls"]
        save_cohort(other, Cohort(), "everyone", None)
        assert [c.name for c in other.cohorts(None)] == ["everyone"]
    finally:
        other.close()


def test_venn_dialog_regions_make_and_save(qtbot: QtBot, window: MainWindow,
                                           synced: tuple[Path, dict[str, set[str]]]) -> None:
    _, sets = synced
    study = _study(sets)
    state = window.cohort_state
    state.set_cohort(Cohort(criterion(SEX, "in", "female")))
    state.add_query(Cohort(criterion(STUDY, "in", study)))
    window.save_cohort("Study", state.cohort)
    window.user_database.save_cohort("damaged", {"kfexplorer_cohort": 1, "query": {"op": "xor"}},
                                     window.release.release_id if window.release else None)
    dialog = window.show_venn()  # the damaged definition is left out, not a crash
    assert [c[0] for c in dialog.candidates] == ["Q1", "Q2", "Study"]
    with qtbot.waitSignal(dialog.computed, timeout=15000):
        dialog.pick([0, 1])
    girls, members = sets["sex:female"], sets["study:" + study]
    counts = dialog.venn.counts
    assert counts is not None
    assert counts.regions == {1: len(girls - members), 2: len(members - girls), 3: len(girls & members)}
    # click the middle of the overlap → region 3
    centres = dialog.venn.circles()
    middle = (centres[0][0] + centres[1][0]) / 2
    qtbot.mouseClick(dialog.venn, Qt.MouseButton.LeftButton, pos=middle.toPoint())
    assert dialog.region == 3 and dialog.make_button.isEnabled()
    assert dialog.region_label.text() == f"Q1 and Q2: {len(girls & members):,} participants"
    dialog.region = 1
    dialog.make_button.click()
    assert state.active_index == 2
    wait_count(qtbot, window, girls - members)
    window.save_cohort("Girls outside the study", state.cohort)
    with qtbot.waitSignal(dialog.computed, timeout=15000):
        dialog.pick([0, 1, 2])
    assert dialog.venn.counts is not None and dialog.venn.counts.regions[7] == len(girls & members)
    assert [c.name for c in window.user_database.cohorts(window.release.release_id if window.release else None)
            ] == ["Girls outside the study", "Study", "damaged"]


def test_editor_gene_panel_region_and_ontology_search(qtbot: QtBot, window: MainWindow,
                                                      synced: tuple[Path, dict[str, set[str]]],
                                                      tmp_path: Path) -> None:
    _, sets = synced
    bar = window.query_bar
    editor = bar.open_editor(None)
    assert editor is not None
    editor.set_field("consequence.gene_symbol")
    panel = tmp_path / "panel.tsv"
    panel.write_text("# my panel\nTP53\ttumour suppressor\nBRCA1\n\nTP53\n", encoding="utf-8")
    editor.load_list_file(panel)
    assert editor.edited_criterion() == criterion("consequence.gene_symbol", "in", "TP53", "BRCA1")

    editor.set_field("variant.region")
    editor.text_box.setPlainText("chr17:7661779-7687538\n17:100-")
    with pytest.raises(QueryError, match="not a region"):
        editor.edited_criterion()
    editor.text_box.setPlainText("chr17:7661779-7687538, X:5-10")
    assert editor.edited_criterion().values == ("chr17:7661779-7687538", "X:5-10")

    # ontology: search an HPO id a participant of the raw release has, by id; the value keeps its label
    term = sorted(k for k in sets if k.startswith("hpo:"))[0][4:]
    editor.set_field("phenotype.observed")
    editor.term_search.setText(term)
    editor.search_terms()
    qtbot.waitUntil(lambda: editor.term_results.count() > 0, timeout=15000)
    first = editor.term_results.item(0)
    assert first.data(Qt.ItemDataRole.UserRole) == term and first.text().endswith(f"({term})")
    editor.term_results.itemDoubleClicked.emit(first)
    editor.accept()
    node = window.cohort_state.top_level()[0]
    assert isinstance(node, Criterion) and node.values == (first.text(),)
    assert bar.pill_texts() == [f"Phenotype (observed) is {first.text()} or a descendant"]
    qtbot.waitUntil(lambda: window.cohort_label.isEnabled() and "Cohort: " in window.cohort_label.text()
                    and " of " in window.cohort_label.text(), timeout=15000)
    count = int(window.cohort_label.text().split()[1].replace(",", ""))
    # everyone observed with the term itself, plus those with a descendant of it; never everyone
    assert len(sets["hpo:" + term]) <= count < len(sets["all"])
