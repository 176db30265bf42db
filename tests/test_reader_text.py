"""The readers' torch-free pieces: batching, answer location, measure words, answer kinds."""

from __future__ import annotations

from qa.index.lexical import simplified
from qa.reader.measure import asked_value, complete_count
from qa.reader.question import analyse, another_measure, fits
from qa.reader.shape import shaped
from qa.train.data import locate
from qa.train.features import Features, batches, group_batches, question_groups
from qa.types import Span


def test_batches_group_similar_lengths_and_cover_the_epoch():
    lengths = [10 + (i * 37) % 240 for i in range(1000)]
    epoch = batches(lengths, 16, seed=1, epoch=0)
    assert sorted(i for b in epoch for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch) / len(epoch)
    assert spread < 20  # random batches of 16 spread over ~200 tokens
    assert epoch == batches(lengths, 16, seed=1, epoch=0)  # resumable: same order again
    assert epoch != batches(lengths, 16, seed=1, epoch=1)


def test_answer_location_and_folding():
    assert locate("甲乙丙乙丙", "乙丙", 3) == 3
    assert locate("甲乙丙乙丙", "乙丙", 4) == 3  # wrong start: the nearest occurrence
    assert locate("甲乙丙乙丙", "乙丙", -1) == 1
    assert locate("甲乙丙", "丁", -1) == -1
    assert simplified("臺灣的國語") == "台湾的国语"
    assert len(simplified("乾隆年間")) == len("乾隆年間")


def test_numbers_keep_their_measure_word():
    text = ("通辽新建5G基站1207个，这是她的第18个春节。日供气28000标立方米/小时，"
            "悬赏1000万美元，很多人来了，於5月20日開幕，共3個。全年接待游客2.3亿人次。考察队460多人。加开列车896列，起降15878架次，占比达80%以上。以下简称。")
    span = lambda a, b: Span(0, a, b, text[a:b], 0, len(text), 0.5)  # noqa: E731

    def read(question: str, words: str, upto: int | None = None) -> str:
        i = text.index(words)
        return complete_count(question, text, span(i, i + (upto or len(words)))).text

    assert read("新建了多少个5G基站？", "1207") == "1207个"
    assert read("新建了多少个5G基站？", "1207个") == "1207个"
    assert read("日供气多少？", "28000") == "28000标立方米/小时"
    assert read("悬赏多少？", "1000万", 4) == "1000万美元"
    assert read("是第几个春节？", "18个", 3) == "第18个"
    assert read("是哪个春节？", "18个", 2) == "18个"  # 第 only when the question asks 第几
    assert read("谁来了？", "很多") == "很多"  # no numeral, no unit
    assert read("哪天開幕？", "5月20") == "5月20日"
    assert read("共幾個？", "3") == "3個"
    assert read("在哪建基站？", "通辽") == "通辽"
    assert read("接待游客多少人次？", "2.3亿人") == "2.3亿人次"  # a measure word cut short
    assert read("接待游客多少？", "2.3亿") == "2.3亿人次"
    assert read("很多人来了吗？", "很多人") == "很多人"  # no numeral: nothing added
    assert read("考察队有多少人？", "460") == "460多人"  # 多 between the number and its unit
    assert read("增开了几趟客车？", "896") == "896列"  # a measure word other than the one asked
    assert read("有多少班航班？", "15878") == "15878架次"
    assert read("占比达到多少？", "80%以上", 3) == "80%以上"  # a bound is the value's own
    assert read("占比达到多少？", "80%以上", 2) == "80%以上"
    assert read("占比在百分之多少以上？", "80%以上", 3) == "80%"  # the question says it already


