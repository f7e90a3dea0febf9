"""`kfexplorer generate`: write a complete, deterministic Kids First-style demo release.

Order: population (who) → imaging (DICOM) → clinical (FHIR + notes, with ImagingStudy resources matching the
DICOM) → variants (Parquet) → release.json with the size and sha256 of every file. The release is written into a
temporary sibling folder and renamed into place at the end, so an interrupted run never leaves a half release
under the target name. Everything, release.json included, derives from the seed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfexplorer.demo.clinical import write_clinical
from kfexplorer.demo.imaging import write_imaging
from kfexplorer.demo.population import build_population
from kfexplorer.demo.variants import write_variants
from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent, no_progress

SCHEMA_VERSION = 1
DEFAULT_PARTICIPANTS = 1000
DEFAULT_OCCURRENCES = 5_000_000
DEFAULT_SEED = 42
ANNOTATION_VERSIONS = {"gnomad": "3.1.2", "topmed": "bravo-freeze8", "clinvar": "2025-10-05", "vep": "112",
                       "cadd": "1.7", "revel": "1.3"}


class ReleaseExistsError(Exception):
    """The target folder already holds something and --force was not given."""


@dataclass
class GenerateReport:
    root: Path
    release_id: str
    participants: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"root": str(self.root), "release_id": self.release_id, "participants": self.participants,
                "seconds": round(self.seconds, 2), "counts": self.counts}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_index(root: Path) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        index[rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return index


def _ontology_versions() -> dict[str, str]:
    from kfexplorer.ontology.hpo import load_hpo
    from kfexplorer.ontology.mondo import load_mondo

    return {"hpo": load_hpo().version, "mondo": load_mondo().version}


def generate_release(
    root: Path,
    *,
    participants: int = DEFAULT_PARTICIPANTS,
    occurrences: int = DEFAULT_OCCURRENCES,
    seed: int = DEFAULT_SEED,
    imaging: bool = True,
    force: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> GenerateReport:
    """Write the demo release into `root` (which must not exist or be empty, unless `force`)."""
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    root = root.expanduser().absolute()
    if root.exists() and any(root.iterdir()):
        if not force:
            raise ReleaseExistsError(f"{root} is not empty; choose another folder or pass --force to replace it")
    work = root.with_name(f".{root.name}.generating")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        population = build_population(participants, seed)
        progress(ProgressEvent("population", len(population.participants), len(population.participants)))
        cancel.raise_if_cancelled()
        studies = write_imaging(work, population, seed, progress=progress, cancel=cancel) if imaging else []
        cancel.raise_if_cancelled()
        counts: dict[str, int] = {}
        fhir_counts = write_clinical(work, population, studies, seed)
        counts.update({f"fhir.{k}": v for k, v in sorted(fhir_counts.items())})
        progress(ProgressEvent("clinical", 1, 1))
        cancel.raise_if_cancelled()
        variant_counts = write_variants(work, population, occurrences, seed, progress=progress, cancel=cancel)
        counts.update(variant_counts)
        counts["imaging_studies"] = len(studies)
        counts["imaging_series"] = sum(len(s.series) for s in studies)
        counts["dicom_files"] = sum(x.number_of_instances for s in studies for x in s.series)
        release_id = f"kf-demo-2026-11-01-s{seed}"
        release = {
            "release_id": release_id,
            "schema_version": SCHEMA_VERSION,
            "title": f"Kids First demo release (seed {seed}, {len(population.participants)} participants)",
            "created": "2026-11-01T00:00:00Z",
            "studies": [
                {"study_id": s.study_id, "study_code": s.study_code, "name": s.name, "domain": s.domain}
                for s in population.studies
            ],
            "versions": {**_ontology_versions(), **ANNOTATION_VERSIONS},
            "files": _file_index(work),
        }
        progress(ProgressEvent("checksums", 1, 1))
        (work / "release.json").write_bytes(
            json.dumps(release, indent=1, sort_keys=True).encode("utf-8") + b"\n")
        if root.exists():
            shutil.rmtree(root)
        os.replace(work, root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return GenerateReport(root=root, release_id=release_id, participants=len(population.participants),
                          seconds=time.perf_counter() - started, counts=counts)
