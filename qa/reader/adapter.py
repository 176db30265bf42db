"""A trained reader's weight files, and the adapter stored in 8 bits.

The shipped adapter (LoRA, rank 32, every layer: 2.65M weights) is stored as int8 with one
float16 scale per row (`<key>` int8 and `<key>.scale`): 2.7 MB, half of what float16 rows take (5.3 MB).
Rounding a row to 255 levels moves each merged weight change B·A by well under 1% of its size,
and the default runtime quantises the merged weights to int8 anyway. `read_adapter` returns
float32 tensors whichever way a file was stored (checkpoints keep float32).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.errors import ModelError

ADAPTER, ADAPTER_CONFIG = "adapter_model.safetensors", "adapter_config.json"
ADAPTER_FILES = (ADAPTER, ADAPTER_CONFIG)
HEAD = "head.safetensors"  # qa_outputs.weight (2 x hidden), qa_outputs.bias (2)
SCALE = ".scale"


def read_adapter(folder: Path) -> dict[str, np.ndarray]:
    """The adapter in `folder`, key -> float32 tensor (int8 rows scaled back)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        stored = load_file(str(Path(folder) / ADAPTER))
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelError(f"the reader's adapter in {folder} is unreadable: {exc}") from exc
    out = {}
    for key, value in stored.items():
        if key.endswith(SCALE):
            continue
        scale = stored.get(key + SCALE)
        if value.dtype == np.int8 and scale is None:
            raise ModelError(f"the reader's adapter in {folder} lacks the scale of {key}")
        out[key] = value.astype(np.float32) * (1.0 if scale is None else scale.astype(np.float32))
    return out


def store_int8(folder: Path) -> None:
    """Rewrite the adapter in `folder` as int8 rows with a float16 scale each."""
    from safetensors.numpy import save_file

    tensors = {}
    for key, value in read_adapter(folder).items():
        rows = value.reshape(value.shape[0], -1)
        scale = np.abs(rows).max(axis=1, keepdims=True) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float16)
        q = np.clip(np.rint(rows / scale.astype(np.float32)), -127, 127).astype(np.int8)
        tensors[key], tensors[key + SCALE] = q.reshape(value.shape), scale
    save_file(tensors, str(Path(folder) / ADAPTER), metadata={"format": "pt"})
