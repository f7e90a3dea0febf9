"""Store the ontologies in the cache: `ontology_terms` and the is_a closure `ontology_ancestors`.

An ontology facet matches a term and all its descendants, so the closure is computed once here (a recursive CTE
over the direct parents, shortest distance kept; distance 0 = the term itself) rather than at query time.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from kfexplorer.ontology.hpo import load_hpo
from kfexplorer.ontology.model import Ontology
from kfexplorer.ontology.mondo import load_mondo
from kfexplorer.ontology.obo import parse_obo
from kfexplorer.store.clinical_schema import create_clinical_schema

_TERMS_VIEW = "_ontology_terms_staging"
_PARENTS_VIEW = "_ontology_parents_staging"

MAX_DEPTH = 64  # deeper than any real is_a chain; stops a cycle in a malformed ontology file

_CLOSURE_SQL = f"""
    WITH RECURSIVE closure(id, ancestor_id, distance) AS (
        SELECT id, id, 0 FROM {_TERMS_VIEW}
        UNION
        SELECT c.id, p.parent_id, c.distance + 1
        FROM closure c JOIN {_PARENTS_VIEW} p ON p.id = c.ancestor_id
        WHERE c.distance < {MAX_DEPTH}
    )
    SELECT id, ancestor_id, CAST(min(distance) AS INTEGER) FROM closure GROUP BY id, ancestor_id
"""


def load_ontologies(con: duckdb.DuckDBPyConnection, release_ontologies: dict[str, Path]) -> None:
    """Replace the ontology tables with HPO and MONDO: the release's hp.obo / mondo.obo when given
    (`release_ontologies["hpo"]`, `["mondo"]`), else the installed HPO and the packaged MONDO subset."""
    hpo_path = release_ontologies.get("hpo")
    hpo = parse_obo(hpo_path, "hpo") if hpo_path is not None else load_hpo()
    mondo = load_mondo(release_ontologies.get("mondo"))
    store_ontologies(con, [hpo, mondo])


def store_ontologies(con: duckdb.DuckDBPyConnection, ontologies: list[Ontology]) -> None:
    """Replace ontology_terms and ontology_ancestors with these ontologies (runs in the caller's transaction)."""
    create_clinical_schema(con)
    con.execute("DELETE FROM ontology_terms")
    con.execute("DELETE FROM ontology_ancestors")
    for ontology in ontologies:
        _store_one(con, ontology)


def _store_one(con: duckdb.DuckDBPyConnection, ontology: Ontology) -> None:
    terms = list(ontology.terms.values())
    terms_table = pa.table({
        "id": pa.array([t.id for t in terms], pa.string()),
        "label": pa.array([t.label for t in terms], pa.string()),
        "synonyms": pa.array([list(t.synonyms) for t in terms], pa.list_(pa.string())),
        "obsolete": pa.array([t.obsolete for t in terms], pa.bool_()),
    })
    # Obsolete terms keep their label (old data may use them) but take no part in the hierarchy.
    edges = [(t.id, parent) for t in terms if not t.obsolete for parent in t.parents]
    parents_table = pa.table({
        "id": pa.array([e[0] for e in edges], pa.string()),
        "parent_id": pa.array([e[1] for e in edges], pa.string()),
    })
    con.register(_TERMS_VIEW, terms_table)
    con.register(_PARENTS_VIEW, parents_table)
    try:
        con.execute(
            f"INSERT INTO ontology_terms (id, label, synonyms, ontology, version, obsolete) "
            f"SELECT id, label, synonyms, ?, ?, obsolete FROM {_TERMS_VIEW}",
            [ontology.name, ontology.version],
        )
        con.execute(f"INSERT INTO ontology_ancestors (id, ancestor_id, distance) {_CLOSURE_SQL}")
    finally:
        con.unregister(_TERMS_VIEW)
        con.unregister(_PARENTS_VIEW)
