"""Each ConText flag on sentences written for it; the expected flags come from reading the sentence."""

from __future__ import annotations

import pytest

from kfexplorer.nlp.context import read_rules
from kfexplorer.nlp.pipeline import Mention, PhenotypeExtractor

SEIZURE = "HP:0001250"
FLAGS = ("negated", "uncertain", "hypothetical", "family", "historical")


def only(extractor: PhenotypeExtractor, text: str, hpo_id: str) -> Mention:
    found = [m for m in extractor.extract(text) if m.hpo_id == hpo_id]
    assert len(found) == 1, (text, found)
    return found[0]


@pytest.mark.parametrize(("text", "flags"), [
    ("She has had two seizures this week.", set()),
    ("No seizures since the last visit.", {"negated"}),
    ("He denies any seizures.", {"negated"}),
    ("Negative for seizures.", {"negated"}),
    ("There is no evidence of seizures on exam.", {"negated"}),
    ("Seizures: none.", {"negated"}),
    ("Possible seizure vs reflex anoxic episode.", {"uncertain"}),
    ("Rule out seizures; EEG booked.", {"uncertain"}),
    ("Cannot exclude seizures.", {"uncertain"}),
    ("Return to the ED if seizures develop.", {"hypothetical"}),
    ("Watch for seizures and report promptly.", {"hypothetical"}),
    ("Mother has seizures.", {"family"}),
    ("Older brother had febrile seizures as a toddler." , {"family"}),
    ("Family history notable for seizures in a paternal cousin.", {"family"}),
    ("History of seizures, now resolved.", {"historical"}),
    ("He had seizures in infancy.", {"historical"}),
])
def test_each_flag_on_a_targeted_sentence(extractor: PhenotypeExtractor, text: str, flags: set[str]) -> None:
    mentions = [m for m in extractor.extract(text) if m.hpo_id in (SEIZURE, "HP:0002373")]
    assert len(mentions) == 1, mentions
    mention = mentions[0]
    assert {f for f in FLAGS if getattr(mention, f)} == flags
    assert mention.asserted == (not flags or flags == {"historical"})
    assert text[mention.start:mention.end] == mention.text


def test_scope_ends_at_the_sentence(extractor: PhenotypeExtractor) -> None:
    text = "No fever. Seizures started on Monday."
    assert only(extractor, text, SEIZURE).asserted
    assert only(extractor, text, "HP:0001945").negated


def test_scope_ends_at_a_terminator(extractor: PhenotypeExtractor) -> None:
    assert only(extractor, "No fever but seizures are frequent.", SEIZURE).asserted
    assert only(extractor, "No fever but seizures are frequent.", "HP:0001945").negated


def test_backward_scope_stops_at_a_comma(extractor: PhenotypeExtractor) -> None:
    text = "Current issues: speech delay, recurrent otitis media, OSA - none."
    by_id = {m.hpo_id: m for m in extractor.extract(text)}
    assert by_id["HP:0002870"].negated  # obstructive sleep apnea
    assert by_id["HP:0000750"].asserted and by_id["HP:0000403"].asserted


def test_a_relative_reporting_is_no_family_history(extractor: PhenotypeExtractor) -> None:
    assert only(extractor, "Mother reports seizures at night.", SEIZURE).asserted
    assert only(extractor, "Parents report seizures over the past 3 weeks.", SEIZURE).asserted


def test_family_history_section(extractor: PhenotypeExtractor) -> None:
    text = "HPI:\nWell.\n\nFAMILY HISTORY:\nSeizures in several relatives.\n\nPLAN:\nSeizures reviewed.\n"
    mentions = [m for m in extractor.extract(text) if m.hpo_id == SEIZURE]
    assert [m.family for m in mentions] == [True, False]


def test_pseudo_trigger_and_trigger_inside_a_mention(extractor: PhenotypeExtractor) -> None:
    assert only(extractor, "Febrile seizures at age 2, none since.", "HP:0002373").asserted
    absence = only(extractor, "Absence seizures several times a day.", "HP:0002121")
    assert absence.asserted  # "absence" is part of the term, not "absence of"


def test_abbreviations_plurals_and_misspellings(extractor: PhenotypeExtractor) -> None:
    found = {m.hpo_id: m for m in extractor.extract("Large VSD. Sz x3 this week. Two siezures and vomitting.")}
    assert found["HP:0001629"].text == "VSD"
    assert found[SEIZURE].asserted
    assert "HP:0002013" in found  # vomiting, misspelt
    assert not [m for m in extractor.extract("vsd noted") if m.hpo_id == "HP:0001629"]  # abbreviations keep case


def test_a_phrase_naming_two_terms(extractor: PhenotypeExtractor) -> None:
    ids = [m.hpo_id for m in extractor.extract("Complete bilateral cleft lip and palate, repaired.")]
    assert {"HP:0410030", "HP:0000175"} <= set(ids)


def test_rule_file_format_is_checked() -> None:
    assert read_rules("no\tnegated\tforward\n# comment\n")[0].category == "negated"
    with pytest.raises(ValueError):
        read_rules("no\tsometimes\tforward\n")
