"""Whom or where a question is about (qa.answer.subject)."""

import pytest

from qa.answer.subject import about, about_china, abroad, elsewhere, subjects


@pytest.mark.parametrize(("question", "found"), [
    ("今年上半年浙江省外贸进出口总值是多少？", ("浙江",)),
    ("廣東省今年GDP是多少？", ("广东",)),  # Traditional script
    ("What was Zhejiang's foreign trade in the first half?", ("浙江",)),
    ("通辽市2023年选派了多少名驻村干部？", ("通辽",)),
    ("在呼和浩特市举办的展会有多少家企业参加？", ("呼和浩特",)),
    ("第137屆廣交會開幕前，4月以來廣州口岸平均每天有多少人次出入境？", ("第137届",)),
    ("中国农业大学的第一个科技小院是在哪个县成立的？", ()),  # 哪个县 names no place
    ("全市有多少家大型家政企业？", ()),
    ("2023年国庆假期全国国内出游多少人次？", ()),
    ("2023年一季度上交所上市公司的營業收入同比增長了多少？", ("上交所",)),
    ("上海证券交易所上市公司营业收入是多少？", ("上交所",)),  # the exchange, not the city
    ("How much did Shenzhen Stock Exchange listed firms earn in Guangdong?", ("深交所", "广东")),
])
def test_the_places_and_editions_a_question_names(question, found):
    assert subjects(question) == found


def test_a_passage_is_about_them_when_it_or_its_headline_names_each():
    assert about(("浙江",), "浙江外贸保持增长 今年上半年，浙江省外贸进出口总值2.35万亿元")
    assert not about(("浙江",), "长三角外贸 今年上半年，其中上海市进出口2.55万亿元")
    assert about(("第137届",), "第 137 届广交会开幕") and not about(("第137届",), "第139届广交会")
    assert about((), "anything at all\ud800")  # nothing asked: every passage may answer


def test_the_sentence_of_an_answer_may_be_about_somewhere_else():
    assert elsewhere(("上海",), "今年一季度，全国共1.85亿人次出入境，同比上升13.5%；")
    assert elsewhere(("浙江",), "其中上海市进出口2.55万亿元。")
    assert not elsewhere(("上海",), "上海口岸出入境人员达1020万人次。")
    assert not elsewhere(("浙江",), "全省外贸进出口总值2.35万亿元。")  # the province itself
    assert not elsewhere((), "全国共1.85亿人次出入境。")  # nothing asked
    assert not elsewhere(("第137届",), "全国各地采购商到场。")  # an edition, not a place


def test_a_question_about_china_is_not_answered_from_a_sentence_about_a_country_abroad():
    assert about_china("国家统计局最近公布的月度CPI同比涨了多少？")
    assert about_china("What is China's official manufacturing PMI?")
    assert not about_china("我国对美国出口多少？")  # it names the country abroad itself
    assert not about_china("月度CPI同比涨了多少？")  # names no country
    assert abroad("英国国家统计局24日发布的数据显示，英国4月CPI同比上涨8.7%。")
    assert not abroad("全国居民消费价格指数同比上涨1.0%。")
    assert not abroad("中美双方同意降低关税。")  # China and its partner
    assert not abroad("国家统计局今天发布数据，CPI同比上涨0.1%。")


def test_one_exchange_is_not_another():
    assert elsewhere(("上交所",), "深交所上市公司一季度营业收入同比增长5.2%。")
    assert not elsewhere(("上交所",), "上海证券交易所上市公司一季度营业收入同比增长4.8%。")
    assert about(("上交所",), "沪市年报 上海证券交易所上市公司一季度营业收入同比增长4.8%")
    assert not about(("上交所",), "深市年报 深交所上市公司一季度营业收入同比增长5.2%")
    assert about(("上海",), "上海证券交易所上市公司")  # the city is named by it too

