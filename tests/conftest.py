"""Fixtures shared by the test modules: the seed archive indexed once per session, a cache folder
for model builds, and the `slow` marker's meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.settings import Settings
from tests.archives import build
from tests.seeds import CORPUS


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The sample archive (the five seed pages), read only."""
    return CORPUS


@pytest.fixture(scope="session")
def seed_archive(tmp_path_factory) -> Settings:
    """The seed pages copied and indexed with the fake embedder, read by the rules; tests must
    not change it (build their own with tests.archives.build)."""
    return build(tmp_path_factory.mktemp("seed-archive"), seeds=True)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A model cache (ONNX builds, exports) shared by the session's tests."""
    return tmp_path_factory.mktemp("cache")
