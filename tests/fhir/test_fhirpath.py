"""The FHIRPath subset: each function and operator on a hand-written resource, and clear errors for the rest."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pytest

from kfexplorer.fhir.fhirpath import UnsupportedFhirPath, parse
from kfexplorer.fhir.view_definitions import ViewDefinitionError, compile_view_definition
from kfexplorer.fhir.views import create_macros
from kfexplorer.store.clinical_schema import create_clinical_schema

KF = "https://kidsfirstdrc.org"
AGE_URL = "https://kidsfirstdrc.org/fhir/StructureDefinition/age-at-event"
PATIENT: dict[str, Any] = {
    "resourceType": "Patient", "id": "pt.1-a", "gender": "female", "active": True, "birthDate": "2011-04-02",
    "identifier": [{"system": "urn:other", "value": "O-1"}, {"system": f"{KF}/participant_id", "value": "PT_1"}],
    "name": [{"family": "Doe", "given": ["Ann", "B."]}, {"family": "Roe", "given": ["Cat"]}],
    "extension": [{"url": AGE_URL, "valueAge": {"value": 3, "unit": "a", "code": "a"}},
                  {"url": "urn:x", "valueString": "x-value"}],
    "generalPractitioner": [{"reference": "Practitioner/dr-9"}, {"reference": "https://h.org/fhir/Organization/o-1"}],
    "managingOrganization": {"reference": "urn:uuid:0b3c2a7e-3f6a-4b52-8d0c-1d8f1b9e4a11"},
}
CONDITION: dict[str, Any] = {
    "resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/pt.1-a/_history/2"},
    "onsetAge": {"value": 10, "unit": "d"}, "code": {"coding": [{"system": "s1", "code": "A"},
                                                                 {"system": "s2", "code": "B"}]},
}

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation", "id": "o1", "valueQuantity": {"value": 5.5, "unit": "kg"},
    "contained": [{"resourceType": "Patient", "id": "cp"}, {"resourceType": "Practitioner", "id": "pr"}],
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                                    "autoload_known_extensions": False})
    create_clinical_schema(connection)
    create_macros(connection)
    for resource in (PATIENT, CONDITION, OBSERVATION):
        connection.execute("INSERT INTO fhir_resources VALUES (?, ?, NULL, ?, 1)",
                           [resource["resourceType"], resource["id"], orjson.dumps(resource).decode()])
    return connection


def evaluate(con: duckdb.DuckDBPyConnection, path: str, resource: str = "Patient", type_: str | None = None,
             collection: bool = False, constants: list[dict[str, Any]] | None = None) -> Any:
    column: dict[str, Any] = {"name": "v", "path": path, "collection": collection}
    if type_:
        column["type"] = type_
    view = compile_view_definition({"name": "t", "resource": resource, "constant": constants or [],
                                    "select": [{"column": [column]}]})
    rows = con.execute(view.sql, view.params).fetchall()
    assert len(rows) == 1
    return rows[0][0]


@pytest.mark.parametrize(("path", "expected"), [
    ("gender", "female"),
    ("id", "pt.1-a"),
    ("name.family", "Doe"),  # first of a collection
    ("name.given", "Ann"),
    ("name.where(family = 'Roe').given", "Cat"),
    ("identifier.where(system = 'https://kidsfirstdrc.org/participant_id').value", "PT_1"),
    ("identifier.where(system != 'urn:other').value", "PT_1"),
    ("name.first().given.join(' ')", "Ann B."),
    ("name.given.join(',')", "Ann,B.,Cat"),
    ("name.given.join()", "AnnB.Cat"),
    ("extension('urn:x').valueString", "x-value"),
    ("extension('urn:x').value.ofType(string)", "x-value"),
    ("extension(%age).value.ofType(Age).unit", "a"),
    ("(identifier.where(system = 'none').value | id).first()", "pt.1-a"),
    ("(telecom.value | name.where(family = 'Roe').given | id).first()", "Cat"),  # empty, then a list's first
    ("((telecom.value | name.given) | gender).first()", "Ann"),
    ("(telecom.value | name.where(family = 'Zed').family).first()", None),  # every branch empty
    ("(name.given | gender).first().upper()", "ANN"),
    ("(gender | id).join('/')", "female/pt.1-a"),
    ("getResourceKey()", "Patient/pt.1-a"),
    ("generalPractitioner.first().getReferenceKey()", "Practitioner/dr-9"),
    ("generalPractitioner.where(reference.contains('Organization')).getReferenceKey(Organization)",
     "Organization/o-1"),
    ("generalPractitioner.first().getReferenceKey(Organization)", None),
    ("managingOrganization.getReferenceKey(Organization)", "urn:uuid:0b3c2a7e-3f6a-4b52-8d0c-1d8f1b9e4a11"),
    ("gender.upper()", "FEMALE"),
    ("name.where(family.lower().startsWith('ro')).family", "Roe"),
    ("telecom.value", None),
    ("'a\\'b'", "a'b"),
])
def test_paths_and_functions_give_hand_computed_values(con: duckdb.DuckDBPyConnection, path: str,
                                                       expected: Any) -> None:
    constants = [{"name": "age", "valueUri": AGE_URL}]
    assert evaluate(con, path, constants=constants) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("name.exists()", True),
    ("telecom.exists()", False),
    ("telecom.empty()", True),
    ("name.empty()", False),
    ("name.exists(family = 'Roe')", True),
    ("name.exists(family = 'Zed')", False),
    ("active", True),
    ("active = true", True),
    ("active.not()", False),
    ("gender = 'female' and active", True),
    ("gender = 'male' or active.not()", False),
    ("gender = 'male' or id = 'pt.1-a'", True),
    ("(gender = 'male').not()", True),
    ("extension.where(url = 'urn:x').exists() and name.count() = 2", True),
    ("name.given.count() = 3", True),
])
def test_boolean_expressions(con: duckdb.DuckDBPyConnection, path: str, expected: bool) -> None:
    assert evaluate(con, path, type_="boolean") is expected


def test_collections_numbers_and_choice_types(con: duckdb.DuckDBPyConnection) -> None:
    assert evaluate(con, "name.given", collection=True) == ["Ann", "B.", "Cat"]
    assert evaluate(con, "identifier.system", collection=True) == ["urn:other", f"{KF}/participant_id"]
    assert evaluate(con, "telecom.value", collection=True) == []
    assert evaluate(con, "name.count()") == 2
    assert evaluate(con, "extension.where(url = %a).valueAge.value", type_="decimal",
                    constants=[{"name": "a", "valueUri": AGE_URL}]) == 3.0
    assert evaluate(con, "onset.ofType(Age).value", resource="Condition", type_="integer") == 10
    assert evaluate(con, "code.coding.where(code = 'B').system", resource="Condition") == "s2"
    assert evaluate(con, "code.coding.code.join('+')", resource="Condition") == "A+B"
    assert evaluate(con, "subject.getReferenceKey(Patient)", resource="Condition") == "Patient/pt.1-a"
    assert evaluate(con, "%flag", resource="Condition", type_="boolean",
                    constants=[{"name": "flag", "valueBoolean": True}]) is True
    assert evaluate(con, "contained.ofType(Patient).id", resource="Observation") == "cp"
    assert evaluate(con, "contained.ofType(Practitioner).id", resource="Observation") == "pr"
    assert evaluate(con, "contained.id", resource="Observation", collection=True) == ["cp", "pr"]
    assert evaluate(con, "value.ofType(Quantity).value", resource="Observation", type_="decimal") == 5.5
    assert evaluate(con, "value.ofType(string)", resource="Observation") is None
    assert evaluate(con, "onset.ofType(Age).value = 10", resource="Condition", type_="boolean") is True
    assert evaluate(con, "onset.ofType(Age).value = %n", resource="Condition", type_="boolean",
                    constants=[{"name": "n", "valueInteger": 11}]) is False


@pytest.mark.parametrize("path", [
    "name.select(family)",  # function outside the subset
    "gender implies active",  # operator outside the subset
    "name.given.substring(1)",
    "%undefined_constant",
    "onset.value",  # a choice element needs ofType()
    "gender ~ 'x'",
    "name.first(1)",
])
def test_unsupported_fhirpath_names_the_expression(con: duckdb.DuckDBPyConnection, path: str) -> None:
    resource = "Condition" if path.startswith("onset") else "Patient"
    with pytest.raises(ViewDefinitionError) as caught:
        evaluate(con, path, resource=resource)
    assert path in str(caught.value)
    assert isinstance(caught.value.__cause__, UnsupportedFhirPath)


def test_parse_reads_literals_and_precedence() -> None:
    tree = parse("a = 'x' or b and c.exists()")
    assert tree.kind == "binary" and tree.name == "or"
    assert tree.args[1].name == "and"
    assert parse("'a\\nb'").value == "a\nb"
    assert parse("12.5").value == 12.5 and parse("true").value is True
