"""The criterion editor: pick a field (grouped by category), an operator the field takes, and values by kind.

Categorical / boolean fields list their values with participant counts (queried in a worker, within the current
cohort without this field's own criterion) plus a box to paste or load a list (a gene panel file); numeric fields
take a range; ontology fields search terms by label or id (ontology_terms, in a worker); text, id lists and
regions (`chr:start-end`) are typed or pasted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.query.compiler import ontology_term_id, parse_region
from kfexplorer.query.fields import FIELDS, FieldKind, FieldSpec, field_spec
from kfexplorer.query.hgvs import HGVS_FIELD, hgvs_criterion
from kfexplorer.query.inheritance import FIELD as INHERITANCE_FIELD
from kfexplorer.query.inheritance import MODE_LABELS, MODES, InheritanceSettings, parse_values
from kfexplorer.query.model import Cohort, Criterion, QueryError, Value
from kfexplorer.services.cohort_count import facet_counts
from kfexplorer.services.facet_queries import without_own_filter
from kfexplorer.services.jobs import JobFailure
from kfexplorer.services.workspace import Workspace
from kfexplorer.ui.dialogs.picked_text_file import pick_file, read_picked_text
from kfexplorer.ui.dialogs.worker_dialog import WorkerDialog
from kfexplorer.ui.job_signals import QtJobRunner

# Category of a field: the part of its name before the first dot, in this order, with these titles.
CATEGORY_TITLES: dict[str, str] = {
    "participant": "Participant", "family": "Family", "study": "Study", "diagnosis": "Diagnosis",
    "phenotype": "Phenotype", "biospecimen": "Biospecimen", "file": "Data files", "imaging": "Imaging",
    "variant": "Variant", "consequence": "Variant consequence", "occurrence": "Variant call",
    "inheritance": "Inheritance (family)",
}

OPERATOR_TITLES: dict[str, str] = {
    "in": "is any of", "not_in": "is none of", "some_not_in": "has a value other than", "all": "has all of",
    "between": "is between", ">=": "≥", "<=": "≤", ">": ">", "<": "<", "contains": "contains",
}

LIST_SEPARATORS = re.compile(r"[\s,;]+")
ONTOLOGY_RESULTS = 50

# What a pasted list of a field holds, and an example of it, where the field's label alone does not say it well.
PASTE_WORDS: dict[str, tuple[str, str]] = {
    "consequence.gene_symbol": ("a gene panel (gene symbols)", "TP53\nBRCA1\n…"),
    "participant.study_id": ("study ids", ""),
    "participant.id": ("participant ids", "PT_…\nPT_…"),
    "participant.family_id": ("family ids", "FM_…\nFM_…"),
    "biospecimen.id": ("biospecimen (sample) ids", "BS_…\nBS_…"),
    "file.id": ("file ids", "GF_…\nGF_…"),
    "variant.locus_id": ("variant ids (chromosome-position-reference-alternate)", "17-7675088-C-T"),
    "variant.rsnumber": ("rsIDs", "rs28934578\nrs121913343"),
    "consequence.ensembl_gene_id": ("Ensembl gene ids", "ENSG00000141510"),
    "consequence.transcript_id": ("Ensembl transcript ids", "ENST00000269305"),
}


def field_category(spec: FieldSpec) -> str:
    return spec.name.split(".", 1)[0]


def paste_words(spec: FieldSpec) -> tuple[str, str]:
    """What a pasted list of `spec` holds ("study ids") and an example ("" when none: the list page then shows
    two of the field's own values)."""
    return PASTE_WORDS.get(spec.name, (f"{spec.label.lower()} values", ""))


def split_list(text: str) -> list[str]:
    """Values pasted as a list (one per line, or separated by commas, semicolons, spaces); duplicates dropped."""
    seen: dict[str, None] = {}
    for part in LIST_SEPARATORS.split(text):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def search_ontology_terms(con: Any, ontology: str | None, text: str, limit: int = ONTOLOGY_RESULTS
                          ) -> list[tuple[str, str]]:
    """(id, label) of terms whose label or id contains `text` (case-insensitive), exact id first."""
    needle = text.strip().lower()
    if not needle:
        return []
    sql = ("SELECT id, label FROM ontology_terms WHERE (contains(lower(label), ?) OR lower(id) = ?) "
           "AND NOT COALESCE(obsolete, FALSE)")
    params: list[Any] = [needle, needle]
    if ontology:
        sql += " AND lower(ontology) = ?"
        params.append(ontology.lower())
    sql += " ORDER BY lower(id) = ? DESC, length(label), label LIMIT ?"
    params += [needle, int(limit)]
    return [(str(r[0]), str(r[1] or "")) for r in con.execute(sql, params).fetchall()]


class CriterionEditor(WorkerDialog):
    """Edits one criterion; `criterion_accepted(Criterion)` fires on OK with a valid one."""

    criterion_accepted = Signal(object)

    def __init__(self, jobs: QtJobRunner | None, workspace: Workspace | None, cohort: Cohort,
                 criterion: Criterion | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit criterion" if criterion else "Add a criterion")
        self.jobs, self.workspace, self.cohort = jobs, workspace, cohort
        self._initial = criterion
        self.value_counts: dict[str, int] = {}
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.field_combo = QComboBox()
        self._fill_fields()
        self.operator_combo = QComboBox()
        form.addRow("Field", self.field_combo)
        form.addRow("Operator", self.operator_combo)
        layout.addLayout(form)
        self.pages = QStackedWidget()
        layout.addWidget(self.pages, 1)
        self._build_list_page()
        self._build_range_page()
        self._build_ontology_page()
        self._build_text_page()
        self._build_inheritance_page()
        self.error_label = QLabel()
        self.error_label.setObjectName("EditorError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.field_combo.currentIndexChanged.connect(self._field_changed)
        self.operator_combo.currentIndexChanged.connect(self._operator_changed)
        self.resize(520, 480)
        start = criterion.field if criterion else "participant.study_id"
        self.set_field(start)
        if criterion is not None:
            self._load(criterion)

    # -- building -----------------------------------------------------------------------------------------------
    def _fill_fields(self) -> None:
        model = QStandardItemModel(self.field_combo)
        for category, title in CATEGORY_TITLES.items():
            header = QStandardItem(title.upper())
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            font = header.font()
            font.setBold(True)
            header.setFont(font)
            model.appendRow(header)
            for spec in FIELDS:
                if field_category(spec) == category:
                    item = QStandardItem("   " + spec.label)
                    item.setData(spec.name, Qt.ItemDataRole.UserRole)
                    item.setToolTip(f"{spec.name} ({spec.kind.value})")
                    model.appendRow(item)
        self.field_combo.setModel(model)
        self.field_combo.setMaxVisibleItems(24)

    def _build_list_page(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.value_filter = QLineEdit()
        self.value_filter.setPlaceholderText("Search values…")
        self.value_filter.textChanged.connect(self._filter_values)
        layout.addWidget(self.value_filter)
        self.value_list = QListWidget()
        layout.addWidget(self.value_list, 2)
        self.value_status = QLabel()
        layout.addWidget(self.value_status)
        row = QHBoxLayout()
        self.paste_hint = QLabel()  # worded per field (_field_changed)
        row.addWidget(self.paste_hint)
        row.addStretch(1)
        self.load_list_button = QPushButton("Load file…")
        self.load_list_button.clicked.connect(self._choose_list_file)
        row.addWidget(self.load_list_button)
        layout.addLayout(row)
        self.paste_box = QPlainTextEdit()
        self.paste_box.setMaximumHeight(90)
        layout.addWidget(self.paste_box, 1)
        self.list_page = page
        self.pages.addWidget(page)

    def _build_range_page(self) -> None:
        page = QWidget()
        form = QFormLayout(page)
        self.low_edit = QLineEdit()
        self.high_edit = QLineEdit()
        self.low_edit.setPlaceholderText("a number")
        self.high_edit.setPlaceholderText("a number")
        self.low_label = QLabel("From")
        self.high_label = QLabel("To")
        form.addRow(self.low_label, self.low_edit)
        form.addRow(self.high_label, self.high_edit)
        self.range_page = page
        self.pages.addWidget(page)

    def _build_ontology_page(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.term_search = QLineEdit()
        self.term_search.setPlaceholderText("Search terms by label or id (e.g. seizure, HP:0001250) and press Enter")
        self.term_search.returnPressed.connect(self.search_terms)
        layout.addWidget(self.term_search)
        self.term_results = QListWidget()
        self.term_results.itemDoubleClicked.connect(self._pick_term)
        layout.addWidget(self.term_results, 2)
        layout.addWidget(QLabel("Chosen terms (each matches its descendants too; double-click removes):"))
        self.term_chosen = QListWidget()
        self.term_chosen.itemDoubleClicked.connect(
            lambda item: self.term_chosen.takeItem(self.term_chosen.row(item)))
        layout.addWidget(self.term_chosen, 1)
        self.ontology_page = page
        self.pages.addWidget(page)

    def _build_text_page(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text_hint = QLabel()
        self.text_hint.setWordWrap(True)
        layout.addWidget(self.text_hint)
        self.text_box = QPlainTextEdit()
        layout.addWidget(self.text_box, 1)
        self.text_page = page
        self.pages.addWidget(page)

    def _build_inheritance_page(self) -> None:
        """The five inheritance modes as checkboxes, and the parent thresholds of de novo."""
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        hint = QLabel("Calls that fit any checked mode, from the zygosity, GQ and DP of the participant and the "
                      "parents; combine with other variant criteria (they choose the qualifying calls).")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.mode_boxes: dict[str, QCheckBox] = {}
        for mode in MODES:
            box = QCheckBox(MODE_LABELS[mode])
            box.setObjectName(f"InheritanceMode_{mode}")
            self.mode_boxes[mode] = box
            layout.addWidget(box)
        form = QFormLayout()
        defaults = InheritanceSettings()
        self.parent_gq_spin = QSpinBox()
        self.parent_gq_spin.setRange(0, 99)
        self.parent_gq_spin.setValue(defaults.min_parent_gq)
        self.parent_gq_spin.setToolTip("de novo: each parent's genotype quality at least this")
        self.parent_dp_spin = QSpinBox()
        self.parent_dp_spin.setRange(0, 10_000)
        self.parent_dp_spin.setValue(defaults.min_parent_dp)
        self.parent_dp_spin.setToolTip("de novo: each parent's read depth at least this")
        form.addRow("Parents' GQ at least (de novo)", self.parent_gq_spin)
        form.addRow("Parents' DP at least (de novo)", self.parent_dp_spin)
        layout.addLayout(form)
        layout.addStretch(1)
        self.inheritance_page = page
        self.pages.addWidget(page)

    def inheritance_values(self) -> list[Value]:
        """The checked modes, then the thresholds that differ from the defaults (`min_parent_gq=30`)."""
        values: list[Value] = [mode for mode, box in self.mode_boxes.items() if box.isChecked()]
        defaults = InheritanceSettings()
        if self.parent_gq_spin.value() != defaults.min_parent_gq:
            values.append(f"min_parent_gq={self.parent_gq_spin.value()}")
        if self.parent_dp_spin.value() != defaults.min_parent_dp:
            values.append(f"min_parent_dp={self.parent_dp_spin.value()}")
        return values

    def _load_inheritance(self, item: Criterion) -> None:
        parsed = parse_values(item)
        for mode, box in self.mode_boxes.items():
            box.setChecked(mode in parsed.modes)
        self.parent_gq_spin.setValue(parsed.settings.min_parent_gq)
        self.parent_dp_spin.setValue(parsed.settings.min_parent_dp)

    # -- field and operator -------------------------------------------------------------------------------------
    @property
    def spec(self) -> FieldSpec:
        return field_spec(str(self.field_combo.currentData(Qt.ItemDataRole.UserRole)))

    def set_field(self, name: str) -> None:
        index = self.field_combo.findData(name, Qt.ItemDataRole.UserRole)
        if index < 0:
            raise QueryError(f"unknown field {name!r}")
        if index == self.field_combo.currentIndex():
            self._field_changed()
        else:
            self.field_combo.setCurrentIndex(index)

    def set_operator(self, op: str) -> None:
        index = self.operator_combo.findData(op)
        if index < 0:
            raise QueryError(f"field {self.spec.name!r} does not take the operator {op!r}")
        self.operator_combo.setCurrentIndex(index)

    def _field_changed(self) -> None:
        spec = self.spec
        self.operator_combo.blockSignals(True)
        self.operator_combo.clear()
        for op in spec.operators:
            self.operator_combo.addItem(OPERATOR_TITLES[op], op)
        self.operator_combo.blockSignals(False)
        self.error_label.clear()
        self._pending_checks = ()
        self.value_list.clear()
        self.paste_box.clear()
        self.term_results.clear()
        self.term_chosen.clear()
        self.text_box.clear()
        self.low_edit.clear()
        self.high_edit.clear()
        for box in self.mode_boxes.values():
            box.setChecked(False)
        defaults = InheritanceSettings()
        self.parent_gq_spin.setValue(defaults.min_parent_gq)
        self.parent_dp_spin.setValue(defaults.min_parent_dp)
        self._operator_changed()
        if spec.kind in (FieldKind.CATEGORICAL, FieldKind.BOOLEAN) and spec.name != INHERITANCE_FIELD:
            self._load_value_counts()

    def _operator_changed(self) -> None:
        spec, op = self.spec, str(self.operator_combo.currentData() or "")
        kind = spec.kind
        if spec.name == INHERITANCE_FIELD:
            self.pages.setCurrentWidget(self.inheritance_page)
        elif kind is FieldKind.NUMERIC and op not in ("in", "not_in"):
            self.pages.setCurrentWidget(self.range_page)
            self.high_edit.setVisible(op == "between")
            self.high_label.setVisible(op == "between")
            self.low_label.setText("From" if op == "between" else "Value")
            unit = f" ({spec.unit})" if spec.unit else ""
            self.low_edit.setPlaceholderText("a number" + unit)
        elif kind in (FieldKind.CATEGORICAL, FieldKind.BOOLEAN):
            self.pages.setCurrentWidget(self.list_page)
            self.paste_box.setVisible(kind is FieldKind.CATEGORICAL)
            self.load_list_button.setVisible(kind is FieldKind.CATEGORICAL)
            self.paste_hint.setVisible(kind is FieldKind.CATEGORICAL)
            words, example = paste_words(spec)
            self.paste_hint.setText(f"Or paste {words}, one a line:")
            self.paste_box.setPlaceholderText(example)
            self.load_list_button.setToolTip(f"Read {words} from a text file, one a line")
        elif kind is FieldKind.ONTOLOGY:
            self.pages.setCurrentWidget(self.ontology_page)
        else:
            self.pages.setCurrentWidget(self.text_page)
            hints = {
                FieldKind.TEXT: "Text to look for (one a line; any matches).",
                FieldKind.ID_LIST: f"Paste {paste_words(spec)[0]}: one a line, or separated by commas or spaces.",
                FieldKind.REGION: "Regions as chromosome:start-end, one a line (e.g. chr17:7661779-7687538).",
                FieldKind.NUMERIC: "Numbers, one a line.",
            }
            self.text_hint.setText(hints.get(kind, ""))
            self.text_box.setPlaceholderText(paste_words(spec)[1] if kind is FieldKind.ID_LIST else "")
            if spec.name == HGVS_FIELD:
                self.text_hint.setText("HGVS expressions, one a line (any matches): chr17:g.7675088C>T, "
                                       "TP53:p.R175H or p.Arg175His, ENST…:c.524G>A, NM_…:c.524G>A.")

    # -- values -------------------------------------------------------------------------------------------------
    def _load_value_counts(self) -> None:
        spec, workspace, jobs, cohort = self.spec, self.workspace, self.jobs, self.cohort
        if spec.kind is FieldKind.BOOLEAN:
            self._show_values([(True, -1), (False, -1)], spec.name)
        if workspace is None or jobs is None:
            return

        def count(_progress: ProgressCallback, cancel: CancelToken) -> list[tuple[Any, int]]:
            cancel.raise_if_cancelled()
            # counted as the facets count: without the cohort's criteria on this field, NOT pills included
            return facet_counts(workspace.cursor(), without_own_filter(cohort, spec.name), spec.name)

        self.value_status.setText("Counting values…")
        jobs.submit(count, name=f"Values of {spec.label}", key="criterion-editor-values",
                    on_finished=lambda rows: self._show_values(rows, spec.name),
                    on_failed=self._values_failed)

    def _values_failed(self, failure: JobFailure) -> None:
        if self.closed_for_good:  # a worker answered after the dialog closed
            return
        self.value_status.setText(f"Could not count values: {failure.message}")

    def _show_values(self, rows: list[tuple[Any, int]], field: str) -> None:
        if self.closed_for_good:  # a worker answered after the dialog closed
            return
        if field != self.spec.name:
            return
        checked = set(self.checked_values())
        self.value_list.clear()
        self.value_counts = {}
        for value, participants in rows:
            if value is None:
                continue
            key = _value_key(value)
            self.value_counts[key] = participants
            text = key if participants < 0 else f"{key}    {participants:,}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if key in checked or key in self._pending_checks
                               else Qt.CheckState.Unchecked)
            self.value_list.addItem(item)
        if not paste_words(self.spec)[1] and self.value_counts:  # an example from the field's own values
            self.paste_box.setPlaceholderText("\n".join([*list(self.value_counts)[:2], "…"]))
        missing = [v for v in self._pending_checks if v not in self.value_counts]
        if missing and self.spec.kind is FieldKind.CATEGORICAL and not self.paste_box.toPlainText().strip():
            self.paste_box.setPlainText("\n".join(missing))
        self.value_status.setText("" if rows else "No values in the current cohort")
        self._filter_values(self.value_filter.text())

    _pending_checks: tuple[str, ...] = ()

    def _filter_values(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.value_list.count()):
            item = self.value_list.item(row)
            item.setHidden(bool(needle) and needle not in item.text().lower())

    def checked_values(self) -> list[str]:
        return [_value_key(self.value_list.item(r).data(Qt.ItemDataRole.UserRole))
                for r in range(self.value_list.count())
                if self.value_list.item(r).checkState() == Qt.CheckState.Checked]

    def set_checked(self, values: list[str]) -> None:
        """Check these values in the list (those not listed yet are checked when the counts arrive)."""
        self._pending_checks = tuple(values)
        for row in range(self.value_list.count()):
            item = self.value_list.item(row)
            key = _value_key(item.data(Qt.ItemDataRole.UserRole))
            item.setCheckState(Qt.CheckState.Checked if key in values else Qt.CheckState.Unchecked)

    def _choose_list_file(self) -> None:
        pick_file(self, "Load a list of values", "Text files (*.txt *.tsv *.csv);;All (*)", self.load_list_file)

    def load_list_file(self, path: Path) -> None:
        """Put the values of a text file (a gene panel: the first column of each line) in the paste box."""
        text = read_picked_text(path, self.error_label)
        if text is None:
            return
        values = [re.split(r"[\t,;]", line.strip())[0].strip() for line in text.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
        self.paste_box.setPlainText("\n".join(v for v in values if v))

    def search_terms(self) -> None:
        spec, workspace, jobs, text = self.spec, self.workspace, self.jobs, self.term_search.text()
        if workspace is None or jobs is None or not text.strip():
            return

        def search(_progress: ProgressCallback, cancel: CancelToken) -> list[tuple[str, str]]:
            cancel.raise_if_cancelled()
            return search_ontology_terms(workspace.cursor(), spec.ontology, text)

        jobs.submit(search, name="Ontology search", key="criterion-editor-terms",
                    on_finished=self._show_terms)

    def _show_terms(self, rows: list[tuple[str, str]]) -> None:
        if self.closed_for_good:  # a worker answered after the dialog closed
            return
        self.term_results.clear()
        for term_id, label in rows:
            item = QListWidgetItem(f"{label} ({term_id})")
            item.setData(Qt.ItemDataRole.UserRole, term_id)
            self.term_results.addItem(item)
        if not rows:
            self.term_results.addItem("No term matches")

    def _pick_term(self, item: QListWidgetItem) -> None:
        term_id = item.data(Qt.ItemDataRole.UserRole)
        if term_id:
            self.add_term(str(term_id), item.text())

    def add_term(self, term_id: str, text: str | None = None) -> None:
        """Choose a term: `term_id` an id, or a value as the portal writes it ("Seizure (HP:0001250)")."""
        if text is None:
            text = term_id
            term_id = ontology_term_id(term_id) or term_id
        existing = {self.term_chosen.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.term_chosen.count())}
        if term_id in existing:
            return
        chosen = QListWidgetItem(text or term_id)
        chosen.setData(Qt.ItemDataRole.UserRole, term_id)
        self.term_chosen.addItem(chosen)

    def _load(self, item: Criterion) -> None:
        self.set_operator(item.op)
        values = [_value_key(v) for v in item.values]
        kind = self.spec.kind
        if self.spec.name == INHERITANCE_FIELD:
            self._load_inheritance(item)
        elif kind is FieldKind.NUMERIC and item.op not in ("in", "not_in"):
            self.low_edit.setText(values[0] if values else "")
            self.high_edit.setText(values[1] if len(values) > 1 else "")
        elif kind in (FieldKind.CATEGORICAL, FieldKind.BOOLEAN):
            self.set_checked(values)
            if kind is FieldKind.CATEGORICAL and not self.value_list.count() and self.workspace is None:
                self.paste_box.setPlainText("\n".join(values))
        elif kind is FieldKind.ONTOLOGY:
            for value in values:
                self.add_term(value)
        else:
            self.text_box.setPlainText("\n".join(values))

    # -- result -------------------------------------------------------------------------------------------------
    def edited_criterion(self) -> Criterion:
        """The criterion the editor holds; QueryError (worded) when it is incomplete or invalid."""
        spec, op = self.spec, str(self.operator_combo.currentData())
        kind = spec.kind
        values: list[Value]
        if spec.name == INHERITANCE_FIELD:
            values = self.inheritance_values()
            if not any(v in MODES for v in values):
                raise QueryError(f"{spec.label}: check at least one mode")
        elif kind is FieldKind.NUMERIC and op not in ("in", "not_in"):
            texts = [self.low_edit.text()] + ([self.high_edit.text()] if op == "between" else [])
            values = [_number(spec, t) for t in texts]
        elif kind in (FieldKind.CATEGORICAL, FieldKind.BOOLEAN):
            picked: list[Value] = [self.value_list.item(r).data(Qt.ItemDataRole.UserRole)
                                   for r in range(self.value_list.count())
                                   if self.value_list.item(r).checkState() == Qt.CheckState.Checked]
            known = {_value_key(v) for v in picked}
            pasted = [v for v in split_list(self.paste_box.toPlainText()) if v not in known] \
                if kind is FieldKind.CATEGORICAL else []
            values = [*picked, *pasted]
        elif kind is FieldKind.ONTOLOGY:
            # "Seizure (HP:0001250)" as the portal writes it when the label is known, so the pill reads in words
            values = [_term_value(self.term_chosen.item(r)) for r in range(self.term_chosen.count())]
        elif kind is FieldKind.TEXT:
            values = [line.strip() for line in self.text_box.toPlainText().splitlines() if line.strip()]
        elif kind is FieldKind.REGION:
            values = [line.strip() for line in re.split(r"[\n,;]+", self.text_box.toPlainText()) if line.strip()]
            for value in values:
                parse_region(value)
        elif kind is FieldKind.NUMERIC:
            values = [_number(spec, t) for t in split_list(self.text_box.toPlainText())]
        else:
            values = list(split_list(self.text_box.toPlainText()))
            if spec.name == HGVS_FIELD:
                for value in values:
                    hgvs_criterion(str(value))  # a worded QueryError for one that does not read
        if not values:
            raise QueryError(f"{spec.label}: choose or type at least one value")
        return Criterion(spec.name, op, tuple(values))

    def accept(self) -> None:
        try:
            item = self.edited_criterion()
        except QueryError as error:
            self.error_label.setText(str(error))
            return
        self.criterion_accepted.emit(item)
        super().accept()


def _term_value(item: QListWidgetItem) -> str:
    term_id = str(item.data(Qt.ItemDataRole.UserRole))
    text = item.text().strip()
    return text if text != term_id and ontology_term_id(text) == term_id else term_id


def _value_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(spec: FieldSpec, text: str) -> float | int:
    try:
        number = float(text.strip().replace(",", ""))
    except ValueError:
        raise QueryError(f"{spec.label}: {text.strip()[:30]!r} is not a number") from None
    return int(number) if number.is_integer() else number
