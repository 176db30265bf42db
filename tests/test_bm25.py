import numpy as np
import pytest

from qa.errors import IndexError_
from qa.index.bm25 import BM25
from qa.index.lexical import tokenize

DOCS = [
    "乌海市计划实施重点项目296个",
    "通辽市今年建设5G基站1200个",
    "学习贯彻党的二十大精神",
    "乌海湖畔的冬天",
]


def _index():
    return BM25.build([tokenize(d) for d in DOCS])


def test_exact_rank_on_names_and_numbers():
    bm25 = _index()
    assert int(np.argmax(bm25.scores(tokenize("通辽建了多少5G基站")))) == 1
    assert int(np.argmax(bm25.scores(tokenize("乌海重点项目")))) == 0
    order = np.argsort(-bm25.scores(tokenize("乌海")))
    assert set(order[:2].tolist()) == {0, 3}


def test_traditional_query_matches_simplified_text():
    bm25 = _index()
    assert int(np.argmax(bm25.scores(tokenize("通遼市建設了多少個基站")))) == 1


def test_rare_term_outweighs_common_term():
    docs = [tokenize(d) for d in ["精神 精神 学习", "精神 钢铁", "精神 学习"]]
    bm25 = BM25.build(docs)
    scores = bm25.scores(["钢铁", "精神"])
    assert int(np.argmax(scores)) == 1


def test_unknown_terms_and_empty_query_score_zero():
    bm25 = _index()
    assert not bm25.scores(["不存在的词"]).any()
    assert not bm25.scores([]).any()


def test_save_load_roundtrip(tmp_path):
    bm25 = _index()
    bm25.save(tmp_path)
    again = BM25.load(tmp_path)
    q = tokenize("乌海重点项目")
    np.testing.assert_allclose(again.scores(q), bm25.scores(q))


def test_corrupt_files_raise_index_error(tmp_path):
    _index().save(tmp_path)
    (tmp_path / "bm25_data.npy").write_bytes(b"not numpy")
    with pytest.raises(IndexError_):
        BM25.load(tmp_path)


def test_empty_corpus():
    bm25 = BM25.build([])
    assert bm25.scores(["乌海"]).shape == (0,)
