"""HGVS expressions as cohort criteria: parse what a person types into criteria on registry fields.

The release writes (DATA_CONTRACT.md): `variants.hgvsg` as "chr17:g.7675088C>T"; `consequences.hgvsc` and
`hgvsp` without a transcript prefix ("c.524G>A", "p.Arg175His", 3-letter amino acids, "Ter" for stop); the
transcript in `consequences.ensembl_transcript_id` (Ensembl ids, no RefSeq). So:

- `chr17:g.7675088C>T`, `17:g.…`, `NC_000017.11:g.…` → `variant.hgvsg` = "chr17:g.…";
- `ENST…(.v):c.…` / `ENST…:p.…` → `consequence.transcript_id` = ENST… and `consequence.hgvsc` / `hgvsp` on the
  same consequence row;
- `NM_…:c.…` / `NP_…:p.…` → `consequence.hgvsc` / `hgvsp` alone (the release names no RefSeq transcripts);
- `TP53:c.524G>A`, `TP53:p.Arg175His`, `TP53:p.R175H`, `p.(R175H)` → `consequence.gene_symbol` and the hgvsc /
  hgvsp on the same row; one-letter amino acids become three-letter ones.

The field `variant.hgvs` holds such expressions as values; the compiler expands it with `expand_hgvs_field`.
Every value ends up a bound parameter (the compiler's); this module only builds the tree. Qt-free, DuckDB-free.
"""

from __future__ import annotations

import re

from kfexplorer.query.model import Criterion, Group, Node, Not, QueryError, all_of, criterion

HGVS_FIELD = "variant.hgvs"  # the registry field whose values are HGVS expressions (expanded here)

AMINO_ACIDS_3: dict[str, str] = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly", "H": "His",
    "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp",
    "Y": "Tyr", "V": "Val", "U": "Sec", "O": "Pyl", "*": "Ter", "X": "Ter",
}
_THREE_LETTER = {name.lower(): name for name in AMINO_ACIDS_3.values()}

_NC_CHROMOSOMES = {f"NC_0000{n:02d}": str(n) for n in range(1, 23)} | {
    "NC_000023": "X", "NC_000024": "Y", "NC_012920": "M"}

_GENOMIC = re.compile(r"^(?:chr)?([0-9]{1,2}|X|Y|M|MT):g\.(\S+)$", re.IGNORECASE)
_NC_GENOMIC = re.compile(r"^(NC_0[0-9]{5})(?:\.[0-9]+)?:g\.(\S+)$", re.IGNORECASE)
_PREFIXED = re.compile(r"^([A-Za-z0-9_.\-]+):([cp])\.(\S+)$")
_BARE = re.compile(r"^([cp])\.(\S+)$")
_ENSEMBL_TRANSCRIPT = re.compile(r"^(ENST[0-9]+)(?:\.[0-9]+)?$", re.IGNORECASE)
_REFSEQ = re.compile(r"^(?:NM|NR|XM|XR|NP|XP)_[0-9]+(?:\.[0-9]+)?$", re.IGNORECASE)
_GENE = re.compile(r"^[A-Za-z][A-Za-z0-9\-]{0,19}(?:\.[0-9]+)?$")
_THREE_ALTERNATIVES = "|".join(sorted({name for name in AMINO_ACIDS_3.values()}))
_PROTEIN_SIMPLE = re.compile(rf"^({_THREE_ALTERNATIVES}|[A-Z*])([0-9]+)({_THREE_ALTERNATIVES}|[A-Z*=]|fs\S*|del|dup)?(.*)$",
                             re.IGNORECASE)


def looks_like_hgvs(text: str) -> bool:
    """True when `text` has the shape of an HGVS expression this module reads (g. / c. / p.)."""
    try:
        hgvs_criterion(text)
    except QueryError:
        return False
    return True


def _amino(token: str) -> str:
    if len(token) == 3 and token.lower() in _THREE_LETTER:
        return _THREE_LETTER[token.lower()]
    if token == "=":
        return "="
    if token.upper() in AMINO_ACIDS_3:
        return AMINO_ACIDS_3[token.upper()]
    raise QueryError(f"not an amino acid: {token!r}")


