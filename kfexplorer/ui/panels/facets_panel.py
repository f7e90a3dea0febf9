"""The Facets dock: collapsible groups of facets whose counts are within the cohort without the facet's own filter.

Groups: Study, Demographics, Diagnosis (MONDO tree), Phenotype (HPO tree, observed / not observed), Biospecimen,
Data files, Imaging, Variants. Value facets are checkable lists (sorted by count, top N with "show all"); ontology
facets are lazily expanded trees with counts rolled up to ancestors; numeric facets are ranges over a histogram.
Checking values (or terms) sets that field's `in` criterion in the CohortState; applying a range sets its `between`
criterion. A value facet lists the values a NOT pill on its field excludes (counted: the NOT is the facet's own
filter), checked and marked "not …"; unchecking one clears it from the exclusion. All visible groups are counted in
ONE worker job (kfexplorer.services.facet_queries.read_facets); a newer edit cancels the older job; previous counts
stay visible, dimmed, until the new ones arrive.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QTreeWidgetItem, QVBoxLayout, QWidget

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.compiler import ontology_term_id
from kfexplorer.query.fields import Level, field_spec
from kfexplorer.query.model import MISSING_VALUE, Cohort, Criterion, Group, Node, Not, Value
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.facet_queries import (
    LOG_SCALE_FIELDS,
    FacetRequest,
    FacetResult,
    FacetResults,
    Histogram,
    TermTree,
    negated_criterion,
    read_facets,
)
from kfexplorer.services.jobs import JobFailure
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.preview_host import preview_panel_with_jobs
from kfexplorer.ui.widgets.facet_frame import FacetFrame
from kfexplorer.ui.widgets.facet_group import FacetGroup
from kfexplorer.ui.widgets.facet_range import RangeFacet
from kfexplorer.ui.widgets.facet_term_tree import TermTreeFacet
from kfexplorer.ui.widgets.facet_value_list import ValueFacet

PHENOTYPE_FIELDS: tuple[tuple[str, str], ...] = (("observed", "phenotype.observed"),
                                                 ("not observed", "phenotype.not_observed"))


@dataclass(frozen=True)
class FacetGroupSpec:
    """A group of the dock: its title, its facets (registry fields) and whether it starts expanded."""

    title: str
    fields: tuple[str, ...]
    expanded: bool = False


FACET_GROUPS: tuple[FacetGroupSpec, ...] = (
    FacetGroupSpec("Study", ("participant.study_id",), expanded=True),
    FacetGroupSpec("Demographics", (
        "participant.sex", "participant.race", "participant.ethnicity", "participant.is_proband",
        "participant.affected_status", "participant.family_type", "participant.vital_status",
        "participant.age_at_last_follow_up_days"), expanded=True),
    FacetGroupSpec("Diagnosis", ("diagnosis", "diagnosis.age_at_event_days")),
    FacetGroupSpec("Phenotype", ("phenotype.observed",)),
    FacetGroupSpec("Biospecimen", ("biospecimen.sample_type", "biospecimen.tissue",
                                   "biospecimen.age_at_collection_days")),
    FacetGroupSpec("Data files", ("file.data_type", "file.format")),
    FacetGroupSpec("Imaging", ("imaging.modality", "imaging.body_part", "imaging.age_at_scan_days")),
    FacetGroupSpec("Variants", ("consequence.vep_impact", "consequence.consequence", "variant.clinvar_sig",
                                "variant.variant_class", "occurrence.zygosity", "variant.gnomad_genomes_3_af",
                                "variant.cadd_phred")),
)

# Titles where the registry label is not what the dock should say.
FACET_TITLES: dict[str, str] = {
    "participant.study_id": "Study",
    "diagnosis": "MONDO",
    "phenotype.observed": "HPO",
    "consequence.vep_impact": "Consequence impact",
    "variant.gnomad_genomes_3_af": "gnomAD genomes AF",
}

PREFERRED_WIDTH = 260
LAYOUT_DEPTH = 8  # list → body → facet → group body → group → column → scroll area, and a margin
FacetCounts = dict[str, list[tuple[Value, int]]]
RangeChoice = tuple[float, float, bool]


def chosen_range(cohort: Cohort, field: str) -> RangeChoice | None:
    """The cohort's top-level `between` on `field` as (low, high, include missing), or None."""
    for node in cohort.top_level():
        if isinstance(node, Criterion) and node.field == field and node.op == "between":
            numbers = [float(v) for v in node.values
                       if isinstance(v, int | float) and not isinstance(v, bool)]
            if len(numbers) == 2:
                return min(numbers), max(numbers), MISSING_VALUE in node.values
    return None


