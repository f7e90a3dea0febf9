"""Exports read back (pyarrow) equal the rows computed from the raw release; the sidecar reproduces the hash."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from export_release import HOSTILE_SAMPLE_ID, HOSTILE_TEXTS, RawRelease
from fhir.resources.R4B.group import Group as FhirGroup

from kfexplorer.cli import main
from kfexplorer.export.cohort_export import export_cohort_in_cache
from kfexplorer.export.cohort_import import participant_ids_from_text, participant_list_criterion, read_cohort_or_list
from kfexplorer.export.spreadsheet_safety import FORMULA_PREFIXES
from kfexplorer.query.model import Cohort, Group, all_of, cohort_to_json, criterion
from kfexplorer.query.sqon import cohort_to_sqon

FEMALE = criterion("participant.sex", "in", "female")
HIGH = criterion("consequence.vep_impact", "in", "HIGH", "MODERATE")
FEMALE_WITH_HIGH = Cohort(all_of(FEMALE, HIGH), "girls with a HIGH or MODERATE call")


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, Any]]:
    """Every cell as text (so nothing is re-typed on the way back)."""
    with open(path, "rb") as handle:
        header = handle.readline().decode("utf-8").rstrip("\r\n").split(delimiter)
    types = {name: "string" for name in header}
    table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                           convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    return table.to_pylist()


def sha256_of(ids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def raw_calls(raw: RawRelease, participants: set[str], impacts: set[str] | None) -> list[dict[str, Any]]:
    """Carried calls of `participants`; with `impacts`, only calls with a consequence row of one of them."""
    calls = []
    for row in raw.occurrences:
        if not row["has_alt"] or row["participant_id"] not in participants:
            continue
        if impacts is not None and not any(c["vep_impact"] in impacts for c in raw.consequences.get(row["locus_id"], [])):
            continue
        calls.append(row)
    return calls


def members_of_female_with_high(raw: RawRelease) -> set[str]:
    females = {p for p, sex in raw.sex.items() if sex == "female"}
    return {row["participant_id"] for row in raw_calls(raw, females, {"HIGH", "MODERATE"})}


def test_participants_csv_is_the_cohort_with_participant_id_first(raw_release: RawRelease, tmp_path: Path) -> None:
    out = tmp_path / "participants.csv"
    result = export_cohort_in_cache(raw_release.cache, FEMALE_WITH_HIGH, "participants", out,
                                    columns=["sex", "study_id"])
    rows = read_csv(out)
    expected = members_of_female_with_high(raw_release)
    assert expected and len(expected) < len(raw_release.sex)
    assert list(rows[0]) == ["participant_id", "sex", "study_id"]
    assert {r["participant_id"] for r in rows} == expected and len(rows) == len(expected) == result.rows
    assert all(r["sex"] == "female" for r in rows)
    assert result.participants_sha256 == sha256_of(expected)


def test_occurrences_are_the_cohorts_calls_that_satisfy_its_variant_criteria(raw_release: RawRelease,
                                                                             tmp_path: Path) -> None:
    members = members_of_female_with_high(raw_release)
    expected = Counter((r["participant_id"], r["locus_id"], r["zygosity"])
                       for r in raw_calls(raw_release, members, {"HIGH", "MODERATE"}))
    for name in ("occ.csv", "occ.parquet"):
        out = tmp_path / name
        result = export_cohort_in_cache(raw_release.cache, FEMALE_WITH_HIGH, "occurrences", out)
        rows = pq.read_table(out).to_pylist() if name.endswith("parquet") else read_csv(out)
        got = Counter((r["participant_id"], r["locus_id"], r["zygosity"]) for r in rows)
        assert got == expected and result.rows == sum(expected.values())
    # Without variant criteria: every carried call of the cohort's participants.
    females = {p for p, sex in raw_release.sex.items() if sex == "female"}
    out = tmp_path / "all.parquet"
    export_cohort_in_cache(raw_release.cache, Cohort(all_of(FEMALE)), "occurrences", out)
    got = Counter((r["participant_id"], r["locus_id"]) for r in pq.read_table(out).to_pylist())
    assert got == Counter((r["participant_id"], r["locus_id"]) for r in raw_calls(raw_release, females, None))


def test_variants_are_the_distinct_variants_of_those_calls_with_carriers(raw_release: RawRelease,
                                                                         tmp_path: Path) -> None:
    members = members_of_female_with_high(raw_release)
    carriers: dict[str, set[str]] = {}
    for row in raw_calls(raw_release, members, {"HIGH", "MODERATE"}):
        carriers.setdefault(row["locus_id"], set()).add(row["participant_id"])
    out = tmp_path / "variants.tsv"
    export_cohort_in_cache(raw_release.cache, FEMALE_WITH_HIGH, "variants", out)
    rows = read_csv(out, "\t")
    assert {r["locus_id"]: int(r["cohort_carriers"]) for r in rows} == {k: len(v) for k, v in carriers.items()}
    assert all(r["hgvsg"] == raw_release.variants[r["locus_id"]]["hgvsg"] for r in rows)


def test_manifest_lists_the_cohorts_data_files(raw_release: RawRelease, tmp_path: Path) -> None:
    members = members_of_female_with_high(raw_release)
    out = tmp_path / "manifest.parquet"
    export_cohort_in_cache(raw_release.cache, FEMALE_WITH_HIGH, "manifest", out)
    table = pq.read_table(out)
    assert table.column_names[:5] == ["file_id", "file_name", "url", "size", "hash"]
    key = ("file_id", "file_name", "url", "size", "hash", "participant_id")
    expected = sorted(tuple(f[k] for k in key) for f in raw_release.files if f["participant_id"] in members)
    assert expected and sorted(tuple(r[k] for k in key) for r in table.to_pylist()) == expected


def test_fhir_group_validates_and_names_the_patients(raw_release: RawRelease, tmp_path: Path) -> None:
    members = members_of_female_with_high(raw_release)
    out = tmp_path / "cohort.group.json"
    export_cohort_in_cache(raw_release.cache, FEMALE_WITH_HIGH, "fhir-group", out)
    group = json.loads(out.read_text())
    model = FhirGroup.model_validate(group)
    assert model.type == "person" and model.actual is True and model.quantity == len(members)
    refs = {m["entity"]["reference"] for m in group["member"]}
    assert refs == {f"Patient/{raw_release.patient_ids[p]}" for p in members}
    assert {m["entity"]["identifier"]["value"] for m in group["member"]} == members


def test_hostile_text_is_neutralised_in_csv_and_round_trips_otherwise(raw_release: RawRelease,
                                                                      tmp_path: Path) -> None:
    assert len(raw_release.planted) == len(HOSTILE_TEXTS)
    everyone = Cohort()
    outputs = {"safe": tmp_path / "dx.csv", "raw": tmp_path / "dx_raw.csv", "parquet": tmp_path / "dx.parquet",
               "tsv": tmp_path / "dx.tsv"}
    export_cohort_in_cache(raw_release.cache, everyone, "diagnoses", outputs["safe"])
    export_cohort_in_cache(raw_release.cache, everyone, "diagnoses", outputs["raw"], safe=False)
    export_cohort_in_cache(raw_release.cache, everyone, "diagnoses", outputs["parquet"])
    export_cohort_in_cache(raw_release.cache, everyone, "diagnoses", outputs["tsv"])

    def texts(rows: list[dict[str, Any]]) -> dict[str, str]:
        return {r["condition_id"]: r["source_text"] for r in rows if r["condition_id"] in raw_release.planted}

    safe = texts(read_csv(outputs["safe"]))
    for condition_id, text in raw_release.planted.items():
        is_formula = text[:1] in FORMULA_PREFIXES and text != "-12"
        assert safe[condition_id] == ("'" + text if is_formula else text), text
    assert texts(read_csv(outputs["tsv"], "\t")) == safe
    assert texts(read_csv(outputs["raw"])) == raw_release.planted
    assert texts(pq.read_table(outputs["parquet"]).to_pylist()) == raw_release.planted
    # numbers stay numbers: an integer column has no apostrophes and reads back as integers
    ages = pacsv.read_csv(outputs["safe"],
                          parse_options=pacsv.ParseOptions(newlines_in_values=True)).column("age_at_event_days")
    assert str(ages.type) == "int64"


def test_hostile_text_in_variant_calls_is_neutralised_too(raw_release: RawRelease, tmp_path: Path) -> None:
    """The occurrences export skips the per-cell test only for columns DuckDB's statistics prove clean."""
    participant, locus = raw_release.planted_call
    cohort = Cohort(all_of(criterion("participant.id", "in", participant)))
    export_cohort_in_cache(raw_release.cache, cohort, "occurrences", tmp_path / "calls.csv")
    export_cohort_in_cache(raw_release.cache, cohort, "occurrences", tmp_path / "calls.parquet")
    safe = {r["locus_id"]: r["sample_id"] for r in read_csv(tmp_path / "calls.csv")}
    raw = {r["locus_id"]: r["sample_id"] for r in pq.read_table(tmp_path / "calls.parquet").to_pylist()}
    assert raw[locus] == HOSTILE_SAMPLE_ID and safe[locus] == "'" + HOSTILE_SAMPLE_ID
    assert all(safe[k] == v for k, v in raw.items() if k != locus)  # the other cells as they are


