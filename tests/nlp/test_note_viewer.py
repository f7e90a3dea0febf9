"""The note viewer highlights the evidence spans and lists each with its context (real widgets, offscreen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pytestqt.qtbot import QtBot  # noqa: E402

from kfexplorer.nlp.pipeline import PhenotypeExtractor  # noqa: E402
from kfexplorer.services.participant_detail import NoteEvidence, NoteRecord  # noqa: E402
from kfexplorer.ui.panels.participant_dock import (  # noqa: E402
    NOT_OBSERVED_SPAN_COLOUR,
    OBSERVED_SPAN_COLOUR,
    NoteViewer,
    evidence_summary_html,
)

TEXT = "Follow-up visit.\nShe had two seizures this week. No vomiting. Mother has migraine.\n"


def _record(extractor: PhenotypeExtractor) -> NoteRecord:
    evidence = tuple(NoteEvidence(m.hpo_id, m.label, m.start, m.end, m.text, m.asserted,
                                  tuple(f for f in ("negated", "family") if getattr(m, f)))
                     for m in extractor.extract(TEXT))
    return NoteRecord("nt-1", "Progress note", "notes/PT_1/nt-1.txt", "text/plain", evidence)


def test_spans_are_highlighted_and_listed_with_context(qtbot: QtBot, extractor: PhenotypeExtractor) -> None:
    viewer = NoteViewer()
    qtbot.addWidget(viewer)
    viewer.show_note("PT_1", _record(extractor), TEXT)
    selections = viewer.text_edit.extraSelections()
    spans = {(s.cursor.selectionStart(), s.cursor.selectionEnd()): s.format.background().color().name()
             for s in selections}
    seizure = (TEXT.index("seizures"), TEXT.index("seizures") + len("seizures"))
    vomiting = (TEXT.index("vomiting"), TEXT.index("vomiting") + len("vomiting"))
    migraine = (TEXT.index("migraine"), TEXT.index("migraine") + len("migraine"))
    assert spans == {seizure: OBSERVED_SPAN_COLOUR, vomiting: NOT_OBSERVED_SPAN_COLOUR,
                     migraine: NOT_OBSERVED_SPAN_COLOUR}
    listing = viewer.evidence_label.text()
    assert "<b>Seizure</b>" in listing and "observed" in listing
    assert "not observed (negated)" in listing and "not observed (family)" in listing
    assert "She had two <b>seizures</b> this week." in listing


def test_notes_section_summary_names_observed_and_other_terms(extractor: PhenotypeExtractor) -> None:
    summary = evidence_summary_html(_record(extractor).evidence)
    assert "observed: Seizure" in summary and "not observed: Migraine, Vomiting" in summary
    assert evidence_summary_html(()) == ""
