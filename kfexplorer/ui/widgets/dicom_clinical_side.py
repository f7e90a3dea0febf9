"""Beside the images: the participant's phenotypes, diagnoses and notable variants (read in a worker)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from kfexplorer.services.notable_variants import NotableVariant
from kfexplorer.services.participant_detail import ParticipantDetail


@dataclass(frozen=True)
class ClinicalContext:
    """What the side panel shows for one participant."""

    participant_id: str
    detail: ParticipantDetail | None
    variants: tuple[NotableVariant, ...]


def format_age_days(days: int | None) -> str:
    if days is None:
        return ""
    return f"{days:,} d ({days / 365.25:.1f} y)"


class DicomClinicalSide(QWidget):
    """Three sections in one tree: Phenotypes (observed), Diagnoses, Notable variants."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.heading = QLabel("No participant")
        font = QFont(self.heading.font())
        font.setBold(True)
        self.heading.setFont(font)
        layout.addWidget(self.heading)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Fact", "Detail"])
        self.tree.setColumnWidth(0, 200)
        self.tree.setRootIsDecorated(True)
        layout.addWidget(self.tree, 1)
        self.sections: dict[str, QTreeWidgetItem] = {}

    def clear(self, message: str = "No participant") -> None:
        self.heading.setText(message)
        self.tree.clear()
        self.sections = {}

    def _section(self, title: str, count: int) -> QTreeWidgetItem:
        item = QTreeWidgetItem([f"{title} ({count})", ""])
        font = QFont(item.font(0))
        font.setBold(True)
        item.setFont(0, font)
        self.tree.addTopLevelItem(item)
        item.setExpanded(True)
        self.sections[title] = item
        return item

    def show_context(self, context: ClinicalContext) -> None:
        self.tree.clear()
        self.sections = {}
        detail = context.detail
        sex = detail.participant.get("sex") if detail is not None else None
        self.heading.setText(f"{context.participant_id}" + (f" · {sex}" if sex else ""))
        phenotypes = detail.observed_phenotypes if detail is not None else ()
        section = self._section("Phenotypes", len(phenotypes))
        for ph in phenotypes:
            child = QTreeWidgetItem([ph.label or ph.hpo_id or "?", " · ".join(
                part for part in (ph.hpo_id or "", format_age_days(ph.age_at_event_days)) if part)])
            child.setToolTip(0, ph.label or "")
            section.addChild(child)
        diagnoses = detail.diagnoses if detail is not None else ()
        section = self._section("Diagnoses", len(diagnoses))
        for dx in diagnoses:
            child = QTreeWidgetItem([dx.label or dx.code or "?", " · ".join(
                part for part in (dx.code or "", format_age_days(dx.age_at_event_days)) if part)])
            child.setToolTip(0, dx.label or "")
            section.addChild(child)
        section = self._section("Notable variants", len(context.variants))
        for variant in context.variants:
            clinvar = ", ".join(sig.replace("_", " ") for sig in variant.clinvar if "athogenic" in sig)
            text = f"{variant.gene or '?'} {variant.hgvsp or variant.hgvsc or variant.hgvsg or variant.locus_id}"
            extra = " · ".join(part for part in (variant.zygosity or "", variant.impact or "", clinvar) if part)
            child = QTreeWidgetItem([text, extra])
            child.setToolTip(0, f"{variant.locus_id}\n{variant.hgvsg or ''}")
            if variant.is_pathogenic:
                child.setForeground(0, Qt.GlobalColor.darkRed)
            section.addChild(child)

    def section_rows(self, title: str) -> list[str]:
        item = self.sections.get(title)
        if item is None:
            return []
        children = [item.child(i) for i in range(item.childCount())]
        return [child.text(0) for child in children if child is not None]
