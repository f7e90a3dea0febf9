import json

from kfexplorer.config import Settings, load_settings, save_settings


def test_defaults_when_missing(tmp_path):
    settings = load_settings(tmp_path / "nope.json")
    assert settings == Settings()
    assert settings.spreadsheet_safe_csv is True
    assert settings.theme == "system"


def test_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    original = Settings(download_concurrency=16, theme="dark", export_format="tsv", recent_caches=["/a", "/b"])
    save_settings(original, path)
    assert load_settings(path) == original
    assert not path.with_suffix(".json.tmp").exists()


def test_migrates_unversioned_settings(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"threads": 4, "dark_mode": True, "unknown_key": 1}))
    settings = load_settings(path)
    assert settings.version == 1
    assert settings.download_concurrency == 4
    assert settings.theme == "dark"


def test_invalid_values_fall_back_to_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "theme": "neon", "download_concurrency": 0, "export_format": "xls"}))
    settings = load_settings(path)
    assert (settings.theme, settings.download_concurrency, settings.export_format) == ("system", 8, "csv")


def test_corrupt_file_gives_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert load_settings(path) == Settings()


def test_default_cache_dir_uses_workspace(tmp_path):
    settings = Settings(cache_root=str(tmp_path), current_workspace="projA")
    assert settings.default_cache_dir() == tmp_path / "projA"
