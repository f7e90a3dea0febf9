"""The SVG icons of `icons/`, loaded with importlib.resources and tinted to the palette's text colour."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from kfexplorer.package_files import icons_dir

# Stroke colour the icon files are drawn with; replaced by the palette's text colour when loaded.
ICON_INK = "#1f2933"
ICON_NAMES = ("app", "sync", "search", "export", "save", "cancel", "refresh", "filter")


def icons_folder() -> Path:
    """The installed package's icons, or the source tree's `icons/` folder (see kfexplorer.package_files)."""
    return icons_dir()


@functools.cache
def icon_svg_text(name: str) -> str:
    if name not in ICON_NAMES:
        raise KeyError(f"unknown icon {name!r}")
    return (icons_folder() / f"{name}.svg").read_text(encoding="utf-8")


def render_icon(name: str, size: int, color: QColor | None = None) -> QPixmap:
    """Render icon `name` at `size` px, its ink replaced by `color` (default: the palette's text colour)."""
    ink = color if color is not None else QApplication.palette().color(QPalette.ColorRole.WindowText)
    text = icon_svg_text(name) if name == "app" else icon_svg_text(name).replace(ICON_INK, ink.name())
    renderer = QSvgRenderer(QByteArray(text.encode("utf-8")))
    pixmap = QPixmap(QSize(size, size))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


def themed_icon(name: str, color: QColor | None = None) -> QIcon:
    """A QIcon with the common toolbar/menu sizes rendered."""
    icon = QIcon()
    for size in (16, 20, 24, 32, 48):
        icon.addPixmap(render_icon(name, size, color))
    if name != "app":
        disabled = QApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        for size in (16, 20, 24):
            icon.addPixmap(render_icon(name, size, disabled), QIcon.Mode.Disabled)
    return icon
