"""Issue 3 acceptance: the same clinical data as a HealthLake export prefix and as a folder of R4 Bundles (urn:uuid
references) syncs into identical clinical tables, with counts an independent count of the JSON confirms; a phenotype
query through ontology_ancestors finds participants annotated only with a descendant term (oracle: pyhpo)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kfexplorer.demo.clinical import write_clinical
from kfexplorer.demo.population import build_population
from kfexplorer.store.cache import connect
from kfexplorer.store.clinical_schema import FLATTENED_TABLES
from kfexplorer.sync.engine import sync_release

PARTICIPANTS = 24
SEED = 5
EXPORT_PREFIX = "8f3c2a1b9d7e4f60a5b4c3d2e1f0a9b8-FHIR_EXPORT-1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a"
PARTICIPANT_SYSTEM = "https://kidsfirstdrc.org/participant_id"
HPO_SYSTEM = "http://purl.obolibrary.org/obo/hp.owl"
ROOT_TERMS = frozenset({"HP:0000001", "HP:0000118"})  # All; Phenotypic abnormality: too broad to test anything


def _write_release_json(root: Path, release_id: str) -> None:
    (root / "release.json").write_text(json.dumps({"release_id": release_id, "schema_version": 1}))


def _references(node: Any) -> Iterator[dict[str, Any]]:
    """Every Reference object (a dict with a string `reference`) inside a resource."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _full_url(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}"


def _owner(resource: dict[str, Any]) -> str:
    """The Patient a resource belongs with (its Bundle), else a shared Bundle (studies)."""
    if resource["resourceType"] == "Patient":
        return f"Patient/{resource['id']}"
    for ref in _references(resource):
        if ref["reference"].startswith("Patient/"):
            return str(ref["reference"])
    return "shared"


def _write_bundles(folder: Path, resources: list[dict[str, Any]]) -> int:
    """One Bundle per Patient (with what refers to it) plus one shared: transaction (PUT) and collection Bundles
    alternate; a reference to a resource of the same Bundle becomes its urn:uuid fullUrl, others stay `Type/id`."""
    buckets: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        buckets.setdefault(_owner(resource), []).append(resource)
    folder.mkdir(parents=True)
    urn_refs = 0
    for number, (owner, members) in enumerate(sorted(buckets.items())):
        inside = {f"{r['resourceType']}/{r['id']}" for r in members}
        transaction = number % 2 == 0
        entries = []
        for original in members:
            resource = orjson.loads(orjson.dumps(original))  # a deep copy
            for ref in _references(resource):
                if ref["reference"] in inside:
                    ref["reference"] = _full_url(ref["reference"])
                    urn_refs += 1
            key = f"{resource['resourceType']}/{resource['id']}"
            entry: dict[str, Any] = {"fullUrl": _full_url(key), "resource": resource}
            if transaction:
                entry["request"] = {"method": "PUT", "url": key}
            entries.append(entry)
        bundle = {"resourceType": "Bundle", "id": f"b{number}", "type": "transaction" if transaction else "collection",
                  "entry": entries}
        (folder / f"bundle-{number:03d}-{owner.replace('/', '-')}.json").write_bytes(orjson.dumps(bundle))
    return urn_refs


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo's clinical data twice: (a) a HealthLake export prefix, (b) Bundles; and the resources (the oracle)."""
    base = tmp_path_factory.mktemp("acceptance")
    demo = base / "demo"
    write_clinical(demo, build_population(PARTICIPANTS, seed=SEED), (), seed=SEED)
    resources = [orjson.loads(line) for path in sorted((demo / "fhir").rglob("*.ndjson"))
                 for line in path.read_bytes().splitlines() if line.strip()]
    healthlake = base / "healthlake"
    for path in sorted((demo / "fhir").rglob("*.ndjson")):
        lines = path.read_bytes().splitlines(keepends=True)
        target = healthlake / "fhir" / EXPORT_PREFIX / path.parent.name
        target.mkdir(parents=True, exist_ok=True)
        half = len(lines) // 2  # an export writes several files per type
        (target / f"{path.parent.name}-0.ndjson").write_bytes(b"".join(lines[:half]))
        (target / f"{path.parent.name}-1.ndjson").write_bytes(b"".join(lines[half:]))
    _write_release_json(healthlake, "acceptance-healthlake")
    bundles = base / "bundles"
    urn_refs = _write_bundles(bundles / "fhir" / "bundles", resources)
    _write_release_json(bundles, "acceptance-bundles")
    caches = {}
    for name, root in (("healthlake", healthlake), ("bundles", bundles)):
        report = sync_release(str(root), base / f"cache-{name}")
        assert report.quarantined == [], (name, report.quarantined[:3])
        caches[name] = base / f"cache-{name}"
    return {"resources": resources, "caches": caches, "urn_refs": urn_refs}


