"""The imaging part of the demo release: small, valid DICOM studies for a share of the probands.

Brain-tumour probands get a brain MR (T1, T2 and FLAIR axial, post-contrast T1 axial) with a visible mass and
its oedema; congenital-heart-defect probands get a contrast chest CT (axial, plus a coronal reformat) with a
ventricular septal defect; orofacial-cleft probands get a head/face CT (axial, plus a sagittal reformat) with a
gap in the maxillary arch and the palate.

Every series is sampled from one analytic phantom per study, in patient coordinates (DICOM LPS, millimetres), so
all series of a study share a frame of reference and show the same anatomy where they overlap. Everything
(UIDs, dates, noise) derives from the seed: the same seed writes byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

from kfexplorer.demo.imaging_model import DemoImagingStudy, DemoSeries
from kfexplorer.demo.population import Participant, Population
from kfexplorer.progress import CancelToken, ProgressCallback, ProgressEvent

# Share of probands of each study (by study_code) that have an imaging study.
IMAGING_SHARE: dict[str, float] = {"KF-PBTD": 0.10, "KF-CHDD": 0.10, "KF-OFCD": 0.10}

UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://kidsfirstdrc.org/kfexplorer/demo/imaging")
IMPLEMENTATION_CLASS_UID = UID(f"2.25.{uuid.uuid5(UID_NAMESPACE, 'implementation').int}")
IMPLEMENTATION_VERSION_NAME = "KFEXPLORER_DEMO1"

# Orientation (row direction, column direction) in LPS; the slice normal is row × column.
ORIENTATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "AXIAL": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),  # normal +z (feet → head)
    "SAGITTAL": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),  # normal -x (patient left → right)
    "CORONAL": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),  # normal +y (front → back)
}

MR_MANUFACTURERS = (("SIEMENS", "Demo Skyra", 3.0), ("GE MEDICAL SYSTEMS", "Demo Signa", 1.5),
                    ("Philips", "Demo Ingenia", 3.0))
CT_MANUFACTURERS = (("SIEMENS", "Demo SOMATOM", 0.0), ("GE MEDICAL SYSTEMS", "Demo Revolution", 0.0),
                    ("TOSHIBA", "Demo Aquilion", 0.0))


@dataclass(frozen=True)
class SeriesPlan:
    """One series to write: what it shows and how it samples the phantom."""

    description: str
    contrast: str  # phantom look-up: T1 | T1C | T2 | FLAIR | CT
    orientation: str  # AXIAL | SAGITTAL | CORONAL
    matrix: int
    pixel_spacing: float  # mm
    slices: int
    spacing: float  # mm between slice centres (SpacingBetweenSlices)
    thickness: float  # mm
    window: tuple[float, float] | None = None  # (center, width); None = from the data


@dataclass(frozen=True)
class Phantom:
    """An analytic subject: `anatomy` maps pixel coordinates to tissue (labels or noise-free HU), `render` turns
    that into the signal of one contrast, with noise. Series with the same grid share one anatomy."""

    anatomy: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    render: Callable[[np.ndarray, str], np.ndarray]


def _decimal(value: float) -> str:
    """A DICOM DS string (at most 16 characters) for a value rounded to 4 decimals; -0 becomes 0."""
    text = f"{round(value, 4) + 0.0:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _rounded(value: float, step: float) -> float:
    return round(round(value / step) * step, 4)


def dicom_age(days: int) -> str:
    """PatientAge (AS) for an age in days: days under a month, months under two years, years after."""
    if days < 31:
        return f"{max(days, 0):03d}D"
    if days < 730:
        return f"{min(int(days / 30.4375), 999):03d}M"
    return f"{min(int(days / 365.25), 999):03d}Y"


def _uid(seed: int, *parts: object) -> UID:
    """A deterministic 2.25 UID: the integer of a name-based (v5) UUID of the seed and the parts.

    (pydicom's generate_uid ignores entropy_srcs when prefix is None and returns a random UUID.)"""
    name = "|".join([str(seed), *(str(p) for p in parts)])
    return UID(f"2.25.{uuid.uuid5(UID_NAMESPACE, name).int}")


def _blur_in_plane(volume: np.ndarray) -> np.ndarray:
    """A [1, 2, 1] / 4 smoothing along rows and columns: partial-volume edges instead of staircases."""
    padded = np.pad(volume, ((0, 0), (1, 1), (0, 0)), mode="edge")
    volume = (padded[:, :-2] + 2.0 * padded[:, 1:-1] + padded[:, 2:]) * 0.25
    padded = np.pad(volume, ((0, 0), (0, 0), (1, 1)), mode="edge")
    return (padded[:, :, :-2] + 2.0 * padded[:, :, 1:-1] + padded[:, :, 2:]) * 0.25


def _slice_origins(plan: SeriesPlan, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row and column directions, slice normal and the (rounded) ImagePositionPatient of every slice."""
    row_dir, col_dir = (np.array(v) for v in ORIENTATIONS[plan.orientation])
    normal = np.cross(row_dir, col_dir)
    half_plane = (plan.matrix - 1) / 2.0 * plan.pixel_spacing
    first = centre - half_plane * row_dir - half_plane * col_dir - (plan.slices - 1) / 2.0 * plan.spacing * normal
    first = np.round(first, 2)
    positions = first[None, :] + np.arange(plan.slices)[:, None] * plan.spacing * normal[None, :]
    return row_dir, col_dir, normal, np.round(positions, 4)


def _sample_grid(plan: SeriesPlan, positions: np.ndarray, row_dir: np.ndarray,
                 col_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patient coordinates (x, y, z), each shaped (slices, rows, columns), of every pixel centre."""
    steps = np.arange(plan.matrix, dtype=np.float32) * np.float32(plan.pixel_spacing)
    coords = []
    for axis in range(3):
        base = positions[:, axis].astype(np.float32)[:, None, None]
        along_cols = (steps * np.float32(row_dir[axis]))[None, None, :]  # column index moves along the row dir
        along_rows = (steps * np.float32(col_dir[axis]))[None, :, None]
        coords.append(base + along_rows + along_cols)
    return coords[0], coords[1], coords[2]


# ---------------------------------------------------------------------------------------------------------------
# Phantoms
# ---------------------------------------------------------------------------------------------------------------

BRAIN_LABELS = ("air", "scalp", "skull", "csf", "grey", "white", "ventricle", "oedema", "tumour", "necrosis")
BRAIN_SIGNAL: dict[str, tuple[float, ...]] = {
    #        air  scalp skull csf   grey  white vent  oedema tumour necrosis
    "T1": (0, 1100, 80, 250, 600, 800, 230, 480, 430, 280),
    "T1C": (0, 1100, 80, 260, 610, 800, 240, 500, 1450, 290),
    "T2": (0, 900, 60, 1800, 1000, 760, 1850, 1500, 1300, 1900),
    "FLAIR": (0, 650, 60, 130, 800, 600, 110, 1500, 1250, 300),
}


@dataclass(frozen=True)
class BrainAnatomy:
    semi_axes: tuple[float, float, float]  # head ellipsoid, mm
    lesion_centre: tuple[float, float, float]
    lesion_semi_axes: tuple[float, float, float]
    necrotic: bool
    bias: float


def _brain_anatomy(rng: np.random.Generator, scale: float) -> BrainAnatomy:
    semi = (72.0 * scale, 92.0 * scale, 84.0 * scale)
    side = 1.0 if rng.random() < 0.5 else -1.0
    centre = (side * float(rng.uniform(0.2, 0.42)) * semi[0], float(rng.uniform(-0.35, 0.35)) * semi[1],
              float(rng.uniform(-0.2, 0.25)) * semi[2])
    radius = float(rng.uniform(11.0, 20.0)) * scale
    lesion = tuple(radius * float(rng.uniform(0.8, 1.2)) for _ in range(3))
    return BrainAnatomy(semi, centre, (lesion[0], lesion[1], lesion[2]), bool(rng.random() < 0.6),
                        float(rng.uniform(-0.08, 0.08)))


def _brain_labels(x: np.ndarray, y: np.ndarray, z: np.ndarray, anatomy: BrainAnatomy) -> np.ndarray:
    ax, ay, az = anatomy.semi_axes
    r = np.sqrt((x / ax) ** 2 + (y / ay) ** 2 + (z / az) ** 2)
    labels = np.zeros(r.shape, dtype=np.uint8)
    labels[r <= 1.0] = 1
    labels[r <= 0.94] = 2
    labels[r <= 0.885] = 3
    brain = r <= 0.855
    folding = 0.035 * np.sin(x * (9.0 / ax)) * np.sin(y * (7.0 / ay)) * np.cos(z * (8.0 / az))
    labels[brain] = 4
    labels[brain & (r <= 0.68 + folding)] = 5
    for side in (-1.0, 1.0):
        vent = ((x - side * 0.11 * ax) / (0.08 * ax)) ** 2 + ((y + 0.03 * ay) / (0.3 * ay)) ** 2 \
            + ((z - 0.1 * az) / (0.14 * az)) ** 2
        labels[vent <= 1.0] = 6
    cx, cy, cz = anatomy.lesion_centre
    lx, ly, lz = anatomy.lesion_semi_axes
    dx, dy, dz = (x - cx) / lx, (y - cy) / ly, (z - cz) / lz
    d = np.sqrt(dx ** 2 + dy ** 2 + dz ** 2)
    lobulation = 1.0 + 0.12 * np.sin(3.0 * np.arctan2(dy, dx)) * np.cos(2.0 * dz)
    d = d * lobulation
    labels[brain & (d <= 1.9) & (labels != 6)] = 7
    labels[brain & (d <= 1.0)] = 8
    if anatomy.necrotic:
        labels[brain & (d <= 0.5)] = 9
    return labels


def _brain_phantom(rng: np.random.Generator, scale: float) -> Phantom:
    anatomy = _brain_anatomy(rng, scale)

    def labels(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        tissue = _brain_labels(x, y, z, anatomy)
        # The receive-coil bias rides along as a second channel: (labels, gain) packed in one float array.
        gain = np.float32(1.0) + np.float32(anatomy.bias) * (y / np.float32(anatomy.semi_axes[1]))
        return np.stack([tissue.astype(np.float32), gain])

    def render(tissue: np.ndarray, contrast: str) -> np.ndarray:
        lut = np.asarray(BRAIN_SIGNAL[contrast], dtype=np.float32)
        signal = _blur_in_plane(lut[tissue[0].astype(np.uint8)]) * tissue[1]
        sigma = np.float32(22.0)
        real = signal + rng.standard_normal(signal.shape, dtype=np.float32) * sigma
        imag = rng.standard_normal(signal.shape, dtype=np.float32) * sigma
        return np.sqrt(real * real + imag * imag)  # Rician magnitude noise, as MR has

    return Phantom(labels, render)


def _ct_render(rng: np.random.Generator, sigma: float) -> Callable[[np.ndarray, str], np.ndarray]:
    def render(hu: np.ndarray, contrast: str) -> np.ndarray:
        return hu + rng.standard_normal(hu.shape, dtype=np.float32) * np.float32(sigma)

    return render


def _chest_phantom(rng: np.random.Generator, scale: float) -> Phantom:
    ax, ay = 150.0 * scale, 100.0 * scale
    heart_c = np.array([0.12 * ax, -0.2 * ay, -10.0 * scale], dtype=np.float32)
    heart_r = np.array([0.32 * ax, 0.38 * ay, 45.0 * scale], dtype=np.float32)
    vsd_z = float(rng.uniform(-0.3, 0.1)) * float(heart_r[2]) + float(heart_c[2])
    vsd_radius = float(rng.uniform(3.5, 6.5)) * scale
    rib_period, rib_phase = 24.0 * scale, float(rng.uniform(0.0, 24.0 * scale))

    def anatomy(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        r = np.sqrt((x / ax) ** 2 + (y / ay) ** 2)
        hu = np.full(x.shape, -1000.0, dtype=np.float32)
        hu[r <= 1.0] = -100.0  # subcutaneous fat
        hu[r <= 0.93] = 40.0  # muscle and mediastinum
        for side in (-1.0, 1.0):
            lung = ((x - side * 0.47 * ax) / (0.36 * ax)) ** 2 + ((y - 0.05 * ay) / (0.62 * ay)) ** 2 \
                + (z / (95.0 * scale)) ** 2
            hu[lung <= 1.0] = -850.0
        hx, hy, hz = (x - heart_c[0]) / heart_r[0], (y - heart_c[1]) / heart_r[1], (z - heart_c[2]) / heart_r[2]
        heart = hx ** 2 + hy ** 2 + hz ** 2
        hu[heart <= 1.0] = 110.0  # enhancing myocardium
        blood = heart <= 0.62
        septum = np.abs(hx + 0.35 * hy) * heart_r[0] <= 3.0 * scale
        defect = ((x - heart_c[0]) ** 2 + (y - heart_c[1]) ** 2 + (z - vsd_z) ** 2) <= vsd_radius ** 2
        hu[blood & (~septum | defect)] = 330.0  # contrast-filled chambers; the defect joins the ventricles
        aorta = ((x - 0.1 * ax) ** 2 + (y - 0.45 * ay) ** 2) <= (9.0 * scale) ** 2
        hu[aorta & (r <= 0.93)] = 330.0
        spine = x ** 2 + (y - 0.7 * ay) ** 2
        hu[spine <= (0.13 * ax) ** 2] = 950.0  # cortical shell of the vertebral body
        hu[spine <= (0.1 * ax) ** 2] = 300.0  # cancellous bone
        lamina = (np.abs(x) <= 0.11 * ax) & (y > 0.79 * ay) & (y <= 0.86 * ay)
        hu[lamina] = 900.0  # posterior arch
        sternum = ((x / (0.09 * ax)) ** 2 + ((y + 0.9 * ay) / (0.05 * ay)) ** 2) <= 1.0
        hu[sternum] = 600.0
        ribs = (r > 0.85) & (r <= 0.91) & (np.mod(z - rib_phase, rib_period) < 9.0 * scale) & (y > -0.8 * ay)
        hu[ribs] = 900.0
        return _blur_in_plane(hu)

    return Phantom(anatomy, _ct_render(rng, 12.0))


def _face_phantom(rng: np.random.Generator, scale: float) -> Phantom:
    ax, ay, az = 70.0 * scale, 92.0 * scale, 88.0 * scale
    cleft_sides = [(-1.0,), (1.0,), (-1.0, 1.0)][int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
    cleft_half_width = float(rng.uniform(2.5, 5.0)) * scale

    def anatomy(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        r = np.sqrt((x / ax) ** 2 + (y / ay) ** 2 + (z / az) ** 2)
        hu = np.full(x.shape, -1000.0, dtype=np.float32)
        hu[r <= 1.0] = 30.0  # scalp and facial soft tissue
        cranium = z > -0.3 * az
        hu[cranium & (r <= 0.95)] = 1100.0  # skull
        hu[cranium & (r <= 0.88)] = 35.0  # brain
        for side in (-1.0, 1.0):
            vent = ((x - side * 0.1 * ax) / (0.07 * ax)) ** 2 + (y / (0.3 * ay)) ** 2 + ((z - 0.2 * az) / (0.12 * az)) ** 2
            hu[vent <= 1.0] = 5.0
            orbit = ((x - side * 0.36 * ax) ** 2 + (y + 0.72 * ay) ** 2 + (z + 0.2 * az) ** 2) / (0.17 * ax) ** 2
            hu[orbit <= 1.0] = -80.0  # orbital fat
            hu[orbit <= 0.45] = 15.0  # globe
            sinus = ((x - side * 0.3 * ax) / (0.16 * ax)) ** 2 + ((y + 0.5 * ay) / (0.2 * ay)) ** 2 \
                + ((z + 0.47 * az) / (0.12 * az)) ** 2
            hu[sinus <= 1.0] = -950.0  # maxillary sinus
        nasal = (np.abs(x) <= 0.12 * ax) & (y > -0.88 * ay) & (y < -0.2 * ay) & (z > -0.58 * az) & (z < -0.22 * az)
        hu[nasal & (r <= 1.0)] = -950.0
        septum = nasal & (np.abs(x) <= 1.2 * scale)
        hu[septum] = 400.0
        arch = np.sqrt((x / (0.6 * ax)) ** 2 + ((y + 0.3 * ay) / (0.58 * ay)) ** 2)
        maxilla_level = (z <= -0.6 * az) & (z > -0.78 * az) & (y < -0.25 * ay)
        hu[maxilla_level & (arch > 0.8) & (arch <= 1.0)] = 900.0  # alveolar ridge
        hu[maxilla_level & (arch > 0.86) & (arch <= 0.96) & (z <= -0.7 * az)] = 1800.0  # teeth
        palate = (np.abs(z + 0.6 * az) <= 2.0 * scale) & (arch <= 0.85) & (y < 0.1 * ay)
        hu[palate] = 800.0
        for side in cleft_sides:
            gap = (np.abs(x - side * 0.2 * ax) <= cleft_half_width) & (z <= -0.55 * az) & (z > -0.8 * az) \
                & (y < 0.1 * ay) & (arch <= 1.05)
            hu[gap] = -600.0  # the cleft: air and soft tissue where lip, ridge and palate should meet
        return _blur_in_plane(hu)

    return Phantom(anatomy, _ct_render(rng, 10.0))


# ---------------------------------------------------------------------------------------------------------------
# Protocols
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyPlan:
    kind: str  # brain-mr | chest-ct | face-ct
    modality: str
    body_part: str
    description: str
    series: tuple[SeriesPlan, ...]
    centre: tuple[float, float, float]
    phantom: Phantom


def _head_scale(age_days: int) -> float:
    return 0.68 + 0.32 * min(1.0, age_days / (8 * 365.25)) ** 0.5


def _body_scale(age_days: int) -> float:
    return 0.5 + 0.5 * min(1.0, age_days / (16 * 365.25))


def _brain_plan(rng: np.random.Generator, age_days: int) -> StudyPlan:
    scale = _head_scale(age_days)
    matrix = 128
    pixel = _rounded(230.0 * scale / matrix, 0.01)
    slices = int(rng.integers(16, 23))
    spacing = _rounded(130.0 * scale / slices, 0.1)
    thickness = _rounded(spacing * 0.85, 0.1)
    axial = [("T1 AX", "T1"), ("T2 AX", "T2"), ("T2 FLAIR AX", "FLAIR"), ("T1 AX POST GD", "T1C")]
    series = tuple(SeriesPlan(name, contrast, "AXIAL", matrix, pixel, slices, spacing, thickness)
                   for name, contrast in axial)
    return StudyPlan("brain-mr", "MR", "BRAIN", "MRI BRAIN W WO CONTRAST", series, (0.0, 0.0, 0.0),
                     _brain_phantom(rng, scale))


def _chest_plan(rng: np.random.Generator, age_days: int) -> StudyPlan:
    scale = _body_scale(age_days)
    matrix = 128
    pixel = _rounded(2.3 * 150.0 * scale / matrix, 0.01)
    slices = int(rng.integers(24, 37))
    spacing = _rounded(max(2.0, 130.0 * scale / slices), 0.5)
    coronal_slices = int(rng.integers(16, 23))
    coronal_spacing = _rounded(max(2.0, 200.0 * scale / coronal_slices), 0.5)
    series = (
        SeriesPlan("CTA CHEST 3.0 AXIAL", "CT", "AXIAL", matrix, pixel, slices, spacing, spacing, (60.0, 500.0)),
        SeriesPlan("CTA CHEST CORONAL MPR", "CT", "CORONAL", matrix, pixel, coronal_slices, coronal_spacing,
                   coronal_spacing, (60.0, 500.0)),
    )
    return StudyPlan("chest-ct", "CT", "CHEST", "CTA CHEST CARDIAC W CONTRAST", series, (0.0, 0.0, -10.0 * scale),
                     _chest_phantom(rng, scale))


def _face_plan(rng: np.random.Generator, age_days: int) -> StudyPlan:
    scale = _head_scale(age_days)
    matrix = 128
    pixel = _rounded(200.0 * scale / matrix, 0.01)
    slices = int(rng.integers(26, 37))
    spacing = _rounded(max(1.5, 110.0 * scale / slices), 0.5)
    sag_slices = int(rng.integers(16, 23))
    sag_spacing = _rounded(max(1.5, 100.0 * scale / sag_slices), 0.5)
    centre = (0.0, -20.0 * scale, -35.0 * scale)
    series = (
        SeriesPlan("HEAD FACE 1.0 BONE AXIAL", "CT", "AXIAL", matrix, pixel, slices, spacing, spacing,
                   (500.0, 2500.0)),
        SeriesPlan("FACE SAGITTAL MPR", "CT", "SAGITTAL", matrix, pixel, sag_slices, sag_spacing, sag_spacing,
                   (40.0, 400.0)),
    )
    return StudyPlan("face-ct", "CT", "HEAD", "CT MAXILLOFACIAL WO CONTRAST", series, centre,
                     _face_phantom(rng, scale))


PLANNERS: dict[str, Callable[[np.random.Generator, int], StudyPlan]] = {
    "KF-PBTD": _brain_plan, "KF-CHDD": _chest_plan, "KF-OFCD": _face_plan,
}


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StudyContext:
    seed: int
    participant: Participant
    study_uid: UID
    frame_uid: UID
    age_days: int
    study_date: str
    study_time: str
    manufacturer: tuple[str, str, float]
    plan: StudyPlan


def _series_template(ctx: _StudyContext, plan: SeriesPlan, series_uid: UID, series_number: int,
                     window: tuple[float, float]) -> Dataset:
    participant, study = ctx.participant, ctx.plan
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", plan.orientation] if plan.description.find("MPR") < 0 \
        else ["DERIVED", "SECONDARY", "MPR"]
    ds.SOPClassUID = MRImageStorage if study.modality == "MR" else CTImageStorage
    ds.StudyDate = ctx.study_date
    ds.SeriesDate = ctx.study_date
    ds.ContentDate = ctx.study_date
    ds.StudyTime = ctx.study_time
    ds.SeriesTime = ctx.study_time
    ds.AccessionNumber = ""
    ds.Modality = study.modality
    ds.Manufacturer = ctx.manufacturer[0]
    ds.ManufacturerModelName = ctx.manufacturer[1]
    ds.InstitutionName = "Kids First Demo Hospital"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study.description
    ds.SeriesDescription = plan.description
    ds.PatientName = participant.participant_id
    ds.PatientID = participant.participant_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "F" if participant.sex == "female" else "M"
    ds.PatientAge = dicom_age(ctx.age_days)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "kfexplorer demo: synthetic subject, shifted dates"
    ds.BodyPartExamined = study.body_part
    ds.SliceThickness = _decimal(plan.thickness)
    ds.SpacingBetweenSlices = _decimal(plan.spacing)
    if study.modality == "MR":
        ds.MagneticFieldStrength = _decimal(ctx.manufacturer[2])
        ds.ImagingFrequency = _decimal(42.577 * ctx.manufacturer[2])
        ds.MRAcquisitionType = "2D"
        flair, t2 = plan.contrast == "FLAIR", plan.contrast == "T2"
        ds.ScanningSequence = ["SE", "IR"] if flair else ["SE"]
        ds.SequenceVariant = ["SK"]
        ds.ScanOptions = ""
        ds.RepetitionTime = "9000" if flair else ("4000" if t2 else "500")
        ds.EchoTime = "120" if flair else ("95" if t2 else "12")
        if flair:
            ds.InversionTime = "2500"
        if plan.contrast == "T1C":
            ds.ContrastBolusAgent = "Gadolinium"
    else:
        ds.KVP = "100" if study.kind == "chest-ct" else "120"
        ds.XRayTubeCurrent = 180
        ds.ConvolutionKernel = "B30f" if study.kind == "chest-ct" else "H70h"
        ds.RescaleType = "HU"
        if study.kind == "chest-ct":
            ds.ContrastBolusAgent = "Iohexol"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = ctx.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    row_dir, col_dir = ORIENTATIONS[plan.orientation]
    ds.ImageOrientationPatient = [_decimal(v) for v in (*row_dir, *col_dir)]
    ds.FrameOfReferenceUID = ctx.frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = plan.matrix
    ds.Columns = plan.matrix
    ds.PixelSpacing = [_decimal(plan.pixel_spacing), _decimal(plan.pixel_spacing)]
    ds.BitsAllocated = 16
    if study.modality == "MR":
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
    else:
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
    ds.WindowCenter = _decimal(window[0])
    ds.WindowWidth = _decimal(window[1])
    ds.BurnedInAnnotation = "NO"
    return ds


def _pixels(modality: str, values: np.ndarray) -> np.ndarray:
    if modality == "MR":
        return np.clip(np.rint(values), 0, 4095).astype("<u2")
    return np.clip(np.rint(values) + 1024.0, 0, 4095).astype("<i2")  # stored = HU + 1024


def _auto_window(stored: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(stored, [1.0, 99.5])
    width = max(float(high - low), 1.0)
    return float(round((low + high) / 2.0)), float(round(width))


# Elements that change from slice to slice, in tag order; everything else of a series is encoded once.
PER_SLICE_TAGS = (0x00080018, 0x00200013, 0x00200032, 0x00201041, 0x7FE00010)


def _encode(elements: Dataset) -> bytes:
    """Explicit VR Little Endian bytes of some elements (pydicom's own encoder)."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    write_dataset(fp, elements)
    return fp.getvalue()


class _SeriesEncoder:
    """Writes the Part 10 files of one series fast: the series' constant elements are encoded once, in the
    stretches between the per-slice elements; each slice then only encodes its own few elements.
    The bytes equal what pydicom writes for the whole dataset (elements in tag order, same encoder)."""

    def __init__(self, template: Dataset) -> None:
        bounds = (0, *PER_SLICE_TAGS, 0x100000000)
        self._stretches: list[bytes] = []
        for low, high in zip(bounds[:-1], bounds[1:], strict=True):
            part = Dataset()
            for elem in template:
                if low < int(elem.tag) < high:
                    part.add(elem)
            self._stretches.append(_encode(part))
        self._sop_class = template.SOPClassUID

    def file_bytes(self, sop_uid: UID, per_slice: Dataset) -> bytes:
        meta = FileMetaDataset()
        meta.FileMetaInformationVersion = b"\x00\x01"
        meta.MediaStorageSOPClassUID = self._sop_class
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        meta_bytes = _encode(meta)
        group_length = Dataset()
        group_length.add_new(0x00020000, "UL", len(meta_bytes))
        parts = [b"\x00" * 128, b"DICM", _encode(group_length), meta_bytes, self._stretches[0]]
        for tag, stretch in zip(PER_SLICE_TAGS, self._stretches[1:], strict=True):
            element = Dataset()
            element.add(per_slice[tag])
            parts.append(_encode(element))
            parts.append(stretch)
        return b"".join(parts)


def _write_series(ctx: _StudyContext, plan: SeriesPlan, series_number: int, study_dir: Path,
                  anatomy_cache: dict[tuple[object, ...], np.ndarray]) -> DemoSeries:
    seed, pid = ctx.seed, ctx.participant.participant_id
    series_uid = _uid(seed, pid, "series", series_number)
    row_dir, col_dir, normal, positions = _slice_origins(plan, np.array(ctx.plan.centre))
    geometry = (plan.orientation, plan.matrix, plan.pixel_spacing, plan.slices, plan.spacing)
    if geometry not in anatomy_cache:
        anatomy_cache[geometry] = ctx.plan.phantom.anatomy(*_sample_grid(plan, positions, row_dir, col_dir))
    stored = _pixels(ctx.plan.modality, ctx.plan.phantom.render(anatomy_cache[geometry], plan.contrast))
    window = plan.window if plan.window is not None else _auto_window(stored)
    encoder = _SeriesEncoder(_series_template(ctx, plan, series_uid, series_number, window))
    series_dir = study_dir / str(series_uid)
    series_dir.mkdir(parents=True, exist_ok=True)
    for index in range(plan.slices):
        sop_uid = _uid(seed, pid, "series", series_number, "instance", index + 1)
        per_slice = Dataset()
        per_slice.SOPInstanceUID = sop_uid
        per_slice.InstanceNumber = index + 1
        per_slice.ImagePositionPatient = [_decimal(v) for v in positions[index]]
        per_slice.SliceLocation = _decimal(float(np.dot(positions[index], normal)))
        per_slice.PixelData = np.ascontiguousarray(stored[index]).tobytes()
        per_slice["PixelData"].VR = "OW"
        (series_dir / f"{sop_uid}.dcm").write_bytes(encoder.file_bytes(sop_uid, per_slice))
    return DemoSeries(str(series_uid), series_number, ctx.plan.modality, ctx.plan.body_part, plan.description,
                      plan.slices)


def _study_date(participant: Participant, age_days: int, shift_days: int) -> str:
    birth = dt.date(participant.birth_year, 1, 1) + dt.timedelta(days=shift_days)
    return (birth + dt.timedelta(days=age_days)).strftime("%Y%m%d")


def write_imaging(root: Path, population: Population, seed: int, progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> list[DemoImagingStudy]:
    """Write DICOM studies under root/imaging/ for a share of the probands; return what was written."""
    select = np.random.default_rng([seed, 0x1A6D])
    chosen: list[Participant] = []
    for participant in population.probands():
        draw = select.random()  # one draw per proband, so choices do not shift when shares change elsewhere
        share = IMAGING_SHARE.get(population.study(participant.study_id).study_code, 0.0)
        if draw < share:
            chosen.append(participant)
    studies: list[DemoImagingStudy] = []
    total = len(chosen)
    if progress is not None:
        progress(ProgressEvent("imaging", 0, total, "writing DICOM studies"))
    for done, participant in enumerate(chosen, start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        studies.append(_write_study(root, participant, population, seed))
        if progress is not None:
            progress(ProgressEvent("imaging", done, total, participant.participant_id))
    return studies


def _write_study(root: Path, participant: Participant, population: Population, seed: int) -> DemoImagingStudy:
    rng = np.random.default_rng([seed, 0x1A6E, participant.index])
    code = population.study(participant.study_id).study_code
    start = participant.age_at_enrollment_days
    window = max(0, min(participant.age_at_last_follow_up_days - start, 180))
    age_days = start + int(rng.integers(0, window + 1))
    plan = PLANNERS[code](rng, age_days)
    makers = MR_MANUFACTURERS if plan.modality == "MR" else CT_MANUFACTURERS
    manufacturer = makers[int(rng.integers(0, len(makers)))]
    seconds = int(rng.integers(7 * 3600, 18 * 3600))
    study_uid = _uid(seed, participant.participant_id, "study")
    ctx = _StudyContext(
        seed=seed, participant=participant, study_uid=study_uid,
        frame_uid=_uid(seed, participant.participant_id, "frame-of-reference"), age_days=age_days,
        study_date=_study_date(participant, age_days, int(rng.integers(0, 365))),
        study_time=f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}",
        manufacturer=manufacturer, plan=plan,
    )
    study_dir = root / "imaging" / participant.study_id / participant.participant_id / str(study_uid)
    anatomy_cache: dict[tuple[object, ...], np.ndarray] = {}
    series = tuple(_write_series(ctx, series_plan, number, study_dir, anatomy_cache)
                   for number, series_plan in enumerate(plan.series, start=1))
    return DemoImagingStudy(
        participant_index=participant.index, participant_id=participant.participant_id,
        study_id=participant.study_id, study_instance_uid=str(study_uid), description=plan.description,
        age_at_scan_days=age_days, series=series,
    )
