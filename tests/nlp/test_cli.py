"""`kfexplorer nlp extract FILE... [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kfexplorer.cli import main

KEYS = ["file", "hpo_id", "label", "start", "end", "text", "negated", "uncertain", "hypothetical", "family",
        "historical", "asserted"]


def test_json_lists_every_mention_with_the_issue_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "a.txt"
    first.write_text("Seizures began last month.\nNo vomiting. Mother has migraine.\n", encoding="utf-8")
    second = tmp_path / "b.txt"
    second.write_text("Possible VSD on echo.\n", encoding="utf-8")
    assert main(["nlp", "extract", "--json", str(first), str(second)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(list(r) == KEYS for r in rows)
    texts = {str(first): first.read_text(), str(second): second.read_text()}
    for r in rows:
        assert texts[r["file"]][r["start"]:r["end"]] == r["text"]
    got = {(Path(r["file"]).name, r["hpo_id"]): r for r in rows}
    assert got[("a.txt", "HP:0001250")]["asserted"] is True and got[("a.txt", "HP:0001250")]["label"] == "Seizure"
    assert got[("a.txt", "HP:0002013")]["negated"] is True and got[("a.txt", "HP:0002013")]["asserted"] is False
    assert got[("a.txt", "HP:0002076")]["family"] is True
    assert got[("b.txt", "HP:0001629")]["uncertain"] is True and got[("b.txt", "HP:0001629")]["text"] == "VSD"
    assert [Path(r["file"]).name for r in rows] == sorted(Path(r["file"]).name for r in rows)


def test_text_listing_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "n.txt"
    note.write_text("Denies headache. Ataxia on exam.\n", encoding="utf-8")
    assert main(["nlp", "extract", str(note)]) == 0
    out = capsys.readouterr().out
    assert f"{note}: 2 mentions, 1 observed" in out
    assert "HP:0002315  Headache  [7:15] 'headache'  not observed (negated)" in out
    assert "HP:0001251  Ataxia  [17:23] 'Ataxia'  observed" in out


def test_a_missing_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nlp", "extract", str(tmp_path / "nope.txt")]) == 1
    assert "error" in capsys.readouterr().err
