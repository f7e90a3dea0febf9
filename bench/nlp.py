"""Phenotypes from clinical notes: accuracy (precision / recall / F1 of observed phenotypes) and speed (notes/s).

Accuracy, two ways (kfexplorer.nlp.accuracy: a predicted term counts when it is the labelled term, its direct parent
or its direct child):
1. the hand-labelled set tests/data/nlp_notes (written before the rules);
2. the demo generator's notes and labels files: a release of --scale participants (seed 11) synced into a cache;
   the derived phenotypes are what sync stores (asserted mentions that do not restate a curated diagnosis).
Speed, same run, same notes: ours (spaCy tokeniser + PhraseMatcher + ConText) against a plain-regex matcher of the
HPO labels without context (the peer, also scored for accuracy). Goals: precision >= 0.90, recall >= 0.80 on both
sets, >= 10 notes/s.

    python -m bench.nlp [--scale PARTICIPANTS] [--repeat K]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from bench.harness import Scenario, bench_data_dir, compare, report
from kfexplorer.demo.release import generate_release
from kfexplorer.nlp.accuracy import LabelledNote, Scores, read_labelled_notes, score
from kfexplorer.nlp.lexicon import clean_label, phenotype_phrases
from kfexplorer.nlp.note_phenotypes import derived_terms, note_findings
from kfexplorer.nlp.pipeline import PhenotypeExtractor, observed_terms
from kfexplorer.ontology.hpo import load_hpo
from kfexplorer.store.cache import connect
from kfexplorer.sync.engine import sync_release

LABELLED_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "nlp_notes"
GOALS = {"precision": 0.90, "recall": 0.80, "notes_per_s": 10.0}


class RegexLabelMatcher:
    """The peer: every HPO label (and synonym) of the lexicon as one case-insensitive regex, no context."""

    def __init__(self) -> None:
        ids: dict[str, set[str]] = {}
        for phrase in phenotype_phrases():
            if not phrase.case_sensitive:
                ids.setdefault(clean_label(phrase.text).lower(), set()).update(phrase.hpo_ids)
        self.ids = ids
        alternatives = sorted(ids, key=len, reverse=True)
        self.pattern = re.compile(r"\b(?:" + "|".join(re.escape(a) for a in alternatives) + r")\b", re.IGNORECASE)

    def observed(self, text: str) -> set[str]:
        found: set[str] = set()
        for match in self.pattern.finditer(text):
            found |= self.ids.get(match.group().lower(), set())
        return found


def demo_release_and_cache(scale: int) -> tuple[Path, Path]:
    root = bench_data_dir() / f"nlp-demo-{scale}-s11"
    release, cache = root / "release", root / "cache"
    if not (root / "done").exists():
        started = time.perf_counter()
        generate_release(release, participants=scale, occurrences=5_000, seed=11, imaging=False, force=True)
        sync_release(str(release), cache)
        (root / "done").write_text("ok")
        print(f"generated and synced {root} in {time.perf_counter() - started:.1f} s")
    return release, cache


def curated_diagnoses(cache: Path) -> dict[str, list[str]]:
    con = connect(cache, read_only=True)
    try:
        rows = con.execute("SELECT participant_id, label, source_text FROM diagnoses "
                           "WHERE NOT coalesce(derived, false)").fetchall()
    finally:
        con.close()
    found: dict[str, list[str]] = {}
    for pid, label, source_text in rows:
        found.setdefault(pid, []).extend(t for t in (label, source_text) if t)
    return found


def scores_json(scores: Scores) -> dict[str, float | int]:
    return {"notes": scores.notes, "precision": round(scores.precision, 3), "recall": round(scores.recall, 3),
            "f1": round(scores.f1, 3), "predicted": scores.predicted, "labelled": scores.labelled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=2000, help="participants of the demo release")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hpo = load_hpo()
    started = time.perf_counter()
    ours = PhenotypeExtractor()
    build_s = time.perf_counter() - started
    peer = RegexLabelMatcher()

    labelled = read_labelled_notes(LABELLED_SET)
    release, cache = demo_release_and_cache(args.scale)
    demo = read_labelled_notes(release / "notes")
    diagnoses = curated_diagnoses(cache)

    def demo_predict(note: LabelledNote) -> set[str]:
        return derived_terms(note_findings(ours, note.text, diagnoses.get(note.name.split("/")[0], [])))

    accuracy = {
        "labelled_set": scores_json(score(labelled, lambda n: observed_terms(ours.extract(n.text)), hpo)),
        "demo_notes": scores_json(score(demo, demo_predict, hpo)),
        "peer_labelled_set": scores_json(score(labelled, lambda n: peer.observed(n.text), hpo)),
        "peer_demo_notes": scores_json(score(demo, lambda n: peer.observed(n.text), hpo)),
    }
    texts = [n.text for n in labelled + demo]
    scenario = compare(Scenario(f"extract phenotypes, {len(texts)} notes", "regex labels, no context", "<= 1.0"),
                       lambda: [ours.extract(t) for t in texts], lambda: [peer.observed(t) for t in texts],
                       args.repeat, same=lambda a, b: len(a) == len(b))
    ours_rate = len(texts) / (min(scenario.ours_ms) / 1000)
    peer_rate = len(texts) / (min(scenario.peer_ms) / 1000)
    met = (all(accuracy[k]["precision"] >= GOALS["precision"] and accuracy[k]["recall"] >= GOALS["recall"]
               for k in ("labelled_set", "demo_notes")) and ours_rate >= GOALS["notes_per_s"])
    for name, values in accuracy.items():
        print(f"{name:<20} P={values['precision']:.3f} R={values['recall']:.3f} F1={values['f1']:.3f} "
              f"({values['notes']} notes)")
    print(f"ours {ours_rate:,.0f} notes/s (pipeline built in {build_s:.1f} s), peer {peer_rate:,.0f} notes/s")
    report("nlp", args.scale, [scenario], {"accuracy": accuracy, "notes_per_s": round(ours_rate, 1),
                                           "peer_notes_per_s": round(peer_rate, 1), "build_s": round(build_s, 1),
                                           "goals": GOALS, "goals_met": met})


if __name__ == "__main__":
    main()