def normalize_protein_change(change: str) -> str:
    """"R175H" / "Arg175His" / "(Arg175His)" / "R196*" → "p." + the three-letter form the release writes
    ("p.Arg175His", "p.Arg196Ter"); frameshifts keep their tail with amino acids spelled out ("p.R212Gfs*21" →
    "p.Arg212GlyfsTer21")."""
    body = change.strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    found = _PROTEIN_SIMPLE.match(body)
    if not found:
        raise QueryError(f"not a protein change: p.{change[:40]}")
    first, position, second, rest = found.groups()
    text = _amino(first) + position
    if second:
        if second.startswith("fs"):
            tail = second[2:]
            text += "fs" + (_amino(tail[0]) + tail[1:] if tail and (tail[0] == "*" or tail[0] == "X") else tail)
        elif second in ("del", "dup"):
            text += second
        else:
            text += _amino(second)
    if rest:
        if rest.startswith("fs"):
            tail = rest[2:]
            text += "fs" + (_amino(tail[0]) + tail[1:] if tail and tail[0] in "*X" else tail)
        else:
            raise QueryError(f"not a protein change this reads: p.{change[:40]}")
    return "p." + text


def hgvs_criterion(text: str) -> Node:
    """The criterion (or `and` of criteria on one variant / consequence row) an HGVS expression means;
    QueryError, worded for the user, when `text` is not one this module reads."""
    value = text.strip().replace(" ", "")
    if not value:
        raise QueryError("empty HGVS expression")
    if found := _NC_GENOMIC.match(value):
        chromosome = _NC_CHROMOSOMES.get(found.group(1).upper())
        if chromosome is None:
            raise QueryError(f"not a GRCh38 chromosome accession: {found.group(1)}")
        return criterion("variant.hgvsg", "in", f"chr{chromosome}:g.{found.group(2)}")
    if found := _GENOMIC.match(value):
        chromosome = found.group(1).upper()
        chromosome = "M" if chromosome == "MT" else chromosome
        return criterion("variant.hgvsg", "in", f"chr{chromosome}:g.{found.group(2)}")
    if found := _BARE.match(value):
        kind, change = found.groups()
        return _change_criterion(kind, change)
    if found := _PREFIXED.match(value):
        prefix, kind, change = found.groups()
        change_node = _change_criterion(kind, change)
        if transcript := _ENSEMBL_TRANSCRIPT.match(prefix):
            return all_of(criterion("consequence.transcript_id", "in", transcript.group(1).upper()), change_node)
        if _REFSEQ.match(prefix):
            return change_node
        if _GENE.match(prefix):
            return all_of(criterion("consequence.gene_symbol", "in", prefix.upper()), change_node)
    raise QueryError(f"not an HGVS expression (chr17:g.…, GENE:c.…, GENE:p.…, ENST…:c.…): {text.strip()[:60]!r}")


def _change_criterion(kind: str, change: str) -> Node:
    if kind == "c":
        if not re.match(r"^[*\-]?[0-9]", change):
            raise QueryError(f"not a coding change: c.{change[:40]}")
        return criterion("consequence.hgvsc", "in", f"c.{change}")
    return criterion("consequence.hgvsp", "in", normalize_protein_change(change))


def expand_hgvs_field(item: Criterion) -> Node:
    """The registry criteria a `variant.hgvs` criterion means: `in` any of its expressions, `not_in` none of them
    (on one call: the compiler evaluates it inside the variant expression). An expression this module does not
    read is compared, as typed, with `variant.hgvsg` (as any categorical value absent from the data, it matches
    nothing unless the release writes it so); the criterion editor refuses such values up front."""
    if item.op not in ("in", "not_in"):
        raise QueryError(f"field {HGVS_FIELD!r} takes 'in' or 'not_in', not {item.op!r}")
    alternatives = tuple(_expression_or_as_typed(str(value)) for value in item.values)
    node: Node = alternatives[0] if len(alternatives) == 1 else Group("or", alternatives)
    return Not(node) if item.op == "not_in" else node


def _expression_or_as_typed(value: str) -> Node:
    try:
        return hgvs_criterion(value)
    except QueryError:
        return criterion("variant.hgvsg", "in", value)
