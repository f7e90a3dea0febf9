"""Phenotypes derived from the cache's clinical notes, stored beside the curated ones with their evidence.

`derive_note_phenotypes` reads every row of `notes` (the note files of the release: DocumentReference text
attachments under notes/<participant>/<file>), runs the NLP pipeline, and rewrites:
- `phenotype_evidence`: one row per HPO mention (document, span, snippet, matched text, context flags, method);
- `phenotypes` rows with source 'nlp', derived true, observed true: one per participant and term a note asserts.
A mention that restates one of the participant's curated diagnoses (the diagnosis text, label or source text, written
in the note where the mention is, e.g. "follow-up of medulloblastoma") is kept as evidence with
`restates_diagnosis` but is no derived phenotype: the diagnosis is already a curated fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from kfexplorer.nlp.lexicon import normalise_token
from kfexplorer.nlp.pipeline import METHOD, Mention, PhenotypeExtractor, default_extractor
from kfexplorer.store.cache import UnsafePathError, cached_file_path

NLP_SOURCE = "nlp"
SNIPPET_CONTEXT = 80  # characters of context on each side of a mention
NOTE_READ_LIMIT = 2_000_000  # characters of one note that are analysed

EVIDENCE_COLUMNS = """
    participant_id VARCHAR,
    document_id VARCHAR,
    note_path VARCHAR,
    hpo_id VARCHAR,
    label VARCHAR,
    start_char INTEGER,
    end_char INTEGER,
    matched_text VARCHAR,
    snippet VARCHAR,
    snippet_offset INTEGER,
    negated BOOLEAN,
    uncertain BOOLEAN,
    hypothetical BOOLEAN,
    family BOOLEAN,
    historical BOOLEAN,
    asserted BOOLEAN,
    restates_diagnosis BOOLEAN,
    method VARCHAR
"""
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class DerivationReport:
    notes: int
    notes_missing: int
    mentions: int
    phenotypes: int


def create_evidence_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS phenotype_evidence ({EVIDENCE_COLUMNS})")


def _words(text: str) -> list[str]:
    return [normalise_token(w.lower()) for w in _WORD.findall(text)]


def restated_ranges(text: str, diagnosis_texts: list[str]) -> list[tuple[int, int]]:
    """Character ranges of `text` where one of `diagnosis_texts` is written (word by word, normalised)."""
    words = [(m.start(), m.end(), normalise_token(m.group().lower())) for m in _WORD.finditer(text)]
    ranges: list[tuple[int, int]] = []
    for diagnosis in diagnosis_texts:
        target = _words(diagnosis)
        if not target:
            continue
        n = len(target)
        for i in range(len(words) - n + 1):
            if [w[2] for w in words[i:i + n]] == target:
                ranges.append((words[i][0], words[i + n - 1][1]))
    return ranges


def note_findings(extractor: PhenotypeExtractor, text: str,
                  diagnosis_texts: list[str]) -> list[tuple[Mention, bool]]:
    """Every mention of a note with whether it restates one of the participant's curated diagnoses."""
    ranges = restated_ranges(text, diagnosis_texts)
    return [(m, any(start < m.end and m.start < end for start, end in ranges)) for m in extractor.extract(text)]


def derived_terms(findings: list[tuple[Mention, bool]]) -> set[str]:
    """The HPO ids that become derived observed phenotypes: asserted and not restating a diagnosis."""
    return {m.hpo_id for m, restates in findings if m.asserted and not restates}


def read_note(cache_dir: Path, note_path: str, staged: Mapping[str, Path]) -> str | None:
    """The text of a note: its freshly downloaded copy when this sync staged one, else the cached file; None when
    neither exists or the path is unsafe."""
    try:
        path = staged.get(note_path) or cached_file_path(cache_dir, note_path)
    except UnsafePathError:
        return None
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read(NOTE_READ_LIMIT)


def derive_note_phenotypes(con: duckdb.DuckDBPyConnection, read_text: Callable[[str], str | None],
                           extractor: PhenotypeExtractor | None = None) -> DerivationReport:
    """Rewrite phenotype_evidence and the 'nlp' phenotypes from the notes table (runs inside the caller's
    transaction). `read_text(note_path)` gives a note's text or None."""
    create_evidence_table(con)
    con.execute("DELETE FROM phenotype_evidence")
    con.execute("DELETE FROM phenotypes WHERE source = ?", [NLP_SOURCE])
    notes = con.execute("SELECT document_id, participant_id, path FROM notes WHERE path IS NOT NULL "
                        "AND participant_id IS NOT NULL ORDER BY document_id").fetchall()
    if not notes:
        return DerivationReport(0, 0, 0, 0)
    extractor = extractor or default_extractor()  # built only when there are notes (a few seconds, once)
    diagnoses: dict[str, list[str]] = {}
    for pid, label, source_text in con.execute(
            "SELECT participant_id, label, source_text FROM diagnoses WHERE NOT coalesce(derived, false)").fetchall():
        diagnoses.setdefault(pid, []).extend(t for t in (label, source_text) if t)
    evidence: list[dict[str, object]] = []
    derived: dict[tuple[str, str], str] = {}
    missing = 0
    for document_id, participant_id, note_path in notes:
        text = read_text(note_path)
        if text is None:
            missing += 1
            continue
        for mention, restates in note_findings(extractor, text, diagnoses.get(participant_id, [])):
            evidence.append(_evidence_row(participant_id, document_id, note_path, text, mention, restates))
            if mention.asserted and not restates:  # as derived_terms
                derived.setdefault((participant_id, mention.hpo_id), mention.label)
    if evidence:
        con.register("_nlp_evidence", pa.Table.from_pylist(evidence))
        try:
            con.execute("INSERT INTO phenotype_evidence BY NAME SELECT * FROM _nlp_evidence")
        finally:
            con.unregister("_nlp_evidence")
    if derived:
        rows = [[pid, hpo_id, label, True, None, NLP_SOURCE, True, None]
                for (pid, hpo_id), label in sorted(derived.items())]
        con.executemany("INSERT INTO phenotypes (participant_id, hpo_id, label, observed, age_at_event_days, source, "
                        "derived, condition_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return DerivationReport(len(notes) - missing, missing, len(evidence), len(derived))


def _evidence_row(participant_id: str, document_id: str, note_path: str, text: str, mention: Mention,
                  restates: bool) -> dict[str, object]:
    lo = max(0, mention.start - SNIPPET_CONTEXT)
    hi = min(len(text), mention.end + SNIPPET_CONTEXT)
    return {
        "participant_id": participant_id, "document_id": document_id, "note_path": note_path,
        "hpo_id": mention.hpo_id, "label": mention.label, "start_char": mention.start, "end_char": mention.end,
        "matched_text": mention.text, "snippet": text[lo:hi], "snippet_offset": lo,
        "negated": mention.negated, "uncertain": mention.uncertain, "hypothetical": mention.hypothetical,
        "family": mention.family, "historical": mention.historical, "asserted": mention.asserted,
        "restates_diagnosis": restates, "method": METHOD,
    }
