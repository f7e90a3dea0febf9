"""QA follow-ups in the window: quick search picks what the release has, the toolbar counts a cohort's variants and
imaging series after its participants, a facet keeps (and clears) a NOT pill's values, the criterion editor words
its paste hint per field, the Attrition dialog closes, the shortcuts sheet shows every description whole.
Oracles read the raw release (FHIR NDJSON, Parquet, the packaged MONDO .obo)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from kfexplorer.package_files import resource_path
from kfexplorer.query.model import Cohort, Not, all_of, criterion
from kfexplorer.ui.main_window import MainWindow
from kfexplorer.ui.widgets.dicom_shortcuts_sheet import ShortcutsSheet

KF = "https://kidsfirstdrc.org/"
MEDULLOBLASTOMA = "MONDO:0007959"
STUDY = "participant.study_id"


def _lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def _parquet(folder: Path) -> list[dict[str, Any]]:
    return [row for path in sorted(folder.rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def _identifier(resource: dict[str, Any], suffix: str) -> str | None:
    return next((str(i["value"]) for i in resource.get("identifier", []) if i.get("system") == KF + suffix), None)


class Raw:
    """Studies, MONDO diagnoses, imaging series and carried calls, from the raw release."""

    def __init__(self, release: Path) -> None:
        fhir = release / "fhir"
        studies = {r["id"]: _identifier(r, "study_id") for r in _lines(fhir / "ResearchStudy")}
        ids: dict[str, str] = {}
        for patient in _lines(fhir / "Patient"):
            ids["Patient/" + patient["id"]] = _identifier(patient, "participant_id") or patient["id"]
        self.study = {ids[s["individual"]["reference"]]: str(studies[s["study"]["reference"].split("/", 1)[1]])
                      for s in _lines(fhir / "ResearchSubject")}
        self.mondo: dict[str, set[str]] = {}
        for cond in _lines(fhir / "Condition"):
            status = {c.get("code") for c in cond.get("verificationStatus", {}).get("coding", [])}
            for coding in cond.get("code", {}).get("coding", []):
                if coding.get("system", "").endswith("mondo.owl") and "refuted" not in status:
                    self.mondo.setdefault(ids[cond["subject"]["reference"]], set()).add(coding["code"])
        self.series: dict[str, set[str]] = {}
        for study in _lines(fhir / "ImagingStudy"):
            self.series.setdefault(ids[study["subject"]["reference"]], set()).update(
                s["uid"] for s in study.get("series", []))
        self.carried = [o for o in _parquet(release / "variants" / "occurrences") if o["has_alt"]]
        self.genes_of: dict[str, set[str]] = {}
        for row in _parquet(release / "variants" / "consequences"):
            if row["gene_symbol"]:
                self.genes_of.setdefault(row["locus_id"], set()).add(row["gene_symbol"])

    def mondo_label(self, term: str) -> str:
        current = None
        for line in Path(resource_path("ontologies", "mondo-subset.obo")).read_text().splitlines():
            if line.startswith("id: "):
                current = line[4:].strip()
            elif line.startswith("name: ") and current == term:
                return line[6:].strip()
        raise KeyError(term)


@pytest.fixture(scope="module")
def release_cache_raw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Raw]:
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    root = tmp_path_factory.mktemp("qa2-window")
    release = root / "release"
    generate_release(release, participants=40, occurrences=5_000, seed=7, imaging=True, force=True)
    sync_release(str(release), root / "cache")
    return release, root / "cache", Raw(release)


@pytest.fixture
def window(qtbot: QtBot, release_cache_raw: tuple[Path, Path, Raw]) -> MainWindow:
    main = MainWindow(release_cache_raw[1])
    qtbot.addWidget(main)
    main.resize(1280, 800)
    with qtbot.waitSignal(main.loaded, timeout=15000):
        main.show()
    return main


def test_quick_search_enter_adds_the_diagnosis_participants_have(
        qtbot: QtBot, window: MainWindow, release_cache_raw: tuple[Path, Path, Raw]) -> None:
    raw = release_cache_raw[2]
    have = sum(1 for terms in raw.mondo.values() if MEDULLOBLASTOMA in terms)
    assert have
    label = raw.mondo_label(MEDULLOBLASTOMA)
    box = window.quick_search
    box.setFocus()
    with qtbot.waitSignal(box.hits_ready, timeout=10000):
        qtbot.keyClicks(box, "medulloblastoma")
    qtbot.waitUntil(lambda: box.hits_text == "medulloblastoma", timeout=10000)
    assert box.popup_visible
    words = f"{have} participant{'s' if have != 1 else ''}"
    assert box.hit_list.item(0).text() == f"{label}  ·  MONDO diagnosis  ·  {words}"
    hpo_rows = [box.hit_list.item(r).text() for r in range(box.hit_list.count())
                if "HPO term" in box.hit_list.item(r).text()]
    assert any(text.endswith("·  no participants") for text in hpo_rows)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert window.cohort_state.top_level() == (criterion("diagnosis", "in", f"{label} ({MEDULLOBLASTOMA})"),)
    qtbot.waitUntil(lambda: window.cohort_label.isEnabled()
                    and window.cohort_label.text().startswith(f"Cohort: {have:,} of"), timeout=10000)


def test_toolbar_counts_variants_and_imaging_series_after_the_participants(
        qtbot: QtBot, window: MainWindow, release_cache_raw: tuple[Path, Path, Raw]) -> None:
    raw = release_cache_raw[2]
    extent = window.cohort_extent_label
    assert not extent.isVisible()  # everyone: the release's totals are in the cohort label itself
    genes: dict[str, int] = {}
    for call in raw.carried:
        for gene in raw.genes_of.get(call["locus_id"], ()):
            genes[gene] = genes.get(gene, 0) + 1
    panel = set(sorted(genes, key=lambda g: (-genes[g], g))[:2])
    in_panel = [c for c in raw.carried if raw.genes_of.get(c["locus_id"], set()) & panel]
    members = {c["participant_id"] for c in in_panel}

    window.cohort_state.add(criterion("participant.sex", "in", "male"))  # superseded at once by the next edit
    assert extent.text() == "· … variants · … imaging series" and not extent.isEnabled()
    qtbot.waitUntil(extent.isVisible, timeout=5000)
    window.cohort_state.set_cohort(Cohort(all_of(criterion("consequence.gene_symbol", "in", *sorted(panel)))))
    variants = len({c["locus_id"] for c in in_panel})
    series = len({uid for p in members for uid in raw.series.get(p, ())})
    qtbot.waitUntil(lambda: extent.isEnabled(), timeout=15000)
    assert extent.text() == f"· {variants:,} variants · {series:,} imaging series"
    assert window.cohort_label.text().startswith(f"Cohort: {len(members):,} of")

    window.cohort_state.clear()
    qtbot.waitUntil(lambda: not extent.isVisible(), timeout=5000)


def test_a_not_pill_stays_visible_in_its_facet_and_unchecking_clears_it(
        qtbot: QtBot, window: MainWindow, release_cache_raw: tuple[Path, Path, Raw]) -> None:
    raw = release_cache_raw[2]
    facets = window.facets_panel
    excluded = sorted(set(raw.study.values()))[0]
    window.cohort_state.add(Not(criterion(STUDY, "in", excluded)))
    qtbot.waitUntil(lambda: facets.is_current(STUDY) and not facets.facet(STUDY).is_stale, timeout=15000)
    item = facets.value_item(STUDY, excluded)
    assert item is not None, facets.value_facet(STUDY).visible_labels()
    assert item.text(0) == f"not {excluded}" and item.font(0).italic()
    assert item.checkState(0) == Qt.CheckState.Checked
    assert int(item.text(1).replace(",", "")) == sum(1 for s in raw.study.values() if s == excluded)
    others = [facets.value_item(STUDY, s) for s in sorted(set(raw.study.values())) if s != excluded]
    assert all(o is not None and o.checkState(0) == Qt.CheckState.Unchecked for o in others)

    item.setCheckState(0, Qt.CheckState.Unchecked)  # what a click on its box does
    qtbot.waitUntil(lambda: window.cohort_state.top_level() == (), timeout=5000)
    cleared = facets.value_item(STUDY, excluded)
    assert cleared is not None and cleared.text(0) == excluded and not cleared.font(0).italic()
    assert cleared.checkState(0) == Qt.CheckState.Unchecked


def test_editor_lists_the_values_a_not_pill_excludes(
        qtbot: QtBot, window: MainWindow, release_cache_raw: tuple[Path, Path, Raw]) -> None:
    raw = release_cache_raw[2]
    excluded = sorted(set(raw.study.values()))[0]
    window.cohort_state.add(Not(criterion(STUDY, "in", excluded)))
    editor = window.query_bar.open_editor(None)
    assert editor is not None and editor.spec.name == STUDY
    qtbot.waitUntil(lambda: bool(editor.value_counts), timeout=10000)
    assert editor.value_counts == {s: sum(1 for v in raw.study.values() if v == s) for s in set(raw.study.values())}
    editor.close()


def test_editor_paste_hint_is_worded_per_field(qtbot: QtBot, window: MainWindow) -> None:
    editor = window.query_bar.open_editor(None)
    assert editor is not None
    assert editor.spec.name == STUDY
    assert editor.paste_hint.text() == "Or paste study ids, one a line:"
    assert "TP53" not in editor.paste_box.placeholderText()
    editor.set_field("consequence.gene_symbol")
    assert editor.paste_hint.text() == "Or paste a gene panel (gene symbols), one a line:"
    assert editor.paste_box.placeholderText().startswith("TP53\nBRCA1")
    editor.set_field("participant.id")
    assert editor.text_hint.text().startswith("Paste participant ids:")
    editor.set_field("participant.sex")
    assert editor.paste_hint.text() == "Or paste sex values, one a line:"
    editor.close()


def test_attrition_dialog_closes_with_its_button_and_esc(qtbot: QtBot, window: MainWindow) -> None:
    window.cohort_state.add(criterion("participant.sex", "in", "female"))
    for close_by in ("button", "esc"):
        dialog = window.query_bar.show_attrition()
        assert dialog is not None
        qtbot.waitUntil(dialog.isVisible, timeout=5000)
        dialog.activateWindow()  # as the window manager does with a new window: its keys go to it
        qtbot.waitUntil(dialog.isActiveWindow, timeout=5000)
        button = dialog.buttons.button(QDialogButtonBox.StandardButton.Close)
        assert button is not None and button.isVisible()
        with qtbot.waitSignal(dialog.finished, timeout=5000):
            if close_by == "button":
                qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            else:
                qtbot.keyClick(dialog, Qt.Key.Key_Escape)
        assert dialog.closed_for_good and not dialog.isVisible()


def test_shortcuts_sheet_shows_every_description_whole(qtbot: QtBot) -> None:
    sheet = ShortcutsSheet()
    qtbot.addWidget(sheet)
    sheet.show()
    qtbot.waitExposed(sheet)
    tree = sheet.tree
    metrics = tree.fontMetrics()
    viewport = tree.viewport().rect()
    for i in range(tree.topLevelItemCount()):
        group = tree.topLevelItem(i)
        assert group is not None
        for j in range(group.childCount()):
            child = group.child(j)
            assert child is not None
            for column in (0, 1):
                rect = tree.visualRect(tree.indexFromItem(child, column))
                text = child.text(column)
                # the cell holds the whole text on one line, inside the visible viewport
                assert rect.width() >= metrics.horizontalAdvance(text), (text, rect.width())
                assert rect.right() <= viewport.right() + 1, (text, rect, viewport)
    assert any(does.endswith("soft tissue") for _keys, does in sheet.rows())
