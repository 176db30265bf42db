"""The reader without PyTorch: ONNX graph parity, int8 spans, the cache, runtime choice."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.answer.pipeline import Archive
from qa.errors import ModelError
from qa.index.build import build_index
from qa.model.onnx_encoder import MARKER
from qa.reader import load_answerer
from qa.reader.bundle import READER_DIR
from qa.reader.e5 import E5Reader, choose_runtime, nonsense
from qa.reader.ensemble import Ensemble
from qa.reader.rules import RuleAnswerer
from qa.settings import Settings
from qa.testing.fake import FakeEmbedder
from tests.seeds import page

pytestmark = pytest.mark.slow  # builds the reader's ONNX graphs

ROOT = Path(__file__).resolve().parent.parent


def around(text: str, marker: str, before: int = 60, after: int = 100) -> str:
    i = text.index(marker)
    return text[max(0, i - before) : i + after]


# Our own questions over the seed pages, in Simplified, Traditional and English.
ASKED = [
    ("王凤英的丈夫叫什么名字？", around(page("002"), "王凤英的丈夫赵林柱")),
    ("通遼今年新建了幾個5G基站？", around(page("004"), "新建5G基站")),
    ("How many 5G base stations did Tongliao build this year?", around(page("004"), "新建5G基站")),
    ("乌海军分区把什么作为首要政治任务？", around(page("000"), "首要政治任务", 120, 40)),
]


@pytest.fixture(scope="module")
def fp32(cache_dir) -> E5Reader:
    return E5Reader(cache_dir=cache_dir, runtime="onnx", precision="fp32")


@pytest.fixture(scope="module")
def int8(cache_dir) -> E5Reader:
    return E5Reader(cache_dir=cache_dir, runtime="onnx", precision="int8")


def test_onnx_logits_match_pytorch(fp32, cache_dir):
    """The graph built from NumPy weights computes what PyTorch computes."""
    pytest.importorskip("torch", reason="parity needs the st extra (PyTorch)")
    torch_reader = E5Reader(cache_dir=cache_dir, runtime="torch", precision="fp32")
    for question, passage in ASKED:
        windows = fp32.windower.batch(question, [passage, passage[::2]])
        (s1, e1), (s2, e2) = fp32.logits(windows), torch_reader.logits(windows)
        mask = windows.attention_mask.astype(bool)
        # measured: 2e-5 at logits of magnitude ~5
        assert np.abs(s1 - s2)[mask].max() < 1e-3 and np.abs(e1 - e2)[mask].max() < 1e-3


def test_int8_reads_the_same_spans(fp32, int8):
    """int8 keeps every answer fp32 gives with confidence (P(right) >= 0.8); where fp32 hesitates
    its choice may move to a close candidate: one of fp32's first five, or on the same words.
    (On validation questions the two score the same: docs/benchmarks.md.)"""
    assert fp32.runtime == "onnx fp32" and int8.runtime == "onnx int8"
    for question, passage in ASKED:
        a, b = fp32.extract(question, [passage]), int8.extract(question, [passage])
        assert a and b and passage[b[0].start : b[0].end] == b[0].text
        if fp32.confidence(a[0].score) >= 0.8:
            assert (b[0].start, b[0].end) == (a[0].start, a[0].end)
        else:
            assert (b[0].start, b[0].end) in [(s.start, s.end) for s in a[:5]] or (
                b[0].start < a[0].end and a[0].start < b[0].end)


def test_the_reader_answers_through_onnx(int8):
    question, passage = ASKED[0]
    spans = int8.extract(question, [passage, around(page("004"), "新建5G基站")], [0.9, 0.4])
    assert spans[0].text == "赵林柱" and spans[0].passage_index == 0
    assert spans[0].score >= int8.threshold


def test_a_passage_that_never_names_what_was_asked_about_counts_against_its_answer(int8):
    """Tongliao's party secretary asked of a Wuhai report: the reader finds a party secretary;
    the calibrated weight on the words its passage and paper never mention lowers the score."""
    assert int8.absent_weight < 0
    passage = ("本报讯（记者杨勇）11月7日晚，市委书记唐毅主持召开市应对新冠肺炎疫情工作领导小组第32次"
               "会议，传达国务院联防联控机制最新要求。")
    question = "通辽市委书记是谁？"
    elsewhere = int8.extract(question, [passage], [1.0], ["乌海日报 领导小组会议召开"])[0]
    named = int8.extract(question, [passage], [1.0], ["通辽日报 领导小组会议召开"])[0]
    assert elsewhere.text == named.text == "唐毅"
    assert int8.confidence(elsewhere.score) < int8.confidence(named.score) - 0.1


def test_a_question_of_no_words_finds_nothing(int8):
    """Keyboard mashes in Latin letters get no span (they were answered "内蒙古圣雪" at 69%);
    English questions, Latin words in Chinese questions and real Latin still get read."""
    passages = [around(page("004"), "新建5G基站"), around(page("002"), "王凤英的丈夫赵林柱")]
    for mash in ("asdfgh qwerty", "xkcd zzzz blorp", "sdf sdf sdf?"):
        assert nonsense(mash, int8.tokenizer), mash
        assert int8.extract(mash, passages) == [], mash
    for words in (ASKED[2][0], "Who is Xi?", "lorem ipsum dolor sit amet", "通辽 asdf 是什么？",
                  "café qwxz", "5G 1207"):
        assert not nonsense(words, int8.tokenizer), words
    assert int8.extract(ASKED[2][0], passages)


def test_the_default_answerer_over_the_seed_pages(int8, tmp_path):
    """The default answerer (the reader with the rules) over the sample archive: our question
    answered and cited; a made-up one (Tongliao's party secretary, where the page that names a
    party secretary is Wuhai's) withheld, or at least far less sure."""
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    build_index([tmp_path / "corpus"], tmp_path / "index", FakeEmbedder(), progress=False,
                log=lambda _: None)
    settings = Settings(index_dir=tmp_path / "index", model="qa.testing.fake:FakeEmbedder")
    assert settings.answerer == "auto"
    archive = Archive.open(settings, answerer=Ensemble(int8, RuleAnswerer()))
    answer = archive.ask(ASKED[0][0])
    assert not answer.abstained and answer.text == "赵林柱"
    cited = answer.citations[0]
    assert cited.passage[cited.answer_start : cited.answer_end] == answer.text
    made_up = archive.ask("通辽市委书记是谁？")
    assert made_up.abstained or made_up.confidence < answer.confidence - 0.2


def test_windows_read_again_come_from_memory(int8, monkeypatch):
    """Rereading a passage for the same question (as the pipeline does to find agreeing
    passages) reuses its windows' logits: no model run, the same spans as a fresh read."""
    question, passage = ASKED[1]
    other = around(page("004"), "5G", 10, 200)
    int8.extract(question, [passage, other])
    runs: list = []
    inner = int8.logits
    monkeypatch.setattr(int8, "logits", lambda windows: runs.append(windows) or inner(windows))
    again = int8.extract(question, [other])
    assert not runs
    int8._recent.clear()
    fresh = int8.extract(question, [other])
    assert len(runs) == 1 and len(runs[0].owners) >= 1
    assert [(s.start, s.end, round(s.score, 5)) for s in again] == \
        [(s.start, s.end, round(s.score, 5)) for s in fresh]


def test_a_corrupt_or_incomplete_cache_is_rebuilt(int8, cache_dir):
    folder = int8.logits.folder
    (folder / "model.onnx").write_bytes(b"not a model")
    logged: list[str] = []
    again = E5Reader(cache_dir=cache_dir, runtime="onnx", precision="int8", log=logged.append)
    assert any("rebuilding" in line for line in logged)
    assert again.extract(*ASKED[0][:1], [ASKED[0][1]])[0].text == "赵林柱"
    (folder / MARKER).unlink()  # a build that was killed before its end
    logged.clear()
    E5Reader(cache_dir=cache_dir, runtime="onnx", precision="int8", log=logged.append)
    assert any("building" in line for line in logged) and (folder / MARKER).is_file()


def test_the_cache_is_keyed_on_the_adapter(int8, cache_dir, tmp_path):
    """A retrained adapter (here: the shipped one with a changed head) gets its own build."""
    import shutil

    reader = tmp_path / "reader"
    shutil.copytree(READER_DIR, reader)
    head = reader / "head.safetensors"
    head.write_bytes(head.read_bytes()[:-4] + b"\0\0\0\0")
    other = E5Reader(reader, cache_dir=cache_dir, runtime="onnx", precision="int8")
    assert other.logits.folder != int8.logits.folder


def test_the_reader_and_the_question_encoder_share_one_vocabulary(int8, cache_dir):
    """One vocab-<hash> folder and one parsed tokenizer (~1 s) for both; each its own
    pipeline: the reader's cuts Han characters apart, the encoder's does not, and both encode
    as their tokenizer.json read afresh does, special tokens included."""
    from tokenizers import Tokenizer

    from qa.model.embed import OnnxE5Embedder
    from qa.reader.bundle import split_chars

    encoder = OnnxE5Embedder(cache_dir).encoder
    reader = int8.logits.encoder
    assert [p.name for p in cache_dir.glob("vocab-*")] == [reader.vocabulary.folder.name]
    assert encoder.vocabulary is reader.vocabulary and encoder.tokenizer is not reader.tokenizer
    for graph in (encoder.folder, reader.folder):
        assert sorted(p.name for p in graph.iterdir()) == [MARKER, "model.onnx"]
    plain = Tokenizer.from_file(str(reader.vocabulary.folder / "tokenizer.json"))
    chars = Tokenizer.from_file(str(reader.vocabulary.folder / "tokenizer.json"))
    split_chars(chars)
    texts = ["通辽市今年新建5G基站1207个。", "通遼今年新建了幾個基站？", "How many base stations?",
             "<s>标记</s> <mask> ①②　全角ＡＢＣ", ""]
    for ours, fresh in ((encoder.tokenizer, plain), (reader.tokenizer, chars)):
        for text in texts:
            a, b = ours.encode(text), fresh.encode(text)
            assert (a.ids, a.offsets) == (b.ids, b.offsets), text
        assert ours.encode("问题", "段落").ids == fresh.encode("问题", "段落").ids
    assert encoder.tokenizer.encode("今年").tokens != reader.tokenizer.encode("今年").tokens


def test_runtime_choice_and_fallback(monkeypatch, tmp_path):
    import qa.reader.e5 as e5

    assert choose_runtime("torch") == "torch"
    with pytest.raises(ModelError, match="unknown reader runtime"):
        choose_runtime("tensorflow")
    real = e5.find_spec
    monkeypatch.setattr(e5, "find_spec", lambda m: None if m == "onnxruntime" else real(m))
    assert choose_runtime("auto") == ("torch" if real("torch") else "onnx")
    with pytest.raises(ModelError, match="pip install onnx"):
        E5Reader(cache_dir=tmp_path, runtime="onnx")
    monkeypatch.setattr(e5, "find_spec", lambda m: None if m in ("onnxruntime", "torch") else real(m))
    logged: list[str] = []
    answerer = load_answerer("auto", tmp_path, log=logged.append)
    assert isinstance(answerer, RuleAnswerer) and "answering with the rules" in logged[0]


def test_reading_needs_no_pytorch(int8, cache_dir):
    """The default install has no PyTorch: with torch and transformers unimportable, the
    default answerer is still the reader (with the rules), from the cache, and answers."""
    code = (
        "import sys; sys.modules.update(torch=None, transformers=None, peft=None)\n"
        "from pathlib import Path\n"
        "from qa.reader import load_answerer\n"
        "from qa.settings import Settings\n"
        f"r = load_answerer(Settings().answerer, Path({str(cache_dir)!r}))\n"
        f"print(r.name, r.extract({ASKED[0][0]!r}, [{ASKED[0][1]!r}])[0].text)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["reader", "(onnx", "int8)", "+", "rules", "赵林柱"]


def test_forget_makes_the_reader_read_again(int8):
    """Kept logits stand for the weights that made them: training calls forget() before each
    validation, else the curve repeats its first reading."""
    question, passage = ASKED[0]
    calls = []
    inner = int8.logits

    def counting(windows):
        calls.append(len(windows.input_ids))
        return inner(windows)

    int8.logits = counting
    int8.forget()  # what earlier tests left
    try:
        int8.extract(question, [passage])
        int8.extract(question, [passage])
        assert len(calls) == 1  # the second reading came from the kept logits
        int8.forget()
        int8.extract(question, [passage])
        assert len(calls) == 2
    finally:
        int8.logits = inner
