"""Fixtures for the preference-model tests: the real SmolLM2 featurizer (loaded once)
and a feature cache shared by the session, so tests that run on both databases pay for
each forward pass once."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.harmlessness.features import GGUFFeaturizer


@pytest.fixture(scope="session")
def pairs_a(harmless_pairs: Path) -> Path:
    """The packaged harmless-base pairs (``redline.data``), the file commands default to."""
    return harmless_pairs


@pytest.fixture(scope="session")
def smollm2() -> GGUFFeaturizer:
    return GGUFFeaturizer("smollm2-135m", n_threads=1)


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("features")