def test_sidecar_reproduces_the_hash_through_count(raw_release: RawRelease, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "occurrences.csv"
    result = export_cohort_in_cache(raw_release.cache, FEMALE_WITH_HIGH, "occurrences", out)
    sidecar = json.loads((tmp_path / "occurrences.csv.cohort.json").read_text())
    expected = sha256_of(members_of_female_with_high(raw_release))
    assert sidecar["participants_sha256"] == expected == result.participants_sha256
    assert sidecar["release_id"] == raw_release.release_id
    versions = json.loads((raw_release.root / "release.json").read_text())["versions"]
    assert sidecar["ontology_versions"] == {k: versions[k] for k in ("hpo", "mondo")}
    assert sidecar["annotation_versions"] == {k: v for k, v in versions.items() if k not in ("hpo", "mondo")}
    assert sidecar["row_counts"]["occurrences"] == result.rows
    assert sidecar["row_counts"]["participants"] == len(members_of_female_with_high(raw_release))
    assert sidecar["cohort"] == cohort_to_json(FEMALE_WITH_HIGH) and sidecar["sqon"] == cohort_to_sqon(FEMALE_WITH_HIGH)
    assert sidecar["description"] and sidecar["sql"].startswith("SELECT") and sidecar["app_version"]
    capsys.readouterr()
    assert main(["count", "--cache", str(raw_release.cache), "--cohort", str(out) + ".cohort.json", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["participants_sha256"] == expected and captured.err == ""
    # The same sidecar on another release: still counts (exit 0), with one warning line.
    sidecar["release_id"] = "some-other-release"
    moved = tmp_path / "moved.cohort.json"
    moved.write_text(json.dumps(sidecar))
    assert main(["count", "--cache", str(raw_release.cache), "--cohort", str(moved)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "some-other-release" in err and len(err.strip().splitlines()) == 1


def test_participant_list_and_cohort_files_come_in(raw_release: RawRelease, tmp_path: Path) -> None:
    known = sorted(raw_release.sex)[:5]
    pasted = f"participant_id\n{known[0]}, extra\n{known[1]}\t{known[2]}\n\n{known[3]} {known[4]}\n{known[0]}\nPT_NOPE\n"
    ids = participant_ids_from_text(pasted)
    assert ids == [known[0], known[1], known[2], known[3], known[4], "PT_NOPE"]
    list_file = tmp_path / "ids.txt"
    list_file.write_text(pasted)
    cohort = read_cohort_or_list(list_file)
    assert cohort.top_level() == (participant_list_criterion(ids),)
    out = tmp_path / "listed.csv"
    result = export_cohort_in_cache(raw_release.cache, cohort, "participants", out)
    assert {r["participant_id"] for r in read_csv(out)} == set(known) and result.rows == 5
    # SQON and sidecar files read as the same cohort
    sqon_file = tmp_path / "cohort.sqon.json"
    sqon_file.write_text(json.dumps(cohort_to_sqon(FEMALE_WITH_HIGH)))
    assert read_cohort_or_list(sqon_file).root == FEMALE_WITH_HIGH.root
    assert read_cohort_or_list(Path(str(out) + ".cohort.json")).root == Group("and", (participant_list_criterion(ids),))


def test_cli_export_exit_codes(raw_release: RawRelease, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cohort_file = tmp_path / "cohort.json"
    cohort_file.write_text(json.dumps(cohort_to_json(FEMALE_WITH_HIGH)))
    out = tmp_path / "p.csv"
    base = ["export", "--cache", str(raw_release.cache), "--cohort", str(cohort_file)]
    assert main([*base, "--what", "participants", "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows"] == len(members_of_female_with_high(raw_release)) and Path(payload["sidecar"]).is_file()
    assert main([*base, "--what", "participants", "--columns", "sex,nope", "--out", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and not (tmp_path / "x.csv").exists()
    with pytest.raises(SystemExit) as usage:
        main([*base, "--what", "everything", "--out", str(out)])
    assert usage.value.code == 2
