"""Compile a cohort into parameterised SQL that yields participant ids, and describe it in plain words.

Participant-level criteria are evaluated per participant. A sub-expression made only of occurrence-level fields
(variant, consequence, occurrence) is evaluated per carried occurrence (`has_alt`): the participant matches when
one of their carried occurrences satisfies the whole sub-expression, with every consequence field of it on the
same `consequences` row (CACHE.md "How variant criteria combine"). Under an `and` / `or` that mixes both, the
occurrence-level children form one such sub-expression, combined with the participant-level ones by the same
operator.

Values only ever become bound parameters (`?`); identifiers only come from kfexplorer.query.fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kfexplorer.query.fields import PARTICIPANT_SOURCES, FieldKind, FieldSpec, Level, field_spec
from kfexplorer.query.hgvs import HGVS_FIELD, expand_hgvs_field
from kfexplorer.query.model import MISSING_VALUE, Cohort, Criterion, Group, Node, Not, QueryError, Value
from kfexplorer.query.preaggregates import CARRIER_TABLES, EXTREME_FIELDS, EXTREMES_TABLE, occurrence_value_rows

ONTOLOGY_ID = re.compile(r"^(?:HP|MONDO|NCIT|ORPHA|DOID):[A-Za-z0-9_]+$")
PORTAL_ONTOLOGY_VALUE = re.compile(r"\(((?:HP|MONDO|NCIT|ORPHA|DOID):[A-Za-z0-9_]+)\)\s*$")
REGION = re.compile(r"^\s*(?:chr)?([0-9]{1,2}|X|Y|M|MT)\s*[:\-]\s*([0-9][0-9,]*)(?:\s*-\s*([0-9][0-9,]*))?\s*$",
                    re.IGNORECASE)


@dataclass(frozen=True)
class CompiledQuery:
    """`sql` selects distinct participant ids (one column, participant_id); run it with `params`."""

    sql: str
    params: tuple[Value, ...]
    description: str


@dataclass
class _Sql:
    text: str
    params: list[Value]


def ontology_term_id(value: Value) -> str | None:
    """The term id in an ontology value: "Seizure (HP:0001250)" → HP:0001250, "HP:0001250" → itself, else None."""
    text = str(value).strip()
    if ONTOLOGY_ID.match(text):
        return text
    found = PORTAL_ONTOLOGY_VALUE.search(text)
    return found.group(1) if found else None


def ontology_term_ids(cohort: Cohort) -> set[str]:
    """Every ontology term id named by the cohort's ontology criteria (for looking up labels)."""
    from kfexplorer.query.model import iter_criteria

    ids: set[str] = set()
    for item in iter_criteria(cohort.root):
        spec = field_spec(item.field)
        if spec.kind is FieldKind.ONTOLOGY:
            ids.update(term for term in (ontology_term_id(v) for v in item.values) if term)
    return ids


def parse_region(value: Value) -> tuple[str, int, int]:
    """"chr1:100-200" / "1:100-200" / "X:5" → (chromosome, start, end); QueryError for anything else."""
    found = REGION.match(str(value))
    if not found:
        raise QueryError(f"not a region (chromosome:start-end): {str(value)[:60]!r}")
    chromosome = found.group(1).upper()
    chromosome = "M" if chromosome == "MT" else chromosome
    start = int(found.group(2).replace(",", ""))
    end = int((found.group(3) or found.group(2)).replace(",", ""))
    if end < start:
        raise QueryError(f"region end before start: {str(value)[:60]!r}")
    return chromosome, start, end


# --- values ------------------------------------------------------------------------------------------------------


def _split_missing(values: Sequence[Value]) -> tuple[list[Value], bool]:
    present = [v for v in values if not (isinstance(v, str) and v == MISSING_VALUE)]
    return present, len(present) != len(values)


