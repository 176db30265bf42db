"""CMRC 2018 EM/F1 and retrieval metrics against hand-computed values."""

import math

import pytest

from qa.eval import metrics


def test_mixed_segmentation_splits_chinese_and_keeps_words():
    assert metrics.mixed_segmentation("Kaji Dha卡基达") == ["kaji", "dha", "卡", "基", "达"]
    assert metrics.mixed_segmentation("近200万元") == ["近", "200", "万", "元"]
    assert metrics.mixed_segmentation("《三体》，刘慈欣", remove_punctuation=True) == list("三体刘慈欣")
    # ASCII punctuation is not in the official list: it stays a token
    assert metrics.mixed_segmentation("hello, world") == ["hello", ",", "world"]


def test_exact_match_ignores_punctuation_and_case():
    assert metrics.exact_match("296个", ["296个"]) == 1.0
    assert metrics.exact_match("《三体》", ["三体"]) == 1.0
    assert metrics.exact_match("DQ", ["dq"]) == 1.0
    assert metrics.exact_match("296", ["296个"]) == 0.0
    assert metrics.exact_match("200万元", ["近200万元", "200万元"]) == 1.0


def test_f1_by_hand():
    # gold 200|万|元 (3 tokens), prediction 近|200|万|元 (4): overlap 3, P 3/4, R 1
    assert metrics.f1("近200万元", ["200万元"]) == pytest.approx(2 * 0.75 / 1.75)
    # the overlap is the longest common *contiguous* run: 丙丁 (2), not 甲丙丁
    p, r = 2 / 4, 2 / 3
    assert metrics.f1("甲乙丙丁", ["甲丙丁"]) == pytest.approx(2 * p * r / (p + r))
    assert metrics.f1("唐毅", ["唐毅"]) == 1.0
    assert metrics.f1("杨进", ["唐毅"]) == 0.0
    # best over the gold answers
    assert metrics.f1("现代煤化工", ["硅基新材料", "现代煤化工、硅基新材料"]) == pytest.approx(
        2 * (5 / 5) * (5 / 10) / (1 + 5 / 10)
    )
    assert metrics.f1("", ["唐毅"]) == 0.0


def test_unanswerable_matches_only_an_empty_prediction():
    assert metrics.exact_match("", []) == 1.0
    assert metrics.f1("唐毅", []) == 0.0


def test_retrieval_metrics():
    ranks = [1, 3, None, 2]
    assert metrics.recall_at(ranks, 1) == 0.25
    assert metrics.recall_at(ranks, 5) == 0.75
    assert metrics.mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert metrics.recall_at([], 5) == 0.0


def test_percentile_interpolates_like_numpy():
    assert metrics.percentile([4, 1, 3, 2], 50) == 2.5
    assert metrics.percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert metrics.percentile([7.0], 95) == 7.0
    assert math.isnan(metrics.percentile([], 50))
