"""Study-specific catalogs of the demo release: diagnoses (MONDO with NCIT / ICD-10-CM codes) and phenotypes (HPO)
with the words clinic notes use for them.

Labels shown to users come from the ontologies (load_mondo / load_hpo); the catalogs hold ids, weights, codes in other
systems and surface forms for the notes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiagnosisEntry:
    mondo_id: str
    weight: float
    ncit: tuple[str, str] | None = None  # (code, display)
    icd10cm: tuple[str, str] | None = None  # (code, display)
    onset: str = "childhood"  # childhood | congenital


@dataclass(frozen=True)
class PhenotypeEntry:
    hpo_id: str
    weight: float
    mentions: tuple[str, ...]  # surface forms a note may use (the HPO label, lower case, is added by the notes)
    icd10cm: tuple[str, str] | None = None  # what a HealthLake-style NLP pass would code it as


DIAGNOSES: dict[str, tuple[DiagnosisEntry, ...]] = {
    "cancer": (
        DiagnosisEntry("MONDO:0007959", 0.20, ("C3222", "Medulloblastoma"),
                       ("C71.6", "Malignant neoplasm of cerebellum")),
        DiagnosisEntry("MONDO:0016691", 0.20, ("C4047", "Pilocytic Astrocytoma")),
        DiagnosisEntry("MONDO:0016698", 0.10, ("C3017", "Ependymoma")),
        DiagnosisEntry("MONDO:0020560", 0.06),
        DiagnosisEntry("MONDO:0006033", 0.08, None, ("C71.7", "Malignant neoplasm of brain stem")),
        DiagnosisEntry("MONDO:0018907", 0.07, ("C2964", "Craniopharyngioma"),
                       ("D44.4", "Neoplasm of uncertain behavior of craniopharyngeal duct")),
        DiagnosisEntry("MONDO:0021637", 0.10),
        DiagnosisEntry("MONDO:0021640", 0.05),
        DiagnosisEntry("MONDO:0018177", 0.04, ("C3058", "Glioblastoma"),
                       ("C71.9", "Malignant neoplasm of brain, unspecified")),
        DiagnosisEntry("MONDO:0016733", 0.06),
        DiagnosisEntry("MONDO:0005505", 0.04),
    ),
    "birth-defect:SD_CHD4TRQ0": (
        DiagnosisEntry("MONDO:0008542", 0.18, None, ("Q21.3", "Tetralogy of Fallot"), "congenital"),
        DiagnosisEntry("MONDO:0004933", 0.12, None, ("Q23.4", "Hypoplastic left heart syndrome"), "congenital"),
        DiagnosisEntry("MONDO:0002070", 0.18, None, ("Q21.0", "Ventricular septal defect"), "congenital"),
        DiagnosisEntry("MONDO:0006664", 0.12, None, ("Q21.10", "Atrial septal defect, unspecified"), "congenital"),
        DiagnosisEntry("MONDO:0019443", 0.08, None, ("Q20.3", "Discordant ventriculoarterial connection"),
                       "congenital"),
        DiagnosisEntry("MONDO:0007345", 0.10, None, ("Q25.1", "Coarctation of aorta"), "congenital"),
        DiagnosisEntry("MONDO:0011827", 0.06, None, ("Q25.0", "Patent ductus arteriosus"), "congenital"),
        DiagnosisEntry("MONDO:0018089", 0.05, None, ("Q20.1", "Double outlet right ventricle"), "congenital"),
        DiagnosisEntry("MONDO:0015273", 0.04, None, ("Q21.23", "Complete atrioventricular septal defect"),
                       "congenital"),
        DiagnosisEntry("MONDO:0009144", 0.03, None, ("Q22.5", "Ebstein's anomaly"), "congenital"),
        DiagnosisEntry("MONDO:0018072", 0.04, None, ("Q20.0", "Common arterial trunk"), "congenital"),
    ),
    "birth-defect:SD_0FC9CL3F": (
        DiagnosisEntry("MONDO:0016044", 0.45, None, ("Q37.9", "Unspecified cleft palate with unilateral cleft lip"),
                       "congenital"),
        DiagnosisEntry("MONDO:0016064", 0.25, None, ("Q35.9", "Cleft palate, unspecified"), "congenital"),
        DiagnosisEntry("MONDO:0004747", 0.20, None, ("Q36.9", "Cleft lip, unilateral"), "congenital"),
        DiagnosisEntry("MONDO:0007338", 0.05, None, ("Q35.3", "Cleft soft palate"), "congenital"),
        DiagnosisEntry("MONDO:0015092", 0.05, None, ("Q35.1", "Cleft hard palate"), "congenital"),
    ),
}

PHENOTYPES: dict[str, tuple[PhenotypeEntry, ...]] = {
    "cancer": (
        PhenotypeEntry("HP:0002315", 0.9, ("headaches", "headache", "head pain"), ("R51.9", "Headache, unspecified")),
        PhenotypeEntry("HP:0002013", 0.8, ("vomiting", "emesis"), ("R11.10", "Vomiting, unspecified")),
        PhenotypeEntry("HP:0001250", 0.4, ("seizures", "seizure", "convulsions"), ("R56.9", "Unspecified convulsions")),
        PhenotypeEntry("HP:0001251", 0.5, ("ataxia", "unsteadiness"), ("R27.0", "Ataxia, unspecified")),
        PhenotypeEntry("HP:0000238", 0.4, ("hydrocephalus", "ventriculomegaly with raised pressure"),
                       ("G91.9", "Hydrocephalus, unspecified")),
        PhenotypeEntry("HP:0001085", 0.3, ("papilledema", "papilloedema", "swollen optic discs")),
        PhenotypeEntry("HP:0000651", 0.3, ("diplopia", "double vision"), ("H53.2", "Diplopia")),
        PhenotypeEntry("HP:0000486", 0.2, ("strabismus", "eye misalignment")),
        PhenotypeEntry("HP:0012378", 0.5, ("fatigue", "tiredness"), ("R53.83", "Other fatigue")),
        PhenotypeEntry("HP:0001824", 0.3, ("weight loss",), ("R63.4", "Abnormal weight loss")),
        PhenotypeEntry("HP:0001288", 0.4, ("gait disturbance", "abnormal gait", "unsteady gait")),
        PhenotypeEntry("HP:0001269", 0.15, ("hemiparesis", "one-sided weakness")),
        PhenotypeEntry("HP:0000639", 0.2, ("nystagmus",)),
        PhenotypeEntry("HP:0000572", 0.1, ("visual loss", "vision loss")),
        PhenotypeEntry("HP:0001337", 0.1, ("tremor",)),
        PhenotypeEntry("HP:0001260", 0.15, ("dysarthria", "slurred speech")),
        PhenotypeEntry("HP:0000712", 0.15, ("emotional lability", "mood swings")),
    ),
    "birth-defect:SD_CHD4TRQ0": (
        PhenotypeEntry("HP:0030148", 0.9, ("heart murmur", "murmur"), ("R01.1", "Cardiac murmur, unspecified")),
        PhenotypeEntry("HP:0000961", 0.5, ("cyanosis", "bluish discoloration"), ("R23.0", "Cyanosis")),
        PhenotypeEntry("HP:0001508", 0.4, ("failure to thrive", "poor weight gain"),
                       ("R62.51", "Failure to thrive (child)")),
        PhenotypeEntry("HP:0002094", 0.4, ("dyspnea", "shortness of breath", "labored breathing"),
                       ("R06.00", "Dyspnea, unspecified")),
        PhenotypeEntry("HP:0001649", 0.3, ("tachycardia", "fast heart rate"), ("R00.0", "Tachycardia, unspecified")),
        PhenotypeEntry("HP:0011675", 0.2, ("arrhythmia", "irregular heart rhythm")),
        PhenotypeEntry("HP:0001635", 0.2, ("congestive heart failure", "heart failure")),
        PhenotypeEntry("HP:0002092", 0.1, ("pulmonary arterial hypertension", "pulmonary hypertension")),
        PhenotypeEntry("HP:0011968", 0.5, ("feeding difficulties", "difficulty feeding", "poor feeding"),
                       ("R63.30", "Feeding difficulties, unspecified")),
        PhenotypeEntry("HP:0001640", 0.2, ("cardiomegaly", "enlarged heart")),
        PhenotypeEntry("HP:0002643", 0.2, ("neonatal respiratory distress", "respiratory distress at birth")),
        PhenotypeEntry("HP:0004322", 0.2, ("short stature",)),
        PhenotypeEntry("HP:0001263", 0.2, ("global developmental delay", "developmental delay")),
        PhenotypeEntry("HP:0002104", 0.1, ("apnea", "apneic episodes")),
    ),
    "birth-defect:SD_0FC9CL3F": (
        PhenotypeEntry("HP:0000175", 0.7, ("cleft palate", "palatal cleft"), ("Q35.9", "Cleft palate, unspecified")),
        PhenotypeEntry("HP:0410030", 0.7, ("cleft lip", "lip cleft"), ("Q36.9", "Cleft lip, unilateral")),
        PhenotypeEntry("HP:0000193", 0.2, ("bifid uvula", "split uvula")),
        PhenotypeEntry("HP:0011968", 0.6, ("feeding difficulties", "difficulty feeding", "poor feeding"),
                       ("R63.30", "Feeding difficulties, unspecified")),
        PhenotypeEntry("HP:0000388", 0.5, ("otitis media", "ear infections"),
                       ("H66.90", "Otitis media, unspecified, unspecified ear")),
        PhenotypeEntry("HP:0000365", 0.3, ("hearing impairment", "hearing loss"),
                       ("H91.90", "Unspecified hearing loss, unspecified ear")),
        PhenotypeEntry("HP:0000750", 0.4, ("delayed speech and language development", "speech delay"),
                       ("F80.9", "Developmental disorder of speech and language, unspecified")),
        PhenotypeEntry("HP:0000220", 0.3, ("velopharyngeal insufficiency", "hypernasal speech")),
        PhenotypeEntry("HP:0000668", 0.3, ("hypodontia", "missing teeth")),
        PhenotypeEntry("HP:0000678", 0.2, ("dental crowding", "crowded teeth")),
        PhenotypeEntry("HP:0000347", 0.2, ("micrognathia", "small jaw")),
        PhenotypeEntry("HP:0000316", 0.1, ("hypertelorism", "widely spaced eyes")),
        PhenotypeEntry("HP:0000369", 0.1, ("low-set ears",)),
        PhenotypeEntry("HP:0000201", 0.1, ("pierre-robin sequence", "robin sequence")),
    ),
}


def catalog_key(domain: str, study_id: str) -> str:
    """Key of a study's catalogs: cancer studies share one, birth-defect studies have their own."""
    return "cancer" if domain in ("cancer", "both") else f"birth-defect:{study_id}"


def phenotype_catalog(domain: str, study_id: str) -> tuple[PhenotypeEntry, ...]:
    return PHENOTYPES.get(catalog_key(domain, study_id), PHENOTYPES["cancer"])


def diagnosis_catalog(domain: str, study_id: str) -> tuple[DiagnosisEntry, ...]:
    return DIAGNOSES.get(catalog_key(domain, study_id), DIAGNOSES["cancer"])


def phenotype_entry(hpo_id: str) -> PhenotypeEntry | None:
    for entries in PHENOTYPES.values():
        for entry in entries:
            if entry.hpo_id == hpo_id:
                return entry
    return None
