"""Page header fields in their common forms (qa.ingest.formats.header)."""

import pytest

from qa.ingest.formats.header import chinese_number, find_date, find_page, is_field, read_fields


@pytest.mark.parametrize(("text", "iso"), [
    ("2023年3月12日 星期日 第3版 要闻 责任编辑：王明", "2023-03-12"),
    ("2022-05-04 星期三", "2022-05-04"),
    ("2022.06.30 星期四", "2022-06-30"),
    ("2021/9/7 周二", "2021-09-07"),
    ("二〇二一年十一月十四日 星期日", "2021-11-14"),
    ("二〇二〇年二月二十九日", "2020-02-29"),
])
def test_dates_in_the_forms_headers_print(text, iso):
    assert find_date(text) == iso


def test_no_date_where_none_is_printed_or_the_day_cannot_be():
    assert find_date("第3版 要闻") is None
    assert find_date("2023年2月30日") is None
    assert find_date("总投资2023.5亿元") is None


@pytest.mark.parametrize(("text", "page", "section"), [
    ("第3版 要闻", "3", "要闻"),
    ("第十三版 社会", "13", "社会"),
    ("11版 综合新闻", "11", "综合新闻"),
    ("A14版·时事", "A14", "时事"),
    ("A03", "A3", None),
    ("2023年3月12日 星期日 第3版 要闻 责任编辑：王明", "3", "要闻"),
    ("第12版 綜合新聞", "12", "綜合新聞"),
])
def test_page_numbers_and_sections(text, page, section):
    assert find_page(text) == (page, section)


def test_numbers_in_chinese():
    assert [chinese_number(t) for t in ("三", "十", "十三", "二十", "二十一", "一〇三", "x")] == [
        3, 10, 13, 20, 21, 103, None]


def test_one_line_header_gives_every_field():
    meta = read_fields(["乌海日报", "2023年3月12日 星期日 第3版 要闻 责任编辑：王明"])
    assert (meta.newspaper, meta.date, meta.page, meta.section) == ("乌海日报", "2023-03-12", "3", "要闻")


def test_a_masthead_read_by_ocr_names_the_paper_only_where_it_reads_as_one():
    """On a scan the masthead's last character is misread now and then (乌海日报 as 乌海日汉):
    no name is better than a wrong one."""
    lines, sizes = ["乌海日汉", "2022-05-04 星期三", "11版"], [40.0, 9.5, 9.5]
    assert read_fields(lines, sizes, read_by_ocr=True).newspaper is None
    assert read_fields(lines, sizes).newspaper == "乌海日汉"  # a text layer prints what it names
    assert read_fields(["乌海日报", *lines[1:]], sizes, read_by_ocr=True).newspaper == "乌海日报"


def test_the_masthead_in_large_type_names_the_paper_whatever_its_name():
    meta = read_fields(["新闻晨钟", "2022-05-04 星期三", "11版"], sizes=[40.0, 9.5, 9.5])
    assert meta.newspaper == "新闻晨钟"
    assert read_fields(["新闻晨钟", "11版"], sizes=[10.0, 9.5]).newspaper is None  # not large


def test_a_paper_is_a_paper_name_not_any_word_ending_in_bao():
    assert read_fields(["江南都市報"]).newspaper == "江南都市報"
    assert read_fields(["国家卫生健康委通报"]).newspaper is None
    assert not is_field("国家卫生健康委通报")
    assert is_field("责任编辑：王明") and is_field("A03") and not is_field("习近平主持会议并讲话。")


def test_a_line_of_text_that_mentions_a_date_is_no_header():
    assert is_field("2023年3月12日 星期日 第3版 要闻 责任编辑：王明")
    assert not is_field("2023年1月1日出版的第1期《求是》")
    assert not is_field("2022年11月5日，时任")