def cohort_with_range(cohort: Cohort, field: str, choice: RangeChoice | None, whole_numbers: bool) -> Cohort:
    """`cohort` with its top-level criteria on `field` replaced by `field between low and high` (and missing),
    in the place of the first one; `choice` None removes them."""
    criterion: Criterion | None = None
    if choice is not None:
        low, high, with_missing = choice
        bounds: tuple[Value, ...] = (int(round(low)), int(round(high))) if whole_numbers else (low, high)
        criterion = Criterion(field, "between", bounds + ((MISSING_VALUE,) if with_missing else ()))
    children: list[Node] = []
    placed = False
    for node in cohort.top_level():
        if isinstance(node, Criterion) and node.field == field:
            if criterion is not None and not placed:
                children.append(criterion)
                placed = True
            continue
        children.append(node)
    if criterion is not None and not placed:
        children.append(criterion)
    return Cohort(Group("and", tuple(children)), cohort.name)


def _exclusion_on(node: Node, field: str) -> Criterion | None:
    """The values `node` (a top-level criterion) excludes on `field`, as `field in [values]`: from NOT (field in
    …) or from field not_in …; None when it excludes none there."""
    negated = negated_criterion(node)
    if negated is not None and negated.field == field and negated.op == "in":
        return negated
    if isinstance(node, Criterion) and node.field == field and node.op == "not_in":
        return Criterion(field, "in", node.values)
    return None


def excluded_values(cohort: Cohort, field: str) -> tuple[Value, ...]:
    """The values of `field` the cohort's top-level criteria exclude (NOT pills, `not_in`)."""
    found: list[Value] = []
    for node in cohort.top_level():
        exclusion = _exclusion_on(node, field)
        if exclusion is not None:
            found += [value for value in exclusion.values if value not in found]
    return tuple(found)


def cohort_without_exclusion(cohort: Cohort, field: str, value: Value) -> Cohort:
    """`cohort` with `value` no longer excluded on `field`: dropped from each NOT / not_in criterion that lists it
    (the criterion goes when it was its only value)."""
    children: list[Node] = []
    for node in cohort.top_level():
        exclusion = _exclusion_on(node, field)
        if exclusion is None or value not in exclusion.values:
            children.append(node)
            continue
        rest = tuple(v for v in exclusion.values if v != value)
        if rest:
            plain = isinstance(node, Criterion)
            children.append(Criterion(field, "not_in", rest) if plain else Not(Criterion(field, "in", rest)))
    return replace(cohort, root=Group("and", tuple(children)))


def _make_facet(field: str) -> FacetFrame:
    spec = field_spec(field)
    title = FACET_TITLES.get(field, spec.label)
    if field == "phenotype.observed":
        return TermTreeFacet(PHENOTYPE_FIELDS, title)
    if spec.kind.value == "ontology":
        return TermTreeFacet(((spec.label, field),), title)
    if spec.kind.value == "numeric":
        log_scale = field in LOG_SCALE_FIELDS
        decimals = 0 if spec.unit == "days" else (7 if log_scale else 2)
        facet: FacetFrame = RangeFacet(field, title, unit=spec.unit, decimals=decimals, log_scale=log_scale)
    else:
        facet = ValueFacet(field, title)
    if spec.level is Level.OCCURRENCE:
        facet.title_label.setToolTip(f"{title}: participants of the cohort carrying a variant call with this value")
    return facet


