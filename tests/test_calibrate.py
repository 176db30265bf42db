"""Calibrating a reader's scores, and answerers combined by their calibrated probabilities."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa.reader.bundle import READER_DIR
from qa.reader.ensemble import Ensemble, agree
from qa.reader.question import analyse, unmentioned
from qa.settings import Settings
from qa.train.calibrate import (
    Record,
    adjusted,
    calibrate,
    collect,
    fit_platt,
    is_right,
    threshold_for,
)
from qa.types import Span
from tests.archives import Stub


def test_platt_fit_recovers_a_known_calibration():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.01, 0.99, 4000)
    logit = np.log(scores / (1 - scores))
    right = rng.uniform(size=4000) < 1 / (1 + np.exp(-(2.0 * logit - 1.0)))
    a, b, c = fit_platt(scores, right)
    assert a == pytest.approx(2.0, abs=0.2) and b == pytest.approx(-1.0, abs=0.2) and c == 0.0
    t = threshold_for(a, b, 0.5)
    assert 1 / (1 + np.exp(-(a * np.log(t / (1 - t)) + b))) == pytest.approx(0.5)
    assert threshold_for(-1.0, 0.0) == 1.0  # scores that do not predict: withhold all


def test_the_fit_weighs_what_the_passage_leaves_unmentioned():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0.01, 0.99, 4000)
    missing = rng.uniform(0, 1, 4000)
    logit = np.log(scores / (1 - scores))
    right = rng.uniform(size=4000) < 1 / (1 + np.exp(-(1.5 * logit - 3.0 * missing + 0.5)))
    a, b, c = fit_platt(scores, right, missing=list(missing))
    assert (a, b, c) == (pytest.approx(1.5, abs=0.2), pytest.approx(0.5, abs=0.2),
                         pytest.approx(-3.0, abs=0.4))


def test_unmentioned_words_count_chinese_words_only():
    q = analyse("通辽市委书记是谁？")
    wuhai = "11月7日晚，市委书记唐毅主持召开市应对新冠肺炎疫情工作领导小组会议。"
    assert unmentioned(q, wuhai, "乌海日报 会议召开") > 0.3  # it never names Tongliao
    assert unmentioned(q, wuhai, "通辽日报 会议召开") == 0.0  # its paper does
    assert unmentioned(analyse("通遼市委書記是誰？"), wuhai, "通辽日报") == 0.0  # folded script
    assert unmentioned(analyse("Who is the party secretary of Tongliao?"), wuhai) == 0.0


def test_calibration_is_written_into_the_reader(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(READER_DIR, folder)
    records = [Record(s, s > 0.4, True) for s in np.linspace(0.05, 0.95, 40)]
    records += [Record(s, False, False) for s in np.linspace(0.02, 0.3, 40)]
    runtime = calibrate(folder, records, tmp_path / "trial.json")
    config = json.loads((folder / "reader.json").read_text())
    assert config["runtime"] == runtime and runtime["calibration"]["questions"] == 40
    assert 0.3 < runtime["abstain_threshold"] < 0.5  # between the wrong and the right scores
    assert "calibrate-reader" in (folder / "MODEL_CARD.md").read_text()
    # fewer questions without an answer in the archive: a lower score is enough to answer
    rare = calibrate(folder, records, tmp_path / "trial.json", unanswerable_share=0.1)
    assert rare["abstain_threshold"] < runtime["abstain_threshold"]
    assert rare["calibration"]["unanswerable_share"] == 0.1
    # wrong answers from passages that never mention what was asked about: such answers count
    # against a span, and the reader is told how much (its logit per unmentioned share)
    records = [Record(s, s > 0.4, True, 0.0) for s in np.linspace(0.05, 0.95, 40)]
    records += [Record(s, False, False, 0.8) for s in np.linspace(0.3, 0.9, 40)]
    weighed = calibrate(folder, records, tmp_path / "trial.json")
    assert weighed["calibration"]["absent"] < -1
    raw = [r.score for r in records]
    assert [r.score for r in adjusted(records, 0.0)] == pytest.approx(raw)
    assert all(a.score < r.score for a, r in zip(adjusted(records, -2.0), records, strict=True)
               if r.missing)


def test_collect_asks_with_and_without_the_passage(tmp_path):
    squad = {"data": [
        {"title": "煤矿", "paragraphs": [{"context": "平沟煤矿矿长邢永亮介绍了余热利用的改造过程。",
                                        "qas": [{"id": "1", "question": "谁是平沟煤矿的矿长？",
                                                 "answers": [{"text": "邢永亮", "answer_start": 6}]}]}]},
        {"title": "基站", "paragraphs": [{"context": "通辽市今年新建5G基站1207个，基本实现全覆盖。",
                                        "qas": [{"id": "2", "question": "通辽今年新建几个基站？",
                                                 "answers": [{"text": "1207个", "answer_start": 11}]}]}]},
    ]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(squad, ensure_ascii=False), "utf-8")
    stub = Stub("stub", {"谁是平沟煤矿的矿长？": ("邢永亮", 0.9), "通辽今年新建几个基站？": ("5G", 0.7)})
    records = collect(stub, path, Settings(model="qa.testing.fake:FakeEmbedder"), None, log=lambda _: None)
    assert len(records) == 4
    assert [r.answerable for r in records] == [True, False, True, False]
    assert records[0] == Record(0.9, True, True)  # the right name
    assert records[2].right is False  # "5G" is not the count asked for
    assert records[1].score == 0.0  # without its passage nothing holds the name


def test_ensemble_raises_agreement_and_keeps_disagreement():
    passage = "通辽市今年新建5G基站1207个，基本实现主城区全覆盖。"
    q = "通辽今年新建了多少个5G基站？"
    both = Ensemble(Stub("a", {q: ("1207个", 0.6)}), Stub("b", {q: ("1207", 0.5)}))
    spans = both.extract(q, [passage])
    assert [s.text for s in spans] == ["1207个", "1207"]  # the tie goes to the first's edges
    assert spans[0].score == spans[1].score == pytest.approx(1 - 0.4 * 0.5)  # evidence combined
    flipped = Ensemble(Stub("b", {q: ("1207", 0.5)}), Stub("a", {q: ("1207个", 0.6)}))
    assert [s.text for s in flipped.extract(q, [passage])] == ["1207", "1207个"]
    apart = Ensemble(Stub("a", {q: ("1207个", 0.6)}), Stub("b", {q: ("主城区", 0.5)}))
    spans = apart.extract(q, [passage])
    assert [(s.text, round(s.score, 2)) for s in spans] == [("1207个", 0.6), ("主城区", 0.5)]
    assert both.name == "a + b" and both.confidence(0.7) == 0.7


def test_agreement_means_the_same_answer_not_a_sentence_around_it():
    def span(a, b):
        return Span(0, a, b, "x" * (b - a), 0, 40, 0.5)

    assert agree(span(10, 14), span(10, 15))  # 1207 / 1207个
    assert not agree(span(10, 14), span(0, 30))  # a sentence that contains it
    assert not agree(span(10, 14), Span(1, 10, 14, "xxxx", 0, 40, 0.5))  # another passage


def test_a_part_of_a_long_gold_answer_is_right():
    clause = ["莫斯科公国在1303年控制了这座城镇"]
    assert is_right("1303年", clause)  # the fact asked for, said briefly
    assert is_right("莫斯科公国在1303年控制了这座城镇。", clause)
    assert not is_right("年", clause)  # too little to say anything
    assert not is_right("1304年", clause)
    assert not is_right("", clause)
