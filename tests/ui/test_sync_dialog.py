"""The Sync dialog: S3 options, studies from release.json, chromosomes, include, a Plan with sizes, a selective sync."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from kfexplorer.progress import CancelToken, ProgressCallback
from kfexplorer.store.cache import connect
from kfexplorer.ui.dialogs.sync_dialog import DATA_ROLE, SyncDialog
from kfexplorer.ui.job_signals import QtJobRunner
from kfexplorer.ui.models.cell_format import format_bytes

STUDIES = ("SD_AAAA1111", "SD_BBBB2222")


def occurrences(study: str, chromosome: str, n: int) -> pa.Table:
    return pa.table({
        "chromosome": [chromosome] * n, "start": list(range(1000, 1000 + n)), "reference": ["A"] * n,
        "alternate": ["G"] * n, "study_id": [study] * n, "participant_id": [f"PT_{i % 5:03d}" for i in range(n)],
        "has_alt": [True] * n,
    })


def variants(chromosome: str, n: int) -> pa.Table:
    return pa.table({"chromosome": [chromosome] * n, "start": list(range(1000, 1000 + n)), "reference": ["A"] * n,
                     "alternate": ["G"] * n})


def write_release(root: Path) -> Path:
    """Two studies × chromosomes 1 and X of occurrences, variants of 1 and X, one FHIR file; release.json lists
    the studies and every file's size and sha256 (the oracle)."""
    for s, study in enumerate(STUDIES):
        for c, chromosome in enumerate(("1", "X")):
            path = root / f"variants/occurrences/study_id={study}/chromosome={chromosome}/part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(occurrences(study, chromosome, 10 + 7 * s + 3 * c), path)
    for chromosome in ("1", "X"):
        path = root / f"variants/variants/chromosome={chromosome}/part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(variants(chromosome, 12), path)
    fhir = root / "fhir" / "Patient" / "patients.ndjson"
    fhir.parent.mkdir(parents=True, exist_ok=True)
    fhir.write_text("\n".join(json.dumps({"resourceType": "Patient", "id": f"pt-{i}"}) for i in range(5)) + "\n")
    files = {p.relative_to(root).as_posix(): {"size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes())
                                              .hexdigest()} for p in sorted(root.rglob("*")) if p.is_file()}
    release = {"release_id": "2026-12-04", "schema_version": 1, "title": "dialog test",
               "studies": [{"study_id": STUDIES[0], "study_code": "KF-A", "name": "Study A"},
                           {"study_id": STUDIES[1], "name": "Study B"}],
               "files": files}
    (root / "release.json").write_text(json.dumps(release))
    return root


def listed_files(root: Path) -> dict[str, int]:
    return {k: int(v["size"]) for k, v in json.loads((root / "release.json").read_text())["files"].items()}


@pytest.fixture
def jobs() -> Iterator[QtJobRunner]:
    runner = QtJobRunner()
    yield runner
    runner.shutdown()