class FacetsPanel(QWidget):
    """The dock's content: a scrollable column of collapsible facet groups."""

    counts_loaded = Signal()

    def __init__(self, jobs: QtJobRunner | None = None, state: CohortState | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.state = state if state is not None else CohortState()
        self.workspace: Workspace | None = None
        self.counts: FacetCounts = {}
        self.results: dict[str, FacetResult] = {}
        self._result_cohorts: dict[str, Cohort] = {}
        self._job_key = f"facet-counts-{id(self)}"
        self.requested: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.hint = QLabel("Open a release to count its participants by study, demographics, diagnoses, "
                           "phenotypes, specimens, files, imaging and variants.")
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        self.hint.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.hint)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        # Narrower than its content (about 200 px), the dock scrolls sideways rather than clip the counts.
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        container = QWidget()
        column = QVBoxLayout(container)
        column.setContentsMargins(2, 2, 4, 2)
        column.setSpacing(0)
        self.groups: dict[str, FacetGroup] = {}
        self.facets: dict[str, FacetFrame] = {}
        self.group_of: dict[str, str] = {}
        for group_spec in FACET_GROUPS:
            group = FacetGroup(group_spec.title, group_spec.expanded)
            for field in group_spec.fields:
                facet = _make_facet(field)
                group.add_facet(facet)
                self._connect(facet)
                names = [name for _label, name in facet.fields] if isinstance(facet, TermTreeFacet) else [field]
                for name in names:
                    self.facets[name] = facet
                    self.group_of[name] = group_spec.title
            group.toggled.connect(self._group_toggled)
            column.addWidget(group)
            self.groups[group_spec.title] = group
        column.addStretch(1)
        self.scroll_area.setWidget(container)
        layout.addWidget(self.scroll_area, 1)
        layout.addStretch(0)
        self.scroll_area.setVisible(False)
        self.state.add_listener(self._cohort_changed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """Wide enough for labels, counts and the range controls side by side (the dock starts at this width)."""
        return QSize(PREFERRED_WIDTH, super().sizeHint().height())

    def _group_toggled(self, expanded: bool) -> None:
        if expanded:
            self.refresh()

    def _connect(self, facet: FacetFrame) -> None:
        if isinstance(facet, ValueFacet | TermTreeFacet):
            facet.selection_changed.connect(self._values_chosen)
        if isinstance(facet, ValueFacet):
            facet.exclusion_cleared.connect(self._exclusion_cleared)
        if isinstance(facet, TermTreeFacet):
            facet.field_switched.connect(lambda _field: self.refresh())
        if isinstance(facet, RangeFacet):
            facet.range_chosen.connect(self._range_chosen)

    # -- lookups (tests and other views) ------------------------------------------------------------------------
    def facet(self, field: str) -> FacetFrame:
        return self.facets[field]

    def value_facet(self, field: str) -> ValueFacet:
        facet = self.facets[field]
        assert isinstance(facet, ValueFacet)
        return facet

    def tree_facet(self, field: str) -> TermTreeFacet:
        facet = self.facets[field]
        assert isinstance(facet, TermTreeFacet)
        return facet

    def range_facet(self, field: str) -> RangeFacet:
        facet = self.facets[field]
        assert isinstance(facet, RangeFacet)
        return facet

    def value_item(self, field: str, value: Value) -> QTreeWidgetItem | None:
        return self.value_facet(field).item_for(value)

    def counts_of(self, field: str) -> dict[Value, int]:
        return {value: count for value, count in self.counts.get(field, [])}

    def visible_fields(self) -> list[str]:
        """The fields the expanded groups show (for a switchable tree: the field it shows now)."""
        fields: list[str] = []
        for group_spec in FACET_GROUPS:
            if not self.groups[group_spec.title].expanded:
                continue
            for field in group_spec.fields:
                fields.append(self.facets[field].field)
        return fields

    def is_current(self, field: str) -> bool:
        return self._result_cohorts.get(field) == self.state.cohort and field in self.results

    # -- counting -----------------------------------------------------------------------------------------------
    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace
        self.results.clear()
        self._result_cohorts.clear()
        self.hint.setVisible(workspace is None)
        self.scroll_area.setVisible(workspace is not None)
        if workspace is not None:
            self.refresh()
        elif self.jobs is not None:
            self.jobs.runner.cancel_key(self._job_key)

    def refresh(self) -> None:
        """Count, in one worker job, every visible facet whose counts are not for the current cohort."""
        workspace, jobs, cohort = self.workspace, self.jobs, self.state.cohort
        if workspace is None or jobs is None:
            return
        fields = [field for field in self.visible_fields() if not self.is_current(field)]
        if not fields:
            return
        # A job already counting this cohort for other fields is superseded: count them again in this one.
        pending = [field for field in self.requested if field not in fields and not self.is_current(field)
                   and field in self.visible_fields()]
        fields = pending + fields
        self.requested = fields
        for field in fields:
            self.facets[field].set_stale(True)
        requests = [FacetRequest(field) for field in fields]

        def count(progress: ProgressCallback, cancel: CancelToken) -> FacetResults:
            return read_facets(workspace.cursor(), cohort, requests, cancel, progress)

        jobs.submit(count, name="Facet counts", key=self._job_key,
                    on_finished=lambda results: self._results_arrived(cohort, results),
                    on_failed=lambda failure: self._failed(cohort, fields, failure))

    def _failed(self, cohort: Cohort, fields: Sequence[str], failure: JobFailure) -> None:
        if cohort != self.state.cohort:
            return
        for field in fields:
            self.facets[field].set_stale(False)
            self.facets[field].show_message(f"Counting failed: {failure.message}")

    def _results_arrived(self, cohort: Cohort, results: FacetResults) -> None:
        if cohort != self.state.cohort:
            return  # a newer edit's counts are on their way
        self.requested = []
        for field, result in results.results.items():
            self.results[field] = result
            self._result_cohorts[field] = cohort
            self._show(field, result)
        for field, reason in results.unavailable.items():
            facet = self.facets[field]
            facet.set_stale(False)
            facet.show_message("Nothing to count: this cache has no such data.")
            facet.setToolTip(reason)
            self._result_cohorts[field] = cohort
            self.results.pop(field, None)
        self._settle_layout()
        self.counts_loaded.emit()

    def _settle_layout(self) -> None:
        """Lay the column out now that lists changed height: each level of nested layouts posts a request to its
        parent, so deliver them a few rounds deep (a screenshot taken next then sees the settled dock)."""
        for _depth in range(LAYOUT_DEPTH):
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def _show(self, field: str, result: FacetResult) -> None:
        facet = self.facets[field]
        facet.set_stale(False)
        facet.show_message("")
        if isinstance(facet, ValueFacet) and isinstance(result, list):
            self.counts[field] = [(item.value, item.count) for item in result]
            facet.show_counts(result, self.state.field_values(field), excluded_values(self.state.cohort, field))
        elif isinstance(facet, TermTreeFacet) and isinstance(result, TermTree):
            if facet.field == field:
                facet.show_tree(result, {name: self._term_values(name) for _label, name in facet.fields})
        elif isinstance(facet, RangeFacet) and isinstance(result, Histogram):
            facet.show_histogram(result, chosen_range(self.state.cohort, field))

    def _term_values(self, field: str) -> tuple[str, ...]:
        """The term ids the cohort picks on an ontology field (values may be ids or "Label (ID)")."""
        return tuple(term for term in (ontology_term_id(v) for v in self.state.field_values(field)) if term)

    # -- edits --------------------------------------------------------------------------------------------------
    def _values_chosen(self, field: str, values: list[Value]) -> None:
        facet = self.facets[field]
        if isinstance(facet, TermTreeFacet):
            values = self._portal_term_values(facet, field, [str(v) for v in values])
        self.state.set_field_values(field, values)

    def _portal_term_values(self, facet: TermTreeFacet, field: str, term_ids: list[str]) -> list[Value]:
        """Term ids as the Kids First portal writes them, "Seizure (HP:0001250)" (so pills and SQON read well);
        a value the cohort already holds for a term is kept as it is."""
        existing = {ontology_term_id(v): v for v in self.state.field_values(field)}
        tree = facet.tree_data
        chosen: list[Value] = []
        for term in term_ids:
            if term in existing:
                chosen.append(existing[term])
            elif tree is not None and term in tree.nodes:
                chosen.append(f"{tree.nodes[term].label} ({term})")
            else:
                chosen.append(term)
        return chosen

    def _exclusion_cleared(self, field: str, value: Value) -> None:
        self.state.set_cohort(cohort_without_exclusion(self.state.cohort, field, value))

    def _range_chosen(self, field: str, choice: RangeChoice | None) -> None:
        facet = self.range_facet(field)
        self.state.set_cohort(cohort_with_range(self.state.cohort, field, choice, facet.decimals == 0))

    def _cohort_changed(self, cohort: Cohort) -> None:
        # Check marks and ranges follow the cohort at once (undo, × on a pill); counts follow from the worker.
        for field, facet in self.facets.items():
            if isinstance(facet, ValueFacet):
                facet.set_selected(self.state.field_values(field), excluded_values(cohort, field))
            elif isinstance(facet, TermTreeFacet) and facet.field == field:
                facet.set_selected({name: self._term_values(name) for _label, name in facet.fields})
            elif isinstance(facet, RangeFacet):
                facet.set_chosen(chosen_range(cohort, field))
        self.refresh()


def preview(cache_dir: Path | None = None, exec_loop: bool = True) -> QWidget:
    """Open the Facets dock alone over `cache_dir`."""
    return preview_panel_with_jobs(FacetsPanel, cache_dir, "Facets", exec_loop, size=(300, 800))


if __name__ == "__main__":
    preview(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