def _as_bool(spec: FieldSpec, value: Value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise QueryError(f"field {spec.name!r}: {str(value)[:40]!r} is not true or false")


def _as_number(spec: FieldSpec, value: Value) -> float | int:
    if isinstance(value, bool):
        raise QueryError(f"field {spec.name!r}: expected a number")
    if isinstance(value, int | float):
        return value
    try:
        number = float(value)
    except ValueError:
        raise QueryError(f"field {spec.name!r}: {str(value)[:40]!r} is not a number") from None
    return int(number) if number.is_integer() else number


def _typed(spec: FieldSpec, values: Sequence[Value]) -> list[Value]:
    if spec.kind is FieldKind.BOOLEAN:
        return [_as_bool(spec, v) for v in values]
    if spec.kind is FieldKind.NUMERIC:
        return [_as_number(spec, v) for v in values]
    return [str(v) for v in values]


def _placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


# --- one criterion as a row predicate ---------------------------------------------------------------------------


def _membership(spec: FieldSpec, values: list[Value]) -> _Sql:
    """TRUE when the row's value is one of `values` (for list columns: shares one), NULL-safe."""
    column = spec.column
    if spec.kind is FieldKind.ONTOLOGY:
        ids = [term for term in (ontology_term_id(v) for v in values) if term]
        names = [str(v).strip().lower() for v in values if not ontology_term_id(v)]
        parts: list[str] = []
        params: list[Value] = []
        if ids:
            marks = _placeholders(len(ids))
            parts.append(f"{column} IN ({marks})")
            parts.append(f"{column} IN (SELECT oa.id FROM ontology_ancestors oa WHERE oa.ancestor_id IN ({marks}))")
            params += [*ids, *ids]
        if names:
            marks = _placeholders(len(names))
            parts.append(
                f"{column} IN (SELECT oa.id FROM ontology_ancestors oa JOIN ontology_terms ot "
                f"ON ot.id = oa.ancestor_id WHERE lower(ot.label) IN ({marks}))"
            )
            params += names
        return _Sql("(" + " OR ".join(parts) + ")", params)
    if spec.kind is FieldKind.REGION:
        parts = []
        params = []
        for value in values:
            chromosome, start, end = parse_region(value)
            parts.append("(o.chromosome = ? AND o.start BETWEEN ? AND ?)")
            params += [chromosome, start, end]
        return _Sql("(" + " OR ".join(parts) + ")", params)
    if spec.is_list:
        return _Sql(f"list_has_any({column}, [{_placeholders(len(values))}])", list(values))
    if len(values) == 1:
        return _Sql(f"{column} = ?", list(values))
    return _Sql(f"{column} IN ({_placeholders(len(values))})", list(values))


def _row_predicate(spec: FieldSpec, op: str, raw_values: Sequence[Value]) -> _Sql:
    """A predicate on one row of the field's source that is TRUE or FALSE (never NULL)."""
    present, with_missing = _split_missing(raw_values)
    values = _typed(spec, present)
    column = spec.column
    if op in ("between", ">=", "<=", ">", "<"):
        if op == "between":
            if len(values) != 2:
                raise QueryError(f"field {spec.name!r}: 'between' needs two values")
            core = _Sql(f"{column} BETWEEN ? AND ?", sorted(values))  # type: ignore[type-var]
        else:
            if len(values) != 1:
                raise QueryError(f"field {spec.name!r}: {op!r} needs one value")
            core = _Sql(f"{column} {op} ?", values)
    elif op == "contains":
        texts = [str(v).lower() for v in values]
        core = _Sql("(" + " OR ".join(f"contains(lower({column}), ?)" for _ in texts) + ")", list(texts))
    elif op in ("in", "not_in", "some_not_in"):
        core = _membership(spec, values) if values else _Sql("FALSE", [])
    else:
        raise QueryError(f"field {spec.name!r}: operator {op!r} is not supported here")
    if op in ("between", ">=", "<=", ">", "<", "contains") and not values:
        core = _Sql("FALSE", [])
    text = f"COALESCE({core.text}, FALSE)"
    if with_missing:
        text = f"({text} OR {column} IS NULL)"
    return _Sql(text, core.params)


def _check(spec: FieldSpec, item: Criterion) -> None:
    if item.op not in spec.operators:
        raise QueryError(f"field {spec.name!r} ({spec.kind.value}) does not take the operator {item.op!r}")


# --- participant level -------------------------------------------------------------------------------------------


def _participant_rows(spec: FieldSpec, predicate: _Sql) -> _Sql:
    """`p.participant_id IN (participants with a row of the field's source satisfying predicate)`."""
    source = PARTICIPANT_SOURCES[spec.source]
    condition = f" AND ({spec.condition})" if spec.condition else ""
    return _Sql(
        f"p.participant_id IN (SELECT {source.participant_column} FROM {source.from_sql} "
        f"WHERE {source.participant_column} IS NOT NULL{condition} AND {predicate.text})",
        predicate.params,
    )


def _participant_criterion(item: Criterion) -> _Sql:
    spec = field_spec(item.field)
    _check(spec, item)
    if spec.source == "participants":
        if item.op == "all":
            parts = [_row_predicate(spec, "in", [v]) for v in item.values]
            return _Sql("(" + " AND ".join(p.text for p in parts) + ")", [x for p in parts for x in p.params])
        predicate = _row_predicate(spec, item.op, item.values)
        if item.op in ("not_in", "some_not_in"):
            return _Sql(f"NOT {predicate.text}", predicate.params)
        return predicate
    if item.op == "all":
        parts = [_participant_rows(spec, _row_predicate(spec, "in", [v])) for v in item.values]
        return _Sql("(" + " AND ".join(p.text for p in parts) + ")", [x for p in parts for x in p.params])
    if item.op == "not_in":
        inner = _participant_rows(spec, _row_predicate(spec, "in", item.values))
        return _Sql(f"NOT {inner.text}", inner.params)
    if item.op == "some_not_in":
        predicate = _row_predicate(spec, "in", item.values)
        return _participant_rows(spec, _Sql(f"NOT {predicate.text}", predicate.params))
    return _participant_rows(spec, _row_predicate(spec, item.op, item.values))


# --- occurrence level --------------------------------------------------------------------------------------------


def is_occurrence_level(node: Node) -> bool:
    """True when every field of `node` is a variant / consequence / occurrence field (and there is one)."""
    if isinstance(node, Criterion):
        return field_spec(node.field).level is Level.OCCURRENCE
    if isinstance(node, Not):
        return is_occurrence_level(node.child)
    return bool(node.children) and all(is_occurrence_level(child) for child in node.children)


def required_variant_criteria(node: Node) -> Node | None:
    """What every call of a member must satisfy: the occurrence-level criteria `node` requires through `and`s at any
    depth, as one node (None when it requires none). An `or` or `not` mixing participant and variant criteria
    requires no particular call (a member may qualify through the other side)."""
    if is_occurrence_level(node):
        return node
    if isinstance(node, Group) and node.op == "and":
        found = [part for part in (required_variant_criteria(child) for child in node.children) if part is not None]
        if not found:
            return None
        return found[0] if len(found) == 1 else Group("and", tuple(found))
    return None


def _occurrence_expression(node: Node, sources: set[str]) -> _Sql:
    if isinstance(node, Criterion):
        spec = field_spec(node.field)
        _check(spec, node)
        if spec.name == HGVS_FIELD:  # HGVS expressions become registry criteria on the same call
            return _occurrence_expression(expand_hgvs_field(node), sources)
        sources.add(spec.source)
        if node.op == "all":
            if spec.is_list:
                present = _typed(spec, _split_missing(node.values)[0])
                return _Sql(f"COALESCE(list_has_all({spec.column}, [{_placeholders(len(present))}]), FALSE)",
                            present)
            parts = [_row_predicate(spec, "in", [v]) for v in node.values]
            return _Sql("(" + " AND ".join(p.text for p in parts) + ")", [x for p in parts for x in p.params])
        if node.op == "some_not_in" and spec.is_list:
            present = _typed(spec, _split_missing(node.values)[0])
            return _Sql(f"NOT COALESCE(list_has_all([{_placeholders(len(present))}], {spec.column}), TRUE)", present)
        predicate = _row_predicate(spec, "in" if node.op in ("not_in", "some_not_in") else node.op, node.values)
        if node.op in ("not_in", "some_not_in"):
            return _Sql(f"NOT {predicate.text}", predicate.params)
        return predicate
    if isinstance(node, Not):
        inner = _occurrence_expression(node.child, sources)
        return _Sql(f"NOT {inner.text}", inner.params)
    if not node.children:
        return _Sql("TRUE" if node.op == "and" else "FALSE", [])
    parts = [_occurrence_expression(child, sources) for child in node.children]
    joiner = " AND " if node.op == "and" else " OR "
    return _Sql("(" + joiner.join(p.text for p in parts) + ")", [x for p in parts for x in p.params])


# --- inheritance: family-aware criteria are built by kfexplorer.query.inheritance --------------------


def occurrence_filter(node: Node) -> tuple[str, list[Value], set[str]]:
    """A predicate on one carried call `o` (joined to `v` / `c` as the returned sources say) that selects the calls
    satisfying the occurrence-level `node`, inheritance criteria included (the variants of a cohort)."""
    from kfexplorer.query.inheritance import occurrence_filter_sql

    return occurrence_filter_sql(node, _occurrence_expression)


def _carriers(node: Node, preaggregated: bool = False) -> _Sql:
    """`p.participant_id IN (carriers of an occurrence satisfying node)`; over the pre-aggregated tables when
    `preaggregated` and they give exactly the same participants."""
    from kfexplorer.query.inheritance import carriers_sql, mentions_inheritance

    if mentions_inheritance(node):
        return _Sql(*carriers_sql(node, _occurrence_expression))
    # --- end of the inheritance hook ---
    if preaggregated and (fast := _preaggregated_carriers(node)) is not None:
        return fast
    sources: set[str] = set()
    expression = _occurrence_expression(node, sources)
    joins = ""
    if "variants" in sources:
        joins += " LEFT JOIN variants v ON v.locus_id = o.locus_id"
    if "consequences" in sources:
        joins += " LEFT JOIN consequences c ON c.locus_id = o.locus_id"
    return _Sql(
        f"p.participant_id IN (SELECT o.participant_id FROM occurrences o{joins} "
        f"WHERE COALESCE(o.has_alt, FALSE) AND o.participant_id IS NOT NULL AND {expression.text})",
        expression.params,
    )


def _participant_expression(node: Node, preaggregated: bool = False) -> _Sql:
    if is_occurrence_level(node):
        return _carriers(node, preaggregated)
    if isinstance(node, Criterion):
        return _participant_criterion(node)
    if isinstance(node, Not):
        inner = _participant_expression(node.child, preaggregated)
        return _Sql(f"NOT {inner.text}", inner.params)
    if not node.children:
        return _Sql("TRUE" if node.op == "and" else "FALSE", [])
    occurrence_children = [child for child in node.children if is_occurrence_level(child)]
    parts = [_participant_expression(child, preaggregated) for child in node.children
             if not is_occurrence_level(child)]
    if occurrence_children:
        block: Node = occurrence_children[0] if len(occurrence_children) == 1 else Group(
            node.op, tuple(occurrence_children))
        parts.append(_carriers(block, preaggregated))
    joiner = " AND " if node.op == "and" else " OR "
    return _Sql("(" + joiner.join(p.text for p in parts) + ")", [x for p in parts for x in p.params])


def compile_cohort(cohort: Cohort, term_labels: Mapping[str, str] | None = None, *,
                   preaggregated: bool = False) -> CompiledQuery:
    """The SQL (and its parameters) selecting the cohort's participant ids, and its description.

    `preaggregated`: the cache holds the tables of kfexplorer.query.preaggregates (at its version); variant
    criteria they answer exactly are read from them. Raises UnknownFieldError naming a field the registry does
    not know, QueryError for a malformed criterion."""
    expression = _participant_expression(cohort.root, preaggregated)
    sql = (
        "SELECT DISTINCT p.participant_id FROM participants p "
        f"WHERE p.participant_id IS NOT NULL AND {expression.text}"
    )
    return CompiledQuery(sql, tuple(expression.params), describe(cohort.root, term_labels))


def _facet_spec(field: str) -> FieldSpec:
    spec = field_spec(field)
    if spec.kind not in (FieldKind.CATEGORICAL, FieldKind.BOOLEAN):
        raise QueryError(f"field {spec.name!r} ({spec.kind.value}) has no value counts")
    return spec


def _facet_rows(spec: FieldSpec, preaggregated: bool) -> str:
    """SQL of (participant_id, value) rows a facet counts (occurrence-level: one per carried call or, when
    `preaggregated`, the field's carrier table, which holds the same distinct pairs)."""
    if spec.level is Level.OCCURRENCE:
        table = CARRIER_TABLES.get(spec.name) if preaggregated else None
        return f"SELECT participant_id, value FROM {table}" if table else occurrence_value_rows(spec)
    value = f"unnest({spec.column})" if spec.is_list else spec.column
    source = PARTICIPANT_SOURCES[spec.source]
    condition = f" AND ({spec.condition})" if spec.condition else ""
    return (f"SELECT {source.participant_column} AS participant_id, {value} AS value "
            f"FROM {source.from_sql} WHERE TRUE{condition}")


def compile_facet(cohort: Cohort, field: str, *, preaggregated: bool = False) -> CompiledQuery:
    """SQL yielding (value, participants) for a categorical or boolean `field` over the cohort without its own
    top-level criteria on that field; `participants` counts distinct participants (for occurrence-level fields:
    carriers of a call with that value). List columns count each element."""
    spec = _facet_spec(field)
    base = compile_cohort(cohort.without_field(field), preaggregated=preaggregated)
    inner = _facet_rows(spec, preaggregated)
    sql = (f"SELECT value, count(DISTINCT participant_id) AS participants FROM ({inner}) facet "
           f"WHERE participant_id IN ({base.sql}) GROUP BY value ORDER BY participants DESC, value")
    return CompiledQuery(sql, base.params, f"{spec.label} among: {base.description}")


def compile_facets(cohort: Cohort, fields: Sequence[str], *, preaggregated: bool = False) -> CompiledQuery:
    """ONE query for the facets of several `fields` (each as compile_facet says): it yields one row whose column
    `facet<i>` is the list of {value, participants} of fields[i], in compile_facet's order (NULL for none).
    Facets whose cohorts-without-their-field are the same share one materialized evaluation of it."""
    bases: dict[tuple[str, tuple[Value, ...]], int] = {}
    ctes: list[str] = []
    params: list[Value] = []
    columns: list[str] = []
    for index, field in enumerate(fields):
        spec = _facet_spec(field)
        base = compile_cohort(cohort.without_field(field), preaggregated=preaggregated)
        key = (base.sql, base.params)
        if key not in bases:
            bases[key] = len(bases)
            ctes.append(f"base{bases[key]} AS MATERIALIZED ({base.sql})")
            params += base.params
        columns.append(
            "(SELECT list({'value': value, 'participants': participants} ORDER BY participants DESC, value) "
            f"FROM (SELECT value, count(DISTINCT participant_id) AS participants FROM ({_facet_rows(spec, preaggregated)})"
            f" facet WHERE participant_id IN (SELECT participant_id FROM base{bases[key]}) GROUP BY value))"
            f" AS facet{index}")
    if not columns:
        raise QueryError("no facet fields")
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(columns)}"
    return CompiledQuery(sql, tuple(params), describe(cohort.root))


