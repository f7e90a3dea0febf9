from kfexplorer.store.user_db import open_user_database


def test_saved_cohorts_round_trip_and_upsert(tmp_path):
    db = open_user_database(tmp_path)
    assert db.schema_version == 1
    first = db.save_cohort("CHD probands", {"op": "and", "content": []}, release_id="r1")
    again = db.save_cohort("CHD probands", {"op": "or", "content": []}, release_id="r1")
    other = db.save_cohort("CHD probands", {"op": "and", "content": []}, release_id="r2")
    assert first == again and other != first
    cohorts = db.cohorts()
    assert [c.definition["op"] for c in cohorts if c.release_id == "r1"] == ["or"]
    db.delete_cohort(other)
    assert len(db.cohorts()) == 1
    db.close()
    reopened = open_user_database(tmp_path)
    assert reopened.schema_version == 1 and len(reopened.cohorts()) == 1
    reopened.close()


def test_user_database_is_apart_from_cache(tmp_path):
    db = open_user_database(tmp_path / "user")
    assert db.path.parent == tmp_path / "user"
    assert not any(p.suffix == ".duckdb" for p in (tmp_path / "user").iterdir())
    db.close()
