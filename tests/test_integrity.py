"""An index version is checked against the checksums its manifest recorded when it was built:
a damaged part gives way to the previous sound version, with a warning, or to one line saying
what is damaged; it is never answered from, and never built on."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.errors import IndexError_
from qa.files import digest
from qa.index.build import build_index
from qa.index.store import PARTS, Store, complete_versions, current_version
from qa.settings import Settings
from qa.testing.fake import FakeEmbedder
from tests.archives import build, open_archive, write_pages

EXTRA = {"20240301.md": "# 新建图书馆开馆\n\n本报讯 市图书馆新馆昨日开馆，藏书120万册。\n"}
DAMAGES = ("random bytes", "truncated", "empty")


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "random bytes":  # same size, so only the checksum can tell
        middle = len(data) // 2
        path.write_bytes(data[:middle] + os.urandom(min(64, len(data) - middle))
                         + data[middle + 64:])
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(b"")


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory) -> Path:
    """An archive indexed twice: the seed pages, then one page more (the live version)."""
    tmp = tmp_path_factory.mktemp("two-versions")
    build(tmp, seeds=True)
    write_pages(tmp / "corpus", EXTRA)
    build_index([tmp / "corpus"], tmp / "index", FakeEmbedder(), progress=False,
                log=lambda _: None)
    return tmp


@pytest.fixture
def archive(two_versions, tmp_path) -> Path:
    shutil.copytree(two_versions, tmp_path / "a")
    return tmp_path / "a"


def _versions(index_dir: Path) -> tuple[Path, Path]:
    live = current_version(index_dir)
    previous = next(v for v in complete_versions(index_dir) if v != live)
    return live, previous


def test_the_manifest_records_every_part(archive):
    live, _ = _versions(archive / "index")
    parts = json.loads((live / "manifest.json").read_text())["parts"]
    assert set(PARTS) <= set(parts) and "manifest.json" not in parts
    for name, entry in parts.items():
        sha, size = digest(live / name)
        assert entry == {"size": size, "sha256": sha}, name


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("part", ["faiss.index", "bm25_data.npy", "bm25_indices.npy",
                                  "vectors.npy", "archive.sqlite"])
def test_a_damaged_part_gives_way_to_the_previous_version(archive, part, how, caplog):
    live, previous = _versions(archive / "index")
    damage(live / part, how)
    with caplog.at_level(logging.WARNING, logger="qa.index.store"):
        store = Store.open(archive / "index")
    assert store.folder == previous
    assert any(part in r.getMessage() and previous.name in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    answer = open_archive(Settings(index_dir=archive / "index", answerer="rules",
                                   model="qa.testing.fake:FakeEmbedder")
                          ).ask("乌海市召开了什么会议？")
    assert answer.citations and "图书馆" not in answer.citations[0].passage


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("part", ["faiss.index", "bm25_data.npy", "bm25_indices.npy",
                                  "vectors.npy", "archive.sqlite"])
def test_with_no_sound_version_left_it_is_one_line(archive, part, how, monkeypatch):
    for version in _versions(archive / "index"):
        damage(version / part, how)
    with pytest.raises(IndexError_, match=part) as raised:
        Store.open(archive / "index")
    assert "\n" not in str(raised.value)
    monkeypatch.setenv("QA_MODEL", "qa.testing.fake:FakeEmbedder")
    result = CliRunner().invoke(main, ["search", "乌海", "--index-dir", str(archive / "index")])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: "), result.output
    assert part in result.output and "Aborted" not in result.output


def test_a_build_never_carries_a_damaged_version_over(archive, caplog):
    live, previous = _versions(archive / "index")
    damage(live / "vectors.npy", "random bytes")
    write_pages(archive / "corpus", {"20240302.md": "# 公园改造完成\n\n本报讯 人民公园改造完成。\n"})
    messages: list[str] = []
    build_index([archive / "corpus"], archive / "index", FakeEmbedder(), progress=False,
                log=messages.append)
    assert any("vectors.npy" in m and previous.name in m for m in messages), messages
    with caplog.at_level(logging.WARNING, logger="qa.index.store"):
        store = Store.open(archive / "index")
    assert store.folder not in (live, previous) and not caplog.records
    row = store._query("SELECT id FROM paragraphs WHERE text LIKE '%图书馆新馆%'")[0][0]
    assert np.allclose(store.vectors[row], FakeEmbedder().embed_passages(
        [store._query("SELECT text FROM paragraphs WHERE id = ?", (row,))[0][0]])[0])


def test_a_version_from_before_checksums_still_opens(archive):
    live, _ = _versions(archive / "index")
    manifest = json.loads((live / "manifest.json").read_text())
    del manifest["parts"]
    (live / "manifest.json").write_text(json.dumps(manifest))
    assert Store.open(archive / "index").folder == live


def test_unrecorded_bm25_postings_out_of_range_are_refused_when_opened(archive):
    live, previous = _versions(archive / "index")
    for version in (live, previous):
        manifest = json.loads((version / "manifest.json").read_text())
        del manifest["parts"]
        (version / "manifest.json").write_text(json.dumps(manifest))
        indices = np.load(version / "bm25_indices.npy")
        np.save(version / "bm25_indices.npy", indices + 10_000_000)
    with pytest.raises(IndexError_, match="BM25 index .* inconsistent"):
        Store.open(archive / "index")


@pytest.mark.parametrize(("name", "entry"), [
    ("vectors.npy", {"size": 1}), ("vectors.npy", {"size": -1, "sha256": "0" * 64}),
    ("vectors.npy", {"size": 1, "sha256": "xyz"}), ("../CURRENT", {"size": 1, "sha256": "0" * 64})])
def test_a_manifest_with_bad_checksums_is_corrupt(archive, name, entry):
    live, previous = _versions(archive / "index")
    manifest = json.loads((live / "manifest.json").read_text())
    manifest["parts"][name] = entry
    (live / "manifest.json").write_text(json.dumps(manifest))
    assert Store.open(archive / "index").folder == previous
