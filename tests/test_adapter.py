"""The reader's adapter stored in 8 bits (`qa.reader.adapter`): what it reads back, and its failures."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from qa.errors import ModelError
from qa.reader.adapter import ADAPTER, SCALE, read_adapter, store_int8
from qa.reader.bundle import READER_DIR


def test_the_shipped_adapter_is_int8_rows_with_a_scale_each():
    stored = load_file(str(READER_DIR / ADAPTER))
    weights = [k for k in stored if not k.endswith(SCALE)]
    assert weights and all(stored[k].dtype == np.int8 for k in weights)
    assert all(stored[k + SCALE].shape == (stored[k].shape[0], 1) for k in weights)
    assert (READER_DIR / ADAPTER).stat().st_size < 3_000_000


def test_int8_rows_keep_each_lora_update_within_one_percent(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 0.02, (32, 384)), rng.normal(0, 0.01, (384, 32))
    a[3] = 0.0  # a row of zeros keeps its zeros (and a usable scale)
    key = "base_model.model.encoder.layer.0.attention.self.query.lora_{}.weight"
    save_file({key.format("A"): a.astype(np.float32), key.format("B"): b.astype(np.float32)},
              str(tmp_path / ADAPTER))
    before = (tmp_path / ADAPTER).stat().st_size
    store_int8(tmp_path)
    back = read_adapter(tmp_path)
    assert set(back) == {key.format("A"), key.format("B")}
    assert all(v.dtype == np.float32 for v in back.values())
    assert not back[key.format("A")][3].any()
    update, again = b @ a, back[key.format("B")] @ back[key.format("A")]
    assert np.linalg.norm(again - update) / np.linalg.norm(update) < 0.01
    assert (tmp_path / ADAPTER).stat().st_size < before / 3


def test_an_unreadable_adapter_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="unreadable"):
        read_adapter(tmp_path)
    shutil.copy(READER_DIR / ADAPTER, tmp_path / ADAPTER)
    stored = load_file(str(tmp_path / ADAPTER))
    save_file({k: v for k, v in stored.items() if not k.endswith(SCALE)}, str(tmp_path / ADAPTER))
    with pytest.raises(ModelError, match="lacks the scale"):
        read_adapter(tmp_path)
    (tmp_path / ADAPTER).write_bytes(b"not safetensors")
    with pytest.raises(ModelError, match="unreadable"):
        read_adapter(tmp_path)
