"""Phenotypes from clinical notes, offline (issue #9).

- lexicon: HPO labels (hpo3) + resources/nlp/hpo_synonyms.tsv, normalised for matching;
- context: the project's ConText rules (resources/nlp/context_rules.tsv): negated, uncertain, hypothetical, family,
  historical;
- pipeline: spaCy blank English + PhraseMatchers + ConText -> `Mention`s (`asserted` = counts as observed);
- note_phenotypes: at sync time, `phenotype_evidence` and `phenotypes` rows with source 'nlp', derived true;
- file_extraction: `kfexplorer nlp extract FILE... [--json]`;
- accuracy: precision / recall / F1 against labelled notes (bench/nlp.py, tests/nlp).
"""
