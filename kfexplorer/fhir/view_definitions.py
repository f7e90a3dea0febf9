"""SQL-on-FHIR v2 ViewDefinitions (JSON) compiled to DuckDB SQL over `fhir_resources`.

Supported: `name`, `resource`, `constant` [{name, value[x]}], `where` [{path}], `select` with `column`
[{name, path, type?, collection?}], `forEach`, `forEachOrNull`, nested `select` and `unionAll`. Paths are the
FHIRPath subset of kfexplorer.fhir.fhirpath. Every view becomes one `CREATE OR REPLACE TEMP TABLE … AS SELECT`;
the packaged definitions live in resources/fhir_views/, and any *.json in a user folder (KFEXPLORER_VIEWS_DIR, or
the folder passed in) becomes a table `view_<name>` on rebuild.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson

from kfexplorer.fhir.fhirpath import NAME, RESOURCE_TYPE, Compiler, UnsupportedFhirPath, Value
from kfexplorer.package_files import resource_path

VIEWS_DIR_ENV = "KFEXPLORER_VIEWS_DIR"
USER_VIEW_PREFIX = "view_"
ROW = "r"  # alias of fhir_resources in the compiled SQL
_SELECT_KEYS = frozenset({"column", "select", "forEach", "forEachOrNull", "unionAll", "description"})
_VIEW_KEYS = frozenset({"resourceType", "name", "resource", "constant", "where", "select", "status", "title",
                        "description", "url", "id", "meta", "fhirVersion", "text", "extension", "profile"})


class ViewDefinitionError(ValueError):
    """A ViewDefinition this compiler cannot turn into SQL (the message names the view and the problem)."""


@dataclass(frozen=True)
class CompiledView:
    name: str
    resource: str
    sql: str  # a SELECT
    params: dict[str, Any] = field(default_factory=dict)
    columns: tuple[tuple[str, str], ...] = ()  # (name, SQL type)

    def create(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        """Materialise as a temp table named `table` (an identifier chosen by code or checked by NAME)."""
        if not NAME.fullmatch(table):
            raise ViewDefinitionError(f"not a table name: {table!r}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {self.sql}", self.params)


def load_view_definition(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ViewDefinitionError(f"{path.name}: cannot read ViewDefinition: {exc}") from exc
    if not isinstance(data, dict):
        raise ViewDefinitionError(f"{path.name}: a ViewDefinition is a JSON object")
    return data


def packaged_view_definitions() -> dict[str, dict[str, Any]]:
    """The definitions shipped in resources/fhir_views, by name."""
    return _by_name(sorted(resource_path("fhir_views").glob("*.json")))


def user_view_definitions(folder: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """The *.json definitions of `folder` (default: $KFEXPLORER_VIEWS_DIR; none when unset or missing)."""
    chosen = folder if folder is not None else os.environ.get(VIEWS_DIR_ENV)
    if not chosen or not Path(chosen).is_dir():
        return {}
    return _by_name(sorted(Path(chosen).glob("*.json")))


def _by_name(paths: list[Path]) -> dict[str, dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    for path in paths:
        definition = load_view_definition(path)
        name = definition.get("name") or path.stem
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ViewDefinitionError(f"{path.name}: view name {name!r} is not an identifier")
        views[name] = definition
    return views


def _constant_value(constant: Any, view: str) -> tuple[str, Any]:
    if not isinstance(constant, dict) or not isinstance(constant.get("name"), str):
        raise ViewDefinitionError(f"view {view}: a constant needs a name")
    values = [(key, value) for key, value in constant.items() if key.startswith("value")]
    if len(values) != 1:
        raise ViewDefinitionError(f"view {view}: constant {constant['name']} needs exactly one value[x]")
    return constant["name"], values[0][1]


def compile_view_definition(definition: dict[str, Any], *, row_keys: bool = False) -> CompiledView:
    """DuckDB SQL for one ViewDefinition. `row_keys` adds the row's `fhir_id` and Bundle `full_url` first."""
    name = str(definition.get("name", "?"))
    resource = definition.get("resource")
    if not isinstance(resource, str) or not RESOURCE_TYPE.fullmatch(resource):
        raise ViewDefinitionError(f"view {name}: resource {resource!r} is not a resource type")
    unknown = set(definition) - _VIEW_KEYS
    if unknown:
        raise ViewDefinitionError(f"view {name}: unsupported keys {sorted(unknown)}")
    constants = dict(_constant_value(c, name) for c in definition.get("constant", []))
    compiler = Compiler(root=f"{ROW}.resource", resource_type=resource, constants=constants,
                        row_key_sql=f"({ROW}.resource_type || '/' || {ROW}.id)", slots=f"{ROW}.slots")
    builder = _SelectBuilder(compiler, name)
    try:
        resource_param = compiler.param(resource)
        conditions: list[str] = []
        for where in definition.get("where", []):
            if not isinstance(where, dict) or not isinstance(where.get("path"), str):
                raise ViewDefinitionError(f"view {name}: a where needs a path")
            conditions.append(compiler.as_bool(compiler.compile(where["path"])))
        columns: list[tuple[str, str, str]] = []
        joins: list[str] = []
        for select in definition.get("select", []):
            cols, js = builder.select(select, compiler.root_value())
            columns += cols
            joins += js
    except UnsupportedFhirPath as exc:
        raise ViewDefinitionError(f"view {name}: {exc}") from exc
    if not columns:
        raise ViewDefinitionError(f"view {name}: no columns")
    names = [c[0] for c in columns]
    duplicates = {n for n in names if names.count(n) > 1}
    if row_keys:
        duplicates |= {"fhir_id", "full_url"} & set(names)
    if duplicates:
        raise ViewDefinitionError(f"view {name}: duplicate columns {sorted(duplicates)}")
    outputs = [f"{sql} AS {column}" for column, sql, _ in columns]
    if row_keys:
        outputs = [f"{ROW}.id AS fhir_id", f"{ROW}.full_url AS full_url", *outputs]
    # Each row's JSON is parsed once, for every path read from the resource root (paths are built from checked
    # element names only, so they are inlined).
    paths = ", ".join(f"'{p}'" for p in compiler.root_paths) or "'$.id'"
    rows = (f"(SELECT id, full_url, resource_type, resource, json_extract(resource, [{paths}]) AS slots "
            f"FROM fhir_resources WHERE resource_type = {resource_param})")
    if compiler.root_arrays:  # arrays read item by item are split once per row
        arrays = ", ".join(f"coalesce(json_extract(slots[{compiler.root_paths.index(p) + 1}], '$[*]'), "
                           f"CAST([] AS JSON[])) AS array{n}" for n, p in enumerate(compiler.root_arrays, start=1))
        rows = f"(SELECT *, {arrays} FROM {rows})"
    sql = f"SELECT {', '.join(outputs)} FROM {rows} AS {ROW} {' '.join(joins)} WHERE {' AND '.join(conditions) or 'true'}"
    return CompiledView(name, resource, sql, compiler.params, tuple((c[0], c[2]) for c in columns))