def test_a_span_takes_the_shape_of_the_answer_asked():
    def shape(question: str, passage: str, text: str) -> str:
        at = passage.index(text)
        span = Span(0, at, at + len(text), text, 0, len(passage), 0.5)
        got = shaped(question, analyse(question), [passage], [span])[0]
        assert passage[got.start:got.end] == got.text
        return got.text

    bridge = "分界线为G75兰海高速钦江大桥桥面南侧边缘的垂直投影线。"
    assert shape("是以哪座桥作为基准的？", bridge, "G75兰海高速钦江大桥桥面南侧边缘的垂直投影线") == \
        "G75兰海高速钦江大桥"
    field = "项目位于海南岛海域的东方1-1气田，"
    assert shape("项目在哪个气田？", field, "海南岛海域的东方1-1气田") == "东方1-1气田"
    exchange = "交易在大连石油交易所完成。"
    assert shape("是在哪家交易所完成的？", exchange, "大连石油交易") == "大连石油交易所"
    assert shape("在哪个单位工作？", exchange, "大连石油交易") == "大连石油交易"  # no noun to go by
    assert shape("他是哪家漫画公司的人物？", "他是DC漫画公司的人物。", "DC漫画公司") == "DC漫画公司"
    review = "委托中国劳动关系学院对法律实施情况进行第三方评估。"
    assert shape("第三方评估交给了哪家机构？", review, "委托中国劳动关系学院") == "中国劳动关系学院"
    assert shape("由哪个部门负责？", "由省里负责。", "由省里") == "由省里"  # no name after it
    award = "最佳导演奖由程耳凭借影片《无名》获得。"
    assert shape("最佳导演奖颁给了谁？", award, "程耳凭借影片《无名》") == "程耳"
    assert shape("谁获奖了？", "获奖的是克里希纳·斯里尼瓦桑。", "克里希纳·斯里尼瓦桑") == "克里希纳·斯里尼瓦桑"


def test_an_answer_fits_the_kind_asked_for():
    assert fits("帮扶了多少家企业？", "129家") and fits("帮扶了多少家企业？", "129家企业")
    assert not fits("帮扶了多少家企业？", "7个") and not fits("帮扶了多少家企业？", "俞忠波")
    assert fits("建了多少个月？", "3个月") and fits("规模是多少？", "28000标立方米/小时")
    assert fits("How many workers stayed?", "763名")
    assert not fits("How many China–Europe Railway Express trains ran?", "1870万人次")
    assert fits("How many China–Europe Railway Express trains ran?", "4600列")
    assert fits("办结的比例是多少？", "18.8%") and not fits("办结的比例是多少？", "27个")
    assert fits("男女生比例是多少？", "1：7") and fits("男女生比例是多少？", "约为1比7")
    assert fits("占地面积有多大？", "300平方米") and not fits("占地面积有多大？", "3个")
    assert fits("谁是矿长？", "邢永亮") and not fits("谁是矿长？", "2023年")
    assert fits("哪一年成立？", "1995年") and not fits("哪一年成立？", "北京")
    assert fits("为什么要改革？", "因为效率太低")  # clauses are not checked


def test_an_answer_in_another_measure_is_told_from_a_count_in_another_word():
    assert another_measure("今年投产的联网工程总投资是多少？", "177.5公里")
    assert another_measure("逆回购操作利率是多少？", "0.2个百分点")
    assert another_measure("How many China-Europe freight trains ran?", "1870万人次")
    assert another_measure("帮扶了多少家企业？", "7个")
    assert not another_measure("清单里已经有多少个事项？", "583项")  # 个 is the general word
    assert not another_measure("清单里已经有多少个事项？", "583个")
    assert not another_measure("谁是矿长？", "2023年")  # only measure questions
    assert another_measure("一共有多少只野生大熊猫？", "70%以上")  # a bound hides no measure
    assert not another_measure("每天平均有多少人次？", "5万人次以上")


def test_what_is_asked_is_read_in_the_clause_of_the_question_word():
    asked = "2012年以来单位GDP能耗累计降幅超过26%，这折合节约了多少标准煤？"
    assert analyse(asked).clause == "这折合节约了多少标准煤"
    assert fits(asked, "14亿吨标准煤") and fits(asked, "14亿吨")  # 降幅 is the context, not asked
    assert not fits("能耗降幅是多少？", "14亿吨")
    assert analyse("2,173家企业中，有多少家获得补贴？").clause == "有多少家获得补贴"


def test_a_change_asked_takes_a_percentage():
    # 收入 and 价格 ask for money, 增长了多少 for how much it grew: a percentage says that
    assert fits("一季度营业收入同比增长了多少？", "5.2%") and fits("一季度营业收入同比增长了多少？", "3.1亿元")
    assert fits("按不变价格计算，GDP比上年同期增长了多少？", "5.4%")
    assert not fits("营业收入是多少？", "5.2%") and not fits("增加了多少家企业？", "5%")
    assert fits("By how much did retail sales grow in April?", "5.1%")


def test_an_english_question_counts_in_the_chinese_word_for_what_it_names():
    assert not fits("How many China-Europe freight trains ran in the first quarter?", "1870万人次")
    assert fits("How many China-Europe freight trains ran in the first quarter?", "4500列")
    assert fits("How many visitors came during the holiday?", "48.1万人次")
    assert not fits("How many companies did the window help?", "65万元")
    assert fits("How many companies did the window help?", "129家")
    assert not fits("How much investment did the projects draw?", "101个")


