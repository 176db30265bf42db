"""Which of a sentence's figures a question asks for."""

from qa.answer.figure import BASIS, FLOW, asked, other_kind


def test_the_kind_of_figure_asked_is_read_from_the_question():
    assert asked("今年1至9月，乌海市的外贸出口额是多少？", FLOW) == "出口"
    assert asked("經港珠澳大橋珠海公路口岸的進出口總值是多少？", FLOW) == "进出口"  # Traditional
    assert asked("How much did China import in August?", FLOW) == "进口"
    assert asked("What was the total of imports and exports?", FLOW) == "进出口"
    assert asked("上半年外贸规模多大？", FLOW) is None  # none named
    assert asked("出口和进口分别增长多少？", FLOW) is None  # several
    assert asked("8月份CPI和去年同月相比涨了多少？", BASIS) == "同比"
    assert asked("一季度GDP比上季度增长多少？", BASIS) == "环比"
    assert asked("How much did CPI rise year on year in August?", BASIS) == "同比"
    assert asked("8月份CPI涨了多少？", BASIS) is None


def test_the_kind_asked_is_the_last_one_named_before_the_answer():
    exports = "今年前三季度，全国货物贸易进口总值多少？"
    total = "今年前三季度，全国货物贸易进出口总值32.33万亿元，其中出口18.62万亿元，进口"
    assert other_kind(exports, "今年前三季度，全国货物贸易进出口总值") == "进口"
    assert other_kind(exports, total[: total.index("18.62")]) == "进口"
    assert other_kind(exports, total) is None
    assert other_kind("出口额是多少？", "截至9月底，") is None  # nothing named: nothing to say
    assert other_kind("外贸规模多大？", "进出口总值") is None  # nothing asked
    cpi = "8月份，全国居民消费价格指数（CPI）环比上涨0.4%，继续保持上涨态势，同比上涨0.6%"
    question = "国家统计局发布的8月份CPI，和去年同月相比涨了多少？"
    assert other_kind(question, cpi[: cpi.index("0.4%")]) == "同比"
    assert other_kind(question, cpi[: cpi.index("0.6%")]) is None
    assert other_kind(question, "8月份CPI比上年同期上涨") is None  # 比上年同期 is 同比
