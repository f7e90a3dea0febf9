"""Fixtures for the sync tests: a tiny standard release and a cache folder in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from release_factory import ReleaseBuilder
from s3_support import fake_aws_env, fault_proxy, moto_endpoint, small_release, uploaded  # noqa: F401 - fixtures


@pytest.fixture
def release(tmp_path: Path) -> ReleaseBuilder:
    return ReleaseBuilder(tmp_path / "release").standard()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def new_release(tmp_path: Path) -> Callable[[str], ReleaseBuilder]:
    def make(name: str) -> ReleaseBuilder:
        return ReleaseBuilder(tmp_path / name)

    return make
