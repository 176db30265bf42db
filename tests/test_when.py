"""The time a question asks about, resolved against the day of asking."""

from datetime import date

import pytest

from qa.answer.when import absolute, period

ASKED = date(2024, 9, 30)


@pytest.mark.parametrize(("question", "label", "reports"), [
    ("今年暑运铁路发送旅客多少人次？", "今年（2024年）暑运", ("2024-06-16", "2024-09-30")),
    ("去年一年南方省份耕地增加多少亩？", "去年（2023年）", ("2022-11-01", "2024-09-30")),
    ("前年的粮食产量是多少？", "前年（2022年）", ("2021-11-01", "2023-12-31")),
    ("2023年国庆假期国内出游多少人次？", "2023年国庆", ("2023-09-16", "2024-04-30")),
    ("2024年一季度全国GDP同比增长多少？", "2024年一季度", ("2023-12-17", "2024-09-30")),
    ("2023年上半年外贸进出口总值是多少？", "2023年上半年", ("2022-12-17", "2023-12-31")),
    ("2022年前三季度的增速是多少？", "2022年前三季度", ("2021-12-17", "2023-03-31")),
    ("2023年1至5月新增贷款多少？", "2023年1-5月", ("2022-12-17", "2023-11-30")),
    ("去年的春节假期全国出游多少人次？", "去年（2023年）春节", ("2022-12-26", "2023-08-31")),
    ("How much did exports grow in the first quarter of 2024?", "2024年第1季度",
     ("2023-12-17", "2024-09-30")),
    ("What was the total in the first half of 2023?", "2023年上半年", ("2022-12-17", "2023-12-31")),
    ("截至2024年6月底，全国有多少个5G基站？", "截至2024年6月", ("", "2024-07-31")),
    ("截至去年底，全市有多少家企业？", "截至去年（2023年）", ("", "2024-03-31")),
    ("截至2022年，累计建成多少公里高速？", "截至2022年", ("", "2023-03-31")),
    ("On May 2, 2023, how many flights were planned?", "2023年5月2日", ("2023-04-17", "2023-11-30")),
    ("As of November 15, 2023, how many compounds were renovated?", "截至2023年11月15日",
     ("", "2023-11-15")),
    ("Who spoke in Hong Kong in May 2023?", "2023年5月", ("2023-04-16", "2023-11-30")),
    ("2022年以来召开部务会多少次？", "2022年以来", ("2021-12-17", "2024-09-30")),
    ("上个月CPI同比涨了多少？", "上个月（2024年8月）", ("2024-07-17", "2024-09-30")),
    ("本月新开工多少个项目？", "本月（2024年9月）", ("2024-08-17", "2024-09-30")),
    ("今年3月出口多少？", "今年3月（2024年）", ("2024-02-15", "2024-09-30")),
    ("2023年10月8日公布的数据是多少？", "2023年10月", ("2023-09-16", "2024-04-30")),
    ("How many visitors came in 2023?", "2023年", ("2022-11-01", "2024-09-30")),
    ("How much did China export last year?", "last year（2023年）", ("2022-11-01", "2024-09-30")),
    ("今年前8个月进口总额是多少？", "今年（2024年）1-8月", ("2023-12-17", "2024-09-30")),
    ("2023年“五一”假期出游多少人次？", "2023年五一", ("2023-04-16", "2023-11-30")),
    ("今年头三个月，铁路发送旅客多少人次？", "今年（2024年）1-3月", ("2023-12-17", "2024-09-30")),
    ("2023年前十一个月外贸增长了多少？", "2023年1-11月", ("2022-12-17", "2024-05-31")),
    ("去年前兩個月出口多少？", "去年（2023年）1-2月", ("2022-12-17", "2023-08-31")),
    # the year a figure is compared with is not the time asked, unless it is the only one
    ("2023年一季度GDP比上年同期增长了多少？", "2023年一季度", ("2022-12-17", "2023-09-30")),
    ("今年上半年出口较去年增长多少？", "今年（2024年）上半年", ("2023-12-17", "2024-09-30")),
    ("去年同期全国出游多少人次？", "去年（2023年）", ("2022-11-01", "2024-09-30")),
    ("2023年比2022年增长了多少？", "2023年", ("2022-11-01", "2024-09-30")),
    ("During the 2023 May Day holiday, how many visitors came?", "2023年五一",
     ("2023-04-16", "2023-11-30")),
    ("How many trips were made in the National Day holiday of 2023?", "2023年国庆",
     ("2023-09-16", "2024-04-30")),
])
def test_a_time_named_is_resolved_and_gives_the_reports_about_it(question, label, reports):
    p = period(question, ASKED)
    assert p is not None and p.label == label and p.reports(ASKED) == reports


@pytest.mark.parametrize("question", [
    "国歌法是哪一天立法通过的？",  # no time
    "2022年和2023年的产量分别是多少？",  # two times: not narrowed
    "上世纪90年代这里是什么样子？",  # a decade
    "今年和去年的出口各是多少？",
])
def test_no_time_or_several_times_are_not_narrowed(question):
    assert period(question, ASKED) is None


@pytest.mark.parametrize(("question", "label", "reports"), [
    ("2019年至2023年累计新建多少公里？", "2019—2023年", ("2018-11-01", "2024-09-30")),
    ("按照新公布的2024—2050年规划，望远镜口径多大？", "2024—2050年", ("2023-11-01", "2024-09-30")),
    # a year still to come is asked about in its plans, made in the year before it
    ("2025年哈尔滨亚冬会将派出多少名运动员？", "2025年", ("2024-01-01", "2025-01-01")),
])
def test_a_span_of_years_or_a_year_to_come_gives_the_reports_about_it(question, label, reports):
    p = period(question, ASKED)
    assert p is not None and p.label == label and p.reports(ASKED) == reports


def test_a_year_asked_in_its_own_time_reaches_no_later_than_the_day_of_asking():
    assert period("今年的目标是多少？", date(2022, 3, 15)).reports(date(2022, 3, 15)) == \
        ("2021-11-01", "2022-03-15")


@pytest.mark.parametrize(("text", "meant"), [
    ("今天（6月1日）", "2024-06-01"), ("昨天", "2024-06-01"), ("本月10日", "2024-06-10"),
    ("上月28日", "2024-05-28"), ("6月1日", "2024-06-01"), ("明年", "2025年"),
    ("2025年", None), ("三年", None), ("128万人次", None),
])
def test_a_relative_date_in_an_answer_is_read_from_its_reports_day(text, meant):
    assert absolute(text, "2024-06-02") == meant


def test_an_undated_report_resolves_nothing():
    assert absolute("今天", None) is None and absolute("今天", "not a date") is None
