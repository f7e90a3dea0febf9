"""Imaging criteria of the shared model (series description, manufacturer, field strength, has imaging) counted on
a synced demo release, against oracles that read the raw DICOM headers of the release with pydicom."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pydicom
import pytest

from kfexplorer.demo.release import generate_release
from kfexplorer.query.model import Cohort, criterion
from kfexplorer.services.cohort_count import count_cohort_in_cache
from kfexplorer.sync.engine import sync_release


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, set[str]]], set[str]]:
    base = tmp_path_factory.mktemp("imaging-fields")
    release, cache = base / "release", base / "cache"
    generate_release(release, participants=120, occurrences=2_000, seed=5, imaging=True, force=True)
    sync_release(str(release), cache)
    by_value: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted((release / "imaging").rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        pid = str(ds.PatientID)
        by_value["any"]["yes"].add(pid)
        by_value["description"][str(ds.SeriesDescription)].add(pid)
        by_value["manufacturer"][str(ds.Manufacturer)].add(pid)
        if "MagneticFieldStrength" in ds and ds.MagneticFieldStrength not in (None, ""):
            by_value["field"][str(float(ds.MagneticFieldStrength))].add(pid)
    count = count_cohort_in_cache(cache, Cohort())
    return cache, by_value, set(count.participant_ids)


def _ids(cache: Path, *node_args: object) -> set[str]:
    cohort = Cohort().with_criterion(criterion(*node_args))  # type: ignore[arg-type]
    return set(count_cohort_in_cache(cache, cohort).participant_ids)


def test_has_imaging_matches_the_dicom_files(synced) -> None:  # type: ignore[no-untyped-def]
    cache, oracle, everyone = synced
    with_imaging = oracle["any"]["yes"]
    assert with_imaging, "the release should carry some imaging"
    assert _ids(cache, "imaging.has_imaging", "in", True) == with_imaging
    assert _ids(cache, "imaging.has_imaging", "in", False) == everyone - with_imaging


def test_series_description_matches_the_headers(synced) -> None:  # type: ignore[no-untyped-def]
    cache, oracle, _ = synced
    for description, participants in oracle["description"].items():
        assert _ids(cache, "imaging.series_description", "in", description) == participants, description


def test_manufacturer_matches_the_headers(synced) -> None:  # type: ignore[no-untyped-def]
    cache, oracle, _ = synced
    assert len(oracle["manufacturer"]) >= 2
    for manufacturer, participants in oracle["manufacturer"].items():
        assert _ids(cache, "imaging.manufacturer", "in", manufacturer) == participants, manufacturer


def test_field_strength_matches_the_headers(synced) -> None:  # type: ignore[no-untyped-def]
    cache, oracle, _ = synced
    at_least_3 = set().union(*(p for value, p in oracle["field"].items() if float(value) >= 3.0))
    assert _ids(cache, "imaging.magnetic_field_strength", ">=", 3) == at_least_3
    below = set().union(*(p for value, p in oracle["field"].items() if 0 < float(value) < 3.0))
    assert _ids(cache, "imaging.magnetic_field_strength", "between", 0.1, 2.9) == below