class _SelectBuilder:
    def __init__(self, compiler: Compiler, view: str) -> None:
        self.compiler = compiler
        self.view = view
        self.aliases = 0

    def alias(self, prefix: str) -> str:
        self.aliases += 1
        return f"{prefix}{self.aliases}"

    def select(self, node: Any, context: Value) -> tuple[list[tuple[str, str, str]], list[str]]:
        """(columns as (name, SQL, type), FROM-clause joins) of one select node in `context`."""
        if not isinstance(node, dict):
            raise ViewDefinitionError(f"view {self.view}: a select is a JSON object")
        unknown = set(node) - _SELECT_KEYS
        if unknown:
            raise ViewDefinitionError(f"view {self.view}: unsupported select keys {sorted(unknown)}")
        joins: list[str] = []
        if "forEach" in node and "forEachOrNull" in node:
            raise ViewDefinitionError(f"view {self.view}: forEach and forEachOrNull together")
        for key in ("forEach", "forEachOrNull"):
            if key in node:
                collection = self.compiler.compile(str(node[key]), context)
                items = self.compiler.as_list(collection)
                alias = self.alias("f")
                if key == "forEachOrNull":
                    items = f"(CASE WHEN len({items}) > 0 THEN {items} ELSE [NULL::JSON] END)"
                joins.append(f"CROSS JOIN unnest({items}) AS {alias}(item)")
                context = Value("one", f"{alias}.item", type_name=collection.type_name)
        columns: list[tuple[str, str, str]] = []
        for column in node.get("column", []):
            if not isinstance(column, dict) or not isinstance(column.get("path"), str):
                raise ViewDefinitionError(f"view {self.view}: a column needs a name and a path")
            column_name = column.get("name")
            if not isinstance(column_name, str) or not NAME.fullmatch(column_name):
                raise ViewDefinitionError(f"view {self.view}: column name {column_name!r} is not an identifier")
            value = self.compiler.compile(column["path"], context)
            sql, sql_type = self.compiler.column_sql(value, column.get("type"), bool(column.get("collection")))
            columns.append((column_name, sql, sql_type))
        for child in node.get("select", []):
            cols, js = self.select(child, context)
            columns += cols
            joins += js
        if "unionAll" in node:
            branches = [self.select(branch, context) for branch in node["unionAll"]]
            if not branches:
                raise ViewDefinitionError(f"view {self.view}: empty unionAll")
            first = [c[0] for c in branches[0][0]]
            if any([c[0] for c in cols] != first for cols, _ in branches):
                raise ViewDefinitionError(f"view {self.view}: unionAll branches need the same columns")
            alias = self.alias("u")
            parts = [f"SELECT {', '.join(f'{sql} AS {n}' for n, sql, _ in cols)} FROM (SELECT 1) AS one_row "
                     f"{' '.join(js)}" for cols, js in branches]
            joins.append(f"CROSS JOIN LATERAL ({' UNION ALL '.join(parts)}) AS {alias}")
            columns += [(n, f"{alias}.{n}", t) for n, _, t in branches[0][0]]
        return columns, joins


