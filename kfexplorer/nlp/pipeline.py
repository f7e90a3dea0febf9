"""HPO phenotype mentions in clinical text: spaCy (blank English: tokeniser only, nothing downloaded) with
PhraseMatchers over the lexicon (kfexplorer.nlp.lexicon) and ConText flags (kfexplorer.nlp.context).

A mention counts as observed (`asserted`) when it is not negated, uncertain, hypothetical or about a family member;
historical / resolved findings still count. Misspellings: an alphabetic token of at least SPELLING_MIN_CHARS that is
no lexicon word is read as the one lexicon word within one edit (insert, delete, substitute, swap neighbours) when
exactly one such word exists ("siezures" -> "seizure", "vomitting" -> "vomiting").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from kfexplorer.nlp.context import ContextRules
from kfexplorer.nlp.lexicon import hpo_label, normalise_token, phenotype_phrases

METHOD = "kfexplorer-nlp 1 (spaCy PhraseMatcher over HPO labels + synonyms, ConText rules)"
SPELLING_MIN_CHARS = 6


@dataclass(frozen=True)
class Mention:
    hpo_id: str
    label: str
    start: int  # character offsets into the text
    end: int
    text: str
    negated: bool
    uncertain: bool
    hypothetical: bool
    family: bool
    historical: bool

    @property
    def asserted(self) -> bool:
        return not (self.negated or self.uncertain or self.hypothetical or self.family)

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "asserted": self.asserted}


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """Optimal-string-alignment distance of a and b is exactly 1."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


class SpellingIndex:
    """Lexicon words by their one-deletion variants, to find the word a misspelt token stands for."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(w for w in words if len(w) >= SPELLING_MIN_CHARS - 1 and w.isalpha())
        self._by_delete: dict[str, set[str]] = {}
        for word in self.words:
            for key in _deletes(word) | {word}:
                self._by_delete.setdefault(key, set()).add(word)

    def correct(self, token: str) -> str | None:
        if token in self.words or len(token) < SPELLING_MIN_CHARS or not token.isalpha():
            return None
        candidates: set[str] = set()
        for key in _deletes(token) | {token}:
            candidates |= self._by_delete.get(key, set())
        matches = {c for c in candidates if _one_edit(token, c)}
        return next(iter(matches)) if len(matches) == 1 else None


class PhenotypeExtractor:
    """Build once (a few seconds: ~17,000 phrases), then `extract(text)` per note."""

    def __init__(self) -> None:
        self.nlp = spacy.blank("en")
        self.norm_matcher = PhraseMatcher(self.nlp.vocab, attr="NORM")
        self.exact_matcher = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        self._ids: dict[str, tuple[str, ...]] = {}
        words: set[str] = set()
        by_key: dict[tuple[str, bool], list[Doc]] = {}
        for phrase in phenotype_phrases():
            key = ",".join(phrase.hpo_ids)
            self._ids[key] = phrase.hpo_ids
            variants = {phrase.text, phrase.text.replace("-", " ")}
            for variant in variants:
                doc = self.nlp.make_doc(variant)
                if not phrase.case_sensitive:
                    self._normalise(doc)
                    words.update(t.norm_ for t in doc)
                by_key.setdefault((key, phrase.case_sensitive), []).append(doc)
        for (key, case_sensitive), docs in by_key.items():
            (self.exact_matcher if case_sensitive else self.norm_matcher).add(key, docs)
        self.spelling = SpellingIndex(words)
        self.context = ContextRules(self.nlp)

    @staticmethod
    def _normalise(doc: Doc) -> None:
        for token in doc:
            token.norm_ = normalise_token(token.lower_)

    def _correct_spelling(self, doc: Doc) -> None:
        for token in doc:
            if token.norm_ in self.spelling.words:
                continue
            fixed = self.spelling.correct(token.norm_) or self.spelling.correct(token.lower_)
            if fixed is not None:
                token.norm_ = fixed

    def mention_spans(self, doc: Doc) -> list[Span]:
        spans = [Span(doc, start, end, label=self.nlp.vocab.strings[key])
                 for matcher in (self.norm_matcher, self.exact_matcher) for key, start, end in matcher(doc)]
        return _drop_contained(spans)

    def extract(self, text: str) -> list[Mention]:
        """Every HPO mention of `text` with its context flags, in text order (one per term a phrase names)."""
        doc = self.nlp.make_doc(text)
        self._normalise(doc)
        self._correct_spelling(doc)
        spans = self.mention_spans(doc)
        mentions: list[Mention] = []
        for span, flags in zip(spans, self.context.flags(doc, spans), strict=True):
            for hpo_id in self._ids[span.label_]:
                mentions.append(Mention(hpo_id=hpo_id, label=hpo_label(hpo_id), start=span.start_char,
                                        end=span.end_char, text=span.text, **flags))
        return mentions

    def extract_many(self, texts: Iterable[str]) -> Iterator[list[Mention]]:
        for text in texts:
            yield self.extract(text)


def _drop_contained(spans: list[Span]) -> list[Span]:
    """The spans not inside a longer one (ties: the first added); partly overlapping spans both stay, so "complete
    bilateral cleft lip and palate" yields both "complete bilateral cleft lip" and "cleft lip and palate"."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), s.start)):
        if not any(k.start <= span.start and span.end <= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: (s.start, s.end))


@functools.cache
def default_extractor() -> PhenotypeExtractor:
    """The process-wide extractor (built on first use)."""
    return PhenotypeExtractor()


def observed_terms(mentions: Iterable[Mention]) -> set[str]:
    """The HPO ids a note asserts (observed for the patient)."""
    return {m.hpo_id for m in mentions if m.asserted}
