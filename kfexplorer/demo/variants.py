"""The variant part of the demo release: occurrences, variants and consequences Parquet (DATA_CONTRACT.md).

How it works, chromosome by chromosome:
1. A *pool* of candidate variants is built for the chromosome (positions in catalog genes or between them,
   alleles, a nominal population allele frequency, a canonical consequence), plus the variants planted for the
   inheritance findings. Its size grows with the requested occurrences but is capped, so memory stays flat.
2. Study by study and chunk by chunk of families, genotypes are drawn: founders (participants without parents in
   the release) draw haplotypes from the pool; children receive each parental allele Mendel's way (or from an
   unseen parent's haplotype); planted de novo, recessive, compound heterozygous, X-linked and inherited dominant
   findings are forced into a few trios. Each chunk is written at once to the partition's Parquet file.
3. The variants actually carried on the chromosome get their annotations and transcript consequences.

Precomputed columns follow DATA_CONTRACT.md's demo rules; `transmission_mode` is NULL on chrY and chrM (no KF
label applies there). Besides carried calls the files hold a few WT rows (parents at planted de novo sites) and
UNK rows (parental no-calls). Mitochondrial calls are homoplasmic HOM and maternally inherited.

Everything derives from the seed (numpy generators seeded by `[seed, part, …]`), files are written with zstd and a
fixed row group size and carry no timestamps, so the same seed gives the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kfexplorer.demo.genes import (
    CHROMOSOME_LENGTHS,
    CHROMOSOMES,
    GENES,
    PSEUDOAUTOSOMAL,
    Gene,
    domain_genes,
    study_domain,
)
from kfexplorer.demo.population import Participant, Population
from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent

PHASE = "variants"
ROW_GROUP_ROWS = 131072
CHUNK_ROWS = 10000
VARIANT_BLOCK = 2048  # variants annotated at a time  # expected occurrences per generated chunk (families are never split)
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3
PRIVATE_SHARE = 0.09  # share of calls drawn from (nearly) private variants
MAX_SHARED_POOL = 250_000  # per chromosome
MAX_PRIVATE_POOL = 200_000  # per chromosome
UNK_PARENT_RATE = 0.003  # share of children's carried calls where a parent's call is a no-call

# ---------------------------------------------------------------------------------------------------------------
# Vocabularies

ZYGOSITIES = ("HOM", "HET", "HEM", "WT", "UNK")
Z_HOM, Z_HET, Z_HEM, Z_WT, Z_UNK = range(5)
# calls patterns: HET, HOM, HEM, WT (diploid), WT (haploid), UNK (diploid), UNK (haploid)
CALL_PATTERNS: tuple[tuple[int, ...], ...] = ((0, 1), (1, 1), (1,), (0, 0), (0,), (-1, -1), (-1,))
FILTER_NAMES = ("PASS", "LowQual", "GQ20", "VQSRTrancheSNP99.90to100.00", "DP10")
FILTER_PATTERNS: tuple[tuple[int, ...], ...] = ((0,), (1,), (2,), (1, 2), (3,), (4,))
PARENTAL_ORIGINS = ("mother", "father", "denovo", "both", "unknown")
TRANSMISSION_MODES = (
    "autosomal_dominant_de_novo", "autosomal_dominant", "autosomal_recessive", "x_linked_dominant_de_novo",
    "x_linked_recessive_de_novo", "x_linked_dominant", "x_linked_recessive", "non_carrier_proband",
    "unknown_proband_genotype", "unknown_parents_genotype", "unknown_father_genotype", "unknown_mother_genotype",
)
VARIANT_CLASSES = ("SNV", "insertion", "deletion", "indel", "substitution")
VC_SNV, VC_INS, VC_DEL, VC_INDEL, VC_SUBST = range(5)
IMPACTS = ("MODIFIER", "LOW", "MODERATE", "HIGH")
CLINVAR_TERMS = ("Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Likely_benign", "Benign",
                 "Conflicting_interpretations_of_pathogenicity")
CLINVAR_PATTERNS: tuple[tuple[int, ...], ...] = ((0,), (1,), (0, 1), (2,), (3,), (4,), (4, 3), (5,))

# Consequence categories: (Sequence Ontology terms, impact index into IMPACTS)
CATEGORIES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("intergenic_variant",), 0),
    (("intron_variant",), 0),
    (("5_prime_UTR_variant",), 0),
    (("3_prime_UTR_variant",), 0),
    (("synonymous_variant",), 1),
    (("missense_variant",), 2),
    (("stop_gained",), 3),
    (("frameshift_variant",), 3),
    (("splice_donor_variant",), 3),
    (("splice_acceptor_variant",), 3),
    (("splice_region_variant", "intron_variant"), 1),
    (("start_lost",), 3),
    (("missense_variant", "splice_region_variant"), 2),
    (("inframe_deletion",), 2),
    (("inframe_insertion",), 2),
    (("protein_altering_variant",), 2),
    (("non_coding_transcript_exon_variant",), 0),
)
(C_INTERGENIC, C_INTRON, C_UTR5, C_UTR3, C_SYN, C_MISSENSE, C_STOP, C_FRAMESHIFT, C_DONOR, C_ACCEPTOR,
 C_SPLICE_REGION, C_START_LOST, C_MISSENSE_SPLICE, C_INFRAME_DEL, C_INFRAME_INS, C_PROTEIN_ALTERING,
 C_NC_EXON) = range(len(CATEGORIES))
CATEGORY_IMPACT = np.array([impact for _, impact in CATEGORIES], dtype=np.int8)
CODING_CATEGORIES = np.array([C_SYN, C_MISSENSE, C_STOP, C_FRAMESHIFT, C_START_LOST, C_MISSENSE_SPLICE,
                              C_INFRAME_DEL, C_INFRAME_INS, C_PROTEIN_ALTERING])
INTRONIC_CATEGORIES = np.array([C_INTRON, C_DONOR, C_ACCEPTOR, C_SPLICE_REGION])
SO_TERMS: tuple[str, ...] = tuple(sorted({t for terms, _ in CATEGORIES for t in terms} | {"NMD_transcript_variant"}))

AMINO_ACIDS_3 = ("Ala", "Arg", "Asn", "Asp", "Cys", "Gln", "Glu", "Gly", "His", "Ile", "Leu", "Lys", "Met", "Phe",
                 "Pro", "Ser", "Thr", "Trp", "Tyr", "Val")
AMINO_ACIDS_1 = ("A", "R", "N", "D", "C", "Q", "E", "G", "H", "I", "L", "K", "M", "F", "P", "S", "T", "W", "Y", "V")
AA_MET = AMINO_ACIDS_3.index("Met")
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}

PLANT_MODES = ("de_novo", "autosomal_recessive", "compound_heterozygous", "x_linked_recessive",
               "inherited_dominant")

# ---------------------------------------------------------------------------------------------------------------
# Schemas (DATA_CONTRACT.md, column names and order as listed there)

INT_LIST = pa.list_(pa.int32())
STR_LIST = pa.list_(pa.string())

OCCURRENCE_SCHEMA = pa.schema([
    ("chromosome", pa.string()), ("start", pa.int64()), ("reference", pa.string()), ("alternate", pa.string()),
    ("locus_id", pa.string()), ("study_id", pa.string()), ("participant_id", pa.string()),
    ("sample_id", pa.string()), ("family_id", pa.string()), ("is_proband", pa.bool_()),
    ("affected_status", pa.bool_()), ("zygosity", pa.string()), ("calls", INT_LIST), ("dp", pa.int32()),
    ("gq", pa.int32()), ("ad_ref", pa.int32()), ("ad_alt", pa.int32()), ("filters", STR_LIST),
    ("has_alt", pa.bool_()), ("mother_id", pa.string()), ("father_id", pa.string()),
    ("mother_zygosity", pa.string()), ("father_zygosity", pa.string()), ("mother_calls", INT_LIST),
    ("father_calls", INT_LIST), ("mother_gq", pa.int32()), ("mother_dp", pa.int32()), ("father_gq", pa.int32()),
    ("father_dp", pa.int32()), ("mother_affected_status", pa.bool_()), ("father_affected_status", pa.bool_()),
    ("parental_origin", pa.string()), ("transmission_mode", pa.string()),
])

VARIANT_SCHEMA = pa.schema([
    ("chromosome", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("reference", pa.string()),
    ("alternate", pa.string()), ("locus_id", pa.string()), ("hgvsg", pa.string()), ("rsnumber", pa.string()),
    ("variant_class", pa.string()), ("gene_symbols", STR_LIST), ("max_impact", pa.string()),
    ("clinvar_id", pa.string()), ("clinvar_sig", STR_LIST), ("gnomad_genomes_3_af", pa.float64()),
    ("gnomad_exomes_2_1_1_af", pa.float64()), ("topmed_bravo_af", pa.float64()),
    ("thousand_genomes_af", pa.float64()), ("cadd_phred", pa.float64()), ("revel_score", pa.float64()),
    ("spliceai_ds", pa.float64()),
])

CONSEQUENCE_SCHEMA = pa.schema([
    ("locus_id", pa.string()), ("chromosome", pa.string()), ("start", pa.int64()), ("gene_symbol", pa.string()),
    ("ensembl_gene_id", pa.string()), ("ensembl_transcript_id", pa.string()), ("consequences", STR_LIST),
    ("vep_impact", pa.string()), ("canonical", pa.bool_()), ("mane_select", pa.bool_()), ("hgvsc", pa.string()),
    ("hgvsp", pa.string()), ("protein_position", pa.int32()), ("amino_acids", pa.string()),
    ("biotype", pa.string()),
])

# ---------------------------------------------------------------------------------------------------------------
# Transcript catalog as arrays

_TX_GENE: list[int] = []
_TX_FIRST = np.zeros(len(GENES), dtype=np.int64)
_TX_COUNT = np.zeros(len(GENES), dtype=np.int64)
for _g_index, _gene in enumerate(GENES):
    _TX_FIRST[_g_index] = len(_TX_GENE)
    _TX_COUNT[_g_index] = len(_gene.transcripts)
    _TX_GENE.extend([_g_index] * len(_gene.transcripts))
_TRANSCRIPTS = [t for g in GENES for t in g.transcripts]
TX_ID = pa.array([t.transcript_id for t in _TRANSCRIPTS], pa.string())
TX_CANONICAL = np.array([t.canonical for t in _TRANSCRIPTS])
TX_MANE = np.array([t.mane_select for t in _TRANSCRIPTS])
TX_BIOTYPE = pa.array([t.biotype for t in _TRANSCRIPTS], pa.string())
TX_CODING = np.array([t.biotype in ("protein_coding", "nonsense_mediated_decay") for t in _TRANSCRIPTS])
TX_NMD = np.array([t.biotype == "nonsense_mediated_decay" for t in _TRANSCRIPTS])
TX_SHIFT = np.array([t.codon_shift for t in _TRANSCRIPTS], dtype=np.int64)
TX_RANK = np.array([i for g in GENES for i in range(len(g.transcripts))], dtype=np.int64)
GENE_SYMBOL = pa.array([g.symbol for g in GENES], pa.string())
GENE_ID = pa.array([g.ensembl_gene_id for g in GENES], pa.string())
GENE_MINUS = np.array([g.strand == "-" for g in GENES])
GENE_CDS = np.array([3 * g.protein_length for g in GENES], dtype=np.int64)
GENE_DOMAIN = np.array([bool(g.domains) for g in GENES])
GENE_CODING = np.array([g.coding for g in GENES])
GENE_INTRONLESS = np.array([g.intronless for g in GENES])
GENE_INDEX = {g.symbol: i for i, g in enumerate(GENES)}


# ---------------------------------------------------------------------------------------------------------------
# Planted findings


@dataclass(frozen=True)
class PlantedVariant:
    """One variant planted in a trio so that an inheritance mode can be found from zygosities."""

    mode: str  # one of PLANT_MODES
    study_id: str
    chromosome: str
    gene_index: int
    category: int
    child: int  # population index of the child (proband)
    het_parents: tuple[int, ...]  # population indexes of parents carrying it HET (transmitted to the child)
    af: float  # nominal population frequency (0 = absent from gnomAD)


def _trios(population: Population, study_id: str) -> list[Participant]:
    ps = population.participants
    return [p for p in ps if p.study_id == study_id and p.is_proband and p.sequenced
            and p.mother_index is not None and p.father_index is not None
            and ps[p.mother_index].sequenced and ps[p.father_index].sequenced]


def plan_planted_variants(population: Population, seed: int) -> list[PlantedVariant]:
    """The planted inheritance findings of every study (deterministic in the seed and the population)."""
    rng = np.random.default_rng([seed, 31])
    ps = population.participants
    plants: list[PlantedVariant] = []
    for study in population.studies:
        trios = _trios(population, study.study_id)
        if not trios:
            continue
        domain = study_domain(study.study_code, study.domain)
        autosomal = [GENE_INDEX[g.symbol] for g in domain_genes(domain) if g.chromosome not in ("X", "Y", "M")]
        x_linked = [GENE_INDEX[g.symbol] for g in domain_genes(domain, "X")] or \
            [GENE_INDEX[s] for s in ("DMD", "OTC", "MECP2")]
        order = [trios[int(i)] for i in rng.permutation(len(trios))]
        n = len(order)

        def take(count: int, eligible: list[Participant], offset: int) -> list[Participant]:
            if not eligible:
                return []
            return [eligible[(offset + i) % len(eligible)] for i in range(min(count, max(1, len(eligible))))]

        def gene(pool: list[int]) -> int:
            return int(pool[int(rng.integers(0, len(pool)))])

        def add(mode: str, g: int, category: int, child: Participant, parents: tuple[int, ...], af: float,
                study_id: str = study.study_id) -> None:
            plants.append(PlantedVariant(mode, study_id, GENES[g].chromosome, g, category, child.index, parents, af))

        for child in take(max(2, n // 5), order, 0):
            cat = int(rng.choice([C_STOP, C_FRAMESHIFT, C_MISSENSE, C_MISSENSE]))
            add("de_novo", gene(autosomal), cat, child, (), 0.0)
        for child in take(max(1, n // 8), order, n // 5 + 1):
            af = float(10 ** rng.uniform(-5, -3.5))
            add("autosomal_recessive", gene(autosomal), int(rng.choice([C_MISSENSE, C_STOP])), child,
                (child.mother_index or 0, child.father_index or 0), af)
        for child in take(max(1, n // 8), order, n // 5 + n // 8 + 2):
            g = gene(autosomal)
            add("compound_heterozygous", g, C_MISSENSE, child, (child.mother_index or 0,),
                float(10 ** rng.uniform(-5, -3.5)))
            add("compound_heterozygous", g, C_FRAMESHIFT, child, (child.father_index or 0,), 0.0)
        males = [c for c in order if c.sex == "male"]
        for child in take(max(1, len(males) // 6), males, 0):
            add("x_linked_recessive", gene(x_linked), int(rng.choice([C_MISSENSE, C_STOP])), child,
                (child.mother_index or 0,), float(10 ** rng.uniform(-5.5, -4)))
        with_affected_parent = [c for c in order if ps[c.mother_index or 0].affected
                                or ps[c.father_index or 0].affected]
        for child in take(max(1, len(with_affected_parent) // 2), with_affected_parent, 0):
            mother, father = ps[child.mother_index or 0], ps[child.father_index or 0]
            parent = mother if mother.affected else father
            add("inherited_dominant", gene(autosomal), int(rng.choice([C_MISSENSE, C_STOP])), child,
                (parent.index,), 0.0)
    return plants


# ---------------------------------------------------------------------------------------------------------------
# Per-chromosome targets and the variant pool


@dataclass
class _ChromosomeTarget:
    chromosome: str
    rows: float  # expected carried calls on this chromosome over sequenced participants
    n_shared: int
    n_private: int


def _ploidy(chromosome: str, male: np.ndarray) -> np.ndarray:
    if chromosome == "X":
        return np.where(male, 1, 2)
    if chromosome == "Y":
        return np.where(male, 1, 0)
    if chromosome == "M":
        return np.ones(len(male), dtype=np.int64)
    return np.full(len(male), 2)


def _effective_length(chromosome: str) -> float:
    """Callable, variable sequence per haplotype, relative units."""
    if chromosome == "X":
        return CHROMOSOME_LENGTHS["X"] * 0.6
    if chromosome == "Y":
        return CHROMOSOME_LENGTHS["Y"] * 0.05
    if chromosome == "M":
        return 2.9e9 * 0.002  # about 0.2 % of the calls
    return float(CHROMOSOME_LENGTHS[chromosome])


MEAN_POOL_AF = 0.0152  # mean nominal allele frequency of the shared pool mixture below


def _targets(population: Population, n_alt_rows: int) -> dict[str, _ChromosomeTarget]:
    seq_male = np.array([p.sex == "male" for p in population.participants if p.sequenced])
    haplotypes = {c: float(_ploidy(c, seq_male).sum()) for c in CHROMOSOMES}
    density = n_alt_rows / sum(_effective_length(c) * haplotypes[c] for c in CHROMOSOMES)
    out: dict[str, _ChromosomeTarget] = {}
    for c in CHROMOSOMES:
        rows = density * _effective_length(c) * haplotypes[c]
        per_haplotype = rows / max(1.0, haplotypes[c])
        n_shared = int(min(MAX_SHARED_POOL, max(40, per_haplotype * (1 - PRIVATE_SHARE) / MEAN_POOL_AF)))
        n_private = int(min(MAX_PRIVATE_POOL, max(20, 1.5 * PRIVATE_SHARE * rows)))
        if c == "M":
            n_shared = min(n_shared, 6000)
            n_private = min(n_private, 6000)
        out[c] = _ChromosomeTarget(c, rows, n_shared, n_private)
    return out


@dataclass
class _Pool:
    chromosome: str
    start: np.ndarray  # int64
    ref_len: np.ndarray
    alt_len: np.ndarray
    vclass: np.ndarray  # int8 into VARIANT_CLASSES
    gene: np.ndarray  # int64 into GENES, -1 intergenic
    category: np.ndarray  # canonical consequence category
    kind: np.ndarray  # 0 shared, 1 private, 2 planted
    af: np.ndarray  # nominal population allele frequency (0 = unknown)
    ref0: np.ndarray  # first base code of ref / alt
    alt0: np.ndarray
    reference: pa.Array
    alternate: pa.Array
    locus_id: pa.Array
    shared_idx: np.ndarray
    shared_cdf: np.ndarray
    private_idx: np.ndarray
    planted: dict[int, int] = field(default_factory=dict)  # plant number -> pool index
    draws_per_haplotype: float = 0.0
    private_per_haplotype: float = 0.0

    def __len__(self) -> int:
        return len(self.start)


def _allele_frequencies(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.choice(3, size=n, p=[0.04, 0.16, 0.80])
    common = rng.uniform(0.05, 0.6, n)
    low = 10 ** rng.uniform(-3, math.log10(0.05), n)
    rare = 10 ** rng.uniform(-5, -3, n)
    return np.where(kind == 0, common, np.where(kind == 1, low, rare))


def _outside(positions: np.ndarray, chromosome: str, genes: list[Gene]) -> np.ndarray:
    ok = np.ones(len(positions), dtype=bool)
    for g in genes:
        ok &= ~((positions >= g.start - 2000) & (positions <= g.end + 2000))
    for lo, hi in PSEUDOAUTOSOMAL.get(chromosome, ()):
        ok &= ~((positions >= lo) & (positions <= hi))
    return ok


def _intergenic_positions(rng: np.random.Generator, n: int, chromosome: str, genes: list[Gene]) -> np.ndarray:
    length = CHROMOSOME_LENGTHS[chromosome]
    lo, hi = (1, length - 10) if chromosome == "M" else (100_000, length - 100_000)
    if chromosome == "Y":
        lo, hi = 2_800_000, 26_600_000
    out = np.empty(0, dtype=np.int64)
    for _ in range(20):
        if len(out) >= n:
            break
        cand = rng.integers(lo, hi, size=2 * (n - len(out)) + 16)
        if chromosome == "M":  # the control region, around the origin
            cand = np.where(rng.random(len(cand)) < 0.5, rng.integers(16024, 16560, len(cand)),
                            rng.integers(1, 577, len(cand)))
        else:
            cand = cand[_outside(cand, chromosome, genes)]
        out = np.concatenate([out, cand])
    return out[:n]


def _categories(rng: np.random.Generator, vclass: np.ndarray, gene: np.ndarray, ref_len: np.ndarray,
                alt_len: np.ndarray, af: np.ndarray) -> np.ndarray:
    n = len(vclass)
    cat = np.full(n, C_INTERGENIC, dtype=np.int8)
    genic = gene >= 0
    g0 = np.where(genic, gene, 0)
    coding_gene = genic & GENE_CODING[g0]
    intronless = genic & GENE_INTRONLESS[g0]
    snv_cats = np.array([C_INTRON, C_UTR5, C_UTR3, C_SYN, C_MISSENSE, C_STOP, C_DONOR, C_ACCEPTOR,
                         C_SPLICE_REGION, C_START_LOST, C_MISSENSE_SPLICE])
    snv_p = np.array([0.50, 0.03, 0.07, 0.13, 0.19, 0.02, 0.007, 0.007, 0.025, 0.002, 0.005])
    snv = snv_cats[rng.choice(len(snv_cats), n, p=snv_p / snv_p.sum())]
    indel_region = rng.choice(6, n, p=[0.55, 0.03, 0.08, 0.30, 0.02, 0.02])
    frame = np.abs(alt_len - ref_len) % 3 != 0
    coding_indel = np.where(vclass == VC_DEL, np.where(frame, C_FRAMESHIFT, C_INFRAME_DEL),
                            np.where(frame, C_FRAMESHIFT, C_INFRAME_INS))
    indel = np.select([indel_region == 0, indel_region == 1, indel_region == 2, indel_region == 3,
                       indel_region == 4], [C_INTRON, C_UTR5, C_UTR3, coding_indel, C_DONOR], C_ACCEPTOR)
    complex_region = rng.choice(3, n, p=[0.6, 0.1, 0.3])
    complex_coding = np.where(vclass == VC_SUBST, C_MISSENSE, C_PROTEIN_ALTERING)
    complex_cat = np.select([complex_region == 0, complex_region == 1], [C_INTRON, C_UTR3], complex_coding)
    chosen = np.select([vclass == VC_SNV, (vclass == VC_INS) | (vclass == VC_DEL)], [snv, indel], complex_cat)
    # intronless (mitochondrial) coding genes: only coding consequences
    mito_snv = np.array([C_SYN, C_MISSENSE, C_STOP])[rng.choice(3, n, p=[0.45, 0.5, 0.05])]
    mito = np.where(vclass == VC_SNV, mito_snv, np.where(frame, C_FRAMESHIFT, C_INFRAME_DEL))
    chosen = np.where(intronless, mito, chosen)
    # non-coding genes: exon of the transcript or intron
    nc = np.where(intronless | (rng.random(n) < 0.5), C_NC_EXON, C_INTRON)
    chosen = np.where(coding_gene, chosen, nc)
    cat[genic] = chosen[genic]
    # common variants are not loss of function
    high = CATEGORY_IMPACT[cat] == 3
    benign = np.where(intronless, C_SYN, C_INTRON)
    cat = np.where(high & (af > 0.01), benign, cat).astype(np.int8)
    return cat


def _string_array(lengths: np.ndarray, codes: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = BASES[codes]
    return pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data.tobytes()))


def _sequences(rng: np.random.Generator, first: np.ndarray, lengths: np.ndarray) -> pa.Array:
    total = int(lengths.sum())
    codes = rng.integers(0, 4, total).astype(np.int64)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    codes[starts] = first
    return _string_array(lengths, codes)


def _build_pool(chromosome: str, chrom_number: int, target: _ChromosomeTarget, plants: list[PlantedVariant],
                plant_numbers: list[int], seed: int, n_diploid: int, n_haploid: int) -> _Pool:
    rng = np.random.default_rng([seed, 11, chrom_number])
    genes = [g for g in GENES if g.chromosome == chromosome]
    gene_ids = np.array([GENE_INDEX[g.symbol] for g in genes], dtype=np.int64)
    n_plant, n_shared, n_private = len(plants), target.n_shared, target.n_private
    n = n_plant + n_shared + n_private
    kind = np.concatenate([np.full(n_plant, 2), np.zeros(n_shared), np.ones(n_private)]).astype(np.int8)
    af = np.concatenate([np.array([p.af for p in plants]), _allele_frequencies(rng, n_shared),
                         np.zeros(n_private)])
    genic_share = 0.95 if chromosome == "M" else 0.8
    gene = np.full(n, -1, dtype=np.int64)
    if len(genes):
        weights = np.sqrt(np.array([g.end - g.start + 1 for g in genes], dtype=np.float64))
        pick = rng.choice(len(genes), n, p=weights / weights.sum())
        gene = np.where(rng.random(n) < genic_share, gene_ids[pick], -1)
    gene[:n_plant] = [p.gene_index for p in plants]
    # variant class and lengths
    if chromosome == "M":
        vclass = rng.choice([VC_SNV, VC_DEL, VC_INS], n, p=[0.95, 0.03, 0.02])
    else:
        vclass = rng.choice(5, n, p=[0.86, 0.055, 0.065, 0.01, 0.01])
    size = np.minimum(rng.geometric(0.45, n), 12)
    ref_len = np.ones(n, dtype=np.int64)
    alt_len = np.ones(n, dtype=np.int64)
    ref_len = np.where(vclass == VC_DEL, 1 + size, ref_len)
    alt_len = np.where(vclass == VC_INS, 1 + size, alt_len)
    complex_len = rng.integers(2, 4, n)
    ref_len = np.where(vclass == VC_INDEL, complex_len, np.where(vclass == VC_SUBST, 2, ref_len))
    alt_len = np.where(vclass == VC_INDEL, 5 - complex_len, np.where(vclass == VC_SUBST, 2, alt_len))
    plant_cat = np.array([p.category for p in plants], dtype=np.int8)
    if n_plant:
        frameshift = plant_cat == C_FRAMESHIFT
        vclass[:n_plant] = np.where(frameshift, VC_DEL, VC_SNV)
        ref_len[:n_plant] = np.where(frameshift, 1 + rng.choice([1, 2, 4], n_plant), 1)
        alt_len[:n_plant] = 1
    category = _categories(rng, vclass, gene, ref_len, alt_len, af)
    category[:n_plant] = plant_cat
    # positions
    start = np.zeros(n, dtype=np.int64)
    genic = gene >= 0
    if genic.any():
        gs = np.array([g.start for g in GENES], dtype=np.int64)
        ge = np.array([g.end for g in GENES], dtype=np.int64)
        start[genic] = rng.integers(gs[gene[genic]], ge[gene[genic]] + 1)
    start[~genic] = _intergenic_positions(rng, int((~genic).sum()), chromosome, genes)
    if chromosome == "M":
        start = np.minimum(start, CHROMOSOME_LENGTHS["M"] - ref_len)
    for i in range(1, n_plant):  # planted variants never share a position
        while start[i] in start[:i]:
            start[i] += 1
    # bases: SNV alternate differs from reference; indels are anchored on the reference base
    ref0 = rng.integers(0, 4, n)
    alt0 = np.where((vclass == VC_INS) | (vclass == VC_DEL), ref0, (ref0 + rng.integers(1, 4, n)) % 4)
    # one variant per position (planted first so they are kept), then a few multi-allelic sites
    _, keep = np.unique(start, return_index=True)
    keep = np.sort(keep)
    names = ("start", "ref_len", "alt_len", "vclass", "gene", "category", "kind", "af", "ref0", "alt0")
    cols: dict[str, np.ndarray] = {
        name: np.asarray(a)[keep] for name, a in zip(
            names, (start, ref_len, alt_len, vclass, gene, category, kind, af, ref0, alt0), strict=True)}
    plant_pos = {int(cols["start"][i]): number for i, number in zip(range(n_plant), plant_numbers, strict=True)}
    multi = np.flatnonzero((cols["kind"] == 0) & (cols["vclass"] == VC_SNV) & (cols["af"] < 0.05))
    if len(multi):
        multi = rng.choice(multi, size=max(1, len(multi) // 300), replace=False)
        third = (cols["alt0"][multi] + rng.integers(1, 3, len(multi))) % 4
        third = np.where(third == cols["ref0"][multi], (third + 1) % 4, third)
        extra = {name: cols[name][multi] for name in names}
        extra["af"] = extra["af"] * 0.2
        extra["alt0"] = third
        cols = {name: np.concatenate([cols[name], extra[name]]) for name in names}
    order = np.lexsort((cols["alt0"], cols["start"]))
    cols = {name: cols[name][order] for name in names}
    start, ref_len, alt_len, kind, af = cols["start"], cols["ref_len"], cols["alt_len"], cols["kind"], cols["af"]
    reference = _sequences(rng, cols["ref0"], ref_len)
    alternate = _sequences(rng, cols["alt0"], alt_len)
    chrom_arr = pa.array([chromosome], pa.string()).take(pa.array(np.zeros(len(start), dtype=np.int32)))
    locus_id = pc.binary_join_element_wise(chrom_arr, pc.cast(pa.array(start), pa.string()), reference, alternate,
                                           "-")
    planted: dict[int, int] = {}
    for pool_index in np.flatnonzero(kind == 2).tolist():
        planted[plant_pos[int(start[pool_index])]] = pool_index
    shared_idx = np.flatnonzero(kind == 0)
    weights = -np.log1p(-np.minimum(af[shared_idx], 0.95))
    cdf = np.cumsum(weights)
    cdf /= cdf[-1] if len(cdf) else 1.0
    pool = _Pool(chromosome, start, ref_len, alt_len, cols["vclass"].astype(np.int8), cols["gene"],
                 cols["category"], kind, af, cols["ref0"], cols["alt0"], reference, alternate, locus_id, shared_idx,
                 cdf, np.flatnonzero(kind == 1), planted)
    _calibrate(pool, target, weights, n_diploid, n_haploid)
    return pool


def _calibrate(pool: _Pool, target: _ChromosomeTarget, weights: np.ndarray, n_diploid: int,
               n_haploid: int) -> None:
    """Draws per haplotype so that the expected carried calls over sequenced participants hit the target."""
    haplotypes = 2 * n_diploid + n_haploid
    if haplotypes == 0 or target.rows <= 0 or len(weights) == 0:
        return
    pool.private_per_haplotype = PRIVATE_SHARE * target.rows / haplotypes if len(pool.private_idx) else 0.0
    goal = target.rows - pool.private_per_haplotype * haplotypes
    pi = weights / weights.sum()

    def expected(d: float) -> float:
        q = -np.expm1(-d * pi)
        s1 = float(q.sum())
        return n_diploid * (2 * s1 - float((q * q).sum())) + n_haploid * s1

    lo, hi = 0.0, max(1.0, goal)
    while expected(hi) < goal and hi < 1e12:
        hi *= 4
    for _ in range(32):
        mid = (lo + hi) / 2
        if expected(mid) < goal:
            lo = mid
        else:
            hi = mid
    pool.draws_per_haplotype = (lo + hi) / 2


# ---------------------------------------------------------------------------------------------------------------
# Genotypes of one chunk of families


@dataclass
class _Chunk:
    members: list[Participant]
    local: dict[int, int]  # population index -> local index
    male: np.ndarray
    mother: np.ndarray  # local index, -1 absent
    father: np.ndarray
    sequenced: np.ndarray
    proband: np.ndarray
    affected: np.ndarray


def _make_chunk(members: list[Participant]) -> _Chunk:
    local = {p.index: i for i, p in enumerate(members)}

    def parent(index: int | None) -> int:
        return local.get(index, -1) if index is not None else -1

    return _Chunk(
        members, local,
        male=np.array([p.sex == "male" for p in members]),
        mother=np.array([parent(p.mother_index) for p in members], dtype=np.int64),
        father=np.array([parent(p.father_index) for p in members], dtype=np.int64),
        sequenced=np.array([p.sequenced for p in members]),
        proband=np.array([p.is_proband for p in members]),
        affected=np.array([p.affected for p in members]),
    )


@dataclass
class _Genotypes:
    """Sparse genotype rows of a chunk, sorted by key = person * len(pool) + variant."""

    person: np.ndarray
    variant: np.ndarray
    count: np.ndarray  # alternate alleles: 2, 1, 0 (WT row) or -1 (no-call)

    def keys(self, n_variants: int) -> np.ndarray:
        return self.person * n_variants + self.variant


def _sorted(person: np.ndarray, variant: np.ndarray, count: np.ndarray, n_variants: int) -> _Genotypes:
    order = np.argsort(person * n_variants + variant, kind="stable")
    return _Genotypes(person[order], variant[order], count[order])


def _draw_haplotypes(rng: np.random.Generator, pool: _Pool, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variants on fresh haplotypes; returns (owner, variant) with one row per haplotype and variant."""
    n_hap = len(owners)
    if n_hap == 0 or len(pool.shared_idx) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    n_shared = rng.poisson(pool.draws_per_haplotype, n_hap)
    hap = np.repeat(np.arange(n_hap), n_shared)
    var = pool.shared_idx[np.minimum(np.searchsorted(pool.shared_cdf, rng.random(len(hap)), side="right"),
                                     len(pool.shared_idx) - 1)]
    if len(pool.private_idx) and pool.private_per_haplotype > 0:
        n_private = rng.poisson(pool.private_per_haplotype, n_hap)
        hap_p = np.repeat(np.arange(n_hap), n_private)
        var_p = pool.private_idx[rng.integers(0, len(pool.private_idx), len(hap_p))]
        hap, var = np.concatenate([hap, hap_p]), np.concatenate([var, var_p])
    keys = np.unique(hap * len(pool) + var)
    return owners[keys // len(pool)], keys % len(pool)


def _rows_of(g: _Genotypes, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indexes of g belonging to each of `people` (g sorted by person); returns (rows, which person)."""
    starts = np.searchsorted(g.person, people, side="left")
    ends = np.searchsorted(g.person, people, side="right")
    lengths = ends - starts
    total = int(lengths.sum())
    which = np.repeat(np.arange(len(people)), lengths)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(starts, lengths) + (np.arange(total) - offsets)
    return rows, which


def _genotypes(rng: np.random.Generator, pool: _Pool, chunk: _Chunk, plants: list[tuple[int, PlantedVariant]]
               ) -> tuple[_Genotypes, np.ndarray]:
    """All genotype rows of a chunk (sequenced or not) and a per-row 'planted' flag."""
    chrom = pool.chromosome
    nv = len(pool)
    ploidy = _ploidy(chrom, chunk.male)
    founders = np.flatnonzero((chunk.mother < 0) & (chunk.father < 0))
    owners = np.repeat(founders, ploidy[founders])
    owner, var = _draw_haplotypes(rng, pool, owners)
    keys, counts = np.unique(owner * nv + var, return_counts=True)
    f_person, f_var, f_count = keys // nv, keys % nv, counts.astype(np.int64)
    if chrom == "M":
        f_count[:] = 2
    # planted parental alleles, forced transmissions, de novo children
    forced: list[int] = []
    extra_p: list[int] = []
    extra_v: list[int] = []
    extra_c: list[int] = []
    for number, plant in plants:
        v = pool.planted[number]
        child = chunk.local[plant.child]
        if plant.het_parents:
            for parent in plant.het_parents:
                extra_p.append(chunk.local[parent])
                extra_v.append(v)
                extra_c.append(1)
            forced.append(child * nv + v)
    f_person = np.concatenate([f_person, np.array(extra_p, dtype=np.int64)])
    f_var = np.concatenate([f_var, np.array(extra_v, dtype=np.int64)])
    f_count = np.concatenate([f_count, np.array(extra_c, dtype=np.int64)])
    founder_g = _sorted(f_person, f_var, f_count, nv)
    forced_keys = np.array(sorted(forced), dtype=np.int64)

    children = np.flatnonzero((chunk.mother >= 0) | (chunk.father >= 0))
    c_person: list[np.ndarray] = []
    c_var: list[np.ndarray] = []
    c_alleles: list[np.ndarray] = []
    if len(children):
        male = chunk.male[children]
        from_mother = np.ones(len(children), dtype=bool)
        from_father = np.ones(len(children), dtype=bool)
        if chrom == "X":
            from_father = ~male
        elif chrom == "Y":
            from_mother[:] = False
            from_father = male
        elif chrom == "M":
            from_father[:] = False
        for role, parents, wanted in (("mother", chunk.mother[children], from_mother),
                                      ("father", chunk.father[children], from_father)):
            present = wanted & (parents >= 0)
            kids = children[present]
            rows, which = _rows_of(founder_g, parents[present])
            kid = kids[which]
            pv = founder_g.variant[rows]
            pc = founder_g.count[rows]
            transmit = (pc >= 2) | (rng.random(len(rows)) < 0.5)
            if chrom in ("Y", "M") or (chrom == "X" and role == "father"):
                transmit[:] = True
            if len(forced_keys):
                transmit |= np.isin(kid * nv + pv, forced_keys)
            c_person.append(kid[transmit])
            c_var.append(pv[transmit])
            c_alleles.append(np.ones(int(transmit.sum()), dtype=np.int64))
            phantom = children[wanted & (parents < 0)]
            ph_owner, ph_var = _draw_haplotypes(rng, pool, phantom)
            c_person.append(ph_owner)
            c_var.append(ph_var)
            c_alleles.append(np.ones(len(ph_owner), dtype=np.int64))
    if c_person:
        ck = np.concatenate(c_person) * nv + np.concatenate(c_var)
        ckeys, ccounts = np.unique(ck, return_counts=True)
        ch_person, ch_var, ch_count = ckeys // nv, ckeys % nv, np.minimum(ccounts, 2).astype(np.int64)
        if chrom == "M":
            ch_count[:] = 2
    else:
        ch_person = ch_var = ch_count = np.empty(0, np.int64)
    # de novo: the child carries it, both parents have a confident WT call
    dn_p: list[int] = []
    dn_v: list[int] = []
    dn_c: list[int] = []
    for number, plant in plants:
        if plant.het_parents:
            continue
        v = pool.planted[number]
        child = chunk.local[plant.child]
        dn_p += [child, int(chunk.mother[child]), int(chunk.father[child])]
        dn_v += [v, v, v]
        dn_c += [1, 0, 0]
    person = np.concatenate([founder_g.person, ch_person, np.array(dn_p, dtype=np.int64)])
    variant = np.concatenate([founder_g.variant, ch_var, np.array(dn_v, dtype=np.int64)])
    count = np.concatenate([founder_g.count, ch_count, np.array(dn_c, dtype=np.int64)])
    g = _sorted(person, variant, count, nv)
    # a few parental no-calls where a child carries an allele the parent does not have
    carried_child = np.flatnonzero((g.count > 0) & np.isin(g.person, children) & (pool.kind[g.variant] != 2))
    pick = carried_child[rng.random(len(carried_child)) < UNK_PARENT_RATE]
    if len(pick):
        use_mother = rng.random(len(pick)) < 0.5
        parent = np.where(use_mother, chunk.mother[g.person[pick]], chunk.father[g.person[pick]])
        ok = parent >= 0
        if chrom == "X":
            ok &= ~(~use_mother & chunk.male[g.person[pick]])  # a son's X is not from his father
        if chrom in ("Y", "M"):
            ok[:] = False
        parent, var = parent[ok], g.variant[pick][ok]
        all_keys = g.keys(nv)
        new_keys = np.unique(parent * nv + var)
        new_keys = new_keys[~np.isin(new_keys, all_keys)]
        if len(new_keys):
            g = _sorted(np.concatenate([g.person, new_keys // nv]), np.concatenate([g.variant, new_keys % nv]),
                        np.concatenate([g.count, np.full(len(new_keys), -1, dtype=np.int64)]), nv)
    planted_flag = pool.kind[g.variant] == 2
    return g, planted_flag


# ---------------------------------------------------------------------------------------------------------------
# Occurrence table of one chunk


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a stable pseudo-random integer per key."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _list_array(patterns: tuple[tuple[int, ...], ...], codes: np.ndarray, values: pa.Array | None,
                mask: np.ndarray | None, value_type: pa.DataType) -> pa.Array:
    """A list column from per-row pattern codes (patterns hold ints, or indexes into `values`)."""
    lengths = np.array([len(p) for p in patterns], dtype=np.int32)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = np.array([v for p in patterns for v in p], dtype=np.int64)
    codes = np.where(mask, 0, codes) if mask is not None else codes
    row_len = lengths[codes]
    offsets = np.zeros(len(codes) + 1, dtype=np.int32)
    np.cumsum(row_len, out=offsets[1:])
    within = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], row_len)
    flat_values = flat[np.repeat(starts[codes], row_len) + within]
    if values is None:
        items = pa.array(flat_values.astype(np.int32), pa.int32())
    else:
        items = values.take(pa.array(flat_values))
    arr = pa.ListArray.from_arrays(pa.array(offsets), items, mask=pa.array(mask) if mask is not None else None)
    return arr.cast(pa.list_(value_type))


def _constant(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, dtype=np.int32)))


def _take(values: pa.Array, index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return values.take(pa.array(index, mask=mask))


def _nullable_int(values: np.ndarray, mask: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int32), pa.int32(), mask=mask)


def _zygosity_codes(count: np.ndarray, haploid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(zygosity index, calls pattern index) from alternate allele counts."""
    zyg = np.select([count == 2, (count == 1) & haploid, count == 1, count == 0], [Z_HOM, Z_HEM, Z_HET, Z_WT],
                    Z_UNK)
    calls = np.select([count == 2, (count == 1) & haploid, count == 1, (count == 0) & haploid, count == 0,
                       haploid], [1, 2, 0, 4, 3, 6], 5)
    return zyg, calls


def _quality(rng: np.random.Generator, count: np.ndarray, planted: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(count)
    dp = (1 + rng.gamma(8.0, 4.4, n)).astype(np.int64)
    low_cov = rng.random(n) < 0.03
    dp = np.where(low_cov, rng.integers(3, 12, n), dp)
    gq = np.clip((dp * 3 + rng.normal(0, 8, n)).astype(np.int64), 0, 99)
    low_q = rng.random(n) < 0.04
    gq = np.where(low_q, rng.integers(2, 20, n), gq)
    dp = np.where(planted, rng.integers(25, 61, n), dp)
    gq = np.where(planted, 99, gq)
    u = rng.random(n)
    filt = np.where(gq < 20, np.where(u < 0.7, 2, np.where(u < 0.85, 3, 0)),
                    np.select([u < 0.02, u < 0.03, (dp < 10) & (u < 0.5)], [1, 4, 5], 0))
    filt = np.where(planted, 0, filt)
    het_alt = np.clip(rng.binomial(dp, 0.48), 1, np.maximum(dp - 1, 1))
    hom_alt = dp - rng.binomial(dp, 0.01)
    wt_alt = rng.binomial(dp, 0.004)
    ad_alt = np.select([count == 2, count == 1, count == 0], [hom_alt, het_alt, wt_alt], 0)
    # no-calls: almost no depth
    unk = count < 0
    dp = np.where(unk, rng.integers(0, 3, n), dp)
    gq = np.where(unk, 0, gq)
    filt = np.where(unk, 1, filt)
    ad_alt = np.where(unk, 0, np.minimum(ad_alt, dp))
    # haploid HEM and HOM rows use the hom_alt draw (count 1 haploid handled by caller)
    ad_ref = dp - ad_alt
    return dp, gq, ad_ref, ad_alt, filt


def _occurrence_table(rng: np.random.Generator, pool: _Pool, chunk: _Chunk, g: _Genotypes, planted: np.ndarray,
                      study_id: str, seed: int) -> pa.Table:
    chrom = pool.chromosome
    nv = len(pool)
    haploid_person = (chrom == "X") & chunk.male | (chrom == "Y")
    haploid = haploid_person[g.person]
    dp, gq, ad_ref, ad_alt, filt = _quality(rng, np.where(haploid & (g.count == 1), 2, g.count), planted)
    keys = g.keys(nv)
    out = np.flatnonzero(chunk.sequenced[g.person])
    out = out[np.lexsort((g.person[out], g.variant[out]))]
    person, var, count = g.person[out], g.variant[out], g.count[out]
    n = len(out)
    zyg, calls = _zygosity_codes(count, haploid[out])

    parent_cols: dict[str, pa.Array] = {}
    parent_state: dict[str, np.ndarray] = {}
    ids = pa.array([p.participant_id for p in chunk.members], pa.string())
    for role, parents in (("mother", chunk.mother), ("father", chunk.father)):
        par = parents[person]
        absent = par < 0
        par0 = np.where(absent, 0, par)
        sequenced = ~absent & chunk.sequenced[par0]
        key = par0 * nv + var
        pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        found = sequenced & (keys[pos] == key) if len(keys) else np.zeros(n, dtype=bool)
        p_count = np.where(found, g.count[pos], 0)
        h = _mix64(key ^ np.int64(seed & 0x7FFFFFFF))
        wt_dp = (12 + h % np.uint64(40)).astype(np.int64)
        wt_gq = np.where((h >> np.uint64(8)) % np.uint64(100) < np.uint64(85), 99,
                         20 + ((h >> np.uint64(16)) % np.uint64(79)).astype(np.int64))
        wt_gq = np.where((h >> np.uint64(24)) % np.uint64(100) < np.uint64(3),
                         ((h >> np.uint64(32)) % np.uint64(20)).astype(np.int64), wt_gq)
        p_dp = np.where(found, dp[pos], wt_dp)
        p_gq = np.where(found, gq[pos], wt_gq)
        p_haploid = haploid_person[par0]
        p_zyg, p_calls = _zygosity_codes(p_count, p_haploid)
        null = ~sequenced
        parent_cols[f"{role}_id"] = _take(ids, par0, absent)
        parent_cols[f"{role}_zygosity"] = _take(pa.array(ZYGOSITIES), p_zyg, null)
        parent_cols[f"{role}_calls"] = _list_array(CALL_PATTERNS, p_calls, None, null, pa.int32())
        parent_cols[f"{role}_gq"] = _nullable_int(p_gq, null)
        parent_cols[f"{role}_dp"] = _nullable_int(p_dp, null)
        parent_cols[f"{role}_affected_status"] = pa.array(chunk.affected[par0], pa.bool_(), mask=absent)
        # 0 not known (absent, not sequenced, no-call), 1 WT, 2 carrier
        parent_state[role] = np.where(null | (p_count < 0), 0, np.where(p_count > 0, 2, 1))

    m, f = parent_state["mother"], parent_state["father"]
    carrier = count > 0
    origin = np.select([(m == 0) | (f == 0), (m == 2) & (f == 2), m == 2, f == 2], [4, 3, 0, 1], 2)
    origin_null = ~carrier
    male = chunk.male[person]
    hom = count == 2
    auto = np.select([hom & (m == 2) & (f == 2), (m == 2) | (f == 2)], [2, 1], 0)
    x_male = np.where(m == 2, 6, 4)
    x_female = np.select([hom & (m == 2) & (f == 2), (m == 2) | (f == 2)], [6, 5], 3)
    inherited = auto if chrom != "X" else np.where(male, x_male, x_female)
    unknown_parent = np.select([(m == 0) & (f == 0), f == 0, m == 0], [9, 10, 11], -1)
    if chrom == "X":
        unknown_parent = np.where(male, np.where(m == 0, np.where(f == 0, 9, 11), -1), unknown_parent)
    mode = np.where(unknown_parent >= 0, unknown_parent, inherited)
    mode = np.select([count < 0, count == 0], [8, 7], mode)
    mode_null = np.zeros(n, dtype=bool) if chrom not in ("Y", "M") else np.ones(n, dtype=bool)

    members = chunk.members
    sample_ids = pa.array([p.sample_id for p in members], pa.string())
    family_ids = pa.array([p.family_id for p in members], pa.string())
    columns: dict[str, pa.Array] = {
        "chromosome": _constant(chrom, n),
        "start": pa.array(pool.start[var], pa.int64()),
        "reference": _take(pool.reference, var),
        "alternate": _take(pool.alternate, var),
        "locus_id": _take(pool.locus_id, var),
        "study_id": _constant(study_id, n),
        "participant_id": _take(ids, person),
        "sample_id": _take(sample_ids, person),
        "family_id": _take(family_ids, person),
        "is_proband": pa.array(chunk.proband[person], pa.bool_()),
        "affected_status": pa.array(chunk.affected[person], pa.bool_()),
        "zygosity": _take(pa.array(ZYGOSITIES), zyg),
        "calls": _list_array(CALL_PATTERNS, calls, None, None, pa.int32()),
        "dp": pa.array(dp[out].astype(np.int32)),
        "gq": pa.array(gq[out].astype(np.int32)),
        "ad_ref": pa.array(ad_ref[out].astype(np.int32)),
        "ad_alt": pa.array(ad_alt[out].astype(np.int32)),
        "filters": _list_array(FILTER_PATTERNS, filt[out], pa.array(FILTER_NAMES), None, pa.string()),
        "has_alt": pa.array(carrier, pa.bool_()),
        **parent_cols,
        "parental_origin": _take(pa.array(PARENTAL_ORIGINS), origin, origin_null),
        "transmission_mode": _take(pa.array(TRANSMISSION_MODES), mode, mode_null),
    }
    return pa.Table.from_arrays([columns[f.name] for f in OCCURRENCE_SCHEMA], schema=OCCURRENCE_SCHEMA)


# ---------------------------------------------------------------------------------------------------------------
# Variants and consequences of the variants carried on one chromosome


def _u(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype(str)


def _join(*parts: np.ndarray | str) -> np.ndarray:
    out: np.ndarray | str = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return np.asarray(out)


def _revcomp(seqs: list[str]) -> list[str]:
    return ["".join(COMPLEMENT[b] for b in reversed(s)) for s in seqs]


def _variant_tables(pool: _Pool, u: np.ndarray, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """Variants and consequences rows of the pool variants `u` (sorted indexes into the pool)."""
    chrom = pool.chromosome
    nu = len(u)
    gene = pool.gene[u]
    cat = pool.category[u].astype(np.int64)
    vclass = pool.vclass[u].astype(np.int64)
    start = pool.start[u]
    ref_len = pool.ref_len[u]
    kind = pool.kind[u]
    af = pool.af[u]
    genic = gene >= 0
    g0 = np.where(genic, gene, 0)
    reference = pool.reference.take(pa.array(u))
    alternate = pool.alternate.take(pa.array(u))
    ref_py = reference.to_numpy(zero_copy_only=False).astype(str)
    alt_py = alternate.to_numpy(zero_copy_only=False).astype(str)

    # --- per-variant numbers shared by its transcripts
    cds = np.maximum(GENE_CDS[g0], 30)
    x = rng.integers(1, np.maximum(cds - 9, 2)) + 0
    x = np.where(cat == C_START_LOST, rng.integers(1, 4, nu), x)
    utr = rng.integers(12, 300, nu)
    off_mag = np.select([(cat == C_DONOR) | (cat == C_ACCEPTOR), cat == C_SPLICE_REGION],
                        [rng.integers(1, 3, nu), rng.integers(3, 9, nu)], rng.integers(12, 2500, nu))
    off_sign = np.select([cat == C_DONOR, cat == C_ACCEPTOR], [1, -1], np.where(rng.random(nu) < 0.5, 1, -1))
    aa_ref = rng.integers(0, 20, nu)
    aa_ref = np.where(cat == C_START_LOST, AA_MET, aa_ref)
    aa_alt = (aa_ref + rng.integers(1, 20, nu)) % 20
    aa_next = (aa_ref + 7) % 20
    fs_len = rng.integers(2, 60, nu)
    minus = GENE_MINUS[g0] & genic

    # --- consequence rows
    n_tx = np.where(genic, _TX_COUNT[g0], 1)
    row_var = np.repeat(np.arange(nu), n_tx)
    within = np.arange(int(n_tx.sum())) - np.repeat(np.cumsum(n_tx) - n_tx, n_tx)
    row_genic = genic[row_var]
    tx = np.where(row_genic, _TX_FIRST[g0][row_var] + within, -1)
    tx0 = np.where(tx >= 0, tx, 0)
    rank = np.where(row_genic, TX_RANK[tx0], 0)
    rcat = cat[row_var]
    coding_or_utr = np.isin(rcat, CODING_CATEGORIES) | (rcat == C_UTR5) | (rcat == C_UTR3)
    skipped = (rank == 1) & coding_or_utr & (rng.random(len(rcat)) < 0.3)
    rcat = np.where(skipped, C_INTRON, rcat)
    noncoding_tx = row_genic & ~TX_CODING[tx0]
    rcat = np.where(noncoding_tx & coding_or_utr, C_NC_EXON, rcat)
    nmd = row_genic & TX_NMD[tx0] & np.isin(rcat, CODING_CATEGORIES)
    impact = CATEGORY_IMPACT[rcat]
    first_row = np.cumsum(n_tx) - n_tx
    max_impact = np.maximum.reduceat(impact, first_row) if len(first_row) else np.empty(0, np.int8)

    # hgvsc
    shift = np.where(rcat == C_START_LOST, 0, TX_SHIFT[tx0] * 3)
    xr = x[row_var] + shift
    xr = np.where(xr < 1, x[row_var], xr)
    coding_row = np.isin(rcat, CODING_CATEGORIES)
    intronic_row = np.isin(rcat, INTRONIC_CATEGORIES)
    rv_class = vclass[row_var]
    span = np.select([rv_class == VC_DEL, rv_class == VC_INS, rv_class == VC_SNV], [ref_len[row_var] - 2, 1, 0],
                     ref_len[row_var] - 1)
    off = off_mag[row_var] * off_sign[row_var]
    off = np.where(off < 0, np.minimum(off, -(span + 1)), off)
    nc_row = noncoding_tx | ~TX_CODING[tx0]
    prefix = np.select([~row_genic, nc_row, rcat == C_UTR5, rcat == C_UTR3], ["", "n.", "c.-", "c.*"], "c.")
    prefix2 = np.select([rcat == C_UTR5, rcat == C_UTR3], ["-", "*"], "")
    prefix2 = np.where(nc_row, "", prefix2)
    base = np.select([rcat == C_UTR5, rcat == C_UTR3], [utr[row_var] + span + 1, utr[row_var]], xr)
    base = np.where(nc_row, xr + 150, base)
    off_str = np.where(intronic_row, np.char.add(np.where(off > 0, "+", ""), _u(off)), "")
    first = _join(_u(base), off_str)
    base2 = np.where(rcat == C_UTR5, base - span, base + span)
    second = np.where(intronic_row, _join(_u(base), np.char.add(np.where(off + span > 0, "+", ""),
                                                                  _u(off + span))), _u(base2))
    # alleles on the transcript's strand
    letters = np.array(list("ACGT"))  # complement of code c is 3 - c
    ref_s = letters[np.where(minus, 3 - pool.ref0[u], pool.ref0[u])]
    alt_s = letters[np.where(minus, 3 - pool.alt0[u], pool.alt0[u])]
    inserted = np.array([a[1:] for a in alt_py], dtype=object)
    replaced = alt_py.astype(object)
    if minus.any():
        idx = np.flatnonzero(minus & (vclass != VC_SNV))
        inserted[idx] = _revcomp(list(inserted[idx]))
        replaced[idx] = _revcomp(list(replaced[idx]))
    inserted_u, replaced_u = inserted.astype(str), replaced.astype(str)
    tail = np.select(
        [rv_class == VC_SNV, (rv_class == VC_DEL) & (span == 0), rv_class == VC_DEL, rv_class == VC_INS],
        [_join(ref_s[row_var], ">", alt_s[row_var]), np.full(len(rcat), "del"), _join("_", prefix2, second, "del"),
         _join("_", prefix2, second, "ins", inserted_u[row_var])],
        _join("_", prefix2, second, "delins", replaced_u[row_var]))
    hgvsc = _join(prefix, first, tail)
    hgvsc_null = ~row_genic

    # hgvsp, amino acids, protein position
    pp = (xr - 1) // 3 + 1
    a3 = np.array(AMINO_ACIDS_3)
    a1 = np.array(AMINO_ACIDS_1)
    r3, t3, n3 = a3[aa_ref][row_var], a3[aa_alt][row_var], a3[aa_next][row_var]
    r1, t1, n1 = a1[aa_ref][row_var], a1[aa_alt][row_var], a1[aa_next][row_var]
    pps = _u(pp)
    missense = (rcat == C_MISSENSE) | (rcat == C_MISSENSE_SPLICE)
    p_tail = np.select(
        [missense, rcat == C_SYN, rcat == C_STOP, rcat == C_FRAMESHIFT, rcat == C_INFRAME_DEL,
         rcat == C_INFRAME_INS],
        [t3, np.full(len(rcat), "="), np.full(len(rcat), "Ter"), _join(t3, "fsTer", _u(fs_len[row_var])),
         np.full(len(rcat), "del"), _join("_", n3, _u(pp + 1), "ins", t3)],
        _join("delins", t3, n3))
    hgvsp = np.where(rcat == C_START_LOST, "p.Met1?", _join("p.", r3, pps, p_tail))
    amino = np.select(
        [missense, rcat == C_SYN, rcat == C_STOP, rcat == C_FRAMESHIFT, rcat == C_INFRAME_DEL,
         rcat == C_INFRAME_INS, rcat == C_START_LOST],
        [_join(r1, "/", t1), r1, _join(r1, "/*"), _join(r1, "/X"), _join(r1, "/-"), _join("-/", t1),
         _join("M/", t1)],
        _join(r1, "/", t1, n1))
    protein_null = ~(coding_row & row_genic & ~nc_row)

    # SO terms list
    patterns = [CATEGORIES[c][0] for c in range(len(CATEGORIES))]
    patterns += [CATEGORIES[c][0] + ("NMD_transcript_variant",) for c in range(len(CATEGORIES))]
    term_codes = tuple(tuple(SO_TERMS.index(t) for t in p) for p in patterns)
    terms = _list_array(term_codes, rcat + np.where(nmd, len(CATEGORIES), 0), pa.array(SO_TERMS), None,
                        pa.string())

    locus = pool.locus_id.take(pa.array(u))
    n_rows = len(rcat)
    consequences = pa.Table.from_arrays([
        locus.take(pa.array(row_var)),
        _constant(chrom, n_rows),
        pa.array(start[row_var], pa.int64()),
        _take(GENE_SYMBOL, g0[row_var], ~row_genic),
        _take(GENE_ID, g0[row_var], ~row_genic),
        _take(TX_ID, tx0, ~row_genic),
        terms,
        _take(pa.array(IMPACTS), impact.astype(np.int64)),
        pa.array(np.where(row_genic, TX_CANONICAL[tx0], False), pa.bool_(), mask=~row_genic),
        pa.array(np.where(row_genic, TX_MANE[tx0], False), pa.bool_(), mask=~row_genic),
        pa.array(hgvsc, pa.string(), mask=hgvsc_null),
        pa.array(hgvsp, pa.string(), mask=protein_null),
        pa.array(pp.astype(np.int32), pa.int32(), mask=protein_null),
        pa.array(amino, pa.string(), mask=protein_null),
        _take(TX_BIOTYPE, tx0, ~row_genic),
    ], schema=CONSEQUENCE_SCHEMA)

    # --- variant annotations
    end = start + ref_len - 1
    vc = np.array(VARIANT_CLASSES)[vclass]
    sstart, send = _u(start), _u(end)
    g_tail = np.select(
        [vclass == VC_SNV, (vclass == VC_DEL) & (ref_len == 2), vclass == VC_DEL, vclass == VC_INS],
        [_join(sstart, ref_py, ">", alt_py), _join(_u(start + 1), "del"),
         _join(_u(start + 1), "_", send, "del"), _join(sstart, "_", _u(start + 1), "ins",
                                                       np.array([a[1:] for a in alt_py], dtype=str)
                                                       if nu else np.empty(0, str))],
        _join(sstart, "_", send, "delins", alt_py))
    hgvsg = _join(f"chr{chrom}:{'m' if chrom == 'M' else 'g'}.", g_tail)
    domain_or_planted = (GENE_DOMAIN[g0] & genic) | (kind == 2)
    rs_p = np.select([af > 0.05, af > 0.001, kind == 0, kind == 2], [0.98, 0.85, 0.4, 0.3], 0.1)
    has_rs = rng.random(nu) < rs_p
    rsnumber = _join("rs", _u(rng.integers(10_000, 1_600_000_000, nu)))
    noise = rng.lognormal(0.0, 0.25, nu)
    genomes = np.where(kind == 1, 10 ** rng.uniform(-6, -4.3, nu), np.minimum(af * noise, 1.0))
    genomes_null = (af <= 0) & (kind != 1) | ((kind == 1) & (rng.random(nu) < 0.75)) | \
        ((kind == 0) & (af < 0.001) & (rng.random(nu) < 0.25))
    coding_var = np.isin(cat, CODING_CATEGORIES) | np.isin(cat, [C_DONOR, C_ACCEPTOR, C_SPLICE_REGION, C_UTR5,
                                                                  C_UTR3])
    exomes = np.minimum(genomes * rng.lognormal(0, 0.2, nu), 1.0)
    exomes_null = genomes_null | ~coding_var | (rng.random(nu) < 0.2)
    topmed = np.minimum(genomes * rng.lognormal(0, 0.2, nu), 1.0)
    topmed_null = genomes_null & (rng.random(nu) < 0.9)
    topmed = np.where(genomes_null, 10 ** rng.uniform(-6, -4.5, nu), topmed)
    thousand = np.minimum(genomes * rng.lognormal(0, 0.3, nu), 1.0)
    thousand_null = genomes_null | (genomes < 0.0005)
    cadd = np.select([max_impact == 3, max_impact == 2, max_impact == 1],
                     [rng.uniform(30, 50, nu), rng.uniform(15, 32, nu), rng.uniform(5, 18, nu)],
                     rng.uniform(0.3, 12, nu))
    has_missense = (cat == C_MISSENSE) | (cat == C_MISSENSE_SPLICE)
    revel = np.where(domain_or_planted, rng.beta(5, 2, nu), rng.beta(2, 5, nu))
    splice = np.isin(cat, [C_DONOR, C_ACCEPTOR, C_SPLICE_REGION, C_MISSENSE_SPLICE])
    spliceai = np.where(splice, rng.uniform(0.3, 0.99, nu), np.minimum(rng.exponential(0.02, nu), 0.2))
    # ClinVar
    u_cv = rng.random(nu)
    p_present = np.select([(max_impact == 3) & domain_or_planted, max_impact == 3,
                           (max_impact == 2) & (kind == 2), max_impact == 2, max_impact == 1],
                          [0.7, 0.35, 0.6, 0.1, 0.05], 0.015)
    present = u_cv < p_present
    s = rng.random(nu)
    sig = np.select(
        [af > 0.01, max_impact == 3, (max_impact == 2) & (kind == 2), max_impact == 2, max_impact == 1],
        [np.where(s < 0.6, 5, 6),
         np.select([s < 0.45, s < 0.7, s < 0.8, s < 0.93], [0, 1, 2, 3], 7),
         np.select([s < 0.4, s < 0.8], [0, 1], 3),
         np.select([s < 0.55, s < 0.65, s < 0.7, s < 0.85], [3, 1, 0, 7], 4),
         np.select([s < 0.5, s < 0.9], [4, 5], 3)],
        np.select([s < 0.6, s < 0.9], [5, 4], 3))
    clinvar_id = _join("", _u(rng.integers(1000, 3_000_000, nu)))
    gene_lists = pa.ListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(genic.astype(np.int32))]).astype(np.int32)),
        GENE_SYMBOL.take(pa.array(gene[genic])))
    variants = pa.Table.from_arrays([
        _constant(chrom, nu),
        pa.array(start, pa.int64()),
        pa.array(end, pa.int64()),
        reference, alternate, locus,
        pa.array(hgvsg, pa.string()),
        pa.array(rsnumber, pa.string(), mask=~has_rs),
        pa.array(vc, pa.string()),
        gene_lists.cast(STR_LIST),
        _take(pa.array(IMPACTS), max_impact.astype(np.int64)),
        pa.array(clinvar_id, pa.string(), mask=~present),
        _list_array(CLINVAR_PATTERNS, sig, pa.array(CLINVAR_TERMS), ~present, pa.string()),
        pa.array(np.round(genomes, 8), pa.float64(), mask=genomes_null),
        pa.array(np.round(exomes, 8), pa.float64(), mask=exomes_null),
        pa.array(np.round(topmed, 8), pa.float64(), mask=topmed_null),
        pa.array(np.round(thousand, 8), pa.float64(), mask=thousand_null),
        pa.array(np.round(cadd, 3), pa.float64()),
        pa.array(np.round(revel, 3), pa.float64(), mask=~has_missense),
        pa.array(np.round(spliceai, 2), pa.float64(), mask=~genic),
    ], schema=VARIANT_SCHEMA)
    return variants, consequences


# ---------------------------------------------------------------------------------------------------------------
# Writing


class _PartitionWriter:
    """One Parquet file, written in fixed-size row groups as rows arrive (buffer bounded by one row group)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        if self._buffered >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if not self._buffer:
            return
        table = pa.concat_tables(self._buffer)
        cut = table.num_rows if final else (table.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.schema, compression=COMPRESSION,
                                            compression_level=COMPRESSION_LEVEL, write_statistics=True)
        if cut:
            self._writer.write_table(table.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
        rest = table.slice(cut)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows

    def close(self) -> bool:
        """Finish the file; True when a file was written."""
        self._flush(final=True)
        if self._writer is None:
            return False
        self._writer.close()
        self._writer = None
        return True

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _units(population: Population, study_id: str) -> list[list[Participant]]:
    """Families (all members) and participants enrolled without a family, in population order."""
    ps = population.participants
    units: list[tuple[int, list[Participant]]] = []
    in_family: set[int] = set()
    for fam in population.families:
        if fam.study_id != study_id:
            continue
        members = [ps[i] for i in sorted(fam.member_indexes)]
        in_family.update(fam.member_indexes)
        units.append((members[0].index, members))
    for p in ps:
        if p.study_id == study_id and p.index not in in_family:
            units.append((p.index, [p]))
    units.sort(key=lambda item: item[0])
    return [members for _, members in units]


def _chunks(units: list[list[Participant]], rows_per_person: float) -> list[list[Participant]]:
    chunks: list[list[Participant]] = []
    current: list[Participant] = []
    for members in units:
        current.extend(members)
        if len(current) * rows_per_person >= CHUNK_ROWS:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


def write_variants(root: Path, population: Population, n_occurrences: int, seed: int,
                   progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> dict[str, int]:
    """Write variants/occurrences, variants/variants and variants/consequences under `root`.

    About `n_occurrences` occurrence rows in all (carried calls plus a few WT / no-call rows), only for sequenced
    participants. Returns the counts written: occurrences, variants, consequences, files.
    """
    root = Path(root)
    counts = {"occurrences": 0, "variants": 0, "consequences": 0, "files": 0}
    sequenced = [p for p in population.participants if p.sequenced]
    if n_occurrences <= 0 or not sequenced:
        return counts
    plants = plan_planted_variants(population, seed)
    targets = _targets(population, int(n_occurrences * 0.997))
    seq_male = np.array([p.sex == "male" for p in sequenced])
    rows_per_person = {c: targets[c].rows / len(sequenced) for c in CHROMOSOMES}
    study_units = {s.study_id: _units(population, s.study_id) for s in population.studies}
    base = root / "variants"

    def report(message: str) -> None:
        if progress is not None:
            progress(ProgressEvent(PHASE, counts["occurrences"], n_occurrences, message))

    report("variants: starting")
    for chrom_number, chrom in enumerate(CHROMOSOMES):
        plant_numbers = [i for i, p in enumerate(plants) if p.chromosome == chrom]
        ploidy = _ploidy(chrom, seq_male)
        pool = _build_pool(chrom, chrom_number, targets[chrom], [plants[i] for i in plant_numbers], plant_numbers,
                           seed, int((ploidy == 2).sum()), int((ploidy == 1).sum()))
        used = np.zeros(len(pool), dtype=bool)
        for study_number, study in enumerate(population.studies):
            writer = _PartitionWriter(
                base / "occurrences" / f"study_id={study.study_id}" / f"chromosome={chrom}" / "part-0.parquet",
                OCCURRENCE_SCHEMA)
            try:
                for chunk_number, members in enumerate(_chunks(study_units[study.study_id],
                                                               rows_per_person[chrom])):
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    rng = np.random.default_rng([seed, 17, chrom_number, study_number, chunk_number])
                    chunk = _make_chunk(members)
                    chunk_plants = [(i, plants[i]) for i in plant_numbers if plants[i].child in chunk.local]
                    g, planted = _genotypes(rng, pool, chunk, chunk_plants)
                    table = _occurrence_table(rng, pool, chunk, g, planted, study.study_id, seed)
                    seq_rows = chunk.sequenced[g.person]
                    used[g.variant[seq_rows]] = True
                    writer.write(table)
                    counts["occurrences"] += table.num_rows
                    report(f"chromosome {chrom}, {study.study_code}")
            except BaseException:
                writer.abandon()
                raise
            if writer.close():
                counts["files"] += 1
        if cancel is not None:
            cancel.raise_if_cancelled()
        used_idx = np.flatnonzero(used)
        variant_writer = _PartitionWriter(base / "variants" / f"chromosome={chrom}" / "part-0.parquet",
                                          VARIANT_SCHEMA)
        consequence_writer = _PartitionWriter(base / "consequences" / f"chromosome={chrom}" / "part-0.parquet",
                                              CONSEQUENCE_SCHEMA)
        try:
            for block_number, block_start in enumerate(range(0, len(used_idx), VARIANT_BLOCK)):
                rng = np.random.default_rng([seed, 13, chrom_number, block_number])
                variants, consequences = _variant_tables(
                    pool, used_idx[block_start:block_start + VARIANT_BLOCK], rng)
                variant_writer.write(variants)
                consequence_writer.write(consequences)
                counts["variants"] += variants.num_rows
                counts["consequences"] += consequences.num_rows
        except BaseException:
            variant_writer.abandon()
            consequence_writer.abandon()
            raise
        counts["files"] += int(variant_writer.close()) + int(consequence_writer.close())
    if progress is not None:
        progress(ProgressEvent(PHASE, counts["occurrences"], counts["occurrences"], "variants: done"))
    return counts
