"""One spaCy pipeline for the whole tests/nlp package (building it takes a few seconds)."""

from __future__ import annotations

import pytest

from kfexplorer.nlp.pipeline import PhenotypeExtractor, default_extractor


@pytest.fixture(scope="session")
def extractor() -> PhenotypeExtractor:
    return default_extractor()
