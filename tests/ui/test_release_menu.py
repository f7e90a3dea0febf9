"""The toolbar's Release ▾ menu over a release library: it lists the releases, switching reopens the window on the
other release (its counts), removing an old release deletes it, and evicting a study removes exactly that study's
occurrences (oracles read the raw releases with pyarrow / json, never the cache)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pytestqt.qtbot import QtBot

from kfexplorer.demo.release import generate_release
from kfexplorer.sync.engine import sync_release
from kfexplorer.sync.releases import current_release_id, list_releases
from kfexplorer.ui.main_window import MainWindow, cohort_size_text
from kfexplorer.ui.widgets.release_menu import EvictDialog


def raw_participants(release: Path) -> int:
    return sum(1 for path in (release / "fhir" / "Patient").glob("*.ndjson")
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def raw_rows(release: Path, table: str) -> int:
    return sum(pq.read_metadata(p).num_rows for p in (release / "variants" / table).rglob("*.parquet"))


def raw_occurrences_outside(release: Path, study_id: str) -> tuple[int, int]:
    """(occurrences, distinct participants) of the raw release's occurrences of every study but `study_id`."""
    rows, participants = 0, set()
    for path in (release / "variants" / "occurrences").rglob("*.parquet"):
        if f"study_id={study_id}" in path.parts:
            continue
        ids = pq.read_table(path, columns=["participant_id"]).column("participant_id").to_pylist()
        rows += len(ids)
        participants.update(ids)
    return rows, len(participants)


def expected_label(release: Path) -> str:
    return "Cohort: " + cohort_size_text({"participants": raw_participants(release),
                                          "variants": raw_rows(release, "variants"), "imaging_series": 0})


@pytest.fixture(scope="module")
def library_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A release library holding two small releases (seed 11, then seed 12, which is current)."""
    base = tmp_path_factory.mktemp("release-library")
    root = base / "library"
    releases: dict[str, Path] = {}
    for seed, participants in ((11, 40), (12, 60)):
        release = base / f"release-{seed}"
        report = generate_release(release, participants=participants, occurrences=5_000, seed=seed, imaging=False,
                                  force=True)
        sync_release(str(release), root, side_by_side=True)
        releases[report.release_id] = release
    return root, releases


@pytest.fixture
def library(library_template: tuple[Path, dict[str, Path]], tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    template, releases = library_template
    root = tmp_path / "library"
    shutil.copytree(template, root)
    return root, releases


def open_window(qtbot: QtBot, folder: Path) -> MainWindow:
    window = MainWindow(folder)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitSignal(window.release_menu.releases_listed, timeout=15000):
        with qtbot.waitSignal(window.loaded, timeout=15000):
            window.show()
    return window


def test_the_menu_lists_the_releases_and_switching_reopens_the_other_one(
    qtbot: QtBot, library: tuple[Path, dict[str, Path]]
) -> None:
    root, releases = library
    old_id, new_id = sorted(releases)
    assert current_release_id(root) == new_id
    window = open_window(qtbot, root)
    assert window.cohort_label.text() == expected_label(releases[new_id])
    actions = window.release_menu.release_actions()
    assert sorted(actions) == [old_id, new_id]
    assert actions[new_id].isChecked()
    assert window.release_menu.switch_to(new_id) is None  # already current: nothing to do
    assert actions[old_id].isEnabled() and not actions[old_id].isChecked()
    assert window.release_menu.remove_menu.isEnabled()

    with qtbot.waitSignal(window.release_menu.releases_listed, timeout=15000):
        with qtbot.waitSignal(window.loaded, timeout=15000):
            actions[old_id].trigger()
    assert current_release_id(root) == old_id
    assert window.release is not None and window.release.release_id == old_id
    assert window.cohort_label.text() == expected_label(releases[old_id])
    assert window.release_menu.release_actions()[old_id].isChecked()
    window.release_menu.grab().save(str(root.parent / "release-menu.png"))


def test_removing_the_old_release_deletes_it(qtbot: QtBot, library: tuple[Path, dict[str, Path]]) -> None:
    root, releases = library
    old_id, new_id = sorted(releases)
    window = open_window(qtbot, root)
    old_folder = next(e.folder for e in list_releases(root) if e.release_id == old_id)
    with qtbot.waitSignal(window.release_menu.releases_listed, timeout=15000):
        window.release_menu.remove(old_id)
    assert [e.release_id for e in list_releases(root)] == [new_id]
    assert not old_folder.exists()
    assert sorted(window.release_menu.release_actions()) == [new_id]
    assert not window.release_menu.remove_menu.isEnabled()
    assert window.cohort_label.text() == expected_label(releases[new_id])  # the open release is untouched


def test_evicting_a_study_removes_its_occurrences_and_only_those(
    qtbot: QtBot, library: tuple[Path, dict[str, Path]]
) -> None:
    root, releases = library
    new_id = sorted(releases)[1]
    release = releases[new_id]
    window = open_window(qtbot, root)
    tracked: list[str] = []
    window.jobs.job_started.connect(lambda _id, name, is_tracked: tracked.append(name) if is_tracked else None)

    assert window.release_menu.evict_action is not None and window.release_menu.evict_action.isEnabled()
    window.release_menu.evict_action.trigger()
    qtbot.waitUntil(lambda: window.release_menu.evict_dialog is not None
                    and window.release_menu.evict_dialog.isVisible(), timeout=10000)
    dialog = window.release_menu.evict_dialog
    assert isinstance(dialog, EvictDialog)
    studies = sorted(p.name.split("=", 1)[1] for p in (release / "variants" / "occurrences").iterdir())
    assert [dialog.study_list.item(i).text() for i in range(dialog.study_list.count())] == studies
    evicted = studies[0]
    assert not dialog.evict_button.isEnabled()
    dialog.set_checked([evicted], [])
    assert dialog.evict_button.isEnabled()
    with qtbot.waitSignal(window.release_menu.evicted, timeout=30000) as done:
        with qtbot.waitSignal(window.loaded, timeout=30000):
            dialog.evict_button.click()
    assert tracked == [f"Evict {evicted}"]
    assert done.args[0].objects > 0

    assert window.workspace is not None
    cursor = window.workspace.cursor()
    assert cursor.execute("SELECT count(*) FROM occurrences WHERE study_id = ?", [evicted]).fetchall()[0][0] == 0
    rows, carriers = cursor.execute("SELECT count(*), count(DISTINCT participant_id) FROM occurrences").fetchall()[0]
    assert (rows, carriers) == raw_occurrences_outside(release, evicted)
    assert rows < raw_rows(release, "occurrences")
