"""Application entry: QApplication with Fusion and a light/dark palette that follows the system; run_gui for cli."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from kfexplorer.ui.icon_library import themed_icon

ACCENT = QColor("#2563eb")
ACCENT_DARK = QColor("#3b82f6")
SCREENSHOT_TIMEOUT_MS = 30_000


def _palette(roles: dict[QPalette.ColorRole, str], disabled_text: str) -> QPalette:
    """A palette from role colours, with one colour for disabled text."""
    palette = QPalette()
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled_text))
    return palette


def light_palette() -> QPalette:
    roles = {
        QPalette.ColorRole.Window: "#f5f6f8",
        QPalette.ColorRole.WindowText: "#1f2933",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f3f5f8",
        QPalette.ColorRole.ToolTipBase: "#ffffff",
        QPalette.ColorRole.ToolTipText: "#1f2933",
        QPalette.ColorRole.PlaceholderText: "#8a94a3",
        QPalette.ColorRole.Text: "#1f2933",
        QPalette.ColorRole.Button: "#f0f2f5",
        QPalette.ColorRole.ButtonText: "#1f2933",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Light: "#ffffff",
        QPalette.ColorRole.Midlight: "#e4e7ec",
        QPalette.ColorRole.Mid: "#c5cbd3",
        QPalette.ColorRole.Dark: "#9aa3ae",
        QPalette.ColorRole.Shadow: "#6b7280",
        QPalette.ColorRole.Link: ACCENT.name(),
        QPalette.ColorRole.Highlight: ACCENT.name(),
        QPalette.ColorRole.HighlightedText: "#ffffff",
    }
    return _palette(roles, disabled_text="#8a94a3")


def dark_palette() -> QPalette:
    roles = {
        QPalette.ColorRole.Window: "#1f2329",
        QPalette.ColorRole.WindowText: "#e6e9ee",
        # Base lighter than Window: Fusion outlines check boxes and fields in Window.darker(140)
        QPalette.ColorRole.Base: "#292e36",
        QPalette.ColorRole.AlternateBase: "#2e343d",
        QPalette.ColorRole.ToolTipBase: "#2a2f37",
        QPalette.ColorRole.ToolTipText: "#e6e9ee",
        QPalette.ColorRole.PlaceholderText: "#7c8594",
        QPalette.ColorRole.Text: "#e6e9ee",
        QPalette.ColorRole.Button: "#323842",
        QPalette.ColorRole.ButtonText: "#e6e9ee",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Light: "#3a404a",
        QPalette.ColorRole.Midlight: "#323741",
        QPalette.ColorRole.Mid: "#454c57",
        QPalette.ColorRole.Dark: "#121418",
        QPalette.ColorRole.Shadow: "#000000",
        QPalette.ColorRole.Link: ACCENT_DARK.name(),
        QPalette.ColorRole.Highlight: ACCENT_DARK.name(),
        QPalette.ColorRole.HighlightedText: "#ffffff",
    }
    return _palette(roles, disabled_text="#7c8594")


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def palette_for_theme(theme: str) -> QPalette:
    """The palette of a settings theme: "light", "dark", or "system" (the OS colour scheme)."""
    if theme == "dark":
        return dark_palette()
    if theme == "light":
        return light_palette()
    return dark_palette() if system_prefers_dark() else light_palette()


def current_theme(app: QApplication) -> str:
    theme = app.property("kf_theme")
    return theme if isinstance(theme, str) and theme else "system"


def apply_theme(app: QApplication, theme: str) -> None:
    """Switch the palette live; "system" keeps following the OS colour scheme (see apply_system_palette)."""
    app.setProperty("kf_theme", theme)
    app.setPalette(palette_for_theme(theme))


def apply_system_palette(app: QApplication) -> None:
    """The OS colour scheme changed: follow it unless the user chose light or dark."""
    if current_theme(app) == "system":
        app.setPalette(palette_for_theme("system"))


def _settings_theme() -> str:
    from kfexplorer.config import load_settings

    return load_settings().theme


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists): Fusion, palette following the system colour scheme, app icon."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName("kfexplorer")
    app.setOrganizationName("kfexplorer")
    app.setApplicationDisplayName("kfexplorer")
    app.setStyle("Fusion")
    apply_theme(app, current_theme(app) if existing is app else _settings_theme())
    if not getattr(app, "_kf_palette_hooked", False):
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_system_palette(app))
        app._kf_palette_hooked = True  # type: ignore[attr-defined]
    app.setWindowIcon(themed_icon("app"))
    return app


def capture_window(window: object, screenshot: Path, timeout_ms: int = SCREENSHOT_TIMEOUT_MS) -> bool:
    """Wait (on the window's `loaded` signal, up to timeout) then save the window's pixels; True if it loaded."""
    from kfexplorer.ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    if not window.is_loaded:
        loop = QEventLoop()
        window.loaded.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
    loaded = window.is_loaded
    # Let the layout and the table paint the arrived rows.
    for _ in range(3):
        QApplication.processEvents()
    screenshot = Path(screenshot)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(screenshot), "PNG"):
        raise OSError(f"could not write the screenshot {screenshot}")
    return loaded


_QT_LOG = logging.getLogger("kfexplorer.qt")


def _qt_message_to_log(mode: QtMsgType, _context: object, message: str) -> None:
    """Qt's own messages go to the log file, not the terminal (they carry no health data)."""
    level = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
             QtMsgType.QtWarningMsg: logging.WARNING}.get(mode, logging.ERROR)
    _QT_LOG.log(level, "%s", message)


def run_gui(cache_dir: Path | None, screenshot: Path | None = None, size: tuple[int, int] | None = None) -> int:
    """Open the main window on `cache_dir`; with `screenshot`, save the loaded window as PNG and return."""
    from kfexplorer.ui.main_window import MainWindow
    from kfexplorer.ui.widgets.dicom_decode_pool import start_decode_pool, stop_decode_pool
    from kfexplorer.ui.widgets.error_notice import install_excepthook

    if screenshot is None:
        start_decode_pool()  # spawned DICOM decode workers, warming up while the window opens
    previous_handler = qInstallMessageHandler(_qt_message_to_log)
    app = create_application(sys.argv[:1])
    window = MainWindow(cache_dir)
    restore_hook = install_excepthook(window.error_notice)
    layout_restored = window.desktop.enable_persistence()  # recent workspaces, this workspace's layout
    if size is not None or not layout_restored:  # else the workspace's remembered geometry
        window.resize(*(size or (1440, 900)))
    try:
        if screenshot is not None:
            window.show()
            loaded = capture_window(window, screenshot)
            if not loaded:
                print(f"kfexplorer: the window did not finish loading; saved what it showed to {screenshot}",
                      file=sys.stderr)
            return 0 if loaded else 1
        window.show()
        return int(app.exec())
    finally:
        restore_hook()
        window.close()
        window.deleteLater()
        QApplication.processEvents()
        qInstallMessageHandler(previous_handler)
        stop_decode_pool()
