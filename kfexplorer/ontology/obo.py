"""A reader for the subset of OBO 1.4 that HPO and MONDO releases use: [Term] stanzas with id, name, synonym,
is_a and is_obsolete; the header's data-version (or date) becomes the ontology version."""

from __future__ import annotations

import re
from pathlib import Path

from kfexplorer.ontology.model import Ontology, OntologyTerm

_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s*(EXACT|RELATED|BROAD|NARROW)?')
_ESCAPE = re.compile(r"\\(.)")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text)


def _strip_comment(value: str) -> str:
    """Drop a trailing `! comment` and `{qualifiers}` from a tag value (outside quotes)."""
    value = value.split(" ! ", 1)[0]
    brace = value.find(" {")
    if brace >= 0:
        value = value[:brace]
    return value.strip()


def parse_obo_text(text: str, name: str) -> Ontology:
    """Parse OBO text; terms without an id are skipped, unknown tags and non-Term stanzas ignored."""
    version = ""
    date = ""
    terms: dict[str, OntologyTerm] = {}
    in_header = True
    stanza: str | None = None
    term: dict[str, object] = {}

    def flush() -> None:
        term_id = term.get("id")
        if stanza == "Term" and isinstance(term_id, str) and term_id:
            synonyms = term.get("synonyms", [])
            parents = term.get("parents", [])
            assert isinstance(synonyms, list) and isinstance(parents, list)
            terms[term_id] = OntologyTerm(
                id=term_id,
                label=str(term.get("name", term_id)),
                synonyms=tuple(dict.fromkeys(synonyms)),
                parents=tuple(dict.fromkeys(parents)),
                obsolete=bool(term.get("obsolete", False)),
            )

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line.startswith("[") and line.endswith("]"):
            if not in_header:
                flush()
            in_header = False
            stanza = line[1:-1].strip()
            term = {"synonyms": [], "parents": []}
            continue
        tag, sep, value = line.partition(":")
        if not sep:
            continue
        tag = tag.strip()
        value = value.strip()
        if in_header:
            if tag == "data-version":
                version = value
            elif tag == "date":
                date = value
            continue
        if stanza != "Term":
            continue
        if tag == "id":
            term["id"] = _strip_comment(value)
        elif tag == "name":
            term["name"] = value
        elif tag == "synonym":
            match = _SYNONYM.match(value)
            if match:
                synonyms = term["synonyms"]
                assert isinstance(synonyms, list)
                synonyms.append(_unescape(match.group(1)))
        elif tag == "is_a":
            parent = _strip_comment(value).split()[0] if _strip_comment(value) else ""
            if parent:
                parents = term["parents"]
                assert isinstance(parents, list)
                parents.append(parent)
        elif tag == "is_obsolete":
            term["obsolete"] = value.lower() == "true"
    if not in_header:
        flush()
    return Ontology(name=name, version=version or date, terms=terms)


def parse_obo(path: Path, name: str) -> Ontology:
    """Parse an OBO file (UTF-8) into an Ontology named `name`."""
    return parse_obo_text(Path(path).read_text(encoding="utf-8"), name)