def make_dialog(qtbot: QtBot, jobs: QtJobRunner, cache: Path, **kwargs: Any) -> SyncDialog:
    dialog = SyncDialog(jobs, cache, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def plan(qtbot: QtBot, dialog: SyncDialog) -> dict[str, Any]:
    with qtbot.waitSignal(dialog.plan_finished, timeout=10000) as blocker:
        assert dialog.plan_button.isEnabled()
        dialog.plan_button.click()
    return dict(blocker.args[0])


def test_plan_shows_the_sizes_of_the_selected_files_before_downloading(
    qtbot: QtBot, jobs: QtJobRunner, tmp_path: Path
) -> None:
    release = write_release(tmp_path / "release")
    cache = tmp_path / "cache"
    files = listed_files(release)
    dialog = make_dialog(qtbot, jobs, cache)
    dialog.set_source(str(release))
    assert dialog.study_ids() == [] and not dialog.s3_group.isEnabled()
    plan(qtbot, dialog)
    assert dialog.study_ids() == list(STUDIES) and dialog.checked_studies() == list(STUDIES)
    assert dialog.studies_list.item(0).text() == f"{STUDIES[0]} — KF-A · Study A"
    rows = dialog.plan_rows()
    occurrence_files = [k for k in files if k.startswith("variants/occurrences/")]
    assert rows["occurrences"] == (len(occurrence_files), sum(files[k] for k in occurrence_files))
    assert rows["fhir"] == (1, files["fhir/Patient/patients.ndjson"])
    assert rows["release"] == (1, (release / "release.json").stat().st_size)
    assert rows["total"] == (len(files) + 1, sum(files.values()) + (release / "release.json").stat().st_size)

    # one study, chromosome 1, variants only
    dialog.set_checked_studies([STUDIES[1]])
    dialog.set_checked_chromosomes(["1"])
    dialog.set_checked_parts(["variants"])
    assert not dialog.plan_table.isEnabled()  # the shown plan is out of date
    plan(qtbot, dialog)
    occurrence_key = f"variants/occurrences/study_id={STUDIES[1]}/chromosome=1/part-0.parquet"
    variant_key = "variants/variants/chromosome=1/part-0.parquet"
    rows = dialog.plan_rows()
    assert set(rows) == {"release", "occurrences", "variants", "total"}
    assert rows["occurrences"] == (1, files[occurrence_key])
    assert rows["variants"] == (1, files[variant_key])
    shown = {}
    for row in range(dialog.plan_table.rowCount()):
        kind_cell, size_cell = dialog.plan_table.item(row, 0), dialog.plan_table.item(row, 2)
        assert kind_cell is not None and size_cell is not None
        shown[kind_cell.data(DATA_ROLE)] = size_cell.text()
    assert shown["occurrences"] == format_bytes(files[occurrence_key])
    assert format_bytes(files[occurrence_key]).endswith(("bytes", "KB"))
    assert "not selected" in dialog.plan_label.text()
    assert not cache.exists()  # a plan downloads and writes nothing


def test_a_sync_of_one_study_lands_only_its_occurrences(qtbot: QtBot, jobs: QtJobRunner, tmp_path: Path) -> None:
    release = write_release(tmp_path / "release")
    cache = tmp_path / "cache"
    dialog = make_dialog(qtbot, jobs, cache)
    dialog.set_source(str(release))
    plan(qtbot, dialog)
    dialog.set_checked_studies([STUDIES[0]])
    with qtbot.waitSignal(dialog.sync_finished, timeout=20000):
        dialog.sync_button.click()
        assert dialog.cancel_button.isEnabled() and not dialog.plan_button.isEnabled()
    assert dialog.phase_label.text().startswith("Done:")
    con = duckdb.connect(str(cache / "kfexplorer.duckdb"), read_only=True,
                         config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        by_study = dict(con.execute("SELECT study_id, count(*) FROM occurrences GROUP BY 1").fetchall())
        variant_rows = con.execute("SELECT count(*) FROM variants").fetchall()[0][0]
    finally:
        con.close()
    raw = sum(pq.read_metadata(p).num_rows for p in (release / f"variants/occurrences/study_id={STUDIES[0]}")
              .rglob("*.parquet"))
    assert by_study == {STUDIES[0]: raw}
    assert variant_rows == sum(pq.read_metadata(p).num_rows for p in (release / "variants/variants").rglob("*.parquet"))
    # with the cache held open read-only (as the window holds it), a plan of everything shows only what is left
    held = connect(cache, read_only=True)
    try:
        dialog.set_checked_studies(STUDIES)
        plan(qtbot, dialog)
    finally:
        held.close()
    files = listed_files(release)
    rest = [k for k in files if k.startswith(f"variants/occurrences/study_id={STUDIES[1]}/")]
    assert dialog.plan_rows() == {"occurrences": (len(rest), sum(files[k] for k in rest)),
                                  "total": (len(rest), sum(files[k] for k in rest))}


def test_s3_options_reach_the_sync_and_no_secret_is_asked(qtbot: QtBot, jobs: QtJobRunner, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def fake_sync(source: str, cache_dir: Path, *, progress: ProgressCallback | None, cancel: CancelToken | None,
                  **options: Any) -> dict[str, Any]:
        seen.update(options, source=source)
        return {"transferred": {"objects": 0, "bytes": 0}, "skipped": {"objects": 3, "bytes": 0}}

    dialog = make_dialog(qtbot, jobs, tmp_path / "cache", sync_function=fake_sync)
    echo_modes = {edit.echoMode() for edit in dialog.findChildren(QLineEdit)}
    assert echo_modes == {QLineEdit.EchoMode.Normal}
    dialog.set_source("s3://bucket/releases/r1")
    assert dialog.s3_group.isEnabled()
    dialog.profile_edit.setText("kf-sso")
    dialog.endpoint_edit.setText("http://127.0.0.1:9000")
    dialog.set_checked_chromosomes(["X", "Y"])
    with qtbot.waitSignal(dialog.sync_finished, timeout=5000):
        dialog.sync_button.click()
    assert seen["source"] == "s3://bucket/releases/r1"
    assert seen["profile"] == "kf-sso" and seen["endpoint_url"] == "http://127.0.0.1:9000" and "region" not in seen
    assert seen["selection"].chromosomes == frozenset({"X", "Y"}) and seen["selection"].studies is None
    dialog.set_checked_chromosomes([])
    assert not dialog.sync_button.isEnabled() and not dialog.plan_button.isEnabled()
