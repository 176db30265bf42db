import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import main
from qa.ingest.articles import article_json, format_report, ingest_file, ingest_paths
from qa.ingest.decode import decode
from qa.ingest.normalize import fix_spaces, split_long
from qa.settings import Settings
from tests.seeds import CORPUS

SEEDS = {p.name[:3]: p for p in CORPUS.glob("*.txt")}
HAN_SPACE_HAN = re.compile(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]")
FURNITURE = ("责任编辑", "审校", "制图", "机关报", "下转第二版", "上接第一版", "星期二", "（刘洋）",
             "(杨正芳)", "（路静 摄）", "查看原文", "<p>", "**", "##")


@pytest.fixture(scope="module")
def seeds():
    return {key: ingest_file(path) for key, path in SEEDS.items()}


def _paragraphs(result):
    return [p for a in result.articles for p in a.paragraphs]


@pytest.mark.parametrize(("seed", "low", "high"), [
    ("000", 6, 8), ("001", 7, 9), ("002", 6, 6), ("003", 8, 10), ("004", 8, 8)])
def test_article_counts(seeds, seed, low, high):
    result = seeds[seed]
    assert result.error is None
    assert low <= len(result.articles) <= high


def test_markdown_headlines_are_exact(seeds):
    assert [a.title for a in seeds["002"].articles] == [
        "聚焦“五个着力” 助推党建和业务工作深度融合", "环卫工人坚守岗位 保“春洁”",
        "守一方平安 护万家灯火", "学习党的 二十大精神", "乌达区公安分局确保春节期间辖区安全稳定",
        "向市民送上春节祝福"]
    assert seeds["002"].articles[0].subtitle == "市委组织部推动机关党建高质量发展纪实"
    assert [a.title for a in seeds["004"].articles] == [
        "我市多措并举深入开展乡村振兴工作", "我市工业生产持续向好", "我市投资延续高增态势",
        "我市新建5G基站1207个", "霍林郭勒市委党校:聚焦主责主业", "开鲁县人社局优化营商环境 提升服务效能",
        "孙忠国:奉献不言苦 在平凡中闪光", "迟红蕾:心系社区 为民代言"]
    assert seeds["004"].articles[0].byline == "记者 李娜"


@pytest.mark.parametrize(("seed", "sentence"), [
    ("000", "以更高标准和实际行动学习宣传贯彻党的二十大精神，通过专题学习"),  # split by a blank line
    ("000", "将把对党的二十大精神的学习领悟内化为坚定信仰"),
    ("000", "两套PTMEG装置"),  # a Latin word hyphenated at a line end
    ("002", "同步推进线上学习,利用公务员在线学习网"),
    ("002", "了解工业经济发展现状,切实提高组织生活吸引力"),
    ("001", "学习不能仅停留在记住一些概念和提法"),  # stray print-break spaces
    ("004", "深入开展理论研究,积极做好宣讲宣传"),  # a heading dropped mid-sentence
])
def test_broken_sentences_sit_in_one_paragraph(seeds, seed, sentence):
    assert any(sentence in p.text for p in _paragraphs(seeds[seed]))


def test_paragraphs_are_clean(seeds):
    for result in seeds.values():
        for p in _paragraphs(result):
            assert not HAN_SPACE_HAN.search(p.text), p.text
            assert not any(f in p.text for f in FURNITURE), p.text
            assert sum(ch.isalnum() for ch in p.text) >= 8
            assert len(p.text) <= Settings().max_paragraph_chars + 40


def test_page_metadata(seeds):
    a = seeds["003"].articles[0]
    assert (a.date, a.page, a.section, a.newspaper) == ("2022-11-22", "3", "经济", "乌海日报")
    assert {a.newspaper for a in seeds["004"].articles} == {"通辽日报"}  # from corpus/catalog.csv
    assert any(a.byline == "刘洋" for a in seeds["000"].articles)  # closing byline （刘洋）


