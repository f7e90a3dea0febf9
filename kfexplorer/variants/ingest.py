"""Load one release Parquet object (occurrences, variants or consequences) into its native cache table.

The contract columns are selected by name and cast to the contract types; extra columns are ignored. A column
absent from the file comes from the object's hive partition path (`study_id=…/chromosome=…`), or is derived
(locus_id from chromosome-start-reference-alternate, has_alt from calls or zygosity, a consequence's chromosome
and start from its locus_id), or is NULL when optional. A file that is not readable Parquet, misses a required
column, or holds a column of an incompatible type is returned as a QuarantineItem before anything is written;
an error DuckDB raises while inserting (corrupt data pages, overflow) propagates: the caller owns the transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kfexplorer.store.records import QuarantineItem
from kfexplorer.store.schema import CONTRACT_TABLES, SOURCE_ID_COLUMN, ContractColumn, quote_identifier

PARQUET_KIND_BY_PREFIX: dict[str, str] = {
    "variants/occurrences/": "occurrences",
    "variants/variants/": "variants",
    "variants/consequences/": "consequences",
}


def partition_values(rel_path: str) -> dict[str, str]:
    """Hive partition values (`name=value` folders) of a release-relative path."""
    values: dict[str, str] = {}
    for part in rel_path.split("/")[:-1]:
        name, sep, value = part.partition("=")
        if sep and name:
            values[name] = unquote(value)
    return values


def _is_string(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_string(t.value_type)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_list_of(t: pa.DataType, item_check: Any) -> bool:
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t):
        value_type = t.value_type
        return bool(pa.types.is_null(value_type) or item_check(value_type))
    return False


def type_is_compatible(arrow_type: pa.DataType, sql_type: str) -> bool:
    """Whether a Parquet column of `arrow_type` can be cast to the contract `sql_type` without guessing."""
    if pa.types.is_null(arrow_type):
        return True
    if sql_type == "VARCHAR":
        return _is_string(arrow_type) or pa.types.is_integer(arrow_type)
    if sql_type in ("BIGINT", "INTEGER"):
        return bool(pa.types.is_integer(arrow_type))
    if sql_type == "DOUBLE":
        return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type))
    if sql_type == "BOOLEAN":
        return bool(pa.types.is_boolean(arrow_type))
    if sql_type == "INTEGER[]":
        return _is_list_of(arrow_type, pa.types.is_integer)
    if sql_type == "VARCHAR[]":
        return _is_list_of(arrow_type, _is_string)
    return False


def _derived_expression(table: str, column: str, present: set[str]) -> str | None:
    """SQL computing a missing contract column from columns the file has, or None."""
    q = quote_identifier
    if column == "locus_id" and {"chromosome", "start", "reference", "alternate"} <= present:
        return (
            f"CAST({q('chromosome')} AS VARCHAR) || '-' || CAST({q('start')} AS VARCHAR) || '-' || "
            f"CAST({q('reference')} AS VARCHAR) || '-' || CAST({q('alternate')} AS VARCHAR)"
        )
    if table == "occurrences" and column == "has_alt":
        if "calls" in present:
            return f"coalesce(list_max({q('calls')}) > 0, false)"
        if "zygosity" in present:
            return f"{q('zygosity')} IN ('HOM', 'HET', 'HEM')"
    if table == "consequences" and "locus_id" in present:
        if column == "chromosome":
            return f"split_part({q('locus_id')}, '-', 1)"
        if column == "start":
            return f"TRY_CAST(split_part({q('locus_id')}, '-', 2) AS BIGINT)"
    return None


def build_select(table: str, rel_path: str, schema: pa.Schema) -> tuple[list[str], list[str], list[Any], list[str]]:
    """The select expressions (one per contract column) over an inner query, the inner query's extra columns
    (partition values absent from the file), their bound parameters, and the problems found."""
    columns: tuple[ContractColumn, ...] = CONTRACT_TABLES[table]
    file_types = {field.name: field.type for field in schema}
    partitions = partition_values(rel_path)
    contract_names = {c.name for c in columns}
    from_path = [name for name in partitions if name in contract_names and name not in file_types]
    present = set(file_types) | set(from_path)
    inner_columns = [f"CAST(? AS VARCHAR) AS {quote_identifier(name)}" for name in from_path]
    params: list[Any] = [partitions[name] for name in from_path]
    expressions: list[str] = []
    problems: list[str] = []
    for column in columns:
        name = quote_identifier(column.name)
        if column.name in file_types and not type_is_compatible(file_types[column.name], column.sql_type):
            problems.append(f"column {column.name} has type {file_types[column.name]}, expected {column.sql_type}")
        elif column.name in present:
            expressions.append(f"CAST({name} AS {column.sql_type})")
        elif (derived := _derived_expression(table, column.name, present)) is not None:
            expressions.append(f"CAST({derived} AS {column.sql_type})")
        elif column.required:
            problems.append(f"required column {column.name} is missing")
        else:
            expressions.append(f"CAST(NULL AS {column.sql_type})")
    return expressions, inner_columns, params, problems


def ingest_parquet_object(
    con: duckdb.DuckDBPyConnection, table: str, source_id: int, rel_path: str, local_path: Path
) -> list[QuarantineItem]:
    """Insert the rows of one Parquet object into `table` (occurrences | variants | consequences).

    Returns [QuarantineItem] (and inserts nothing) when the file is unreadable or does not fit the contract.
    """
    if table not in CONTRACT_TABLES:
        raise ValueError(f"not a release Parquet table: {table}")
    try:
        schema = pq.read_schema(local_path)
    except Exception as error:  # pyarrow raises several types for a damaged file
        return [QuarantineItem(rel_path, f"not a readable Parquet file: {error}")]
    expressions, inner_columns, params, problems = build_select(table, rel_path, schema)
    if problems:
        return [QuarantineItem(rel_path, "does not fit the data contract: " + "; ".join(problems))]
    column_list = ", ".join(quote_identifier(c.name) for c in CONTRACT_TABLES[table])
    # identifiers come from CONTRACT_TABLES; values (partition values, source id, path) are bound
    inner = ", ".join(["*", *inner_columns])
    sql = (
        f"INSERT INTO {table} ({column_list}, {SOURCE_ID_COLUMN}) "
        f"SELECT {', '.join(expressions)}, ? FROM (SELECT {inner} FROM read_parquet(?, hive_partitioning = false))"
    )
    con.execute(sql, [source_id, *params, str(local_path)])
    return []
