"""QA: the lollipop's legend (Missense / Truncating / In-frame / Other) sat in a four-row box at the top right and
covered the heads of the tallest variants near the end of the protein (seen on the demo's ABCA4)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF
from pytestqt.qtbot import QtBot

from kfexplorer.services.cohort_charts import ProteinVariant
from kfexplorer.ui.panels.lollipop_card import LollipopCard


def variant(position: int, consequence: str, carriers: int) -> ProteinVariant:
    return ProteinVariant(f"1-{position}-A-G", position, "R/H", f"p.Arg{position}His", consequence, carriers)


@pytest.mark.parametrize("size", [(900, 300), (632, 244)])  # 632×244: the card in a 1280×800 window
def test_the_legend_covers_no_lollipop_head(qtbot: QtBot, size: tuple[int, int]) -> None:
    card = LollipopCard()
    qtbot.addWidget(card)
    card.resize(*size)
    card.show()
    variants = [variant(100, "missense_variant", 120), variant(900, "stop_gained", 40),
                variant(1500, "inframe_deletion", 300), variant(2250, "intron_variant", 800),
                variant(2290, "missense_variant", 780), variant(2300, "frameshift_variant", 810)]
    card.set_variants("ABCA4", variants)
    qtbot.wait(100)  # the legend is laid out with the plot

    legend_box = card.legend.sceneBoundingRect()
    assert legend_box.width() > 0 and card.legend.isVisible()
    view_box = card.plot.getPlotItem().getViewBox()
    for v in variants:
        head = view_box.mapViewToScene(QPointF(v.position, v.carriers))
        assert not legend_box.adjusted(-6, -6, 6, 6).contains(head), v.hgvsp
    shown = [label.text for _sample, label in card.legend.items]
    assert shown == ["Missense", "Truncating", "In-frame", "Other"]
