"""An embedder for tests: instant, deterministic, offline."""

from __future__ import annotations

import time
import unicodedata
import zlib
from itertools import pairwise

import numpy as np

from qa.model.embed import Embedder

SPEC = "qa.testing.fake:FakeEmbedder"  # the model setting (QA_MODEL) that selects it


class FakeEmbedder(Embedder):
    """Hashed character 1- and 2-grams, deterministic and instant.

    Shares characters, so text that shares characters with the query ranks higher; it knows
    nothing of meaning. Text without characters embeds to the zero vector.
    """

    runtime = "fake"
    packages = ("numpy",)

    def __init__(self, dim: int = 256):
        self.name, self.dim = "fake-char-ngrams", dim

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            chars = "".join(unicodedata.normalize("NFKC", text).lower().split())
            for gram in [*chars, *(a + b for a, b in pairwise(chars))]:
                out[row, zlib.crc32(gram.encode("utf-8")) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


class SlowEmbedder(FakeEmbedder):
    """FakeEmbedder taking a tenth of a second a passage: a build still running when a test
    interrupts it."""

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        if kind == "passage":
            time.sleep(0.1 * len(texts))
        return super()._embed(texts, kind)


class FailingEmbedder(FakeEmbedder):
    """FakeEmbedder whose passages fail: an embedding worker that dies mid-build."""

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        if kind == "passage":
            raise RuntimeError("the embedding worker died")
        return super()._embed(texts, kind)
