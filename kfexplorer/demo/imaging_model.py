"""What the demo imaging writer produced, so the clinical writer can emit matching ImagingStudy resources."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DemoSeries:
    series_instance_uid: str
    series_number: int
    modality: str  # MR | CT
    body_part: str  # DICOM BodyPartExamined, e.g. BRAIN, CHEST, HEAD
    description: str
    number_of_instances: int


@dataclass(frozen=True)
class DemoImagingStudy:
    participant_index: int  # Population.participants index
    participant_id: str
    study_id: str  # the research study (SD_…)
    study_instance_uid: str
    description: str
    age_at_scan_days: int
    series: tuple[DemoSeries, ...] = field(default_factory=tuple)
