"""The demo imaging writer: valid Part 10 files, sound geometry, visible findings, determinism.

Oracles read the written files with pydicom and numpy, never the generator's internals.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

from kfexplorer.demo import imaging
from kfexplorer.demo.imaging import write_imaging
from kfexplorer.demo.imaging_model import DemoImagingStudy
from kfexplorer.demo.population import Population, build_population
from kfexplorer.progress import Cancelled, CancelToken, ProgressEvent

SEED = 11


def _one_proband_per_study(seed: int) -> Population:
    """A small population: the first proband of each demo study (indexes kept as in the full population)."""
    full = build_population(40, seed)
    chosen = [next(p for p in full.probands() if p.study_id == s.study_id) for s in full.studies]
    return Population(seed=seed, studies=full.studies, participants=chosen, families=[])


@contextmanager
def _every_proband_imaged() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for code in imaging.IMAGING_SHARE:
            mp.setitem(imaging.IMAGING_SHARE, code, 1.0)
        yield


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Population, list[DemoImagingStudy]]:
    root = tmp_path_factory.mktemp("release")
    population = _one_proband_per_study(SEED)
    with _every_proband_imaged():
        return root, population, write_imaging(root, population, SEED)


def _series_files(root: Path, study: DemoImagingStudy, series_uid: str) -> list[pydicom.Dataset]:
    folder = root / "imaging" / study.study_id / study.participant_id / study.study_instance_uid / series_uid
    datasets = [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]
    return sorted(datasets, key=lambda ds: int(ds.InstanceNumber))


def _volume(datasets: list[pydicom.Dataset]) -> np.ndarray:
    return np.stack([ds.pixel_array for ds in datasets])


def _study(written: tuple[Path, Population, list[DemoImagingStudy]], body_part: str) -> DemoImagingStudy:
    return next(s for s in written[2] if s.series[0].body_part == body_part)


def _expected_age(days: int) -> str:
    if days < 31:
        return f"{days:03d}D"
    if days < 730:
        return f"{int(days // 30.4375):03d}M"
    return f"{int(days // 365.25):03d}Y"


def test_files_are_valid_part10_and_match_the_returned_studies(written) -> None:
    root, population, studies = written
    by_id = {p.participant_id: p for p in population.participants}
    assert {s.series[0].body_part for s in studies} == {"BRAIN", "CHEST", "HEAD"}
    all_files = sorted(root.rglob("*.dcm"))
    assert len(all_files) == sum(series.number_of_instances for s in studies for series in s.series)
    for study in studies:
        participant = by_id[study.participant_id]
        assert participant.is_proband
        assert participant.age_at_enrollment_days <= study.age_at_scan_days <= participant.age_at_last_follow_up_days
        assert len({series.series_instance_uid for series in study.series}) == len(study.series)
        frames = set()
        for series in study.series:
            datasets = _series_files(root, study, series.series_instance_uid)
            assert len(datasets) == series.number_of_instances
            for ds in datasets:
                path = Path(ds.filename)
                assert path.read_bytes()[128:132] == b"DICM"
                assert path.stem == ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
                assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
                assert ds.SOPClassUID == (MRImageStorage if series.modality == "MR" else CTImageStorage)
                assert ds.Modality == series.modality and ds.BodyPartExamined == series.body_part
                assert ds.SeriesDescription == series.description and ds.SeriesNumber == series.series_number
                assert ds.StudyInstanceUID == study.study_instance_uid
                assert ds.SeriesInstanceUID == series.series_instance_uid
                assert ds.PatientID == participant.participant_id
                assert ds.PatientSex == ("F" if participant.sex == "female" else "M")
                assert ds.PatientAge == _expected_age(study.age_at_scan_days)
                assert len(ds.StudyDate) == 8 and ds.StudyDate.isdigit()
                pixels = ds.pixel_array
                assert pixels.shape == (ds.Rows, ds.Columns) and ds.Rows in (128, 192)
                assert pixels.dtype == (np.uint16 if ds.Modality == "MR" else np.int16)
                assert ds.BitsAllocated == 16 and ds.PhotometricInterpretation == "MONOCHROME2"
                assert ds.WindowWidth > 0
                if ds.Modality == "MR":
                    assert ds.PixelRepresentation == 0 and float(ds.MagneticFieldStrength) in (1.5, 3.0)
                    assert int(pixels.max()) < 2 ** ds.BitsStored
                else:
                    assert ds.PixelRepresentation == 1 and float(ds.KVP) > 0
                    assert float(ds.RescaleSlope) == 1.0 and float(ds.RescaleIntercept) == -1024.0
                frames.add(ds.FrameOfReferenceUID)
            assert 16 <= len(datasets) <= 40
        assert len(frames) == 1  # one frame of reference per study


def test_slice_positions_advance_along_the_normal_by_the_spacing(written) -> None:
    root, _, studies = written
    orientations = set()
    for study in studies:
        for series in study.series:
            datasets = _series_files(root, study, series.series_instance_uid)
            iop = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
            row_dir, col_dir = iop[:3], iop[3:]
            assert abs(np.dot(row_dir, col_dir)) < 1e-6
            normal = np.cross(row_dir, col_dir)
            orientations.add(tuple(np.round(np.abs(normal)).astype(int)))
            spacing = float(datasets[0].SpacingBetweenSlices)
            positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
            steps = np.diff(positions, axis=0)
            assert np.allclose(steps, spacing * normal, atol=1e-3), series.description
            assert all([float(v) for v in ds.ImageOrientationPatient] == list(iop) for ds in datasets)
            assert float(datasets[0].SliceThickness) <= spacing + 1e-6
    assert (0, 0, 1) in orientations and (1, 0, 0) in orientations  # axial and sagittal both present


def test_ct_values_are_hounsfield_units(written) -> None:
    root = written[0]
    for body_part in ("CHEST", "HEAD"):
        study = _study(written, body_part)
        axial = next(s for s in study.series if "AXIAL" in s.description)
        datasets = _series_files(root, study, axial.series_instance_uid)
        hu = _volume(datasets).astype(np.float32) * float(datasets[0].RescaleSlope) \
            + float(datasets[0].RescaleIntercept)
        assert np.percentile(hu, 1) < -950  # air around the body
        assert np.mean(np.abs(hu - 40) < 40) > 0.1  # plenty of soft tissue
        assert np.mean(hu > 700) > 0.001  # bone
    chest = _study(written, "CHEST")
    datasets = _series_files(root, chest, chest.series[0].series_instance_uid)
    hu = _volume(datasets).astype(np.float32) - 1024.0
    assert np.mean((hu > -900) & (hu < -750)) > 0.05  # aerated lung


def test_brain_mr_shows_an_enhancing_mass_with_flair_oedema(written) -> None:
    root = written[0]
    study = _study(written, "BRAIN")
    volumes = {s.description: _volume(_series_files(root, study, s.series_instance_uid)).astype(np.float32)
               for s in study.series}
    assert set(volumes) == {"T1 AX", "T2 AX", "T2 FLAIR AX", "T1 AX POST GD"}
    pre, post, flair = volumes["T1 AX"], volumes["T1 AX POST GD"], volumes["T2 FLAIR AX"]
    head = pre > 150
    enhancement = (post - pre) > 400  # noise alone differs by ~30
    assert enhancement.sum() > 50
    zs, ys, xs = np.nonzero(enhancement)
    extent_mm = (np.ptp(ys) + 1) * float(_series_files(root, study, study.series[0].series_instance_uid)[0]
                                         .PixelSpacing[0])
    assert extent_mm < 80  # a focal mass, not a global change
    # FLAIR: the mass and its oedema are much brighter than the brain around them
    lesion_box = np.zeros_like(head)
    lesion_box[zs.min():zs.max() + 1, ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
    brain_elsewhere = head & ~lesion_box
    assert np.median(flair[lesion_box & head]) > 1.5 * np.median(flair[brain_elsewhere])


def test_same_seed_same_bytes_other_seed_other_uids(tmp_path: Path) -> None:
    population = _one_proband_per_study(SEED)
    population.participants[:] = population.participants[1:]  # two studies are enough here
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    with _every_proband_imaged():
        write_imaging(first, population, 5)
        write_imaging(second, population, 5)
        write_imaging(other, population, 6)
    files_a = sorted(p.relative_to(first) for p in first.rglob("*.dcm"))
    files_b = sorted(p.relative_to(second) for p in second.rglob("*.dcm"))
    assert files_a and files_a == files_b
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files_a)
    files_c = {p.name for p in other.rglob("*.dcm")}
    assert not files_c & {f.name for f in files_a}


def test_share_of_probands_progress_and_cancel(tmp_path: Path) -> None:
    population = build_population(120, 3)
    events: list[ProgressEvent] = []
    studies = write_imaging(tmp_path / "r", population, 3, progress=events.append)
    probands = population.probands()
    assert 0.03 * len(probands) <= len(studies) <= 0.25 * len(probands)
    assert all(population.participants[s.participant_index].is_proband for s in studies)
    assert all(population.participants[s.participant_index].participant_id == s.participant_id for s in studies)
    assert events[-1].done == events[-1].total == len(studies)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        write_imaging(tmp_path / "cancelled", population, 3, cancel=token)
    assert not list((tmp_path / "cancelled").rglob("*.dcm"))
