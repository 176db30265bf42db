import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexError_, QueryError
from qa.index.build import build_index
from qa.index.search import Filters, Retriever
from qa.index.store import CURRENT, Store, current_version
from qa.settings import Settings
from qa.testing.fake import FakeEmbedder
from qa.text import check_question
from tests.seeds import CORPUS


def _quiet(_):
    return None


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, folder / path.name)
    return folder


def _build(paths, index_dir, embedder=None, **kw):
    return build_index(paths, index_dir, embedder or FakeEmbedder(), progress=False, log=_quiet, **kw)


def _texts(store: Store) -> dict[int, str]:
    return dict(store._query("SELECT id, text FROM paragraphs"))


def test_build_from_scratch_is_consistent(corpus, tmp_path):
    report = _build([corpus], tmp_path / "index")
    assert sorted(report.added) and not report.failed
    store = Store.open(tmp_path / "index")
    assert store.size == report.paragraphs > 50
    assert store.vectors.shape == (store.size, FakeEmbedder().dim)
    assert store.faiss.ntotal == store.bm25.n_docs == store.size
    ids = [i for (i,) in store._query("SELECT id FROM paragraphs ORDER BY id")]
    assert ids == list(range(store.size))
    manifest = json.loads((store.folder / "manifest.json").read_text())
    assert manifest["embedder"]["identity"]["dim"] == FakeEmbedder().dim
    assert manifest["faiss"]["type"] == "IndexFlatIP"
    assert "faiss-cpu" in manifest["versions"]


def test_large_index_switches_to_hnsw_and_finds_the_same_paragraphs(corpus, tmp_path, monkeypatch):
    _build([corpus], tmp_path / "exact")
    monkeypatch.setattr("qa.index.vectors.EXACT_SEARCH_MAX", 50)
    _build([corpus], tmp_path / "hnsw")
    exact, hnsw = Store.open(tmp_path / "exact"), Store.open(tmp_path / "hnsw")
    assert hnsw.manifest["faiss"]["type"] == "IndexHNSWFlat" and hnsw.size > 50
    query = FakeEmbedder().embed_queries(["老石旦煤矿职工创新工作室的技术带头人"])
    top = [set(store.faiss.search(query, 5)[1][0]) for store in (exact, hnsw)]
    assert len(top[0] & top[1]) >= 4  # HNSW is approximate, but not on 200 vectors
    faiss_info = hnsw.manifest["faiss"]
    assert faiss_info["recall_at_10"] >= 0.99 and faiss_info["ef_search"] >= 128
    assert hnsw.faiss.index.hnsw.efSearch == faiss_info["ef_search"]  # what was measured is used


def test_a_graph_that_misses_what_exact_search_finds_gives_way_to_it(corpus, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr("qa.index.vectors.EXACT_SEARCH_MAX", 50)
    monkeypatch.setattr("qa.index.vectors.RECALL_TARGET", 1.01)  # no graph reaches it
    _build([corpus], tmp_path / "index")
    faiss_info = Store.open(tmp_path / "index").manifest["faiss"]
    assert faiss_info["type"] == "IndexFlatIP" and faiss_info["exact"]
    assert 0.0 < faiss_info["graph_recall_at_10"] <= 1.0


def test_incremental_update_skips_changes_and_removes(corpus, tmp_path):
    index_dir = tmp_path / "index"
    _build([corpus], index_dir)
    assert _build([corpus], index_dir).version is None  # nothing changed

    first = Store.open(index_dir)
    old_texts = _texts(first)
    old_vectors = {old_texts[i]: np.array(first.vectors[i]) for i in old_texts}

    changed = sorted(corpus.glob("*.txt"))[1]
    changed.write_text(changed.read_text("utf-8") + "\n\n本报讯 新增加的一段测试文字，关于乌海湖冬季冰雪节。\n",
                       "utf-8")
    removed = sorted(corpus.glob("*.txt"))[0]
    removed.unlink()
    report = _build([corpus], index_dir)
    assert len(report.updated) == 1 and len(report.removed) == 1 and report.unchanged == 3

    store = Store.open(index_dir)
    texts = _texts(store)
    assert list(texts) == list(range(store.size)) and store.vectors.shape[0] == store.size
    assert not store._query("SELECT 1 FROM paragraphs WHERE source LIKE ?", (f"%{removed.name}",))
    assert any("冰雪节" in t for t in texts.values())
    for i, text in texts.items():  # carried vectors stay with their text
        if text in old_vectors:
            np.testing.assert_allclose(store.vectors[i], old_vectors[text])


def test_other_embedder_is_refused(corpus, tmp_path):
    _build([corpus], tmp_path / "index")
    other = FakeEmbedder(dim=32)
    with pytest.raises(IndexError_, match="rebuild"):
        _build([corpus], tmp_path / "index", other)
    with pytest.raises(IndexError_, match="embedder"):
        Retriever(Store.open(tmp_path / "index"), other)
    assert _build([corpus], tmp_path / "index", other, rebuild=True).paragraphs > 0


@pytest.mark.parametrize("damage", ["faiss.index", "vectors.npy", "manifest.json", "archive.sqlite"])
def test_corrupt_index_gives_clear_error(corpus, tmp_path, damage):
    _build([corpus], tmp_path / "index")
    folder = current_version(tmp_path / "index")
    (folder / damage).write_bytes(b"garbage")
    with pytest.raises(IndexError_):
        Store.open(tmp_path / "index")


def test_missing_index_and_dangling_pointer(tmp_path):
    with pytest.raises(IndexError_, match="no index"):
        Store.open(tmp_path / "nothing")
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / CURRENT).write_text("v-gone\n")
    with pytest.raises(IndexError_, match="missing version"):
        Store.open(tmp_path / "idx")