def _rows(cache: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = connect(cache, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _table(cache: Path, table: str) -> list[tuple[Any, ...]]:
    return sorted(_rows(cache, f"SELECT * FROM {table}"), key=repr)


def test_both_inputs_give_identical_clinical_tables(releases: dict[str, Any]) -> None:
    assert releases["urn_refs"] > 2 * PARTICIPANTS  # the Bundles really reference by urn:uuid
    caches = releases["caches"]
    for table in FLATTENED_TABLES:
        healthlake, bundles = _table(caches["healthlake"], table), _table(caches["bundles"], table)
        assert healthlake == bundles, table
    assert _table(caches["healthlake"], "participants")  # not identical because both are empty


def test_counts_agree_with_an_independent_count_of_the_json(releases: dict[str, Any]) -> None:
    resources: list[dict[str, Any]] = releases["resources"]
    by_type = Counter(r["resourceType"] for r in resources)
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    participant_ids = {next((i["value"] for i in p.get("identifier", []) if i.get("system") == PARTICIPANT_SYSTEM),
                            p["id"]) for p in patients}
    documents = [r for r in resources if r["resourceType"] == "DocumentReference"]
    conditions = [r for r in resources if r["resourceType"] == "Condition"]
    hpo_codings = sum(1 for c in conditions for coding in c["code"]["coding"] if coding.get("system") == HPO_SYSTEM)
    assert len(participant_ids) == PARTICIPANTS
    for name, cache in releases["caches"].items():
        stored = dict(_rows(cache, "SELECT resource_type, count(*) FROM fhir_resources GROUP BY ALL"))
        assert stored == dict(by_type), name
        full_urls = _rows(cache, "SELECT count(full_url) FROM fhir_resources")[0][0]
        assert full_urls == (len(resources) if name == "bundles" else 0), name
        assert {r[0] for r in _rows(cache, "SELECT participant_id FROM participants")} == participant_ids, name
        assert _rows(cache, "SELECT count(*) FROM studies")[0][0] == by_type["ResearchStudy"], name
        assert _rows(cache, "SELECT count(*) FROM families")[0][0] == by_type["Group"], name
        assert _rows(cache, "SELECT count(*) FROM biospecimens")[0][0] == by_type["Specimen"], name
        files_and_notes = _rows(cache, "SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM notes)")[0][0]
        assert files_and_notes == len(documents), name
        fhir_phenotypes = _rows(cache, "SELECT count(*) FROM phenotypes WHERE source = 'fhir'")[0][0]
        assert fhir_phenotypes == hpo_codings, name
        # every reference to a Patient resolved (urn:uuid through fullUrl in the Bundles): no participant unknown
        orphans = _rows(cache, "SELECT count(*) FROM biospecimens WHERE participant_id NOT IN "
                               "(SELECT participant_id FROM participants)")[0][0]
        assert orphans == 0, name


def _hpo_by_participant(resources: list[dict[str, Any]], observed: bool) -> dict[str, set[str]]:
    """participant_id -> HPO codes observed (`observed`: not refuted / entered in error) or refuted, from the JSON."""
    by_fhir_id = {r["id"]: next((i["value"] for i in r.get("identifier", []) if i.get("system") == PARTICIPANT_SYSTEM),
                                r["id"])
                  for r in resources if r["resourceType"] == "Patient"}
    found: dict[str, set[str]] = {}
    for r in resources:
        if r["resourceType"] != "Condition":
            continue
        status = {c.get("code") for c in r.get("verificationStatus", {}).get("coding", [])}
        if "entered-in-error" in status or ("refuted" in status) == observed:
            continue
        participant = by_fhir_id[r["subject"]["reference"].removeprefix("Patient/")]
        for coding in r["code"]["coding"]:
            if coding.get("system") == HPO_SYSTEM:
                found.setdefault(participant, set()).add(coding["code"])
    return found


def test_phenotype_query_includes_descendants_through_the_closure(releases: dict[str, Any]) -> None:
    from pyhpo import Ontology

    Ontology()
    observed = _hpo_by_participant(releases["resources"], observed=True)
    refuted = _hpo_by_participant(releases["resources"], observed=False)
    ancestors = {code: {t.id for t in Ontology.get_hpo_object(code).all_parents}
                 for codes in (*observed.values(), *refuted.values()) for code in codes}

    def at_or_below(term: str, annotations: dict[str, set[str]]) -> set[str]:
        return {p for p, codes in annotations.items() if any(c == term or term in ancestors[c] for c in codes)}

    def only_descendant(term: str) -> set[str]:
        return {p for p, codes in observed.items() if term not in codes and any(term in ancestors[c] for c in codes)}

    def refuted_only(term: str) -> set[str]:
        return at_or_below(term, refuted) - at_or_below(term, observed)

    # the term with the most participants annotated only below it, preferring one that some participant has
    # refuted (and not observed) at or below it; ties by id; not a root of the ontology
    candidates = sorted({a for parents in ancestors.values() for a in parents} - ROOT_TERMS,
                        key=lambda t: (not refuted_only(t), -len(only_descendant(t)), t))
    term = candidates[0]
    assert only_descendant(term) and refuted_only(term)
    sql = ("SELECT DISTINCT p.participant_id FROM phenotypes p JOIN ontology_ancestors a ON a.id = p.hpo_id "
           "WHERE a.ancestor_id = ? AND p.observed AND p.source = 'fhir'")
    for name, cache in releases["caches"].items():
        found = {r[0] for r in _rows(cache, sql, [term])}
        assert found == at_or_below(term, observed), name
        assert only_descendant(term) <= found and not refuted_only(term) & found, name
        direct = {r[0] for r in _rows(cache, "SELECT DISTINCT participant_id FROM phenotypes "
                                             "WHERE hpo_id = ? AND observed AND source = 'fhir'", [term])}
        assert direct < found, name  # the closure adds participants an exact-code match misses
