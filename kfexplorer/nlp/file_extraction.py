"""`kfexplorer nlp extract FILE...`: HPO mentions of text files, as JSON objects or a readable listing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kfexplorer.nlp.pipeline import PhenotypeExtractor, default_extractor

JSON_KEYS = ("file", "hpo_id", "label", "start", "end", "text", "negated", "uncertain", "hypothetical", "family",
             "historical", "asserted")
FLAG_KEYS = ("negated", "uncertain", "hypothetical", "family", "historical")
FILE_READ_LIMIT = 5_000_000  # characters analysed per file


def extract_files(paths: Sequence[str], extractor: PhenotypeExtractor | None = None) -> list[dict[str, object]]:
    """One object per mention (keys JSON_KEYS), file by file in the given order, mentions in text order."""
    extractor = extractor or default_extractor()
    rows: list[dict[str, object]] = []
    for name in paths:
        with open(Path(name), encoding="utf-8", errors="replace") as handle:
            text = handle.read(FILE_READ_LIMIT)
        for mention in extractor.extract(text):
            values = mention.to_json()
            rows.append({"file": name, **{key: values[key] for key in JSON_KEYS[1:]}})
    return rows


def format_listing(paths: Sequence[str], rows: Sequence[dict[str, object]]) -> str:
    """Per file, every mention: HPO id, label, span, matched text and its context flags."""
    lines: list[str] = []
    for name in paths:
        mine = [r for r in rows if r["file"] == name]
        observed = sum(1 for r in mine if r["asserted"])
        lines.append(f"{name}: {len(mine)} mention{'s' if len(mine) != 1 else ''}, {observed} observed")
        for r in mine:
            flags = [key for key in FLAG_KEYS if r[key]]
            status = "observed" if r["asserted"] else "not observed"
            lines.append(f"  {r['hpo_id']}  {r['label']}  [{r['start']}:{r['end']}] {r['text']!r}  {status}"
                         + (f" ({', '.join(flags)})" if flags else ""))
    return "\n".join(lines)
