"""A checker for the variant part of a release against DATA_CONTRACT.md, used by the demo generator's tests.

It reads the raw Parquet files with pyarrow (no hive partitioning, no code under test) and returns a list of
problems; an empty list means the release honours the contract. Population-level checks (parental columns,
Mendelian consistency) need the population the release was generated from.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kfexplorer.demo.population import Population

CHROMOSOMES = [str(i) for i in range(1, 23)] + ["X", "Y", "M"]
I32_LIST = pa.list_(pa.int32())
STR_LIST = pa.list_(pa.string())
S, I64, I32, B, F64 = pa.string(), pa.int64(), pa.int32(), pa.bool_(), pa.float64()

# The contract's columns, in the order DATA_CONTRACT.md lists them.
OCCURRENCE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("chromosome", S), ("start", I64), ("reference", S), ("alternate", S), ("locus_id", S), ("study_id", S),
    ("participant_id", S), ("sample_id", S), ("family_id", S), ("is_proband", B), ("affected_status", B),
    ("zygosity", S), ("calls", I32_LIST), ("dp", I32), ("gq", I32), ("ad_ref", I32), ("ad_alt", I32),
    ("filters", STR_LIST), ("has_alt", B), ("mother_id", S), ("father_id", S), ("mother_zygosity", S),
    ("father_zygosity", S), ("mother_calls", I32_LIST), ("father_calls", I32_LIST), ("mother_gq", I32),
    ("mother_dp", I32), ("father_gq", I32), ("father_dp", I32), ("mother_affected_status", B),
    ("father_affected_status", B), ("parental_origin", S), ("transmission_mode", S),
]
VARIANT_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("chromosome", S), ("start", I64), ("end", I64), ("reference", S), ("alternate", S), ("locus_id", S),
    ("hgvsg", S), ("rsnumber", S), ("variant_class", S), ("gene_symbols", STR_LIST), ("max_impact", S),
    ("clinvar_id", S), ("clinvar_sig", STR_LIST), ("gnomad_genomes_3_af", F64), ("gnomad_exomes_2_1_1_af", F64),
    ("topmed_bravo_af", F64), ("thousand_genomes_af", F64), ("cadd_phred", F64), ("revel_score", F64),
    ("spliceai_ds", F64),
]
CONSEQUENCE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("locus_id", S), ("chromosome", S), ("start", I64), ("gene_symbol", S), ("ensembl_gene_id", S),
    ("ensembl_transcript_id", S), ("consequences", STR_LIST), ("vep_impact", S), ("canonical", B),
    ("mane_select", B), ("hgvsc", S), ("hgvsp", S), ("protein_position", I32), ("amino_acids", S), ("biotype", S),
]

ZYGOSITIES = {"HOM", "HET", "HEM", "WT", "UNK"}
PARENTAL_ORIGINS = {"mother", "father", "denovo", "possible_denovo", "possible_father", "possible_mother", "both",
                    "ambiguous", "unknown"}
TRANSMISSION_MODES = {
    "autosomal_dominant_de_novo", "autosomal_dominant", "autosomal_recessive", "x_linked_dominant_de_novo",
    "x_linked_recessive_de_novo", "x_linked_dominant", "x_linked_recessive", "non_carrier_proband",
    "unknown_proband_genotype", "unknown_parents_genotype", "unknown_father_genotype", "unknown_mother_genotype",
}
VARIANT_CLASSES = {"SNV", "insertion", "deletion", "indel", "substitution"}
IMPACT_RANK = {"MODIFIER": 0, "LOW": 1, "MODERATE": 2, "HIGH": 3}
CLINVAR = {"Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Likely_benign", "Benign",
           "Conflicting_interpretations_of_pathogenicity"}
# VEP's impact of each Sequence Ontology term the demo may write
SO_IMPACT = {
    "intergenic_variant": 0, "intron_variant": 0, "5_prime_UTR_variant": 0, "3_prime_UTR_variant": 0,
    "non_coding_transcript_exon_variant": 0, "NMD_transcript_variant": 0, "upstream_gene_variant": 0,
    "downstream_gene_variant": 0, "synonymous_variant": 1, "splice_region_variant": 1, "missense_variant": 2,
    "inframe_deletion": 2, "inframe_insertion": 2, "protein_altering_variant": 2, "stop_gained": 3,
    "frameshift_variant": 3, "splice_donor_variant": 3, "splice_acceptor_variant": 3, "start_lost": 3,
    "stop_lost": 3,
}
AA3 = "(Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val|Ter)"
HGVSP = re.compile(rf"^p\.({AA3}\d+({AA3}|=|{AA3}fsTer\d+|del|_{AA3}\d+ins{AA3}+|delins{AA3}+)|Met1\?)$")
ENSG = re.compile(r"^ENSG\d{11}$")
ENST = re.compile(r"^ENST\d{11}$")
CALLS_OF = {"HOM": ([1, 1],), "HET": ([0, 1],), "HEM": ([1],), "WT": ([0, 0], [0]), "UNK": ([-1, -1], [-1])}

OCC_PATH = re.compile(r"^variants/occurrences/study_id=(SD_[A-Z0-9]+)/chromosome=([0-9XYM]+)/part-\d+\.parquet$")
PART_PATH = re.compile(r"^variants/(variants|consequences)/chromosome=([0-9XYM]+)/part-\d+\.parquet$")


@dataclass
class VariantRelease:
    """The three tables as column dictionaries (python lists), read straight from the Parquet files."""

    occurrences: dict[str, list[Any]] = field(default_factory=dict)
    variants: dict[str, list[Any]] = field(default_factory=dict)
    consequences: dict[str, list[Any]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def occurrence_rows(self) -> list[dict[str, Any]]:
        names = list(self.occurrences)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.occurrences.values(), strict=True)]


def _check_schema(path: Path, schema: pa.Schema, expected: list[tuple[str, pa.DataType]], problems: list[str]) -> None:
    got = [(f.name, f.type) for f in schema]
    names = [n for n, _ in got]
    if names != [n for n, _ in expected]:
        problems.append(f"{path}: columns {names} differ from the contract's")
        return
    for (name, typ), (_, want) in zip(got, expected, strict=True):
        if typ != want and not (pa.types.is_list(typ) and pa.types.is_list(want) and typ.value_type == want.value_type):
            problems.append(f"{path}: column {name} has type {typ}, contract says {want}")


def read_variant_release(root: Path, problems: list[str]) -> VariantRelease:
    """Read every variants/ Parquet file; layout and schema problems are appended to `problems`."""
    release = VariantRelease()
    tables: dict[str, list[pa.Table]] = defaultdict(list)
    for path in sorted((root / "variants").rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(root).as_posix()
        release.files.append(path)
        occ = OCC_PATH.match(rel)
        part = PART_PATH.match(rel)
        if not occ and not part:
            problems.append(f"{rel}: not a contract path")
            continue
        table = pq.read_table(path)
        if occ:
            name, expected = "occurrences", OCCURRENCE_COLUMNS
        else:
            assert part is not None
            name = part.group(1)
            expected = VARIANT_COLUMNS if name == "variants" else CONSEQUENCE_COLUMNS
        _check_schema(Path(rel), table.schema, expected, problems)
        chrom = (occ or part).group(2)  # type: ignore[union-attr]
        if chrom not in CHROMOSOMES:
            problems.append(f"{rel}: chromosome {chrom} not in the contract")
        if set(table.column("chromosome").to_pylist()) - {chrom}:
            problems.append(f"{rel}: stored chromosome differs from the partition")
        if occ and set(table.column("study_id").to_pylist()) - {occ.group(1)}:
            problems.append(f"{rel}: stored study_id differs from the partition")
        tables[name].append(table)
    for name in ("occurrences", "variants", "consequences"):
        if not tables[name]:
            problems.append(f"no {name} files")
            continue
        merged = pa.concat_tables(tables[name]).to_pydict()
        setattr(release, name, merged)
    return release


def _carrier(zygosity: str | None) -> bool | None:
    if zygosity is None or zygosity == "UNK":
        return None
    return zygosity in ("HOM", "HET", "HEM")


def check_tables(release: VariantRelease, problems: list[str]) -> None:
    """Contract rules that need no population: vocabularies, locus ids, has_alt, annotations."""
    occ, var, cons = release.occurrences, release.variants, release.consequences
    for table_name, table in (("occurrences", occ), ("variants", var), ("consequences", cons)):
        if not table:
            continue
        for chrom, start, ref, alt, locus in zip(table["chromosome"], table["start"],
                                                 table.get("reference", [None] * len(table["start"])),
                                                 table.get("alternate", [None] * len(table["start"])),
                                                 table["locus_id"], strict=True):
            if ref is not None and locus != f"{chrom}-{start}-{ref}-{alt}":
                problems.append(f"{table_name}: locus_id {locus} != chromosome-start-reference-alternate")
                break
            if not locus.startswith(f"{chrom}-{start}-"):
                problems.append(f"{table_name}: locus_id {locus} does not match chromosome/start")
                break
    if var:
        loci = var["locus_id"]
        if len(set(loci)) != len(loci):
            problems.append("variants: locus_id not unique")
        known = set(loci)
        if set(occ.get("locus_id", [])) - known:
            problems.append("occurrences: locus_id without a variants row")
        if set(cons.get("locus_id", [])) - known:
            problems.append("consequences: locus_id without a variants row")
        if known - set(cons.get("locus_id", [])):
            problems.append("variants: a variant without consequences")
    # occurrences
    for row in release.occurrence_rows() if occ else []:
        z = row["zygosity"]
        if z not in ZYGOSITIES:
            problems.append(f"occurrences: zygosity {z}")
            break
        calls = row["calls"]
        if calls not in CALLS_OF[z]:
            problems.append(f"occurrences: zygosity {z} with calls {calls}")
            break
        if row["has_alt"] != any(c > 0 for c in calls):
            problems.append(f"occurrences: has_alt {row['has_alt']} for calls {calls}")
            break
        if z == "HEM" and row["chromosome"] not in ("X", "Y"):
            problems.append(f"occurrences: HEM on chromosome {row['chromosome']}")
            break
        for role in ("mother", "father"):
            pz = row[f"{role}_zygosity"]
            if pz is not None and (pz not in ZYGOSITIES or row[f"{role}_calls"] not in CALLS_OF[pz]):
                problems.append(f"occurrences: {role}_zygosity {pz} with calls {row[f'{role}_calls']}")
                break
        if row["parental_origin"] is not None and row["parental_origin"] not in PARENTAL_ORIGINS:
            problems.append(f"occurrences: parental_origin {row['parental_origin']}")
            break
        if row["transmission_mode"] is not None and row["transmission_mode"] not in TRANSMISSION_MODES:
            problems.append(f"occurrences: transmission_mode {row['transmission_mode']}")
            break
        filters = row["filters"]
        if not filters or any(not f for f in filters):
            problems.append(f"occurrences: filters {filters}")
            break
        dp, ad_ref, ad_alt, gq = row["dp"], row["ad_ref"], row["ad_alt"], row["gq"]
        if min(dp, ad_ref, ad_alt, gq) < 0 or ad_ref + ad_alt > dp or gq > 99:
            problems.append(f"occurrences: dp {dp} ad {ad_ref},{ad_alt} gq {gq}")
            break
        if z in ("HET", "HOM", "HEM") and ad_alt == 0:
            problems.append(f"occurrences: {z} with no alternate read")
            break
        if z == "HET" and dp >= 10 and not (0 < ad_alt < dp):
            problems.append(f"occurrences: HET with ad {ad_ref},{ad_alt}")
            break
    # variants
    cons_by_locus: dict[str, list[int]] = defaultdict(list)
    for i, locus in enumerate(cons.get("locus_id", [])):
        cons_by_locus[locus].append(i)
    for i, locus in enumerate(var.get("locus_id", [])):
        ref, alt = var["reference"][i], var["alternate"][i]
        vc = var["variant_class"][i]
        expected_vc = ("SNV" if len(ref) == len(alt) == 1 else
                       "insertion" if len(ref) == 1 and alt.startswith(ref) else
                       "deletion" if len(alt) == 1 and ref.startswith(alt) else
                       "substitution" if len(ref) == len(alt) else "indel")
        if vc not in VARIANT_CLASSES or vc != expected_vc:
            problems.append(f"variants: {locus} variant_class {vc}, alleles say {expected_vc}")
        if var["end"][i] != var["start"][i] + len(ref) - 1:
            problems.append(f"variants: {locus} end {var['end'][i]}")
        rows = cons_by_locus.get(locus, [])
        impacts = [IMPACT_RANK.get(cons["vep_impact"][j], -1) for j in rows]
        if rows and IMPACT_RANK.get(var["max_impact"][i], -2) != max(impacts):
            problems.append(f"variants: {locus} max_impact {var['max_impact'][i]} != max over consequences")
        genes = {cons["gene_symbol"][j] for j in rows} - {None}
        if set(var["gene_symbols"][i] or []) != genes:
            problems.append(f"variants: {locus} gene_symbols {var['gene_symbols'][i]} != consequences {genes}")
        sig = var["clinvar_sig"][i]
        if (sig is None) != (var["clinvar_id"][i] is None) or (sig is not None and (not sig or set(sig) - CLINVAR)):
            problems.append(f"variants: {locus} clinvar {var['clinvar_id'][i]} {sig}")
        for col in ("gnomad_genomes_3_af", "gnomad_exomes_2_1_1_af", "topmed_bravo_af", "thousand_genomes_af",
                    "revel_score", "spliceai_ds"):
            value = var[col][i]
            if value is not None and not 0.0 <= value <= 1.0:
                problems.append(f"variants: {locus} {col} {value}")
        missense = any("missense_variant" in (cons["consequences"][j] or []) for j in rows)
        if var["revel_score"][i] is not None and not missense:
            problems.append(f"variants: {locus} REVEL without a missense consequence")
        if var["rsnumber"][i] is not None and not re.fullmatch(r"rs\d+", var["rsnumber"][i]):
            problems.append(f"variants: {locus} rsnumber {var['rsnumber'][i]}")
        if len(problems) > 50:
            return
    # consequences
    for j in range(len(cons.get("locus_id", []))):
        terms = cons["consequences"][j]
        impact = cons["vep_impact"][j]
        if not terms or any(t not in SO_IMPACT for t in terms):
            problems.append(f"consequences: terms {terms}")
            continue
        if IMPACT_RANK.get(impact) != max(SO_IMPACT[t] for t in terms):
            problems.append(f"consequences: {terms} with impact {impact}")
        gene = cons["gene_symbol"][j]
        if gene is None:
            if terms != ["intergenic_variant"] or cons["ensembl_transcript_id"][j] is not None:
                problems.append(f"consequences: genic terms {terms} without a gene")
        else:
            if not ENSG.match(cons["ensembl_gene_id"][j] or "") or not ENST.match(cons["ensembl_transcript_id"][j]
                                                                                 or ""):
                problems.append(f"consequences: ids {cons['ensembl_gene_id'][j]} {cons['ensembl_transcript_id'][j]}")
            if cons["mane_select"][j] and not cons["canonical"][j]:
                problems.append("consequences: MANE select transcript that is not canonical")
        hgvsp = cons["hgvsp"][j]
        if hgvsp is not None:
            if not HGVSP.match(hgvsp):
                problems.append(f"consequences: hgvsp {hgvsp}")
            if cons["protein_position"][j] is None or cons["amino_acids"][j] is None:
                problems.append(f"consequences: hgvsp {hgvsp} without protein position / amino acids")
            elif hgvsp != "p.Met1?" and f"{cons['protein_position'][j]}" not in hgvsp:
                problems.append(f"consequences: hgvsp {hgvsp} vs protein_position {cons['protein_position'][j]}")
        coding = {"missense_variant", "synonymous_variant", "stop_gained", "frameshift_variant"} & set(terms)
        if coding and cons["biotype"][j] == "protein_coding" and hgvsp is None:
            problems.append(f"consequences: coding {terms} without hgvsp")
        if len(problems) > 50:
            return


@dataclass
class InheritanceReport:
    de_novo: list[tuple[str, str]] = field(default_factory=list)  # (participant_id, locus_id)
    violations: list[str] = field(default_factory=list)
    trio_calls_checked: int = 0


def check_population(release: VariantRelease, population: Population, problems: list[str]) -> InheritanceReport:
    """Rows against the population: identities, parental columns, the precomputed columns, Mendel."""
    ps = population.participants
    by_id = {p.participant_id: p for p in ps}
    genotype: dict[tuple[str, str], dict[str, Any]] = {}
    rows = release.occurrence_rows()
    for row in rows:
        genotype[(row["participant_id"], row["locus_id"])] = row
    seen: set[str] = set()
    for row in rows:
        p = by_id.get(row["participant_id"])
        if p is None:
            problems.append(f"occurrences: unknown participant {row['participant_id']}")
            break
        seen.add(p.participant_id)
        if not p.sequenced:
            problems.append(f"occurrences: {p.participant_id} is not sequenced but has rows")
            break
        if (row["sample_id"], row["study_id"], row["family_id"], row["is_proband"], row["affected_status"]) != (
                p.sample_id, p.study_id, p.family_id, p.is_proband, p.affected):
            problems.append(f"occurrences: {p.participant_id} identity columns differ from the population")
            break
        if p.sex == "male" and row["chromosome"] in ("X", "Y") and row["zygosity"] in ("HET", "HOM"):
            problems.append(f"occurrences: {row['zygosity']} call of a male on chr{row['chromosome']}")
            break
        if row["zygosity"] == "HEM" and p.sex != "male":
            problems.append(f"occurrences: HEM call of a female ({p.participant_id})")
            break
        if row["chromosome"] == "Y" and p.sex != "male":
            problems.append(f"occurrences: chrY call of a female ({p.participant_id})")
            break
        state: dict[str, bool | None] = {}
        for role, index in (("mother", p.mother_index), ("father", p.father_index)):
            parent = ps[index] if index is not None else None
            pid, pz = row[f"{role}_id"], row[f"{role}_zygosity"]
            if parent is None:
                ok = pid is None and pz is None and row[f"{role}_affected_status"] is None
            else:
                ok = pid == parent.participant_id and row[f"{role}_affected_status"] == parent.affected
                ok &= (pz is None) == (not parent.sequenced)
            for col in ("calls", "gq", "dp"):
                ok &= (row[f"{role}_{col}"] is None) == (pz is None)
            if not ok:
                problems.append(f"occurrences: {p.participant_id} {role} columns do not follow the contract")
                break
            if parent is not None and parent.sequenced:
                own = genotype.get((parent.participant_id, row["locus_id"]))
                if own is not None and (own["zygosity"], own["gq"], own["dp"]) != (pz, row[f"{role}_gq"],
                                                                                  row[f"{role}_dp"]):
                    problems.append(f"occurrences: {role} columns of {p.participant_id} at {row['locus_id']} differ "
                                    f"from the {role}'s own call")
                    break
                if own is None and pz != "WT":
                    problems.append(f"occurrences: {role} without a call at {row['locus_id']} is {pz}, not WT")
                    break
            state[role] = None if parent is None else _carrier(pz)
        if len(problems) > 50:
            break
        # parental_origin, the demo's rules
        origin = row["parental_origin"]
        if row["has_alt"]:
            m, f = state.get("mother"), state.get("father")
            if m is None or f is None:
                want = "unknown"
            else:
                want = {(True, True): "both", (True, False): "mother", (False, True): "father",
                        (False, False): "denovo"}[(m, f)]
            if origin != want:
                problems.append(f"occurrences: parental_origin {origin}, rules say {want}")
                break
            if row["zygosity"] == "HOM" and row["chromosome"] not in ("X", "Y", "M") and m and f \
                    and row["transmission_mode"] != "autosomal_recessive":
                problems.append(f"occurrences: HOM with both parents carrying is {row['transmission_mode']}")
                break
    sequenced = {p.participant_id for p in ps if p.sequenced}
    if seen - sequenced:
        problems.append("occurrences: rows of participants that are not sequenced")
    return mendelian_report(rows, population, genotype)


def mendelian_report(rows: list[dict[str, Any]], population: Population,
                     genotype: dict[tuple[str, str], dict[str, Any]]) -> InheritanceReport:
    """Children's genotypes against their sequenced parents' (both parents known, no no-calls)."""
    ps = population.participants
    report = InheritanceReport()
    by_id = {p.participant_id: p for p in ps}
    loci_by_person: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row["has_alt"]:
            loci_by_person[row["participant_id"]].add(row["locus_id"])
    chrom_of = {row["locus_id"]: row["chromosome"] for row in rows}

    def zyg(pid: str, locus: str) -> str:
        own = genotype.get((pid, locus))
        return own["zygosity"] if own is not None else "WT"

    for child in ps:
        if not child.sequenced or child.mother_index is None or child.father_index is None:
            continue
        mother, father = ps[child.mother_index], ps[child.father_index]
        if not (mother.sequenced and father.sequenced):
            continue
        loci = loci_by_person[child.participant_id] | loci_by_person[mother.participant_id] | \
            loci_by_person[father.participant_id]
        for locus in loci:
            c, m, f = zyg(child.participant_id, locus), zyg(mother.participant_id, locus), \
                zyg(father.participant_id, locus)
            if "UNK" in (c, m, f):
                continue
            report.trio_calls_checked += 1
            chrom = chrom_of[locus]
            c_alt = {"HOM": 2, "HET": 1, "HEM": 1, "WT": 0}[c]
            m_car, f_car = m != "WT", f != "WT"
            male = child.sex == "male"
            problem = ""
            if chrom == "M":
                if (c_alt > 0) != m_car:
                    problem = "mitochondrial call not from the mother"
            elif chrom == "Y":
                if male and (c_alt > 0) != f_car:
                    problem = "chrY call not from the father"
            elif chrom == "X" and male:
                if c == "HEM" and not m_car:
                    report.de_novo.append((child.participant_id, locus))
                elif m == "HOM" and c != "HEM":
                    problem = "son of a HOM mother without the allele"
            elif chrom == "X":
                if c == "HOM" and not (m_car and f_car):
                    problem = "HOM daughter without both parents carrying"
                elif f == "HEM" and c_alt == 0:
                    problem = "daughter of a HEM father without the allele"
                elif c == "HET" and not (m_car or f_car):
                    report.de_novo.append((child.participant_id, locus))
            else:
                if c == "HOM" and not (m_car and f_car):
                    problem = "HOM child without both parents carrying"
                elif c_alt == 0 and (m == "HOM" or f == "HOM"):
                    problem = "WT child of a HOM parent"
                elif c == "HET" and m == "HOM" and f == "HOM":
                    problem = "HET child of two HOM parents"
                elif c == "HET" and not (m_car or f_car):
                    report.de_novo.append((child.participant_id, locus))
            if problem:
                report.violations.append(f"{child.participant_id} {locus} {c} (mother {m}, father {f}): {problem}")
    del by_id
    return report


def check_release(root: Path, population: Population) -> tuple[list[str], InheritanceReport, VariantRelease]:
    """Everything: returns (problems, Mendelian report, the tables read)."""
    problems: list[str] = []
    release = read_variant_release(root, problems)
    check_tables(release, problems)
    report = check_population(release, population, problems) if release.occurrences else InheritanceReport()
    return problems, report, release
