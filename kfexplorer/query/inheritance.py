"""Family-aware inheritance criteria (SQON field `inheritance`) compiled to parameterised SQL.

A criterion `{"field": "inheritance", "op": "in", "values": [mode, …, setting, …]}` sits among the variant criteria
of a group; those other variant criteria define the *qualifying* calls and the criterion keeps the calls (and their
carriers) that fit one of the modes. Modes are computed only from the zygosity, GQ and DP of the participant and
of the parents (occurrence columns `mother_*` / `father_*`), the parents' affected status (the occurrence's
`mother_affected_status` / `father_affected_status`) and the participant's sex (`participants.sex`, from FHIR);
never from `parental_origin` or `transmission_mode`. A parent who is absent or not sequenced (NULL zygosity)
satisfies no condition on that parent.

- `de_novo`: participant HET; both parents WT, each with GQ >= min_parent_gq (20) and DP >= min_parent_dp (10);
- `autosomal_recessive`: participant HOM on an autosome (1–22); both parents HET;
- `compound_heterozygous`: participant HET at >= 2 distinct qualifying loci (locus_id) of one gene
  (consequences.gene_symbol), at least one with the mother HET or HOM and the father WT, and at least one the other
  way round. This is a condition across occurrences: the criterion must be the variant block itself or a direct
  child of the block's `and` (the other children are the qualifying calls);
- `x_linked_recessive`: on chrX, a male participant HEM or HOM; mother HET or HOM; father WT;
- `autosomal_dominant`: participant HET on an autosome; a parent HET or HOM whose affected status is true.

Settings travel as extra values `name=number`: `min_parent_gq=30`, `min_parent_dp=15` (both apply to `de_novo`).
Operators, per call: `in` (any of the modes), `all` (every mode), `not_in` / `some_not_in` (none of them);
`compound_heterozygous` takes `in` only. A value that is no mode matches no call, as any categorical value that
is absent from the data (the description shows it as typed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from kfexplorer.query.model import Criterion, Group, Node, Not, QueryError, Value

FIELD = "inheritance"
DE_NOVO = "de_novo"
AUTOSOMAL_RECESSIVE = "autosomal_recessive"
COMPOUND_HETEROZYGOUS = "compound_heterozygous"
X_LINKED_RECESSIVE = "x_linked_recessive"
AUTOSOMAL_DOMINANT = "autosomal_dominant"
MODES: tuple[str, ...] = (DE_NOVO, AUTOSOMAL_RECESSIVE, COMPOUND_HETEROZYGOUS, X_LINKED_RECESSIVE,
                          AUTOSOMAL_DOMINANT)
MODE_LABELS: dict[str, str] = {
    DE_NOVO: "de novo", AUTOSOMAL_RECESSIVE: "autosomal recessive", COMPOUND_HETEROZYGOUS: "compound heterozygous",
    X_LINKED_RECESSIVE: "X-linked recessive", AUTOSOMAL_DOMINANT: "autosomal dominant",
}

_AUTOSOME = "o.chromosome IN (" + ", ".join(f"'{n}'" for n in range(1, 23)) + ")"
_CARRIED = "COALESCE(o.has_alt, FALSE) AND o.participant_id IS NOT NULL"
_MOTHER_HAS = "o.mother_zygosity IN ('HET', 'HOM')"
_FATHER_HAS = "o.father_zygosity IN ('HET', 'HOM')"


@dataclass(frozen=True)
class InheritanceSettings:
    """Adjustable thresholds (defaults of issue #5)."""

    min_parent_gq: int = 20
    min_parent_dp: int = 10


SETTING_NAMES: tuple[str, ...] = ("min_parent_gq", "min_parent_dp")


class SqlFragment(Protocol):
    text: str
    params: list[Value]


# The compiler's occurrence-expression builder: (node, sources it adds to) -> fragment over o / v / c.
ExpressionBuilder = Callable[[Node, set[str]], SqlFragment]


def is_inheritance(node: Node) -> bool:
    return isinstance(node, Criterion) and node.field == FIELD


def mentions_inheritance(node: Node) -> bool:
    """True when an inheritance criterion appears anywhere in `node`."""
    if isinstance(node, Criterion):
        return node.field == FIELD
    if isinstance(node, Not):
        return mentions_inheritance(node.child)
    return any(mentions_inheritance(child) for child in node.children)


@dataclass(frozen=True)
class ParsedValues:
    """An inheritance criterion's known modes, its settings, and whether it named a value that is no mode."""

    modes: tuple[str, ...]
    settings: InheritanceSettings
    has_unknown: bool


def parse_values(item: Criterion) -> ParsedValues:
    """The modes and settings of an inheritance criterion. A value that is no mode matches no call (as any
    categorical value absent from the data); a malformed setting (`min_parent_gq=abc`) is a QueryError."""
    modes: list[str] = []
    settings = InheritanceSettings()
    unknown = False
    for value in item.values:
        text = str(value).strip()
        name, equals, number = (part.strip() for part in text.partition("="))
        if equals and name in SETTING_NAMES:
            try:
                amount = int(number)
            except ValueError:
                raise QueryError(f"field {FIELD!r}: {name} needs a whole number, not {number[:20]!r}") from None
            settings = replace(settings, **{name: amount})
        elif text in MODES:
            if text not in modes:
                modes.append(text)
        else:
            unknown = True
    return ParsedValues(tuple(modes), settings, unknown)


def describe_values(values: Sequence[Value]) -> str:
    """"de novo (parents GQ ≥ 30) or autosomal recessive" for the criterion's values."""
    try:
        parsed = parse_values(Criterion(FIELD, "in", tuple(values)))
    except QueryError:
        return " or ".join(str(v) for v in values)
    modes, settings = parsed.modes, parsed.settings
    words = [MODE_LABELS[m] for m in modes]
    if DE_NOVO in modes and settings != InheritanceSettings():
        index = modes.index(DE_NOVO)
        words[index] += f" (parents GQ ≥ {settings.min_parent_gq}, DP ≥ {settings.min_parent_dp})"
    return " or ".join(words)


def _mode_predicate(mode: str, settings: InheritanceSettings) -> tuple[str, list[Value]]:
    """A predicate over one occurrence `o` for a single-occurrence mode."""
    if mode == DE_NOVO:
        return ("(o.zygosity = 'HET' AND o.mother_zygosity = 'WT' AND o.father_zygosity = 'WT' "
                "AND o.mother_gq >= ? AND o.mother_dp >= ? AND o.father_gq >= ? AND o.father_dp >= ?)",
                [settings.min_parent_gq, settings.min_parent_dp, settings.min_parent_gq, settings.min_parent_dp])
    if mode == AUTOSOMAL_RECESSIVE:
        return (f"(o.zygosity = 'HOM' AND {_AUTOSOME} AND o.mother_zygosity = 'HET' AND o.father_zygosity = 'HET')",
                [])
    if mode == X_LINKED_RECESSIVE:
        return ("(o.chromosome = 'X' AND o.zygosity IN ('HEM', 'HOM') AND " + _MOTHER_HAS
                + " AND o.father_zygosity = 'WT' AND o.participant_id IN "
                "(SELECT xp.participant_id FROM participants xp WHERE lower(xp.sex) = 'male'))", [])
    if mode == AUTOSOMAL_DOMINANT:
        return (f"(o.zygosity = 'HET' AND {_AUTOSOME} AND (({_MOTHER_HAS} AND o.mother_affected_status) "
                f"OR ({_FATHER_HAS} AND o.father_affected_status)))", [])
    raise QueryError(f"field {FIELD!r}: {mode!r} is not a single-call mode")


def _single_call_predicate(item: Criterion) -> tuple[str, list[Value]]:
    """The criterion as a predicate on one call: the list of the named modes that hold for the call, matched
    against the criterion's values (all bound) like a list column: `in` any of them, `all` every one, `not_in` /
    `some_not_in` none of them. A value that is no mode is never in the list."""
    parsed = parse_values(item)
    if COMPOUND_HETEROZYGOUS in parsed.modes:
        raise QueryError("compound_heterozygous takes the operator 'in' and must sit directly in the variant "
                         "criteria's AND group")
    if item.op not in ("in", "all", "not_in", "some_not_in"):
        raise QueryError(f"field {FIELD!r} does not take the operator {item.op!r}")
    named = [str(v).strip() for v in item.values
             if not (str(v).partition("=")[1] and str(v).partition("=")[0].strip() in SETTING_NAMES)]
    if not named:
        return ("TRUE" if item.op in ("not_in", "some_not_in") else "FALSE"), []
    parts = [(mode, *_mode_predicate(mode, parsed.settings)) for mode in parsed.modes]
    # mode names are code constants (MODES); the criterion's values are bound
    held = ("[" + ", ".join(f"CASE WHEN {text} THEN '{mode}' END" for mode, text, _ in parts) + "]"
            if parts else "[]::VARCHAR[]")
    params: list[Value] = [x for _, _, ps in parts for x in ps]
    marks = ", ".join("?" for _ in named)
    function = "list_has_all" if item.op == "all" else "list_has_any"
    text = f"COALESCE({function}({held}, [{marks}]), FALSE)"
    if item.op in ("not_in", "some_not_in"):
        text = f"NOT {text}"
    return text, [*params, *named]


@dataclass
class _Fragment:
    text: str
    params: list[Value]


def _expression(node: Node, sources: set[str], build: ExpressionBuilder) -> _Fragment:
    """The occurrence expression of `node` with inheritance criteria as single-call predicates."""
    if isinstance(node, Criterion):
        if node.field != FIELD:
            built = build(node, sources)
            return _Fragment(built.text, list(built.params))
        sources.add("occurrences")
        text, params = _single_call_predicate(node)
        return _Fragment(text, params)
    if isinstance(node, Not):
        inner = _expression(node.child, sources, build)
        return _Fragment(f"NOT {inner.text}", inner.params)
    if not node.children:
        return _Fragment("TRUE" if node.op == "and" else "FALSE", [])
    parts = [_expression(child, sources, build) for child in node.children]
    joiner = " AND " if node.op == "and" else " OR "
    return _Fragment("(" + joiner.join(p.text for p in parts) + ")", [x for p in parts for x in p.params])


def _joins(sources: set[str], consequences_inner: bool = False) -> str:
    joins = ""
    if "variants" in sources:
        joins += " LEFT JOIN variants v ON v.locus_id = o.locus_id"
    if consequences_inner:
        joins += " JOIN consequences c ON c.locus_id = o.locus_id"
    elif "consequences" in sources:
        joins += " LEFT JOIN consequences c ON c.locus_id = o.locus_id"
    return joins


@dataclass(frozen=True)
class _Split:
    """A variant block split around its compound-heterozygous criterion (if any)."""

    qualifying: Node  # the other criteria of the block (an empty `and` when there are none)
    single_call: Node | None  # the block with the comp-het mode taken out (None when nothing else remains)
    has_compound: bool


def _split(node: Node) -> _Split:
    def compound(child: Node) -> bool:
        return (isinstance(child, Criterion) and child.field == FIELD and child.op == "in"
                and COMPOUND_HETEROZYGOUS in parse_values(child).modes)

    if compound(node):
        item = node
        others: tuple[Node, ...] = ()
    elif isinstance(node, Group) and node.op == "and" and any(compound(c) for c in node.children):
        marked = [c for c in node.children if compound(c)]
        if len(marked) > 1:
            raise QueryError("only one compound_heterozygous criterion per variant group")
        item = marked[0]
        others = tuple(c for c in node.children if c is not item)
    else:
        return _Split(node, node, False)
    assert isinstance(item, Criterion)
    rest = tuple(v for v in item.values if str(v).strip() != COMPOUND_HETEROZYGOUS)
    qualifying: Node = Group("and", others)
    single_call: Node | None = None
    if any(str(v).strip() in MODES for v in rest):
        single_call = Group("and", (*others, Criterion(FIELD, "in", tuple(rest))))
    return _Split(qualifying, single_call, True)


def _compound_het_ctes(qualifying: Node, build: ExpressionBuilder) -> tuple[str, list[Value]]:
    """`WITH ch_calls AS (…), ch_genes AS (…)`: the qualifying HET calls inherited from one parent only (mother
    HET/HOM and father WT, or the other way round) with their gene, and the (participant, gene) pairs that have
    both kinds at >= 2 distinct loci. Other HET calls add no evidence and are left out early."""
    sources: set[str] = set()
    expression = _expression(qualifying, sources, build)
    if "consequences" in sources:  # gene criteria refer to the same consequences row as the gene counted
        joins, gene = _joins(sources, consequences_inner=True), "c.gene_symbol"
    else:
        joins = _joins(sources) + (" JOIN (SELECT DISTINCT locus_id, gene_symbol FROM consequences "
                                   "WHERE gene_symbol IS NOT NULL) g ON g.locus_id = o.locus_id")
        gene = "g.gene_symbol"
    calls = (
        f"SELECT o.participant_id AS participant_id, o.locus_id AS locus_id, {gene} AS gene, "
        f"COALESCE({_MOTHER_HAS} AND o.father_zygosity = 'WT', FALSE) AS maternal, "
        f"COALESCE({_FATHER_HAS} AND o.mother_zygosity = 'WT', FALSE) AS paternal "
        f"FROM occurrences o{joins} WHERE {_CARRIED} AND o.zygosity = 'HET' AND {gene} IS NOT NULL "
        f"AND (({_MOTHER_HAS} AND o.father_zygosity = 'WT') OR ({_FATHER_HAS} AND o.mother_zygosity = 'WT')) "
        f"AND {expression.text}"
    )
    return (f"WITH ch_calls AS ({calls}), ch_genes AS (SELECT participant_id, gene FROM ch_calls "
            "GROUP BY participant_id, gene HAVING min(locus_id) <> max(locus_id) AND bool_or(maternal) "
            "AND bool_or(paternal))"), list(expression.params)


def compound_het_calls_sql(qualifying: Node, build: ExpressionBuilder) -> tuple[str, list[Value]]:
    """SELECT participant_id, locus_id of the calls that make a participant compound heterozygous in some gene
    (see _compound_het_ctes)."""
    ctes, params = _compound_het_ctes(qualifying, build)
    return (f"{ctes} SELECT DISTINCT ch_calls.participant_id, ch_calls.locus_id FROM ch_calls "
            "JOIN ch_genes USING (participant_id, gene)"), params


def compound_het_participants_sql(qualifying: Node, build: ExpressionBuilder) -> tuple[str, list[Value]]:
    """SELECT participant_id of the participants compound heterozygous in some gene."""
    ctes, params = _compound_het_ctes(qualifying, build)
    return f"{ctes} SELECT DISTINCT participant_id FROM ch_genes", params


def carriers_sql(node: Node, build: ExpressionBuilder) -> tuple[str, list[Value]]:
    """`p.participant_id IN (…)` for the carriers of calls satisfying the variant block `node`."""
    split = _split(node)
    parts: list[tuple[str, list[Value]]] = []
    if split.single_call is not None:
        sources: set[str] = set()
        expression = _expression(split.single_call, sources, build)
        parts.append((
            f"p.participant_id IN (SELECT o.participant_id FROM occurrences o{_joins(sources)} "
            f"WHERE {_CARRIED} AND {expression.text})", expression.params))
    if split.has_compound:
        sql, params = compound_het_participants_sql(split.qualifying, build)
        parts.append((f"p.participant_id IN (SELECT participant_id FROM ({sql}) ch)", params))
    if len(parts) == 1:
        return parts[0]
    return "(" + " OR ".join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]


def occurrence_filter_sql(node: Node, build: ExpressionBuilder) -> tuple[str, list[Value], set[str]]:
    """A predicate on one carried call `o` (with the returned sources joined as v / c) selecting the calls that
    satisfy the variant block `node`, inheritance included (comp-het: the calls that make the pair)."""
    split = _split(node)
    sources: set[str] = set()
    parts: list[tuple[str, list[Value]]] = []
    if split.single_call is not None:
        expression = _expression(split.single_call, sources, build)
        parts.append((expression.text, expression.params))
    if split.has_compound:
        sql, params = compound_het_calls_sql(split.qualifying, build)
        parts.append((f"(o.participant_id, o.locus_id) IN (SELECT participant_id, locus_id FROM ({sql}) ch)",
                      params))
    text = parts[0][0] if len(parts) == 1 else "(" + " OR ".join(p[0] for p in parts) + ")"
    return text, [x for p in parts for x in p[1]], sources