# --- fast paths over the pre-aggregated tables (kfexplorer.query.preaggregates) ------------------------------------


def _preaggregated_carriers(node: Node) -> _Sql | None:
    """`p.participant_id IN (…)` over the pre-aggregated tables when that gives exactly the participants the
    per-occurrence path gives for the occurrence-level `node`; None when it cannot (the general path then runs).

    Answered: `field in [v…]` for a field with a carrier table (`__missing__` too, except on list fields, whose
    NULL lists the carrier table does not keep); `<`, `<=`, `>`, `>=` one value (optionally or missing) on a field
    of the extremes table; an `or` of those (a union: "some call satisfies A or B" = "some call satisfies A" or
    "some call satisfies B"). Never `and`, `not`, `all`, `not_in`, `between`: those need one call to satisfy all."""
    if isinstance(node, Group):
        if len(node.children) == 1:
            return _preaggregated_carriers(node.children[0])
        if node.op != "or" or not node.children:
            return None
        parts = [_preaggregated_carriers(child) for child in node.children]
        if any(part is None for part in parts):
            return None
        found = [part for part in parts if part is not None]
        return _Sql("(" + " OR ".join(p.text for p in found) + ")", [x for p in found for x in p.params])
    if not isinstance(node, Criterion):
        return None
    spec = field_spec(node.field)
    _check(spec, node)
    present, with_missing = _split_missing(node.values)
    table = CARRIER_TABLES.get(spec.name)
    if table is not None and node.op == "in" and spec.kind is FieldKind.CATEGORICAL:
        if with_missing and spec.is_list:
            return None
        values = _typed(spec, present)
        conditions = ([f"value IN ({_placeholders(len(values))})"] if values else []) + (
            ["value IS NULL"] if with_missing else [])
        return _Sql(f"p.participant_id IN (SELECT participant_id FROM {table} WHERE {' OR '.join(conditions)})",
                    values)
    columns = EXTREME_FIELDS.get(spec.name)
    if columns is not None and node.op in ("<", "<=", ">", ">=") and len(present) == 1:
        bound = columns.minimum if node.op in ("<", "<=") else columns.maximum
        condition = f"COALESCE({bound} {node.op} ?, FALSE)"
        if with_missing:
            condition = f"({condition} OR {columns.missing})"
        return _Sql(f"p.participant_id IN (SELECT participant_id FROM {EXTREMES_TABLE} WHERE {condition})",
                    _typed(spec, present))
    return None


