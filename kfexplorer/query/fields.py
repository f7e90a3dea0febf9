"""The field registry: every queryable field, its type, where it lives in the cache, and its Kids First names.

A field lives at one of two levels:
- `PARTICIPANT`: evaluated per participant, either on the `participants` row itself (source "participants") or as
  "the participant has a row of <table> that matches" (the other participant sources);
- `OCCURRENCE`: evaluated per carried occurrence (`has_alt`), on the occurrence (`o`), its variant (`v`) or one row
  of its consequences (`c`); see CACHE.md "How variant criteria combine".

SQL identifiers come only from this module's constants; values are always bound parameters (kfexplorer.query.compiler).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kfexplorer.query.model import UnknownFieldError


class FieldKind(Enum):
    CATEGORICAL = "categorical"
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    ONTOLOGY = "ontology"
    TEXT = "text"
    ID_LIST = "id_list"
    REGION = "region"


class Level(Enum):
    PARTICIPANT = "participant"
    OCCURRENCE = "occurrence"


# Operators each kind of field accepts.
KIND_OPERATORS: dict[FieldKind, tuple[str, ...]] = {
    FieldKind.CATEGORICAL: ("in", "not_in", "some_not_in", "all"),
    FieldKind.NUMERIC: ("between", ">=", "<=", ">", "<", "in", "not_in"),
    FieldKind.BOOLEAN: ("in", "not_in"),
    FieldKind.ONTOLOGY: ("in", "not_in", "all"),
    FieldKind.TEXT: ("contains", "in", "not_in"),
    FieldKind.ID_LIST: ("in", "not_in"),
    FieldKind.REGION: ("in", "not_in"),
}


@dataclass(frozen=True)
class ParticipantSource:
    """Rows that belong to a participant: `from_sql` (aliased), the participant id column, and a fixed filter."""

    from_sql: str
    participant_column: str


PARTICIPANT_SOURCES: dict[str, ParticipantSource] = {
    "participants": ParticipantSource("participants p", "p.participant_id"),
    "studies": ParticipantSource("participants sp JOIN studies s ON s.study_id = sp.study_id", "sp.participant_id"),
    "family_members": ParticipantSource("family_members fm", "fm.participant_id"),
    "diagnoses": ParticipantSource("diagnoses d", "d.participant_id"),
    "phenotypes": ParticipantSource("phenotypes ph", "ph.participant_id"),
    "biospecimens": ParticipantSource("biospecimens b", "b.participant_id"),
    "files": ParticipantSource("files f", "f.participant_id"),
    "imaging_studies": ParticipantSource("imaging_studies ist", "ist.participant_id"),
    "imaging_series": ParticipantSource("imaging_series ise", "ise.participant_id"),
    "imaging_instances": ParticipantSource("imaging_instances ii", "ii.participant_id"),
}

# Occurrence-level sources and the alias their columns use in the compiled occurrence query.
OCCURRENCE_SOURCES: dict[str, str] = {"occurrences": "o", "variants": "v", "consequences": "c"}


@dataclass(frozen=True)
class FieldSpec:
    """One queryable field.

    `column` is an SQL expression over the source's alias (a code constant); `is_list` marks array columns;
    `condition` is a fixed SQL filter on the source's rows (e.g. observed phenotypes only); `ontology` names the
    ontology ("hpo" / "mondo") whose descendants an ONTOLOGY field matches; `kf_names` are the Kids First portal
    / Arranger field names that mean this field (the first is used on SQON export).
    """

    name: str
    label: str
    kind: FieldKind
    level: Level
    source: str
    column: str
    is_list: bool = False
    condition: str = ""
    ontology: str | None = None
    kf_names: tuple[str, ...] = ()
    unit: str = ""

    @property
    def operators(self) -> tuple[str, ...]:
        return KIND_OPERATORS[self.kind]


def _p(name: str, label: str, kind: FieldKind, source: str, column: str, *kf: str, **extra: object) -> FieldSpec:
    return FieldSpec(name, label, kind, Level.PARTICIPANT, source, column, kf_names=kf, **extra)  # type: ignore[arg-type]


def _o(name: str, label: str, kind: FieldKind, source: str, column: str, *kf: str, **extra: object) -> FieldSpec:
    return FieldSpec(name, label, kind, Level.OCCURRENCE, source, column, kf_names=kf, **extra)  # type: ignore[arg-type]


C, N, B, ONT, T, ID, R = (FieldKind.CATEGORICAL, FieldKind.NUMERIC, FieldKind.BOOLEAN, FieldKind.ONTOLOGY,
                        FieldKind.TEXT, FieldKind.ID_LIST, FieldKind.REGION)

_NOT_REFUTED = "COALESCE(d.verification, '') <> 'refuted'"
_NOT_DERIVED_DX = _NOT_REFUTED + " AND NOT COALESCE(d.derived, FALSE)"

FIELDS: tuple[FieldSpec, ...] = (
    # participant
    _p("participant.id", "Participant", ID, "participants", "p.participant_id", "participant_id", "fhir_id"),
    _p("participant.study_id", "Study", C, "participants", "p.study_id", "study_id", "study.study_id"),
    _p("participant.sex", "Sex", C, "participants", "p.sex", "sex", "gender"),
    _p("participant.race", "Race", C, "participants", "p.race", "race"),
    _p("participant.ethnicity", "Ethnicity", C, "participants", "p.ethnicity", "ethnicity"),
    _p("participant.is_proband", "Proband", B, "participants", "p.is_proband", "is_proband"),
    _p("participant.affected_status", "Affected", B, "participants", "p.affected_status", "affected_status"),
    _p("participant.family_id", "Family", ID, "participants", "p.family_id", "families_id", "family_id"),
    _p("participant.family_type", "Family type", C, "participants", "p.family_type", "family_type"),
    _p("participant.vital_status", "Vital status", C, "participants", "p.vital_status", "outcomes.vital_status",
       "vital_status"),
    _p("participant.birth_year", "Birth year", N, "participants", "p.birth_year", "birth_year"),
    _p("participant.age_at_last_follow_up_days", "Age at last follow-up", N, "participants",
       "p.age_at_last_follow_up_days", "age_at_last_follow_up_days", unit="days"),
    _p("family.relationship_to_proband", "Relationship to proband", C, "family_members",
       "fm.relationship_to_proband", "family.relations_to_proband.role", "relationship_to_proband"),
    # study
    _p("study.code", "Study code", C, "studies", "s.study_code", "study.study_code", "study_code"),
    _p("study.domain", "Study domain", C, "studies", "s.domain", "study.domain"),
    # diagnosis
    _p("diagnosis", "Diagnosis", ONT, "diagnoses", "d.code", "mondo.name", "diagnosis.mondo_id_diagnosis",
       "mondo.mondo_id", ontology="mondo", condition=_NOT_REFUTED),
    _p("diagnosis.excluding_derived", "Diagnosis (not derived)", ONT, "diagnoses", "d.code", ontology="mondo",
       condition=_NOT_DERIVED_DX),
    _p("diagnosis.code", "Diagnosis code", C, "diagnoses", "d.code", "diagnosis.ncit_id_diagnosis",
       condition=_NOT_REFUTED),
    _p("diagnosis.system", "Diagnosis coding system", C, "diagnoses", "d.system", condition=_NOT_REFUTED),
    _p("diagnosis.source_text", "Diagnosis text", T, "diagnoses", "d.source_text", "diagnosis.source_text",
       condition=_NOT_REFUTED),
    _p("diagnosis.age_at_event_days", "Age at diagnosis", N, "diagnoses", "d.age_at_event_days",
       "diagnosis.age_at_event_days", condition=_NOT_REFUTED, unit="days"),
    # phenotype
    _p("phenotype.observed", "Phenotype (observed)", ONT, "phenotypes", "ph.hpo_id", "observed_phenotype.name",
       "phenotype.hpo_phenotype_observed", ontology="hpo", condition="ph.observed"),
    _p("phenotype.not_observed", "Phenotype (not observed)", ONT, "phenotypes", "ph.hpo_id",
       "non_observed_phenotype.name", "phenotype.hpo_phenotype_not_observed", ontology="hpo",
       condition="NOT ph.observed"),
    _p("phenotype.observed.excluding_derived", "Phenotype (observed, not derived)", ONT, "phenotypes", "ph.hpo_id",
       ontology="hpo", condition="ph.observed AND NOT COALESCE(ph.derived, FALSE)"),
    _p("phenotype.not_observed.excluding_derived", "Phenotype (not observed, not derived)", ONT, "phenotypes",
       "ph.hpo_id", ontology="hpo", condition="NOT ph.observed AND NOT COALESCE(ph.derived, FALSE)"),
    _p("phenotype.age_at_event_days", "Age at phenotype", N, "phenotypes", "ph.age_at_event_days",
       "phenotype.age_at_event_days", condition="ph.observed", unit="days"),
    # biospecimen
    _p("biospecimen.id", "Biospecimen", ID, "biospecimens", "b.sample_id", "biospecimens.biospecimen_id",
       "biospecimen_id", "sample_id"),
    _p("biospecimen.sample_type", "Sample type", C, "biospecimens", "b.sample_type", "biospecimens.sample_type"),
    _p("biospecimen.tissue", "Tissue", C, "biospecimens", "b.tissue", "biospecimens.tissue_type_source_text"),
    _p("biospecimen.age_at_collection_days", "Age at collection", N, "biospecimens", "b.age_at_collection_days",
       "biospecimens.age_at_biospecimen_collection", unit="days"),
    # data files
    _p("file.id", "File", ID, "files", "f.file_id", "files.file_id", "file_id"),
    _p("file.data_type", "Data type", C, "files", "f.data_type", "files.data_type", "data_type"),
    _p("file.format", "File format", C, "files", "f.format", "files.file_format", "file_format"),
    # imaging
    _p("imaging.modality", "Imaging modality", C, "imaging_series", "ise.modality", "imaging.modality"),
    _p("imaging.body_part", "Imaging body part", C, "imaging_series", "ise.body_part", "imaging.body_part"),
    _p("imaging.age_at_scan_days", "Age at scan", N, "imaging_studies", "ist.age_at_scan_days", unit="days"),
    _p("imaging.series_description", "Series description", C, "imaging_instances", "ii.series_description",
       "imaging.series_description"),
    _p("imaging.manufacturer", "Imaging manufacturer", C, "imaging_instances", "ii.manufacturer",
       "imaging.manufacturer"),
    _p("imaging.magnetic_field_strength", "Magnetic field strength", N, "imaging_instances",
       "ii.magnetic_field_strength", "imaging.magnetic_field_strength", unit="T"),
    _p("imaging.has_imaging", "Has imaging", B, "participants",
       "(EXISTS (SELECT 1 FROM imaging_instances hi WHERE hi.participant_id = p.participant_id) OR "
       "EXISTS (SELECT 1 FROM imaging_series hs WHERE hs.participant_id = p.participant_id))", "imaging.has_imaging"),
    # variant (one row per variant)
    _o("variant.region", "Region", R, "occurrences", "o.start", "locus"),
    _o("variant.chromosome", "Chromosome", C, "occurrences", "o.chromosome", "chromosome"),
    _o("variant.locus_id", "Variant", ID, "occurrences", "o.locus_id", "locus_id"),
    _o("variant.rsnumber", "rsID", ID, "variants", "v.rsnumber", "rsnumber"),
    _o("variant.hgvsg", "HGVSg", T, "variants", "v.hgvsg", "hgvsg"),
    _o("variant.hgvs", "HGVS", ID, "variants", "v.hgvsg", "hgvs"),  # expanded by kfexplorer.query.hgvs
    _o("variant.variant_class", "Variant class", C, "variants", "v.variant_class", "variant_class"),
    _o("variant.max_impact", "Most severe impact", C, "variants", "v.max_impact", "max_impact"),
    _o("variant.clinvar_sig", "ClinVar", C, "variants", "v.clinvar_sig", "clinvar.clin_sig", is_list=True),
    _o("variant.gnomad_genomes_3_af", "gnomAD genomes 3 AF", N, "variants", "v.gnomad_genomes_3_af",
       "external_frequencies.gnomad_genomes_3.af", "external_frequencies.gnomad_genomes_3_1_1.af"),
    _o("variant.gnomad_exomes_2_1_1_af", "gnomAD exomes 2.1.1 AF", N, "variants", "v.gnomad_exomes_2_1_1_af",
       "external_frequencies.gnomad_exomes_2_1_1.af"),
    _o("variant.topmed_bravo_af", "TOPMed AF", N, "variants", "v.topmed_bravo_af",
       "external_frequencies.topmed_bravo.af"),
    _o("variant.thousand_genomes_af", "1000 Genomes AF", N, "variants", "v.thousand_genomes_af",
       "external_frequencies.thousand_genomes.af"),
    _o("variant.cadd_phred", "CADD", N, "variants", "v.cadd_phred", "genes.consequences.predictions.cadd_phred",
       "cadd_phred"),
    _o("variant.revel_score", "REVEL", N, "variants", "v.revel_score", "genes.consequences.predictions.revel_score",
       "revel_score"),
    _o("variant.spliceai_ds", "SpliceAI", N, "variants", "v.spliceai_ds", "genes.spliceai.ds"),
    # consequence (one row per variant x transcript; all in one variant expression refer to the same row)
    _o("consequence.gene_symbol", "Gene", C, "consequences", "c.gene_symbol", "genes.symbol", "gene_symbol"),
    _o("consequence.ensembl_gene_id", "Ensembl gene", ID, "consequences", "c.ensembl_gene_id",
       "genes.ensembl_gene_id"),
    _o("consequence.consequence", "Consequence", C, "consequences", "c.consequences",
       "genes.consequences.consequences", "consequences.consequences", is_list=True),
    _o("consequence.vep_impact", "Impact", C, "consequences", "c.vep_impact", "genes.consequences.vep_impact"),
    _o("consequence.canonical", "Canonical transcript", B, "consequences", "c.canonical",
       "genes.consequences.canonical"),
    _o("consequence.mane_select", "MANE Select", B, "consequences", "c.mane_select", "genes.consequences.mane_select"),
    _o("consequence.hgvsc", "HGVSc", T, "consequences", "c.hgvsc", "genes.consequences.hgvsc"),
    _o("consequence.hgvsp", "HGVSp", T, "consequences", "c.hgvsp", "genes.consequences.hgvsp"),
    _o("consequence.transcript_id", "Transcript", ID, "consequences", "c.ensembl_transcript_id",
       "genes.consequences.ensembl_transcript_id"),  # HGVS c. / p. on a named transcript
    _o("consequence.biotype", "Biotype", C, "consequences", "c.biotype", "genes.biotype"),
    # occurrence (the participant's call)
    _o("occurrence.zygosity", "Zygosity", C, "occurrences", "o.zygosity", "studies.zygosity", "zygosity"),
    _o("occurrence.filter_pass", "FILTER is PASS", B, "occurrences", "list_contains(o.filters, 'PASS')",
       "studies.filters"),
    _o("occurrence.filters", "FILTER", C, "occurrences", "o.filters", is_list=True),
    _o("occurrence.gq", "Genotype quality (GQ)", N, "occurrences", "o.gq", "gq"),
    _o("occurrence.dp", "Depth (DP)", N, "occurrences", "o.dp", "dp"),
    _o("occurrence.allele_balance", "Allele balance", N, "occurrences",
       "CAST(o.ad_alt AS DOUBLE) / NULLIF(o.ad_ref + o.ad_alt, 0)", "ad_ratio"),
    _o("occurrence.parental_origin", "Parental origin", C, "occurrences", "o.parental_origin",
       "studies.parental_origin", "parental_origin"),
    _o("occurrence.transmission_mode", "Transmission", C, "occurrences", "o.transmission_mode",
       "studies.transmission", "transmission"),
    _o("occurrence.study_id", "Study of the call", C, "occurrences", "o.study_id", "studies.study_id"),
    # inheritance: family-aware modes built by kfexplorer.query.inheritance, never from this column
    _o("inheritance", "Inheritance", C, "occurrences", "NULL", "inheritance"),
)

FIELDS_BY_NAME: dict[str, FieldSpec] = {spec.name: spec for spec in FIELDS}
FIELDS_BY_KF_NAME: dict[str, FieldSpec] = {kf: spec for spec in FIELDS for kf in spec.kf_names}


def field_spec(name: str) -> FieldSpec:
    """The registry entry of `name`; UnknownFieldError (naming it) when there is none."""
    try:
        return FIELDS_BY_NAME[name]
    except KeyError:
        raise UnknownFieldError(name) from None


def field_for_kf_name(name: str) -> FieldSpec:
    """The field a Kids First / Arranger field name (or one of our names) means; UnknownFieldError otherwise."""
    spec = FIELDS_BY_KF_NAME.get(name) or FIELDS_BY_NAME.get(name)
    if spec is None:
        raise UnknownFieldError(name)
    return spec


def kf_name(spec: FieldSpec) -> str:
    """The name SQON export writes for `spec`: its first Kids First name, else our own."""
    return spec.kf_names[0] if spec.kf_names else spec.name
