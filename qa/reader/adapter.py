"""A trained reader's weight files, stored in 8 bits, and the weight changes they make.

A reader changes the encoder in two ways: LoRA adapters (`adapter_model.safetensors`, peft's
layout) on the layers trained that way, and, optionally, the top layers trained in full, kept
as their change from the base weights (`layers.safetensors`, BertModel parameter names).
Matrices are stored as int8 with one float16 scale per row (`<key>` int8 and `<key>.scale`):
rounding a row to 255 levels moves each weight change by well under 1% of its size, and the
default runtime quantises the merged weights to int8 anyway; vectors (biases, LayerNorm) stay
float32. `read_adapter` and `read_layers` return float32 tensors whichever way a file was
stored (checkpoints keep float32); `weight_changes` is what every runtime adds to the base.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from qa.errors import ModelError

ADAPTER, ADAPTER_CONFIG = "adapter_model.safetensors", "adapter_config.json"
ADAPTER_FILES = (ADAPTER, ADAPTER_CONFIG)
LAYERS = "layers.safetensors"  # optional: parameter name -> change of a layer trained in full
HEAD = "head.safetensors"  # qa_outputs.weight (2 x hidden), qa_outputs.bias (2)
SCALE = ".scale"
_LORA_KEY = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.lora_([AB])\.weight$")


def _read(path: Path, what: str) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        stored = load_file(str(path))
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelError(f"{what} in {path.parent} is unreadable: {exc}") from exc
    out = {}
    for key, value in stored.items():
        if key.endswith(SCALE):
            continue
        scale = stored.get(key + SCALE)
        if value.dtype == np.int8 and scale is None:
            raise ModelError(f"{what} in {path.parent} lacks the scale of {key}")
        out[key] = value.astype(np.float32) * (1.0 if scale is None else scale.astype(np.float32))
    return out


def read_adapter(folder: Path) -> dict[str, np.ndarray]:
    """The adapter in `folder`, key -> float32 tensor (int8 rows scaled back)."""
    return _read(Path(folder) / ADAPTER, "the reader's adapter")


def read_layers(folder: Path) -> dict[str, np.ndarray]:
    """The changes of the layers trained in full (BertModel parameter name -> float32 tensor);
    empty for a reader trained with LoRA alone."""
    path = Path(folder) / LAYERS
    return _read(path, "the reader's fully trained layers") if path.exists() else {}


def lora_deltas(folder: Path) -> dict[tuple[int, str], np.ndarray]:
    """(layer, module) -> the weight change B·A·(alpha/r) of the adapter in `folder` (out, in)."""
    try:
        config = json.loads((Path(folder) / ADAPTER_CONFIG).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"the reader's adapter in {folder} is unreadable: {exc}") from exc
    scale = config["lora_alpha"] / config["r"]
    pairs: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for key, value in read_adapter(folder).items():
        m = _LORA_KEY.search(key)
        if m:
            pairs.setdefault((int(m[1]), m[2]), {})[m[3]] = value
    if not pairs:
        raise ModelError(f"no LoRA weights in {Path(folder) / ADAPTER}")
    return {k: (ab["B"] @ ab["A"]) * scale for k, ab in pairs.items()}


def weight_changes(folder: Path) -> dict[str, np.ndarray]:
    """BertModel parameter name -> what the reader in `folder` adds to the base weight: its
    LoRA updates and the changes of its fully trained layers."""
    changes = {f"encoder.layer.{layer}.{module}.weight": delta
               for (layer, module), delta in lora_deltas(folder).items()}
    for name, change in read_layers(folder).items():
        changes[name] = changes[name] + change if name in changes else change
    return changes


def _int8_rows(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for key, value in tensors.items():
        if value.ndim < 2:
            out[key] = value.astype(np.float32)
            continue
        rows = value.reshape(value.shape[0], -1)
        scale = (np.abs(rows).max(axis=1, keepdims=True) / 127.0).astype(np.float16)
        scale = np.where(scale > 0, scale, np.float16(1.0))  # rows of zeros (or below float16)
        q = np.clip(np.rint(rows / scale.astype(np.float32)), -127, 127).astype(np.int8)
        out[key], out[key + SCALE] = q.reshape(value.shape), scale
    return out


def store_int8(folder: Path) -> None:
    """Rewrite the adapter (and the fully trained layers, if any) in `folder` as int8 rows with
    a float16 scale each."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    save_file(_int8_rows(read_adapter(folder)), str(folder / ADAPTER), metadata={"format": "pt"})
    if (folder / LAYERS).exists():
        save_file(_int8_rows(read_layers(folder)), str(folder / LAYERS), metadata={"format": "pt"})
