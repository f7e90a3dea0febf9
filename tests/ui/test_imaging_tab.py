"""The Imaging tab on a small demo release with imaging: it lists exactly the series of the raw release's DICOM
folders for the cohort (or the selected participant), makes thumbnails in a worker under <cache>/thumbnails/, and
opens a series in the viewer. Oracles read the raw release folders, never the cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.services.cohort_state import CohortState
from kfexplorer.services.workspace import Workspace
from kfexplorer.sync.engine import sync_release
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.panels.imaging_panel import ImagingPanel

TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def imaging_release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("imaging-tab")
    release, cache = root / "release", root / "cache"
    generate_release(release, participants=150, occurrences=5_000, seed=11, imaging=True, force=True)
    sync_release(str(release), cache)
    return release, cache


def raw_series(release: Path, study_id: str | None = None, participant_id: str | None = None) -> set[str]:
    """Series folders of the raw release: imaging/<study>/<participant>/<study uid>/<series uid>/*.dcm."""
    found = set()
    for dcm in (release / "imaging").glob("*/*/*/*/*.dcm"):
        series_dir = dcm.parent
        participant_dir = series_dir.parent.parent
        if study_id is not None and participant_dir.parent.name != study_id:
            continue
        if participant_id is not None and participant_dir.name != participant_id:
            continue
        found.add(series_dir.name)
    return found


@pytest.fixture
def workspace(imaging_release: tuple[Path, Path]) -> Iterator[Workspace]:
    ws = Workspace.open(imaging_release[1])
    yield ws
    ws.close()


@pytest.fixture
def panel(qtbot: QtBot, tmp_path: Path, workspace: Workspace) -> Iterator[ImagingPanel]:
    """The panel (torn down before the workspace it queries)."""
    jobs = QtJobRunner()
    widget = ImagingPanel(jobs, CohortState(), user_db_path=tmp_path / "user.sqlite3")
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    widget.viewer.close_series()
    jobs.shutdown(timeout=10.0)


def test_lists_every_series_of_the_release_then_only_the_cohorts(qtbot: QtBot, panel: ImagingPanel,
                                                                  workspace: Workspace,
                                                                  imaging_release: tuple[Path, Path]) -> None:
    release, _cache = imaging_release
    everything = raw_series(release)
    assert len(everything) >= 6
    with qtbot.waitSignal(panel.series_listed, timeout=TIMEOUT_MS):
        panel.set_workspace(workspace)
    assert set(panel.listed_series_uids()) == everything
    assert len(panel.listed_series_uids()) == len(everything)  # each series once

    studies = sorted({p.parent.parent.parent.parent.name for p in (release / "imaging").glob("*/*/*/*/*.dcm")})
    study = studies[0]
    with qtbot.waitSignal(panel.series_listed, timeout=TIMEOUT_MS):
        panel.cohort_state.set_field_values("participant.study_id", [study])
    assert set(panel.listed_series_uids()) == raw_series(release, study_id=study)
    assert raw_series(release, study_id=study) != everything

    # the tree groups by participant: its top-level items are the cohort's participants with imaging
    participants = {p.parent.parent.parent.name for p in (release / "imaging" / study).glob("*/*/*/*.dcm")}
    top = {panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())}
    assert top == participants


def test_selected_participant_scope(qtbot: QtBot, panel: ImagingPanel, workspace: Workspace,
                                    imaging_release: tuple[Path, Path]) -> None:
    release, _cache = imaging_release
    participant = sorted(p.name for p in (release / "imaging").glob("*/*") if p.is_dir())[-1]
    with qtbot.waitSignal(panel.series_listed, timeout=TIMEOUT_MS):
        panel.set_workspace(workspace)
    with qtbot.waitSignal(panel.series_listed, timeout=TIMEOUT_MS):
        panel.show_participant_scope(participant)
    assert set(panel.listed_series_uids()) == raw_series(release, participant_id=participant)
    with qtbot.waitSignal(panel.series_listed, timeout=TIMEOUT_MS):
        panel.set_participant("PT_NO_SUCH_ONE")
    assert panel.listed_series_uids() == []
    assert panel.list_stack.currentWidget() is panel.list_empty


def test_thumbnails_are_made_in_a_worker_and_cached_under_the_cache(qtbot: QtBot, panel: ImagingPanel,
                                                                    workspace: Workspace,
                                                                    imaging_release: tuple[Path, Path]) -> None:
    release, cache = imaging_release
    expected = raw_series(release)
    made: set[str] = set()
    panel.thumbnail_ready.connect(made.add)
    with qtbot.waitSignal(panel.series_listed, timeout=TIMEOUT_MS):
        panel.set_workspace(workspace)
    qtbot.waitUntil(lambda: made == expected, timeout=TIMEOUT_MS)
    files = sorted((cache / "thumbnails").glob("*.png"))
    assert len(files) == len(expected)
    for path in files:
        assert path.parent == cache / "thumbnails"
        assert not any(uid in path.name for uid in expected)  # names are hashes, never release text
        with Image.open(path) as image:
            assert image.mode == "L" and max(image.size) <= 96 and image.getextrema()[1] > 0
    for uid in expected:
        assert not panel.series_items[uid].icon(0).isNull()


def test_double_click_opens_the_series_in_the_viewer(qtbot: QtBot, panel: ImagingPanel, workspace: Workspace,
                                                     imaging_release: tuple[Path, Path]) -> None:
    with qtbot.waitSignal(panel.series_listed, timeout=TIMEOUT_MS):
        panel.set_workspace(workspace)
    uid = panel.listed_series_uids()[0]
    item = panel.series_items[uid]
    with qtbot.waitSignal(panel.series_opened, timeout=TIMEOUT_MS) as opened:
        panel.tree.itemDoubleClicked.emit(item, 0)
    assert opened.args[0].series_instance_uid == uid
    qtbot.waitUntil(lambda: panel.viewer.image_view.displayed_image() is not None, timeout=TIMEOUT_MS)
    assert panel.viewer.stack.currentWidget() is panel.viewer.image_view
    instances = len(list((imaging_release[0] / "imaging").glob(f"*/*/*/{uid}/*.dcm")))
    assert len(panel.viewer.slices) == instances
