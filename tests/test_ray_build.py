"""The Ray engine (`qa index --engine ray`) gives the plain build's index, on a local cluster."""

import shutil

import numpy as np
import pytest

from qa.errors import IndexError_
from qa.index.build import build_index
from qa.index.search import Retriever
from qa.index.store import Store, current_version
from qa.settings import Settings
from qa.testing.fake import SPEC, FakeEmbedder
from tests.seeds import CORPUS

ray = pytest.importorskip("ray", reason="the ray extra: pip install 'archive-qa[ray]'")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster of two CPUs for the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    yield
    ray.shutdown()


def _both(tmp_path, files):
    """The same archive built plainly and on Ray: (plain store, ray store, ray report)."""
    from qa.index.distributed import prepare

    settings = Settings(model=SPEC)
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    for path in files:
        shutil.copy(path, folder / path.name)
    quiet = {"progress": False, "log": lambda _: None, "settings": settings}
    build_index([folder], tmp_path / "plain", FakeEmbedder(), **quiet)
    embedder = FakeEmbedder()

    def on_ray(todo):
        return prepare(todo, settings, embedder.identity(), log=lambda _: None)

    report = build_index([folder], tmp_path / "ray", embedder, prepare=on_ray, **quiet)
    return Store.open(tmp_path / "plain"), Store.open(tmp_path / "ray"), report


def _rows(store):
    return store._query("SELECT id, article_id, idx, text, hash, terms FROM paragraphs ORDER BY id")


def test_the_ray_build_equals_the_plain_build(cluster, tmp_path):
    plain, on_ray, report = _both(tmp_path, sorted(CORPUS.glob("*.txt")))
    assert len(report.added) == 5 and not report.failed
    assert _rows(on_ray) == _rows(plain) and on_ray.size > 50
    np.testing.assert_allclose(np.asarray(on_ray.vectors), np.asarray(plain.vectors), atol=1e-5)
    assert on_ray.manifest["embedder"]["identity"] == plain.manifest["embedder"]["identity"]
    assert on_ray.manifest["embedder"]["engine"] == "ray"
    for question in ("通辽市选派了多少名驻村干部", "乌海湖", "职工创新工作室的带头人是谁"):
        hits = [[h.chunk_id for h in Retriever(s, FakeEmbedder()).search(question, 5)]
                for s in (plain, on_ray)]
        assert hits[0] == hits[1] and hits[0]


def test_a_failing_ray_job_leaves_the_live_version(cluster, tmp_path):
    from qa.index.distributed import prepare

    _both(tmp_path, sorted(CORPUS.glob("*.txt"))[:2])
    live = current_version(tmp_path / "ray")
    shutil.copy(sorted(CORPUS.glob("*.txt"))[2], tmp_path / "corpus")
    settings = Settings(model="qa.testing.fake:FailingEmbedder")
    with pytest.raises(IndexError_, match="Ray build failed.*unchanged"):
        build_index([tmp_path / "corpus"], tmp_path / "ray", FakeEmbedder(), settings=settings,
                    progress=False, log=lambda _: None,
                    prepare=lambda todo: prepare(todo, settings, FakeEmbedder().identity(),
                                                 log=lambda _: None))
    assert current_version(tmp_path / "ray") == live
    assert len(list((tmp_path / "ray").glob("v-*"))) == 1


def test_qa_index_engine_ray_then_a_plain_run_finds_nothing_changed(cluster, tmp_path,
                                                                      monkeypatch):
    from click.testing import CliRunner

    from qa.cli import main

    monkeypatch.setenv("QA_MODEL", SPEC)
    args = ["index", str(CORPUS), "--index-dir", str(tmp_path / "index"), "--quiet"]
    done = CliRunner().invoke(main, [*args, "--engine", "ray"])
    assert done.exit_code == 0, done.output
    assert "added 5" in done.output
    assert Store.open(tmp_path / "index").manifest["embedder"]["engine"] == "ray"
    again = CliRunner().invoke(main, args)  # the same incremental rules: nothing to do
    assert again.exit_code == 0 and "up to date (5 files unchanged)" in again.output