def test_a_number_question_gets_the_value_it_asks_for():
    def value(question: str, text: str) -> str:
        passage = "据介绍，" + text + "。"
        span = Span(0, 4, 4 + len(text), text, 0, len(passage), 0.5)
        got = asked_value(question, span, lambda found: fits(question, found))
        assert passage[got.start:got.end] == got.text  # offsets still point into the passage
        return got.text

    assert value("旅行时间缩短到多少？", "3个多小时缩短至40分钟") == "40分钟"
    assert value("上限调高到多少？", "1万元上调至2万元") == "2万元"
    assert value("日产量下调至多少？", "145万桶下调至130万桶") == "130万桶"
    assert value("原来是多少个？", "从702个增加到1000个") == "从702个增加到1000个"  # the old one asked
    assert value("最快要多长时间？", "1小时18分可达，昆明至香格里拉最快4个半小时") == "1小时18分"
    assert value("一季度发电多少？", "4.17亿吨，同比增长4.1%") == "4.17亿吨"
    assert value("两地相距多少公里？", "北京至上海1318公里") == "1318公里"  # words before the value
    assert value("一次最多能开多长时间的药？", "最长开具不超过12周") == "12周"
    assert value("如今只剩下多少项？", "从2013年的190项减少到现在的27项") == "27项"
    # a change in the clause chosen, after a clause that leads into it
    assert value("如今只剩下多少项？", "负面清单七次瘦身，从2013年的190项减少到现在的27项") == "27项"
    assert value("游客有多少？", "约3200元") == "约3200元"  # a qualifier is the value's own
    assert value("人口密度是多少？", "每平方公里69670人") == "每平方公里69670人"  # a unit's 每
    assert value("航班号是多少？", "MU9191") == "MU9191"  # a code's letters
    assert value("是第几个？", "全国第27个") == "第27个"
    assert value("总额是多少？", "总额超11万亿元") == "超11万亿元"
    assert value("有多少人？", "460多人") == "460多人"
    assert value("考察队有多少人？", "460多人组成，考察将历时5个多月") == "460多人"  # the whole value
    assert value("占比提高到多少？", "占比由十年前的不到20%提高到去年的80%以上") == "80%以上"
    assert value("占比达到多少？", "占比达80%以上，居全国首位") == "80%以上"
    assert value("办结的比例是多少？", "27个,办结率为18.8%") == "18.8%"  # the clause that fits
    assert value("一共有多少个坐席？", "2,173个坐席") == "2,173个坐席"  # a thousands comma
    assert value("生长在海拔多高的地方？", "海拔100米至2,800米的地区") == "海拔100米至2,800米的地区"


def test_hard_negatives_are_passages_of_the_same_set_that_lack_the_answer():
    from qa.datasets import Example
    from qa.train.negatives import hard_negatives

    rain = "乌海市今年降雨量达到180毫米，比去年多三成。"
    rain_last_year = "乌海市去年降雨量为138毫米，低于常年。"
    snow = "通辽市今冬降雪偏多，积雪最深处20厘米。"
    examples = [Example("乌海市今年降雨量是多少？", rain, rain.index("180"), "180毫米"),
                Example("通辽积雪最深多少？", snow, snow.index("20厘米"), "20厘米"),
                Example("无关问题", rain_last_year, -1, "")]
    found = hard_negatives(examples, 1)
    # the other year's report is the closest passage without the answer
    assert (0, Example("乌海市今年降雨量是多少？", rain_last_year, -1, "")) in found
    assert all(e.start == -1 and e.text == "" for _, e in found)
    assert all(examples[owner].question == e.question for owner, e in found)
    assert not any(e.context == rain and e.question.startswith("乌海") for _, e in found)
    assert hard_negatives(examples, 0) == []