def test_headline_printed_after_its_story(seeds):
    titles = {a.title: a for a in seeds["000"].articles}
    assert "华恒能源项目建设有序推进" in titles
    assert "28000标立方米" in titles["华恒能源项目建设有序推进"].paragraphs[1].text
    story = titles["更好满足人民日益增长的美好生活需要"]
    assert "刘德翠" in story.subtitle and story.byline == "本报记者 黄建飞"


def test_positions_point_at_the_source(seeds):
    squash = re.compile(r"[\s\-]")
    for key in ("000", "001", "003"):
        text = SEEDS[key].read_text("utf-8")
        lines = text.splitlines()
        for p in _paragraphs(seeds[key]):
            cited = squash.sub("", "".join(lines[p.line_start - 1 : p.line_end]))
            assert squash.sub("", p.text) in cited
            assert squash.sub("", text[p.char_start : p.char_end]).startswith(squash.sub("", p.text)[:4])


def test_ids_are_stable_and_unique(seeds):
    again = ingest_file(SEEDS["000"])
    assert [a.id for a in again.articles] == [a.id for a in seeds["000"].articles]
    ids = [a.id for r in seeds.values() for a in r.articles]
    assert len(ids) == len(set(ids))
    assert all(p.article_id == a.id for a in again.articles for p in a.paragraphs)


def test_long_paragraphs_split_at_sentence_ends():
    result = ingest_file(SEEDS["001"], settings=Settings(max_paragraph_chars=120))
    pieces = _paragraphs(result)
    assert all(len(p.text) <= 132 for p in pieces)
    assert sum(p.text[-1] in "。；;！？”\"" for p in pieces) > 0.8 * len(pieces)


@pytest.mark.parametrize(("encoding", "text"), [
    ("gbk", "近日，乌海市召开经济工作会议，研究部署下一步工作。会议强调，要坚持稳中求进工作总基调。"),
    ("big5", "臺灣經濟部今天發表報告，說明產業發展與國際貿易的最新情況。報告指出，出口穩定成長。"),
    ("utf-16", "通辽市新建5G基站1207个，基本实现了主城区全覆盖。"),
    ("utf-8-sig", "通辽市新建5G基站1207个，基本实现了主城区全覆盖。"),
])
def test_encodings(tmp_path, encoding, text):
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    result = ingest_file(path)
    assert result.error is None
    assert result.articles[0].paragraphs[0].text == text
    assert result.encoding == {"gbk": "gb18030"}.get(encoding, encoding)


def test_big5_bytes_that_also_decode_as_gbk_are_read_as_big5():
    data = "臺灣經濟部今天發表報告，說明產業發展與國際貿易的最新情況。".encode("big5")
    data.decode("gb18030")  # valid GBK too: only the scoring tells them apart
    assert decode(data) == ("臺灣經濟部今天發表報告，說明產業發展與國際貿易的最新情況。", "big5")


