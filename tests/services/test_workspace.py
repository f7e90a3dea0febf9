"""Workspace over a hand-made cache: release info, counts, paged and sorted participants, cursors per thread."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest
from cache_fixture import IMAGING_SERIES_ROWS, RELEASE_ID, RELEASE_TITLE, VARIANT_ROWS, build_cache

from kfexplorer.services.workspace import Workspace, WorkspaceClosedError, WorkspaceMissingError


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cache(tmp_path_factory.mktemp("ws") / "cache", participants=600)


@pytest.fixture(scope="module")
def oracle(cache_dir: Path) -> dict[str, object]:
    con = duckdb.connect(str(cache_dir / "kfexplorer.duckdb"), read_only=True)
    try:
        return {
            "ids": [r[0] for r in con.execute("SELECT participant_id FROM participants").fetchall()],
            "ages": [r[0] for r in con.execute("SELECT age_at_last_follow_up_days FROM participants").fetchall()],
        }
    finally:
        con.close()


@pytest.fixture
def workspace(cache_dir: Path, oracle: dict[str, object]) -> Workspace:
    ws = Workspace.open(cache_dir)
    yield ws
    ws.close()


def test_release_info_and_counts(workspace: Workspace, oracle: dict[str, object]) -> None:
    info = workspace.release_info()
    assert (info.release_id, info.title, info.schema_version) == (RELEASE_ID, RELEASE_TITLE, 1)
    counts = workspace.table_counts()
    assert counts == {"participants": len(oracle["ids"]), "variants": VARIANT_ROWS,  # type: ignore[arg-type]
                      "imaging_series": IMAGING_SERIES_ROWS}


def test_pages_cover_every_participant_in_order(workspace: Workspace, oracle: dict[str, object]) -> None:
    ids: list[str] = []
    offset = 0
    while True:
        page = workspace.participants_page(offset=offset, limit=256)
        ids += page.table.column("participant_id").to_pylist()
        if page.num_rows < 256:
            break
        offset += 256
    assert ids == sorted(oracle["ids"])  # type: ignore[type-var]
    assert workspace.participant_columns()[:3] == ["participant_id", "study_id", "sex"]


def test_sort_by_age_descending_puts_nulls_last(workspace: Workspace, oracle: dict[str, object]) -> None:
    ages = oracle["ages"]
    page = workspace.participants_page(limit=600, sort_column="age_at_last_follow_up_days", descending=True)
    got = page.table.column("age_at_last_follow_up_days").to_pylist()
    known = sorted((a for a in ages if a is not None), reverse=True)  # type: ignore[union-attr]
    assert got == known + [None] * (len(ages) - len(known))  # type: ignore[arg-type]
    assert page.elapsed_ms >= 0


def test_sort_column_must_be_a_real_column(workspace: Workspace) -> None:
    with pytest.raises(ValueError):
        workspace.participants_page(sort_column='sex"; DROP TABLE participants; --')
    assert workspace.participant_count() == 600


def test_each_thread_gets_its_own_cursor_and_correct_results(workspace: Workspace, oracle: dict[str, object]) -> None:
    expected = sorted(oracle["ids"])[256:512]  # type: ignore[type-var]
    results: list[list[str]] = []
    cursors: list[int] = []
    errors: list[BaseException] = []

    def query() -> None:
        try:
            cursors.append(id(workspace.cursor()))
            for _ in range(5):
                results.append(workspace.participants_page(offset=256, limit=256).table.column(0).to_pylist())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=query) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(set(cursors)) == 4
    assert all(r == expected for r in results) and len(results) == 20


def test_find_participant_exact_fhir_and_prefix(workspace: Workspace) -> None:
    assert workspace.find_participant("PT_00042")["participant_id"] == "PT_00042"  # type: ignore[index]
    assert workspace.find_participant("pt-00043")["participant_id"] == "PT_00043"  # type: ignore[index]
    assert workspace.find_participant("pt_0059")["participant_id"] == "PT_00590"  # type: ignore[index]
    assert workspace.find_participant("nobody") is None


def test_closed_and_missing(cache_dir: Path, tmp_path: Path) -> None:
    ws = Workspace.open(cache_dir)
    ws.close()
    with pytest.raises(WorkspaceClosedError):
        ws.participants_page()
    with pytest.raises(WorkspaceMissingError):
        Workspace.open(tmp_path / "empty")