def test_unwritable_index_dir_is_a_clear_error(corpus, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(IndexError_, match="cannot write"):
        _build([corpus], blocker / "index")


def test_empty_corpus_gives_empty_results(tmp_path):
    (tmp_path / "empty").mkdir()
    _build([tmp_path / "empty"], tmp_path / "index")
    store = Store.open(tmp_path / "index")
    assert store.size == 0
    assert Retriever(store, FakeEmbedder()).search("乌海", 5) == []


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("idx")
    folder = tmp / "corpus"
    shutil.copytree(CORPUS, folder)
    # the same story reprinted in another paper
    (folder / "reprint.md").write_text(
        "# 华恒能源项目建设有序推进\n\n该项目建设28000标立方米/小时天然气制氢装置、72万吨/年产甲醛装置、"
        "31.2万吨/年产BDO装置、18.4万吨/年产PTMEG装置、6万吨/年产PBAT装置以及配套原料车间、"
        "动力车间、公用工程和辅助设施。\n", "utf-8")
    _build([folder], tmp / "index")
    return Retriever(Store.open(tmp / "index"), FakeEmbedder())


def test_search_finds_names_and_numbers(retriever):
    hits = retriever.search("老石旦煤矿职工创新工作室技术带头人", 5)
    assert any("王瑞林作为工作室的技术带头人" in h.paragraph.text for h in hits[:3])
    assert all(h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_traditional_query_finds_simplified_paragraph(retriever):
    hits = retriever.search("通遼市新建5G基站", 5)
    assert any("5G基站" in h.paragraph.text for h in hits[:3])


def test_reprints_collapse_into_one_hit(retriever):
    hits = retriever.search("天然气制氢装置 甲醛装置 PBAT装置", 5)
    top = [h for h in hits if "28000标立方米" in h.paragraph.text]
    assert len(top) == 1 and len(top[0].copies) == 1


def test_filters(retriever):
    papers = set(retriever.store.newspapers.tolist()) - {""}
    assert papers
    paper = sorted(papers)[0]
    hits = retriever.search("项目", 10, Filters(newspaper=paper))
    assert hits and all(h.article.newspaper == paper for h in hits)
    assert retriever.search("项目", 10, Filters(newspaper="没有这份报纸")) == []
    dated = retriever.search("项目", 10, Filters(date_from="2022-11-22", date_to="2022-11-22"))
    assert all(h.article.date == "2022-11-22" for h in dated)


def test_bad_queries(retriever):
    assert retriever.search("？！。，……", 5) == []
    assert retriever.search("", 5) == []
    with pytest.raises(QueryError, match="limit is 500"):  # what the CLI and the app check first
        check_question("乌海" * 5000, Settings().max_question_chars)
    with pytest.raises(QueryError, match="empty"):
        check_question(" \u3000", 500)
    assert check_question(" 乌海\x00市 ", 500) == "乌海 市"


KILL_SCRIPT = """
import sys
from pathlib import Path
from qa.testing.fake import FakeEmbedder
from qa.index.build import build_index
build_index([Path(sys.argv[1])], Path(sys.argv[2]), FakeEmbedder(), rebuild=True, progress=False,
            log=lambda m: None)
"""


@pytest.mark.slow  # kills real indexing processes
def test_killed_build_leaves_previous_index_usable(tmp_path):
    corpus = tmp_path / "big"
    corpus.mkdir()
    for i in range(40):
        paras = [f"第{i}篇第{j}段：乌海市推进重点项目建设，编号{i * 100 + j}，持续推进。" * 3 for j in range(60)]
        (corpus / f"page{i:03}.txt").write_text("\n\n".join(paras), "utf-8")
    full = _build([corpus], tmp_path / "reference").paragraphs
    index_dir = tmp_path / "index"
    expected = _build([CORPUS], index_dir).paragraphs
    env = {**os.environ, "PYTHONPATH": str(CORPUS.parent)}
    interrupted = 0
    for delay in (0.5, 1.0, 1.5, 2.0, 3.0):
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(corpus), str(index_dir)], env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() in (0, -signal.SIGKILL)  # killed, or finished before the signal
        store = Store.open(index_dir)  # whatever the moment, a complete version is live
        assert store.size in (expected, full)
        assert store.faiss.ntotal == store.bm25.n_docs == store.size
        partial = [v for v in index_dir.glob("v-*") if not (v / "manifest.json").exists()]
        interrupted += bool(partial)
        if store.size == expected:
            assert Retriever(store, FakeEmbedder()).search("技术带头人", 3)
    assert interrupted  # at least one kill landed mid-build
    report = _build([CORPUS], index_dir, rebuild=True)
    assert Store.open(index_dir).size == report.paragraphs == expected
    assert len(list(index_dir.glob("v-*"))) <= 2  # partial builds were cleaned up


def test_bm25_weighs_by_how_much_of_the_query_the_archive_knows(retriever):
    """English words asked of a Chinese archive match nothing but noise: BM25's say shrinks
    with the share of the query's terms the archive's vocabulary holds."""
    chinese = "乌海市营商环境"
    english = "How many companies did the business environment office help in 2022?"
    assert retriever.coverage(chinese) == 1.0
    assert 0.0 < retriever.coverage(english) < 0.25  # "2022" is known, the English words are not
    f = retriever.fusion
    for query in (chinese, english):
        weight = f.lexical_weight * min(1.0, retriever.coverage(query) / f.full_coverage)
        for hit in retriever.search(query, 5):
            expected = sum(w / (f.k + rank) for w, rank in ((f.dense_weight, hit.dense_rank),
                                                            (weight, hit.lexical_rank)) if rank)
            assert hit.score == pytest.approx(expected)


def test_an_unchanged_archive_is_checked_without_loading_the_model(corpus, tmp_path):
    from qa.model.embed import Deferred
    from qa.model.weights import DIM, MODEL_NAME

    def stand_in():  # the default model's identity, computed by the fake
        fake = FakeEmbedder(dim=DIM)
        fake.name = MODEL_NAME
        return fake

    first = Deferred(stand_in)
    report = _build([corpus], tmp_path / "index", embedder=first)
    assert report.version is not None and first._inner is not None  # loaded to embed

    def must_not_load():
        raise AssertionError("the model was loaded for an unchanged archive")

    again = _build([corpus], tmp_path / "index", embedder=Deferred(must_not_load))
    assert again.version is None and again.unchanged == 5


class _Counting(FakeEmbedder):
    """The fake, counting the passages it embeds."""

    def __init__(self):
        super().__init__()
        self.embedded = 0

    def embed_passages(self, texts, progress=None):
        self.embedded += len(texts)
        return super().embed_passages(texts, progress)


def test_changed_reading_rules_read_every_file_again_keeping_unchanged_vectors(corpus, tmp_path,
                                                                               monkeypatch):
    _build([corpus], tmp_path / "index")
    before = Store.open(tmp_path / "index")
    monkeypatch.setattr("qa.index.schema.INGEST", 99)  # the rules changed
    counting = _Counting()
    report = _build([corpus], tmp_path / "index", embedder=counting)
    assert len(report.updated) == 5 and report.version is not None  # every file read again
    assert counting.embedded == 0  # every paragraph's text was known: its vector was kept
    after = Store.open(tmp_path / "index")
    assert after.manifest["ingest"] == 99 and after.size == before.size
    np.testing.assert_array_equal(np.asarray(after.vectors), np.asarray(before.vectors))
    again = _build([corpus], tmp_path / "index", embedder=_Counting())
    assert again.version is None  # and then it is up to date


def test_a_changed_file_embeds_only_its_new_paragraphs(corpus, tmp_path):
    _build([corpus], tmp_path / "index")
    page = next(corpus.glob("004_*.txt"))
    page.write_text(page.read_text("utf-8") + "\n\n本报讯 通辽市新建城市书房12座，全部免费开放。\n", "utf-8")
    counting = _Counting()
    report = _build([corpus], tmp_path / "index", embedder=counting)
    assert report.updated and 1 <= counting.embedded <= 2  # the new paragraph, not the page


def test_a_text_copied_many_times_does_not_crowd_out_the_rest(tmp_path):
    from qa.index.search import Fusion
    from tests.archives import build

    real = "# 城际公交开通\n\n本报讯 我市开通首条城际公交线路，全程68公里，每天往返24个班次。\n"
    copy = "# 城际公交\n\n城际公交线路全程多少公里，城际公交线路全程多少公里，城际公交线路。\n"
    pages = {"20221102.md": real, **{f"copy{n:02}.md": copy for n in range(40)}}
    settings = build(tmp_path, pages)
    retriever = Retriever(Store.open(settings.index_dir), FakeEmbedder(), Fusion(pool=20))
    hits = retriever.search("城际公交线路全程多少公里？", 5)
    texts = [h.paragraph.text for h in hits]
    assert any("68公里" in t for t in texts)  # once: 40 copies filled both pools of 20
    first = next(h for h in hits if "多少公里" in h.paragraph.text)
    assert len(first.copies) == 39 and len(set(texts)) == len(texts)
    dated = retriever.search("城际公交线路全程多少公里？", 5, Filters(date_from="2022-11-01"))
    assert [h.paragraph.text for h in dated] == [t for t in texts if "68公里" in t]


@pytest.mark.parametrize("exact_max", [10_000, 50])  # exact search; a graph
def test_adding_a_day_extends_the_vector_index_and_finds_what_a_full_build_finds(
        corpus, tmp_path, monkeypatch, exact_max):
    monkeypatch.setattr("qa.index.vectors.EXACT_SEARCH_MAX", exact_max)
    day = sorted(corpus.glob("*.txt"))[-1]
    aside = tmp_path / day.name
    shutil.move(day, aside)
    _build([corpus], tmp_path / "index")
    before = Store.open(tmp_path / "index")
    shutil.move(aside, day)
    report = _build([corpus], tmp_path / "index")
    assert [Path(a).name for a in report.added] == [day.name] and report.unchanged == 4
    _build([corpus], tmp_path / "full")
    grown, full = Store.open(tmp_path / "index"), Store.open(tmp_path / "full")
    info = grown.manifest["faiss"]
    assert info["added_since_built"] == grown.size - before.size > 0  # added to, not rebuilt
    assert info["type"] == full.manifest["faiss"]["type"] == before.manifest["faiss"]["type"]
    assert grown.faiss.ntotal == grown.size == full.size
    np.testing.assert_array_equal(np.asarray(grown.vectors), np.asarray(full.vectors))
    for question in ("乌海湖", "职工创新工作室", "通辽市驻村干部"):
        query = FakeEmbedder().embed_queries([question])
        assert (set(grown.faiss.search(query, 5)[1][0])
                == set(full.faiss.search(query, 5)[1][0]))
    # a removed file: the index is built anew (no vector outlives its text)
    next(corpus.glob("*.txt")).unlink()
    _build([corpus], tmp_path / "index")
    rebuilt = Store.open(tmp_path / "index")
    assert "added_since_built" not in rebuilt.manifest["faiss"]
    assert rebuilt.faiss.ntotal == rebuilt.size < grown.size