def attrition_steps(cohort: Cohort) -> list[tuple[Node, Cohort]]:
    """For each top-level criterion in order: the criterion and the cohort of it and all before it."""
    children = cohort.top_level()
    return [(child, Cohort(Group("and", children[: index + 1]), cohort.name)) for index, child in
            enumerate(children)]


# --- description -------------------------------------------------------------------------------------------------

_OPERATOR_WORDS = {
    "in": "is", "not_in": "is not", "some_not_in": "has a value other than", "all": "has all of",
    "between": "is between", ">=": "≥", "<=": "≤", ">": ">", "<": "<", "contains": "contains",
}


def _value_words(spec: FieldSpec, value: Value, term_labels: Mapping[str, str]) -> str:
    if isinstance(value, str) and value == MISSING_VALUE:
        return "missing"
    if spec.kind is FieldKind.BOOLEAN:
        try:
            return "true" if _as_bool(spec, value) else "false"
        except QueryError:
            return str(value)
    if spec.kind is FieldKind.ONTOLOGY:
        term = ontology_term_id(value)
        if term and str(value).strip() == term and term in term_labels:
            return f"{term_labels[term]} ({term})"
        return str(value)
    return str(value)


def describe_criterion(item: Criterion, term_labels: Mapping[str, str] | None = None) -> str:
    """One criterion in plain words, e.g. "Sex is female or male", "gnomAD genomes 3 AF < 0.01 or missing"."""
    spec = field_spec(item.field)
    labels = term_labels or {}
    present, with_missing = _split_missing(item.values)
    words = [_value_words(spec, v, labels) for v in present]
    unit = f" {spec.unit}" if spec.unit else ""
    if item.op == "between" and len(words) == 2:
        text = f"{spec.label} is between {words[0]} and {words[1]}{unit}"
    elif item.op in (">=", "<=", ">", "<") and words:
        text = f"{spec.label} {_OPERATOR_WORDS[item.op]} {words[0]}{unit}"
    else:
        joiner = " and " if item.op == "all" else " or "
        listed = joiner.join(words) if words else "missing"
        if spec.kind is FieldKind.ONTOLOGY and len(words) == 1:
            listed = f"{listed} or a descendant"
        elif spec.kind is FieldKind.ONTOLOGY and words:  # the descendants of every listed term, not just the last
            listed = f"{listed}, each or a descendant" if item.op == "all" else (
                f"{listed} or a descendant of any of them")
        text = f"{spec.label} {_OPERATOR_WORDS[item.op]} {listed}"
        if words and with_missing:
            text += " or missing"
        return text
    return text + (" or missing" if with_missing else "")


def _describe(node: Node, labels: Mapping[str, str], nested: bool, in_variant: bool) -> str:
    if not in_variant and is_occurrence_level(node):
        return "carries a variant where " + _describe(node, labels, True, True)
    if isinstance(node, Criterion):
        return describe_criterion(node, labels)
    if isinstance(node, Not):
        return "not (" + _describe(node.child, labels, False, in_variant) + ")"
    if not node.children:
        return "all participants" if node.op == "and" else "no participants"
    if len(node.children) == 1:
        return _describe(node.children[0], labels, nested, in_variant)
    children: list[Node] = list(node.children)
    if not in_variant:
        occurrence_children = [child for child in children if is_occurrence_level(child)]
        if len(occurrence_children) > 1:
            children = [child for child in children if not is_occurrence_level(child)]
            children.append(Group(node.op, tuple(occurrence_children)))
    text = f" {node.op} ".join(_describe(child, labels, True, in_variant) for child in children)
    return f"({text})" if nested else text


def describe(node: Node, term_labels: Mapping[str, str] | None = None) -> str:
    """The cohort tree in plain words (ontology ids shown with their labels when `term_labels` has them)."""
    return _describe(node, term_labels or {}, False, False)

