"""Span extraction on sentences of the seed pages in corpus/, with our own questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import ModelError
from qa.reader import load_answerer
from qa.reader.base import sentences, tidy
from qa.reader.hf import HFReader
from qa.reader.question import CLAUSE, NUMBER, ORG, PERSON, PLACE, THING, TIME, absent, analyse
from qa.reader.rules import RuleAnswerer
from qa.reader.windows import Windower
from qa.types import Span
from tests.seeds import page


def passage(name: str, marker: str, sentences_after: int = 3) -> str:
    """The sentences of a seed page around `marker`: a paragraph-sized passage."""
    text = page(name)
    i = text.index(marker)
    start = max(text.rfind("。", 0, i), text.rfind("；", 0, i)) + 1
    end = i
    for _ in range(sentences_after):
        end = text.find("。", end) + 1 or len(text)
    return text[start:end]


@pytest.fixture(scope="module")
def rules() -> RuleAnswerer:
    return RuleAnswerer()


def check(span: Span, passages: list[str]) -> None:
    text = passages[span.passage_index]
    assert text[span.start : span.end] == span.text
    assert span.sentence_start <= span.start < span.end <= span.sentence_end
    assert 0.0 <= span.score <= 1.0


CASES = [
    # (page, marker of the passage, question, answer)
    ("004", "选派840支驻村工作队", "通辽市选派了多少名驻村干部？", "1815名"),
    ("004", "举办市级示范培训班18期", "通辽市举办了多少期市级示范培训班？", "18期"),
    ("004", "限额以上固定资产投资同比增长31.8%", "1—11月全市限额以上固定资产投资同比增长多少？", "31.8%"),
    ("004", "民间投资持续升温", "民间投资占全部投资的多少？", "74.6%"),
    ("004", "已累计建设2798个", "通辽市累计建设了多少个5G基站？", "2798个"),
    ("004", "实施智能制造项目12个", "通辽市实施了多少个智能制造项目？", "12个"),
    ("002", "王凤英的丈夫赵林柱", "王凤英的丈夫是谁？", "赵林柱"),
    ("000", "市委副书记、市长杨进", "市委副书记、市长是谁？", "杨进"),
    ("004", "民间投资持续升温", "民間投資同比增長多少？", "46.6%"),  # Traditional
]


@pytest.mark.parametrize(("name", "marker", "question", "answer"), CASES)
def test_rules_find_the_span(rules, name, marker, question, answer):
    passages = [passage(name, marker)]
    spans = rules.extract(question, passages)
    assert spans, question
    for span in spans:
        check(span, passages)
    assert spans[0].text == answer
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_time_question_takes_the_date(rules):
    passages = [passage("000", "11月7日晚，市委书")]
    spans = rules.extract("唐毅什么时候主持召开了领导小组第32次会议？", passages)
    assert spans[0].text.startswith("11月7日")


def test_answer_comes_from_the_right_passage(rules):
    passages = [passage("004", "举办市级示范培训班18期"), passage("002", "王凤英的丈夫赵林柱")]
    spans = rules.extract("王凤英的丈夫是谁？", passages, retrieval_scores=[0.9, 0.4])
    assert (spans[0].passage_index, spans[0].text) == (1, "赵林柱")
    for span in spans:
        check(span, passages)


def test_offsets_survive_stray_spaces(rules):
    # print line breaks leave spaces inside words; the span keeps the passage's own text
    text = "市委副书记、市长杨 进出席会议。"
    span = rules.extract("市委副书记、市长是谁？", [text])[0]
    assert span.text == "杨 进"
    assert text[span.start : span.end] == span.text


def test_supported_answer_outscores_unsupported_question(rules):
    passages = [passage("004", "已累计建设2798个")]
    good = rules.extract("通辽市累计建设了多少个5G基站？", passages)[0]
    unrelated = rules.extract("乌海市去年的地区生产总值有多少？", passages)
    assert not unrelated or unrelated[0].score < good.score


def test_absent_counts_whole_words_once():
    q = analyse("乌海市今年新建了多少个5G基站？")
    whole = {w: x for w, x in zip(q.words, q.weights, strict=True) if w not in ("乌海", "海市")}
    assert set(whole) == {"乌海市", "今年", "新建", "5g", "基站"}
    assert absent(q, "今年全市新建5g基站1207个") == pytest.approx(
        whole["乌海市"] / sum(whole.values()))
    assert absent(q, "乌海今年新建5g基站1207个") == 0.0  # 乌海 stands for 乌海市
    assert absent(q, "火星基地氧气储量") == 1.0


def test_headline_and_newspaper_back_a_passage_that_says_only_全市(rules):
    passages = [passage("004", "新建5G基站")]
    question = "今年通辽新建的5G基站有多少个？"
    bare = rules.extract(question, passages)[0]
    backed = rules.extract(question, passages, contexts=["通辽日报 通辽经济发展成绩单"])[0]
    other = rules.extract("上海市今年新建了多少个5G基站？", passages,
                          contexts=["通辽日报 通辽经济发展成绩单"])[0]
    assert backed.text == bare.text and backed.start == bare.start
    assert backed.score > max(bare.score, other.score)


def test_share_questions_want_a_percentage(rules):
    text = "全市完成规模以上工业企业技术改造项目25个，技改投资增幅达到12.5%。"
    assert rules.extract("技改投资增幅是多少？", [text])[0].text == "12.5%"
    assert rules.extract("完成了多少个技术改造项目？", [text])[0].text == "25个"


def test_no_passages_no_spans(rules):
    assert rules.extract("王凤英的丈夫是谁？", []) == []


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("市商务局局长是谁？", PERSON),
        ("哪位民兵表示要认真履行民兵义务？", PERSON),
        ("创造了多少经济效益？", NUMBER),
        ("他今年几岁？", NUMBER),
        ("会议何时召开？", TIME),
        ("项目哪一年投产？", TIME),
        ("什么时候开通？", TIME),
        ("项目建在哪里？", PLACE),
        ("哪个单位承办了活动？", ORG),
        ("哪家企业获奖？", ORG),
        ("他们为什么加班？", CLAUSE),
        ("怎样提高效率？", CLAUSE),
        ("工作室的名称是什么？", THING),
        ("Who chaired the meeting?", PERSON),
        ("How many workers stayed on duty?", NUMBER),
        ("What was the export value of the city's machinery in May?", NUMBER),
        ("What share of the growth came from services?", NUMBER),
        ("What is the name of the new rice variety?", THING),
        ("誰主持了會議？", PERSON),
    ],
)
def test_question_types(question, kind):
    assert analyse(question).kind == kind


def test_question_word_is_located():
    q = analyse("2023年乌海市打算实施多少个重点项目？")
    assert q.text[q.wh_start : q.wh_end] == "多少"
    assert q.left == "2023年乌海市打算实施"
    assert q.right == "个重点项目"


def test_sentences_keep_offsets():
    text = "第一句。 第二句！“第三句？”\n第四句"
    spans = sentences(text)
    assert [text[s:e] for s, e in spans] == ["第一句。", "第二句！", "“第三句？”", "第四句"]


def test_load_answerer(monkeypatch, tmp_path):
    rules = load_answerer("rules", tmp_path)
    assert isinstance(rules, RuleAnswerer) and rules.threshold == 0.125
    assert load_answerer("rules", tmp_path, threshold=0.5).threshold == 0.5
    monkeypatch.setattr("qa.reader.e5.reader_available", lambda **_: False)
    assert isinstance(load_answerer("auto", tmp_path), RuleAnswerer)  # the reader cannot run


def test_a_missing_hf_model_is_a_clear_error(tmp_path):
    pytest.importorskip("transformers", reason="HF readers need the st extra")
    with pytest.raises(ModelError, match="not available offline"):
        load_answerer("/nonexistent/reader-model", tmp_path)


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT QA model and a character vocabulary, saved locally."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-reader")
    text = page("004") + page("002") + "谁多少是的？"
    chars = sorted({ch for ch in text if not ch.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    transformers.BertForQuestionAnswering(config).save_pretrained(folder)
    return folder


def test_hf_reader_mechanics(tiny_reader):
    reader = load_answerer(str(tiny_reader), tiny_reader)
    assert isinstance(reader, HFReader)
    # force several windows per passage
    reader.windower = Windower(reader.tokenizer.backend_tokenizer, 96, 32,
                               reader.tokenizer.pad_token_id)
    passages = [passage("004", "举办市级示范培训班18期", 4), passage("002", "王凤英的丈夫赵林柱")]
    spans = reader.extract("王凤英的丈夫是谁？", passages)
    assert spans
    assert {s.passage_index for s in spans} <= {0, 1}
    for span in spans:
        check(span, passages)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert sum(s.score for s in spans) <= 1.0 + 1e-6
    assert reader.extract("王凤英的丈夫是谁？", []) == []


def test_decode_scores_against_every_candidate_and_keeps_the_best_per_passage():
    import math

    import numpy as np

    from qa.reader.decode import decode
    from qa.reader.windows import Windows

    passages = ["甲乙丙丁", "戊己庚"]
    # token 0 is [CLS]; tokens 1.. are the passage's characters, one each
    offsets = [[(0, 0), *((i, i + 1) for i in range(len(p)))] for p in passages]
    windows = Windows(np.zeros((2, 5), np.int64), np.ones((2, 5), np.int64), [0, 1], offsets,
                      [(1, 4), (1, 3)])
    starts = np.array([[0.0, 3.0, 1.0, 0.0, 2.0], [1.0, 2.0, 0.0, 0.8, -9.0]], np.float32)
    ends = np.array([[0.0, 0.0, 2.5, 1.0, 3.0], [0.5, 0.0, 1.0, 2.0, -9.0]], np.float32)
    spans = decode(windows, starts, ends, passages, top_n=2, max_answer_tokens=10)
    # window 0: starts 1 (3.0), 4 (2.0) x ends 4 (3.0), 2 (2.5): 甲乙丙丁 6, 甲乙 5.5, 丁 5
    # window 1: starts 1 (2.0), 3 (0.8) x ends 3 (2.0), 2 (1.0): 戊己庚 4, 戊己 3, 庚 2.8
    logits = {"甲乙丙丁": 6.0, "甲乙": 5.5, "丁": 5.0, "戊己庚": 4.0, "戊己": 3.0, "庚": 2.8}
    null = 0.0  # the lower [CLS] start + end of the two windows
    norm = math.exp(null) + sum(math.exp(v) for v in logits.values())
    # 丁 and 庚 count in the softmax, but only the two best of each passage become spans
    assert [(s.passage_index, s.text) for s in spans] == [
        (0, "甲乙丙丁"), (0, "甲乙"), (1, "戊己庚"), (1, "戊己")]
    for s in spans:
        assert s.score == pytest.approx(math.exp(logits[s.text]) / norm, rel=1e-6)


@pytest.mark.parametrize(("passage", "span", "tidied"), [
    ("发生于天正16年（1588年）。", "16年（1588年", "16年（1588年）"),  # its partner comes next
    ("新增12个(机器人8个,数字化车间4个，另有", "12个(机器人8个,数字化车间4个", "12个"),  # it does not
    ("他说（据新华社）今天到", "据新华社）今天", "（据新华社）今天"),  # opened just before
    ("他说据新华社）今天到", "据新华社）今天", "今天"),
    ("获奖作品《山河》，", "《山河》，", "《山河》"),  # whole pairs and edges as before
    ("其中A（甲）和B（乙）", "A（甲）和B（乙", "A（甲）和B（乙）"),
])
def test_tidy_mends_brackets_left_open_or_closed_inside(passage, span, tidied):
    a = passage.index(span)
    a, b = tidy(passage, a, a + len(span))
    assert passage[a:b] == tidied
