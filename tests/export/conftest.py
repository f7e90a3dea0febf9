"""The export tests share one small release and cache (kfexplorer tests/export/export_release.py)."""

from export_release import raw_release  # noqa: F401  (the session fixture)
