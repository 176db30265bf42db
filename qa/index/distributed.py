"""Reading and embedding on a Ray cluster, merged into an ordinary index version.

`qa index PATH --engine ray [--ray-address ADDR]` (the `ray` extra) plans the build as the
plain engine does (which files are new or changed, by SHA-256), then runs a Ray Data pipeline:

    files ──map: ingest_file, one task a file──> results (materialised in the object store)
          ──flat_map: paragraph texts──> map_batches: embedding actors (ActorPoolStrategy)

and hands the results and vectors to `qa.index.build`, which writes and publishes the version
exactly as it writes a plain build (same manifest, same atomic swap, same incremental rules):
a Ray job that dies leaves the live version untouched, since nothing is written before the
merge. A text's vector does not depend on the batch it came in (the default model runs each
text on its own), so the index equals the plain build's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.errors import IndexError_
from qa.index.build import Prepared
from qa.ingest.articles import ingest_file
from qa.model.embed import Embedder, load_embedder
from qa.settings import Settings

BATCH_SIZE = 64  # texts per actor call: fixed, so progress and memory are steady
INSTALL = "pip install 'archive-qa[ray]'"


class Precomputed(Embedder):
    """The vectors the cluster computed, by text, behind the embedder interface; a text it
    does not hold is an error (the merge must embed nothing itself)."""

    def __init__(self, vectors: dict[str, np.ndarray], identity: dict, info: dict):
        self.vectors, self._identity, self._info = vectors, identity, info
        self.name, self.dim, self.runtime = identity["model"], identity["dim"], info["runtime"]

    def identity(self) -> dict:
        return self._identity

    def info(self) -> dict:
        return self._info

    def _embed(self, texts: list[str], kind: str) -> np.ndarray:
        if kind != "passage":
            raise ValueError("the cluster's vectors are passages'")
        missing = [t for t in texts if t not in self.vectors]
        if missing:
            raise IndexError_(f"the cluster returned no vector for {len(missing)} paragraphs")
        return np.stack([self.vectors[t] for t in texts])


def _read(row: dict, settings: Settings) -> dict:
    """One file read by a task."""
    return {"source": row["source"], "result": ingest_file(Path(row["path"]), row["source"],
                                                           settings)}


def _texts(row: dict) -> list[dict]:
    return [{"text": p.text} for a in row["result"].articles for p in a.paragraphs]


class _Embed:
    """An embedding actor: the model loaded once, batches of texts in, vectors out (and what
    embedded them, for the manifest)."""

    def __init__(self, settings: Settings):
        self.embedder = load_embedder(settings, "index")
        self.info = json.dumps(self.embedder.info())

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        return {"text": np.array(texts, dtype=object),
                "vector": self.embedder.embed_passages(texts),
                "info": np.array([self.info] * len(texts), dtype=object)}


def prepare(files: Sequence[tuple[str, Path]], settings: Settings, identity: dict, *,
            address: str | None = None, actors: int | None = None, gpus: float = 0,
            log: Callable[[str], None] = print) -> Prepared:
    """Read `files` (source, path) and embed their paragraphs on the Ray cluster at `address`
    (None: a local one, or the one RAY_ADDRESS names). `actors`: embedding actors (default one
    per GPU when `gpus`, else the cluster's CPUs less one, which the read and split tasks
    need, ray#44687); `gpus`: GPUs per actor."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise IndexError_(f"the Ray engine needs Ray Data: {INSTALL}") from exc
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                 include_dashboard=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    if actors is None:
        actors = max(1, int(ray.cluster_resources().get("GPU", 0) // gpus)) if gpus else \
            max(1, cpus - 1)
    log(f"ray: {len(files)} files on a cluster of {cpus} CPUs, {actors} embedding actors")
    ray.data.DataContext.get_current().enable_progress_bars = False
    if gpus:
        settings = replace(settings, device=settings.device or "cuda")
    elif actors > 1:  # an actor a CPU; one alone uses every core of its node
        settings = replace(settings, embed_threads=1)
    try:
        results, vectors, info = _run(ray, files, settings, cpus, actors, gpus)
    except Exception as exc:  # a task's or actor's failure arrives as Ray's own error types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise IndexError_(f"the Ray build failed ({type(exc).__name__}: {first}); the index in "
                          "use is unchanged") from exc
    return Prepared(results, Precomputed(vectors, identity,
                                         {**(info or identity), "engine": "ray", "actors": actors}))


def _run(ray, files, settings: Settings, cpus: int, actors: int, gpus: float):
    """The pipeline: (results by source, vectors by text, the actors' embedder info)."""
    items = [{"source": s, "path": str(p)} for s, p in files]
    read = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), cpus * 4)))
    read = read.map(_read, fn_kwargs={"settings": settings}).materialize()
    results = {row["source"]: row["result"] for row in read.iter_rows()}
    vectors: dict[str, np.ndarray] = {}
    info = None
    if any(r.articles for r in results.values()):
        embedded = read.flat_map(_texts).map_batches(
            _Embed, fn_constructor_args=(settings,), compute=ray.data.ActorPoolStrategy(
                size=actors), batch_size=BATCH_SIZE, num_gpus=gpus or None, batch_format="numpy")
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            vectors.update(zip(batch["text"], np.asarray(batch["vector"], np.float32),
                               strict=True))
            info = json.loads(batch["info"][0])
    return results, vectors, info
