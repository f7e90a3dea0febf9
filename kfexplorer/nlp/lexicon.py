"""The phrases that name HPO phenotypes in clinical text: HPO labels plus the project's synonym list.

Sources: every non-obsolete term under "Phenotypic abnormality" (HP:0000118) of the HPO packaged with hpo3 (labels
only: hpo3 ships no synonyms and no hp.obo), and resources/nlp/hpo_synonyms.tsv (common clinical synonyms, spelling
variants and pediatric abbreviations). Limits: a parenthetical part of a label is dropped ("Febrile seizure (within
the age range ...)" -> "Febrile seizure"); case-insensitive phrases need at least 4 characters (shorter ones only as
case-sensitive abbreviations from the synonym file); labels too generic to mean a finding alone are skipped
(GENERIC_LABELS). Matching compares normalised tokens (`normalise_token`): lower case, accents stripped, British
spellings and simple plurals folded, so "Seizures", "tumours" and "Anaemia" meet "seizure", "tumor", "anemia".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from kfexplorer.ontology.hpo import load_hpo
from kfexplorer.ontology.model import Ontology
from kfexplorer.package_files import resource_path

PHENOTYPIC_ABNORMALITY = "HP:0000118"
MIN_PHRASE_CHARS = 4
GENERIC_LABELS = frozenset({"pain", "abnormality", "neoplasm", "mass", "weakness", "malformation", "tumor"})

_PARENTHETICAL = re.compile(r"\s*\([^)]*\)")
# British -> American spelling folds, applied in order to a lower-cased token of at least 5 characters
_SPELLING_FOLDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"aemia"), "emia"),
    (re.compile(r"^oe"), "e"),
    (re.compile(r"oea"), "ea"),
    (re.compile(r"oe(?=s)"), "e"),  # oesophagus already folded; foetal
    (re.compile(r"haem"), "hem"),
    (re.compile(r"paed"), "ped"),
    (re.compile(r"(?<=[a-z]{3})our$"), "or"),
    (re.compile(r"(?<=[a-z]{4})is(ed|ing|ation)$"), r"iz\1"),
)


@dataclass(frozen=True)
class Phrase:
    text: str
    hpo_ids: tuple[str, ...]
    case_sensitive: bool


def normalise_token(lower: str) -> str:
    """The matching form of one lower-cased token (see the module docstring)."""
    text = unicodedata.normalize("NFKD", lower)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    if len(text) >= 5 and text.isalpha():
        for pattern, replacement in _SPELLING_FOLDS:
            text = pattern.sub(replacement, text)
    if len(text) > 4 and text.isalpha():
        if text.endswith("ies"):
            text = text[:-3] + "y"
        elif text.endswith("s") and not text.endswith(("ss", "us", "is")):
            text = text[:-1]
    return text


def clean_label(label: str) -> str:
    return _PARENTHETICAL.sub("", label).strip()


def _phenotype_ids(hpo: Ontology) -> list[str]:
    children: dict[str, list[str]] = {}
    for term in hpo.terms.values():
        for parent in term.parents:
            children.setdefault(parent, []).append(term.id)
    found: list[str] = []
    stack = [PHENOTYPIC_ABNORMALITY]
    seen = {PHENOTYPIC_ABNORMALITY}
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.append(child)
    return [t for t in found if not hpo.terms[t].obsolete]


def read_synonym_file(text: str) -> list[Phrase]:
    """Parse hpo_synonyms.tsv text (format in the file's header); malformed lines raise ValueError."""
    phrases: list[Phrase] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[2] not in ("ci", "cs") or not parts[1].strip():
            raise ValueError(f"hpo_synonyms.tsv line {number}: expected 'HP ids<TAB>phrase<TAB>ci|cs': {line!r}")
        ids = tuple(i.strip() for i in parts[0].split(","))
        if not all(re.fullmatch(r"HP:\d{7}", i) for i in ids):
            raise ValueError(f"hpo_synonyms.tsv line {number}: bad HPO id in {parts[0]!r}")
        phrases.append(Phrase(parts[1].strip(), ids, parts[2] == "cs"))
    return phrases


@functools.cache
def phenotype_phrases() -> tuple[Phrase, ...]:
    """Every phrase of the lexicon (labels first, then synonyms), each naming one or more HPO terms."""
    hpo = load_hpo()
    phrases: list[Phrase] = []
    for term_id in _phenotype_ids(hpo):
        label = clean_label(hpo.terms[term_id].label)
        if len(label) < MIN_PHRASE_CHARS or label.lower() in GENERIC_LABELS:
            continue
        phrases.append(Phrase(label, (term_id,), False))
        phrases.extend(Phrase(s, (term_id,), False) for s in hpo.terms[term_id].synonyms
                       if len(s) >= MIN_PHRASE_CHARS and s.lower() not in GENERIC_LABELS)
    for phrase in read_synonym_file(resource_path("nlp", "hpo_synonyms.tsv").read_text(encoding="utf-8")):
        if all(i in hpo.terms and not hpo.terms[i].obsolete for i in phrase.hpo_ids) and (
                phrase.case_sensitive or len(phrase.text) >= 2):
            phrases.append(phrase)
    return tuple(phrases)


def hpo_label(term_id: str) -> str:
    term = load_hpo().terms.get(term_id)
    return term.label if term else term_id