def test_bad_files_are_reported_and_skipped(tmp_path):
    (tmp_path / "a_empty.txt").write_bytes(b"")
    (tmp_path / "b_binary.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "c_blank.md").write_text(" \n\t\n\u3000\n", "utf-8")
    (tmp_path / "d_undecodable.txt").write_bytes(b"\xff\xfe\xfd\x80\x81" * 50 + b"\xff")
    (tmp_path / "e_huge.txt").write_bytes("很长的一行".encode() * 150_000)  # ~2.2 MB, one line
    (tmp_path / "f_good.txt").write_text("乌海市召开会议，研究部署下一步工作。", "utf-8")
    (tmp_path / "notes.docx").write_bytes(b"PK")  # not an archive format: not walked
    results = list(ingest_paths([tmp_path], Settings(max_file_mb=1)))
    errors = {Path(r.source).name: r.error for r in results}
    assert list(errors) == ["a_empty.txt", "b_binary.txt", "c_blank.md", "d_undecodable.txt",
                            "e_huge.txt", "f_good.txt"]
    assert "empty" in errors["a_empty.txt"] and "white space" in errors["c_blank.md"]
    assert "binary" in errors["b_binary.txt"] and "decode" in errors["d_undecodable.txt"]
    assert "1 MB limit" in errors["e_huge.txt"]
    assert errors["f_good.txt"] is None and results[-1].articles
    assert "skipped" in format_report(results[0])


def test_structured_files(tmp_path):
    rows = [{"title": "标题一", "date": "2022年12月5日", "newspaper": "通辽日报", "page": "2",
             "text": "第一段内容，足够长的一句话。\n\n第二段内容，也是完整的一句话。"},
            {"headline": "标题二", "content": "只有一段正文，写得足够长。", "author": "李娜"}]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", "utf-8")
    result = ingest_file(jsonl)
    assert [a.title for a in result.articles] == ["标题一", "标题二"]
    first = result.articles[0]
    assert (first.date, first.newspaper, first.page) == ("2022-12-05", "通辽日报", "2")
    assert [p.text for p in first.paragraphs] == ["第一段内容，足够长的一句话。", "第二段内容，也是完整的一句话。"]
    assert result.articles[1].byline == "李娜" and result.articles[1].paragraphs[0].line_start == 2
    assert any("line 3" in w for w in result.warnings)

    csv_path = tmp_path / "b.csv"
    csv_path.write_text('title,date,text\n标题,2023-01-17,"多行的正文，第一句话写完。\n第二句话也写完整。"\n', "utf-8")
    article = ingest_file(csv_path).articles[0]
    assert article.date == "2023-01-17" and len(article.paragraphs) == 2
    assert (article.paragraphs[0].line_start, article.paragraphs[0].line_end) == (2, 3)


def test_markdown_transcript(tmp_path):
    page = tmp_path / "20221001.md"
    page.write_text(
        "# 《新闻联播》 (20221001)\n\n## 新闻摘要\n\n本期节目主要内容：\n\n1.五星红旗耀中华；\n\n"
        "2.中国空间站的首个国庆节。\n\n## 详细新闻\n\n### 五星红旗耀中华 勠力同心迎盛会\n\n"
        "<p><strong>央视网消息</strong>（新闻联播）：今天是国庆节，各地举行升旗仪式。</p>"
        "<p>人们纷纷表示，祝福祖国繁荣昌盛。</p>\n\n[查看原文](https://tv.cctv.com/x.shtml)\n\n"
        "### 中国空间站的首个国庆节\n\n<p>央视网消息（新闻联播）：航天员在空间站里迎来国庆节。</p>\n\n"
        "[查看原文](https://tv.cctv.com/y.shtml)\n\n---\n\n(更新时间戳: 1664630000000)\n", "utf-8")
    articles = ingest_file(page).articles
    assert [a.title for a in articles] == ["五星红旗耀中华 勠力同心迎盛会", "中国空间站的首个国庆节"]
    assert {(a.newspaper, a.date, a.section) for a in articles} == {("新闻联播", "2022-10-01", "详细新闻")}
    assert [p.text for p in articles[0].paragraphs] == [
        "央视网消息（新闻联播）：今天是国庆节，各地举行升旗仪式。", "人们纷纷表示，祝福祖国繁荣昌盛。"]
    assert all(p.line_start == 15 for p in articles[0].paragraphs)


def test_normalisation():
    assert fix_spaces("学习不能仅停留在记住一 些概念和提法。 要紧密联系") == "学习不能仅停留在记住一些概念和提法。要紧密联系"
    assert fix_spaces("图为 11 月 18 日，Kaji Dha 到访") == "图为11月18日，Kaji Dha到访"
    assert fix_spaces("压减 77.55%, 占比 99.22%") == "压减77.55%,占比99.22%"
    assert split_long("一二三四五。六七八九十。" * 3, 12) == [(0, 12), (12, 24), (24, 36)]


def test_cli_json_schema():
    result = CliRunner().invoke(main, ["ingest", str(CORPUS), "--json"])
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(objects) >= 35
    for obj in objects:
        assert set(obj) == {"id", "source", "newspaper", "date", "page", "section", "title",
                            "subtitle", "byline", "paragraphs"}
        assert obj["date"] is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", obj["date"])
        for p in obj["paragraphs"]:
            assert set(p) == {"index", "text", "line_start", "line_end"}
    assert article_json(ingest_file(SEEDS["003"]).articles[0])["date"] == "2022-11-22"


def test_cli_report_continues_past_bad_files(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01\x02" * 10)
    (tmp_path / "good.txt").write_text("乌海市召开会议，研究部署下一步工作。", "utf-8")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path), str(tmp_path / "missing.txt")])
    assert result.exit_code == 0
    assert "binary" in result.output and "1 articles" in result.output
    assert "no such file" in result.output


