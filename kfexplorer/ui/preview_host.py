"""Shared plumbing for the `preview(cache_dir)` entry of each panel: open one panel alone over a cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtWidgets import QApplication, QWidget

from kfexplorer.services.workspace import Workspace, has_cache
from kfexplorer.ui.job_signals import QtJobRunner


def ensure_application() -> QApplication:
    """The running QApplication, or a new one styled like the app."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    from kfexplorer.ui.app import create_application

    return create_application([])


def open_preview_workspace(cache_dir: Path | None) -> Workspace | None:
    return Workspace.open(Path(cache_dir)) if cache_dir is not None and has_cache(cache_dir) else None


def show_preview(widget: QWidget, title: str, exec_loop: bool, size: tuple[int, int] = (900, 600)) -> QWidget:
    """Show `widget` as a top-level window; with `exec_loop`, run the event loop until it is closed."""
    widget.setWindowTitle(f"kfexplorer preview — {title}")
    widget.resize(*size)
    widget.show()
    if exec_loop:
        app = ensure_application()
        app.exec()
    return widget


class WorkspacePanel(Protocol):
    """A panel that shows a workspace (None: no cache is open)."""

    def set_workspace(self, workspace: Workspace | None) -> None: ...


def preview_panel_with_jobs(make_panel: Callable[[QtJobRunner], WorkspacePanel], cache_dir: Path | None, title: str,
                            exec_loop: bool, size: tuple[int, int] = (900, 600)) -> QWidget:
    """Open the panel `make_panel` builds on its own job runner (owned by the panel) alone over `cache_dir`."""
    ensure_application()
    jobs = QtJobRunner()
    panel = make_panel(jobs)
    if not isinstance(panel, QWidget):
        raise TypeError(f"{title} preview: {type(panel).__name__} is not a widget")
    jobs.setParent(panel)
    panel.set_workspace(open_preview_workspace(cache_dir))
    return show_preview(panel, title, exec_loop, size=size)
