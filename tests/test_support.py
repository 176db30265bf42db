"""How far an answer can be trusted: levels, agreeing passages and timelines, on spans built
by hand (qa.answer.support reads no index)."""

import pytest

from qa.answer.support import (
    HIGH,
    MEDIUM,
    agreeing,
    answer_key,
    describe,
    level,
    same_answer,
    timeline,
    unconfirmed,
)
from qa.types import Span


def span(passage: int, text: str, score: float, start: int = 0) -> Span:
    return Span(passage, start, start + len(text), text, 0, start + len(text), score)


@pytest.mark.parametrize(("probability", "agree", "expected"), [
    (0.9, 1, "high"), (HIGH, 1, "high"), (HIGH - 0.01, 1, "medium"), (MEDIUM, 1, "medium"),
    (MEDIUM - 0.01, 1, "low"), (0.13, 1, "low"),
    (0.13, 2, "medium"), (0.35, 3, "high"), (0.9, 5, "high"),  # agreement: one step up
])
def test_levels_follow_the_probability_and_agreement(probability, agree, expected):
    assert level(probability, agree) == expected


def test_levels_read_in_chinese_with_the_probability():
    assert describe("high", 0.623) == "可信度 高 · 62%"
    assert describe("low", 0.14) == "可信度 低 · 14%"
    assert describe("high", 0.314, agreeing=2) == "可信度 高 · ≥31%"  # one passage's: a floor


def test_answers_are_the_same_across_width_script_and_spacing():
    assert answer_key("34 家") == answer_key("３４家") == answer_key("「34家」") == "34家"
    assert answer_key("烏海") == answer_key("乌海")
    assert answer_key("34家") != answer_key("35家")


PASSAGES = ["全市34家企业入会。", "记者 田秀敏", "据统计，全市34家企业全部入会。", "另有34家。"]


def test_agreeing_passages_are_those_the_answerer_reads_the_same_answer_from():
    best = span(0, "34家", 0.5, 2)
    spans = [best, span(2, "34家", 0.4, 6), span(3, "34家", 0.05, 2)]  # 3: below the threshold
    found = agreeing(best, spans, 0.125)
    assert set(found) == {2} and found[2].start == 6
    assert unconfirmed(best, PASSAGES, found) == [3]  # holds the words but scored too low


def test_passages_holding_the_answer_unread_are_the_ones_to_read_again():
    best = span(0, "34家", 0.5, 2)
    assert unconfirmed(best, PASSAGES, agreeing(best, [best], 0.125)) == [2, 3]
    reread = [span(i, "34家", 0.3, PASSAGES[i].index("34家")) for i in (2, 3)]
    assert set(agreeing(best, [best, *reread], 0.125)) == {2, 3}


def test_a_name_that_only_appears_is_no_agreement():
    best = span(1, "田秀敏", 0.2, 3)
    passages = ["本报记者 田秀敏 报道", "记者 田秀敏", "田秀敏摄"]
    assert unconfirmed(best, passages, {}) == [0, 2]
    assert agreeing(best, [best, span(0, "报道", 0.3), span(2, "报道", 0.3)], 0.125) == {}


DATES = ["2023-01-05", "2022-01-06", None, "2021-01-04"]
ARTICLES = ["a", "b", "c", "d"]


def test_dated_passages_with_different_figures_make_a_timeline_newest_first():
    spans = [span(1, "2860个", 0.40), span(0, "4120个", 0.38), span(2, "9999个", 0.5),
             span(3, "1500个", 0.1), span(0, "80%", 0.3)]
    got = timeline(spans[0], spans, DATES, ARTICLES, 0.125).entries
    assert [(DATES[s.passage_index], s.text) for s in got] == [
        ("2023-01-05", "4120个"), ("2022-01-06", "2860个")]  # undated and weak ones left out


def test_no_timeline_when_the_dated_passages_agree_or_the_best_is_undated():
    same = [span(0, "4120个", 0.4), span(1, "4120 个", 0.35)]
    assert timeline(same[0], same, DATES, ARTICLES, 0.125) == ([], [])
    undated = [span(2, "4120个", 0.5), span(1, "2860个", 0.4), span(0, "4120个", 0.4)]
    assert timeline(undated[0], undated, DATES, ARTICLES, 0.125) == ([], [])


def test_a_timeline_compares_figures_with_figures():
    spans = [span(0, "4120个", 0.4), span(1, "市交通局", 0.4)]
    assert timeline(spans[0], spans, DATES, ARTICLES, 0.125) == ([], [])


def test_one_date_gives_one_entry_and_its_other_answers_are_conflicts():
    dates, articles = ["2023-01-05", "2023-01-05", "2022-01-06", "2022-01-06"], ["a", "b", "c", "d"]
    spans = [span(0, "4120个", 0.4), span(1, "4200个", 0.38), span(2, "2860个", 0.37),
             span(3, "2900个", 0.36)]
    got = timeline(spans[0], spans, dates, articles, 0.125)
    assert [s.text for s in got.entries] == ["4120个", "2860个"]  # a date once, its best span
    assert [s.text for s in got.conflicts] == ["4200个"]  # the best one's own day disagrees
    alone = timeline(spans[0], spans[:2], dates, articles, 0.125)
    assert alone.entries == [] and [s.text for s in alone.conflicts] == ["4200个"]


def test_what_does_not_fit_the_question_joins_no_timeline():
    spans = [span(0, "4120个", 0.4), span(1, "2860个", 0.4), span(3, "65万元", 0.4)]
    got = timeline(spans[0], spans, DATES, ARTICLES, 0.125, fits=lambda s: s.text != "2860个")
    assert [s.text for s in got.entries] == ["4120个", "65万元"]
    assert timeline(spans[0], spans[:2], DATES, ARTICLES, 0.125,
                    fits=lambda s: s.text != "2860个").entries == []



@pytest.mark.parametrize(("a", "b", "same"), [
    ("近5万人次", "5万人次", True), ("100万亿元台", "100万亿元", True), ("34 家", "34家", True),
    ("5%", "15%", False), ("34家", "35家", False), ("1.5%", "1.55%", False), ("英国", "英国伦敦", True),
    ("2860个", "4120个", False),
])
def test_answers_are_one_up_to_what_a_span_takes_in_beside_them(a, b, same):
    assert same_answer(a, b) is same and same_answer(b, a) is same