BULLETIN_PAGE = (
    "# 《新闻联播》 (20250412)\n\n## 详细新闻\n\n"
    "### 北方大风进入最强时段\n\n"
    "<p>央视网消息（新闻联播）：今天，较强冷空气继续影响我国北方地区。</p>"
    "<p><strong>风力最强的时段</strong></p><p>气象部门提醒，今天白天是这次大风过程中风力最强的时段。</p>\n\n"
    "[查看原文](https://example.com/1)\n\n"
    "### 国内联播快讯\n\n"
    "<p><strong>央视网消息</strong>（新闻联播）：</p>"
    "<p><strong>今年我国快递业务量已突破500亿件</strong></p>"
    "<p>国家邮政局数据显示，截至4月11日，今年我国快递业务量已突破500亿件。</p>"
    "<p><strong>本周210家上市公司回购增持</strong></p>"
    "<p>本周共有210家上市公司披露回购增持计划，拟回购增持总金额上限合计近900亿元，创历史新高。</p>"
    "<p><strong>海阳核电3号机组开启系统调试</strong></p>"
    "<p>记者近日从国家电投获悉，山东海阳核电3号机组用电系统完成试运行。</p>"
    "<p>这标志着机组进入全面调试阶段。</p>\n\n"
    "[查看原文](https://example.com/2)\n"
)


def test_a_bulletin_is_cut_into_its_items_each_under_its_own_lead(tmp_path):
    page = tmp_path / "20250412.md"
    page.write_text(BULLETIN_PAGE, "utf-8")
    result = ingest_file(page)
    text = page.read_text("utf-8")
    leads = re.findall(r"<p><strong>([^<]+)</strong></p>", text.split("### 国内联播快讯")[1])
    items = [a for a in result.articles if a.title in leads]
    assert [a.title for a in items] == leads  # every item, in order, cited by its own headline
    assert "国内联播快讯" not in [a.title for a in result.articles]
    assert [len(a.paragraphs) for a in items] == [1, 1, 2]
    for a in items:
        for p in a.paragraphs:
            assert p.text in text[p.char_start:p.char_end + 1]  # offsets point at the item
    assert not any(p.text == "央视网消息（新闻联播）：" for a in items for p in a.paragraphs)
    # a bold paragraph inside an ordinary story does not cut it
    storm = [a for a in result.articles if a.title == "北方大风进入最强时段"]
    assert len(storm) == 1 and len(result.articles) == 1 + len(leads)
    assert storm[0].paragraphs[-1].text.startswith("气象部门提醒")


REAL_PAGE = Path(__file__).parent / "data" / "20250412_excerpt.md"  # xwlb 2025-04-12, verbatim


@pytest.mark.parametrize("bulletin", ["### 国内联播快讯", "### 国际联播快讯"])
def test_a_real_xwlb_bulletin_gives_one_article_per_strong_lead(tmp_path, bulletin):
    page = tmp_path / "20250412.md"
    page.write_bytes(REAL_PAGE.read_bytes())
    text = page.read_text("utf-8")
    section = text.split(bulletin)[1].split("[查看原文]")[0]
    leads = re.findall(r"<p><strong>([^<]+)</strong></p>", section)
    assert len(leads) >= 4  # the real section: nine items at home, four abroad
    articles = ingest_file(page).articles
    titles = [a.title for a in articles]
    assert all(titles.count(lead) == 1 for lead in leads)
    assert bulletin[4:] not in titles
    start = text.index(bulletin)
    for a in (a for a in articles if a.title in leads):
        body = section.split(f"<strong>{a.title}</strong>")[1].split("<strong>")[0]
        assert a.paragraphs and all(p.text[:12] in body for p in a.paragraphs)  # the item's own
        assert all(start < p.char_start for p in a.paragraphs)
