"""The lollipop chart: a gene's carried variants of the cohort at their protein positions (stick height = carriers),
heads coloured by consequence class, with a gene picker. Data arrive from the Summary panel's workers."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QCompleter, QWidget

from kfexplorer.services.cohort_charts import ProteinVariant
from kfexplorer.ui.panels.chart_cards import ChartCard, chart_colors, series_color

# consequence class -> (legend label, series index for its colour)
TRUNCATING = {"stop_gained", "frameshift_variant", "splice_donor_variant", "splice_acceptor_variant",
              "start_lost", "stop_lost"}
CLASSES: tuple[tuple[str, str], ...] = (("missense", "Missense"), ("truncating", "Truncating"),
                                        ("inframe", "In-frame"), ("other", "Other"))

HEADROOM = 1.6  # the y range over the tallest stick: room for the legend's row above the heads


def consequence_class(consequence: str) -> str:
    if consequence == "missense_variant":
        return "missense"
    if consequence in TRUNCATING:
        return "truncating"
    if consequence.startswith("inframe_"):
        return "inframe"
    return "other"


class LollipopCard(ChartCard):
    """`gene_chosen(gene)` when the user picks another gene; `set_variants` draws one gene's variants."""

    gene_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Protein positions of carried variants", parent)
        self.gene_picker = QComboBox()
        self.gene_picker.setEditable(True)
        self.gene_picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.gene_picker.setMinimumWidth(140)
        self.gene_picker.setToolTip("Gene (genes with a carried coding variant in the cohort)")
        completer = self.gene_picker.completer()
        if completer is not None:
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.gene_picker.activated.connect(lambda _index: self._picked())
        self.header_layout.insertWidget(1, self.gene_picker)
        self.plot.getAxis("left").setWidth(40)
        self.plot.getAxis("left").setLabel("carriers")
        self.plot.getAxis("bottom").setLabel("protein position (aa)")
        # one row across the top, over the headroom the y range keeps free (a column of four covered the heads)
        self.legend = self.plot.getPlotItem().addLegend(offset=(-8, 4), labelTextColor=chart_colors()["text"],
                                                        colCount=len(CLASSES))
        self.gene = ""
        self.variants: list[ProteinVariant] = []
        self._items: list[pg.GraphicsObject] = []
        self.csv_header = ["gene", "locus_id", "protein_position", "amino_acids", "hgvsp", "consequence", "carriers"]

    def set_genes(self, genes: Sequence[str], current: str) -> None:
        self.gene_picker.blockSignals(True)
        self.gene_picker.clear()
        self.gene_picker.addItems(list(genes))
        self.gene_picker.setCurrentText(current)
        self.gene_picker.blockSignals(False)

    def _picked(self) -> None:
        gene = self.gene_picker.currentText().strip().upper()
        if gene and gene != self.gene:
            self.gene_chosen.emit(gene)

    def set_variants(self, gene: str, variants: Sequence[ProteinVariant]) -> None:
        self.gene = gene
        self.variants = list(variants)
        self.gene_picker.setCurrentText(gene)
        self.csv_rows = [[gene, v.locus_id, v.position, v.amino_acids, v.hgvsp, v.consequence, v.carriers]
                         for v in self.variants]
        plot_item = self.plot.getPlotItem()
        for item in self._items:
            plot_item.removeItem(item)
        self._items = []
        self.legend.clear()
        colors = chart_colors()
        if not self.variants:
            text = pg.TextItem("No carried coding variant of this gene in the cohort" if gene else
                               "No gene with a carried coding variant in the cohort",
                               color=colors["muted"], anchor=(0.5, 0.5))
            text.setPos(0.5, 0.5)
            plot_item.addItem(text)
            self._items.append(text)
            plot_item.setXRange(0, 1)
            plot_item.setYRange(0, 1)
            self.note_label.setText("")
            return
        stems_x: list[float] = []
        stems_y: list[float] = []
        for variant in self.variants:
            stems_x += [variant.position, variant.position]
            stems_y += [0, variant.carriers]
        stems = pg.PlotDataItem(stems_x, stems_y, connect="pairs", pen=pg.mkPen(colors["muted"], width=1.5))
        plot_item.addItem(stems)
        self._items.append(stems)
        for index, (key, label) in enumerate(CLASSES):
            members = [v for v in self.variants if consequence_class(v.consequence) == key]
            if not members:
                continue
            color = series_color(index)
            heads = pg.ScatterPlotItem([v.position for v in members], [v.carriers for v in members], size=11,
                                       brush=pg.mkBrush(color), pen=pg.mkPen(colors["background"], width=1),
                                       name=label, hoverable=True, data=[v.hgvsp for v in members],
                                       tip=lambda x, y, data: f"{data} · position {x:.0f} · {y:.0f} carriers")
            heads.setToolTip(label)
            plot_item.addItem(heads)
            self._items.append(heads)
        top = max(v.carriers for v in self.variants)
        last = max(v.position for v in self.variants)
        backbone = pg.PlotDataItem([0, last * 1.05], [0, 0], pen=pg.mkPen(colors["text"], width=4))
        plot_item.addItem(backbone)
        self._items.append(backbone)
        plot_item.setXRange(0, last * 1.05, padding=0.02)
        plot_item.setYRange(0, top * HEADROOM + 0.5, padding=0)
        self.note_label.setText(f"{gene} · {len(self.variants):,} variants")
