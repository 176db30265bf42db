"""The answer stage's confidence: fitted on answers asked of an archive, applied to its own
answerer family only, levels that say what they mean, and withholding where answers are wrong."""

from __future__ import annotations

import math
import random

import pytest

from qa.answer.confidence import SIGNALS, Calibration, family, fit, withhold_below
from qa.answer.pipeline import Archive
from qa.errors import ModelError
from tests.archives import build, open_archive


def test_the_runtime_is_not_part_of_the_family():
    assert family("reader (onnx int8) + rules") == "reader + rules"
    assert family("reader (torch bf16)") == "reader" and family("rules") == "rules"


def test_the_fit_recovers_a_known_model():
    rng = random.Random(7)
    truth = {"logit": 1.5, "agreeing": 0.8, "margin": 2.0}
    rows, right = [], []
    for _ in range(4000):
        row = {name: rng.uniform(-2, 2) for name in SIGNALS}
        z = -0.5 + sum(w * row[n] for n, w in truth.items())
        rows.append(row)
        right.append(rng.random() < 1 / (1 + math.exp(-z)))
    fitted = fit(rows, right, "reader + rules", "made up", l2=0.1)
    for name in SIGNALS:
        assert fitted.weights[name] == pytest.approx(truth.get(name, 0.0), abs=0.2), name
    assert fitted.bias == pytest.approx(-0.5, abs=0.2)
    assert 0.0 <= fitted.withhold_below <= 0.5


def test_answers_are_withheld_only_where_nearly_all_are_wrong():
    pairs = ([(p, False) for p in (0.04, 0.08, 0.12, 0.18, 0.22) for _ in range(10)]
             + [(0.28, True)] * 10 + [(0.45, n % 2 == 0) for n in range(10)]
             + [(0.6, True)] * 10 + [(0.9, True)] * 10)
    probabilities, right = zip(*pairs, strict=True)
    # below 0.25 all 50 are wrong; 0.25-0.3 is right: the cut stops where right answers start
    assert withhold_below(probabilities, right) == 0.25
    assert withhold_below([0.1, 0.2], [True, True]) == 0.0


def test_levels_mean_what_they_say():
    c = Calibration("rules", {}, 0.0, "made up")
    assert (c.level(0.95), c.level(0.9), c.level(0.7), c.level(0.59)) == \
        ("high", "high", "medium", "low")


def test_a_calibration_file_round_trips_and_a_broken_one_is_a_model_error(tmp_path):
    c = Calibration("rules", {"logit": 1.0, "margin": 2.0}, -0.5, "made up", 0.2)
    c.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json") == c
    assert Calibration.load(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text('{"answerer": "rules", "weights": {"shoe size": 1}, '
                                       '"bias": 0, "fitted_on": "?"}')
    with pytest.raises(ModelError, match="unknown signals"):
        Calibration.load(tmp_path / "bad.json")
    (tmp_path / "worse.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        Calibration.load(tmp_path / "worse.json")


def test_the_archive_calibrates_its_own_family_and_withholds_below_the_cut(tmp_path):
    settings = build(tmp_path, seeds=True)
    plain = open_archive(settings)
    question = "全市有多少家大型家政企业加入了家政服务行业协会？"
    answer = plain.ask(question)
    assert answer.text == "34家" and set(answer.signals) == set(SIGNALS)
    sure = Calibration(family(plain.answerer.name), {"margin": 0.0}, 5.0, "made up", 0.2)
    calibrated = Archive(settings, plain.store, plain.embedder, plain.answerer, sure).ask(question)
    assert calibrated.confidence == pytest.approx(1 / (1 + math.exp(-5.0)))
    assert calibrated.level == "high" and calibrated.text == "34家"
    doubtful = Calibration(family(plain.answerer.name), {}, -3.0, "made up", 0.2)
    withheld = Archive(settings, plain.store, plain.embedder, plain.answerer, doubtful).ask(question)
    assert withheld.abstained and withheld.text is None and withheld.citations
    other = Calibration("reader + rules", {}, -3.0, "made up", 0.2)  # another family: not applied
    kept = Archive(settings, plain.store, plain.embedder, plain.answerer, other).ask(question)
    assert (kept.text, kept.confidence, kept.level) == (answer.text, answer.confidence, answer.level)