def test_a_questions_windows_are_trained_together_whole_in_one_batch():
    # question 0: windows 0-2 of its passage (the answer in 1) and 5 of a hard negative;
    # question 1: windows 3-4, no answer; question 2: window 6
    owners = [0, 0, 0, 1, 1, 0, 2]
    starts = [0, 7, 0, 0, 0, 0, 4]
    features = Features([[1] * (10 + i) for i in range(7)], starts, starts, owners)
    groups = question_groups(features, 3, seed=5)
    assert len(groups) == 3 and groups[1] == [3, 4] and groups[2] == [6]
    assert 1 in groups[0] and len(groups[0]) == 3
    assert {owners[i] for i in groups[0]} == {0}
    assert question_groups(features, 3, seed=5) == groups  # reproducible
    lengths = [len(x) for x in features.input_ids]
    epoch = group_batches(groups, lengths, 4, seed=1, epoch=0)
    # 4 windows a batch at 2 windows a question on average: 2 questions a batch
    assert [len(b) for b in epoch] == [2, 1] or [len(b) for b in epoch] == [1, 2]
    assert sorted(map(sorted, (g for b in epoch for g in b))) == sorted(map(sorted, groups))
    assert len(group_batches(groups, lengths, 4, seed=1, epoch=1)) == len(epoch)


def test_bf16_autocast_only_where_it_is_native(monkeypatch):
    from qa.reader import torch_reader
    from qa.train.config import native_bf16

    monkeypatch.setattr(torch_reader, "bf16_supported", lambda: False)
    assert not native_bf16("cpu") and native_bf16("cuda")  # emulated bf16 is many times slower
    monkeypatch.setattr(torch_reader, "bf16_supported", lambda: True)
    assert native_bf16("cpu")


def test_the_value_of_a_list_is_the_one_whose_thing_the_question_names():
    from qa.reader.base import sentences
    from qa.reader.listed import listed_value

    def listed(question: str, passage: str, marked: str) -> str:
        at = passage.index(marked)
        lo, hi = next((a, b) for a, b in sentences(passage) if a <= at < b)
        got = listed_value(question, passage, Span(0, at, at + len(marked), marked, lo, hi, 0.5))
        assert passage[got.start:got.end] == got.text
        return got.text

    power = "今年上半年，全省装机稳步增长，其中光伏和风电装机分别增长25.6%和18.2%。"
    assert listed("风电装机增长了多少？", power, "25.6%") == "18.2%"
    assert listed("光伏装机增长了多少？", power, "25.6%和18.2%") == "25.6%"
    assert listed("装机增长了多少？", power, "25.6%") == "25.6%"  # neither named
    total = "今年上半年，全省新能源装机增长21.4%，其中光伏和风电装机分别增长25.6%和18.2%。"
    assert listed("风电装机增长了多少？", total, "21.4%") == "18.2%"  # the group's total marked
    assert listed("新能源装机增长了多少？", total, "21.4%") == "21.4%"
    fields = "全省新增3个大油田、5个大气田，新增储量石油7亿吨、天然气9千亿立方米，分别增长约30%和20%。"
    kind = lambda text: fits("新增的储量上千亿立方米的大气田有几个？", text)  # noqa: E731
    at = fields.index("5个")
    lo, hi = next((a, b) for a, b in sentences(fields) if a <= at < b)
    count = Span(0, at, at + 2, "5个", lo, hi, 0.5)
    assert listed_value("新增的储量上千亿立方米的大气田有几个？", fields, count, kind) == count
    crops = "全省粮食、油料、蔬菜产量稳步增长，三项指标分别达到610亿斤、56万吨和1.2亿吨。"
    assert listed("全省油料产量达到多少？", crops, "610亿斤、56万吨和1.2亿吨") == "56万吨"
    birds = "湿地保护成效明显，白鹤、丹顶鹤数量分别从300只、120只增长到480只、150只左右。"
    assert listed("丹顶鹤现在有多少只？", birds, "480只") == "150只左右"
    assert listed("丹顶鹤原来有多少只？", birds, "480只") == "120只"
    assert listed("湿地保护区有多少只鸟？", birds, "300只") == "300只"


def test_the_old_value_of_a_change_gives_way_to_the_new_one_asked():
    from qa.reader.measure import new_of_change

    def moved(question: str, passage: str, marked: str) -> str:
        at = passage.index(marked)
        got = new_of_change(question, passage, Span(0, at, at + len(marked), marked, 0,
                                                    len(passage), 0.5))
        assert passage[got.start:got.end] == got.text
        return got.text

    loans = "再贷款的比例从贷款本金的60%提升到100%，首付比例降至15%。"
    assert moved("再贷款比例现在占贷款本金的多少？", loans, "60%") == "100%"
    assert moved("再贷款比例原来占贷款本金的多少？", loans, "60%") == "60%"  # the old one asked
    assert moved("首付比例是多少？", loans, "15%") == "15%"  # no change after it
    funds = "投入资金占比由原来的5%提高到20%以上，累计投入近90亿元。"
    assert moved("投入资金占比提高到了多少？", funds, "5%") == "20%以上"
