"""An ontology as plain data: terms with labels, synonyms and parents (is_a)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OntologyTerm:
    id: str  # e.g. HP:0001250, MONDO:0005453
    label: str
    synonyms: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()  # direct is_a parents
    obsolete: bool = False


@dataclass
class Ontology:
    name: str  # "hpo" | "mondo"
    version: str
    terms: dict[str, OntologyTerm] = field(default_factory=dict)

    def ancestors(self, term_id: str) -> dict[str, int]:
        """Every ancestor of a term (the term itself at distance 0) with its shortest is_a distance."""
        result = {term_id: 0}
        frontier = [term_id]
        distance = 0
        while frontier:
            distance += 1
            nxt: list[str] = []
            for tid in frontier:
                term = self.terms.get(tid)
                if term is None:
                    continue
                for parent in term.parents:
                    if parent not in result:
                        result[parent] = distance
                        nxt.append(parent)
            frontier = nxt
        return result
