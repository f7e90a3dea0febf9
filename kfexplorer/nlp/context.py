"""ConText for phenotype mentions: negated, uncertain, hypothetical, family and historical flags.

The rule set is the project's own (resources/nlp/context_rules.tsv, format and semantics in its header), after
Harkema et al. 2009. medspacy's ConText is not used: medspacy 1.3 pins spaCy < 3.8, which breaks numpy 2 (see
ENVIRONMENT.md). Scopes never cross a sentence (`sentence_ids`: a break after . ! ? and at line breaks); a trigger
reaches at most WINDOW tokens (family and historical: the whole sentence); a terminator, a semicolon or a dash set off
by spaces (" - ") ends a scope (except for a backward trigger right after the dash: "OSA - none"), and a comma ends a
backward scope ("speech delay, OSA - none" negates only OSA).
Sections headed "Family history" flag every mention in them as family.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from kfexplorer.package_files import resource_path

CATEGORIES = ("negated", "uncertain", "hypothetical", "family", "historical")
DIRECTIONS = ("forward", "backward", "bidirectional", "none")
WINDOW = 10  # tokens, for negated / uncertain / hypothetical
SENTENCE_WIDE = frozenset({"family", "historical"})
FAMILY_RELATIVES = ("mother", "father", "mom", "dad", "sister", "brother", "sibling", "siblings", "twin", "aunt",
                    "uncle", "cousin", "grandmother", "grandfather", "grandparent", "niece", "nephew", "mother's",
                    "father's")
FAMILY_VERBS = ("has", "had", "have", "with", "also has", "also had", "also have", "died of", "died from",
                "was diagnosed with", "diagnosed with", "history of")
FAMILY_SECTIONS = ("family history", "family hx", "fh", "fhx", "family medical history")


@dataclass(frozen=True)
class ContextRule:
    phrase: str
    category: str  # one of CATEGORIES, or "pseudo" / "terminate"
    direction: str


def read_rules(text: str) -> list[ContextRule]:
    """Parse context_rules.tsv text; malformed lines raise ValueError."""
    rules: list[ContextRule] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if (len(parts) != 3 or parts[1] not in (*CATEGORIES, "pseudo", "terminate")
                or parts[2] not in DIRECTIONS or not parts[0].strip()):
            raise ValueError(f"context_rules.tsv line {number}: bad rule {line!r}")
        rules.append(ContextRule(parts[0].strip().lower(), parts[1], parts[2]))
    return rules


@functools.cache
def default_rules() -> tuple[ContextRule, ...]:
    rules = read_rules(resource_path("nlp", "context_rules.tsv").read_text(encoding="utf-8"))
    rules += [ContextRule(f"{relative} {verb}", "family", "forward")
              for relative in FAMILY_RELATIVES for verb in FAMILY_VERBS]
    return tuple(rules)


def sentence_ids(doc: Doc) -> list[int]:
    """A sentence number per token: a new sentence after . ! ? (a "?" glued to the next word, as in "?VSD", does not
    end one) and at every line break."""
    ids: list[int] = []
    current = 0
    previous_ends = False
    for token in doc:
        if previous_ends:
            current += 1
        ids.append(current)
        text = token.text
        if "\n" in text:
            previous_ends = True
        elif text in (".", "!") or (text == "?" and (token.whitespace_ or token.i + 1 >= len(doc))):
            previous_ends = True
        else:
            previous_ends = False
    return ids


class ContextRules:
    """Applies a rule set to the mention spans of a doc."""

    def __init__(self, nlp: Language, rules: Sequence[ContextRule] | None = None) -> None:
        self.rules = tuple(rules if rules is not None else default_rules())
        self._by_key: dict[str, ContextRule] = {}
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for index, rule in enumerate(self.rules):
            key = f"ctx{index}"
            self._by_key[key] = rule
            self.matcher.add(key, [nlp.make_doc(rule.phrase)])
        self._vocab = nlp.vocab

    def flags(self, doc: Doc, mentions: Sequence[Span]) -> list[dict[str, bool]]:
        """One dict of CATEGORIES -> bool per mention."""
        sentences = sentence_ids(doc)
        covered: set[int] = set()
        for mention in mentions:
            covered.update(range(mention.start, mention.end))
        found = [Span(doc, start, end, label=key) for key_id, start, end in self.matcher(doc)
                 if not covered.intersection(range(start, end))
                 for key in (self._vocab.strings[key_id],)]
        triggers = [(span, self._by_key[span.label_]) for span in filter_spans(found)]
        dashes = {t.i for t in doc if t.text == "-" and t.whitespace_ and t.i > 0 and doc[t.i - 1].whitespace_}
        stops = sorted({span.start for span, rule in triggers if rule.category == "terminate"}
                       | {t.i for t in doc if t.text == ";"} | dashes)
        commas = sorted(t.i for t in doc if t.text == ",")
        family_lines = _family_section_tokens(doc)
        result: list[dict[str, bool]] = []
        for mention in mentions:
            flags = dict.fromkeys(CATEGORIES, False)
            sentence = sentences[mention.start]
            for span, rule in triggers:
                if rule.category not in CATEGORIES or sentences[span.start] != sentence:
                    continue
                if _in_scope(span, rule, mention, stops, commas, dashes):
                    flags[rule.category] = True
            if mention.start in family_lines:
                flags["family"] = True
            result.append(flags)
        return result


def _in_scope(trigger: Span, rule: ContextRule, mention: Span, stops: Sequence[int], commas: Sequence[int],
              dashes: set[int]) -> bool:
    window = 10_000 if rule.category in SENTENCE_WIDE else WINDOW
    if rule.direction in ("forward", "bidirectional") and trigger.end <= mention.start:
        if mention.start - trigger.end <= window and not any(trigger.end <= s < mention.start for s in stops):
            return True
    if rule.direction in ("backward", "bidirectional") and trigger.start >= mention.end:
        if trigger.start - mention.end <= window and not any(  # "OSA - none": a dash right before still reaches
                mention.end <= s < trigger.start and not (s in dashes and s == trigger.start - 1)
                for s in (*stops, *commas)):
            return True
    return False


def _family_section_tokens(doc: Doc) -> set[int]:
    """Indexes of the tokens inside a section headed by a FAMILY_SECTIONS line, up to a blank line."""
    inside: set[int] = set()
    text = doc.text
    offset = 0
    in_section = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        header = stripped.rstrip(":").strip().lower()
        if not stripped:
            in_section = False
        elif stripped.endswith(":"):
            in_section = header in FAMILY_SECTIONS
        elif in_section:
            span = doc.char_span(offset, offset + len(line.rstrip()), alignment_mode="expand")
            if span is not None:
                inside.update(range(span.start, span.end))
        offset += len(line)
    return inside
